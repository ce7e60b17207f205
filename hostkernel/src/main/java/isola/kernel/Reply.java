package isola.kernel;

import isola.kernel.mem.Words;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A reply object: the one-shot right to answer a caller. Every thread has an implicit one,
 * bound when it receives a call; {@code saveReply} moves it into a slot so a server can answer
 * later from any thread.
 *
 * <p>The binding is one 64-bit word: the caller's thread id + 1 and the generation of its wait
 * (0: unbound). An implicit reply keeps that word in its thread's UTCB, in the cache line a
 * caller writes its message into anyway ({@link Utcb#REPLY}), so a fast call and its reply
 * move no extra line between cores. A saved reply keeps it in a word of its own.
 */
public final class Reply extends KernelObject {
    private final ObjectPool<Tcb> threads;
    /** This reply's own word, used once it is saved into a slot. */
    private final MemorySegment own;
    /** Where the binding lives: the owner's UTCB at {@link Utcb#REPLY}, or {@link #own} at 0. */
    private MemorySegment cell;
    private long at;
    /** The thread whose implicit reply object this is; null once saved into a slot. */
    Tcb thread;

    Reply(int id, ObjectPool<Tcb> threads, Arena arena) {
        super(ObjectType.REPLY, id);
        this.threads = threads;
        this.own = arena.allocate(8, 8);
        this.cell = own;
    }

    /** Makes this the implicit reply of {@code t}, unbound. Lock held. */
    void attach(Tcb t) {
        thread = t;
        cell = t.utcb;
        at = Utcb.REPLY;
        Words.setRelease(cell, at, 0L);
    }

    /** Saves this implicit reply into a slot: the binding moves to its own word. Lock held. */
    void detach() {
        Words.setRelease(own, 0L, Words.getAcquire(cell, at));
        Words.setRelease(cell, at, 0L);
        thread = null;
        cell = own;
        at = 0;
    }

    /** Binds the caller's wait of generation {@code gen}; published by the caller's wake-up. */
    void bind(Tcb caller, long gen) {
        Words.setRelease(cell, at, gen << Utcb.GEN_SHIFT | (caller.id + 1));
    }

    /** The binding word: 0, or a caller and its generation ({@link #caller}, {@link #generation}). */
    long binding() {
        return Words.getAcquire(cell, at);
    }

    /**
     * Unbinds {@code binding} if it is still the binding; whoever unbinds then claims the
     * caller's wait with its generation. A CAS: the kernel may fail a killed server's caller
     * while the server, lock-free, answers it and a new caller binds.
     */
    boolean clear(long binding) {
        return Words.compareAndSet(cell, at, binding, 0L);
    }

    /**
     * Unbinds, by the owner answering on its fast path: no caller can bind it before it waits
     * again, and if the kernel unbound first, the caller's wait is claimed by one of the two.
     */
    void clearOwn() {
        Words.setRelease(cell, at, 0L);
    }

    /** The caller of a non-zero binding. */
    Tcb caller(long binding) {
        return threads.get((int) (binding & 0xFFFF_FFFFL) - 1);
    }

    static long generation(long binding) {
        return binding >>> Utcb.GEN_SHIFT;
    }

    /** The waiting caller, or null. */
    Tcb caller() {
        long b = binding();
        return b == 0 ? null : caller(b);
    }
}
