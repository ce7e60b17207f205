package isola.testservers.selftest;

import isola.sdk.Handler;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;

/** An active server: one thread of its own, in its own isolate, receiving calls and answering MR0 + 1. */
public final class ActiveEchoServer implements Server, Handler {
    public static final String SERVICE = "active-echo";

    @Override
    public void start(ServerContext context) {
        context.serveActive(context.endpoint(SERVICE), this, 1, 10);
    }

    @Override
    public long handle(Sys sys) {
        sys.mr(0, sys.mr(0) + 1);
        return Sys.tag(0, 1);
    }
}
