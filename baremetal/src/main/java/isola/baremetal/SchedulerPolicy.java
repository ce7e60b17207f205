package isola.baremetal;

import com.oracle.svm.core.Uninterruptible;
import com.oracle.svm.core.c.function.CEntryPointOptions;
import org.graalvm.nativeimage.c.function.CEntryPoint;

/**
 * The scheduler's time-slice policy, in Java, called by the runtime's timer interrupt
 * (threads.c) and thread switch. It runs where ordinary Java cannot: in an interrupt that may
 * have stopped any code, the collector included. So it is uninterruptible (no safepoint, no
 * allocation, no stack-overflow check: it runs on the interrupt stack), it is entered with no
 * prologue (the thread is already in Java's state, or in the runtime's), and its state is
 * static primitives, which live in the image heap and never move.
 */
final class SchedulerPolicy {
    /** A thread runs this many timer ticks (ms at 1 kHz) before another ready thread gets the CPU. */
    static final int SLICE_TICKS = 5;

    private static long ticks;
    private static long sliceStart;

    private SchedulerPolicy() {}

    /** A tick: returns 1 if the running thread's slice is over and {@code othersReady} says someone waits. */
    @Uninterruptible(reason = "runs in the timer interrupt, which may have stopped the collector")
    @CEntryPoint(name = "isola_policy_tick", publishAs = CEntryPoint.Publish.SymbolOnly)
    @CEntryPointOptions(prologue = CEntryPointOptions.NoPrologue.class, epilogue = CEntryPointOptions.NoEpilogue.class)
    static int tick(int othersReady) {
        ticks++;
        return othersReady != 0 && ticks - sliceStart >= SLICE_TICKS ? 1 : 0;
    }

    /** A thread was given the CPU: its slice starts now. */
    @Uninterruptible(reason = "runs in the scheduler with interrupts off, possibly inside a collection")
    @CEntryPoint(name = "isola_policy_switched", publishAs = CEntryPoint.Publish.SymbolOnly)
    @CEntryPointOptions(prologue = CEntryPointOptions.NoPrologue.class, epilogue = CEntryPointOptions.NoEpilogue.class)
    static void switched() {
        sliceStart = ticks;
    }

    /** Ticks the policy has seen (for the self-test: it must match the runtime's count). */
    static long ticks() {
        return ticks;
    }
}
