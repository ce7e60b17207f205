package isola.kernel;

import isola.kernel.mem.Words;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The user thread control block: a thread's message registers and the word it waits on, in
 * unmanaged memory, like an L4 UTCB. Static accessors over a {@link MemorySegment}, so nothing
 * is allocated per access.
 *
 * <p>Layout, in 64-bit words. The first cache line holds everything a short call touches:
 * the wake word, the tag, the badge, the status, the caller to reply to, and MR0..MR2. A call
 * or reply of up to three words therefore moves one cache line between cores.
 *
 * <pre>
 *   0  WAKE     wake word (see below)
 *   1  TAG      message tag: label, length, capability count ({@link Tag})
 *   2  BADGE    badge of the capability the message came through; notification word on wait
 *   3  STATUS   status of the last blocking call, written by whoever woke the thread
 *   4  REPLY    the caller this thread's implicit reply object answers ({@link Reply})
 *   5..68       MR0..MR63, the message registers
 *   69..71      CAP0..CAP2: slots of capabilities to send; after a receive, where they landed
 *   72 RECV_WINDOW  first slot where received capabilities go; -1 accepts none
 * </pre>
 *
 * Words 0..4 are the kernel's: the SDK reaches only the message registers and the capability
 * words, through bounds-checked accessors. A tier that maps UTCBs into a server's own address
 * space must keep REPLY out of that mapping, or a server could answer any waiting thread.
 *
 * <h2>Wake word</h2>
 * A blocked thread waits on its wake word: a generation, what it waits for (a receive on which
 * endpoint, or something else) and flags. The owner arms it with a fresh generation before it
 * can be found by a waker. A waker first <em>claims</em> it (sets CLAIMED with a CAS that checks
 * the generation it was told, or that the thread receives on its endpoint), then writes the
 * message and status, then sets WOKEN with release semantics. Only one waker can claim a given
 * wait, so a timeout, a kill and a reply racing each other deliver exactly once. The owner
 * spins a while, then sets PARKED and parks; a waker that sees PARKED unparks it.
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
    static final long REPLY = 32;
    static final long MR0 = 40;
    static final long CAP0 = MR0 + 8L * MESSAGE_REGISTERS;
    static final long RECV_WINDOW = CAP0 + 8L * MAX_CAPS;
    public static final long SIZE = RECV_WINDOW + 8;
    public static final long ALIGN = 64;

    public static final long PARKED = 1;
    public static final long CLAIMED = 2;
    public static final long WOKEN = 4;


    public static MemorySegment allocate(Arena arena) {
        MemorySegment s = arena.allocate(SIZE, ALIGN);
        Words.set(s, RECV_WINDOW, NO_WINDOW);
        Words.set(s, WAKE, WOKEN);
        return s;
    }

    // ---- message registers, read and written in place ----

    /** The words of a message as its sender sees it: TAG, BADGE, MR0..MR63, CAP0..CAP2, RECV_WINDOW. */
    static final int MESSAGE_WORDS = 2 + (int) ((SIZE - MR0) >>> 3);

    /** Copies the message words of {@code u} to {@code to} (MESSAGE_WORDS long). */
    static void saveMessage(MemorySegment u, long[] to) {
        MemorySegment.copy(u, ValueLayout.JAVA_LONG, TAG, to, 0, 2);
        MemorySegment.copy(u, ValueLayout.JAVA_LONG, MR0, to, 2, MESSAGE_WORDS - 2);
    }

    /** Puts back what {@link #saveMessage} copied. */
    static void restoreMessage(MemorySegment u, long[] from) {
        MemorySegment.copy(from, 0, u, ValueLayout.JAVA_LONG, TAG, 2);
        MemorySegment.copy(from, 2, u, ValueLayout.JAVA_LONG, MR0, MESSAGE_WORDS - 2);
    }

    public static long mr(MemorySegment u, int i) {
        return Words.get(u, MR0 + ((long) i << 3));
    }

    public static void setMr(MemorySegment u, int i, long v) {
        Words.set(u, MR0 + ((long) i << 3), v);
    }

    public static long tag(MemorySegment u) {
        return Words.get(u, TAG);
    }

    public static void setTag(MemorySegment u, long tag) {
        Words.set(u, TAG, tag);
    }

    public static long badge(MemorySegment u) {
        return Words.get(u, BADGE);
    }

    static void setBadge(MemorySegment u, long badge) {
        Words.set(u, BADGE, badge);
    }

    public static int status(MemorySegment u) {
        return (int) Words.get(u, STATUS);
    }

    static void setStatus(MemorySegment u, int status) {
        Words.set(u, STATUS, status);
    }

    public static int capSlot(MemorySegment u, int i) {
        return (int) Words.get(u, CAP0 + ((long) i << 3));
    }

    public static void setCapSlot(MemorySegment u, int i, int slot) {
        Words.set(u, CAP0 + ((long) i << 3), slot);
    }

    public static long recvWindow(MemorySegment u) {
        return Words.get(u, RECV_WINDOW);
    }

    public static void setRecvWindow(MemorySegment u, long slot) {
        Words.set(u, RECV_WINDOW, slot);
    }

    /** Copies {@code words} message registers from one UTCB to another. */
    static void copyMrs(MemorySegment from, MemorySegment to, int words) {
        if (words <= 8) {
            for (int i = 0; i < words; i++) {
                long off = MR0 + ((long) i << 3);
                Words.set(to, off, Words.get(from, off));
            }
        } else {
            MemorySegment.copy(from, MR0, to, MR0, (long) words << 3);
        }
    }

    // ---- wake word ----
    //
    // bits 0..2   PARKED, CLAIMED, WOKEN
    // bits 3..4   what the thread waits for: WAIT_OTHER, or WAIT_RECV on the endpoint below
    // bits 8..31  endpoint id of a WAIT_RECV
    // bits 32..63 generation: a new one for every wait

    public static final long WAIT_OTHER = 0;
    /** Receiving while queued on the endpoint: only the lock holder may claim it. */
    public static final long WAIT_RECV = 1;
    /** Receiving as the endpoint's bound fast receiver, in no queue: claimed lock-free. */
    public static final long WAIT_RECV_FAST = 2;
    private static final long BUSY = CLAIMED | WOKEN;
    private static final int KIND_SHIFT = 3;
    private static final int EP_SHIFT = 8;
    private static final long EP_MASK = 0xFF_FFFFL;
    static final int GEN_SHIFT = 32;

    public static long wakeWord(MemorySegment u) {
        return Words.getVolatile(u, WAKE);
    }

    /** Generation of the thread's current or last wait. */
    static long generation(MemorySegment u) {
        return wakeWord(u) >>> GEN_SHIFT;
    }

    static long armedWord(long gen, long kind, int endpoint) {
        return gen << GEN_SHIFT | (endpoint & EP_MASK) << EP_SHIFT | kind << KIND_SHIFT;
    }

    /**
     * Owner, or the kernel for a thread it blocks: arms a new wait and returns its generation.
     * Plain store: wakers find the thread only through a later CAS or release store.
     */
    static long arm(MemorySegment u, long kind, int endpoint) {
        long gen = generation(u) + 1;
        // Release: whatever the thread did before (memory accesses included) is done before
        // anyone sees it waiting (the kernel then knows it is not inside an access).
        Words.setRelease(u, WAKE, armedWord(gen, kind, endpoint));
        return gen;
    }

    /** Like {@link #arm}, with a full fence: the owner re-checks shared state right after. */
    static long armVolatile(MemorySegment u, long kind, int endpoint) {
        long gen = generation(u) + 1;
        Words.setVolatile(u, WAKE, armedWord(gen, kind, endpoint));
        return gen;
    }

    /** Owner only: withdraws an armed wait nobody could find yet. */
    static void disarm(MemorySegment u) {
        Words.setRelease(u, WAKE, wakeWord(u) | WOKEN);
    }

    /** Owner: withdraws an armed wait others may find; false if a waker claimed it first. */
    static boolean withdraw(MemorySegment u) {
        for (;;) {
            long w = wakeWord(u);
            if ((w & BUSY) != 0) {
                return false;
            }
            if (Words.compareAndSet(u, WAKE, w, (w & ~PARKED) | WOKEN)) {
                return true;
            }
        }
    }

    /** Claims the wait of generation {@code gen}; false if it is not (or no longer) waiting. */
    static boolean claim(MemorySegment u, long gen) {
        for (;;) {
            long w = wakeWord(u);
            if ((w & BUSY) != 0 || (w >>> GEN_SHIFT) != gen) {
                return false;
            }
            if (Words.compareAndSet(u, WAKE, w, w | CLAIMED)) {
                return true;
            }
        }
    }

    /** Claims the thread if it waits to receive on endpoint {@code endpoint} in wait {@code kind}. */
    static boolean claimReceiver(MemorySegment u, int endpoint, long kind) {
        long want = kind << KIND_SHIFT | (endpoint & EP_MASK) << EP_SHIFT;
        long mask = 3L << KIND_SHIFT | EP_MASK << EP_SHIFT | BUSY;
        for (;;) {
            long w = wakeWord(u);
            if ((w & mask) != want) {
                return false;
            }
            if (Words.compareAndSet(u, WAKE, w, w | CLAIMED)) {
                return true;
            }
        }
    }

    /** Claims whatever wait the thread is in (the kernel knows which: it queued it). */
    static boolean claimAny(MemorySegment u) {
        for (;;) {
            long w = wakeWord(u);
            if ((w & BUSY) != 0) {
                return false;
            }
            if (Words.compareAndSet(u, WAKE, w, w | CLAIMED)) {
                return true;
            }
        }
    }

    /**
     * Completes a claimed wake-up; true if the owner parked and must be unparked. Once a wait is
     * claimed only its claimer writes the word (the owner never parks on a claimed wait, and
     * every other writer CASes from an unclaimed word), so a plain release store suffices.
     */
    static boolean release(MemorySegment u) {
        long w = Words.get(u, WAKE);
        Words.setRelease(u, WAKE, w | WOKEN);
        return (w & PARKED) != 0;
    }

    /**
     * Owner: sets PARKED on an unclaimed wait; false if it was claimed or woken meanwhile. A
     * claimed wait is woken within the claimer's kernel operation, so the owner spins instead.
     */
    public static boolean markParked(MemorySegment u, long w) {
        return (w & BUSY) == 0 && Words.compareAndSet(u, WAKE, w, w | PARKED);
    }

    /** True if a waker has claimed the wait and is about to complete it. */
    public static boolean isClaimed(long w) {
        return (w & CLAIMED) != 0;
    }

    /** Owner only: clears PARKED after waking, keeping WOKEN. */
    public static void clearParked(MemorySegment u) {
        long w = wakeWord(u);
        if ((w & PARKED) != 0) {
            Words.setRelease(u, WAKE, w & ~PARKED);
        }
    }

    public static boolean isWoken(long w) {
        return (w & WOKEN) != 0;
    }

    /** True if the armed wait is a receive. */
    static boolean isReceiving(long w) {
        return (w & WOKEN) == 0 && ((w >>> KIND_SHIFT) & 3) != WAIT_OTHER;
    }
}
