package isola.testservers.selftest;

import isola.sdk.Handler;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;

/** A passive server that answers each call with its first word plus one: the isolate benchmark's server. */
public final class EchoServer implements Server, Handler {
    public static final String SERVICE = "echo";

    @Override
    public void start(ServerContext context) {
        context.servePassive(context.endpoint(SERVICE), this);
    }

    @Override
    public long handle(Sys sys) {
        sys.mr(0, sys.mr(0) + 1);
        return Sys.tag(0, 1);
    }
}
