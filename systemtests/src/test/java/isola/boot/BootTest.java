package isola.boot;

import static org.junit.jupiter.api.Assertions.*;

import isola.boot.image.DefaultImage;
import isola.boot.image.ImageWriter;
import isola.kernel.Domain;
import isola.kernel.Status;
import isola.kernel.Tag;
import isola.kernel.Tcb;
import isola.sdk.Names;
import isola.sdk.Sys;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Boots the default image in-process, with the console on the test's own streams. */
class BootTest {
    static final Duration HANG_GUARD = Duration.ofSeconds(60);

    @TempDir
    static Path dir;
    static Path image;

    @BeforeAll
    static void buildImage() throws Exception {
        image = DefaultImage.build(dir.resolve("isola.img"), DefaultImage.defaultManifest());
    }

    record Run(int status, String out) {}

    static Run boot(Path img, String commands) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        int st = assertTimeoutPreemptively(HANG_GUARD, () -> Boot.run(img,
                new ByteArrayInputStream(commands.getBytes(StandardCharsets.UTF_8)), out, false, isola.kernel.KernelConfig.DEFAULT));
        return new Run(st, bytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void bootsIntoTheShellAndRunsEachCommand() {
        Run r = boot(image, "help\nps\nnames\ncaps shell\necho hello isola\nsupervisor\nmem\nirq\ndmesg\n");
        assertEquals(0, r.status(), r.out());
        String o = r.out();
        assertTrue(o.contains("isola> help\n"), "each command is echoed after the prompt:\n" + o);
        assertTrue(o.contains("caps DOMAIN"), o);
        for (String d : List.of("init", "supervisor", "log", "names", "console", "shell")) {
            assertTrue(o.lines().anyMatch(l -> l.matches("\\s*\\d+\\s+" + d + "\\s+running.*")), "ps shows " + d + ":\n" + o);
        }
        for (String n : List.of("console", "log", "names", "proc", "supervisor")) {
            assertTrue(o.lines().anyMatch(l -> l.equals(n)), "names lists " + n + ":\n" + o);
        }
        assertTrue(o.contains("(console)") && o.contains("(proc)"), "caps names the shell's services:\n" + o);
        assertFalse(o.lines().anyMatch(l -> l.contains("endpoint#") && l.contains("rights=srgc")),
                "the shell holds no full-rights capability to an endpoint:\n" + o);
        assertTrue(o.contains("hello isola\n"), o);
        assertTrue(o.contains("frames: 65536 total (256 MiB)"), "mem shows physical memory:\n" + o);
        assertTrue(o.lines().anyMatch(l -> l.matches("\\s*\\d+\\s+names\\s+0\\s+4096")), "mem shows names' use and quota:\n" + o);
        assertTrue(o.lines().anyMatch(l -> l.matches("\\s*-\\s+kernel\\s+9\\s+-")), "and the kernel's: nine domains' root tables (the console device's among them):\n" + o);
        assertTrue(o.lines().anyMatch(l -> l.matches("\\s*0\\s+32\\s+IRQ 0\\s+\\d+\\s+2\\s+unmasked\\s+kernel \\(timer\\)")),
                "irq shows the timer on line 0, vector 32:\n" + o);
        assertTrue(o.contains("init: started 6 servers"), "dmesg has init's record:\n" + o);
    }

    @Test
    void badCommandsPrintUsageChangeNothingAndFailTheRun() {
        Run r = boot(image, "frobnicate\ncaps\nkill nobody\ncaps nobody\necho still here\n");
        assertEquals(1, r.status(), r.out());
        String o = r.out();
        assertTrue(o.contains("unknown command 'frobnicate'; usage:"), o);
        assertTrue(o.contains("usage: caps DOMAIN"), o);
        assertTrue(o.contains("no server named 'nobody'"), o);
        assertTrue(o.contains("no domain named 'nobody'"), o);
        assertTrue(o.contains("still here"), o);
    }

    @Test
    void shutdownExitsZeroAndStopsEveryServer() {
        Run r = boot(image, "shutdown\necho never\n");
        assertEquals(0, r.status(), r.out());
        assertFalse(r.out().contains("never\n"), r.out());
    }

    /**
     * Crash names while a client calls it in a loop: the supervisor restarts it in a fresh domain
     * on the same endpoint, the client's call in flight fails with E_RESTARTED (not a hang, not
     * E_DEAD_DOMAIN), and its retry succeeds through the same capability.
     */
    @Test
    void crashedServerIsRestartedAndTheClientsRetrySucceeds() throws Exception {
        PipedOutputStream keepOpen = new PipedOutputStream();
        try (Boot b = Boot.start(image, new PipedInputStream(keepOpen), new PrintStream(new ByteArrayOutputStream()), false)) {
            assertTimeoutPreemptively(HANG_GUARD, () -> {
                b.awaitBooted();
                var k = b.machine().kernel();
                Domain client = k.createDomain("client", 16, 16);
                b.init().grantService("names", client, 0, 77);
                Tcb t = k.createThread(client, "test", 100);
                b.machine().attach(t);
                Sys sys = Sys.of(k, t);
                awaitNames(sys);
                Domain before = b.init().serverDomain("names");
                int restarted = 0;
                for (int i = 0; i < 2000; i++) {
                    if (i == 200) {
                        k.injectFault(before, "test crash");
                    }
                    sys.mr(0, 0);
                    int st = sys.call(0, Tag.of(Names.LIST, 1), Sys.FOREVER);
                    if (st == Status.E_RESTARTED) {
                        restarted++;
                        sys.mr(0, 0);
                        st = sys.callRetrying(0, Tag.of(Names.LIST, 1), Sys.RESTART_ATTEMPTS);
                    }
                    assertEquals(Status.OK, st, "call " + i + ": " + Status.name(st));
                }
                Domain after = b.init().serverDomain("names");
                assertNotSame(before, after, "names runs in a fresh domain");
                assertEquals(Domain.DEAD, before.state());
                assertEquals(1, b.init().restarts("names"));
                assertTrue(restarted <= 1, "at most the call in flight saw the restart");
                assertEquals(List.of("blk", "console", "fs", "fs-attach", "log", "names", "proc", "supervisor"), awaitNames(sys),
                        "init told the new names server every service again");
            });
            keepOpen.close();
            assertEquals(0, b.awaitExit());
        }
    }

    /** Names once init has registered them (registration runs alongside the clients). */
    static List<String> awaitNames(Sys sys) throws InterruptedException {
        long end = System.nanoTime() + 30_000_000_000L;
        List<String> names;
        while ((names = Names.list(sys, 0)).size() < 8 && System.nanoTime() < end) {
            Thread.sleep(1);
        }
        return names;
    }

    static Path imageWith(String manifest) throws Exception {
        return DefaultImage.build(Files.createTempFile(dir, "img", ".img"), manifest);
    }

    @Test
    void malformedManifestStopsTheBootNamingFileLineAndProblem() throws Exception {
        String good = DefaultImage.defaultManifest();
        String[][] cases = {
            {good.replace("priority = 150", "priorty = 150"), ":boot.manifest:", "unknown key 'priorty'"},
            {good.replace("jar      = names.jar", "jar      = nmes.jar"), ":boot.manifest:", "nmes.jar"},
            {good.replace("grants   = log\n\n[server console]", "grants   = log, nosuch\n\n[server console]"), ":boot.manifest:", "'nosuch'"},
            {good.replace("provides = log\n", "provides = log\ngrants = names\n"), ":boot.manifest:", "cycle"},
        };
        for (String[] c : cases) {
            Path img = imageWith(c[0]);
            Boot.BootException e = assertThrows(Boot.BootException.class,
                    () -> Boot.start(img, new ByteArrayInputStream(new byte[0]), System.out, false));
            assertTrue(e.getMessage().contains(c[1]) && e.getMessage().contains(c[2]), e.getMessage());
            assertTrue(e.getMessage().matches(".*boot\\.manifest:\\d+: .*"), "names the line: " + e.getMessage());
        }
    }

    @Test
    void corruptImagesStopTheBootNamingTheImage() throws Exception {
        byte[] good = Files.readAllBytes(image);
        Path truncated = dir.resolve("truncated.img");
        Files.write(truncated, java.util.Arrays.copyOf(good, good.length / 3));
        Path magic = dir.resolve("magic.img");
        byte[] m = good.clone();
        m[0] = 'X';
        Files.write(magic, m);
        Path escape = dir.resolve("escape.img");
        Files.write(escape, rawEntry("../etc/passwd"));
        Path missing = dir.resolve("absent.img");
        for (Path p : List.of(truncated, magic, escape, missing)) {
            Boot.BootException e = assertThrows(Boot.BootException.class,
                    () -> Boot.start(p, new ByteArrayInputStream(new byte[0]), System.out, false));
            assertTrue(e.getMessage().contains(p.getFileName().toString()), e.getMessage());
        }
        Path noManifest = dir.resolve("nomanifest.img");
        ImageWriter.write(noManifest, List.of(new ImageWriter.ImageEntry("x.jar", new byte[] {1})));
        Boot.BootException e = assertThrows(Boot.BootException.class,
                () -> Boot.start(noManifest, new ByteArrayInputStream(new byte[0]), System.out, false));
        assertTrue(e.getMessage().contains("boot.manifest"), e.getMessage());
    }

    @Test
    void aRefusedBootClosesTheDiskItWasGivenAndLeavesItAsItWas() throws Exception {
        Path diskFile = dir.resolve("refused-disk.img");
        DiskImage.mkfs(diskFile, 4L << 20);
        byte[] before = Files.readAllBytes(diskFile);
        isola.device.HostDisk disk = isola.device.HostDisk.open(diskFile, false);
        Path bad = imageWith(DefaultImage.defaultManifest().replace("priority = 150", "priorty = 150"));
        Boot.BootException e = assertThrows(Boot.BootException.class,
                () -> Boot.start(bad, disk, new ByteArrayInputStream(new byte[0]), System.out, false));
        assertTrue(e.getMessage().contains("priorty"), e.getMessage());
        IllegalStateException closed = assertThrows(IllegalStateException.class,
                () -> disk.read(0, 1, java.lang.foreign.MemorySegment.ofArray(new byte[4096]), 0));
        assertTrue(closed.getMessage().contains("refused-disk.img") && closed.getMessage().contains("closed"),
                closed.getMessage());
        assertArrayEquals(before, Files.readAllBytes(diskFile), "a refused boot writes nothing to the disk");
    }

    /** A newc archive with one entry named {@code name}, bypassing the writer's name check. */
    static byte[] rawEntry(String name) throws Exception {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        try (var out = new org.apache.commons.compress.archivers.cpio.CpioArchiveOutputStream(bo)) {
            var e = new org.apache.commons.compress.archivers.cpio.CpioArchiveEntry(name, 1);
            e.setMode(0100644);
            out.putArchiveEntry(e);
            out.write('x');
            out.closeArchiveEntry();
        }
        return bo.toByteArray();
    }
}
