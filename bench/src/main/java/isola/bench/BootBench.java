package isola.bench;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Start-up and recovery, single-shot (one start, or one crash, per iteration):
 * <ul>
 *   <li>{@link #launcherBoot}: {@code ./isola boot} as a user runs it (the bash launcher, JVM
 *       start, boot, shell), from process start until the shell's prompt {@code isola> }
 *       appears on its stdout; then, unmeasured, {@code shutdown}, which must exit 0. Baseline:
 *       {@link #jvmStart}, the same {@code java} with the launcher's flags running
 *       {@link PromptMain}, which prints the prompt at once.
 *   <li>{@link #crashNamesToServing} and {@link #crashLogToServing}: in a system booted
 *       in-process ({@link isola.boot.CrashSystem}), a fault injected into the {@code names} (active) or
 *       {@code log} (passive) server, until a client's call is answered correctly by the new
 *       incarnation; the client retries at once on E_RESTARTED or E_SERVER_FAULT. Baselines:
 *       the same loop without a crash ({@link #namesListCall}, {@link #logWriteCall}).
 * </ul>
 *
 * <p>Run through {@code ./isola bench boot} ({@link BenchMain}), which passes the repository root
 * as {@code -Disola.root}.
 */
@BenchmarkMode(Mode.SingleShotTime)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
    "-Xms512m", "-Xmx512m"})
@Threads(1)
public class BootBench {
    /** System property naming the repository root, where {@code ./isola} is. */
    static final String ROOT_PROPERTY = "isola.root";
    /**
     * The launched processes' extra environment: ./isola boot must not build (it would rewrite
     * benchmarks.jar under this benchmark, and time a build); a stale system fails the boot.
     * ./isola bench builds what is stale before the benchmark starts.
     */
    static final Map<String, String> ENV = Map.of("ISOLA_NO_BUILD", "1");
    static final long PROMPT_TIMEOUT_MS = 60_000;
    static final long EXIT_TIMEOUT_MS = 60_000;

    /** The repository root, from {@code -Disola.root}; it must hold the launcher. */
    static Path root() {
        String r = System.getProperty(ROOT_PROPERTY);
        if (r == null || r.isBlank()) {
            throw new IllegalStateException("-D" + ROOT_PROPERTY + " (the repository root, where ./isola is) "
                    + "is not set; run through ./isola bench boot");
        }
        Path root = Path.of(r).toAbsolutePath();
        if (!Files.isExecutable(root.resolve("isola"))) {
            throw new IllegalStateException("-D" + ROOT_PROPERTY + "=" + r + ": no executable launcher "
                    + root.resolve("isola"));
        }
        return root;
    }

    // =====================================================================================
    // ./isola boot to the shell's prompt, and the JVM-start baseline
    // =====================================================================================

    /** A process started by each invocation (measured) and shut down after it (not measured). */
    public abstract static class Prompted {
        Path root;
        List<String> command;
        PromptedProcess child;

        abstract List<String> command(Path root) throws IOException;

        /**
         * One unmeasured start first: the first start after a build writes the AppCDS archive,
         * and a system that does not boot fails here, with its output.
         */
        @Setup(Level.Trial)
        public void setup() throws Exception {
            root = root();
            command = command(root);
            start();
            shutdown();
        }

        PromptedProcess start() throws IOException {
            return child = PromptedProcess.start(command, root, ENV, PROMPT_TIMEOUT_MS);
        }

        @TearDown(Level.Invocation)
        public void shutdown() throws Exception {
            PromptedProcess c = child;
            child = null;
            if (c != null) {
                c.shutdown(EXIT_TIMEOUT_MS);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            if (child != null) {
                child.destroy();
            }
        }
    }

    @State(Scope.Thread)
    public static class Launcher extends Prompted {
        @Override
        List<String> command(Path root) {
            return List.of(root.resolve("isola").toString(), "boot");
        }
    }

    @State(Scope.Thread)
    public static class JvmStart extends Prompted {
        /**
         * The JVM this benchmark runs on (the launcher's JDK: ./isola bench runs it) with the
         * flags {@code ./isola boot} gives it, its own AppCDS archive included.
         */
        @Override
        List<String> command(Path root) throws IOException {
            Path java = Path.of(System.getProperty("java.home"), "bin", "java");
            Path archive = root.resolve("target").resolve("bench").resolve("jvm-start.jsa");
            Files.createDirectories(archive.getParent());
            return List.of(java.toString(), "-XX:+AutoCreateSharedArchive", "-XX:SharedArchiveFile=" + archive,
                    "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-Xlog:cds=off", "-Xlog:cds+dynamic=off",
                    "-cp", classPath(), PromptMain.class.getName());
        }

        /** The jar (or class directory) {@link PromptMain} came from: benchmarks.jar when run by ./isola. */
        private static String classPath() throws IOException {
            try {
                return Path.of(PromptMain.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
            } catch (URISyntaxException | RuntimeException e) {
                throw new IOException("cannot locate the class path of " + PromptMain.class.getName() + ": " + e, e);
            }
        }
    }

    @Benchmark
    @Warmup(iterations = 3)
    @Measurement(iterations = 10)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public Object launcherBoot(Launcher s) throws IOException {
        return s.start();
    }

    @Benchmark
    @Warmup(iterations = 3)
    @Measurement(iterations = 10)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public Object jvmStart(JvmStart s) throws IOException {
        return s.start();
    }

    // =====================================================================================
    // Crash of a `vm`-tier server to serving again, and the plain-call baseline
    // =====================================================================================

    /** The system booted in-process, with the benchmark thread as a client's kernel thread. */
    @State(Scope.Thread)
    public static class Booted {
        isola.boot.CrashSystem system;

        @Setup(Level.Trial)
        public void boot() throws Exception {
            system = new isola.boot.CrashSystem();
        }

        @Setup(Level.Invocation)
        public void prepare() {
            system.rebindToCurrentThread();
        }

        @TearDown(Level.Invocation)
        public void settle() throws InterruptedException {
            Thread.sleep(isola.boot.CrashSystem.SETTLE_MS);
        }

        @TearDown(Level.Trial)
        public void shutdown() {
            if (system != null) {
                system.close();
            }
        }
    }

    @Benchmark
    @Warmup(iterations = 10)
    @Measurement(iterations = 30)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public int crashNamesToServing(Booted s) {
        return s.system.crashAndAwaitServing("names");
    }

    @Benchmark
    @Warmup(iterations = 10)
    @Measurement(iterations = 30)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public int namesListCall(Booted s) {
        return s.system.awaitServing("names", null);
    }

    @Benchmark
    @Warmup(iterations = 10)
    @Measurement(iterations = 30)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public int crashLogToServing(Booted s) {
        return s.system.crashAndAwaitServing("log");
    }

    @Benchmark
    @Warmup(iterations = 10)
    @Measurement(iterations = 30)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public int logWriteCall(Booted s) {
        return s.system.awaitServing("log", null);
    }
}
