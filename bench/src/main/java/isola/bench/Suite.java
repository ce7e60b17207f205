package isola.bench;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.DoublePredicate;
import java.util.function.Function;

/**
 * A benchmark suite as data: its benchmark class and methods, its defaults, and the ratios and
 * targets its report judges. Each suite's description stands beside its benchmarks
 * ({@link IpcSuite}, {@link BootSuite}, {@link MemSuite}, {@link IsolatesSuite},
 * {@link BaremetalSuite}, {@link FsSuite}); {@link BenchMain} runs and reports any of them.
 *
 * @param benchClass the JMH benchmark class, or null for a suite measured inside the native
 *     executable or the bare-metal kernel ({@link NativeHarness})
 * @param benchmarks the benchmark methods of {@code benchClass}, in the order the table lists them
 * @param runOrder order of the interleaved fork rounds (timed suites)
 * @param singleShot true if every iteration is one invocation: no time options, no fork rounds
 * @param warmup default warm-up iterations, or {@link #PER_BENCHMARK}
 * @param iterations default measurement iterations, or {@link #PER_BENCHMARK}
 * @param heading the table's title line
 * @param tableUnit the unit every row reports in (a "median UNIT" column), or null for a unit column
 * @param needsRoot benchmarks that need the repository root (they start ./isola)
 * @param busyWarning what the report says when the host was busy
 */
record Suite(String name, String description, Class<?> benchClass, List<String> benchmarks,
        List<String> runOrder, boolean singleShot, int forks, int warmup, int iterations, String heading,
        String tableUnit, List<Ratio> ratios, List<Target> targets, Set<String> needsRoot, String busyWarning) {

    /** Options every suite takes. */
    static final Set<String> COMMON_OPTIONS = Set.of("-h", "--help", "--fail-on-miss", "--forks", "--warmup",
            "--iterations", "--include", "--result", "--prof", "--load");
    /** Options only timed (not single-shot) suites take, with their interleaved fork rounds. */
    static final Set<String> TIMED_OPTIONS = Set.of("--time", "--warmup-time", "--sequential");

    /** A warm-up or measurement count that the benchmark's own annotations decide. */
    static final int PER_BENCHMARK = -1;

    /** The warning of a suite with nothing more particular to say about a busy host. */
    static final String BUSY =
            "WARNING: other processes may have been busy during the run: see min/max, and rerun on an idle machine";

    Path defaultResult() {
        return Path.of("target", "bench", name + ".json");
    }

    boolean takes(String option) {
        return COMMON_OPTIONS.contains(option) || (!singleShot && TIMED_OPTIONS.contains(option));
    }

    /** A ratio of two benchmarks' medians (converted to one unit), printed with {@code suffix}. */
    record Ratio(String what, String numerator, String denominator, String suffix) {}

    /**
     * A target: {@code value} computes what is judged from the medians (null if not measured),
     * {@code shown} formats it, {@code pass} judges it.
     */
    record Target(String what, Function<Medians, Double> value, Function<Double, String> shown,
            DoublePredicate pass) {
        /** The target "{@code what} < {@code limit} UNIT" on {@code bench}'s median, in {@code unit} (ms or ns). */
        static Target below(String what, String bench, TimeUnit unit, double limit) {
            String symbol = switch (unit) {
                case MILLISECONDS -> "ms";
                case NANOSECONDS -> "ns";
                default -> throw new IllegalArgumentException("no target unit " + unit);
            };
            return new Target(what + " < " + plain(limit) + " " + symbol, m -> m.in(bench, unit),
                    v -> num(v) + " " + symbol, v -> v < limit);
        }
    }

    /** The medians of one run, by benchmark, in any time unit. */
    record Medians(Map<String, BenchMain.Stats> stats) {
        /** The median of {@code m} in {@code unit}, or null if not measured. */
        Double in(String m, TimeUnit unit) {
            BenchMain.Stats s = stats.get(m);
            if (s == null || Double.isNaN(s.median())) {
                return null;
            }
            double ns = nanosPerUnit(s.unit());
            return Double.isNaN(ns) ? null : s.median() * ns / unit.toNanos(1);
        }

        /** a's median over b's: in one time unit, or directly if both count the same thing (cycles/op). */
        Double ratio(String a, String b) {
            BenchMain.Stats sa = stats.get(a), sb = stats.get(b);
            if (sa != null && sb != null && sa.unit() != null && sa.unit().equals(sb.unit())
                    && Double.isNaN(nanosPerUnit(sa.unit()))) {
                return div(sa.median(), sb.median());
            }
            return div(in(a, TimeUnit.NANOSECONDS), in(b, TimeUnit.NANOSECONDS));
        }
    }

    /** Nanoseconds in one unit of a JMH score unit such as "ns/op" or "ms/op"; NaN if unknown. */
    static double nanosPerUnit(String scoreUnit) {
        String u = scoreUnit == null ? "" : scoreUnit.replace("/op", "");
        return switch (u) {
            case "ns" -> 1;
            case "us" -> 1e3;
            case "ms" -> 1e6;
            case "s" -> 1e9;
            case "min" -> 60e9;
            default -> Double.NaN;
        };
    }

    static Double div(Double a, Double b) {
        return a == null || b == null || b == 0 ? null : a / b;
    }

    /** {@code v} without trailing zeros: 5, 1500, 2.5. */
    static String plain(double v) {
        return java.math.BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
    }

    /** {@code v} as the report prints it: four significant digits, or whole from 1000 up. */
    static String num(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        double a = Math.abs(v);
        String f = a >= 1000 ? "%.0f" : a >= 100 ? "%.1f" : a >= 10 ? "%.2f" : "%.3f";
        return String.format(Locale.ROOT, f, v);
    }
}
