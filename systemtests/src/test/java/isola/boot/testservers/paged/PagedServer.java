package isola.boot.testservers.paged;

import isola.sdk.Handler;
import isola.sdk.IsolaException;
import isola.sdk.Replies;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;

/**
 * A test server whose memory comes from its pager: serves {@code paged} passively. {@link #PUT}
 * stores MR1 at page MR0 of its heap (a fresh page faults in, zeroed); {@link #GET} answers the
 * word stored there. Its heap starts at {@link #HEAP}. A page its pager will not map is an
 * error reply naming the address.
 */
public final class PagedServer implements Server, Handler {
    public static final String SERVICE = "paged";
    public static final int PUT = 1;
    public static final int GET = 2;
    public static final long HEAP = 0x0000_0050_0000_0000L;

    @Override
    public void start(ServerContext ctx) {
        ctx.servePassive(ctx.endpoint(SERVICE), this);
    }

    @Override
    public long handle(Sys sys) {
        long at = HEAP + sys.mr(0) * 4096;
        try {
            if (sys.label() == PUT) {
                sys.memory().putLong(at, sys.mr(1));
                return Replies.ok(0);
            }
            sys.mr(0, sys.memory().getLong(at));
            return Replies.ok(1);
        } catch (IsolaException e) { // e.g. its pager is out of memory: E_NOT_MAPPED
            return Replies.error(sys, e.status(), e.getMessage());
        }
    }
}
