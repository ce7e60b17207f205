package isola.kernel;

/**
 * Status codes returned by every kernel entry. Zero is success; every error is distinct and
 * negative. The kernel never allocates to report an error: it returns the code and leaves the
 * offending input in the calling thread's error fields ({@link Tcb#errorArg}), from which
 * {@link #describe} builds a message off the fast path.
 *
 * <h2>Delivery across faults and restarts</h2>
 * A message is copied to at most one receiving thread, at most once, per system call: the kernel
 * never re-sends one. What a call's status says of it:
 * <ul>
 *   <li>OK: delivered, and this is its answer;
 *   <li>E_RESTARTED: delivered to an incarnation of the server that was killed for a restart
 *       ({@link Kernel#killForRestart}) before its answer reached the caller. The server may have acted
 *       on it, and may even have answered (the answer lost to the kill);
 *   <li>E_SERVER_FAULT: delivered, and the thread (or passive handler) serving it faulted;
 *   <li>a call not yet delivered when its server faults (with a fault handler to tell) or dies
 *       for a restart is not failed: it waits in the endpoint's queue and is delivered to the
 *       next incarnation, once (or fails with E_DEAD_DOMAIN if the supervisor gives up, E_TIMEOUT
 *       when its timeout expires). Only a non-blocking send, which cannot wait, gets E_RESTARTED
 *       undelivered.
 * </ul>
 * So retrying after E_RESTARTED or E_SERVER_FAULT ({@code Sys.callRetrying}) is a new send, and
 * the request may be carried out twice, by the old incarnation and by the new: a server whose
 * requests are retried makes them idempotent (as the names server's {@code register} is: its
 * owner's repeat succeeds).
 */
public final class Status {
    private Status() {}

    public static final int OK = 0;
    /** Slot index outside the capability space. */
    public static final int E_INVALID_SLOT = -1;
    /** Slot holds no capability. */
    public static final int E_EMPTY_SLOT = -2;
    /** Capability names an object of another type than the operation needs. */
    public static final int E_WRONG_TYPE = -3;
    /** Capability lacks a right the operation needs. */
    public static final int E_NO_RIGHTS = -4;
    /** Capability was revoked by an ancestor in the derivation tree. */
    public static final int E_REVOKED = -5;
    /** Message length exceeds the message registers. */
    public static final int E_MSG_TOO_LONG = -6;
    /** A blocking call's timeout expired before it completed. */
    public static final int E_TIMEOUT = -7;
    /** The domain serving the endpoint (or owning the thread) is dead or faulted. */
    public static final int E_DEAD_DOMAIN = -8;
    /** A non-blocking call would have had to block. */
    public static final int E_WOULD_BLOCK = -9;
    /** Destination slot already holds a capability. */
    public static final int E_SLOT_OCCUPIED = -10;
    /** A kernel object pool or a domain's object quota is exhausted. */
    public static final int E_NO_MEMORY = -11;
    /** The server faulted while handling this call. */
    public static final int E_SERVER_FAULT = -12;
    /** An argument is out of its range (rights widened, bad priority, too many caps...). */
    public static final int E_INVALID_ARG = -13;
    /** There is no caller to reply to. */
    public static final int E_NO_REPLY = -14;
    /** The object was deleted while the thread waited on it. */
    public static final int E_DELETED = -15;
    /** The calling thread's own domain was killed; the thread must unwind. */
    public static final int E_KILLED = -16;
    /** A capability cannot be revoked or moved this way (e.g. revoking a reply capability). */
    public static final int E_ILLEGAL_OPERATION = -17;
    /**
     * The server crashed while it had taken this call, and its supervisor is restarting it (calls
     * it had not taken wait for the new incarnation instead); or a non-blocking send found it
     * down. The endpoint stays valid: retry the call.
     */
    public static final int E_RESTARTED = -18;
    /** A virtual address is not canonical (bits 63..47 are not all equal). */
    public static final int E_NOT_CANONICAL = -19;
    /** An address or size is not a multiple of the page (or frame block) size. */
    public static final int E_UNALIGNED = -20;
    /** The range is already mapped, or a page table sits where a large page would go. */
    public static final int E_MAPPED = -21;
    /** Nothing is mapped at the address (a double unmap, a protect of a hole). */
    public static final int E_NOT_MAPPED = -22;
    /** No page table covers the address at a level the operation needs: map one first. */
    public static final int E_NO_TABLE = -23;
    /** A frame (or page table) is still mapped and cannot be freed or reused. */
    public static final int E_FRAME_MAPPED = -24;

    private static final String[] NAMES = {
        "OK", "E_INVALID_SLOT", "E_EMPTY_SLOT", "E_WRONG_TYPE", "E_NO_RIGHTS", "E_REVOKED",
        "E_MSG_TOO_LONG", "E_TIMEOUT", "E_DEAD_DOMAIN", "E_WOULD_BLOCK", "E_SLOT_OCCUPIED",
        "E_NO_MEMORY", "E_SERVER_FAULT", "E_INVALID_ARG", "E_NO_REPLY", "E_DELETED", "E_KILLED",
        "E_ILLEGAL_OPERATION", "E_RESTARTED", "E_NOT_CANONICAL", "E_UNALIGNED", "E_MAPPED",
        "E_NOT_MAPPED", "E_NO_TABLE", "E_FRAME_MAPPED",
    };

    public static String name(int status) {
        int i = -status;
        return i >= 0 && i < NAMES.length ? NAMES[i] : "E_UNKNOWN(" + status + ")";
    }

    /**
     * A human-readable message naming the offending input. {@code arg} is the value the kernel
     * recorded with the error (usually the slot index or the bad value), {@code what} the
     * operation.
     */
    public static String describe(int status, String what, long arg) {
        String detail = switch (status) {
            case OK -> "ok";
            case E_INVALID_SLOT -> "slot " + arg + " is outside the capability space";
            case E_EMPTY_SLOT -> "slot " + arg + " is empty";
            case E_WRONG_TYPE -> "slot " + arg + " holds a capability of the wrong type";
            case E_NO_RIGHTS -> "the capability in slot " + arg + " lacks a needed right";
            case E_REVOKED -> "the capability in slot " + arg + " was revoked";
            case E_MSG_TOO_LONG -> "message length " + arg + " exceeds the "
                    + Utcb.MESSAGE_REGISTERS + " message registers";
            case E_TIMEOUT -> "timed out waiting on slot " + arg;
            case E_DEAD_DOMAIN -> "the domain behind slot " + arg + " is dead";
            case E_WOULD_BLOCK -> "would block on slot " + arg;
            case E_SLOT_OCCUPIED -> "destination slot " + arg + " is not empty";
            case E_NO_MEMORY -> "out of kernel objects, memory or quota (" + ObjectType.name((int) arg) + ")";
            case E_SERVER_FAULT -> "the server behind slot " + arg + " faulted during the call";
            case E_INVALID_ARG -> "invalid argument " + arg;
            case E_NO_REPLY -> "no caller is waiting for a reply";
            case E_DELETED -> "the object behind slot " + arg + " was deleted while waiting";
            case E_KILLED -> "this thread's domain was killed";
            case E_ILLEGAL_OPERATION -> "operation not allowed on the capability in slot " + arg;
            case E_RESTARTED -> "the server behind slot " + arg
                    + " crashed and was restarted; retry the call";
            case E_NOT_CANONICAL -> "address 0x" + Long.toHexString(arg) + " is not canonical";
            case E_UNALIGNED -> "0x" + Long.toHexString(arg) + " is not aligned to the page size";
            case E_MAPPED -> "0x" + Long.toHexString(arg) + " is already mapped";
            case E_NOT_MAPPED -> "nothing is mapped at 0x" + Long.toHexString(arg);
            case E_NO_TABLE -> "no page table covers 0x" + Long.toHexString(arg) + ": map one first";
            case E_FRAME_MAPPED -> "the frame at 0x" + Long.toHexString(arg) + " is still mapped";
            default -> "unknown status";
        };
        return what + ": " + name(status) + ": " + detail;
    }
}
