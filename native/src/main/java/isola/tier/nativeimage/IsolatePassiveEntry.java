package isola.tier.nativeimage;

import isola.kernel.KilledError;
import isola.kernel.PassiveEntry;
import isola.kernel.Tcb;
import org.graalvm.nativeimage.CurrentIsolate;
import org.graalvm.word.WordFactory;

/**
 * A passive server in its own isolate, as the kernel enters it: the call crosses into the
 * server's isolate on the caller's OS thread, and the handler reads the request from and writes
 * the reply to the caller's UTCB in place. The fast path allocates nothing: the caller's
 * isolate thread there is looked up by index, and the handler's {@code Sys} is cached there.
 */
final class IsolatePassiveEntry implements PassiveEntry {
    private final ServerIsolate isolate;
    private final int handler;

    IsolatePassiveEntry(ServerIsolate isolate, int handler) {
        this.isolate = isolate;
        this.handler = handler;
    }

    @Override
    public long enter(Tcb caller) {
        NativeThread n = NativeThread.of(caller);
        long thread = isolate.enter(n);
        if (thread == 0) {
            throw new ServerIsolateFault(isolate.name + ": its isolate is being torn down");
        }
        long r;
        try {
            r = ServerEntry.PASSIVE.getFunctionPointer().invoke(WordFactory.pointer(thread), handler, n.index, n.handle,
                    n.utcbAddress, CurrentIsolate.getCurrentThread().rawValue());
        } finally {
            isolate.leave(n);
        }
        if (r >= 0) {
            return r;
        }
        if (r == ServerEntry.KILLED) {
            throw KilledError.INSTANCE;
        }
        throw new ServerIsolateFault(isolate.name + ": passive handler failed: " + ServerEntry.faultText(r, n));
    }

    /** A passive handler threw in its isolate; the message is its exception's text. */
    static final class ServerIsolateFault extends RuntimeException {
        ServerIsolateFault(String message) {
            super(message, null, false, false);
        }
    }
}
