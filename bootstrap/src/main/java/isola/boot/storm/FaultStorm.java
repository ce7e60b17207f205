package isola.boot.storm;

import isola.boot.Boot;
import isola.boot.CrashSystem;
import isola.boot.DiskImage;
import isola.boot.image.DefaultImage;
import isola.kernel.Domain;
import isola.kernel.KernelConfig;
import isola.kernel.machine.HostedMachine;
import isola.device.HostDisk;
import isola.system.fs.FileSystem;
import isola.system.fs.Fsck;
import isola.tier.IsolationTier;
import java.io.IOException;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A fault storm: boots the default system (every server restarted on every crash, see
 * {@link DefaultImage#restartAlways}) on a fresh disk, types a seeded random script of shell
 * commands into its console one at a time while a {@link Killer} crashes servers at random
 * moments, and checks what a user would: every command ends within a bound, succeeding or
 * failing with an error that a retry fixes (E_RESTARTED, or EIO from the sync after a restart of
 * the fs server); what cat prints is something the file may hold ({@link FileModel}); at the
 * end every server is serving, ps and supervisor agree, and after shutdown the disk holds what
 * was synced and fsck finds it clean. The same code runs in both tiers: in the JVM (`./isola
 * storm`, the JUnit test) and in the native executable (`isola storm`), which differ only in
 * the tier that makes domains.
 *
 * <p>The seed fixes the script and the killer's moves; the moments the kills land depend on
 * timing, so a failing seed reproduces its script and its kills, and most often its failure.
 */
public final class FaultStorm {
    /** What to run. {@code image}: a boot image with the default servers. */
    public record Options(Path image, long seed, int operations, long opBoundNs, int meanKillGapMs,
            Function<HostedMachine, IsolationTier> tier, PrintStream progress) {}

    /** What happened. {@link #passed} if nothing failed. */
    public record Report(long seed, int operations, int retries, int cutShort, Map<String, Integer> kills,
            int refusedKills, int hangs, List<String> failures, int filesChecked, long syncedBytesChecked,
            long lostBytes, List<String> fsck, long elapsedMs) {
        public boolean passed() {
            return hangs == 0 && failures.isEmpty() && lostBytes == 0 && fsck.isEmpty();
        }

        public int totalKills() {
            return kills.values().stream().mapToInt(Integer::intValue).sum();
        }

        public String summary() {
            return String.format("fault storm, seed %d: %d operations (%d retried, %d cut short by a crash of the shell),"
                    + " %d kills, typed and from the host, %s (%d more found the server down already), hangs: %d, failures: %d;"
                    + " %d files, %d synced bytes read back, lost: %d; fsck: %s; %.1f s",
                    seed, operations, retries, cutShort, totalKills(), kills, refusedKills, hangs, failures.size(),
                    filesChecked, syncedBytesChecked, lostBytes, fsck.isEmpty() ? "clean" : fsck, elapsedMs / 1000.0);
        }
    }

    static final int FILES = 12;
    static final int ATTEMPTS = 4;
    private static final long BOOT_BOUND_NS = TimeUnit.SECONDS.toNanos(60);
    private static final long SETTLE_BOUND_NS = TimeUnit.SECONDS.toNanos(30);
    private static final int MAX_FAILURES = 20;

    private final Options options;
    private final Random random;
    private final FileModel model = new FileModel();
    private final List<String> failures = new ArrayList<>();
    private StormShell shell;
    private Killer killer;
    private volatile String inFlight;
    private int retries, cutShort, hangs;
    /** Commands typed so far (attempts and the final checks included): the number reports name a command by. */
    private int commandsRun;
    /** Each command, when (seconds from the start), and what it printed, for a failure's report. */
    private final List<String> journal = new ArrayList<>();
    private final long started = System.nanoTime();
    private StormShell.Screen transcript;
    /** Kills typed into the shell ({@code kill NAME}), by server; the killer counts its own. */
    private final Map<String, Integer> typedKills = new java.util.TreeMap<>();

    private FaultStorm(Options options) {
        this.options = options;
        this.random = new Random(options.seed());
    }

    /** Runs one storm; problems of the run itself (no image, no disk) throw. */
    public static Report run(Options options) throws IOException, InterruptedException {
        return new FaultStorm(options).run();
    }

    private Report run() throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        Path dir = Files.createTempDirectory("isola-storm-");
        Path image = DefaultImage.rewriteManifest(options.image(), dir.resolve("storm.img"),
                m -> DefaultImage.restartAlways(m, Killer.SERVERS));
        Path disk = dir.resolve("disk.img");
        DiskImage.mkfs(disk, DiskImage.DEFAULT_SIZE);
        Map<String, Integer> kills;
        int refused;
        PipedOutputStream keyboard = new PipedOutputStream();
        PipedInputStream in = new PipedInputStream(keyboard, 1 << 16);
        StormShell.Screen screen = new StormShell.Screen();
        try (Boot boot = Boot.start(image, in, screen.printStream(), false, KernelConfig.DEFAULT, options.tier(),
                HostDisk.open(disk, false))) {
            booted = boot;
            shell = new StormShell(boot.console(), keyboard, screen);
            if (!shell.awaitPrompt(BOOT_BOUND_NS)) {
                throw new IllegalStateException("the system did not come up to its prompt: " + screen.tail(2000));
            }
            killer = new Killer(boot.init(), boot.machine().kernel(), options.seed() * 31 + 7, options.meanKillGapMs(),
                    () -> inFlight, shell::idle, started);
            Thread k = new Thread(killer, "storm-killer");
            k.setDaemon(true);
            k.start();
            try {
                for (int i = 0; i < options.operations() && hangs == 0 && failures.size() < MAX_FAILURES; i++) {
                    step(i);
                    if (options.progress() != null && (i + 1) % 100 == 0) {
                        options.progress().printf("  %d operations, %d kills%n", i + 1,
                                killer.kills().values().stream().mapToInt(Integer::intValue).sum());
                    }
                }
            } finally {
                killer.stop();
                k.join();
            }
            kills = killer.kills();
            typedKills.forEach((server, n) -> kills.merge(server, n, Integer::sum));
            refused = killer.refused();
            transcript = screen;
            if (hangs == 0) {
                settle(boot);
            }
            if (hangs == 0) {
                finalChecks(boot);
            }
            if (hangs == 0) {
                shell.type("shutdown");
                try {
                    boot.awaitExitWithin(options.opBoundNs());
                } catch (java.util.concurrent.TimeoutException e) {
                    hang("shutdown", null);
                }
            }
        }
        long[] bytes = hangs == 0 ? readBack(disk) : new long[3];
        List<String> fsck = checkDisk(disk);
        if (failures.isEmpty() && hangs == 0 && fsck.isEmpty() && bytes[1] == 0) {
            Files.deleteIfExists(disk);
            Files.deleteIfExists(image);
            Files.deleteIfExists(dir);
        } else {
            Path t = dir.resolve("console.txt");
            Files.writeString(t, transcript == null ? "" : transcript.tail(Integer.MAX_VALUE));
            if (killer != null) {
                Files.write(dir.resolve("kills.txt"), killer.events());
            }
            Files.write(dir.resolve("commands.txt"), journal);
            failures.add("the disk, the image and the console's transcript (" + t.getFileName() + ") are kept in " + dir);
        }
        return new Report(options.seed(), options.operations(), retries, cutShort, kills, refused, hangs,
                List.copyOf(failures), (int) bytes[2], bytes[0], bytes[1], fsck,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
    }

    /** Operation {@code i} of the script: a command, run and checked, retried while a retry may fix it. */
    private void step(int i) throws IOException {
        int op = random.nextInt(100);
        String path = "/f" + random.nextInt(FILES);
        if (op < 20) {
            StringBuilder text = new StringBuilder("s" + options.seed() + "-op" + i);
            for (int w = random.nextInt(4) == 0 ? random.nextInt(120) : random.nextInt(6); w > 0; w--) {
                text.append(' ').append(Long.toString(random.nextLong() & Long.MAX_VALUE, 36));
            }
            String content = text + "\n";
            command("write " + path + " " + text, (o, sure) -> {
                boolean ok = o.isEmpty();
                model.wrote(path, content, sure && ok);
                return ok ? Verdict.OK : retryable(o);
            });
        } else if (op < 35) {
            command("cat " + path, (o, sure) -> {
                boolean absent = o.startsWith("cat: ") && o.strip().endsWith("(ENOENT)");
                if (!absent && o.startsWith("cat: ")) {
                    return retryable(o);
                }
                String content = absent ? null : o;
                if (sure) { // else the output may be cut, or doubled by a console that restarted mid-write
                    if (!model.mayHold(path, content)) {
                        fail("cat " + path + " printed " + quote(content) + "; the file may hold only: " + model.describe(path));
                    }
                    model.read(path, content);
                }
                return Verdict.OK;
            });
        } else if (op < 44) {
            command("sync", (o, sure) -> {
                boolean ok = o.isEmpty();
                model.synced(ok && sure);
                return ok ? Verdict.OK : o.contains("(EIO)") ? Verdict.RETRY : retryable(o);
            });
        } else if (op < 48) {
            command("rm " + path, (o, sure) -> {
                if (o.isEmpty()) {
                    model.removed(path, sure);
                    return Verdict.OK;
                }
                if (o.strip().endsWith("(ENOENT)")) {
                    if (sure && !model.mayHold(path, null)) {
                        fail("rm " + path + " found no such file; the file may hold only: " + model.describe(path));
                    }
                    model.read(path, null);
                    return Verdict.OK;
                }
                model.removed(path, false);
                return retryable(o);
            });
        } else if (op < 54) {
            command("ls /", (o, sure) -> o.startsWith("ls: ") || o.startsWith("error: ") ? retryable(o) : Verdict.OK);
        } else if (op < 62) {
            command("names", (o, sure) -> {
                if (o.startsWith("error: ")) {
                    return retryable(o);
                }
                Set<String> listed = new TreeSet<>(o.lines().toList());
                if (sure && !listed.containsAll(CrashSystem.BOOT_SERVICES)) {
                    fail("names listed " + listed + ", not every service " + CrashSystem.BOOT_SERVICES);
                }
                return Verdict.OK;
            });
        } else if (op < 80) {
            String c = List.of("ps", "supervisor", "dmesg", "df", "echo storm " + i).get(random.nextInt(5));
            command(c, (o, sure) -> o.startsWith("error: ") || o.startsWith("df: ") ? retryable(o)
                    : c.startsWith("echo") && sure && !o.equals(c.substring(5) + "\n") ? Verdict.failed("echo printed " + quote(o))
                    : Verdict.OK);
        } else {
            // kills from the shell, as a user types them; back to back a third of the time
            int n = random.nextInt(3) == 0 ? 2 : 1;
            for (int j = 0; j < n; j++) {
                String server = Killer.SERVERS.get(random.nextInt(Killer.SERVERS.size()));
                if (server.equals("shell")) {
                    model.shellRestarted();
                }
                typedKills.merge(server, 1, Integer::sum);
                command("kill " + server, (o, sure) -> server.equals("shell") ? Verdict.OK // it killed the shell itself
                        : o.startsWith("killed " + server + "; restart") || o.startsWith(server + " was down already; restart") ? Verdict.OK
                        : o.contains("gave up") ? Verdict.failed("the supervisor gave up: " + o.strip())
                        : retryable(o));
            }
        }
    }

    /** What a command's output says. */
    record Verdict(boolean ok, boolean retry, String failure) {
        static final Verdict OK = new Verdict(true, false, null), RETRY = new Verdict(false, true, null);

        static Verdict failed(String why) {
            return new Verdict(false, false, why);
        }
    }

    interface Check {
        /** {@code sure}: neither the shell nor the console crashed while it ran, so its output is whole. */
        Verdict check(String output, boolean sure);
    }

    /** An error a retry fixes: the server crashed or restarted under the call. Anything else is a failure. */
    private static Verdict retryable(String output) {
        return output.contains("E_RESTARTED") || output.contains("restarting") || output.contains("restarted")
                || output.strip().endsWith("(ESTALE)") ? Verdict.RETRY : Verdict.failed("unexpected error: " + output.strip());
    }

    private void command(String line, Check check) throws IOException {
        for (int attempt = 1; attempt <= ATTEMPTS && hangs == 0; attempt++) {
            long shellKills = killer.shellKills.get(), consoleKills = killer.consoleKills.get();
            inFlight = "#" + (++commandsRun) + " " + line;
            StormShell.Outcome o = shell.run(line, options.opBoundNs());
            inFlight = null;
            if (!o.ended()) {
                hang(line, o);
                return;
            }
            // a kill under way when the command started (an odd count) may have landed in it
            boolean shellCrashed = killer.shellKills.get() != shellKills || (shellKills & 1) != 0;
            if (shellCrashed) {
                model.shellRestarted();
                cutShort++;
            }
            journal.add(String.format("%.3f #%d %s -> %s%s%s", (System.nanoTime() - started) / 1e9, commandsRun,
                    line, quote(o.output()), shellCrashed ? " (shell crashed)" : "",
                    killer.consoleKills.get() != consoleKills ? " (console crashed)" : ""));
            boolean sure = !shellCrashed && killer.consoleKills.get() == consoleKills && (consoleKills & 1) == 0;
            Verdict v = check.check(o.output(), sure);
            if (v.ok()) {
                return;
            }
            if (shellCrashed) {
                return; // cut short: what it printed says nothing (the model took it as unsure)
            }
            if (!v.retry()) {
                if (sure) {
                    fail("#" + commandsRun + " " + line + ": " + v.failure());
                }
                return;
            }
            retries++;
        }
        if (hangs == 0) {
            fail(line + ": still failing after " + ATTEMPTS + " attempts");
        }
    }

    private void hang(String line, StormShell.Outcome o) {
        hangs++;
        String ps;
        try {
            ps = String.join("\n", booted.init().psForHost());
        } catch (RuntimeException e) {
            ps = "(ps failed: " + e + ")";
        }
        fail("HANG: '" + line + "' did not end within " + TimeUnit.NANOSECONDS.toMillis(options.opBoundNs())
                + " ms; the console's last output:\n" + shell.screen().tail(3000) + "\nps, from the host:\n" + ps);
    }

    /** The system under the storm, for a hang's report. */
    private Boot booted;

    private void fail(String what) {
        failures.add(what);
    }

    /** Once the kills stop: every server back to RUNNING within a bound, and the shell at its prompt. */
    private void settle(Boot boot) {
        long end = System.nanoTime() + SETTLE_BOUND_NS;
        for (String s : Killer.SERVERS) {
            Domain d;
            while ((d = boot.init().serverDomain(s)) == null || d.state() != Domain.RUNNING) {
                if (System.nanoTime() > end) {
                    fail("after the storm, " + s + " is not running within " + SETTLE_BOUND_NS / 1_000_000 + " ms");
                    return;
                }
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
            }
        }
    }

    /**
     * With no more kills: every server serves (names lists every service, ps and supervisor
     * agree each is running, the file system answers); every file's content is one it may
     * hold; and a sync makes it durable.
     */
    private void finalChecks(Boot boot) throws IOException {
        String sup = quietly("supervisor"), ps = quietly("ps");
        Map<String, String> supState = new HashMap<>(), psState = new HashMap<>();
        for (String l : sup.lines().skip(1).toList()) {
            String[] w = l.trim().split("\\s+");
            supState.put(w[0], l.trim().endsWith("gave up") ? "gave up" : w[w.length - 1]);
        }
        // A server's incarnations are domains of its name: ps must show one running. Dead ones
        // are listed too while a thread of theirs still runs host code (marked runaway), and
        // domain ids are reused, so neither the newest id nor the last row is the live one.
        Map<String, Integer> runningRows = new HashMap<>();
        for (String l : ps.lines().skip(1).toList()) {
            String[] w = l.trim().split("\\s+");
            if (w.length < 3 || !w[0].matches("\\d+")) {
                continue;
            }
            psState.putIfAbsent(w[1], w[2]);
            if (w[2].equals("running")) {
                psState.put(w[1], "running");
                runningRows.merge(w[1] + "#" + w[0], 1, Integer::sum);
            }
        }
        for (String s : Killer.SERVERS) {
            long live = runningRows.keySet().stream().filter(k -> k.startsWith(s + "#")).count();
            if (live > 1) {
                fail("after the storm, ps shows " + live + " running domains of " + s + "\n" + ps);
            }
        }
        for (String s : Killer.SERVERS) {
            if (!"running".equals(supState.get(s)) || !"running".equals(psState.get(s))) {
                fail("after the storm, " + s + ": supervisor says " + supState.get(s) + ", ps says " + psState.get(s)
                        + "\n" + sup + ps);
            }
        }
        Set<String> listed = new TreeSet<>(quietly("names").lines().toList());
        if (!listed.containsAll(CrashSystem.BOOT_SERVICES)) {
            fail("after the storm, names lists " + listed);
        }
        // the first sync may report, once, writes the fs server lost in a restart; the second must not fail
        String first = quietly("sync");
        model.synced(first.isEmpty());
        for (int f = 0; f < FILES; f++) {
            String path = "/f" + f;
            String o = quietly("cat " + path);
            String content = o.startsWith("cat: ") && o.strip().endsWith("(ENOENT)") ? null : o;
            if (content != null && o.startsWith("cat: ")) {
                fail("after the storm, cat " + path + " failed: " + o.strip());
                continue;
            }
            if (!model.mayHold(path, content)) {
                fail("after the storm, cat " + path + " printed " + quote(content) + "; it may hold only: " + model.describe(path));
            }
            model.read(path, content);
        }
        String second = quietly("sync");
        if (!second.isEmpty()) {
            fail("after the storm, sync failed twice: " + first.strip() + "; " + second.strip());
        }
        model.synced(second.isEmpty());
    }

    /** A command after the storm: it must end, and its output is returned. */
    private String quietly(String line) throws IOException {
        StormShell.Outcome o = shell.run(line, options.opBoundNs());
        if (!o.ended()) {
            hang(line, o);
        }
        return o.output();
    }

    /** Mounts the disk on the host and compares each file with what was synced: {synced bytes checked, lost, files}. */
    private long[] readBack(Path disk) throws IOException {
        long checked = 0, lost = 0, files = 0;
        try (HostDisk d = HostDisk.open(disk, false); FileSystem fs = FileSystem.mount(d)) {
            for (String path : model.paths()) {
                Set<String> durable = model.durable(path);
                String content = read(fs, path);
                String seen = content == null ? FileModel.NONE : content;
                files++;
                if (!durable.contains(seen)) {
                    String expected = durable.size() == 1 ? durable.iterator().next() : null;
                    lost += expected == null || expected.equals(FileModel.NONE) ? 1 : expected.length();
                    fail("on disk " + path + " holds " + quote(content) + "; synced: " + durable);
                } else if (durable.size() == 1 && content != null) {
                    checked += content.getBytes(StandardCharsets.UTF_8).length;
                }
            }
        }
        return new long[] {checked, lost, files};
    }

    private static String read(FileSystem fs, String path) {
        try {
            var h = fs.open(path, false, false, false, 0);
            byte[] b = new byte[(int) fs.stat(path).size()];
            fs.read(h, 0, MemorySegment.ofArray(b), 0, b.length);
            return new String(b, StandardCharsets.UTF_8);
        } catch (isola.system.fs.FsException e) {
            if (e.errno() == isola.sdk.Errno.ENOENT) {
                return null;
            }
            throw e;
        }
    }

    private static List<String> checkDisk(Path disk) throws IOException {
        try (HostDisk d = HostDisk.open(disk, false)) {
            return Fsck.check(d).problems();
        }
    }

    private static String quote(String s) {
        if (s == null) {
            return "(no such file)";
        }
        String t = s.length() > 200 ? s.substring(0, 200) + "..." : s;
        return "'" + t.replace("\n", "\\n") + "'";
    }
}
