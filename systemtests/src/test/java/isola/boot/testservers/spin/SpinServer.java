package isola.boot.testservers.spin;

import isola.sdk.Server;
import isola.sdk.ServerContext;

/** An active server of {@link Spin}'s requests, on one thread, on the endpoint named as the server itself. */
public final class SpinServer implements Server {
    @Override
    public void start(ServerContext ctx) {
        ctx.serveActive(ctx.endpoint(ctx.name()), Spin::handle, 1, 120);
    }
}
