package isola.boot.testservers.slow;

import isola.kernel.Status;
import isola.sdk.Replies;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A test server with a slow request: serves {@code slow} actively on one thread. {@link #SLOW}
 * sleeps {@link #SLOW_MS} in the handler, then replies MR0 * 2; {@link #INC} replies MR0 + 1 at
 * once. Every reply carries in MR1 this incarnation's nonce: each domain loads its own copy of
 * this class, so a restarted server answers with a different one.
 */
public final class SlowServer implements Server {
    public static final String SERVICE = "slow";
    public static final int SLOW = 1;
    public static final int INC = 2;
    public static final long SLOW_MS = 300;

    /** Chosen once per domain (the class's static state is the domain's own). */
    static final long NONCE = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);

    @Override
    public void start(ServerContext ctx) {
        ctx.serveActive(ctx.endpoint(SERVICE), SlowServer::handle, 1, 120);
    }

    static long handle(Sys sys) {
        switch (sys.label()) {
            case SLOW -> {
                long v = sys.mr(0);
                // Not interruptible: a handler runs to its end whatever happens to its domain.
                long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SLOW_MS);
                for (long left = end - System.nanoTime(); left > 0; left = end - System.nanoTime()) {
                    LockSupport.parkNanos(left);
                }
                sys.mr(0, v * 2);
                sys.mr(1, NONCE);
                return Replies.ok(2);
            }
            case INC -> {
                sys.mr(0, sys.mr(0) + 1);
                sys.mr(1, NONCE);
                return Replies.ok(2);
            }
            default -> {
                return Replies.error(sys, Status.E_INVALID_ARG, "slow: unknown request " + sys.label());
            }
        }
    }
}
