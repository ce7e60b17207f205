package isola.bench.servers.echo;

import isola.sdk.Server;
import isola.sdk.ServerContext;

/**
 * Echo server served passively on the endpoint in slot {@link #SLOT}: a call runs
 * {@link EchoHandler} on the caller's thread inside this server's domain.
 */
public final class PassiveEchoServer implements Server {
    /** Slot of the endpoint the launcher grants (RECV right). */
    public static final int SLOT = 0;

    @Override
    public void start(ServerContext context) {
        context.servePassive(SLOT, new EchoHandler());
    }
}
