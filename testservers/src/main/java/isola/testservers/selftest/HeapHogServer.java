package isola.testservers.selftest;

import isola.sdk.Handler;
import isola.sdk.Keep;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;

/**
 * A server whose first incarnation fills its isolate's heap with small objects as it starts,
 * as a leak would, and whose later ones serve (MR0 + 1), told apart by what init keeps for it.
 * The booted test of a server out of memory uses it: the supervisor must be told the error by
 * name and restart it, while the other servers go on.
 */
public final class HeapHogServer implements Server, Handler {
    public static final String SERVICE = "hog";
    static final String KEPT_FILLED = "filled";

    /** A header and a reference, the smallest object there is: the heap fills to its last bytes. */
    private record Link(Link next) {}

    private Link hoard;

    @Override
    public void start(ServerContext context) {
        if (!context.kept().values().containsKey(KEPT_FILLED)) {
            Keep.put(context.sys(), context.keep(), KEPT_FILLED, "yes"); // before failing: the next incarnation serves
            fill();
        }
        context.servePassive(context.endpoint(SERVICE), this);
    }

    /** Allocates until the isolate's heap is exhausted; every link stays reachable. */
    private void fill() {
        for (;;) {
            hoard = new Link(hoard);
        }
    }

    @Override
    public long handle(Sys sys) {
        sys.mr(0, sys.mr(0) + 1);
        return Sys.tag(0, 1);
    }
}
