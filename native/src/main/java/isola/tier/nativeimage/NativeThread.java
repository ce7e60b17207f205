package isola.tier.nativeimage;

import com.oracle.svm.core.AlwaysInline;
import isola.kernel.Tcb;
import org.graalvm.nativeimage.ObjectHandles;

/**
 * The native tier's state for one kernel thread, kept in the kernel isolate ({@link Tcb#tier}):
 * the handle server isolates name the thread by, and a small dense index under which each
 * isolate keeps the thread's isolate thread and {@code Sys}. A kernel thread runs on one OS
 * thread for its life, so per-thread entries need no locks.
 */
final class NativeThread {
    /** Most kernel threads that can enter server isolates at once. */
    static final int MAX = 4096;
    private static final java.util.BitSet used = new java.util.BitSet(MAX);

    final int index;
    /** The kernel thread's name, for a teardown to say who stayed inside an isolate. */
    final String name;
    /** The UTCB of the thread this state is for: a Tcb reused for a new thread gets a new one. */
    private final java.lang.foreign.MemorySegment utcb;
    /** Its address, which the server isolate's Sys reads and writes the registers at. */
    final long utcbAddress;
    /** A global object handle on the Tcb: how the server isolates name it in system calls. */
    final long handle;
    /** The text of the last fault of a passive handler this thread ran (set by the server isolate). */
    volatile String faultText;

    /** The state under each index in use (null: free), read by {@link #nameOf}. */
    private static final NativeThread[] byIndex = new NativeThread[MAX];

    private NativeThread(int index, long handle, java.lang.foreign.MemorySegment utcb, String name) {
        this.index = index;
        this.name = name;
        this.handle = handle;
        this.utcb = utcb;
        this.utcbAddress = utcb.address();
    }

    @AlwaysInline("on every passive call into a server isolate")
    static NativeThread of(Tcb t) {
        Object o = t.tier;
        if (o instanceof NativeThread n && n.utcb == t.utcb()) {
            return n;
        }
        return create(t);
    }

    private static synchronized NativeThread create(Tcb t) {
        if (t.tier instanceof NativeThread n) {
            if (n.utcb == t.utcb()) {
                return n;
            }
            // State left by the thread that had this Tcb before and did not end through the
            // machine: it cannot be detached from here (only a thread can detach itself).
            ServerIsolate.forgetAll(n);
            free(n);
        }
        int i = used.nextClearBit(0);
        if (i >= MAX) {
            throw new IllegalStateException("more than " + MAX + " kernel threads entered server isolates");
        }
        used.set(i);
        NativeThread n = new NativeThread(i, ObjectHandles.getGlobal().create(t).rawValue(), t.utcb(), t.name());
        byIndex[i] = n;
        t.tier = n;
        return n;
    }

    /**
     * Detaches the calling OS thread from every isolate it entered as {@code t} and frees the
     * index and handle: run on the thread itself when it ends (it enters no isolate again).
     */
    static synchronized void release(Tcb t) {
        if (t.tier instanceof NativeThread n) {
            t.tier = null;
            ServerIsolate.detachAll(n);
            free(n);
        }
    }

    /** The name of the thread under {@code index}, or a note that it is free. */
    static synchronized String nameOf(int index) {
        NativeThread n = byIndex[index];
        return n == null ? "(a thread that has ended)" : n.name;
    }

    private static void free(NativeThread n) {
        byIndex[n.index] = null;
        used.clear(n.index);
        ObjectHandles.getGlobal().destroy(org.graalvm.word.WordFactory.signed(n.handle));
    }
}
