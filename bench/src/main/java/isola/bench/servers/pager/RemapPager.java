package isola.bench.servers.pager;

import isola.kernel.Tag;
import isola.sdk.Handler;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;

/**
 * A passive pager for the page-fault benchmark: it maps one frame, the one in {@link #FRAME},
 * at the faulting page of the client whose DOMAIN capability is in the slot named by the
 * badge. It allocates nothing, so the benchmark measures fault delivery and the map call.
 */
public final class RemapPager implements Server, Handler {
    public static final int SLOT = 0;
    public static final int CLIENT = 1;
    public static final int FRAME = 2;

    @Override
    public void start(ServerContext context) {
        context.servePassive(SLOT, this);
    }

    @Override
    public long handle(Sys sys) {
        int st = sys.map((int) sys.badge(), FRAME, sys.mr(0) & ~0xFFFL, Sys.MAP_WRITE | Sys.MAP_USER | Sys.MAP_NO_EXEC);
        return Tag.of(st == 0 ? 0 : 1, 0);
    }
}
