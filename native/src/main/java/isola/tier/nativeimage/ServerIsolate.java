package isola.tier.nativeimage;

import com.oracle.svm.core.AlwaysInline;
import java.util.concurrent.ConcurrentHashMap;
import jdk.internal.misc.Unsafe;
import org.graalvm.nativeimage.Isolate;
import org.graalvm.nativeimage.IsolateThread;
import org.graalvm.nativeimage.Isolates;
import org.graalvm.word.WordFactory;

/**
 * The kernel isolate's handle on a server domain's GraalVM isolate: its own heap and garbage
 * collector, entered through {@code @CEntryPoint} calls ({@link ServerEntry}). Each OS thread
 * that enters it is attached once; its isolate thread is kept by {@link NativeThread} index.
 */
final class ServerIsolate {
    private static final ConcurrentHashMap<Long, ServerIsolate> byIsolate = new ConcurrentHashMap<>();
    private static final Unsafe U = Unsafe.getUnsafe();

    final String name;
    final long isolate;
    /** Isolate thread per NativeThread index (raw words; 0: not attached yet). */
    private final long[] threads = new long[NativeThread.MAX];
    /**
     * How many calls each thread has in progress into this isolate (nested calls count each),
     * written only by that thread. Teardown waits until all are 0: no frame of this isolate is
     * on any stack (see {@link #tearDown}).
     */
    private final int[] depth = new int[NativeThread.MAX];
    /** Set when teardown begins: no call may enter from then on (see {@link #enter}). */
    private volatile boolean closed;
    private volatile boolean tornDown;
    /** Why the last teardown did not happen: who stayed inside (null if none failed). */
    private volatile String leftInPlace;
    /**
     * The isolate's kill word, in unmanaged memory both isolates see: set at teardown, it makes
     * the code still running inside (a killed server's loop) throw at its next safepoint check
     * ({@link RunawayStop}), so the threads leave and the teardown can go on.
     */
    final long killWord = U.allocateMemory(Integer.BYTES);

    private ServerIsolate(String name, long isolate) {
        this.name = name;
        this.isolate = isolate;
        U.putIntVolatile(null, killWord, 0);
    }

    /**
     * The isolate argument that bounds its heap (see NativeTier#SERVER_HEAP_MIB). Each isolate
     * parses its own arguments into its own copy of the runtime options, so the limit is the
     * isolate's, not the process's; the self-test checks it from inside one.
     */
    static final String MAX_HEAP = "-XX:MaxHeapSize=" + (NativeTier.SERVER_HEAP_MIB << 20);

    /**
     * Creates the isolate. The creating thread is detached from it at once: an isolate can only
     * be torn down once every other thread has detached, and a thread can only detach itself.
     */
    static ServerIsolate create(String name) {
        IsolateThread t = Isolates.createIsolate(new Isolates.CreateIsolateParameters.Builder().appendArgument(MAX_HEAP).build());
        Isolate i = Isolates.getIsolate(t);
        Isolates.detachThread(t);
        ServerIsolate s = new ServerIsolate(name, i.rawValue());
        byIsolate.put(s.isolate, s);
        return s;
    }

    static ServerIsolate of(long isolate) {
        ServerIsolate s = byIsolate.get(isolate);
        if (s == null) {
            throw new IllegalArgumentException("no server isolate at 0x" + Long.toHexString(isolate));
        }
        return s;
    }

    private long attach(NativeThread n) {
        long t = Isolates.attachCurrentThread(WordFactory.pointer(isolate)).rawValue();
        threads[n.index] = t;
        return t;
    }

    /** Detaches thread {@code n} from every live isolate it entered, on its own OS thread as it ends. */
    static void detachAll(NativeThread n) {
        for (ServerIsolate s : byIsolate.values()) {
            s.detach(n);
        }
    }

    private synchronized void detach(NativeThread n) {
        long t = threads[n.index];
        if (t != 0 && !tornDown) {
            threads[n.index] = 0;
            Isolates.detachThread(WordFactory.pointer(t));
        }
    }

    /**
     * Forgets thread {@code n}'s entries in every live isolate without detaching it: for state
     * a thread left behind without ending through the machine (its Tcb is being reused). Only a
     * thread can detach itself; its attachments go with the isolate's teardown.
     */
    static void forgetAll(NativeThread n) {
        for (ServerIsolate s : byIsolate.values()) {
            synchronized (s) {
                s.threads[n.index] = 0;
            }
        }
    }

    /** Calls an empty entry point in this isolate {@code n} times from the calling thread (benchmark floor). */
    long crossEmpty(NativeThread thread, int n) {
        var nop = ServerEntry.NOP.getFunctionPointer();
        long t = enter(thread);
        if (t == 0) {
            throw new IllegalStateException(this + " is closed");
        }
        long x = 0;
        try {
            for (int i = 0; i < n; i++) {
                x = nop.invoke(WordFactory.pointer(t), x);
            }
        } finally {
            leave(thread);
        }
        return x;
    }

    /**
     * Starts a call of thread {@code n} into this isolate: counts it, then answers the thread's
     * isolate thread here (attaching it on its first entry), or 0 if the isolate is closed (the
     * call must not cross; it is not counted then). Every entry from the kernel's side goes
     * through here and {@link #leave}.
     *
     * <p>The count is a plain store and the closed flag a plain load: no locked instruction on
     * the passive call's path. The fence between them only keeps the compiler from swapping them
     * (it emits nothing on x86); the CPU may still let the load pass the store, which
     * {@link #tearDown}'s process-wide fence makes harmless (see there).
     */
    @AlwaysInline("on every passive call into a server isolate")
    long enter(NativeThread n) {
        int i = n.index;
        depth[i]++;
        U.loadFence();
        if (closed) {
            depth[i]--;
            return 0;
        }
        long t = threads[i];
        return t != 0 ? t : attach(n);
    }

    /** Ends a call that {@link #enter} let in (after the crossing returned). */
    @AlwaysInline("on every passive call into a server isolate")
    void leave(NativeThread n) {
        depth[n.index]--; // TSO: visible only after every access the call made in the isolate
    }

    /** How long calls still inside a closed isolate may run before the runaway stop is armed. */
    static final long RUNAWAY_GRACE_NS = 100_000_000L;

    /**
     * Tears the isolate down: its heap and every thread attached to it go. First it is closed,
     * so a call entering it from then on is refused before it crosses ({@link #enter} answers
     * 0). Then it waits until no thread has a call in progress in it, nested calls included, for
     * at most {@code timeoutNs}, arming the runaway stop ({@link RunawayStop}) after
     * {@link #RUNAWAY_GRACE_NS}; if one never leaves (a handler that does not return), the
     * isolate is left in place, closed, and false returned: tearing it down would pull its heap
     * from under that thread.
     *
     * <p>Why no call can slip in: a caller stores its count, then loads the flag; this thread
     * stores the flag, then runs a fence on every CPU of the process ({@link ProcessFence}, an
     * asymmetric Dekker handshake as in Linux's membarrier(2)), then loads the counts. A caller
     * whose load came before its CPU's fence had its count visible by then, so it is seen here;
     * one whose load came after sees the flag. That holds also for a caller that read this
     * isolate's passive entry long ago (before the server was killed) and was preempted until
     * now: it is refused, never let into a torn-down isolate.
     *
     * <p>GraalVM tears an isolate down only once every other thread has detached from it, and a
     * thread can only detach itself. The threads that entered this one are outside it now and
     * will not enter it again, so they are detached from inside it, on this thread
     * ({@link ServerEntry#detachOthers}), as GraalVM's own teardown does. That includes threads
     * this table no longer lists ({@link #forgetAll}).
     *
     * <p>The host files the server left open (a disk image the block driver opened) are closed
     * here too, once no thread is inside: before, one of its threads could still be using one,
     * and closing it under that thread could let a later open reuse the number, so that thread
     * would write into another file. An isolate left in place keeps its files with it.
     */
    synchronized boolean tearDown(long timeoutNs) {
        if (tornDown) {
            return true;
        }
        byIsolate.remove(isolate);
        closed = true;
        ProcessFence.run();
        long start = System.nanoTime();
        long deadline = start + timeoutNs;
        boolean stopping = false;
        for (int i = 0; i < NativeThread.MAX; i++) {
            while (U.getIntVolatile(depth, Unsafe.ARRAY_INT_BASE_OFFSET + (long) i * Unsafe.ARRAY_INT_INDEX_SCALE) != 0) {
                if (!stopping && System.nanoTime() - start > RUNAWAY_GRACE_NS) {
                    // What still runs inside after the grace is a runaway: it stops at its next
                    // safepoint check in the server's code (RunawayStop says where it may throw).
                    // The grace lets what is merely finishing leave on its own.
                    U.putIntVolatile(null, killWord, 1);
                    stopping = true;
                }
                if (System.nanoTime() - deadline > 0) {
                    leftInPlace = "thread " + NativeThread.nameOf(i) + " (index " + i + ") still had " + depth[i]
                            + " call(s) in progress inside it after " + timeoutNs / 1_000_000 + " ms";
                    return false;
                }
                Thread.onSpinWait();
            }
        }
        // Nothing runs inside now, and nothing enters again: the kill word has done its work, and
        // must not stop this thread, which enters next (it may have entered before, as a caller,
        // and have the callback that reads it).
        U.putIntVolatile(null, killWord, 0);
        // The others are outside (counted above) and never enter again (closed): detach them
        // from here, inside the isolate, as its teardown would.
        long self = Isolates.attachCurrentThread(WordFactory.pointer(isolate)).rawValue();
        // No thread of the server can use its host files any more (none is inside): close
        // what it left open, which GraalVM's teardown would leave open in the process.
        int closed = ServerEntry.RELEASE.getFunctionPointer().invoke(WordFactory.pointer(self));
        if (closed < 0) {
            System.err.println("isola native: " + this + ": closing the host files its server left open failed");
        }
        ServerEntry.DETACH_OTHERS.getFunctionPointer().invoke(WordFactory.pointer(self));
        java.util.Arrays.fill(threads, 0);
        tornDown = true;
        Isolates.tearDownIsolate(WordFactory.pointer(self));
        U.freeMemory(killWord); // nothing reads it now: the isolate's threads are gone
        return true;
    }

    /** Why the last {@link #tearDown} returned false, or null. */
    String leftInPlace() {
        return leftInPlace;
    }

    @Override
    public String toString() {
        return name + "@0x" + Long.toHexString(isolate);
    }
}
