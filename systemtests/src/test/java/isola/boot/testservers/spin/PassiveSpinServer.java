package isola.boot.testservers.spin;

import isola.sdk.Server;
import isola.sdk.ServerContext;

/** A passive server of {@link Spin}'s requests (they run on the caller's thread), on the endpoint named as the server itself. */
public final class PassiveSpinServer implements Server {
    @Override
    public void start(ServerContext ctx) {
        ctx.servePassive(ctx.endpoint(ctx.name()), Spin::handle);
    }
}
