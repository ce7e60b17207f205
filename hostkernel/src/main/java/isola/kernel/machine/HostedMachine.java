package isola.kernel.machine;

import java.util.concurrent.locks.LockSupport;

import isola.kernel.Kernel;
import isola.kernel.KernelConfig;
import isola.kernel.KernelException;
import isola.kernel.KilledError;
import isola.kernel.machine.Machine;
import isola.kernel.Status;
import isola.kernel.Tcb;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Runs the kernel core on a JVM: each kernel thread is backed by a JVM thread, and blocking and
 * waking follow the core's decisions. The kernel lock is a {@link ReentrantLock} here, outside
 * the core. Two modes: {@link ConcurrentMachine} runs every runnable thread at once (the host OS
 * schedules them), {@link DeterministicMachine} runs one at a time in the scheduler's order,
 * {@link SimulatedMachine} one at a time in a seeded order with the fast paths on.
 */
public abstract class HostedMachine implements Machine, AutoCloseable {
    protected final ReentrantLock lock = new ReentrantLock();
    protected final Condition changed = lock.newCondition();
    protected final Kernel kernel;
    /** Spawned threads whose JVM threads have not finished (lock). */
    protected final java.util.Set<Runner> runners = new java.util.LinkedHashSet<>();

    /** One spawn: a Tcb is pooled and may back a new thread before this runner finishes. */
    protected static final class Runner {
        final Tcb tcb;
        /** The thread is leaving the kernel; its JVM thread is about to finish. */
        volatile boolean exiting;

        Runner(Tcb tcb) {
            this.tcb = tcb;
        }
    }

    private final isola.kernel.mem.PhysicalMemory ram;

    protected HostedMachine(KernelConfig config) {
        this(config, isola.kernel.mem.PhysicalMemory.hosted(config.memoryBytes()));
    }

    protected HostedMachine(KernelConfig config, isola.kernel.mem.PhysicalMemory ram) {
        this.ram = ram;
        this.kernel = new Kernel(this, config);
    }

    @Override
    public isola.kernel.mem.PhysicalMemory ram() {
        return ram;
    }

    public static ConcurrentMachine concurrent(KernelConfig config) {
        return new ConcurrentMachine(config);
    }

    /**
     * A concurrent machine over {@code ram} given by the caller rather than a shared-memory
     * file: the bare-metal kernel runs the core on its own Java threads over a partition of real
     * RAM. {@code spinNanos}: how long a waiter spins before it parks (0 on one CPU, where the
     * waker cannot run while the waiter spins).
     */
    public static ConcurrentMachine concurrent(KernelConfig config, isola.kernel.mem.PhysicalMemory ram, long spinNanos) {
        return new ConcurrentMachine(config, ram, spinNanos);
    }

    public static DeterministicMachine deterministic(KernelConfig config) {
        return new DeterministicMachine(config);
    }

    /**
     * A seeded, deterministic simulation of a multiprocessor: the fast paths run, and
     * {@code seed} decides the interleaving ({@link SimulatedMachine}).
     */
    public static SimulatedMachine simulated(KernelConfig config, long seed) {
        return new SimulatedMachine(config, seed);
    }

    public final Kernel kernel() {
        return kernel;
    }

    @Override
    public void enter(Tcb self) {
        lock.lock();
    }

    @Override
    public final boolean holdsLock() {
        return lock.isHeldByCurrentThread();
    }

    /**
     * Starts {@code t} on a new JVM thread running {@code body}. An uncaught exception is a fault:
     * the thread waits for its domain's fault handler and, if resumed, runs {@code body} again.
     */
    public Thread spawn(Tcb t, Runnable body) {
        Runner runner = new Runner(t);
        Thread jt = newJvmThread(() -> runKernelThread(runner, body), "isola-" + t.domain().name() + "-" + t.name());
        t.runner = jt;
        lock.lock();
        runners.add(runner);
        lock.unlock();
        kernel.startThread(t);
        jt.start();
        return jt;
    }

    /**
     * A JVM thread started ahead of need and parked until {@link #spawn(Tcb, Runnable, Spare)}
     * gives it a kernel thread: on a busy host, starting a JVM thread takes milliseconds, which a
     * server's restart should not wait for. Each spare runs one kernel thread, then ends.
     */
    public static final class Spare {
        private Thread thread;
        private volatile Runnable job;
        /** Set by whichever comes first: a spawn that gives it a job, or a discard. */
        private final java.util.concurrent.atomic.AtomicBoolean taken = new java.util.concurrent.atomic.AtomicBoolean();

        /** Lets an unused spare end; a spare a spawn has taken is left to its job. */
        public void discard() {
            if (taken.compareAndSet(false, true)) {
                job = () -> { };
                LockSupport.unpark(thread);
            }
        }
    }

    /** Starts a spare JVM thread named {@code name}, parked until it is given a kernel thread. */
    public Spare prestart(String name) {
        return prestart(name, null);
    }

    /**
     * A spare that first runs {@code warmUp} (null: nothing), outside any kernel thread, then
     * parks until it is given its kernel thread; the kernel thread's body runs after the warm-up
     * on the same JVM thread, so it sees everything the warm-up did.
     */
    public Spare prestart(String name, Runnable warmUp) {
        Spare s = new Spare();
        s.thread = newJvmThread(() -> {
            if (warmUp != null) {
                warmUp.run();
            }
            Runnable job;
            while ((job = s.job) == null) {
                LockSupport.park(s);
            }
            job.run();
        }, name);
        s.thread.start();
        return s;
    }

    /** {@link #spawn(Tcb, Runnable)} on a spare JVM thread (a new one if {@code spare} is null). */
    public Thread spawn(Tcb t, Runnable body, Spare spare) {
        if (spare == null) {
            return spawn(t, body);
        }
        if (!spare.taken.compareAndSet(false, true)) {
            throw new IllegalStateException("spare JVM thread " + spare.thread.getName() + " was already used or discarded");
        }
        Runner runner = new Runner(t);
        t.runner = spare.thread;
        lock.lock();
        runners.add(runner);
        lock.unlock();
        kernel.startThread(t);
        spare.job = () -> runKernelThread(runner, body);
        LockSupport.unpark(spare.thread);
        return spare.thread;
    }

    protected Thread newJvmThread(Runnable r, String name) {
        Thread jt = Thread.ofPlatform().name(name).daemon(true).unstarted(r);
        return jt;
    }

    private void runKernelThread(Runner runner, Runnable body) {
        Tcb t = runner.tcb;
        try {
            awaitTurn(t);
            for (;;) {
                try {
                    body.run();
                    break;
                } catch (KilledError k) {
                    break;
                } catch (Throwable ex) {
                    if (kernel.threadFault(t, ex) != Status.OK) {
                        break; // the fault handler killed the domain
                    }
                }
            }
            runner.exiting = true;
            threadExitHook.accept(t);
            kernel.threadExit(t);
        } finally {
            lock.lock();
            runners.remove(runner);
            changed.signalAll();
            lock.unlock();
        }
    }

    private volatile java.util.function.Consumer<Tcb> threadExitHook = t -> { };

    /**
     * Adds {@code hook}, run on a spawned kernel thread's own JVM thread once its body has ended,
     * before the kernel frees its Tcb (which a later thread may reuse): where an isolation tier
     * releases what it keeps per thread.
     */
    public synchronized void onThreadExit(java.util.function.Consumer<Tcb> hook) {
        threadExitHook = threadExitHook.andThen(hook);
    }

    /** Waits until a newly spawned thread may run (deterministic mode: its turn). */
    protected void awaitTurn(Tcb t) {
    }

    /**
     * Binds the calling JVM thread to {@code t} and starts it, so this thread can make system
     * calls as {@code t} (a client, a benchmark driver). Concurrent mode only.
     */
    public void attach(Tcb t) {
        if (uniprocessor()) {
            throw new KernelException(Status.E_ILLEGAL_OPERATION,
                    "attach " + t.name() + ": a deterministic machine runs only spawned threads");
        }
        t.runner = Thread.currentThread();
        kernel.startThread(t);
    }

    /** Number of spawned threads whose JVM threads have not finished. */
    public int liveRunners() {
        lock.lock();
        try {
            return runners.size();
        } finally {
            lock.unlock();
        }
    }

    /** Waits until every spawned thread finished, or the timeout (ms) passes; true if all did. */
    public boolean awaitRunners(long timeoutMs) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        lock.lock();
        try {
            while (!runners.isEmpty()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                changed.awaitNanos(left);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
    }

    /** Whether the machine was closed (the host is taking it down, not the system shutting down). */
    public boolean closed() {
        return false;
    }
}
