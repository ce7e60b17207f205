package isola.kernel.machine;

import isola.kernel.Tcb;

/**
 * One spawned kernel thread as the {@link SimulatedMachine} schedules it. A Tcb is pooled and
 * may back a new thread while its old JVM thread is still finishing, so the machine keeps one of
 * these per spawn, not per Tcb.
 */
final class SimThread {
    final Tcb tcb;
    /** Spawn order: candidates are listed in it, so a seed picks the same thread every run. */
    final int seq;
    final String name;
    /** The JVM thread running it, once that thread has started (set by the thread itself). */
    volatile Thread jvm;
    /** In {@link SimulatedMachine#await}: runnable only once its wake word says WOKEN. */
    boolean waiting;
    /** Entering the kernel while another thread holds the lock: runnable once it is free. */
    boolean waitingForLock;
    /** It has left the kernel for the last time. */
    boolean done;

    SimThread(Tcb tcb, int seq) {
        this.tcb = tcb;
        this.seq = seq;
        this.name = tcb.name() + "#" + seq;
    }

    /** Whether the scheduler may give it the processor now; {@code lockOwner}: null if the lock is free. */
    boolean runnable(SimThread lockOwner) {
        return !done && (!waiting || tcb.isAwake()) && !(waitingForLock && lockOwner != null);
    }

    @Override
    public String toString() {
        return name;
    }
}
