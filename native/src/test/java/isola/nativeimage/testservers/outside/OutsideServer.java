package isola.nativeimage.testservers.outside;

import isola.sdk.ServerContext;
import isola.sdk.Sys;

/**
 * A server of one's own that the native executable does not contain (test code is not compiled
 * into it): an image naming it boots in the vm tier, and the native tier refuses it.
 */
public final class OutsideServer implements isola.sdk.Server {
    @Override
    public void start(ServerContext ctx) {
        ctx.servePassive(ctx.endpoint("outside"), sys -> {
            sys.mr(0, sys.mr(0) + 1);
            return Sys.tag(0, 1);
        });
    }
}
