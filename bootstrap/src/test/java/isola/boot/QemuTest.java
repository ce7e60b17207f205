package isola.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The QEMU runner's command line and its checks of what it is given (booting is BareMetalBootIT's). */
class QemuTest {
    static Qemu parse(String... args) {
        Qemu q = new Qemu();
        new CommandLine(q).parseArgs(args);
        return q;
    }

    @Test
    void theCommandBootsTheImageWithItsRamDiskAndTheExitDevice() {
        List<String> cmd = parse("--mem", "256M", "--append", "bench").command();
        assertEquals(Qemu.QEMU, cmd.get(0));
        assertEquals("baremetal/target/image/isola-kernel.elf", cmd.get(cmd.indexOf("-kernel") + 1));
        assertEquals("bootstrap/target/isola.img", cmd.get(cmd.indexOf("-initrd") + 1));
        assertEquals("256M", cmd.get(cmd.indexOf("-m") + 1));
        assertEquals("bench", cmd.get(cmd.indexOf("-append") + 1));
        assertTrue(cmd.contains("-no-reboot"), "a triple fault must end QEMU, not reset it for ever");
        assertTrue(cmd.contains("isa-debug-exit,iobase=0xf4,iosize=0x04"));
        assertFalse(cmd.contains("-S"));
    }

    @Test
    void noInitrdAndGdb() {
        List<String> cmd = parse("--no-initrd", "--gdb").command();
        assertFalse(cmd.contains("-initrd"));
        assertTrue(cmd.containsAll(List.of("-s", "-S")));
    }

    @Test
    void badMemorySizesAreRefusedNamingTheValue() {
        var e = assertThrows(CommandLine.ParameterException.class, () -> parse("--mem", "12M"));
        assertTrue(e.getMessage().contains("12M"), e.getMessage());
        e = assertThrows(CommandLine.ParameterException.class, () -> parse("--mem", "lots"));
        assertTrue(e.getMessage().contains("lots"), e.getMessage());
        e = assertThrows(CommandLine.ParameterException.class, () -> parse("--mem", "1500K"));
        assertTrue(e.getMessage().contains("1500K"), e.getMessage());
    }

    @Test
    void aMissingImageOrRamDiskIsNamedBeforeQemuStarts(@TempDir Path dir) throws Exception {
        Qemu q = parse("--image", dir.resolve("none.elf").toString());
        var e = assertThrows(Qemu.BootException.class, q::check);
        assertTrue(e.getMessage().contains("none.elf") && e.getMessage().contains("./isola image"), e.getMessage());
        Path image = Files.writeString(dir.resolve("k.elf"), "x");
        q = parse("--image", image.toString(), "--initrd", dir.resolve("missing.img").toString());
        e = assertThrows(Qemu.BootException.class, q::check);
        assertTrue(e.getMessage().contains("missing.img"), e.getMessage());
    }
}
