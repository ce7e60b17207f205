package isola.kernel.machine;

import isola.kernel.Kernel;
import isola.kernel.KernelConfig;
import isola.kernel.KernelException;
import isola.kernel.KilledError;
import isola.kernel.Status;
import isola.kernel.Tcb;
import isola.kernel.Utcb;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.locks.LockSupport;

/**
 * A seeded simulation of a multiprocessor: {@link #uniprocessor()} is false, so the kernel runs
 * its lock-free fast paths, but only one kernel thread runs at a time and a seeded PRNG decides,
 * at every switch point, which runnable thread runs next. The switch points are the places a
 * real CPU could interleave with another: a thread's kernel entry (before the lock), its exit
 * (after the lock), its wait on its wake word, an unpark, a look at the clock outside the lock,
 * and {@link #preempt()} inside the arm/queue handshake. A thread holding the kernel lock may be
 * switched out too (at a look at the clock, an unpark or a preempt), as a CPU running the slow
 * path is while another runs a fast path; a thread that then wants the lock is not runnable
 * until it is free, so the lock never blocks a JVM thread. Time is virtual: an entry costs
 * {@link Kernel#ENTRY_COST_NS}, a look at the clock {@link #CLOCK_LOOK_NS} (so a fast call's
 * bounded spin ends), and when nothing can run the clock jumps to the earliest timeout.
 *
 * <p>The same seed and the same system give the same interleaving, hence the same kernel trace
 * and the same {@link #schedule()}. Build the system first; spawned threads wait for {@link #run}.
 */
public final class SimulatedMachine extends HostedMachine {
    /** What one look at the clock outside the kernel costs in virtual time. */
    public static final long CLOCK_LOOK_NS = 100;
    /** Most switches {@link #schedule()} keeps; the count goes on. */
    private static final int SCHEDULE_LIMIT = 200_000;
    /** Real time after which {@link #run} gives up on a simulation that stopped handing on. */
    private static final long HANG_NANOS = 60_000_000_000L;

    private final SplittableRandom rng;
    /** Every spawn, in spawn order (guarded by itself: spawned JVM threads bind to it). */
    private final List<SimThread> threads = new ArrayList<>();
    private final List<String> schedule = new ArrayList<>();
    /** The thread that has the processor; null before {@link #run} and once nothing can run. */
    private volatile SimThread holder;
    /**
     * The simulated thread inside the kernel, if any. Tracked here rather than asked of the
     * lock: a finished thread's JVM thread takes the lock briefly outside the simulation.
     */
    private SimThread lockOwner;
    private long now;
    private long deadline = Long.MAX_VALUE;
    private long switches;
    private boolean firingTimer;
    private volatile boolean idle;
    private volatile boolean shutdown;
    private volatile Thread driver;

    SimulatedMachine(KernelConfig config, long seed) {
        super(config);
        rng = new SplittableRandom(seed);
    }

    @Override
    public boolean uniprocessor() {
        return false;
    }

    @Override
    public long now() {
        SimThread me = baton();
        if (me != null) {
            now += CLOCK_LOOK_NS;
            switchPoint(me, "clock");
        }
        return now;
    }

    @Override
    public void enter(Tcb self) {
        SimThread me = baton();
        if (me != null) {
            if (self != null && !lock.isHeldByCurrentThread()) {
                switchPoint(me, "enter");
            }
        }
        acquire(me);
        if (self != null && lock.getHoldCount() == 1) {
            now += Kernel.ENTRY_COST_NS;
        }
    }

    @Override
    public void leave(Tcb self) {
        // Decided under the lock: once it is released an exited thread's Tcb may be another's.
        boolean outermost = self != null && lock.getHoldCount() == 1;
        boolean exited = outermost && self.state() == Tcb.DEAD;
        release();
        if (!outermost) {
            return;
        }
        SimThread me = baton();
        if (exited) {
            if (me != null) {
                me.done = true;
                reschedule(me, "exit");
            }
            return;
        }
        if (!self.isAwake()) {
            await(self, false); // the kernel blocked it; its waker completes the wait
        }
        self.yieldedAndClear(); // every switch point is already a yield here
        if (me != null) {
            switchPoint(me, "leave");
        }
    }

    /**
     * Waits for the wake word: the thread stops being runnable until it says WOKEN. It marks
     * itself PARKED half of the time (by the seed), so wakers take both of their branches.
     */
    @Override
    public void await(Tcb self, boolean partnerParked) {
        SimThread me = baton();
        if (me == null || me.tcb != self) {
            if (shutdown) {
                throw KilledError.INSTANCE;
            }
            throw new KernelException(Status.E_ILLEGAL_OPERATION,
                    "await " + self.name() + ": not the simulated thread that has the processor");
        }
        MemorySegment u = self.utcb();
        long w = Utcb.wakeWord(u);
        boolean parked = !Utcb.isWoken(w) && rng.nextBoolean() && Utcb.markParked(u, w);
        me.waiting = true;
        reschedule(me, "await");
        me.waiting = false;
        if (shutdown) {
            throw KilledError.INSTANCE; // closed while it waited: it will never be woken
        }
        if (parked) {
            Utcb.clearParked(u);
        }
    }

    @Override
    public void unpark(Tcb t) {
        SimThread me = baton();
        if (me != null) {
            switchPoint(me, "unpark");
        }
    }

    @Override
    public void preempt() {
        SimThread me = baton();
        if (me != null) {
            switchPoint(me, "preempt");
        }
    }

    @Override
    public void timerChanged(long deadline) {
        this.deadline = deadline;
    }

    @Override
    public void attach(Tcb t) {
        throw new KernelException(Status.E_ILLEGAL_OPERATION,
                "attach " + t.name() + ": a simulated machine runs only spawned threads");
    }

    // A spawn takes the kernel lock itself (the runners set): taken here first, the simulated way.
    @Override
    public Thread spawn(Tcb t, Runnable body) {
        lockForSpawn(t);
        try {
            return super.spawn(t, body);
        } finally {
            release();
        }
    }

    @Override
    public Thread spawn(Tcb t, Runnable body, Spare spare) {
        if (spare == null) {
            return spawn(t, body);
        }
        lockForSpawn(t);
        try {
            return super.spawn(t, body, spare);
        } finally {
            release();
        }
    }

    private void lockForSpawn(Tcb t) {
        acquire(baton());
        synchronized (threads) {
            threads.add(new SimThread(t, threads.size()));
        }
    }

    /**
     * Takes the kernel lock; a simulated thread ({@code me} not null) first gives up the
     * processor until no other simulated thread is inside the kernel.
     */
    private void acquire(SimThread me) {
        if (me != null) {
            while (lockOwner != null && lockOwner != me) {
                me.waitingForLock = true;
                reschedule(me, "lock");
                me.waitingForLock = false;
            }
        }
        lock.lock();
        if (me != null && lock.getHoldCount() == 1) {
            lockOwner = me;
        }
    }

    private void release() {
        if (lock.getHoldCount() == 1) {
            lockOwner = null;
        }
        lock.unlock();
    }

    /** A spawned JVM thread binds to its spawn's record, then waits to be given the processor. */
    @Override
    protected void awaitTurn(Tcb t) {
        SimThread me = null;
        synchronized (threads) {
            for (SimThread s : threads) {
                if (s.tcb == t && s.jvm == null && !s.done) {
                    me = s;
                    break;
                }
            }
        }
        if (me == null) {
            throw new IllegalStateException("spawn of " + t.name() + " was not registered");
        }
        me.jvm = Thread.currentThread();
        waitForBaton(me);
        if (shutdown) {
            throw KilledError.INSTANCE;
        }
    }

    /**
     * Lets the spawned threads run, one at a time in the seed's order, until all have finished
     * or none of those left can ever run again (all wait, no timeout pending). Returns the
     * number left waiting (0: all finished).
     */
    public int run() {
        driver = Thread.currentThread();
        SimThread first = pick(null);
        if (first != null) {
            handOn(first);
            long start = System.nanoTime();
            while (!idle) {
                if (System.nanoTime() - start > HANG_NANOS) {
                    throw new IllegalStateException("simulation stopped handing on; holder " + holder);
                }
                LockSupport.parkNanos(this, 10_000_000);
            }
        }
        int left = 0;
        synchronized (threads) {
            for (SimThread s : threads) {
                left += s.done ? 0 : 1;
            }
        }
        // Finished threads count themselves out of the runners just after their last exit.
        lock.lock();
        try {
            while (runners.size() > left) {
                changed.awaitUninterruptibly();
            }
        } finally {
            lock.unlock();
        }
        return left;
    }

    /** The switches made so far, as {@code point from->to} (the first {@value #SCHEDULE_LIMIT}). */
    public List<String> schedule() {
        return List.copyOf(schedule);
    }

    /** The threads that have not finished, by name: after {@link #run}, those stuck waiting. */
    public List<String> unfinished() {
        List<String> out = new ArrayList<>();
        synchronized (threads) {
            for (SimThread s : threads) {
                if (!s.done) {
                    out.add(s.name);
                }
            }
        }
        return out;
    }

    /** How many times the processor changed hands. */
    public long switches() {
        return switches;
    }

    /** Ends the simulation: threads still waiting end with {@link KilledError}. */
    @Override
    public void close() {
        shutdown = true;
        synchronized (threads) {
            for (SimThread s : threads) {
                Thread jt = s.jvm;
                if (jt != null) {
                    LockSupport.unpark(jt);
                }
            }
        }
    }

    @Override
    public boolean closed() {
        return shutdown;
    }

    // ---- the scheduler: run only by the thread that has the processor ------------------------

    /**
     * The calling thread's record if it has the processor and may be switched out now. Not
     * while it runs the timer's tick: that is the timer device's, and runs through at once.
     */
    private SimThread baton() {
        SimThread h = holder;
        if (h == null || shutdown || firingTimer || h.jvm != Thread.currentThread()) {
            return null;
        }
        return h;
    }

    /**
     * A point where another CPU could run: fires a due timeout (unless someone is inside the
     * kernel: the tick must not land in the middle of an operation), then lets the seed choose.
     */
    private void switchPoint(SimThread me, String point) {
        if (!firingTimer && now >= deadline && lockOwner == null) {
            fireTimer();
        }
        reschedule(me, point);
    }

    /**
     * Gives the processor to a runnable thread the seed picks (perhaps {@code me}) and returns
     * once {@code me} has it again. With nothing runnable the clock jumps to the next timeout;
     * with none pending the simulation is over for everyone still waiting.
     */
    private void reschedule(SimThread me, String point) {
        for (;;) {
            SimThread next = pick(me);
            if (next != null) {
                if (next != me) {
                    switches++;
                    if (schedule.size() < SCHEDULE_LIMIT) {
                        schedule.add(point + " " + me + "->" + next);
                    }
                    handOn(next);
                    if (!me.done) {
                        waitForBaton(me);
                    }
                }
                return;
            }
            if (deadline != Long.MAX_VALUE && !firingTimer && lockOwner == null) {
                now = Math.max(now, deadline);
                fireTimer();
                continue;
            }
            holder = null;
            idle = true;
            LockSupport.unpark(driver);
            if (!me.done) {
                waitForBaton(me); // only close() ends this wait
            }
            return;
        }
    }

    /** One of the runnable threads, chosen by the seed; null if none can run. */
    private SimThread pick(SimThread me) {
        List<SimThread> ready = new ArrayList<>();
        synchronized (threads) {
            for (SimThread s : threads) {
                if (s.runnable(lockOwner)) {
                    ready.add(s);
                }
            }
        }
        return ready.isEmpty() ? null : ready.get(rng.nextInt(ready.size()));
    }

    /** The timer device: IRQ 0, on the thread that has the processor (it holds no lock here). */
    private void fireTimer() {
        firingTimer = true;
        try {
            deadline = Long.MAX_VALUE;
            kernel.raiseIrq(0); // the tick sets the next deadline through timerChanged
        } finally {
            firingTimer = false;
        }
    }

    private void handOn(SimThread next) {
        holder = next;
        Thread jt = next.jvm; // null: not started yet; it checks holder once it has bound itself
        if (jt != null) {
            LockSupport.unpark(jt);
        }
    }

    private void waitForBaton(SimThread me) {
        while (holder != me && !shutdown) {
            LockSupport.park(this);
        }
    }
}
