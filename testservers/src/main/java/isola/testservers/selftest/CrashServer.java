package isola.testservers.selftest;

import isola.sdk.Handler;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;
import jdk.internal.misc.Unsafe;

/**
 * A passive server that fails on request, to show what an isolate contains: label ECHO answers
 * MR0 + 1; THROW throws; OOM allocates small objects until its isolate's heap is exhausted;
 * RECURSE recurses until its stack overflows; HEAP_MAX answers its isolate's heap limit
 * ({@code Runtime.maxMemory}); SPIN loops for ever without a system call (only a kill of its
 * isolate ends it: see RunawayStop). The containment tests and the crash benchmark use it.
 *
 * <p>OOM and RECURSE take in MR0 the address of a hold word (two longs of memory outside any
 * heap), or 0. With one, the server stops in the failing state, heap exhausted or stack at its
 * limit, sets the word to {@link #HELD} (and the second long to how many objects or frames it
 * got to) and waits there until the word is {@link #RELEASE}; then it fails as it would have.
 * That is how a test makes calls to other servers while this isolate is out of memory or stack,
 * rather than before or after.
 */
public final class CrashServer implements Server, Handler {
    public static final String SERVICE = "crash";
    public static final int ECHO = 0, THROW = 1, OOM = 2, RECURSE = 3, HEAP_MAX = 4, SPIN = 5;
    /** Values of a hold word: set by the server when it is in the failing state; set by the test to let it fail. */
    public static final long HELD = 1, RELEASE = 2;
    private static final Unsafe U = Unsafe.getUnsafe();

    /**
     * One small object: a header and a reference, the smallest there is (16 bytes). The hoard is
     * a list of them, so the heap fills up to its last few bytes: what a leak of small objects
     * does, and unlike large blocks it leaves no room at all once the error is thrown.
     */
    private static final class Node {
        final Node next;

        Node(Node next) {
            this.next = next;
        }
    }

    /** Keeps what OOM allocates reachable until the isolate is gone. */
    private Node hoard;
    /** Whether RECURSE has held already: the frames below the one that could hold only rethrow. */
    private boolean held;
    /** Read on every turn of SPIN's loop (volatile: the loop is not a counted one the compiler may reshape). */
    private volatile boolean spinning;

    @Override
    public void start(ServerContext context) {
        context.servePassive(context.endpoint(SERVICE), this);
    }

    @Override
    public long handle(Sys sys) {
        switch (sys.label()) {
            case THROW -> throw new IllegalStateException("crash requested");
            case OOM -> exhaustHeap(sys.mr(0));
            case RECURSE -> sys.mr(0, recurse(0, sys.mr(0)));
            case HEAP_MAX -> sys.mr(0, Runtime.getRuntime().maxMemory());
            case SPIN -> {
                spinning = true;
                while (spinning) {
                    Thread.onSpinWait();
                }
            }
            default -> sys.mr(0, sys.mr(0) + 1);
        }
        return Sys.tag(0, 1);
    }

    private void exhaustHeap(long holdWord) {
        long n = 0;
        try {
            for (;;) {
                hoard = new Node(hoard);
                n++;
            }
        } catch (OutOfMemoryError e) {
            hold(holdWord, n); // allocates nothing: the heap is full, the hoard still reachable
            throw e;
        }
    }

    /**
     * Recurses until the stack overflows. Each frame catches the overflow to try holding there:
     * the deepest frames have too little stack left even for {@link #hold} (which then overflows
     * in turn), so the first frame with room for it holds, with the stack all but full below.
     */
    private long recurse(long depth, long holdWord) {
        try {
            return recurse(depth + 1, holdWord) + 1;
        } catch (StackOverflowError e) {
            if (holdWord != 0 && !held) {
                hold(holdWord, depth);
                held = true;
            }
            throw e;
        }
    }

    /** Marks the hold word HELD (with {@code count}) and waits until the test releases it; nothing if there is none. */
    private static void hold(long word, long count) {
        if (word == 0) {
            return;
        }
        U.putLongVolatile(null, word + 8, count);
        U.putLongVolatile(null, word, HELD);
        while (U.getLongVolatile(null, word) != RELEASE) {
            Thread.onSpinWait();
        }
    }
}
