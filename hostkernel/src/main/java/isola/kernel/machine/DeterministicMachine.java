package isola.kernel.machine;

import isola.kernel.Kernel;
import isola.kernel.KernelConfig;
import isola.kernel.KernelException;
import isola.kernel.Status;
import isola.kernel.Tcb;

/**
 * Runs one kernel thread at a time, the one the kernel's scheduler picks, on virtual time: each
 * kernel entry costs {@link Kernel#ENTRY_COST_NS}, and when every thread is blocked the clock
 * jumps to the earliest timeout. Kernel entries are the preemption points. With the same inputs
 * the run, and so the kernel's trace, is always the same.
 *
 * <p>Build the system (domains, threads) first; threads spawned before {@link #run} wait for
 * it, so the order in which the JVM starts their threads does not matter.
 */
public final class DeterministicMachine extends HostedMachine {
    private long now;
    private boolean running;

    DeterministicMachine(KernelConfig config) {
        super(config);
    }

    @Override
    public long now() {
        return now;
    }

    @Override
    public boolean uniprocessor() {
        return true;
    }

    @Override
    public void enter(Tcb self) {
        lock.lock();
        if (self != null && lock.getHoldCount() == 1) {
            now += Kernel.ENTRY_COST_NS;
        }
    }

    @Override
    public void leave(Tcb self) {
        if (lock.getHoldCount() > 1) {
            lock.unlock();
            return;
        }
        try {
            advanceWhileIdle();
            if (self == null || self.state() != Tcb.DEAD) {
                // An exiting thread's runner signals once it has counted itself out, or run()
                // could see the machine idle while the runner is still counted as live.
                changed.signalAll();
            }
            if (self != null && self.state() != Tcb.DEAD) {
                while (!(running && kernel.current() == self)) {
                    changed.awaitUninterruptibly();
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** With no thread ready, the clock jumps to the earliest timeout and the timer fires. */
    private void advanceWhileIdle() {
        while (running && kernel.current() == null) {
            long d = kernel.nextDeadline();
            if (d == Long.MAX_VALUE) {
                return;
            }
            now = Math.max(now, d);
            kernel.raiseIrq(0); // the timer device: IRQ 0 (re-enters: the nested leave only unlocks)
        }
    }

    @Override
    protected void awaitTurn(Tcb t) {
        lock.lock();
        try {
            while (!(running && kernel.current() == t)) {
                changed.awaitUninterruptibly();
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void await(Tcb self, boolean partnerParked) {
        throw new KernelException(Status.E_ILLEGAL_OPERATION,
                "the deterministic machine has no lock-free hand-offs");
    }

    @Override
    public void unpark(Tcb t) {
        // Threads wait for their turn, not on their wake words.
    }

    @Override
    public void timerChanged(long deadline) {
        // The clock is virtual: timeouts fire when the machine is idle or at kernel entries.
    }

    /**
     * Lets the spawned threads run, one at a time, until every one has finished or all that
     * remain are blocked with no timeout pending. Returns the number still blocked (0: all
     * finished).
     */
    public int run() {
        lock.lock();
        try {
            running = true;
            advanceWhileIdle();
            changed.signalAll();
            while (!(kernel.current() == null && kernel.nextDeadline() == Long.MAX_VALUE)
                    || exitingRunners()) {
                changed.awaitUninterruptibly();
            }
            return runners.size();
        } finally {
            lock.unlock();
        }
    }

    /** A thread has left the kernel but its JVM thread has not yet counted itself out. */
    private boolean exitingRunners() {
        for (Runner r : runners) {
            if (r.exiting) {
                return true;
            }
        }
        return false;
    }
}
