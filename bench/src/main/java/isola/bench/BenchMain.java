package isola.bench;

import static isola.bench.Suite.num;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatFactory;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.WorkloadParams;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs a benchmark suite and reports it: {@code BenchMain SUITE [options]}. The result is JMH's
 * own JSON format, in {@code target/bench/SUITE.json} (relative to the current directory); this
 * prints the medians, ratios against the baselines of the same run, and the suite's targets.
 *
 * <p>A suite is data ({@link Suite}), described beside its benchmarks ({@link IpcSuite} beside
 * {@link IpcBench}, and so on); {@link #SUITES} lists them. How one runs depends on its kind:
 * <ul>
 *   <li>a timed suite (ipc, mem) runs by default in fork rounds: each round forks one JVM per
 *       benchmark, in the suite's run order, so the benchmarks a ratio compares are measured
 *       close in time; the forks are then merged per benchmark and written with JMH's JSON
 *       writer, as one JMH run with that many forks would write them. {@code --sequential} (or
 *       one fork) makes it one plain JMH run.
 *   <li>a single-shot suite (boot, fs: one launcher start, one workload, or one crash and
 *       recovery, per iteration) is one plain JMH run.
 *   <li>a suite with no JVM to run JMH in (isolates, baremetal) runs through
 *       {@link NativeHarness}.
 * </ul>
 *
 * <p>Exit status: 0 when the suite ran (targets are reported, not enforced, unless
 * {@code --fail-on-miss}); 1 when a benchmark produced no result, or a target was missed with
 * {@code --fail-on-miss}; 2 for a usage error (unknown suite or option).
 */
public final class BenchMain {
    private BenchMain() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help") || args[0].equals("help")) {
            usage(args.length == 0 ? err : out);
            return args.length == 0 ? 2 : 0;
        }
        Suite suite = SUITES.get(args[0]);
        if (suite == null) {
            err.println("isola bench: unknown suite '" + args[0] + "'; known suites: "
                    + String.join(", ", SUITES.keySet()));
            return 2;
        }
        Options opts;
        try {
            opts = Options.parse(suite, List.of(args).subList(1, args.length));
        } catch (IllegalArgumentException e) {
            err.println("isola bench " + suite.name() + ": " + e.getMessage());
            usage(err);
            return 2;
        }
        if (opts.help) {
            usage(out);
            return 0;
        }
        try {
            return runSuite(suite, opts, out, err);
        } catch (RunnerException | IOException e) {
            err.println("isola bench " + suite.name() + ": " + e.getMessage());
            e.printStackTrace(err);
            return 1;
        }
    }

    static void usage(PrintStream s) {
        s.println("usage: BenchMain SUITE [options]     (./isola bench SUITE [options])");
        s.println();
        s.println("suites:");
        SUITES.values().forEach(x -> s.printf("  %-8s %s%n", x.name(), x.description()));
        s.println();
        s.println("options:");
        s.println("  --forks N         forked JVMs (isolates: runs of the executable; baremetal: QEMU");
        s.println("                    boots) per benchmark (default: ipc 2, boot 1, mem 2, isolates 2,");
        s.println("                    baremetal 3, fs 1)");
        s.println("  --warmup N        warm-up iterations per fork (default: ipc 5; boot per benchmark:");
        s.println("                    3 launcher starts, 10 crashes; fs per benchmark: 300 reads, 60");
        s.println("                    sequential writes, 40 small-file rounds, 10 crashes)");
        s.println("  --iterations N    measurement iterations per fork (default: ipc 10; boot per");
        s.println("                    benchmark: 10 launcher starts, 30 crashes; fs 20)");
        s.println("  --time S          ipc only: seconds per iteration, warm-up and measurement (default 1)");
        s.println("  --warmup-time S   ipc only: seconds per warm-up iteration (default: --time)");
        s.println("  --include REGEX   only benchmarks of the suite whose name matches REGEX");
        s.println("  --result FILE     JMH JSON result file (default target/bench/SUITE.json)");
        s.println("  --prof NAME       add a JMH profiler (e.g. gc, stack, perfnorm); repeatable");
        s.println("  --load N          run N busy processes (each a JVM spinning one thread) for the whole");
        s.println("                    run, to measure under oversubscription (default 0); the table and");
        s.println("                    the JSON (params.load) record N");
        s.println("  --sequential      ipc only: one JMH run in JMH's order (all forks of a benchmark,");
        s.println("                    then the next) instead of fork rounds interleaving the benchmarks");
        s.println("  --fail-on-miss    exit 1 if a target is missed");
        s.println("  -h, --help        this help");
        s.println();
        s.println("boot is single-shot: each iteration is one launcher start or one crash and recovery,");
        s.println("so --time and --warmup-time do not apply to it. Run it from the repository root");
        s.println("(./isola bench does): it starts ./isola boot.");
        s.println();
        s.println("isolates runs inside the native executable (native/target/bin/isola, built by ./isola");
        s.println("native); each fork is one run of it, and --time does not apply.");
        s.println();
        s.println("baremetal boots the kernel image (baremetal/target/image/isola-kernel.elf, built by");
        s.println("./isola image) in QEMU with bench on its command line; each fork is one boot.");
        s.println();
        s.println("quick runs: ./isola bench ipc --forks 1 --warmup 2 --iterations 3 --time 1");
        s.println("            ./isola bench boot --warmup 2 --iterations 5");
    }

    // =====================================================================================
    // Suites
    // =====================================================================================

    /** Known suites, in the order the usage lists them. */
    static final Map<String, Suite> SUITES = new LinkedHashMap<>();

    static {
        for (Suite s : List.of(IpcSuite.SUITE, BootSuite.SUITE, MemSuite.SUITE, IsolatesSuite.SUITE,
                BaremetalSuite.SUITE, FsSuite.SUITE)) {
            SUITES.put(s.name(), s);
        }
    }

    // =====================================================================================
    // Options
    // =====================================================================================

    /** The most busy processes {@code --load} starts: enough to oversubscribe any host this runs on. */
    static final int MAX_LOAD = 64;

    static final class Options {
        final Suite suite;
        int forks;
        /** Warm-up iterations per fork, or {@link Suite#PER_BENCHMARK}. */
        int warmup;
        /** Measurement iterations per fork, or {@link Suite#PER_BENCHMARK}. */
        int iterations;
        double time = 1;
        Double warmupTime;
        String include = ".*";
        Path result;
        boolean failOnMiss;
        boolean sequential;
        boolean help;
        /** Busy processes to run beside the benchmark ({@code --load}). */
        int load;
        final List<String> profilers = new ArrayList<>();

        private Options(Suite suite) {
            this.suite = suite;
            forks = suite.forks();
            warmup = suite.warmup();
            iterations = suite.iterations();
            result = suite.defaultResult();
        }

        static Options parse(Suite suite, List<String> args) {
            Options o = new Options(suite);
            for (int i = 0; i < args.size(); i++) {
                String a = args.get(i);
                String name = a;
                String value = null;
                int eq = a.indexOf('=');
                if (a.startsWith("--") && eq > 0) {
                    name = a.substring(0, eq);
                    value = a.substring(eq + 1);
                }
                if (!Suite.COMMON_OPTIONS.contains(name) && !Suite.TIMED_OPTIONS.contains(name)) {
                    throw new IllegalArgumentException("unknown option '" + a + "'");
                }
                if (!suite.takes(name)) {
                    throw new IllegalArgumentException(name + " does not apply to suite " + suite.name()
                            + ": it is single-shot (each iteration is one run, not a time slice)");
                }
                switch (name) {
                    case "-h", "--help" -> o.help = true;
                    case "--fail-on-miss" -> o.failOnMiss = true;
                    case "--sequential" -> o.sequential = true;
                    default -> {
                        if (value == null) {
                            if (i + 1 >= args.size()) {
                                throw new IllegalArgumentException(name + " needs a value");
                            }
                            value = args.get(++i);
                        }
                        o.set(name, value);
                    }
                }
            }
            return o;
        }

        private void set(String name, String value) {
            switch (name) {
                case "--forks" -> forks = intAtLeast(name, value, 0);
                case "--warmup" -> warmup = intAtLeast(name, value, 0);
                case "--iterations" -> iterations = intAtLeast(name, value, 1);
                case "--time" -> time = seconds(name, value);
                case "--warmup-time" -> warmupTime = seconds(name, value);
                case "--include" -> {
                    try {
                        Pattern.compile(value);
                    } catch (RuntimeException e) {
                        throw new IllegalArgumentException("--include '" + value + "' is not a regular expression: "
                                + e.getMessage());
                    }
                    include = value;
                }
                case "--result" -> result = Path.of(value);
                case "--prof" -> profilers.add(value);
                case "--load" -> {
                    load = intAtLeast(name, value, 0);
                    if (load > MAX_LOAD) {
                        throw new IllegalArgumentException("--load '" + value + "' is more than " + MAX_LOAD
                                + " busy processes");
                    }
                }
                default -> throw new IllegalArgumentException("unknown option '" + name + "'");
            }
        }

        private static int intAtLeast(String name, String value, int min) {
            try {
                int n = Integer.parseInt(value);
                if (n >= min) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new IllegalArgumentException(name + " '" + value + "' is not an integer >= " + min);
        }

        private static double seconds(String name, String value) {
            try {
                double s = Double.parseDouble(value);
                if (s > 0 && s <= 3600) {
                    return s;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new IllegalArgumentException(name + " '" + value + "' is not a number of seconds in (0, 3600]");
        }
    }

    private static TimeValue timeValue(double seconds) {
        return TimeValue.milliseconds(Math.max(1, Math.round(seconds * 1000)));
    }

    // =====================================================================================
    // Running
    // =====================================================================================

    /** The name under which the JSON's {@code params} record {@code --load}. */
    static final String LOAD_PARAM = "load";

    static int runSuite(Suite suite, Options o, PrintStream out, PrintStream err) throws RunnerException, IOException {
        Path result = o.result.toAbsolutePath();
        Pattern inc = Pattern.compile(o.include);
        List<String> wanted = new ArrayList<>();
        for (String m : suite.runOrder()) {
            if (inc.matcher(m).matches()) {
                wanted.add(m);
            }
        }
        if (wanted.isEmpty()) {
            err.println("isola bench " + suite.name() + ": --include '" + o.include + "' matches none of "
                    + suite.benchmarks());
            return 2;
        }
        List<String> jvmArgs = new ArrayList<>();
        if (wanted.stream().anyMatch(suite.needsRoot()::contains)) {
            Path root = Path.of("").toAbsolutePath();
            Path launcher = root.resolve("isola");
            if (!Files.isRegularFile(launcher) || !Files.isExecutable(launcher)) {
                err.println("isola bench " + suite.name() + ": no executable launcher " + launcher
                        + "; run from the repository root (./isola bench " + suite.name() + " does)");
                return 1;
            }
            jvmArgs.add("-D" + BootBench.ROOT_PROPERTY + "=" + root);
            // --forks 0 runs the benchmarks in this JVM
            System.setProperty(BootBench.ROOT_PROPERTY, root.toString());
        }
        if (suite == BootSuite.SUITE) {
            // The in-process system's host log (Log4j), away from the launcher's target/isola.log.
            Path log = Path.of("target", "bench", "boot-isola.log").toAbsolutePath();
            jvmArgs.add("-Disola.log.file=" + log);
            if (System.getProperty("isola.log.file") == null) {
                System.setProperty("isola.log.file", log.toString());
            }
        }
        Files.createDirectories(result.getParent());
        double loadBefore = loadAverage();
        Collection<RunResult> results;
        double loadAfter;
        try (LoadProcesses load = LoadProcesses.start(o.load)) {
            if (o.load > 0) {
                out.println("isola bench " + suite.name() + ": --load " + o.load + ": busy processes " + load.pids());
            }
            results = suite.benchClass() == null
                    ? NativeHarness.run(suite, o, wanted, out)
                    : suite.singleShot() || o.sequential || o.forks <= 1
                    ? runSequential(suite, o, wanted, jvmArgs)
                    : runInterleaved(suite, o, wanted, jvmArgs, out);
            loadAfter = loadAverage(); // with the busy processes still running: the warning allows for them
            if (!load.allAlive()) {
                err.println("isola bench " + suite.name() + ": a busy process of --load " + o.load
                        + " ended during the run, so the run was not under the load asked for");
                return 1;
            }
        }
        results = withLoad(results, o.load);
        ResultFormatFactory.getInstance(ResultFormatType.JSON, result.toString()).writeOut(results);

        Map<String, Stats> stats = new LinkedHashMap<>();
        for (RunResult r : results) {
            String bench = r.getParams().getBenchmark();
            String method = bench.substring(bench.lastIndexOf('.') + 1);
            stats.put(method, Stats.of(r));
        }
        boolean complete = true;
        List<String> shown = new ArrayList<>();
        for (String m : suite.benchmarks()) {
            if (wanted.contains(m)) {
                shown.add(m);
                complete &= stats.containsKey(m);
            }
        }
        boolean allMet = report(suite, stats, shown, o, result, out);
        warnIfBusy(suite, loadBefore, loadAfter, o.load, out);
        if (!complete) {
            err.println("isola bench " + suite.name() + ": some benchmarks produced no result (see JMH's output above)");
            return 1;
        }
        return o.failOnMiss && !allMet ? 1 : 0;
    }

    /** The host's one-minute load average, or NaN if unknown. */
    static double loadAverage() {
        double l = java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        return l < 0 ? Double.NaN : l;
    }

    /**
     * A run measures what it claims only if nothing but the benchmark (and the {@code --load}
     * processes asked for) competed for the CPUs: with another busy process on a two-CPU
     * machine, two threads handing off to each other share one CPU. The load average before the
     * run is taken before the busy processes start; the one after includes the run itself (about
     * 2) and the {@code load} busy processes.
     */
    static void warnIfBusy(Suite suite, double before, double after, int load, PrintStream out) {
        int cpus = Runtime.getRuntime().availableProcessors();
        out.printf(Locale.ROOT, "host: %d CPUs, load average %s before the run, %s after%s%n", cpus,
                num(before), num(after), load > 0 ? " (" + load + " of it --load)" : "");
        if (before >= 1.0 || after > cpus + load + 0.5) {
            out.println(suite.busyWarning());
        }
    }

    /**
     * {@code results} with {@code --load} recorded in each benchmark's JMH params (the JSON's
     * {@code "params": {"load": "N"}}), idle runs included, so two result files say which was
     * measured under load without anyone having to remember.
     */
    static List<RunResult> withLoad(Collection<RunResult> results, int load) {
        List<RunResult> out = new ArrayList<>();
        for (RunResult r : results) {
            BenchmarkParams p = r.getParams();
            out.add(new RunResult(params(p, p.getForks(), load), r.getBenchmarkResults()));
        }
        out.sort(RunResult.DEFAULT_SORT_COMPARATOR);
        return out;
    }

    private static ChainedOptionsBuilder baseOptions(Suite suite, Options o, List<String> jvmArgs) {
        ChainedOptionsBuilder b = new OptionsBuilder();
        if (o.warmup != Suite.PER_BENCHMARK) {
            b.warmupIterations(o.warmup);
        }
        if (o.iterations != Suite.PER_BENCHMARK) {
            b.measurementIterations(o.iterations);
        }
        if (!suite.singleShot()) {
            b.warmupTime(timeValue(o.warmupTime != null ? o.warmupTime : o.time))
                    .measurementTime(timeValue(o.time));
        }
        if (!jvmArgs.isEmpty()) {
            // Prepended: the benchmark's own @Fork(jvmArgsAppend) flags stay.
            b.jvmArgsPrepend(jvmArgs.toArray(String[]::new));
        }
        for (String p : o.profilers) {
            b.addProfiler(p);
        }
        return b;
    }

    private static String only(Suite suite, List<String> methods) {
        return "^" + Pattern.quote(suite.benchClass().getName()) + "\\.(" + String.join("|", methods) + ")$";
    }

    /** One JMH run in JMH's order. */
    private static Collection<RunResult> runSequential(Suite suite, Options o, List<String> wanted,
            List<String> jvmArgs) throws RunnerException {
        return new Runner(baseOptions(suite, o, jvmArgs)
                .include(only(suite, wanted))
                .forks(o.forks)
                .build()).run();
    }

    /**
     * {@code forks} rounds of one fork of each benchmark, in the suite's run order; the forks of
     * each benchmark are then merged into one result, as a single JMH run with that many forks
     * would have it (runSuite writes them with JMH's own JSON writer).
     */
    private static Collection<RunResult> runInterleaved(Suite suite, Options o, List<String> wanted,
            List<String> jvmArgs, PrintStream out) throws RunnerException {
        Map<String, List<BenchmarkResult>> forks = new LinkedHashMap<>();
        Map<String, BenchmarkParams> params = new LinkedHashMap<>();
        for (int round = 1; round <= o.forks; round++) {
            for (String m : wanted) {
                out.printf("%n## isola bench %s: fork round %d of %d: %s%n", suite.name(), round, o.forks, m);
                Collection<RunResult> rr = new Runner(baseOptions(suite, o, jvmArgs)
                        .include(only(suite, List.of(m))).forks(1).build()).run();
                for (RunResult r : rr) {
                    String name = r.getParams().getBenchmark();
                    params.putIfAbsent(name, r.getParams());
                    forks.computeIfAbsent(name, k -> new ArrayList<>()).addAll(r.getBenchmarkResults());
                }
            }
        }
        List<RunResult> merged = new ArrayList<>();
        forks.forEach((name, brs) -> {
            BenchmarkParams p = params.get(name);
            merged.add(new RunResult(params(p, brs.size(), o.load), brs));
        });
        merged.sort(RunResult.DEFAULT_SORT_COMPARATOR);
        return merged;
    }

    /**
     * {@code p} with its fork count set to {@code forks} (the forks actually merged) and its
     * params to {@code load} only: the suites have no JMH {@code @Param} of their own.
     */
    static BenchmarkParams params(BenchmarkParams p, int forks, int load) {
        for (Object k : p.getParamsKeys()) {
            if (!k.equals(LOAD_PARAM)) {
                throw new IllegalStateException("benchmark " + p.getBenchmark() + " has a JMH @Param '" + k
                        + "', which the report would drop; record it here too");
            }
        }
        WorkloadParams wp = new WorkloadParams();
        wp.put(LOAD_PARAM, Integer.toString(load), 0);
        return new BenchmarkParams(p.getBenchmark(), p.generatedBenchmark(), p.shouldSynchIterations(),
                p.getThreads(), p.getThreadGroups(), p.getThreadGroupLabels(), forks, p.getWarmupForks(),
                p.getWarmup(), p.getMeasurement(), p.getMode(), wp, p.getTimeUnit(),
                p.getOpsPerInvocation(), p.getJvm(), p.getJvmArgs(), p.getJdkVersion(), p.getVmName(),
                p.getVmVersion(), p.getJmhVersion(), p.getTimeout());
    }

    /** Per-benchmark statistics over every measurement iteration of every fork. */
    record Stats(double median, double min, double max, int iterations, int forks, String unit) {
        static Stats of(RunResult r) {
            List<Double> scores = new ArrayList<>();
            String unit = r.getPrimaryResult().getScoreUnit();
            int forks = 0;
            for (BenchmarkResult br : r.getBenchmarkResults()) {
                forks++;
                for (IterationResult ir : br.getIterationResults()) {
                    scores.add(ir.getPrimaryResult().getScore());
                }
            }
            return of(scores, forks, unit);
        }

        static Stats of(List<Double> scores, int forks, String unit) {
            double[] s = scores.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            if (s.length == 0) {
                return new Stats(Double.NaN, Double.NaN, Double.NaN, 0, forks, unit);
            }
            int n = s.length;
            double median = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
            return new Stats(median, s[0], s[n - 1], n, forks, unit);
        }
    }

    // =====================================================================================
    // Report
    // =====================================================================================

    /** Prints the table, ratios and targets; true if every target that could be judged is met. */
    static boolean report(Suite suite, Map<String, Stats> stats, List<String> wanted, Options o, Path result,
            PrintStream out) {
        out.println();
        out.println(suite.heading());
        out.println(o.load == 0 ? "load: none (an idle run; --load N adds N busy processes)"
                : "load: " + o.load + " busy process" + (o.load == 1 ? "" : "es") + " (--load " + o.load
                        + ") ran throughout the run");
        String fixed = suite.tableUnit();
        int w = Math.max(20, wanted.stream().mapToInt(String::length).max().orElse(0)); // the name column
        if (fixed != null) {
            out.printf(Locale.ROOT, "%-" + w + "s %12s %12s %12s %8s %6s%n", "benchmark", "median " + fixed, "min", "max",
                    "iters", "forks");
        } else {
            out.printf(Locale.ROOT, "%-" + w + "s %12s %12s %12s %-6s %8s %6s%n", "benchmark", "median", "min", "max",
                    "unit", "iters", "forks");
        }
        for (String m : wanted) {
            Stats s = stats.get(m);
            if (s == null) {
                out.printf(Locale.ROOT, "%-" + w + "s %12s%n", m, "no result");
            } else if (fixed != null) {
                if (!fixed.equals(s.unit())) {
                    out.printf("(%s reports %s, not %s)%n", m, s.unit(), fixed);
                }
                out.printf(Locale.ROOT, "%-" + w + "s %12s %12s %12s %8d %6d%n", m, num(s.median()), num(s.min()),
                        num(s.max()), s.iterations(), s.forks());
            } else {
                out.printf(Locale.ROOT, "%-" + w + "s %12s %12s %12s %-6s %8d %6d%n", m, num(s.median()), num(s.min()),
                        num(s.max()), s.unit(), s.iterations(), s.forks());
            }
        }

        Suite.Medians medians = new Suite.Medians(stats);
        out.println();
        out.println("ratios (of medians):");
        for (Suite.Ratio r : suite.ratios()) {
            Double v = medians.ratio(r.numerator(), r.denominator());
            out.printf(Locale.ROOT, "  %-40s %s%n", r.what(), v == null ? "n/a (not measured)" : num(v) + r.suffix());
        }

        out.println();
        out.println("targets:");
        boolean met = true;
        for (Suite.Target t : suite.targets()) {
            Double v = t.value().apply(medians);
            met &= target(out, t.what(), v, v == null ? null : t.shown().apply(v), v != null && t.pass().test(v));
        }
        out.println();
        out.println("JMH JSON result: " + result);
        if (o.forks == 0) {
            out.println("(forks 0: measured in the launcher's JVM; numbers are less reliable)");
        }
        return met;
    }

    /** Prints one target; a target whose inputs were not measured is "n/a" and does not count. */
    private static boolean target(PrintStream out, String what, Double value, String shown, boolean pass) {
        String verdict = value == null ? "n/a" : pass ? "PASS" : "MISS";
        out.printf(Locale.ROOT, "  %-48s %12s  %s%n", what, shown == null ? "-" : shown, verdict);
        return value == null || pass;
    }
}
