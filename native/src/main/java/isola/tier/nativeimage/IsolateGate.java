package isola.tier.nativeimage;

import static isola.tier.nativeimage.KernelEntry.*;

import isola.sdk.Handler;
import isola.sdk.KernelGate;
import isola.sdk.VirtualMemory;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import org.graalvm.nativeimage.CurrentIsolate;
import org.graalvm.nativeimage.StackValue;
import org.graalvm.nativeimage.c.type.CCharPointer;
import org.graalvm.word.WordFactory;

/**
 * A server isolate's {@link KernelGate}: each system call crosses into the kernel isolate
 * ({@link KernelEntry#syscall}) on the calling OS thread, through that thread's isolate thread
 * there. Arguments are words; the message registers are the UTCB both isolates see.
 */
final class IsolateGate implements KernelGate {
    private static final int NAME_BYTES = 256;
    private final long kernelThread;
    private final long tcb;
    /** This thread's runaway stop: disarmed while the thread is out in the kernel and crossing back. */
    private final RunawayStop stop;
    private VirtualMemory memory;
    /** Physical memory in this isolate (each isolate has its own statics). */
    private static MemorySegment ram;

    IsolateGate(long kernelThread, long tcb, RunawayStop stop) {
        this.kernelThread = kernelThread;
        this.tcb = tcb;
        this.stop = stop;
    }

    /** This thread's runaway stop, which its entries arm around the server's code. */
    RunawayStop stop() {
        return stop;
    }

    private long sys(int op, long a, long b, long c, long d) {
        int armed = stop.disarm(); // the stop must not throw in the transitions (see RunawayStop)
        long r = SYSCALL.getFunctionPointer().invoke(WordFactory.pointer(kernelThread), tcb, op, a, b, c, d);
        stop.restore(armed);
        return r;
    }

    @Override public int call(int slot, long tag, long timeout) { return (int) sys(CALL, slot, tag, timeout, 0); }
    @Override public int send(int slot, long tag, long timeout) { return (int) sys(SEND, slot, tag, timeout, 0); }
    @Override public int recv(int slot, long timeout) { return (int) sys(RECV, slot, timeout, 0, 0); }
    @Override public int reply(long tag) { return (int) sys(REPLY, tag, 0, 0, 0); }
    @Override public int replyTo(int slot, long tag) { return (int) sys(REPLY_TO, slot, tag, 0, 0); }
    @Override public int replyRecv(int slot, long tag, long timeout) { return (int) sys(REPLY_RECV, slot, tag, timeout, 0); }
    @Override public int saveReply(int slot) { return (int) sys(SAVE_REPLY, slot, 0, 0, 0); }
    @Override public int signal(int slot) { return (int) sys(SIGNAL, slot, 0, 0, 0); }
    @Override public int await(int slot, long timeout) { return (int) sys(AWAIT, slot, timeout, 0, 0); }
    @Override public int poll(int slot) { return (int) sys(POLL, slot, 0, 0, 0); }
    @Override public int yield() { return (int) sys(YIELD, 0, 0, 0, 0); }
    @Override public int capCopy(int src, int dst) { return (int) sys(CAP_COPY, src, dst, 0, 0); }
    @Override public int capMint(int src, int dst, int rights, long badge) { return (int) sys(CAP_MINT, src, dst, rights, badge); }
    @Override public int capMove(int src, int dst) { return (int) sys(CAP_MOVE, src, dst, 0, 0); }
    @Override public int capDelete(int slot) { return (int) sys(CAP_DELETE, slot, 0, 0, 0); }
    @Override public int capRevoke(int slot) { return (int) sys(CAP_REVOKE, slot, 0, 0, 0); }
    @Override public int createEndpoint(int dst) { return (int) sys(CREATE_ENDPOINT, dst, 0, 0, 0); }
    @Override public int createNotification(int dst) { return (int) sys(CREATE_NOTIFICATION, dst, 0, 0, 0); }
    @Override public int irqIssue(int controlSlot, int line, int dst) { return (int) sys(IRQ_ISSUE, controlSlot, line, dst, 0); }
    @Override public int irqBind(int handlerSlot, int notificationSlot) { return (int) sys(IRQ_BIND, handlerSlot, notificationSlot, 0, 0); }
    @Override public int irqAck(int handlerSlot) { return (int) sys(IRQ_ACK, handlerSlot, 0, 0, 0); }
    @Override public int irqMask(int handlerSlot, boolean mask) { return (int) sys(IRQ_MASK, handlerSlot, mask ? 1 : 0, 0, 0); }
    @Override public int irqPriority(int handlerSlot, int priority) { return (int) sys(IRQ_PRIORITY, handlerSlot, priority, 0, 0); }
    @Override public int frameAlloc(int dst, long size) { return (int) sys(FRAME_ALLOC, dst, size, 0, 0); }
    @Override public int tableAlloc(int dst, int level) { return (int) sys(TABLE_ALLOC, dst, level, 0, 0); }
    @Override public int tableLink(int domainSlot, int tableSlot, long va) { return (int) sys(TABLE_LINK, domainSlot, tableSlot, va, 0); }
    @Override public int tableUnlink(int domainSlot, long va, int level) { return (int) sys(TABLE_UNLINK, domainSlot, va, level, 0); }
    @Override public int map(int domainSlot, int frameSlot, long va, long flags) { return (int) sys(MAP, domainSlot, frameSlot, va, flags); }
    @Override public int unmap(int domainSlot, long va, long size) { return (int) sys(UNMAP, domainSlot, va, size, 0); }
    @Override public int protect(int domainSlot, long va, long size, long flags) { return (int) sys(PROTECT, domainSlot, va, size, flags); }
    @Override public int domainKill(int slot) { return (int) sys(DOMAIN_KILL, slot, 0, 0, 0); }
    @Override public int serve(int slot) { return (int) sys(SERVE, slot, 0, 0, 0); }

    @Override
    public int servePassive(int slot, Handler handler) {
        return (int) sys(SERVE_PASSIVE, slot, ServerRuntime.register(handler), CurrentIsolate.getIsolate().rawValue(), 0);
    }

    /** Starts a thread of this domain, in this isolate, running {@code body} (see NativeTier#spawn). */
    int spawn(String name, int priority, isola.sdk.ServerContext.ThreadBody body) {
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        int id = ServerRuntime.registerBody(body);
        try (org.graalvm.nativeimage.PinnedObject p = org.graalvm.nativeimage.PinnedObject.create(b)) {
            return (int) sys(SPAWN, b.length == 0 ? 0 : p.addressOfArrayElement(0).rawValue(), ((long) b.length << 32) | (priority & 0xFFFFFFFFL),
                    id, CurrentIsolate.getIsolate().rawValue());
        }
    }

    @Override public int slotCount() { return (int) sys(SLOT_COUNT, 0, 0, 0, 0); }
    @Override public long errorArg() { return sys(ERROR_ARG, 0, 0, 0, 0); }
    @Override public String domainName() { return string(DOMAIN_NAME); }
    @Override public String threadName() { return string(THREAD_NAME); }

    @Override public long translate(long va, int access) { return sys(TRANSLATE, va, access, 0, 0); }
    @Override public int contiguous(long va, long pa, int left, int access) { return (int) sys(CONTIGUOUS, va, pa, left, access); }
    @Override public int pin() { return (int) sys(PIN, 0, 0, 0, 0); }
    @Override public int unpin() { return (int) sys(UNPIN, 0, 0, 0, 0); }

    /**
     * The thread's view of its address space. Translation stays in the kernel's isolate (the
     * MMUs and the TLB bookkeeping live in its heap); the accesses themselves are made here, to
     * physical memory, which the kernel mapped into this process once for every isolate.
     */
    @Override
    public VirtualMemory memory() {
        VirtualMemory m = memory;
        if (m == null) {
            MemorySegment r = ram;
            if (r == null) {
                r = ram = MemorySegment.ofAddress(sys(RAM, 0, 0, 0, 0)).reinterpret(sys(RAM, 1, 0, 0, 0));
            }
            m = memory = new VirtualMemory(this, r);
        }
        return m;
    }

    private String string(int op) {
        CCharPointer buf = StackValue.get(NAME_BYTES);
        int n = (int) sys(op, buf.rawValue(), NAME_BYTES, 0, 0);
        return KernelEntry.getString(buf.rawValue(), n);
    }

    /** How many bytes of a fault's text cross to the kernel (the rest is cut). */
    static final int FAULT_TEXT_BYTES = 1024;

    /**
     * Hands the text of a handler's failure to the kernel, which names it in the fault it
     * reports: the exception's class name and message, as {@code Throwable.toString} puts them.
     *
     * <p>It allocates nothing in this isolate, because it runs when the handler failed for want
     * of heap: after an OutOfMemoryError from small allocations the heap has no room even for
     * the string {@code toString} would build, and an exception escaping the entry point would
     * end the whole process. So the text is encoded from the strings that exist already (the
     * class's name, the exception's message, which for the GC's OutOfMemoryError is preallocated)
     * straight into a buffer on the stack. A message that cannot be had without heap (an
     * overridden getMessage that allocates) is left out.
     */
    static void reportFault(long kernelThread, long tcb, Throwable e) {
        CCharPointer buf = StackValue.get(FAULT_TEXT_BYTES);
        int n = putUtf8(e.getClass().getName(), buf, 0);
        String message;
        try {
            message = e.getLocalizedMessage();
        } catch (Throwable noRoom) {
            message = null;
        }
        if (message != null) {
            n = putUtf8(message, buf, putUtf8(": ", buf, n));
        }
        SYSCALL.getFunctionPointer().invoke(WordFactory.pointer(kernelThread), tcb, FAULT_TEXT, buf.rawValue(), n, 0, 0);
    }

    /**
     * Appends {@code s} as UTF-8 at byte {@code at} of {@code buf} (up to FAULT_TEXT_BYTES, never
     * cutting a character); returns the new length. Reads chars one by one: no byte array, so no
     * heap (see {@link #reportFault}). An unpaired surrogate becomes '?', as String's encoder does.
     */
    private static int putUtf8(String s, CCharPointer buf, int at) {
        for (int i = 0; i < s.length(); i++) {
            int c = s.charAt(i);
            if (Character.isHighSurrogate((char) c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                c = Character.toCodePoint((char) c, s.charAt(++i));
            } else if (Character.isSurrogate((char) c)) {
                c = '?';
            }
            int bytes = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
            if (at + bytes > FAULT_TEXT_BYTES) {
                break;
            }
            if (bytes == 1) {
                buf.write(at++, (byte) c);
                continue;
            }
            buf.write(at++, (byte) (bytes == 2 ? 0xC0 | c >> 6 : bytes == 3 ? 0xE0 | c >> 12 : 0xF0 | c >> 18));
            for (int shift = (bytes - 2) * 6; shift >= 0; shift -= 6) {
                buf.write(at++, (byte) (0x80 | (c >> shift) & 0x3F));
            }
        }
        return at;
    }
}
