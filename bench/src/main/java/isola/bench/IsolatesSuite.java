package isola.bench;

import static isola.bench.Suite.BUSY;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.NANOSECONDS;

import isola.bench.Suite.Ratio;
import isola.bench.Suite.Target;
import java.util.List;
import java.util.Set;

/**
 * The {@code isolates} suite: GraalVM isolate boundaries, measured inside the native executable
 * (its benchmarks are the native module's, run by {@link NativeHarness}, one fork a run of it).
 */
final class IsolatesSuite {
    private IsolatesSuite() {}

    private static final String IN_ISOLATE = "callInIsolate";
    private static final String ACROSS = "callAcrossIsolates";
    private static final String EMPTY_CROSSING = "emptyCrossing";
    private static final String CRASH_NATIVE = "crashToServing";
    private static final String ISOLATE_CREATE = "isolateCreate";
    private static final String ISOLATE_TEARDOWN = "isolateTeardown";
    private static final String BOOTED_NAMES = "bootedCrashNamesToServing";
    private static final String BOOTED_LOG = "bootedCrashLogToServing";
    static final List<String> BENCHMARKS = List.of(IN_ISOLATE, ACROSS, EMPTY_CROSSING, CRASH_NATIVE,
            ISOLATE_CREATE, ISOLATE_TEARDOWN, BOOTED_NAMES, BOOTED_LOG);
    /** Target: a passive call into another isolate, capability check included, in ns. */
    private static final double ACROSS_TARGET_NS = 40;
    /** Target: a crashed native-tier server serves again within this many ms. */
    private static final double NATIVE_CRASH_TARGET_MS = 15;

    static final Suite SUITE = new Suite("isolates",
            "GraalVM isolate boundaries in the native executable: a passive call into a server's own "
                    + "isolate vs one inside the kernel's; an empty crossing; crash to serving again (one server, "
                    + "and names or log in the booted system, through the supervisor); isolate creation and teardown",
            null, BENCHMARKS, BENCHMARKS, true, 2, 5, 10,
            "== isola bench isolates: one call (ns) or one isolate (ms) per operation, measured inside the "
                    + "native executable; median, min and max over all measurement iterations of all forks ==",
            null,
            List.of(new Ratio("call across isolates / call inside one", ACROSS, IN_ISOLATE, "x"),
                    new Ratio("call across isolates / empty crossing", ACROSS, EMPTY_CROSSING, "x")),
            List.of(Target.below("passive call across isolates", ACROSS, NANOSECONDS, ACROSS_TARGET_NS),
                    Target.below("native crash to serving", CRASH_NATIVE, MILLISECONDS, NATIVE_CRASH_TARGET_MS),
                    Target.below("booted: names crash to serving", BOOTED_NAMES, MILLISECONDS, NATIVE_CRASH_TARGET_MS),
                    Target.below("booted: log crash to serving", BOOTED_LOG, MILLISECONDS, NATIVE_CRASH_TARGET_MS)),
            Set.of(),
            BUSY);
}
