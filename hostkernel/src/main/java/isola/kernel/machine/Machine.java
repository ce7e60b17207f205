package isola.kernel.machine;

import isola.kernel.Tcb;

/**
 * What the core needs from the machine it runs on. The hosted machine backs each thread with a
 * JVM thread; the bare-metal machine switches CPU contexts. Kernel entries are bracketed by
 * {@link #enter} and {@link #leave}: between them the caller holds the kernel lock.
 */
public interface Machine {
    /** Current time in nanoseconds (virtual time in deterministic mode). */
    long now();

    /** Takes the kernel lock for an entry by {@code self} (null for machine-originated entries). */
    void enter(Tcb self);

    /**
     * Releases the kernel lock; then, if the kernel blocked {@code self}, waits until it is woken
     * and, on a uniprocessor machine, until the scheduler picks it again. A thread that has
     * exited ({@link Tcb#DEAD}) is not read once the lock is released: its Tcb may already be
     * another thread's.
     */
    void leave(Tcb self);

    /** True if the calling thread holds the kernel lock: for {@link LockHeld}'s assertions. */
    boolean holdsLock();

    /**
     * Waits, without the kernel lock, until {@code self}'s wake word is WOKEN: the fast paths'
     * hand-off. Spins briefly, then parks. {@code partnerParked}: the thread {@code self} just
     * handed a message to was parked (its release asked for an unpark), so it is not on a CPU
     * and cannot answer before it has been woken and scheduled.
     */
    void await(Tcb self, boolean partnerParked);

    /** The thread parked while waiting on its wake word; resume its runner. */
    void unpark(Tcb t);

    /** The earliest pending timeout is now {@code deadline} (Long.MAX_VALUE: none). */
    void timerChanged(long deadline);

    /**
     * True if the machine runs one kernel thread at a time in the scheduler's order (the
     * deterministic mode, and bare metal on one CPU). The lock-free fast paths are then off,
     * so every decision goes through the scheduler.
     */
    boolean uniprocessor();

    /**
     * A point inside a lock-free protocol where another CPU could act: a simulated machine
     * ({@link isola.kernel.machine.SimulatedMachine}) may switch threads here to explore the
     * interleavings. Empty on real machines, where it compiles to nothing.
     */
    default void preempt() {
    }

    /** The machine's physical memory (hosted: a shared-memory file; bare metal: RAM). */
    isola.kernel.mem.PhysicalMemory ram();
}
