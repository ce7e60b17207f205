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
 * <p>The badge of a client's faults is, in its low 6 bits, the slot in this server's capability
 * space of a DOMAIN capability (CONTROL right) to that client; the rest tells the client's
 * incarnations apart (init puts them in slots 32..63, see its {@code pager} manifest key). Frames and tables come from this
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
    /** Tables linked, per client incarnation: "badge/level/region". */
    private final java.util.HashSet<String> tables = new java.util.HashSet<>();
    /** The frame capability's slot for each page served: "badge/page". */
    private final java.util.HashMap<String, Integer> pages = new java.util.HashMap<>();

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
        long who = sys.badge(); // the client's slot and incarnation: its tables are its own
        int client = (int) (who & 63);
        if (sys.label() != isola.kernel.Kernel.PAGE_FAULT || (code & PF_PRESENT) != 0 || client <= ENDPOINT) {
            return Tag.of(REFUSED, 0);
        }
        for (int level = 3; level >= 1; level--) {
            String key = who + "/" + level + "/" + (va >>> (12 + 9 * level));
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
        String page = who + "/" + (va >>> 12);
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
