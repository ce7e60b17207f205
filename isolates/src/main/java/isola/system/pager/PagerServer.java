package isola.system.pager;

import isola.kernel.Status;
import isola.kernel.Tag;
import isola.sdk.Handler;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;

/**
 * The demand-zero pager, a passive server: a page fault of a client domain runs this handler
 * on the faulting thread, which maps a fresh zeroed 4 KiB frame at the faulting page (linking
 * any page tables missing on the way) into the client's address space, and returns; the access
 * is then retried. Like L4's sigma0 and seL4's user-level pagers, the kernel only delivers the
 * fault.
 *
 * <p>The badge of a client's pager capability is the slot, in this server's capability space,
 * of a DOMAIN capability (CONTROL right) to that client. Frames and tables come from this
 * server's frame quota; their capabilities stay in its slots from {@link #FIRST_FREE} on (a
 * mapped frame keeps its capability). A fault it will not serve (a protection violation, no
 * capability to the client, no memory or slot left) is answered with label {@link #REFUSED},
 * and the client's access fails with E_NOT_MAPPED.
 */
public final class PagerServer implements Server, Handler {
    /** Slot of the endpoint it serves. */
    public static final int ENDPOINT = 0;
    /** First slot for frame and table capabilities; client DOMAIN capabilities go below it. */
    public static final int FIRST_FREE = 64;
    public static final int REFUSED = 1;
    /** #PF error code bit: the page was present (a protection violation, not a missing page). */
    private static final long PF_PRESENT = 1;

    private int nextSlot = FIRST_FREE;
    private int slots;

    @Override
    public void start(ServerContext ctx) {
        slots = ctx.sys().slotCount();
        ctx.servePassive(ENDPOINT, this);
    }

    /** Faults of several client threads can arrive at once: they share the slot counter. */
    @Override
    public synchronized long handle(Sys sys) {
        long va = sys.mr(0) & ~0xFFFL;
        long code = sys.mr(1);
        int client = (int) sys.badge();
        if (sys.label() != isola.kernel.Kernel.PAGE_FAULT || (code & PF_PRESENT) != 0 || client <= ENDPOINT || client >= FIRST_FREE) {
            return Tag.of(REFUSED, 0);
        }
        for (int level = 3; level >= 1; level--) {
            if (nextSlot >= slots || sys.tableAlloc(nextSlot, level) != Status.OK) {
                return Tag.of(REFUSED, 0);
            }
            int st = sys.tableLink(client, nextSlot, va);
            if (st == Status.OK) {
                nextSlot++;
            } else {
                sys.delete(nextSlot); // already there (E_MAPPED): give the new one back
                if (st != Status.E_MAPPED) {
                    return Tag.of(REFUSED, 0);
                }
            }
        }
        if (nextSlot >= slots || sys.frameAlloc(nextSlot, Sys.PAGE_4K) != Status.OK) {
            return Tag.of(REFUSED, 0);
        }
        if (sys.map(client, nextSlot, va, Sys.MAP_WRITE | Sys.MAP_USER | Sys.MAP_NO_EXEC) != Status.OK) {
            sys.delete(nextSlot);
            return Tag.of(REFUSED, 0);
        }
        nextSlot++;
        return Tag.of(0, 0);
    }
}
