package isola.testservers.ahead;

import isola.sdk.Handler;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;

/**
 * Test server, served passively on slot 0, that notes where it was constructed: any call
 * answers MR0 = 1 if the constructor ran on the JVM thread that then ran {@link #start}.
 * {@link #constructed} (per domain) is set by the constructor.
 */
public final class AheadServer implements Server, Handler {
    public static volatile boolean constructed;
    private final Thread constructedOn;
    private Thread startedOn;

    public AheadServer() {
        constructedOn = Thread.currentThread();
        constructed = true;
    }

    @Override
    public void start(ServerContext context) {
        startedOn = Thread.currentThread();
        context.servePassive(0, this);
    }

    @Override
    public long handle(Sys sys) {
        sys.mr(0, constructedOn == startedOn ? 1 : 0);
        return Sys.tag(0, 1);
    }
}
