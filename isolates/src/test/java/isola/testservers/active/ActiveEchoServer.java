package isola.testservers.active;

import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;

/** Test server, served actively on slot 0 by one thread: label 1 echoes MR0+1, label 2 throws. */
public final class ActiveEchoServer implements Server {
    static int starts;

    @Override
    public void start(ServerContext context) {
        starts++;
        context.serveActive(0, ActiveEchoServer::handle, 1, 100);
    }

    static long handle(Sys sys) {
        if (sys.label() == 2) {
            throw new IllegalStateException("active echo asked to crash");
        }
        sys.mr(0, sys.mr(0) + 1);
        sys.mr(1, starts);
        return Sys.tag(0, 2);
    }
}
