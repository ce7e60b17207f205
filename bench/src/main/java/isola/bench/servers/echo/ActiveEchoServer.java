package isola.bench.servers.echo;

import isola.sdk.Server;
import isola.sdk.ServerContext;

/**
 * Echo server served actively on the endpoint in slot {@link #SLOT} by one thread in a
 * reply-and-receive loop running {@link EchoHandler}.
 */
public final class ActiveEchoServer implements Server {
    /** Slot of the endpoint the launcher grants (RECV right). */
    public static final int SLOT = 0;
    /** Priority of the server's worker thread. */
    public static final int PRIORITY = 100;

    @Override
    public void start(ServerContext context) {
        context.serveActive(SLOT, new EchoHandler(), 1, PRIORITY);
    }
}
