package isola.bench;

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
 * <p>By default the {@code ipc} suite runs in fork rounds: each round forks one JVM per
 * benchmark, in {@link #IPC_ORDER}, so the benchmarks a ratio compares are measured close in
 * time; the forks are then merged per benchmark and written with JMH's JSON writer, as one JMH
 * run with that many forks would write them. {@code --sequential} makes it one plain JMH run.
 *
 * <p>Exit status: 0 when the suite ran (targets are reported, not enforced, unless
 * {@code --fail-on-miss}); 1 when a benchmark produced no result, or a target was missed with
 * {@code --fail-on-miss}; 2 for a usage error (unknown suite or option).
 */
public final class BenchMain {
    private BenchMain() {}

    /** Known suites, in the order the usage lists them. */
    static final Map<String, String> SUITES = new LinkedHashMap<>();

    static {
        SUITES.put("ipc", "IPC round trips: passive and active calls vs Java call, SynchronousQueue, spin ping-pong");
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help") || args[0].equals("help")) {
            usage(args.length == 0 ? err : out);
            return args.length == 0 ? 2 : 0;
        }
        String suite = args[0];
        if (!SUITES.containsKey(suite)) {
            err.println("isola bench: unknown suite '" + suite + "'; known suites: "
                    + String.join(", ", SUITES.keySet()));
            return 2;
        }
        IpcOptions opts;
        try {
            opts = IpcOptions.parse(List.of(args).subList(1, args.length));
        } catch (IllegalArgumentException e) {
            err.println("isola bench " + suite + ": " + e.getMessage());
            usage(err);
            return 2;
        }
        if (opts.help) {
            usage(out);
            return 0;
        }
        try {
            return runIpc(opts, out, err);
        } catch (RunnerException | IOException e) {
            err.println("isola bench " + suite + ": " + e.getMessage());
            e.printStackTrace(err);
            return 1;
        }
    }

    static void usage(PrintStream s) {
        s.println("usage: BenchMain SUITE [options]     (./isola bench SUITE [options])");
        s.println();
        s.println("suites:");
        SUITES.forEach((k, v) -> s.printf("  %-8s %s%n", k, v));
        s.println();
        s.println("options:");
        s.println("  --forks N         forked JVMs per benchmark (default 2)");
        s.println("  --warmup N        warm-up iterations per fork (default 5)");
        s.println("  --iterations N    measurement iterations per fork (default 10)");
        s.println("  --time S          seconds per iteration, warm-up and measurement (default 1)");
        s.println("  --warmup-time S   seconds per warm-up iteration (default: --time)");
        s.println("  --include REGEX   only benchmarks of the suite whose name matches REGEX");
        s.println("  --result FILE     JMH JSON result file (default target/bench/SUITE.json)");
        s.println("  --prof NAME       add a JMH profiler (e.g. gc, stack, perfnorm); repeatable");
        s.println("  --sequential      one JMH run in JMH's order (all forks of a benchmark, then the");
        s.println("                    next) instead of fork rounds interleaving the benchmarks");
        s.println("  --fail-on-miss    exit 1 if a target is missed");
        s.println("  -h, --help        this help");
        s.println();
        s.println("quick run: ./isola bench ipc --forks 1 --warmup 2 --iterations 3 --time 1");
    }

    // =====================================================================================
    // ipc
    // =====================================================================================

    static final String IPC_CLASS = IpcBench.class.getName();
    static final String JAVA = "javaInterfaceCall";
    static final String PASSIVE = "passiveCall";
    static final String ACTIVE = "activeCall";
    static final String QUEUE = "synchronousQueue";
    static final String SPIN = "spinPingPong";
    static final List<String> IPC_BENCHMARKS = List.of(JAVA, PASSIVE, ACTIVE, QUEUE, SPIN);

    /** Target: a passive call's median round trip, in ns. */
    static final double PASSIVE_TARGET_NS = 25;
    /** Target: an active round trip costs at most this many spin ping-pongs. */
    static final double ACTIVE_VS_SPIN_TARGET = 2;
    /** Target: an active round trip is at least this many times faster than a SynchronousQueue one. */
    static final double QUEUE_VS_ACTIVE_TARGET = 10;

    static final class IpcOptions {
        int forks = 2;
        int warmup = 5;
        int iterations = 10;
        double time = 1;
        Double warmupTime;
        String include = ".*";
        Path result = Path.of("target", "bench", "ipc.json");
        boolean failOnMiss;
        boolean sequential;
        boolean help;
        final List<String> profilers = new ArrayList<>();

        static IpcOptions parse(List<String> args) {
            IpcOptions o = new IpcOptions();
            for (int i = 0; i < args.size(); i++) {
                String a = args.get(i);
                String name = a;
                String value = null;
                int eq = a.indexOf('=');
                if (a.startsWith("--") && eq > 0) {
                    name = a.substring(0, eq);
                    value = a.substring(eq + 1);
                }
                switch (name) {
                    case "-h", "--help" -> o.help = true;
                    case "--fail-on-miss" -> o.failOnMiss = true;
                    case "--sequential" -> o.sequential = true;
                    case "--forks", "--warmup", "--iterations", "--time", "--warmup-time", "--include", "--result",
                            "--prof" -> {
                        if (value == null) {
                            if (i + 1 >= args.size()) {
                                throw new IllegalArgumentException(name + " needs a value");
                            }
                            value = args.get(++i);
                        }
                        o.set(name, value);
                    }
                    default -> throw new IllegalArgumentException("unknown option '" + a + "'");
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

    /**
     * Order of the interleaved run: each fork round measures the cross-thread round trips back
     * to back (spin ping-pong, then active, then SynchronousQueue), so a ratio compares
     * neighbours in time. Where the host places two vCPUs changes the cache-line transfer cost
     * several-fold from minute to minute, which JMH's own order (by name, all forks of one
     * benchmark before the next) would turn into ratio noise.
     */
    static final List<String> IPC_ORDER = List.of(SPIN, ACTIVE, QUEUE, PASSIVE, JAVA);

    static int runIpc(IpcOptions o, PrintStream out, PrintStream err) throws RunnerException, IOException {
        Path result = o.result.toAbsolutePath();
        Files.createDirectories(result.getParent());
        Pattern inc = Pattern.compile(o.include);
        List<String> wanted = new ArrayList<>();
        for (String m : IPC_ORDER) {
            if (inc.matcher(m).matches()) {
                wanted.add(m);
            }
        }
        if (wanted.isEmpty()) {
            err.println("isola bench ipc: --include '" + o.include + "' matches none of " + IPC_BENCHMARKS);
            return 2;
        }
        double loadBefore = loadAverage();
        Collection<RunResult> results = o.sequential || o.forks <= 1
                ? runSequential(o, wanted, result)
                : runInterleaved(o, wanted, result, out);
        double loadAfter = loadAverage();

        Map<String, Stats> stats = new LinkedHashMap<>();
        for (RunResult r : results) {
            String bench = r.getParams().getBenchmark();
            String method = bench.substring(bench.lastIndexOf('.') + 1);
            stats.put(method, Stats.of(r));
        }
        boolean complete = true;
        List<String> shown = new ArrayList<>();
        for (String m : IPC_BENCHMARKS) {
            if (wanted.contains(m)) {
                shown.add(m);
                complete &= stats.containsKey(m);
            }
        }
        boolean allMet = report(stats, shown, o, result, out);
        warnIfBusy(loadBefore, loadAfter, out);
        if (!complete) {
            err.println("isola bench ipc: some benchmarks produced no result (see JMH's output above)");
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
     * The cross-thread benchmarks need two otherwise idle CPUs: with another busy process on a
     * two-CPU machine, the two spinning threads share one CPU and a round trip takes a time slice
     * (milliseconds). The load average after the run includes the run itself (about 2).
     */
    static void warnIfBusy(double before, double after, PrintStream out) {
        int cpus = Runtime.getRuntime().availableProcessors();
        out.printf(Locale.ROOT, "host: %d CPUs, load average %s before the run, %s after%n", cpus,
                num(before), num(after));
        if (before >= 1.0 || after > cpus + 0.5) {
            out.println("WARNING: other processes may have been busy during the run; cross-thread round trips "
                    + "(active, spin ping-pong, SynchronousQueue) are unreliable: see min/max, and rerun "
                    + "on an idle machine");
        }
    }

    private static ChainedOptionsBuilder baseOptions(IpcOptions o) {
        ChainedOptionsBuilder b = new OptionsBuilder()
                .warmupIterations(o.warmup)
                .warmupTime(timeValue(o.warmupTime != null ? o.warmupTime : o.time))
                .measurementIterations(o.iterations)
                .measurementTime(timeValue(o.time));
        for (String p : o.profilers) {
            b.addProfiler(p);
        }
        return b;
    }

    private static String only(List<String> methods) {
        return "^" + Pattern.quote(IPC_CLASS) + "\\.(" + String.join("|", methods) + ")$";
    }

    /** One JMH run in JMH's order, which writes the result file itself. */
    private static Collection<RunResult> runSequential(IpcOptions o, List<String> wanted, Path result)
            throws RunnerException {
        return new Runner(baseOptions(o)
                .include(only(wanted))
                .forks(o.forks)
                .resultFormat(ResultFormatType.JSON)
                .result(result.toString())
                .build()).run();
    }

    /**
     * {@code forks} rounds of one fork of each benchmark, in {@link #IPC_ORDER}; the forks of
     * each benchmark are then merged into one result, as a single JMH run with that many forks
     * would have it, and written with JMH's own JSON writer.
     */
    private static Collection<RunResult> runInterleaved(IpcOptions o, List<String> wanted, Path result,
            PrintStream out) throws RunnerException {
        Map<String, List<BenchmarkResult>> forks = new LinkedHashMap<>();
        Map<String, BenchmarkParams> params = new LinkedHashMap<>();
        for (int round = 1; round <= o.forks; round++) {
            for (String m : wanted) {
                out.printf("%n## isola bench ipc: fork round %d of %d: %s%n", round, o.forks, m);
                Collection<RunResult> rr = new Runner(baseOptions(o).include(only(List.of(m))).forks(1).build()).run();
                for (RunResult r : rr) {
                    String name = r.getParams().getBenchmark();
                    params.putIfAbsent(name, r.getParams());
                    forks.computeIfAbsent(name, k -> new ArrayList<>()).addAll(r.getBenchmarkResults());
                }
            }
        }
        List<RunResult> merged = new ArrayList<>();
        forks.forEach((name, brs) -> merged.add(new RunResult(withForks(params.get(name), brs.size()), brs)));
        merged.sort(RunResult.DEFAULT_SORT_COMPARATOR);
        ResultFormatFactory.getInstance(ResultFormatType.JSON, result.toString()).writeOut(merged);
        return merged;
    }

    /** {@code p} with its fork count set to the number of forks actually merged. */
    private static BenchmarkParams withForks(BenchmarkParams p, int forks) {
        if (!p.getParamsKeys().isEmpty()) {
            return p; // no @Param in this suite; keep JMH's own params object if that changes
        }
        return new BenchmarkParams(p.getBenchmark(), p.generatedBenchmark(), p.shouldSynchIterations(),
                p.getThreads(), p.getThreadGroups(), p.getThreadGroupLabels(), forks, p.getWarmupForks(),
                p.getWarmup(), p.getMeasurement(), p.getMode(), new WorkloadParams(), p.getTimeUnit(),
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

    /** Prints the table, ratios and targets; true if every target that could be judged is met. */
    static boolean report(Map<String, Stats> stats, List<String> wanted, IpcOptions o, Path result, PrintStream out) {
        out.println();
        out.println("== isola bench ipc: one round trip per operation; median, min and max over all "
                + "measurement iterations of all forks ==");
        out.printf(Locale.ROOT, "%-20s %12s %12s %12s %8s %6s%n", "benchmark", "median ns/op", "min", "max",
                "iters", "forks");
        for (String m : wanted) {
            Stats s = stats.get(m);
            if (s == null) {
                out.printf(Locale.ROOT, "%-20s %12s%n", m, "no result");
            } else {
                if (!"ns/op".equals(s.unit())) {
                    out.printf("(%s reports %s, not ns/op)%n", m, s.unit());
                }
                out.printf(Locale.ROOT, "%-20s %12s %12s %12s %8d %6d%n", m, num(s.median()), num(s.min()),
                        num(s.max()), s.iterations(), s.forks());
            }
        }

        Double java = median(stats, JAVA), passive = median(stats, PASSIVE), active = median(stats, ACTIVE),
                queue = median(stats, QUEUE), spin = median(stats, SPIN);
        out.println();
        out.println("ratios (of medians):");
        ratio(out, "passive call / Java interface call", passive, java, "x");
        ratio(out, "active call / spin ping-pong", active, spin, "x");
        ratio(out, "SynchronousQueue / active call", queue, active, "x (active is that many times faster)");

        out.println();
        out.println("targets:");
        boolean met = true;
        met &= target(out, "passive call median < " + num(PASSIVE_TARGET_NS) + " ns",
                passive, passive == null ? null : num(passive) + " ns",
                passive != null && passive < PASSIVE_TARGET_NS);
        Double activeVsSpin = div(active, spin);
        met &= target(out, "active round trip <= " + num(ACTIVE_VS_SPIN_TARGET) + "x spin ping-pong",
                activeVsSpin, activeVsSpin == null ? null : num(activeVsSpin) + "x",
                activeVsSpin != null && activeVsSpin <= ACTIVE_VS_SPIN_TARGET);
        Double queueVsActive = div(queue, active);
        met &= target(out, "active >= " + num(QUEUE_VS_ACTIVE_TARGET) + "x faster than SynchronousQueue",
                queueVsActive, queueVsActive == null ? null : num(queueVsActive) + "x",
                queueVsActive != null && queueVsActive >= QUEUE_VS_ACTIVE_TARGET);
        out.println();
        out.println("JMH JSON result: " + result);
        if (o.forks == 0) {
            out.println("(forks 0: measured in the launcher's JVM; numbers are less reliable)");
        }
        return met;
    }

    private static Double median(Map<String, Stats> stats, String m) {
        Stats s = stats.get(m);
        return s == null || Double.isNaN(s.median()) ? null : s.median();
    }

    private static Double div(Double a, Double b) {
        return a == null || b == null || b == 0 ? null : a / b;
    }

    private static void ratio(PrintStream out, String what, Double a, Double b, String unit) {
        Double r = div(a, b);
        out.printf(Locale.ROOT, "  %-40s %s%n", what, r == null ? "n/a (not measured)" : num(r) + unit);
    }

    /** Prints one target; a target whose inputs were not measured is "n/a" and does not count. */
    private static boolean target(PrintStream out, String what, Double value, String shown, boolean pass) {
        String verdict = value == null ? "n/a" : pass ? "PASS" : "MISS";
        out.printf(Locale.ROOT, "  %-48s %12s  %s%n", what, shown == null ? "-" : shown, verdict);
        return value == null || pass;
    }

    static String num(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        double a = Math.abs(v);
        String f = a >= 1000 ? "%.0f" : a >= 100 ? "%.1f" : a >= 10 ? "%.2f" : "%.3f";
        return String.format(Locale.ROOT, f, v);
    }
}
