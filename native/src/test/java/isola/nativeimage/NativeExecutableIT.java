package isola.nativeimage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the native executable the build made (native/target/bin/isola, built once per test run
 * in pre-integration-test): its kernel, its isolate calls, and containment and restart of
 * crashed servers, each in its own isolate.
 */
class NativeExecutableIT {
    static final Path EXECUTABLE = Path.of("target", "bin", "isola").toAbsolutePath();

    record Run(int exit, String output) {}

    static Run run(String... args) throws IOException, InterruptedException {
        return runWithInput("", args);
    }

    static Run runWithInput(String input, String... args) throws IOException, InterruptedException {
        assertTrue(Files.isExecutable(EXECUTABLE), EXECUTABLE + " was not built");
        List<String> cmd = new ArrayList<>(List.of(EXECUTABLE.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (var stdin = p.getOutputStream()) {
            stdin.write(input.getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", cmd) + " did not finish:\n" + out);
        return new Run(p.exitValue(), out);
    }

    /**
     * The inlining hints of {@code Target_isola_kernel_Kernel} took: the fast call and its guards
     * were compiled into their callers, so no code of their own is left in the executable (its
     * symbol table names every method compiled on its own, as {@code Kernel_replyRecv_…}).
     * A hint naming a method that moved would leave it a call of its own, a few ns per call.
     */
    @Test
    void theFastCallIsInlinedIntoItsCallers() throws Exception {
        assertTrue(Files.isExecutable(EXECUTABLE), EXECUTABLE + " was not built");
        Process p = new ProcessBuilder("nm", EXECUTABLE.toString()).redirectErrorStream(true).start();
        String symbols = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "nm failed: " + symbols.lines().limit(5).toList());
        assertTrue(symbols.contains(" Kernel_replyRecv_"), "nm lists compiled kernel methods (Kernel_replyRecv)");
        for (String inlined : List.of(" Kernel_call_", " FastPath_call_", " FastPath_endpointCap_")) {
            assertFalse(symbols.contains(inlined), inlined.strip() + "… is compiled on its own: its inlining hint did not take");
        }
    }

    @Test
    void versionNamesTheNativeExecutable() throws Exception {
        Run r = run("--version");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("native executable"), r.output());
    }

    @Test
    void passiveCallsInsideTheKernelIsolate() throws Exception {
        Run r = run("ping", "--calls", "100000");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("100000 passive calls"), r.output());
    }

    @Test
    void passiveCallsIntoAServerIsolate() throws Exception {
        Run r = run("ping", "--isolate", "--calls", "100000");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("started echo@0x"), r.output());
        assertTrue(r.output().contains("100000 passive calls"), r.output());
    }

    /** Exceptions, OutOfMemoryError and stack overflow stay in the server's isolate; restarts serve again. */
    @Test
    void crashesAreContainedAndRestartedInFreshIsolates() throws Exception {
        Run r = run("selftest");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("selftest: all passed"), r.output());
        assertTrue(!r.output().contains("FAIL "), r.output());
    }

    /**
     * The default image boots with every server in its own isolate: the shell answers, ps shows
     * the isolates, and a server killed from the shell is restarted in a fresh one.
     */
    @Test
    void theDefaultImageBootsWithAnIsolatePerServer() throws Exception {
        Path image = Path.of("..", "bootstrap", "target", "isola.img").toAbsolutePath().normalize();
        assertTrue(Files.exists(image), image + " was not built");
        Path hostLog = Path.of("target", "isola.log"); // the log server's isolate writes it, relative to the working directory
        Files.deleteIfExists(hostLog);
        Run r = runWithInput("ps\nnames\nkill names\nnames\nmem\necho booted\nshutdown\n", "boot", "--image", image.toString(),
                "--mem", "64M");
        assertEquals(0, r.exit(), r.output());
        String out = r.output();
        assertTrue(out.contains("frames: 16384 total (64 MiB)"), "--mem 64M:\n" + out);
        assertTrue(Files.exists(hostLog), "the host log " + hostLog.toAbsolutePath() + " was not written");
        String log = Files.readString(hostLog);
        assertTrue(log.contains("(names) killed, to be restarted"), "the host log has the kernel's records:\n" + log);
        assertTrue(out.contains("ISOLATION"), out);
        for (String server : new String[] {"log", "names", "console", "shell"}) {
            assertTrue(out.lines().anyMatch(l -> l.contains(" " + server + " ") && l.contains("isolate " + server + "@0x")),
                    server + " runs in an isolate of its own:\n" + out);
        }
        assertTrue(out.lines().anyMatch(l -> l.contains(" init ") && l.endsWith("kernel")), out);
        assertEquals(2, out.lines().filter(l -> l.equals("supervisor")).count(), "names listed twice, before and after its restart:\n" + out);
        assertTrue(out.contains("booted"), out);
    }

    /**
     * An image with a server the executable does not contain (built with the initrd command's code,
     * as ./isola initrd builds it): the boot is refused naming the image, the manifest's line and
     * the jar as the image names it, not the file init unpacked it to.
     */
    @Test
    void aServerNotCompiledInIsRefusedNamingTheImageAndTheManifestLine(@org.junit.jupiter.api.io.TempDir Path dir)
            throws Exception {
        Path jar = isola.tier.vm.ServerJars.pack(isola.nativeimage.testservers.outside.OutsideServer.class,
                dir.resolve("outside.jar"));
        String manifest = isola.boot.image.DefaultImage.defaultManifest()
                + "\n[server outside]\njar = outside.jar\nprovides = outside\n";
        Path image = dir.resolve("outside.img");
        Files.write(image, isola.boot.image.InitrdBuilder.build("outside.manifest", manifest, null, List.of(jar),
                image.toString()).image());
        int header = manifest.lines().toList().indexOf("[server outside]") + 1;
        Run r = runWithInput("ps\nshutdown\n", "boot", "--image", image.toString());
        assertEquals(2, r.exit(), r.output());
        assertTrue(r.output().contains(image + ":boot.manifest:" + header + ": [server outside] cannot start: outside.jar: "
                + "server class isola.nativeimage.testservers.outside.OutsideServer is not compiled into this native executable"),
                r.output());
        assertTrue(!r.output().contains("isola-ramdisk"), "no temporary path:\n" + r.output());
    }

    /**
     * A booted server that fills its isolate's heap with small objects (HeapHogServer, in its
     * first incarnation) leaves no room even for the text of its error: it must still reach the
     * supervisor by name, which restarts it, while the shell and the servers behind it go on.
     */
    @Test
    void aServerOutOfHeapIsReportedAndRestartedByTheSupervisor(@TempDir Path dir) throws Exception {
        Path jar = isola.tier.vm.ServerJars.pack(isola.testservers.selftest.HeapHogServer.class, dir.resolve("hog.jar"));
        String manifest = isola.boot.image.DefaultImage.defaultManifest() + "\n[server hog]\njar = hog.jar\nprovides = hog\n";
        Path image = dir.resolve("hog.img");
        Files.write(image, isola.boot.image.InitrdBuilder.build("hog.manifest", manifest, null, List.of(jar), image.toString()).image());
        try (NativeSession s = new NativeSession("boot", "--image", image.toString(), "--disk", dir.resolve("disk.img").toString())) {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
            while (!s.output().contains("hog crashed (") || !s.output().contains("; restarted (1/")) {
                assertTrue(System.nanoTime() < deadline, "no restart of hog in the log:\n" + s.output());
                s.run("write /f x", "cat /f", "dmesg");
            }
            String crash = s.output().lines().filter(l -> l.contains("hog crashed (")).findFirst().orElseThrow();
            assertTrue(crash.contains("java.lang.OutOfMemoryError"), "the fault names the error: " + crash);
            s.run("supervisor", "shutdown");
            assertEquals(0, s.exit(), "every command succeeded:\n" + s.output());
            assertTrue(s.output().lines().anyMatch(l -> l.matches("hog +on-crash +1 .* running")), "hog serves again:\n" + s.output());
        }
    }

    /**
     * The watchdog end to end: a booted server (LoopServer, compiled into the executable) whose
     * call loops without a system call past its manifest's deadline is killed by the supervisor's
     * watchdog, the loop is stopped in its isolate's teardown (ps shows no runaway thread, which
     * the vm tier would), and the restart serves, while the shell goes on.
     */
    @Test
    void aServerLoopingPastItsDeadlineIsStoppedAndRestarted(@TempDir Path dir) throws Exception {
        Path jar = isola.tier.vm.ServerJars.pack(isola.testservers.selftest.LoopServer.class, dir.resolve("loop.jar"));
        String manifest = isola.boot.image.DefaultImage.defaultManifest()
                + "\n[server loop]\njar = loop.jar\nprovides = loop\ndeadline = 300ms\n";
        Path image = dir.resolve("loop.img");
        Files.write(image, isola.boot.image.InitrdBuilder.build("loop.manifest", manifest, null, List.of(jar), image.toString()).image());
        try (NativeSession s = new NativeSession("boot", "--image", image.toString(), "--disk", dir.resolve("disk.img").toString())) {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
            while (s.output().lines().noneMatch(l -> l.matches("loop +on-crash +1 .* 300ms +running"))) {
                assertTrue(System.nanoTime() < deadline, "no restart of loop:\n" + s.output());
                s.run("supervisor");
            }
            // The old isolate's teardown stops the loop (after its grace for calls inside): ps
            // shows its thread as runaway until then, for ever in the vm tier.
            String ps;
            do {
                assertTrue(System.nanoTime() < deadline, "the looping thread was never stopped:\n" + s.output());
                int from = s.output().length();
                s.run("ps");
                ps = s.output().substring(from);
            } while (ps.contains("runaway"));
            assertTrue(ps.lines().anyMatch(l -> l.contains(" loop ") && l.contains("isolate loop@0x")), "loop serves again:\n" + ps);
            s.run("dmesg", "echo after", "shutdown");
            assertEquals(0, s.exit(), "every command succeeded:\n" + s.output());
            String out = s.output();
            assertTrue(out.contains("watchdog: loop overran its deadline of 300ms in a call"), "the supervisor says why:\n" + out);
            assertTrue(out.lines().anyMatch(l -> l.equals("after")), out);
        }
    }

    /**
     * The block driver's isolate opens the disk image itself (it cannot share the launcher's
     * descriptor), so each of its incarnations has a descriptor of its own: a restart must close
     * the old one's. After several kills of blk, each followed by a write and sync the new
     * incarnation serves, the process holds as many descriptors of the image as before.
     */
    @Test
    void restartsOfTheBlockDriverLeaveNoDescriptorOfTheDiskOpen(@TempDir Path dir) throws Exception {
        final int kills = 5;
        Path disk = dir.resolve("disk.img");
        try (NativeSession s = new NativeSession("boot", "--image", defaultImage().toString(), "--mem", "64M", "--disk", disk.toString())) {
            s.run("write /before x", "sync");
            long before = s.descriptorsOf(disk);
            long allBefore = s.descriptors();
            assertTrue(before >= 1, "the disk image is open:\n" + s.output());
            for (int i = 0; i < kills; i++) {
                s.run("kill blk", "write /f" + i + " x", "sync");
            }
            // The old incarnations' isolates are torn down on a thread of their own after the
            // restart: wait for that, not for a time (fewer would be a test that looked too soon).
            long after = s.awaitDescriptorsOf(disk, n -> n == before);
            assertEquals(before, after, kills + " restarts of blk left " + (after - before) + " more descriptors of " + disk
                    + " open:\n" + s.fdListing() + "\n" + s.output());
            System.out.println("descriptors: " + allBefore + " before, " + s.descriptors() + " after " + kills + " kills of blk");
            s.run("cat /f" + (kills - 1), "shutdown");
            assertEquals(0, s.exit(), "every command succeeded:\n" + s.output());
        }
    }

    /**
     * Each incarnation of the log server writes the host log through a Log4j of its own isolate,
     * which opens the file: a restart must close the old one's. After several kills of log, the
     * process holds as many descriptors of the host log as before.
     */
    @Test
    void restartsOfTheLogServerLeaveNoDescriptorOfTheHostLogOpen(@TempDir Path dir) throws Exception {
        final int kills = 5;
        Path hostLog = Path.of("target", "isola.log").toAbsolutePath(); // the log server's isolate writes it, relative to the working directory
        try (NativeSession s = new NativeSession("boot", "--image", defaultImage().toString(), "--mem", "64M", "--disk",
                dir.resolve("disk.img").toString())) {
            s.run("dmesg");
            long before = s.awaitDescriptorsOf(hostLog, n -> n >= 1); // Log4j opens it on the log server's own thread
            assertTrue(before >= 1, "the host log " + hostLog + " is open:\n" + s.fdListing());
            for (int i = 0; i < kills; i++) {
                s.run("kill log", "dmesg");
            }
            // The old isolates close it on their teardown threads, the new one opens it when it
            // first writes a record: wait for both, not for a time.
            long after = s.awaitDescriptorsOf(hostLog, n -> n == before);
            assertEquals(before, after, kills + " restarts of log left " + (after - before) + " more descriptors of " + hostLog
                    + " open:\n" + s.fdListing() + "\n" + s.output());
            s.run("shutdown");
            assertEquals(0, s.exit(), "every command succeeded:\n" + s.output());
        }
    }

    static Path defaultImage() {
        Path image = Path.of("..", "bootstrap", "target", "isola.img").toAbsolutePath().normalize();
        assertTrue(Files.exists(image), image + " was not built");
        return image;
    }

    /**
     * Piped commands around kills of the console: every one runs, once. The console device (the
     * input and what has been read of it) lives in the kernel's isolate, not in the console
     * driver's, so a new driver isolate finds the lines its predecessor had not delivered.
     */
    @Test
    void pipedInputSurvivesKillsOfTheConsole(@TempDir Path tmp) throws Exception {
        Run r = runWithInput("kill console\nnames\nkill console\nps\necho after\n", "boot", "--image",
                defaultImage().toString(), "--disk", tmp.resolve("disk.img").toString());
        assertEquals(0, r.exit(), r.output());
        String out = r.output();
        assertEquals(2, out.lines().filter(l -> l.startsWith("killed console; restarted")).count(), out);
        for (String c : new String[] {"names", "ps", "echo after"}) {
            assertEquals(1, out.lines().filter(l -> l.equals("isola> " + c)).count(), "'" + c + "' ran once:\n" + out);
        }
        assertTrue(out.lines().anyMatch(l -> l.equals("supervisor")), "names ran:\n" + out);
        assertTrue(out.lines().anyMatch(l -> l.contains(" console ") && l.contains("isolate console@0x")), "ps ran:\n" + out);
        assertTrue(out.lines().anyMatch(l -> l.equals("after")), out);
    }

    /**
     * The fault storm (isola.boot.storm.FaultStorm) with every server in its own isolate: seeded
     * shell commands while servers are killed at random; every command ends, nothing synced is
     * lost, fsck is clean. {@code -Disola.storm.ops=N} and {@code -Disola.storm.seed=S} as for
     * the vm tier's FaultStormTest; or run {@code ./isola storm --native}.
     */
    @Test
    void faultStormWithEveryServerInItsOwnIsolate() throws Exception {
        String seed = Long.toString(Long.getLong("isola.storm.seed", 20261207));
        String ops = Integer.toString(Integer.getInteger("isola.storm.ops", 300));
        Run r = runWithInput("", "storm", "--image", defaultImage().toString(), "--seed", seed, "--ops", ops);
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("hangs: 0, failures: 0") && r.output().contains("lost: 0; fsck: clean"), r.output());
        // What a killed isolate's stopped code prints (Log4j reports the stop it caught) is dropped.
        assertFalse(r.output().contains("KilledError"), "a dead server's last words reached the terminal:\n" + r.output());
    }

    /** On a terminal (tmux), as the JVM launcher's test: Tab completes, Up recalls, shutdown exits 0. */
    @Test
    void theShellEditsLinesOnATerminal(@TempDir Path tmp) throws Exception {
        String why = isola.boot.TerminalSession.unavailable();
        assumeTrue(why == null, "the terminal test needs tmux: " + why);
        Path home = Files.createDirectories(tmp.resolve("home"));
        isola.boot.TerminalIT.editingSession(Path.of("").toAbsolutePath(),
                List.of(EXECUTABLE.toString(), "boot", "--image", defaultImage().toString(), "--disk", tmp.resolve("disk.img").toString()),
                java.util.Map.of("HOME", home.toString()), tmp);
        assertTrue(Files.readString(home.resolve(".isola_history")).contains("echo recall me"), "history in $HOME");
    }

    @Test
    void aBadMemorySizeIsAnErrorNamingIt() throws Exception {
        Run r = run("boot", "--mem", "3M");
        assertEquals(2, r.exit(), r.output());
        assertTrue(r.output().contains("memory size '3M' is outside 4M..4G"), r.output());
    }

    @Test
    void anUnknownCommandIsAnErrorNamingIt() throws Exception {
        Run r = run("frobnicate");
        assertEquals(2, r.exit(), r.output());
        assertTrue(r.output().contains("frobnicate"), r.output());
    }
}
