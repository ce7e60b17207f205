package isola.kernel.machine;

import isola.kernel.KernelConfig;
import isola.kernel.KernelException;
import isola.kernel.Status;
import isola.kernel.Tcb;
import isola.kernel.Utcb;
import isola.kernel.WaitHistory;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.LockSupport;

/**
 * Every runnable kernel thread runs on its JVM thread at once; the host OS multiplexes them
 * onto cores. Hand-offs spin briefly on the waiter's wake word (a cross-core hand-off costs
 * ~100 ns here) before parking (~10 µs), for as long as spinning has been paying off for that
 * waiter (see {@link #await}). Timeouts come from a timer device: a JVM thread that
 * sleeps until the kernel's earliest deadline and then enters the kernel with a tick.
 */
public final class ConcurrentMachine extends HostedMachine {
    /** How long a waiter spins before it parks. */
    private final long spinNanos;
    private final Thread timer;
    private volatile long deadline = Long.MAX_VALUE;
    private volatile boolean closed;

    ConcurrentMachine(KernelConfig config) {
        this(config, 50_000);
    }

    ConcurrentMachine(KernelConfig config, long spinNanos) {
        super(config);
        this.spinNanos = spinNanos;
        timer = startTimer();
    }

    ConcurrentMachine(KernelConfig config, isola.kernel.mem.PhysicalMemory ram, long spinNanos) {
        super(config, ram);
        this.spinNanos = spinNanos;
        timer = startTimer();
    }

    private Thread startTimer() {
        Thread timer = Thread.ofPlatform().name("isola-timer").daemon(true).unstarted(this::timerLoop);
        timer.start();
        return timer;
    }

    @Override
    public long now() {
        return System.nanoTime();
    }

    @Override
    public boolean uniprocessor() {
        return false;
    }

    @Override
    public void leave(Tcb self) {
        // Decided under the lock: an exiting thread's Tcb is back in the kernel's pool by now, and
        // once the lock is released a new thread may be given it and wait on its wake word; the
        // exiting thread must then not wait there (it was not its wait) nor clear its flags.
        boolean own = self != null && lock.getHoldCount() == 1 && self.state() != Tcb.DEAD;
        lock.unlock();
        if (own) {
            if (!self.isAwake()) {
                await(self, false); // woken by the kernel under its lock, not by a hand-off partner
            }
            if (self.yieldedAndClear()) {
                Thread.yield();
            }
        }
    }

    /**
     * Spin-then-park, adapted per waiter to what its spins have earned. On an otherwise idle
     * multiprocessor a hand-off is a store the partner sees within a microsecond, and parking
     * (a futex wait and wake, 10-20 µs here) is what to avoid. On an oversubscribed host (more
     * runnable threads than CPUs: another process busy, or a vCPU the hypervisor took away) a
     * spinning waiter holds the very CPU its partner needs to answer, and each spin runs out its
     * whole budget before the partner can run: a round trip then costs two budgets (hundreds of
     * µs), many times a blocking hand-off. So a spin is judged by its outcome, with counters in
     * the thread's {@link WaitHistory} and no extra clock reads or shared writes:
     * <ul>
     *   <li>it paid off if the wake came while spinning and the spinner kept its CPU throughout
     *       (no gap of {@link #PREEMPTED_NANOS} between two looks at the clock);
     *   <li>it did not if the thread parked anyway, or lost its CPU while spinning (it then
     *       parks at once: someone else needs that CPU, quite possibly the partner);
     *   <li>{@link #MISS_LIMIT} unprofitable spins in a row switch the thread to parking for
     *       the next {@link WaitHistory#backoff} waits (8, doubling up to 256 while spins keep
     *       failing); the wait after them spins again as a probe, and one that pays off ends
     *       the backoff, so an idle machine is back to spinning within a few hundred waits;
     *   <li>a parking wait still looks at its wake word {@link #PARKING_LOOKS} times first,
     *       unless the partner it just woke was parked (it cannot answer that soon);
     *   <li>a spin that parked and was woken soon after (within twice its budget) may be a
     *       partner that answers in a little more than the budget (a server copying a megabyte),
     *       so the budget doubles, up to {@link #MAX_SPIN_NANOS}, but only after a spin that
     *       paid off and only once: if the longer spin fails too it is undone, since a partner
     *       starved by the spinner also answers soon after the spinner parks, however long it
     *       spun. A long sleep halves the budget (down to the machine's base).
     * </ul>
     */
    @Override
    public void await(Tcb self, boolean partnerParked) {
        if (self.runner != Thread.currentThread()) {
            // Its wake-up would unpark another JVM thread: fail now rather than hang.
            throw new KernelException(Status.E_ILLEGAL_OPERATION, "kernel thread " + self.name()
                    + " is run by " + self.runner + ", not by " + Thread.currentThread()
                    + " (attach the thread that makes its system calls)");
        }
        MemorySegment u = self.utcb();
        WaitHistory h = self.waits;
        long budget = nextBudget(h, spinNanos);
        if (budget == 0) {
            awaitParking(u, partnerParked || spinNanos == 0 ? 0 : PARKING_LOOKS);
            return;
        }
        long start = 0;
        long last = 0;
        boolean preempted = false;
        int spins = 0;
        for (;;) {
            long w = Utcb.wakeWord(u);
            if (Utcb.isWoken(w)) {
                paid(h, preempted);
                return;
            }
            // The clock only every 64 looks: a hand-off on an idle machine completes before the
            // first reading, so the fast case costs no clock at all.
            if ((++spins & 63) == 0) {
                long now = System.nanoTime();
                if (start == 0) {
                    start = now;
                } else {
                    preempted |= now - last > PREEMPTED_NANOS;
                    if (preempted || now - start > budget) {
                        if (Utcb.markParked(u, w)) {
                            break;
                        }
                        if (Utcb.isClaimed(w)) {
                            Thread.yield(); // the waker is mid-hand-off; it may have been preempted
                        }
                    }
                }
                last = now;
            }
            Thread.onSpinWait();
        }
        long parked = System.nanoTime();
        park(u);
        missed(h, spinNanos, System.nanoTime() - parked, preempted);
    }

    /** A wait of the parking regime: {@code looks} looks at the wake word, then park. */
    private void awaitParking(MemorySegment u, int looks) {
        for (int i = 0; ; i++) {
            long w = Utcb.wakeWord(u);
            if (Utcb.isWoken(w)) {
                return;
            }
            if (i >= looks) {
                if (Utcb.markParked(u, w)) {
                    break;
                }
                // Claimed: the waker completes the hand-off within its kernel operation, and
                // the owner must not park on a claimed wait; give the waker the CPU now and then.
                if (Utcb.isClaimed(w) && (i & 63) == 0) {
                    Thread.yield();
                }
            }
            Thread.onSpinWait();
        }
        park(u);
    }

    /** Parks until the wake word says WOKEN (the waker saw PARKED and unparks this thread). */
    private void park(MemorySegment u) {
        while (!Utcb.isWoken(Utcb.wakeWord(u))) {
            LockSupport.park(this);
        }
        Utcb.clearParked(u);
    }

    /** The most an adaptive spin grows to: a few hand-offs' worth of a blocking wake-up. */
    static final long MAX_SPIN_NANOS = 400_000;
    /**
     * A gap this long between two readings of the clock while spinning (normally a few µs
     * apart) means the spinner was descheduled: the host has more runnable threads than CPUs.
     */
    static final long PREEMPTED_NANOS = 20_000;
    /** Unprofitable spins in a row after which a waiter parks without spinning for a while. */
    static final int MISS_LIMIT = 2;
    /** The shortest and longest run of parking waits before the next spin is tried. */
    static final int BACKOFF_MIN = 8;
    static final int BACKOFF_MAX = 256;
    /**
     * How often a parking wait looks at its wake word before it parks: a partner that is
     * running answers within about a cross-core hand-off, and this costs about one; a futex
     * wake-up costs ten times more.
     */
    static final int PARKING_LOOKS = 64;

    /**
     * How long this wait spins, in ns; 0: it parks (after at most {@link #PARKING_LOOKS}
     * looks). {@code base}: the machine's budget, and its floor; 0 never spins.
     */
    static long nextBudget(WaitHistory h, long base) {
        if (base == 0) {
            return 0;
        }
        if (h.skip > 0) {
            h.skip--;
            return 0;
        }
        if (h.budget == 0) {
            h.budget = base;
        }
        return h.budget;
    }

    /** The wake came while spinning; {@code preempted}: the spinner lost its CPU meanwhile. */
    static void paid(WaitHistory h, boolean preempted) {
        if (preempted) {
            unprofitable(h); // it was woken because the partner ran in its place
            return;
        }
        h.misses = 0;
        h.backoff = 0;
        h.grew = false;
    }

    /** The spin ran out (or lost its CPU) and the thread slept {@code slept} ns before its wake. */
    static void missed(WaitHistory h, long base, long slept, boolean preempted) {
        long b = h.budget;
        if (h.grew) {
            h.budget = Math.max(base, b / 2); // the longer spin did not pay either: undo it
            h.grew = false;
        } else if (h.misses == 0 && !preempted && slept < 2 * b) {
            h.budget = Math.min(MAX_SPIN_NANOS, b * 2);
            h.grew = h.budget != b;
        } else if (slept >= 2 * b) {
            h.budget = Math.max(base, b / 2); // the partner was idle: spinning only burnt a CPU
        }
        unprofitable(h);
    }

    private static void unprofitable(WaitHistory h) {
        if (++h.misses >= MISS_LIMIT) {
            h.backoff = h.backoff == 0 ? BACKOFF_MIN : Math.min(BACKOFF_MAX, h.backoff * 2);
            h.skip = h.backoff;
        }
    }

    @Override
    public void unpark(Tcb t) {
        Object r = t.runner;
        if (r instanceof Thread jt) {
            LockSupport.unpark(jt);
        }
    }

    @Override
    public void timerChanged(long deadline) {
        long old = this.deadline;
        this.deadline = deadline;
        if (deadline < old) {
            LockSupport.unpark(timer);
        }
    }

    private void timerLoop() {
        while (!closed) {
            long d = deadline;
            long now = System.nanoTime();
            if (d == Long.MAX_VALUE) {
                LockSupport.park(this);
            } else if (now >= d) {
                deadline = Long.MAX_VALUE;
                kernel.raiseIrq(0); // the timer device: IRQ 0
            } else {
                LockSupport.parkNanos(this, d - now);
            }
        }
    }

    @Override
    public boolean closed() {
        return closed;
    }

    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(timer);
    }
}
