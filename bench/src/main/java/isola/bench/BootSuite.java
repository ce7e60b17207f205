package isola.bench;

import static isola.bench.Suite.PER_BENCHMARK;
import static java.util.concurrent.TimeUnit.MILLISECONDS;

import isola.bench.Suite.Ratio;
import isola.bench.Suite.Target;
import java.util.List;
import java.util.Set;

/**
 * The {@code boot} suite, beside its benchmarks in {@link BootBench}: {@code ./isola boot} to the
 * shell's prompt against a bare JVM start, and a crashed server to serving again against a
 * plain call to it.
 */
final class BootSuite {
    private BootSuite() {}

    private static final String LAUNCHER = "launcherBoot";
    private static final String JVM_START = "jvmStart";
    private static final String CRASH_NAMES = "crashNamesToServing";
    private static final String NAMES_CALL = "namesListCall";
    private static final String CRASH_LOG = "crashLogToServing";
    private static final String LOG_CALL = "logWriteCall";
    static final List<String> BENCHMARKS = List.of(LAUNCHER, JVM_START, CRASH_NAMES, NAMES_CALL, CRASH_LOG,
            LOG_CALL);

    /** Target: launcher start to the shell's prompt, JVM start included, in ms (on 2 cores). */
    private static final double BOOT_TARGET_MS = 1500;
    /** Target: a crashed `vm`-tier server serves again within this many ms. */
    private static final double CRASH_TARGET_MS = 5;

    static final Suite SUITE = new Suite("boot",
            "start-up and recovery: ./isola boot to the shell prompt vs JVM start; crash of names/log "
                    + "to serving again vs a plain call",
            BootBench.class, BENCHMARKS, BENCHMARKS, true, 1, PER_BENCHMARK, PER_BENCHMARK,
            "== isola bench boot: one launcher start, or one crash and recovery, per iteration; median, "
                    + "min and max over all measurement iterations of all forks ==",
            null,
            List.of(new Ratio("launcher boot / JVM start", LAUNCHER, JVM_START, "x"),
                    new Ratio("names: crash to serving / plain list", CRASH_NAMES, NAMES_CALL, "x"),
                    new Ratio("log: crash to serving / plain write", CRASH_LOG, LOG_CALL, "x")),
            List.of(Target.below("./isola boot to prompt", LAUNCHER, MILLISECONDS, BOOT_TARGET_MS),
                    Target.below("names crash to serving", CRASH_NAMES, MILLISECONDS, CRASH_TARGET_MS),
                    Target.below("log crash to serving", CRASH_LOG, MILLISECONDS, CRASH_TARGET_MS)),
            Set.of(LAUNCHER, JVM_START),
            "WARNING: other processes may have been busy during the run; start-up and restart times "
                    + "are unreliable: see min/max, and rerun on an idle machine");
}
