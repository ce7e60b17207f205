package isola.kernel;

import java.lang.foreign.MemorySegment;

/**
 * Thread control block: the kernel's Thread object. Fields marked "owner" are written only by
 * the thread itself; the rest change under the kernel lock.
 */
public final class Tcb extends KernelObject {
    public static final int INACTIVE = 0;
    public static final int RUNNING = 1;
    public static final int BLOCKED_SEND = 2;
    public static final int BLOCKED_RECV = 3;
    public static final int BLOCKED_REPLY = 4;
    public static final int BLOCKED_WAIT = 5;
    public static final int FAULTED = 6;
    public static final int DEAD = 7;

    String name;
    /** Home domain: the thread belongs to it and dies with it. */
    Domain domain;
    /** Domain whose capabilities the thread uses now; differs from home inside a passive call. Owner. */
    Domain current;
    int priority;
    volatile int state;
    /** The UTCB: message registers and wake word, in unmanaged memory. */
    MemorySegment utcb;
    /** Endpoint this thread is the sticky fast receiver of, if any. */
    Endpoint fastEp;
    /** Implicit reply object: bound to a caller when this thread receives a call. */
    Reply reply;
    /** Set when the thread's domain is killed; checked at every kernel entry. */
    volatile boolean killed;
    /**
     * The kernel's service clock ({@link Kernel#advanceServiceClock}) when this thread began
     * serving the call it serves now, in {@link #current}: a passive call it entered, or a call
     * it received that needs a reply; 0 when it serves none. A plain store on the IPC paths
     * (by the thread itself, or by the caller that hands it a call before waking it); the
     * watchdog reads it racily ({@link Kernel#oldestCallStart}).
     */
    long serviceStart;

    // ---- while blocked (kernel lock) ----
    KernelObject blockedOn;
    /** Capability a queued sender sends through (badge, grant right). */
    Cap pendingCap;
    long pendingTag;
    boolean pendingCall;

    // ---- queue links: ready queue or an endpoint/notification queue, never two at once ----
    Tcb qNext;
    Tcb qPrev;
    TcbQueue queue;

    // ---- timeout (kernel lock) ----
    long deadline;
    long timerGen;
    long timerSeq;
    int heapIndex = -1;

    // ---- scheduling (deterministic/uniprocessor machine) ----
    long timeslice;
    long sliceLeft;

    // ---- domain's thread list ----
    Tcb domainNext;

    // ---- last error: its status and the input the kernel names in its message (owner) ----
    int error;
    long errorArg;

    /** Records the failure of the thread's call: its status, and the input its message names. */
    int fail(int status, long arg) {
        error = status;
        errorArg = arg;
        return status;
    }
    /** Gave up its slice; the hosted machine yields the JVM thread too. */
    boolean yielded;
    /** Non-null for a domain's kernel-internal fault sender, which has no runner. */
    Domain proxyOf;

    /** The machine's handle on whatever executes this thread (a JVM thread when hosted). */
    public Object runner;
    /** What the machine learnt from this thread's waits (the concurrent machine's spin policy). Owner. */
    public final WaitHistory waits = new WaitHistory();
    /** The MMUs this thread has used (one per address space), registered with the kernel. */
    final java.util.ArrayList<isola.kernel.mem.Mmu> mmus = new java.util.ArrayList<>(2);
    /** Its translator of virtual addresses, made on first use ({@link Kernel#translator}). */
    Translator translator;
    /** The server SDK's per-thread object (message registers and system calls). */
    public Object sdk;
    /**
     * The isolation tier's per-thread state, if it needs any: the native tier keeps here which
     * isolates this thread has entered (a passive call runs on the caller's thread).
     */
    public Object tier;
    /**
     * The message a page fault interrupted, one per nested fault (a passive pager that faults
     * itself runs on this thread): kept across the pager's call ({@link Kernel#pageFault}).
     */
    private long[][] faultSaves = new long[0][];
    private int faultDepth;

    /** The save area of a fault at the next depth (made on first use, kept for the next). */
    long[] enterFault() {
        if (faultDepth == faultSaves.length) {
            faultSaves = java.util.Arrays.copyOf(faultSaves, faultDepth + 1);
            faultSaves[faultDepth] = new long[Utcb.MESSAGE_WORDS];
        }
        return faultSaves[faultDepth++];
    }

    void leaveFault() {
        faultDepth--;
    }

    Tcb(int id) {
        super(ObjectType.THREAD, id);
    }

    public String name() {
        return name;
    }

    public Domain domain() {
        return domain;
    }

    public Domain currentDomain() {
        return current;
    }

    public int priority() {
        return priority;
    }

    /** The thread's state; a wait entered on a fast path shows as recv or reply. */
    public int state() {
        int s = state;
        if (s == RUNNING && utcb != null) {
            long w = Utcb.wakeWord(utcb);
            if (!Utcb.isWoken(w)) {
                return Utcb.isReceiving(w) ? BLOCKED_RECV : BLOCKED_REPLY;
            }
        }
        return s;
    }

    public MemorySegment utcb() {
        return utcb;
    }

    public long errorArg() {
        return errorArg;
    }

    /** True if the thread's last kernel entry was a yield; clears the mark. Owner. */
    public boolean yieldedAndClear() {
        boolean y = yielded;
        yielded = false;
        return y;
    }

    /** True if the thread is not waiting: its wake word says WOKEN. */
    public boolean isAwake() {
        return Utcb.isWoken(Utcb.wakeWord(utcb));
    }

    public boolean isKilled() {
        return killed;
    }

    public KernelObject blockedOn() {
        return blockedOn;
    }

    public static String stateName(int s) {
        return switch (s) {
            case INACTIVE -> "inactive";
            case RUNNING -> "running";
            case BLOCKED_SEND -> "send";
            case BLOCKED_RECV -> "recv";
            case BLOCKED_REPLY -> "reply";
            case BLOCKED_WAIT -> "wait";
            case FAULTED -> "faulted";
            case DEAD -> "dead";
            default -> "state" + s;
        };
    }

    @Override
    public String toString() {
        return "thread#" + id + "(" + name + ")";
    }
}
