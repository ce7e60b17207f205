package isola.kernel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * The user thread control block: a thread's message registers and the word it waits on, in
 * unmanaged memory, like an L4 UTCB. Static accessors over a {@link MemorySegment}, so nothing
 * is allocated per access.
 *
 * <p>Layout, in 64-bit words. The first cache line holds everything a short message touches:
 * the wake word, the tag, the badge, the status and MR0..MR3. A hand-off of a message of up to
 * four words therefore moves one cache line between cores.
 *
 * <pre>
 *   0  WAKE     wake word (see below)
 *   1  TAG      message tag: label, length, capability count ({@link Tag})
 *   2  BADGE    badge of the capability the message came through; notification word on wait
 *   3  STATUS   status of the last blocking call, written by whoever woke the thread
 *   4..67       MR0..MR63, the message registers
 *   68..70      CAP0..CAP2: slots of capabilities to send; after a receive, where they landed
 *   71 RECV_WINDOW  first slot where received capabilities go; -1 accepts none
 * </pre>
 *
 * <h2>Wake word</h2>
 * A blocked thread waits on its wake word: {@code generation << 3 | flags}. The owner arms it
 * with a fresh generation before it can be found by a waker. A waker first <em>claims</em> it
 * (sets CLAIMED with a CAS that expects the generation it saw when it found the thread), then
 * writes the message and status, then sets WOKEN with release semantics. Only one waker can
 * claim a given wait, so a timeout, a kill and a reply racing each other deliver exactly once.
 * The owner spins a while, then sets PARKED and parks; a waker that sees PARKED unparks it.
 */
public final class Utcb {
    private Utcb() {}

    public static final int MESSAGE_REGISTERS = 64;
    public static final int MAX_CAPS = 3;
    public static final long NO_WINDOW = -1;

    static final long WAKE = 0;
    static final long TAG = 8;
    static final long BADGE = 16;
    static final long STATUS = 24;
    static final long MR0 = 32;
    static final long CAP0 = MR0 + 8L * MESSAGE_REGISTERS;
    static final long RECV_WINDOW = CAP0 + 8L * MAX_CAPS;
    public static final long SIZE = RECV_WINDOW + 8;
    public static final long ALIGN = 64;

    public static final long PARKED = 1;
    public static final long CLAIMED = 2;
    public static final long WOKEN = 4;
    static final int GEN_SHIFT = 3;

    private static final VarHandle LONG =
            ValueLayout.JAVA_LONG.varHandle().withInvokeExactBehavior();

    public static MemorySegment allocate(Arena arena) {
        MemorySegment s = arena.allocate(SIZE, ALIGN);
        s.set(ValueLayout.JAVA_LONG, RECV_WINDOW, NO_WINDOW);
        return s;
    }

    // ---- message registers, read and written in place ----

    public static long mr(MemorySegment u, int i) {
        return u.get(ValueLayout.JAVA_LONG, MR0 + ((long) i << 3));
    }

    public static void setMr(MemorySegment u, int i, long v) {
        u.set(ValueLayout.JAVA_LONG, MR0 + ((long) i << 3), v);
    }

    public static long tag(MemorySegment u) {
        return u.get(ValueLayout.JAVA_LONG, TAG);
    }

    public static void setTag(MemorySegment u, long tag) {
        u.set(ValueLayout.JAVA_LONG, TAG, tag);
    }

    public static long badge(MemorySegment u) {
        return u.get(ValueLayout.JAVA_LONG, BADGE);
    }

    static void setBadge(MemorySegment u, long badge) {
        u.set(ValueLayout.JAVA_LONG, BADGE, badge);
    }

    public static int status(MemorySegment u) {
        return (int) u.get(ValueLayout.JAVA_LONG, STATUS);
    }

    static void setStatus(MemorySegment u, int status) {
        u.set(ValueLayout.JAVA_LONG, STATUS, status);
    }

    public static int capSlot(MemorySegment u, int i) {
        return (int) u.get(ValueLayout.JAVA_LONG, CAP0 + ((long) i << 3));
    }

    public static void setCapSlot(MemorySegment u, int i, int slot) {
        u.set(ValueLayout.JAVA_LONG, CAP0 + ((long) i << 3), slot);
    }

    public static long recvWindow(MemorySegment u) {
        return u.get(ValueLayout.JAVA_LONG, RECV_WINDOW);
    }

    public static void setRecvWindow(MemorySegment u, long slot) {
        u.set(ValueLayout.JAVA_LONG, RECV_WINDOW, slot);
    }

    /** Copies {@code words} message registers from one UTCB to another. */
    static void copyMrs(MemorySegment from, MemorySegment to, int words) {
        if (words <= 8) {
            for (int i = 0; i < words; i++) {
                long off = MR0 + ((long) i << 3);
                to.set(ValueLayout.JAVA_LONG, off, from.get(ValueLayout.JAVA_LONG, off));
            }
        } else {
            MemorySegment.copy(from, MR0, to, MR0, (long) words << 3);
        }
    }

    // ---- wake word ----

    public static long wakeWord(MemorySegment u) {
        return (long) LONG.getVolatile(u, WAKE);
    }

    static long wakeWordAcquire(MemorySegment u) {
        return (long) LONG.getAcquire(u, WAKE);
    }

    /**
     * Owner only: arms the wake word for a new wait with generation {@code gen}. A plain store
     * suffices: wakers find the thread only through a later CAS or release store.
     */
    static void arm(MemorySegment u, long gen) {
        LONG.set(u, WAKE, gen << GEN_SHIFT);
    }

    /** Owner only: withdraws an armed wait nobody could find (the publishing CAS failed). */
    static void disarm(MemorySegment u, long gen) {
        LONG.setRelease(u, WAKE, (gen << GEN_SHIFT) | WOKEN);
    }

    /** Owner only: clears PARKED after waking, keeping WOKEN. */
    public static void clearParked(MemorySegment u) {
        long w = (long) LONG.getVolatile(u, WAKE);
        if ((w & PARKED) != 0) {
            LONG.setRelease(u, WAKE, w & ~PARKED);
        }
    }

    /** Claims the wait of generation {@code gen}; false if it is not (or no longer) waiting. */
    static boolean claim(MemorySegment u, long gen) {
        long expect = gen << GEN_SHIFT;
        for (;;) {
            long w = (long) LONG.getVolatile(u, WAKE);
            if ((w & ~PARKED) != expect) {
                return false;
            }
            if (LONG.compareAndSet(u, WAKE, w, w | CLAIMED)) {
                return true;
            }
        }
    }

    /** Completes a claimed wake-up; true if the owner parked and must be unparked. */
    static boolean release(MemorySegment u) {
        long old = (long) LONG.getAndBitwiseOrRelease(u, WAKE, WOKEN);
        return (old & PARKED) != 0;
    }

    /** Owner: sets PARKED unless already woken; false if woken. */
    public static boolean markParked(MemorySegment u, long w) {
        return (w & WOKEN) == 0 && LONG.compareAndSet(u, WAKE, w, w | PARKED);
    }

    public static boolean isWoken(long w) {
        return (w & WOKEN) != 0;
    }
}
