package isola.baremetal;

import com.oracle.svm.core.Uninterruptible;
import com.oracle.svm.core.c.function.CEntryPointOptions;
import com.oracle.svm.core.c.function.CEntryPointOptions.NoEpilogue;
import com.oracle.svm.core.c.function.CEntryPointOptions.NoPrologue;
import org.graalvm.nativeimage.c.function.CEntryPoint;

/**
 * The scheduler's policy, in Java: the run queue (round robin), the sleepers and their
 * deadlines, and the time slice. The runtime (threads.c) keeps the mechanism: each thread's
 * saved context, the switch, and the wait queues of mutexes and condition variables; it asks
 * this class which thread runs next, who wakes, and when a slice is over.
 *
 * <p>It is called where ordinary Java cannot run: from the timer interrupt, which may have
 * stopped any code (the collector included), and from the switch with interrupts off. So every
 * entry is uninterruptible (no safepoint, no allocation, no stack-overflow check: the interrupt
 * stack is not the thread's), has no prologue (the caller is already in Java's state, or in the
 * runtime's, and passes the image heap's base in r14), and the state is static: primitives and
 * arrays made when the image is built ({@code baremetal-image.options} initializes this class at
 * build time), which live in the image heap and never move. Threads are the runtime's ids,
 * 1 to {@link #MAX_THREADS} - 1; the runtime checks them before it calls.
 */
final class SchedulerPolicy {
    static final int MAX_THREADS = 512;
    /** A thread runs this many timer ticks (ms at 1 kHz) before another ready thread gets the CPU. */
    static final int SLICE_TICKS = 5;

    /** The run queue: a FIFO linked through {@code next}; 0 ends it. */
    private static final int[] next = new int[MAX_THREADS];
    private static final boolean[] queued = new boolean[MAX_THREADS];
    /** Each sleeping thread's deadline (the runtime's nanosecond clock); 0: not sleeping. */
    private static final long[] wakeAt = new long[MAX_THREADS];
    private static int head, tail, ready, sleeping, highestSleeper;
    private static long ticks, sliceStart;

    private SchedulerPolicy() {}

    /** {@code id} is ready: to the tail of the run queue (once). Returns 0, or -1 if it already was. */
    @Uninterruptible(reason = "scheduler policy: interrupts off, possibly inside a collection")
    @CEntryPoint(name = "isola_policy_enqueue", publishAs = CEntryPoint.Publish.SymbolOnly)
    @CEntryPointOptions(prologue = NoPrologue.class, epilogue = NoEpilogue.class)
    static int enqueue(int id) {
        if (queued[id]) {
            return -1;
        }
        queued[id] = true;
        next[id] = 0;
        if (tail != 0) {
            next[tail] = id;
        } else {
            head = id;
        }
        tail = id;
        ready++;
        return 0;
    }

    /** The thread to run next, taken off the run queue, or 0 if none is ready. */
    @Uninterruptible(reason = "scheduler policy: interrupts off, possibly inside a collection")
    @CEntryPoint(name = "isola_policy_next", publishAs = CEntryPoint.Publish.SymbolOnly)
    @CEntryPointOptions(prologue = NoPrologue.class, epilogue = NoEpilogue.class)
    static int next() {
        int id = head;
        if (id != 0) {
            head = next[id];
            if (head == 0) {
                tail = 0;
            }
            next[id] = 0;
            queued[id] = false;
            ready--;
        }
        return id;
    }

    @Uninterruptible(reason = "scheduler policy: interrupts off, possibly inside a collection")
    @CEntryPoint(name = "isola_policy_ready", publishAs = CEntryPoint.Publish.SymbolOnly)
    @CEntryPointOptions(prologue = NoPrologue.class, epilogue = NoEpilogue.class)
    static int readyCount() {
        return ready;
    }

    /** {@code id} sleeps until {@code deadline} (or until woken earlier: {@link #unsleep}). */
    @Uninterruptible(reason = "scheduler policy: interrupts off, possibly inside a collection")
    @CEntryPoint(name = "isola_policy_sleep", publishAs = CEntryPoint.Publish.SymbolOnly)
    @CEntryPointOptions(prologue = NoPrologue.class, epilogue = NoEpilogue.class)
    static void sleep(int id, long deadline) {
        if (wakeAt[id] == 0) {
            sleeping++;
        }
        wakeAt[id] = deadline > 0 ? deadline : 1; // (no Math.max: only uninterruptible code may be called)
        if (id > highestSleeper) {
            highestSleeper = id;
        }
    }

    /** {@code id} no longer sleeps (woken before its deadline); returns 1 if it was sleeping. */
    @Uninterruptible(reason = "scheduler policy: interrupts off, possibly inside a collection")
    @CEntryPoint(name = "isola_policy_unsleep", publishAs = CEntryPoint.Publish.SymbolOnly)
    @CEntryPointOptions(prologue = NoPrologue.class, epilogue = NoEpilogue.class)
    static int unsleep(int id) {
        if (wakeAt[id] == 0) {
            return 0;
        }
        wakeAt[id] = 0;
        sleeping--;
        return 1;
    }

    /** A sleeper whose deadline is at or before {@code now}, no longer sleeping; 0 if none. */
    @Uninterruptible(reason = "scheduler policy: called from the timer interrupt")
    @CEntryPoint(name = "isola_policy_expired", publishAs = CEntryPoint.Publish.SymbolOnly)
    @CEntryPointOptions(prologue = NoPrologue.class, epilogue = NoEpilogue.class)
    static int expired(long now) {
        if (sleeping == 0) {
            return 0;
        }
        for (int id = 1; id <= highestSleeper; id++) {
            long w = wakeAt[id];
            if (w != 0 && w <= now) {
                wakeAt[id] = 0;
                sleeping--;
                return id;
            }
        }
        return 0;
    }

    @Uninterruptible(reason = "scheduler policy: interrupts off, possibly inside a collection")
    @CEntryPoint(name = "isola_policy_sleeping", publishAs = CEntryPoint.Publish.SymbolOnly)
    @CEntryPointOptions(prologue = NoPrologue.class, epilogue = NoEpilogue.class)
    static int sleepingCount() {
        return sleeping;
    }

    /** A timer tick: returns 1 if the running thread's slice is over and another thread is ready. */
    @Uninterruptible(reason = "runs in the timer interrupt, which may have stopped the collector")
    @CEntryPoint(name = "isola_policy_tick", publishAs = CEntryPoint.Publish.SymbolOnly)
    @CEntryPointOptions(prologue = NoPrologue.class, epilogue = NoEpilogue.class)
    static int tick(int switchAllowed) {
        ticks++;
        return switchAllowed != 0 && ready > 0 && ticks - sliceStart >= SLICE_TICKS ? 1 : 0;
    }

    /** A thread was given the CPU: its slice starts now. */
    @Uninterruptible(reason = "runs in the scheduler with interrupts off, possibly inside a collection")
    @CEntryPoint(name = "isola_policy_switched", publishAs = CEntryPoint.Publish.SymbolOnly)
    @CEntryPointOptions(prologue = NoPrologue.class, epilogue = NoEpilogue.class)
    static void switched() {
        sliceStart = ticks;
    }

    /** Ticks the policy has seen (for the self-test: it must match the runtime's count). */
    static long ticks() {
        return ticks;
    }
}
