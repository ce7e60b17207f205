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
 * mapping belongs to the capability that made it). It links only the tables a client lacks,
 * and a page it served before (which the client has since unmapped) gets its frame back,
 * contents and all, so a client's use is bounded by the pages it touches. A fault it will not
 * serve (a protection violation, no capability to the client, no memory or slot left) is
 * answered with label {@link #REFUSED}, and the client's access fails with E_NOT_MAPPED.
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
    /** Tables linked per client: region (va >> the level's span) << 8 | level << 6 | client. */
    private final java.util.HashSet<Long> tables = new java.util.HashSet<>();
    /** The frame capability's slot for each page served: page number << 6 | client. */
    private final java.util.HashMap<Long, Integer> pages = new java.util.HashMap<>();

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
            long key = (va >>> (12 + 9 * level)) << 8 | (long) level << 6 | client;
            if (tables.contains(key)) {
                continue;
            }
            if (nextSlot >= slots || sys.tableAlloc(nextSlot, level) != Status.OK) {
                return Tag.of(REFUSED, 0);
            }
            int st = sys.tableLink(client, nextSlot, va);
            if (st == Status.OK) {
                nextSlot++;
            } else {
                sys.delete(nextSlot); // the client linked its own there (E_MAPPED): give ours back
                if (st != Status.E_MAPPED) {
                    return Tag.of(REFUSED, 0);
                }
            }
            tables.add(key);
        }
        long page = (va >>> 12) << 6 | client;
        Integer served = pages.get(page);
        int slot = served != null ? served : nextSlot;
        if (served == null && (nextSlot >= slots || sys.frameAlloc(slot, Sys.PAGE_4K) != Status.OK)) {
            return Tag.of(REFUSED, 0);
        }
        if (sys.map(client, slot, va, Sys.MAP_WRITE | Sys.MAP_USER | Sys.MAP_NO_EXEC) != Status.OK) {
            if (served == null) {
                sys.delete(slot);
            }
            return Tag.of(REFUSED, 0);
        }
        if (served == null) {
            pages.put(page, slot);
            nextSlot++;
        }
        return Tag.of(0, 0);
    }
}
