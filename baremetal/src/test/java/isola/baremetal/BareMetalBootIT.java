package isola.baremetal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import isola.boot.Qemu;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Boots the kernel image (built once per test run by BareMetalBuild, before the integration
 * tests) in QEMU and checks its serial output and exit status: the self-tests pass, and bad
 * input (no RAM disk, a corrupt one, too little memory, an exception or a fault in kernel code)
 * ends in a panic that says what happened and a failure status, never a hang.
 */
class BareMetalBootIT {
    static final Path IMAGE = Path.of("target/image/isola-kernel.elf");
    static final Path RAM_DISK = Path.of("../bootstrap/target/isola.img");

    static Qemu qemu() {
        Qemu q = new Qemu();
        q.image = IMAGE;
        q.initrd = RAM_DISK;
        q.timeoutSeconds = 120;
        return q;
    }

    static Qemu.Result boot(Qemu q) throws Exception {
        Qemu.Result r = q.run(line -> { });
        System.out.println("---- " + String.join(" ", q.command()) + ": " + r.why() + "\n" + r.output());
        return r;
    }

    static void assertPanic(Qemu.Result r, String... expected) {
        assertEquals(Qemu.FAIL, r.status(), r.why() + "\n" + r.output());
        assertEquals(Qemu.QEMU_FAIL, r.qemuExit());
        assertNotNull(r.line("isola: PANIC"), "no panic line:\n" + r.output());
        for (String e : expected) {
            assertNotNull(r.line(e), "no line with \"" + e + "\":\n" + r.output());
        }
    }

    @Test
    void bootsRunsItsSelfTestsAndPowersOffWithAPass() throws Exception {
        Qemu.Result r = boot(qemu());
        assertEquals(Qemu.PASS, r.status(), r.why() + "\n" + r.output());
        assertEquals(Qemu.QEMU_PASS, r.qemuExit());
        String summary = r.line("isola: summary:");
        assertNotNull(summary, r.output());
        assertTrue(summary.contains(" 0 failed"), summary);
        for (SelfTests.Test t : new SelfTests(null, System.out).all()) {
            String line = r.line("isola: test " + t.name() + " ");
            assertNotNull(line, "no result for test " + t.name() + ":\n" + r.output());
            assertTrue(line.contains(" ok "), line);
        }
        assertNotNull(r.line("entries, boot manifest boot.manifest ("), "the default image's manifest was not found:\n" + r.output());
        assertNotNull(r.line("in CR3"), "the kernel did not load its own page tables");
        assertNotNull(r.line("PIT at 1000 Hz"));
        assertTrue(r.summaryNanos() > 0);
    }

    @Test
    void withoutARamDiskItPanicsNamingWhatIsMissing() throws Exception {
        Qemu q = qemu();
        q.noInitrd = true;
        assertPanic(boot(q), "no RAM disk", "at isola.baremetal.BareMetalKernel.loadRamDisk");
    }

    @Test
    void aCorruptRamDiskIsRefusedByTheHostedReaderWithItsEntryNamed(@TempDir Path dir) throws Exception {
        Path bad = dir.resolve("corrupt.img");
        byte[] image = Files.readAllBytes(RAM_DISK);
        image[1] = 'X'; // the first header's magic
        Files.write(bad, image);
        Qemu q = qemu();
        q.initrd = bad;
        assertPanic(boot(q), "InitrdException", "corrupt.img", "at isola.kernel.initrd.Initrd");
    }

    /**
     * A RAM disk made by hand as README says, with GNU cpio from a directory listing as
     * {@code find .} gives it (names start with {@code ./}): its manifest is found, named and
     * sized; one without a manifest is said to have none. Both boot to a pass.
     */
    @Test
    void theManifestOfARamDiskMadeWithCpioIsFoundAndItsAbsenceSaid(@TempDir Path dir) throws Exception {
        Path withManifest = cpio(dir, "with", "boot.manifest", "[server names]\njar = names.jar\n");
        Qemu q = qemu();
        q.initrd = withManifest;
        Qemu.Result r = boot(q);
        assertEquals(Qemu.PASS, r.status(), r.why() + "\n" + r.output());
        assertNotNull(r.line("with.img: 1 entries, boot manifest boot.manifest (31 bytes)"), r.output());

        q.initrd = cpio(dir, "without", "notes.txt", "no manifest here\n");
        r = boot(q);
        assertEquals(Qemu.PASS, r.status(), r.why() + "\n" + r.output());
        assertNotNull(r.line("without.img: 1 entries, no boot manifest: boot.manifest is missing from it"), r.output());
    }

    /** {@code NAME.img}: a cpio newc archive of a directory holding one file, made by GNU cpio. */
    private static Path cpio(Path dir, String name, String file, String text) throws Exception {
        Path root = Files.createDirectories(dir.resolve(name));
        Files.writeString(root.resolve(file), text);
        Path list = dir.resolve(name + ".list");
        Files.writeString(list, ".\n./" + file + "\n"); // what find . lists
        Path image = dir.resolve(name + ".img");
        Process p = new ProcessBuilder("cpio", "-o", "-H", "newc").directory(root.toFile()).redirectInput(list.toFile())
                .redirectOutput(image.toFile()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        assertEquals(0, p.waitFor(), "cpio -o -H newc failed for " + image);
        return image;
    }

    @Test
    void tooLittleMemoryIsAPanicNotAHang() throws Exception {
        Qemu q = qemu();
        q.memory = 16L << 20;
        assertPanic(boot(q), "too little memory");
    }

    @Test
    void anExceptionInKernelCodePanicsWithItsStackTrace() throws Exception {
        Qemu q = qemu();
        q.append = "panic=java";
        assertPanic(boot(q), "PANIC: java.lang.IllegalStateException: deliberate exception",
                "at isola.baremetal.BareMetalMain.main");
    }

    @Test
    void aFaultInKernelCodePanicsWithTheVectorAddressAndRegisters() throws Exception {
        Qemu q = qemu();
        q.append = "panic=fault";
        assertPanic(boot(q), "#PF page fault", "(CR2) 0x8:", "not-present", "rip 0x", "r15 ");
    }
}
