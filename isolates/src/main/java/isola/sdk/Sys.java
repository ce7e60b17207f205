package isola.sdk;

import isola.kernel.Kernel;
import isola.kernel.KilledError;
import isola.kernel.Status;
import isola.kernel.Tag;
import isola.kernel.Tcb;
import isola.kernel.Utcb;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A kernel thread's view of the kernel: its message registers, read and written in place in
 * unmanaged memory, and its system calls. One per thread; a passive server's handler gets the
 * caller's, since it runs on the caller's thread (inside the server's domain, so capability
 * slots name the server's capabilities).
 *
 * <p>System calls return a status ({@link Status#OK} or a negative error) and never allocate;
 * {@link #check} turns an error into an {@link IsolaException} whose message names the input.
 * A call that finds the thread's own domain killed throws {@link KilledError} to unwind it.
 */
public final class Sys {
    /** Block until done. */
    public static final long FOREVER = Kernel.FOREVER;

    private final KernelGate gate;
    private final MemorySegment utcb;
    private final long[] retryBuffer = new long[Utcb.MESSAGE_REGISTERS];

    private Sys(KernelGate gate, MemorySegment utcb) {
        this.gate = gate;
        this.utcb = utcb;
    }

    /** The Sys of {@code tcb}, created on first use. Host side (machine, tiers, tests) only. */
    public static Sys of(Kernel kernel, Tcb tcb) {
        Object s = tcb.sdk;
        if (s instanceof Sys sys && sys.gate instanceof DirectGate d && d.tcb() == tcb && sys.utcb == tcb.utcb()) {
            return sys;
        }
        Sys sys = new Sys(new DirectGate(kernel, tcb), tcb.utcb());
        tcb.sdk = sys;
        return sys;
    }

    /**
     * The Sys of a thread whose kernel is reached through {@code gate} and whose message
     * registers are {@code utcb}: how a tier whose servers do not share the kernel's heap
     * (the native tier) makes one. The caller caches it per thread.
     */
    public static Sys over(KernelGate gate, MemorySegment utcb) {
        return new Sys(Objects.requireNonNull(gate, "gate"), Objects.requireNonNull(utcb, "utcb"));
    }

    /** A message tag: what {@link Handler#handle} returns and what the raw calls take. */
    public static long tag(int label, int length) {
        return Tag.of(label, length);
    }

    public static long tag(int label, int length, int caps) {
        return Tag.of(label, length, caps);
    }

    // ---- message registers ----

    public long mr(int i) {
        return Utcb.mr(utcb, Objects.checkIndex(i, Utcb.MESSAGE_REGISTERS));
    }

    public Sys mr(int i, long value) {
        Utcb.setMr(utcb, Objects.checkIndex(i, Utcb.MESSAGE_REGISTERS), value);
        return this;
    }

    /** Most bytes of text {@link #putString} fits after register {@code first}. */
    public static int maxStringBytes(int first) {
        return (Utcb.MESSAGE_REGISTERS - 1 - first) * 8;
    }

    /**
     * The end (a char index) of the longest run of {@code s} from {@code from} whose UTF-8 form
     * fits {@code maxBytes}, never splitting a surrogate pair: how text is cut to fit messages.
     */
    public static int fit(String s, int from, int maxBytes) {
        int bytes = 0;
        int i = from;
        while (i < s.length()) {
            int cp = s.codePointAt(i);
            int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (bytes + n > maxBytes) {
                break;
            }
            bytes += n;
            i += Character.charCount(cp);
        }
        return i;
    }

    /**
     * Writes {@code s} as UTF-8 into the registers from {@code first}: its byte length, then the
     * bytes packed eight to a word. Returns the first register after it, so a message can go
     * on. Text is for control messages (names, log lines), never the IPC fast path.
     */
    public int putString(int first, String s) {
        byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        if (first < 0 || b.length > maxStringBytes(first)) {
            throw new IsolaException(Status.E_MSG_TOO_LONG, "text of " + b.length + " bytes does not fit"
                    + " the registers from MR" + first + " (at most " + Math.max(0, maxStringBytes(first))
                    + "): \"" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "\"");
        }
        mr(first, b.length);
        int words = (b.length + 7) >>> 3;
        for (int w = 0; w < words; w++) {
            long v = 0;
            for (int i = 0; i < 8 && w * 8 + i < b.length; i++) {
                v |= (b[w * 8 + i] & 0xFFL) << (8 * i);
            }
            mr(first + 1 + w, v);
        }
        return first + 1 + words;
    }

    /** The register after the text {@link #putString} wrote from {@code first}: where the message goes on. */
    public int afterString(int first) {
        long n = Math.max(0, Math.min(mr(first), maxStringBytes(first)));
        return first + 1 + (int) ((n + 7) >>> 3);
    }

    /** Reads text written by {@link #putString} from register {@code first}; null if malformed. */
    public String string(int first) {
        long n = first >= 0 && first < Utcb.MESSAGE_REGISTERS ? mr(first) : -1;
        if (n < 0 || n > maxStringBytes(first)) {
            return null;
        }
        byte[] b = new byte[(int) n];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (mr(first + 1 + (i >>> 3)) >>> (8 * (i & 7)));
        }
        return new String(b, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Label of the message last received or replied. */
    public int label() {
        return Tag.label(Utcb.tag(utcb));
    }

    /** Number of message registers in the message last received or replied. */
    public int length() {
        return Tag.length(Utcb.tag(utcb));
    }

    /** Number of capabilities that arrived with the last message. */
    public int capsReceived() {
        return Tag.caps(Utcb.tag(utcb));
    }

    /** Badge of the capability the last message came through; the bits of the last wait. */
    public long badge() {
        return Utcb.badge(utcb);
    }

    /** Slot of the i-th capability to send; after a receive, where the i-th one landed. */
    public int capSlot(int i) {
        return Utcb.capSlot(utcb, Objects.checkIndex(i, Utcb.MAX_CAPS));
    }

    public Sys capSlot(int i, int slot) {
        Utcb.setCapSlot(utcb, Objects.checkIndex(i, Utcb.MAX_CAPS), slot);
        return this;
    }

    /** First slot where received capabilities go; -1 (the default) accepts none. */
    public Sys receiveWindow(int slot) {
        Utcb.setRecvWindow(utcb, slot);
        return this;
    }

    // ---- IPC ----

    public int call(int slot, int label, int length) {
        return unwind(gate.call(slot, Tag.of(label, length), FOREVER));
    }

    /** Call with a raw tag (e.g. carrying capabilities) and a timeout in nanoseconds. */
    public int call(int slot, long tag, long timeoutNs) {
        return unwind(gate.call(slot, tag, timeoutNs));
    }

    /** Attempts of {@link #callRetrying} that span a restart: about 1.5 s of backoff in all. */
    public static final int RESTART_ATTEMPTS = 20;

    /**
     * A call that survives a server restart: on E_RESTARTED or E_SERVER_FAULT it restores the
     * request (a faulting handler may have overwritten the registers in place) and retries,
     * backing off from 1 ms, until {@code attempts} calls were made. Returns the last status.
     */
    public int callRetrying(int slot, long tag, int attempts) {
        int words = Tag.length(tag);
        long[] saved = retryBuffer;
        for (int i = 0; i < words; i++) {
            saved[i] = mr(i);
        }
        long backoffNs = 1_000_000;
        int st = Status.E_INVALID_ARG;
        for (int a = 0; a < attempts; a++) {
            if (a > 0) {
                java.util.concurrent.locks.LockSupport.parkNanos(backoffNs);
                backoffNs = Math.min(backoffNs * 2, 100_000_000);
                for (int i = 0; i < words; i++) {
                    mr(i, saved[i]);
                }
            }
            st = call(slot, tag, FOREVER);
            if (st != Status.E_RESTARTED && st != Status.E_SERVER_FAULT) {
                return st;
            }
            interruptedCalls++;
        }
        return st;
    }

    private long interruptedCalls;

    /**
     * Calls of {@link #callRetrying} so far that a server's crash or restart interrupted (each
     * retried): a client that must know whether its server lost state compares this before and
     * after a call.
     */
    public long interruptedCalls() {
        return interruptedCalls;
    }

    public int send(int slot, int label, int length) {
        return unwind(gate.send(slot, Tag.of(label, length), FOREVER));
    }

    public int send(int slot, long tag, long timeoutNs) {
        return unwind(gate.send(slot, tag, timeoutNs));
    }

    /** Non-blocking send: E_WOULD_BLOCK unless a receiver is waiting. */
    public int trySend(int slot, long tag) {
        return unwind(gate.send(slot, tag, Kernel.POLL));
    }

    public int recv(int slot) {
        return unwind(gate.recv(slot, FOREVER));
    }

    public int recv(int slot, long timeoutNs) {
        return unwind(gate.recv(slot, timeoutNs));
    }

    /** Non-blocking receive: E_WOULD_BLOCK unless a sender is waiting. */
    public int tryRecv(int slot) {
        return unwind(gate.recv(slot, Kernel.POLL));
    }

    public int reply(long tag) {
        return unwind(gate.reply(tag));
    }

    /** Replies through a reply capability saved with {@link #saveReply}; the slot is emptied. */
    public int replyTo(int slot, long tag) {
        return unwind(gate.replyTo(slot, tag));
    }

    public int replyRecv(int slot, long tag) {
        return unwind(gate.replyRecv(slot, tag, FOREVER));
    }

    public int replyRecv(int slot, long tag, long timeoutNs) {
        return unwind(gate.replyRecv(slot, tag, timeoutNs));
    }

    public int saveReply(int slot) {
        return unwind(gate.saveReply(slot));
    }

    // ---- notifications, scheduling ----

    public int signal(int slot) {
        return unwind(gate.signal(slot));
    }

    /** Waits for a signal; the bits are then in {@link #badge()}. */
    public int await(int slot) {
        return unwind(gate.await(slot, FOREVER));
    }

    public int await(int slot, long timeoutNs) {
        return unwind(gate.await(slot, timeoutNs));
    }

    /** The pending bits (0 if none) in {@link #badge()}, without blocking. */
    public int poll(int slot) {
        return unwind(gate.poll(slot));
    }

    public int yield() {
        return unwind(gate.yield());
    }

    // ---- capabilities ----

    public int copy(int src, int dst) {
        return unwind(gate.capCopy(src, dst));
    }

    /** Derives a capability with fewer rights ({@code -1}: the same) and a badge (0: the same). */
    public int mint(int src, int dst, int rights, long badge) {
        return unwind(gate.capMint(src, dst, rights, badge));
    }

    public int move(int src, int dst) {
        return unwind(gate.capMove(src, dst));
    }

    public int delete(int slot) {
        return unwind(gate.capDelete(slot));
    }

    public int revoke(int slot) {
        return unwind(gate.capRevoke(slot));
    }

    public int createEndpoint(int dst) {
        return unwind(gate.createEndpoint(dst));
    }

    public int createNotification(int dst) {
        return unwind(gate.createNotification(dst));
    }

    // ---- memory: frames, page tables, mappings (x86-64 page sizes and entry flags) ----

    /** Slots in this thread's (current) domain's capability space. */
    public int slotCount() {
        return gate.slotCount();
    }

    // ---- interrupts ----

    /** Takes interrupt line {@code line} (1..223) as an IRQ handler capability in {@code dst}, with the IRQ control capability. */
    public int irqIssue(int controlSlot, int line, int dst) {
        return unwind(gate.irqIssue(controlSlot, line, dst));
    }

    /** Deliveries of the handler's line signal the notification in {@code notificationSlot}; unmasks the line. */
    public int irqBind(int handlerSlot, int notificationSlot) {
        return unwind(gate.irqBind(handlerSlot, notificationSlot));
    }

    /** End of interrupt: the next raise of the line can be delivered. */
    public int irqAck(int handlerSlot) {
        return unwind(gate.irqAck(handlerSlot));
    }

    public int irqMask(int handlerSlot, boolean mask) {
        return unwind(gate.irqMask(handlerSlot, mask));
    }

    public int irqPriority(int handlerSlot, int priority) {
        return unwind(gate.irqPriority(handlerSlot, priority));
    }

    /** This thread's view of its domain's address space, through its own MMU. */
    public VirtualMemory memory() {
        return gate.memory();
    }

    /** The domain slot of the mapping calls that names this thread's own domain. */
    public static final int SELF = Kernel.SELF;
    public static final long PAGE_4K = 1L << 12, PAGE_2M = 1L << 21, PAGE_1G = 1L << 30;
    /** Mapping flags: writable, user-accessible, not executable (the x86-64 entry bits). */
    public static final long MAP_WRITE = 1L << 1, MAP_USER = 1L << 2, MAP_NO_EXEC = 1L << 63;

    /** A zeroed frame of {@code size} (PAGE_4K, PAGE_2M or PAGE_1G) from this domain's quota, into {@code dst}. */
    public int frameAlloc(int dst, long size) {
        return unwind(gate.frameAlloc(dst, size));
    }

    /** A zeroed page table of {@code level} (3: PDPT, 2: directory, 1: table), into {@code dst}. */
    public int tableAlloc(int dst, int level) {
        return unwind(gate.tableAlloc(dst, level));
    }

    /** Links the table in {@code tableSlot} to cover {@code va} in the address space of {@code domainSlot} (or SELF). */
    public int tableLink(int domainSlot, int tableSlot, long va) {
        return unwind(gate.tableLink(domainSlot, tableSlot, va));
    }

    /**
     * Allocates and links, in the address space of {@code domainSlot} (or SELF), the page tables
     * a page of {@code size} at {@code va} needs and none of which exists yet: level 3 into slot
     * {@code firstSlot}, level 2 into the next, level 1 (for a 4 KiB page) into the one after.
     * OK, or the first failure's status.
     */
    public int linkTables(int domainSlot, long va, long size, int firstSlot) {
        int lowest = size == PAGE_4K ? 1 : size == PAGE_2M ? 2 : size == PAGE_1G ? 3 : 0;
        if (lowest == 0) {
            return Status.E_INVALID_ARG;
        }
        for (int level = 3, slot = firstSlot; level >= lowest; level--, slot++) {
            int st = tableAlloc(slot, level);
            if (st == Status.OK) {
                st = tableLink(domainSlot, slot, va);
            }
            if (st != Status.OK) {
                return st;
            }
        }
        return Status.OK;
    }

    public int tableUnlink(int domainSlot, long va, int level) {
        return unwind(gate.tableUnlink(domainSlot, va, level));
    }

    /** Maps the frame in {@code frameSlot} at {@code va} of {@code domainSlot}'s address space (or SELF). */
    public int map(int domainSlot, int frameSlot, long va, long flags) {
        return unwind(gate.map(domainSlot, frameSlot, va, flags));
    }

    public int unmap(int domainSlot, long va, long size) {
        return unwind(gate.unmap(domainSlot, va, size));
    }

    public int protect(int domainSlot, long va, long size, long flags) {
        return unwind(gate.protect(domainSlot, va, size, flags));
    }

    /** Kills the domain named by the DOMAIN capability in {@code slot} (CONTROL right). */
    public int kill(int slot) {
        return unwind(gate.domainKill(slot));
    }

    /** Serves the endpoint in {@code slot} (RECV right) with this thread's domain, actively. */
    public int serve(int slot) {
        return unwind(gate.serve(slot));
    }

    /** Serves the endpoint in {@code slot} passively: calls run {@code handler} on the caller's thread. */
    public int servePassive(int slot, Handler handler) {
        return unwind(gate.servePassive(slot, handler));
    }

    // ---- errors ----

    /** Throws an {@link IsolaException} naming the input if {@code status} is an error. */
    public int check(int status, String operation) {
        if (status < 0) {
            throw new IsolaException(status, describe(status, operation));
        }
        return status;
    }

    /** A message for the last error of this thread, naming the offending input. */
    public String describe(int status, String operation) {
        return Status.describe(status, operation + " in " + gate.domainName(), gate.errorArg());
    }

    /** The name of this thread's current domain (the server's, inside a passive call). */
    public String domainName() {
        return gate.domainName();
    }

    public String threadName() {
        return gate.threadName();
    }

    private static int unwind(int status) {
        if (status == Status.E_KILLED) {
            throw KilledError.INSTANCE;
        }
        return status;
    }
}
