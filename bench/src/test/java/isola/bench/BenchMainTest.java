package isola.bench;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BenchMainTest {
    private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
    private final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);

    private String err() {
        return errBytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void unknownSuiteListsKnownSuitesAndExits2() {
        assertEquals(2, BenchMain.run(new String[] {"nosuch"}, out, err));
        assertTrue(err().contains("unknown suite 'nosuch'"), err());
        assertTrue(err().contains("known suites: ipc"), err());
    }

    @Test
    void noSuiteIsAUsageError() {
        assertEquals(2, BenchMain.run(new String[0], out, err));
        assertTrue(err().contains("usage:"), err());
    }

    @Test
    void badOptionsAreUsageErrors() {
        assertEquals(2, BenchMain.run(new String[] {"ipc", "--bogus"}, out, err));
        assertTrue(err().contains("unknown option '--bogus'"), err());
        assertEquals(2, BenchMain.run(new String[] {"ipc", "--forks", "x"}, out, err));
        assertTrue(err().contains("--forks 'x' is not an integer"), err());
        assertEquals(2, BenchMain.run(new String[] {"ipc", "--time"}, out, err));
        assertTrue(err().contains("--time needs a value"), err());
        assertEquals(2, BenchMain.run(new String[] {"ipc", "--include", "nothing"}, out, err));
        assertTrue(err().contains("matches none"), err());
    }

    @Test
    void parsesQuickRunOptions() {
        BenchMain.Options o = BenchMain.Options.parse(IpcSuite.SUITE, List.of("--forks", "1", "--warmup=2",
                "--iterations", "3", "--time", "0.5", "--include", "passive.*", "--result", "x/y.json",
                "--prof", "gc", "--sequential", "--fail-on-miss"));
        assertEquals(1, o.forks);
        assertEquals(2, o.warmup);
        assertEquals(3, o.iterations);
        assertEquals(0.5, o.time);
        assertEquals("passive.*", o.include);
        assertEquals(Path.of("x/y.json"), o.result);
        assertEquals(List.of("gc"), o.profilers);
        assertTrue(o.sequential);
        assertTrue(o.failOnMiss);
    }

    @Test
    void defaultsAreTheFullSuite() {
        BenchMain.Options o = BenchMain.Options.parse(IpcSuite.SUITE, List.of());
        assertEquals(2, o.forks);
        assertEquals(5, o.warmup);
        assertEquals(10, o.iterations);
        assertEquals(1.0, o.time);
        assertEquals(Path.of("target", "bench", "ipc.json"), o.result);
    }

    @Test
    void statsAreOverAllIterations() {
        BenchMain.Stats odd = BenchMain.Stats.of(List.of(5.0, 1.0, 3.0), 1, "ns/op");
        assertEquals(3.0, odd.median());
        assertEquals(1.0, odd.min());
        assertEquals(5.0, odd.max());
        assertEquals(3, odd.iterations());
        BenchMain.Stats even = BenchMain.Stats.of(List.of(4.0, 1.0, 2.0, 10.0), 2, "ns/op");
        assertEquals(3.0, even.median());
        assertTrue(Double.isNaN(BenchMain.Stats.of(List.of(), 0, "ns/op").median()));
    }

    // ---- boot ----

    @Test
    void bootRejectsTimeOptionsAndUnknownOnes() {
        for (String opt : List.of("--time", "--warmup-time")) {
            assertEquals(2, BenchMain.run(new String[] {"boot", opt, "1"}, out, err));
            assertTrue(err().contains(opt + " does not apply to suite boot"), err());
        }
        assertEquals(2, BenchMain.run(new String[] {"boot", "--sequential"}, out, err));
        assertTrue(err().contains("--sequential does not apply to suite boot"), err());
        assertEquals(2, BenchMain.run(new String[] {"boot", "--bogus"}, out, err));
        assertTrue(err().contains("isola bench boot: unknown option '--bogus'"), err());
        assertEquals(2, BenchMain.run(new String[] {"boot", "--iterations", "0"}, out, err));
        assertTrue(err().contains("--iterations '0' is not an integer >= 1"), err());
        assertEquals(2, BenchMain.run(new String[] {"boot", "--include", "nothing"}, out, err));
        assertTrue(err().contains("matches none of [launcherBoot, jvmStart, crashNamesToServing"), err());
    }

    @Test
    void bootNeedsTheLauncherInTheCurrentDirectory() {
        // Tests run in bench/, which has no ./isola: fails before any benchmark runs.
        assertEquals(1, BenchMain.run(new String[] {"boot", "--include", "launcherBoot"}, out, err));
        assertTrue(err().contains("no executable launcher"), err());
    }

    @Test
    void bootDefaultsArePerBenchmarkSingleShotCounts() {
        BenchMain.Options o = BenchMain.Options.parse(BootSuite.SUITE, List.of());
        assertEquals(1, o.forks);
        assertEquals(Suite.PER_BENCHMARK, o.warmup);
        assertEquals(Suite.PER_BENCHMARK, o.iterations);
        assertEquals(Path.of("target", "bench", "boot.json"), o.result);
        assertFalse(o.failOnMiss);

        BenchMain.Options q = BenchMain.Options.parse(BootSuite.SUITE, List.of("--warmup", "2", "--iterations=5",
                "--forks", "2", "--include", "crash.*", "--result", "b.json", "--prof", "gc", "--fail-on-miss"));
        assertEquals(2, q.warmup);
        assertEquals(5, q.iterations);
        assertEquals(2, q.forks);
        assertEquals("crash.*", q.include);
        assertEquals(Path.of("b.json"), q.result);
        assertEquals(List.of("gc"), q.profilers);
        assertTrue(q.failOnMiss);
    }

    private String bootReport(Map<String, BenchMain.Stats> stats, boolean[] met) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream p = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        met[0] = BenchMain.report(BootSuite.SUITE, stats, BootSuite.BENCHMARKS,
                BenchMain.Options.parse(BootSuite.SUITE, List.of()), Path.of("boot.json"), p);
        return bytes.toString(StandardCharsets.UTF_8);
    }

    private static BenchMain.Stats stat(double median, String unit) {
        return BenchMain.Stats.of(List.of(median * 0.9, median, median * 1.2), 1, unit);
    }

    @Test
    void bootReportConvertsUnitsForRatiosAndTargets() {
        Map<String, BenchMain.Stats> s = new LinkedHashMap<>();
        s.put("launcherBoot", stat(900, "ms/op"));
        s.put("jvmStart", stat(60, "ms/op"));
        s.put("crashNamesToServing", stat(3000, "us/op"));
        s.put("namesListCall", stat(20, "us/op"));
        s.put("crashLogToServing", stat(6000, "us/op"));
        s.put("logWriteCall", stat(5, "us/op"));
        boolean[] met = new boolean[1];
        String r = bootReport(s, met);
        assertFalse(met[0], "the log target is missed:\n" + r);
        assertTrue(r.contains("unit"), "the table has a unit column:\n" + r);
        assertTrue(r.lines().anyMatch(l -> l.startsWith("launcherBoot") && l.contains("900.0") && l.contains("ms/op")), r);
        assertTrue(r.lines().anyMatch(l -> l.startsWith("logWriteCall") && l.contains("us/op")), r);
        assertTrue(r.lines().anyMatch(l -> l.contains("launcher boot / JVM start") && l.contains("15.00x")), r);
        assertTrue(r.lines().anyMatch(l -> l.contains("names: crash to serving / plain list") && l.contains("150.0x")), r);
        assertTrue(r.lines().anyMatch(l -> l.contains("./isola boot to prompt < 1500 ms") && l.contains("900.0 ms")
                && l.endsWith("PASS")), r);
        assertTrue(r.lines().anyMatch(l -> l.contains("names crash to serving < 5 ms") && l.contains("3.000 ms")
                && l.endsWith("PASS")), r);
        assertTrue(r.lines().anyMatch(l -> l.contains("log crash to serving < 5 ms") && l.contains("6.000 ms")
                && l.endsWith("MISS")), r);
        assertTrue(r.contains("JMH JSON result: boot.json"), r);
    }

    @Test
    void unmeasuredBootTargetsAreNotApplicable() {
        Map<String, BenchMain.Stats> s = new LinkedHashMap<>();
        s.put("crashNamesToServing", stat(4000, "us/op"));
        boolean[] met = new boolean[1];
        String r = bootReport(s, met);
        assertTrue(met[0], r);
        assertTrue(r.lines().anyMatch(l -> l.startsWith("launcherBoot") && l.contains("no result")), r);
        assertTrue(r.lines().anyMatch(l -> l.contains("launcher boot / JVM start") && l.contains("n/a")), r);
        assertTrue(r.lines().anyMatch(l -> l.contains("./isola boot to prompt") && l.endsWith("n/a")), r);
        assertTrue(r.lines().anyMatch(l -> l.contains("names crash to serving") && l.endsWith("PASS")), r);
    }

    @Test
    void ipcReportKeepsItsNanosecondTable() {
        Map<String, BenchMain.Stats> s = new LinkedHashMap<>();
        s.put("javaInterfaceCall", stat(2, "ns/op"));
        s.put("passiveCall", stat(20, "ns/op"));
        s.put("activeCall", stat(300, "ns/op"));
        s.put("synchronousQueue", stat(5000, "ns/op"));
        s.put("spinPingPong", stat(100, "ns/op"));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        boolean met = BenchMain.report(IpcSuite.SUITE, s, IpcSuite.BENCHMARKS,
                BenchMain.Options.parse(IpcSuite.SUITE, List.of()), Path.of("ipc.json"),
                new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String r = bytes.toString(StandardCharsets.UTF_8);
        assertFalse(met, r);
        assertTrue(r.contains("median ns/op"), r);
        assertTrue(r.lines().anyMatch(l -> l.contains("passive call median < 25.00 ns") && l.endsWith("PASS")), r);
        assertTrue(r.lines().anyMatch(l -> l.contains("active round trip <= 2.000x") && l.contains("3.000x")
                && l.endsWith("MISS")), r);
        assertTrue(r.lines().anyMatch(l -> l.contains("SynchronousQueue / active call") && l.contains("16.67x")), r);
    }

    @Test
    void crashManifestRestartsNamesAndLogAtOnceAndKeepsTheRest() throws Exception {
        String m = isola.boot.CrashSystem.manifest(isola.boot.image.DefaultImage.defaultManifest());
        isola.init.manifest.BootManifest parsed = isola.init.manifest.BootManifest.parse("bench.manifest", m,
                isola.boot.image.DefaultImage.servers().keySet(), isola.boot.Boot.BUILTIN_SERVICES);
        for (String server : List.of("names", "log")) {
            var p = parsed.server(server).restart();
            assertTrue(p.onCrash(), server);
            assertEquals(1000, p.maxRestarts(), server);
            assertEquals(java.time.Duration.ZERO, p.backoff(), server);
        }
        var shell = parsed.server("shell").restart();
        assertEquals(3, shell.maxRestarts());
        assertEquals(java.time.Duration.ofMillis(50), shell.backoff());
    }

    @Test
    void promptIsFoundAcrossReads() throws Exception {
        byte[] text = "booting\nisola isola> echo\n".getBytes(StandardCharsets.UTF_8);
        java.io.InputStream oneByteAtATime = new java.io.ByteArrayInputStream(text) {
            @Override
            public synchronized int read(byte[] b, int off, int len) {
                return super.read(b, off, Math.min(len, 1));
            }
        };
        PromptedProcess.Tail seen = new PromptedProcess.Tail();
        assertEquals("booting\nisola isola> ".length(), PromptedProcess.indexOfPrompt(oneByteAtATime, seen));
        assertEquals("booting\nisola isola> ", seen.toString());
        assertEquals(-1, PromptedProcess.indexOfPrompt(
                new java.io.ByteArrayInputStream("isola>\n".getBytes(StandardCharsets.UTF_8)), new PromptedProcess.Tail()));
    }

    @Test
    void aChildThatFailsFailsWithItsOutput() throws Exception {
        Path dir = Path.of("").toAbsolutePath();
        // Ends before the prompt: start fails, naming the command and showing its stderr.
        java.io.IOException e = assertThrows(java.io.IOException.class, () -> PromptedProcess.start(
                List.of("/bin/sh", "-c", "echo booting; echo broken image >&2; exit 2"), dir, java.util.Map.of(), 30_000));
        assertTrue(e.getMessage().contains("ended before printing the prompt"), e.getMessage());
        assertTrue(e.getMessage().contains("broken image"), e.getMessage());

        // Prompts, but exits non-zero at shutdown: shutdown fails with the status.
        PromptedProcess p = PromptedProcess.start(List.of("/bin/sh", "-c",
                "printf 'isola> '; read a; echo \"got $a\" >&2; exit 3"), dir, java.util.Map.of(), 30_000);
        e = assertThrows(java.io.IOException.class, () -> p.shutdown(30_000));
        assertTrue(e.getMessage().contains("exited with status 3"), e.getMessage());
        assertTrue(e.getMessage().contains("got shutdown"), e.getMessage());

        // Prompts and exits 0 at shutdown.
        PromptedProcess ok = PromptedProcess.start(List.of("/bin/sh", "-c",
                "printf 'isola> '; while read l; do [ \"$l\" = shutdown ] && exit 0; done; exit 1"), dir, java.util.Map.of(), 30_000);
        ok.shutdown(30_000);
    }

    // ---- --load ----

    @Test
    void loadIsACommonOptionWithABound() {
        assertEquals(0, BenchMain.Options.parse(IpcSuite.SUITE, List.of()).load);
        assertEquals(2, BenchMain.Options.parse(IpcSuite.SUITE, List.of("--load", "2")).load);
        assertEquals(1, BenchMain.Options.parse(BootSuite.SUITE, List.of("--load=1")).load);
        assertEquals(2, BenchMain.run(new String[] {"ipc", "--load", "-1"}, out, err));
        assertTrue(err().contains("--load '-1' is not an integer >= 0"), err());
        assertEquals(2, BenchMain.run(new String[] {"ipc", "--load", "65"}, out, err));
        assertTrue(err().contains("--load '65' is more than 64 busy processes"), err());
    }

    @Test
    void theTableSaysWhetherTheRunWasUnderLoad() {
        Map<String, BenchMain.Stats> s = Map.of("activeCall", stat(300, "ns/op"));
        for (int load : new int[] {0, 1, 3}) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            BenchMain.report(IpcSuite.SUITE, s, List.of("activeCall"),
                    BenchMain.Options.parse(IpcSuite.SUITE, List.of("--load", Integer.toString(load))),
                    Path.of("ipc.json"), new PrintStream(bytes, true, StandardCharsets.UTF_8));
            String r = bytes.toString(StandardCharsets.UTF_8);
            String want = switch (load) {
                case 0 -> "load: none (an idle run";
                case 1 -> "load: 1 busy process (--load 1) ran throughout the run";
                default -> "load: 3 busy processes (--load 3) ran throughout the run";
            };
            assertTrue(r.lines().anyMatch(l -> l.startsWith(want)), r);
        }
    }

    @Test
    void theJsonRecordsTheLoadAsAJmhParam(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        org.openjdk.jmh.infra.IterationParams it = new org.openjdk.jmh.infra.IterationParams(
                org.openjdk.jmh.runner.IterationType.MEASUREMENT, 1, org.openjdk.jmh.runner.options.TimeValue.NONE, 1);
        org.openjdk.jmh.infra.BenchmarkParams bp = new org.openjdk.jmh.infra.BenchmarkParams("ipc.activeCall",
                "ipc.activeCall", false, 1, new int[] {1}, List.of(), 1, 0, it, it,
                org.openjdk.jmh.annotations.Mode.AverageTime, new org.openjdk.jmh.runner.WorkloadParams(),
                java.util.concurrent.TimeUnit.NANOSECONDS, 1, "java", List.of(), "25", "vm", "25", "1.37",
                org.openjdk.jmh.runner.options.TimeValue.NONE);
        org.openjdk.jmh.results.IterationResult ir = new org.openjdk.jmh.results.IterationResult(bp, it,
                new org.openjdk.jmh.results.IterationResultMetaData(10, 10));
        ir.addResult(new org.openjdk.jmh.results.AverageTimeResult(org.openjdk.jmh.results.ResultRole.PRIMARY,
                "activeCall", 10, 3000, java.util.concurrent.TimeUnit.NANOSECONDS));
        org.openjdk.jmh.results.RunResult rr = new org.openjdk.jmh.results.RunResult(bp,
                List.of(new org.openjdk.jmh.results.BenchmarkResult(bp, List.of(ir))));

        List<org.openjdk.jmh.results.RunResult> loaded = BenchMain.withLoad(List.of(rr), 2);
        assertEquals("2", loaded.get(0).getParams().getParam(BenchMain.LOAD_PARAM));
        assertEquals(300, loaded.get(0).getPrimaryResult().getScore(), 1e-9);
        Path json = dir.resolve("ipc.json");
        org.openjdk.jmh.results.format.ResultFormatFactory.getInstance(
                org.openjdk.jmh.results.format.ResultFormatType.JSON, json.toString()).writeOut(loaded);
        String text = java.nio.file.Files.readString(json);
        assertTrue(text.replaceAll("\\s+", "").contains("\"params\":{\"load\":\"2\"}"), text);
        assertEquals("0", BenchMain.withLoad(loaded, 0).get(0).getParams().getParam(BenchMain.LOAD_PARAM));
    }

    @Test
    void loadProcessesRunUntilClosed() throws Exception {
        List<ProcessHandle> handles;
        try (LoadProcesses load = LoadProcesses.start(2)) {
            assertEquals(2, load.pids().size());
            handles = load.pids().stream().map(pid -> ProcessHandle.of(pid).orElseThrow()).toList();
            assertTrue(load.allAlive());
            for (ProcessHandle h : handles) {
                assertTrue(h.info().command().orElse("").endsWith("java"), h.info().toString());
            }
        }
        for (ProcessHandle h : handles) {
            assertFalse(h.isAlive(), "busy process " + h.pid() + " outlived close()");
        }
        try (LoadProcesses none = LoadProcesses.start(0)) {
            assertEquals(List.of(), none.pids());
        }
    }

    @Test
    void aBusyProcessEndsWhenItsParentGoesAway() throws Exception {
        // The parent's end of the pipe closes however the parent dies; the child must then end
        // on its own, without anyone killing it.
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), BusyLoop.class.getName()).start();
        try {
            assertEquals(BusyLoop.READY, new java.io.BufferedReader(new java.io.InputStreamReader(
                    p.getInputStream(), StandardCharsets.UTF_8)).readLine());
            p.getOutputStream().close();
            assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "still running after end of input");
            assertEquals(0, p.exitValue());
        } finally {
            p.destroyForcibly();
        }
    }
}
