package isola.testservers.echo;

import isola.sdk.Handler;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;

/**
 * Test server, served passively on slot 0. Label 1: MR0+1. Label 2: throws. Label 3: returns and
 * increments a static counter (per domain, since each domain loads its own copy of this class).
 */
public final class EchoServer implements Server, Handler {
    public static final int ECHO = 1;
    public static final int CRASH = 2;
    public static final int COUNT = 3;
    static long counter;

    @Override
    public void start(ServerContext context) {
        context.servePassive(0, this);
    }

    @Override
    public long handle(Sys sys) {
        switch (sys.label()) {
            case ECHO -> sys.mr(0, sys.mr(0) + 1);
            case CRASH -> throw new IllegalStateException("echo asked to crash");
            case COUNT -> sys.mr(0, counter++);
            default -> sys.mr(0, -1);
        }
        sys.mr(1, sys.badge());
        return Sys.tag(0, 2);
    }
}
