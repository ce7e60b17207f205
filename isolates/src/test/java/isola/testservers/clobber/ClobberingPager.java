package isola.testservers.clobber;

import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;

/**
 * Test pager, passive (so it runs on the faulting thread and shares its message registers): it
 * maps a fresh frame at the faulting page of the client whose DOMAIN capability is in
 * {@link #CLIENT}, then scribbles over every message register and capability word and replies
 * with all 64 registers: none of it may reach the faulting thread.
 */
public final class ClobberingPager implements Server {
    public static final int ENDPOINT = 0;
    public static final int CLIENT = 1;
    /** Slots for the client's three tables, then one per frame. */
    private static final int TABLES = 2;
    private int nextFrame = 5;
    private boolean linked;

    @Override
    public void start(ServerContext context) {
        context.servePassive(ENDPOINT, sys -> {
            long va = sys.mr(0) & ~0xFFFL;
            if (!linked) {
                sys.check(sys.linkTables(CLIENT, va, Sys.PAGE_4K, TABLES), "pager: tables");
                linked = true;
            }
            int frame = nextFrame++;
            sys.check(sys.frameAlloc(frame, Sys.PAGE_4K), "pager: frame");
            sys.check(sys.map(CLIENT, frame, va, Sys.MAP_WRITE | Sys.MAP_USER | Sys.MAP_NO_EXEC), "pager: map");
            for (int i = 0; i < 64; i++) {
                sys.mr(i, -1 - i);
            }
            for (int i = 0; i < 3; i++) {
                sys.capSlot(i, 9);
            }
            sys.receiveWindow(9);
            return Sys.tag(0, 64);
        });
    }
}
