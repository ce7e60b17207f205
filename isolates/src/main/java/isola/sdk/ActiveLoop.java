package isola.sdk;

import isola.kernel.Status;

/**
 * The receive loop of an active server thread: reply to the last request and wait for the next
 * in one system call, then run the handler. A message sent without {@code call} gets no reply.
 */
public final class ActiveLoop {
    private ActiveLoop() {}

    /** Runs until the endpoint is deleted or the domain is killed (which unwinds it). */
    public static void run(Sys sys, int slot, Handler handler) {
        run(sys, slot, null, handler);
    }

    /**
     * As {@link #run(Sys, int, Handler)}, for a server that takes capabilities: before each wait,
     * {@code window} says the first slot where a request's capabilities go (-1: none).
     */
    public static void run(Sys sys, int slot, java.util.function.IntSupplier window, Handler handler) {
        long reply = 0;
        for (;;) {
            if (window != null) {
                sys.receiveWindow(window.getAsInt());
            }
            int st = sys.replyRecv(slot, reply);
            if (st == Status.OK) {
                reply = handler.handle(sys);
            } else if (st == Status.E_DELETED || st == Status.E_REVOKED || st == Status.E_EMPTY_SLOT
                    || st == Status.E_INVALID_SLOT || st == Status.E_WRONG_TYPE || st == Status.E_NO_RIGHTS) {
                return; // nothing left to serve
            } else {
                reply = 0;
            }
        }
    }
}
