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
import org.openjdk.jmh.results.format.ResultFormatFactory;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.IterationType;
import org.openjdk.jmh.runner.WorkloadParams;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs a suite whose harness is the native executable (JMH cannot run inside a native image):
 * each fork is one run of {@code native/target/bin/isola bench}, which warms up, measures and
 * prints one line per measurement iteration, {@code RESULT benchmark iteration ops nanoseconds unit}.
 * The iterations become JMH results (average time per operation), so the suite reports like the
 * others and its JSON is written by JMH's own writer.
 */
final class NativeHarness {
    private NativeHarness() {}

    static final Path EXECUTABLE = Path.of("native", "target", "bin", "isola");

    static Collection<RunResult> run(BenchMain.Suite suite, BenchMain.Options o, List<String> wanted, Path result,
            PrintStream out) throws IOException {
        Path exe = EXECUTABLE.toAbsolutePath();
        if (!Files.isExecutable(exe)) {
            throw new IOException("no native executable " + exe + "; build it with ./isola native (./isola bench "
                    + suite.name() + " does)");
        }
        String include = "^(" + String.join("|", wanted) + ")$";
        Map<String, List<IterationResult>> iterations = new LinkedHashMap<>();
        Map<String, List<BenchmarkResult>> forks = new LinkedHashMap<>();
        Map<String, BenchmarkParams> params = new LinkedHashMap<>();
        for (int fork = 1; fork <= Math.max(1, o.forks); fork++) {
            out.printf("%n## isola bench %s: fork %d of %d: %s%n", suite.name(), fork, o.forks, exe);
            List<String> cmd = List.of(exe.toString(), "bench", "--warmup", String.valueOf(o.warmup),
                    "--iterations", String.valueOf(o.iterations), "--include", include);
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            iterations.clear();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    out.println(line);
                    String[] f = line.split(" ");
                    if (f.length != 6 || !f[0].equals("RESULT")) {
                        continue;
                    }
                    String name = suite.name() + "." + f[1];
                    BenchmarkParams bp = params.computeIfAbsent(name, n -> params(n, o, exe, unit(f[5])));
                    long ops = Long.parseLong(f[3]);
                    long ns = Long.parseLong(f[4]);
                    IterationResult ir = new IterationResult(bp, bp.getMeasurement(), new IterationResultMetaData(ops, ops));
                    ir.addResult(new AverageTimeResult(ResultRole.PRIMARY, f[1], ops, ns, unit(f[5])));
                    iterations.computeIfAbsent(name, n -> new ArrayList<>()).add(ir);
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
            iterations.forEach((name, irs) -> forks.computeIfAbsent(name, n -> new ArrayList<>())
                    .add(new BenchmarkResult(params.get(name), irs)));
        }
        List<RunResult> results = new ArrayList<>();
        forks.forEach((name, brs) -> results.add(new RunResult(params.get(name), brs)));
        results.sort(RunResult.DEFAULT_SORT_COMPARATOR);
        Files.createDirectories(result.getParent());
        ResultFormatFactory.getInstance(ResultFormatType.JSON, result.toString()).writeOut(results);
        return results;
    }

    /** The time unit of a score unit the executable prints ("ns/op", "ms/op"). */
    private static TimeUnit unit(String scoreUnit) {
        return switch (scoreUnit) {
            case "ns/op" -> TimeUnit.NANOSECONDS;
            case "us/op" -> TimeUnit.MICROSECONDS;
            case "ms/op" -> TimeUnit.MILLISECONDS;
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
