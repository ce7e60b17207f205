package isola.nativeimage;

import isola.kernel.Status;
import isola.kernel.Tcb;
import isola.testservers.selftest.CrashServer;
import isola.testservers.selftest.EchoServer;
import isola.tier.nativeimage.NativeTier;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The isolate benchmarks' harness, inside the native executable (JMH cannot run in an image).
 * Each benchmark runs warm-up iterations, then measurement iterations, each timed as a whole
 * with {@link System#nanoTime}. It prints one line per measurement iteration,
 * {@code RESULT benchmark iteration operations nanoseconds unit}: one fork's raw data,
 * which {@code ./isola bench isolates} (isola.bench.BenchMain) gathers over forks into the
 * table and JMH's JSON result format.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure isolate-boundary costs; prints RESULT lines (./isola bench isolates runs this).")
final class IsolateBench implements Callable<Integer> {
    /** Benchmarks, in the order they run. */
    static final String IN_ISOLATE = "callInIsolate", ACROSS = "callAcrossIsolates", EMPTY = "emptyCrossing",
            CRASH = "crashToServing", CREATE = "isolateCreate", TEARDOWN = "isolateTeardown",
            BOOTED_NAMES = "bootedCrashNamesToServing", BOOTED_LOG = "bootedCrashLogToServing";

    @Option(names = "--warmup", defaultValue = "5", description = "warm-up iterations (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--iterations", defaultValue = "10", description = "measurement iterations (default: ${DEFAULT-VALUE})")
    int iterations;

    @Option(names = "--calls", defaultValue = "2000000", description = "calls per iteration (default: ${DEFAULT-VALUE})")
    int calls;

    @Option(names = "--isolates", defaultValue = "10", description = "isolates created per iteration (default: ${DEFAULT-VALUE})")
    int isolates;

    @Option(names = "--image", paramLabel = "FILE", defaultValue = "bootstrap/target/isola.img",
            description = "the image the booted-system benchmarks boot (default: ${DEFAULT-VALUE})")
    java.nio.file.Path image;

    @Option(names = "--include", defaultValue = ".*", description = "regular expression over benchmark names")
    String include;

    private final PrintStream out = System.out;

    @Override
    public Integer call() throws Exception {
        try (NativeRig rig = new NativeRig()) {
            int localSlot = rig.serveInKernel("local-echo");
            // The same server in its own isolate, and one to crash.
            NativeRig.Served echo = rig.serve("echo", EchoServer.class.getName(), EchoServer.SERVICE);
            NativeRig.Served crash = rig.serve("crash", CrashServer.class.getName(), CrashServer.SERVICE);

            rig.onClientThread("bench", t -> {
                if (wanted(IN_ISOLATE)) {
                    measure(IN_ISOLATE, "ns/op", calls, () -> rig.calls(t, localSlot, calls));
                }
                if (wanted(ACROSS)) {
                    measure(ACROSS, "ns/op", calls, () -> rig.calls(t, echo.clientSlot, calls));
                }
                if (wanted(EMPTY)) {
                    measure(EMPTY, "ns/op", calls, () -> echo.server.crossEmpty(t, calls));
                }
                if (wanted(CRASH)) {
                    crashToServing(rig, t, crash);
                }
            });
            if (wanted(CREATE) || wanted(TEARDOWN)) {
                createAndTearDown();
            }
        }
        if (wanted(BOOTED_NAMES) || wanted(BOOTED_LOG)) {
            bootedCrashes();
        }
        return 0;
    }

    /**
     * Crash to serving again through the whole system: the default image booted in this
     * executable, every server in its own isolate, and a fault injected into names (an active
     * server) or log (a passive one). The supervisor gets the fault, kills the domain, starts the
     * next incarnation in the isolate it prepared ahead and tears the old one down; the time runs
     * from the fault to the first call the new incarnation answers completely (names lists every
     * boot service, log takes a write).
     */
    private void bootedCrashes() throws Exception {
        try (isola.boot.CrashSystem system = new isola.boot.CrashSystem(image, NativeTier::new)) {
            for (String server : java.util.List.of("names", "log")) {
                String benchmark = server.equals("names") ? BOOTED_NAMES : BOOTED_LOG;
                if (!wanted(benchmark)) {
                    continue;
                }
                for (int i = 0; i < warmup + iterations; i++) {
                    long t0 = System.nanoTime();
                    system.crashAndAwaitServing(server);
                    long ns = System.nanoTime() - t0;
                    if (i >= warmup) {
                        result(benchmark, i - warmup, 1, ns, "ms/op");
                    }
                    Thread.sleep(isola.boot.CrashSystem.SETTLE_MS);
                }
            }
        }
    }

    /**
     * A crash of a passive server in its isolate, then its restart as the supervisor does it:
     * the next incarnation's isolate was created ahead (as the supervisor keeps one on standby),
     * the crashed domain is killed, the next one starts on the same endpoint, and the time runs
     * from the crashing call to the first call that is answered again. The old isolate is torn
     * down afterwards, off that path (the restarted server already serves).
     */
    private void crashToServing(NativeRig rig, Tcb t, NativeRig.Served crash) throws Exception {
        for (int i = 0; i < warmup + iterations; i++) {
            NativeTier.Standby standby = rig.tier.prepare(crash.name);
            long t0 = System.nanoTime();
            int st = rig.call(t, crash.clientSlot, CrashServer.THROW, 0);
            if (st != Status.E_SERVER_FAULT) {
                throw new IllegalStateException("crash call returned " + Status.name(st) + ", not E_SERVER_FAULT");
            }
            NativeTier.NativeServer old = crash.restart(standby);
            st = rig.call(t, crash.clientSlot, CrashServer.ECHO, 1);
            long ns = System.nanoTime() - t0;
            if (st != Status.OK || NativeRig.mr0(t) != 2) {
                throw new IllegalStateException("call after the restart: " + Status.name(st));
            }
            if (!old.tearDown(1_000_000_000L)) {
                throw new IllegalStateException("the crashed isolate was not torn down: a thread stayed inside it for 1 s");
            }
            if (i >= warmup) {
                result(CRASH, i - warmup, 1, ns, "ms/op");
            }
        }
    }

    /** One measurement iteration's line: what NativeHarness parses (see the class comment). */
    private void result(String benchmark, int iteration, int ops, long ns, String unit) {
        out.printf("RESULT %s %d %d %d %s%n", benchmark, iteration, ops, ns, unit);
    }

    private boolean wanted(String benchmark) {
        return benchmark.matches(include);
    }

    private interface Body {
        void run() throws Exception;
    }

    /** Runs warm-up and measurement iterations of {@code ops} operations each; prints the measurements. */
    private void measure(String benchmark, String unit, int ops, Body body) throws Exception {
        for (int i = 0; i < warmup; i++) {
            body.run();
        }
        for (int i = 0; i < iterations; i++) {
            long t0 = System.nanoTime();
            body.run();
            long ns = System.nanoTime() - t0;
            result(benchmark, i, ops, ns, unit);
        }
    }

    /** Isolate creation and teardown, timed separately; each iteration averages {@code isolates} of them. */
    private void createAndTearDown() {
        for (int i = 0; i < warmup + iterations; i++) {
            long create = 0, teardown = 0;
            for (int j = 0; j < isolates; j++) {
                long[] ns = NativeTier.createAndTearDown("bench-" + j);
                create += ns[0];
                teardown += ns[1];
            }
            if (i >= warmup) {
                int it = i - warmup;
                if (wanted(CREATE)) {
                    result(CREATE, it, isolates, create, "ms/op");
                }
                if (wanted(TEARDOWN)) {
                    result(TEARDOWN, it, isolates, teardown, "ms/op");
                }
            }
        }
    }
}
