package isola.baremetal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The Multiboot information parser, on a fake physical memory laid out as a loader would. */
class BootInfoTest {
    static final long INFO = 0x9000, MMAP = 0x9100, MODS = 0x9200, NAME = 0x9300, CMDLINE = 0x9400;
    final ByteBuffer mem = ByteBuffer.allocate(0x10000).order(ByteOrder.LITTLE_ENDIAN);
    final BootInfo.Reader reader = (pa, len) -> {
        byte[] b = new byte[len];
        mem.get((int) pa, b);
        return b;
    };

    void layout(int flags, int mmapLength) {
        mem.putInt((int) INFO, flags);
        mem.putInt((int) INFO + 16, (int) CMDLINE);
        mem.putInt((int) INFO + 20, 1);
        mem.putInt((int) INFO + 24, (int) MODS);
        mem.putInt((int) INFO + 44, mmapLength);
        mem.putInt((int) INFO + 48, (int) MMAP);
        entry(0, 0, 0x9FC00, 1);
        entry(1, 0x100000, 0x7EE0000, 1);
        entry(2, 0xFFFC0000L, 0x40000, 2); // reserved: not listed
        mem.putInt((int) MODS, 0x200000);
        mem.putInt((int) MODS + 4, 0x206400);
        mem.putInt((int) MODS + 8, (int) NAME);
        mem.put((int) NAME, "isola.img\0".getBytes(StandardCharsets.US_ASCII));
        mem.put((int) CMDLINE, "kernel panic=java\0".getBytes(StandardCharsets.US_ASCII));
    }

    void entry(int i, long base, long length, int type) {
        int at = (int) MMAP + 24 * i;
        mem.putInt(at, 20);
        mem.putLong(at + 4, base);
        mem.putLong(at + 12, length);
        mem.putInt(at + 20, type);
    }

    @Test
    void parsesTheMemoryMapModulesAndCommandLine() {
        layout(BootInfo.FLAG_MEMORY | BootInfo.FLAG_CMDLINE | BootInfo.FLAG_MODULES | BootInfo.FLAG_MMAP, 72);
        BootInfo b = BootInfo.parse(reader, BootInfo.MAGIC, INFO);
        assertEquals(2, b.available().size());
        assertEquals(new BootInfo.Region(0x100000, 0x7FE0000), b.available().get(1));
        assertEquals(1, b.modules().size());
        assertEquals("isola.img", b.modules().get(0).name());
        assertEquals(0x6400, b.modules().get(0).size());
        assertEquals("kernel panic=java", b.commandLine());
        assertEquals(0x206400, b.modulesEnd());
    }

    @Test
    void aWrongMagicIsNamed() {
        var e = assertThrows(BootInfo.BootInfoException.class, () -> BootInfo.parse(reader, 0x12345678, INFO));
        assertTrue(e.getMessage().contains("0x12345678"), e.getMessage());
    }

    @Test
    void noMemoryMapIsAnError() {
        layout(BootInfo.FLAG_MEMORY | BootInfo.FLAG_MODULES, 72);
        var e = assertThrows(BootInfo.BootInfoException.class, () -> BootInfo.parse(reader, BootInfo.MAGIC, INFO));
        assertTrue(e.getMessage().contains("no memory map"), e.getMessage());
    }

    @Test
    void aTruncatedMapEntryIsNamedByAddress() {
        layout(BootInfo.FLAG_MMAP, 60);
        var e = assertThrows(BootInfo.BootInfoException.class, () -> BootInfo.parse(reader, BootInfo.MAGIC, INFO));
        assertTrue(e.getMessage().contains("0x" + Long.toHexString(MMAP + 48)), e.getMessage());
    }

    @Test
    void aModuleEndingBeforeItStartsIsNamed() {
        layout(BootInfo.FLAG_MODULES | BootInfo.FLAG_MMAP, 72);
        mem.putInt((int) MODS + 4, 0x100000);
        var e = assertThrows(BootInfo.BootInfoException.class, () -> BootInfo.parse(reader, BootInfo.MAGIC, INFO));
        assertTrue(e.getMessage().contains("isola.img"), e.getMessage());
    }
}
