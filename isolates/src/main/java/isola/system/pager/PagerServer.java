package isola.system.pager;

import isola.kernel.Status;
import isola.kernel.Tag;
import isola.sdk.Handler;
import isola.sdk.Pager;
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
 * contents and all, so a client's use is bounded by the pages it touches; the first fault of a
 * client's new incarnation (a new badge) frees what the dead one held, and so does the
 * supervisor's {@link Pager#FORGET} for a client that will not come back. A fault it will not
 * serve (a protection violation, no capability to the client, no memory or slot left) is
 * answered with label {@link Pager#REFUSED}, and the client's access fails with E_NOT_MAPPED.
 */
public final class PagerServer implements Server, Handler {
    /** Slot of the endpoint it serves. */
    public static final int ENDPOINT = 0;
    /** First slot for frame and table capabilities; client DOMAIN capabilities go below it. */
    public static final int FIRST_FREE = 64;
    private static final long REFUSED = Tag.of(Pager.REFUSED, 0);
    /** #PF error code bit: the page was present (a protection violation, not a missing page). */
    private static final long PF_PRESENT = 1;

    private int nextSlot = FIRST_FREE;
    private int slots;
    /** Slots given back by clients' dead incarnations, reused first. */
    private final java.util.ArrayDeque<Integer> freeSlots = new java.util.ArrayDeque<>();
    /** What this pager holds for each client slot, for the incarnation it serves now. */
    private final Client[] clients = new Client[64];

    /** One client incarnation (its fault badge): the tables it has, its pages' frames, and every slot used. */
    private static final class Client {
        final long who;
        final java.util.HashSet<Long> tables = new java.util.HashSet<>();
        final java.util.HashMap<Long, Integer> pages = new java.util.HashMap<>();
        final java.util.ArrayList<Integer> held = new java.util.ArrayList<>();

        Client(long who) {
            this.who = who;
        }
    }

    @Override
    public void start(ServerContext ctx) {
        slots = ctx.sys().slotCount();
        ctx.servePassive(ENDPOINT, this);
    }

    /** Faults of several client threads can arrive at once: they share the slots. */
    @Override
    public synchronized long handle(Sys sys) {
        long va = sys.mr(0) & ~0xFFFL;
        long code = sys.mr(1);
        long who = sys.badge(); // the client's slot and incarnation: its tables are its own
        int slot = (int) (who & 63);
        if (sys.label() == Pager.FORGET && who == Pager.SUPERVISOR) {
            return forget(sys, sys.mr(0));
        }
        if (sys.label() != isola.kernel.Kernel.PAGE_FAULT || (code & PF_PRESENT) != 0 || slot <= ENDPOINT) {
            return REFUSED;
        }
        Client c = clients[slot];
        if (c == null || c.who != who) {
            if (c != null) {
                release(sys, c); // a new incarnation: the old one's address space is gone
            }
            c = clients[slot] = new Client(who);
        }
        for (int level = 3; level >= 1; level--) {
            long key = (va >>> (12 + 9 * level)) << 2 | level;
            if (c.tables.contains(key)) {
                continue;
            }
            int t = takeSlot();
            if (t < 0 || sys.tableAlloc(t, level) != Status.OK) {
                giveBack(t);
                return REFUSED;
            }
            int st = sys.tableLink(slot, t, va);
            if (st == Status.OK) {
                c.held.add(t);
            } else {
                sys.delete(t); // the client linked its own there (E_MAPPED): give ours back
                giveBack(t);
                if (st != Status.E_MAPPED) {
                    return REFUSED;
                }
            }
            c.tables.add(key);
        }
        Integer served = c.pages.get(va >>> 12);
        int f = served != null ? served : takeSlot();
        if (served == null && (f < 0 || sys.frameAlloc(f, Sys.PAGE_4K) != Status.OK)) {
            giveBack(f);
            return REFUSED;
        }
        if (sys.map(slot, f, va, Sys.MAP_WRITE | Sys.MAP_USER | Sys.MAP_NO_EXEC) != Status.OK) {
            if (served == null) {
                sys.delete(f);
                giveBack(f);
            }
            return REFUSED;
        }
        if (served == null) {
            c.pages.put(va >>> 12, f);
            c.held.add(f);
        }
        return Tag.of(0, 0);
    }

    /** The supervisor's word that the client in {@code slot} is gone for good. */
    private long forget(Sys sys, long slot) {
        if (slot <= ENDPOINT || slot >= clients.length) {
            return REFUSED;
        }
        Client c = clients[(int) slot];
        if (c != null) {
            release(sys, c);
            clients[(int) slot] = null;
        }
        return Tag.of(0, 0);
    }

    /** Frees what a dead incarnation held: its pages were unmapped and its tables unlinked with it. */
    private void release(Sys sys, Client c) {
        for (int held : c.held) {
            if (sys.delete(held) == Status.OK) {
                freeSlots.push(held);
            }
        }
    }

    private int takeSlot() {
        Integer s = freeSlots.poll();
        return s != null ? s : nextSlot < slots ? nextSlot++ : -1;
    }

    private void giveBack(int s) {
        if (s >= 0) {
            freeSlots.push(s);
        }
    }
}
