package isola.tier.nativeimage;

import isola.kernel.Kernel;
import isola.kernel.Status;
import isola.kernel.Tcb;
import java.nio.charset.StandardCharsets;
import org.graalvm.nativeimage.IsolateThread;
import org.graalvm.nativeimage.ObjectHandles;
import org.graalvm.nativeimage.c.function.CEntryPoint;
import org.graalvm.nativeimage.c.function.CEntryPointLiteral;
import org.graalvm.nativeimage.c.function.CFunctionPointer;
import org.graalvm.nativeimage.c.function.InvokeCFunctionPointer;
import org.graalvm.nativeimage.c.type.CCharPointer;
import org.graalvm.word.WordFactory;

/**
 * The kernel isolate's system-call entry: what a server isolate's {@link IsolateGate} calls. One
 * entry point for all calls, like a trap: the thread (a handle on its {@link Tcb}), an operation
 * number and four argument words; it returns the status the kernel method returned.
 *
 * <p>Runs in the kernel isolate, on the calling OS thread, entered through that thread's own
 * isolate thread of the kernel isolate. Never throws across the boundary: a Java exception in
 * the kernel here is a kernel bug, reported as {@link Status#E_INVALID_ARG} after printing it.
 */
public final class KernelEntry {
    private KernelEntry() {}

    // Operation numbers: one per KernelGate method.
    static final int CALL = 1, SEND = 2, RECV = 3, REPLY = 4, REPLY_TO = 5, REPLY_RECV = 6, SAVE_REPLY = 7,
            SIGNAL = 8, AWAIT = 9, POLL = 10, YIELD = 11, CAP_COPY = 12, CAP_MINT = 13, CAP_MOVE = 14,
            CAP_DELETE = 15, CAP_REVOKE = 16, CREATE_ENDPOINT = 17, CREATE_NOTIFICATION = 18, IRQ_ISSUE = 19,
            IRQ_BIND = 20, IRQ_ACK = 21, IRQ_MASK = 22, IRQ_PRIORITY = 23, FRAME_ALLOC = 24, TABLE_ALLOC = 25,
            TABLE_LINK = 26, TABLE_UNLINK = 27, MAP = 28, UNMAP = 29, PROTECT = 30, DOMAIN_KILL = 31, SERVE = 32,
            SERVE_PASSIVE = 33, SLOT_COUNT = 34, ERROR_ARG = 35, DOMAIN_NAME = 36, THREAD_NAME = 37, FAULT_TEXT = 38,
            SPAWN = 39, TRANSLATE = 40, CONTIGUOUS = 41, PIN = 42, UNPIN = 43, RAM = 44;

    /** The kernel this isolate runs and its native tier; set once at boot, before any server isolate exists. */
    private static volatile Kernel kernel;
    private static volatile NativeTier tier;

    static void install(NativeTier t, Kernel k) {
        tier = t;
        kernel = k;
    }

    interface SyscallPointer extends CFunctionPointer {
        @InvokeCFunctionPointer
        long invoke(IsolateThread kernelThread, long tcb, int op, long a, long b, long c, long d);
    }

    /** Created at image build time (this class is initialized there, see NativeFeature). */
    static final CEntryPointLiteral<SyscallPointer> SYSCALL = CEntryPointLiteral.create(KernelEntry.class, "syscall",
            IsolateThread.class, long.class, int.class, long.class, long.class, long.class, long.class);

    @CEntryPoint(publishAs = CEntryPoint.Publish.NotPublished)
    static long syscall(IsolateThread self, long tcb, int op, long a, long b, long c, long d) {
        try {
            Tcb t = ObjectHandles.getGlobal().get(WordFactory.signed(tcb));
            return dispatch(kernel, t, op, a, b, c, d);
        } catch (Throwable e) {
            System.err.println("isola native: kernel entry " + op + " failed: " + e);
            e.printStackTrace();
            return Status.E_INVALID_ARG;
        }
    }

    private static long dispatch(Kernel k, Tcb t, int op, long a, long b, long c, long d) {
        return switch (op) {
            case CALL -> k.call(t, (int) a, b, c);
            case SEND -> k.send(t, (int) a, b, c);
            case RECV -> k.recv(t, (int) a, b);
            case REPLY -> k.reply(t, a);
            case REPLY_TO -> k.replyTo(t, (int) a, b);
            case REPLY_RECV -> k.replyRecv(t, (int) a, b, c);
            case SAVE_REPLY -> k.saveReply(t, (int) a);
            case SIGNAL -> k.signal(t, (int) a);
            case AWAIT -> k.await(t, (int) a, b);
            case POLL -> k.poll(t, (int) a);
            case YIELD -> k.yield(t);
            case CAP_COPY -> k.capCopy(t, (int) a, (int) b);
            case CAP_MINT -> k.capMint(t, (int) a, (int) b, (int) c, d);
            case CAP_MOVE -> k.capMove(t, (int) a, (int) b);
            case CAP_DELETE -> k.capDelete(t, (int) a);
            case CAP_REVOKE -> k.capRevoke(t, (int) a);
            case CREATE_ENDPOINT -> k.createEndpoint(t, (int) a);
            case CREATE_NOTIFICATION -> k.createNotification(t, (int) a);
            case IRQ_ISSUE -> k.irqIssue(t, (int) a, (int) b, (int) c);
            case IRQ_BIND -> k.irqBind(t, (int) a, (int) b);
            case IRQ_ACK -> k.irqAck(t, (int) a);
            case IRQ_MASK -> k.irqMask(t, (int) a, b != 0);
            case IRQ_PRIORITY -> k.irqPriority(t, (int) a, (int) b);
            case FRAME_ALLOC -> k.frameAlloc(t, (int) a, b);
            case TABLE_ALLOC -> k.tableAlloc(t, (int) a, (int) b);
            case TABLE_LINK -> k.tableLink(t, (int) a, (int) b, c);
            case TABLE_UNLINK -> k.tableUnlink(t, (int) a, b, (int) c);
            case MAP -> k.map(t, (int) a, (int) b, c, d);
            case UNMAP -> k.unmap(t, (int) a, b, c);
            case PROTECT -> k.protect(t, (int) a, b, c, d);
            case DOMAIN_KILL -> k.domainKill(t, (int) a);
            case SERVE -> k.serve(t, (int) a, null);
            // b: the handler's number in the server isolate, c: that isolate.
            case SERVE_PASSIVE -> k.serve(t, (int) a, new IsolatePassiveEntry(ServerIsolate.of(c), (int) b));
            case SLOT_COUNT -> t.currentDomain().cspace().size();
            case ERROR_ARG -> t.errorArg();
            case DOMAIN_NAME -> putString(t.currentDomain().name(), a, b);
            case THREAD_NAME -> putString(t.name(), a, b);
            // a: the name's address, b: its length << 32 | the priority, c: the body's number, d: the isolate.
            case SPAWN -> tier.spawn(ServerIsolate.of(d), t.currentDomain(), getString(a, (int) (b >>> 32)), (int) b, (int) c);
            case TRANSLATE -> k.translator(t).physical(a, (int) b);
            case CONTIGUOUS -> k.translator(t).contiguous(a, b, (int) c, (int) d);
            case PIN -> k.translator(t).pin();
            case UNPIN -> k.translator(t).unpin();
            // Physical memory, mapped in this process: a = 0 its address, else its size.
            case RAM -> a == 0 ? k.machine().ram().slice(0, 0).address() : k.machine().ram().size();
            case FAULT_TEXT -> {
                NativeThread.of(t).faultText = getString(a, (int) b);
                yield Status.OK;
            }
            default -> Status.E_INVALID_ARG;
        };
    }

    /**
     * Writes {@code s} as UTF-8 into the buffer at {@code address} (cut to {@code capacity});
     * returns the length. With {@link #getString}, how text crosses between isolates, both ways.
     */
    static long putString(String s, long address, long capacity) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        int n = (int) Math.min(bytes.length, capacity);
        CCharPointer p = WordFactory.pointer(address);
        for (int i = 0; i < n; i++) {
            p.write(i, bytes[i]);
        }
        return n;
    }

    static String getString(long address, int length) {
        CCharPointer p = WordFactory.pointer(address);
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = p.read(i);
        }
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
