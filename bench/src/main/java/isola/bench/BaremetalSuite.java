package isola.bench;

import static isola.bench.Suite.BUSY;
import static java.util.concurrent.TimeUnit.MILLISECONDS;

import isola.bench.Suite.Ratio;
import isola.bench.Suite.Target;
import java.util.List;
import java.util.Set;

/**
 * The {@code baremetal} suite: the kernel on x86-64 under QEMU, which runs its benchmarks itself
 * ({@link NativeHarness} boots it once a fork and reads its results).
 */
final class BaremetalSuite {
    private BaremetalSuite() {}

    static final String BOOT_TO_SUMMARY = NativeHarness.BOOT_TO_SUMMARY;
    private static final String TSC_READ = "tscRead";
    private static final String TIMER_INTERRUPT = "timerInterrupt";
    private static final String CONTEXT_SWITCH = "contextSwitch";
    private static final String LOCK_UNCONTENDED = "lockUncontended";
    private static final String LOCK_HANDOFF = "lockHandoff";
    private static final String PAGE_FAULT = "pageFault";
    static final List<String> BENCHMARKS = List.of(BOOT_TO_SUMMARY, TSC_READ, TIMER_INTERRUPT, CONTEXT_SWITCH,
            LOCK_UNCONTENDED, LOCK_HANDOFF, PAGE_FAULT);
    /** Target: QEMU start to the kernel's summary line, wall time under TCG. */
    private static final double QEMU_BOOT_TARGET_MS = 1000;

    static final Suite SUITE = new Suite("baremetal",
            "the kernel on x86-64 in QEMU (TCG): QEMU start to the summary line (wall), and in TSC cycles on "
                    + "bare metal: a timer interrupt's entry to exit, a thread switch, uncontended and contended lock "
                    + "hand-off, a demand page fault's round trip",
            null, BENCHMARKS, BENCHMARKS, true, 3, 3, 10,
            "== isola bench baremetal: wall ms per boot, or TSC cycles per operation under QEMU TCG (emulated cycles: "
                    + "compare within this run only); median, min and max over all iterations of all boots ==",
            null,
            List.of(new Ratio("contended lock hand-off / thread switch", LOCK_HANDOFF, CONTEXT_SWITCH, "x"),
                    new Ratio("page fault / thread switch", PAGE_FAULT, CONTEXT_SWITCH, "x"),
                    new Ratio("uncontended lock / TSC read", LOCK_UNCONTENDED, TSC_READ, "x")),
            List.of(Target.below("QEMU start to summary line", BOOT_TO_SUMMARY, MILLISECONDS, QEMU_BOOT_TARGET_MS)),
            Set.of(),
            BUSY);
}
