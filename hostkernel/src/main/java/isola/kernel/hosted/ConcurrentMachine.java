package isola.kernel.hosted;

import isola.kernel.KernelConfig;
import isola.kernel.KernelException;
import isola.kernel.Status;
import isola.kernel.Tcb;
import isola.kernel.Utcb;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.LockSupport;

/**
 * Every runnable kernel thread runs on its JVM thread at once; the host OS multiplexes them
 * onto cores. Hand-offs spin briefly on the waiter's wake word (a cross-core hand-off costs
 * ~100 ns here) before parking (~10 µs). Timeouts come from a timer device: a JVM thread that
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
                await(self);
            }
            if (self.yieldedAndClear()) {
                Thread.yield();
            }
        }
    }

    @Override
    public void await(Tcb self) {
        if (self.runner != Thread.currentThread()) {
            // Its wake-up would unpark another JVM thread: fail now rather than hang.
            throw new KernelException(Status.E_ILLEGAL_OPERATION, "kernel thread " + self.name()
                    + " is run by " + self.runner + ", not by " + Thread.currentThread()
                    + " (attach the thread that makes its system calls)");
        }
        MemorySegment u = self.utcb();
        long budget = self.spinNanos == 0 ? spinNanos : self.spinNanos;
        long start = 0;
        int spins = 0;
        for (;;) {
            long w = Utcb.wakeWord(u);
            if (Utcb.isWoken(w)) {
                return;
            }
            if ((++spins & 63) == 0) {
                long now = System.nanoTime();
                if (start == 0) {
                    start = now;
                } else if (now - start > budget) {
                    if (Utcb.markParked(u, w)) {
                        break;
                    }
                    if (Utcb.isClaimed(w)) {
                        Thread.yield(); // the waker is mid-hand-off; it may have been preempted
                    }
                }
            }
            Thread.onSpinWait();
        }
        long parked = System.nanoTime();
        while (!Utcb.isWoken(Utcb.wakeWord(u))) {
            LockSupport.park(this);
        }
        Utcb.clearParked(u);
        // Adaptive spinning, as HotSpot's monitors do: a wake that came soon after this thread
        // gave up means its partner answers in a little more than the budget (a server that
        // copies a megabyte), so spin longer next time; a long sleep means the partner is idle,
        // and spinning would only burn a core.
        long slept = System.nanoTime() - parked;
        self.spinNanos = slept < 2 * budget ? Math.min(MAX_SPIN_NANOS, budget * 2) : Math.max(spinNanos, budget / 2);
    }

    /** The most an adaptive spin grows to: a few hand-offs' worth of a blocking wake-up. */
    static final long MAX_SPIN_NANOS = 400_000;

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
