package isola.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.results.AverageTimeResult;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.IterationResultMetaData;
import org.openjdk.jmh.results.ResultRole;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.IterationType;
import org.openjdk.jmh.runner.WorkloadParams;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs a suite whose harness is not a JVM (JMH cannot run inside a native image or on bare
 * metal): each fork is one run of {@code native/target/bin/isola bench} (suite isolates) or one
 * boot of the bare-metal kernel in QEMU with {@code bench} on its command line (suite
 * baremetal), which warms up, measures and prints one line per measurement iteration,
 * {@code RESULT benchmark iteration ops total unit}: nanoseconds for a time unit, TSC cycles for
 * {@code cycles/op}. For baremetal each boot also gives one sample of {@code bootToSummary}: the
 * wall time from QEMU's start to the kernel's summary line. The iterations become JMH results
 * (average per operation), so the suite reports like the others and BenchMain writes its JSON
 * with JMH's own writer.
 */
final class NativeHarness {
    private NativeHarness() {}

    static final Path EXECUTABLE = Path.of("native", "target", "bin", "isola");
    static final String BOOT_TO_SUMMARY = "bootToSummary";

    static Collection<RunResult> run(Suite suite, BenchMain.Options o, List<String> wanted, PrintStream out)
            throws IOException {
        boolean qemu = suite == BaremetalSuite.SUITE;
        Path exe = qemu ? new isola.boot.Qemu().image.toAbsolutePath() : EXECUTABLE.toAbsolutePath();
        if (!Files.isRegularFile(exe)) {
            throw new IOException("no " + (qemu ? "kernel image " : "native executable ") + exe + "; build it with ./isola "
                    + (qemu ? "image" : "native") + " (./isola bench " + suite.name() + " does)");
        }
        String include = "^(" + String.join("|", wanted) + ")$";
        Map<String, List<IterationResult>> iterations = new LinkedHashMap<>();
        Map<String, List<BenchmarkResult>> forks = new LinkedHashMap<>();
        Map<String, BenchmarkParams> params = new LinkedHashMap<>();
        java.util.function.Consumer<String> parse = line -> {
            out.println(line);
            String[] f = line.split(" ");
            if (f.length != 6 || !f[0].equals("RESULT") || !f[1].matches(include)) {
                return;
            }
            String name = suite.name() + "." + f[1];
            BenchmarkParams bp = params.computeIfAbsent(name, n -> params(n, o, exe, unit(f[5])));
            long ops = Long.parseLong(f[3]);
            long total = Long.parseLong(f[4]);
            IterationResult ir = new IterationResult(bp, bp.getMeasurement(), new IterationResultMetaData(ops, ops));
            ir.addResult(f[5].equals(CYCLES)
                    ? new CyclesResult(f[1], (double) total / Math.max(1, ops))
                    : new AverageTimeResult(ResultRole.PRIMARY, f[1], ops, total, unit(f[5])));
            iterations.computeIfAbsent(name, n -> new ArrayList<>()).add(ir);
        };
        for (int fork = 1; fork <= Math.max(1, o.forks); fork++) {
            out.printf("%n## isola bench %s: fork %d of %d: %s%n", suite.name(), fork, o.forks, exe);
            iterations.clear();
            if (qemu) {
                bootOnce(o, wanted, parse);
            } else {
                runExecutable(exe, o, include, parse);
            }
            iterations.forEach((name, irs) -> forks.computeIfAbsent(name, n -> new ArrayList<>())
                    .add(new BenchmarkResult(params.get(name), irs)));
        }
        List<RunResult> results = new ArrayList<>();
        forks.forEach((name, brs) -> results.add(new RunResult(params.get(name), brs)));
        results.sort(RunResult.DEFAULT_SORT_COMPARATOR);
        return results; // BenchMain writes them with JMH's JSON writer, as for every suite
    }

    static final String CYCLES = CyclesResult.UNIT;

    private static void runExecutable(Path exe, BenchMain.Options o, String include, java.util.function.Consumer<String> parse)
            throws IOException {
        List<String> cmd = List.of(exe.toString(), "bench", "--warmup", String.valueOf(o.warmup),
                "--iterations", String.valueOf(o.iterations), "--include", include);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                parse.accept(line);
            }
        }
        try {
            if (p.waitFor() != 0) {
                throw new IOException(exe + " bench exited with " + p.exitValue() + " (its output is above)");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
    }

    /** One boot of the kernel with its benchmarks on; the wall time to its summary line is one more result. */
    private static void bootOnce(BenchMain.Options o, List<String> wanted, java.util.function.Consumer<String> parse)
            throws IOException {
        isola.boot.Qemu q = new isola.boot.Qemu();
        q.append = "bench bench.warmup=" + o.warmup + " bench.iterations=" + o.iterations;
        q.timeoutSeconds = 300;
        isola.boot.Qemu.Result r;
        try {
            r = q.run(parse);
        } catch (isola.boot.Qemu.BootException e) {
            throw new IOException(e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        if (r.status() != isola.boot.Qemu.PASS) {
            throw new IOException("the kernel did not pass: " + r.why() + " (its output is above)");
        }
        if (wanted.contains(BOOT_TO_SUMMARY)) {
            parse.accept("RESULT " + BOOT_TO_SUMMARY + " 1 1 " + r.summaryNanos() + " ms/op");
        }
    }

    /** The time unit of a score unit the executable prints ("ns/op", "ms/op"). */
    private static TimeUnit unit(String scoreUnit) {
        return switch (scoreUnit) {
            case "ns/op" -> TimeUnit.NANOSECONDS;
            case "us/op" -> TimeUnit.MICROSECONDS;
            case "ms/op" -> TimeUnit.MILLISECONDS;
            case CYCLES -> TimeUnit.NANOSECONDS; // a count, not a time: the params need some unit
            default -> throw new IllegalArgumentException("unknown score unit '" + scoreUnit + "' from the native harness");
        };
    }

    /** JMH's parameters for a benchmark measured by the native harness: average time, one thread. */
    private static BenchmarkParams params(String name, BenchMain.Options o, Path exe, TimeUnit unit) {
        IterationParams warmup = new IterationParams(IterationType.WARMUP, o.warmup, TimeValue.NONE, 1);
        IterationParams measurement = new IterationParams(IterationType.MEASUREMENT, o.iterations, TimeValue.NONE, 1);
        return new BenchmarkParams(name, name, false, 1, new int[] {1}, List.of(), Math.max(1, o.forks), 0, warmup,
                measurement, Mode.AverageTime, new WorkloadParams(), unit, 1, exe.toString(), List.of(),
                Runtime.version().toString(), "Substrate VM (GraalVM Native Image)", Runtime.version().toString(),
                "native harness", TimeValue.NONE);
    }
}
