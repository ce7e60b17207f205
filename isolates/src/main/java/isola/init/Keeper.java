package isola.init;

import isola.kernel.Rights;
import isola.kernel.Status;
import isola.kernel.Tcb;
import isola.sdk.Keep;
import isola.sdk.Kept;
import isola.sdk.Log;
import isola.sdk.Names;
import isola.sdk.Replies;
import isola.sdk.Sys;
import java.util.BitSet;

/**
 * init's keeper: keeps each server's state across its restarts ({@link Kept}). Its thread serves
 * {@link Keep} requests on init's slot {@link Init#KEEP}, each from the server its badge names,
 * and every incarnation of a server starts with what was kept for it. Kept text and capabilities
 * live in the server's {@link Running}, guarded by the Init object's monitor (launch and
 * {@link Init#kept} read them under it); kept capabilities sit in init's slots from
 * {@link Init#FIRST_KEPT} on.
 */
final class Keeper {
    /** Most keys a server may keep. */
    static final int MAX_KEPT_KEYS = 1024;

    private final Init init;
    /** Slots of init's holding kept capabilities; only the keeper thread (and boot, before it) takes them. */
    private final BitSet keptSlots = new BitSet();

    Keeper(Init init) {
        this.init = init;
    }

    /**
     * What init knows that a names or log server must start with, kept for it before its first
     * incarnation: names gets every service's endpoint and each server's prefix (its name and a
     * slash), log the name of every badge. Each incarnation then starts whole.
     */
    void seed(Running r) {
        if (r.spec.provides().contains("names")) {
            for (Running x : init.servers.values()) {
                if (x.spec.grants().contains("names")) {
                    r.keptValues.put(Names.KEPT_PREFIX + x.badge, x.spec.name() + "/");
                }
            }
            for (String svc : init.endpoints.keySet()) {
                int slot = keptSlots.nextClearBit(Init.FIRST_KEPT);
                init.kernel.grantCap(init.domain, init.serviceSlots.get(svc), init.domain, slot, Rights.SEND | Rights.GRANT, 0);
                keptSlots.set(slot);
                r.keptCaps.put(Names.KEPT_NAME + svc, slot);
            }
        }
        if (r.spec.provides().contains("log")) {
            r.keptValues.put(Log.KEPT_SOURCE + 0, "kernel");
            r.keptValues.put(Log.KEPT_SOURCE + Init.INIT_BADGE, "init");
            r.keptValues.put(Log.KEPT_SOURCE + Init.SUPERVISOR_BADGE, "supervisor");
            for (Running x : init.servers.values()) {
                r.keptValues.put(Log.KEPT_SOURCE + x.badge, x.spec.name());
            }
        }
    }

    /** Starts the keeper thread in init's domain. */
    void start() {
        Tcb keeper = init.kernel.createThread(init.domain, "keeper", 245);
        init.machine.spawn(keeper, () -> serve(Sys.of(init.kernel, keeper)));
    }

    /**
     * The keeper thread's loop: each received capability lands in a free slot of init's, which
     * a PUT_CAP then keeps; anything else it brought is deleted.
     */
    private void serve(Sys ks) {
        long reply = 0;
        for (;;) {
            int window = keptSlots.nextClearBit(Init.FIRST_KEPT);
            ks.receiveWindow(window < Init.SLOTS ? window : -1);
            int st = ks.replyRecv(Init.KEEP, reply);
            reply = st == Status.OK ? handle(ks) : 0;
        }
    }

    private long handle(Sys ks) {
        Running r = init.serverByBadge(ks.badge());
        int received = ks.capsReceived() == 1 ? ks.capSlot(0) : -1;
        String key = ks.string(0);
        String problem = r == null ? "keep: this capability belongs to no server"
                : key == null || key.isEmpty() || key.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > Keep.MAX_KEY
                        ? "keep: bad key " + (key == null ? "(no text)" : "'" + key + "'") + ": 1.." + Keep.MAX_KEY + " bytes"
                : ks.label() == Keep.PUT_CAP && received < 0 ? "keep " + key + ": send exactly one capability"
                : ks.label() < Keep.PUT || ks.label() > Keep.REMOVE ? "keep: unknown request " + ks.label()
                : null;
        String value = problem == null && ks.label() == Keep.PUT ? ks.string(ks.afterString(0)) : null;
        if (problem == null && ks.label() == Keep.PUT && value == null) {
            problem = "keep " + key + ": no value after the key";
        }
        if (problem != null) {
            if (received >= 0) {
                ks.delete(received);
            }
            return Replies.error(ks, r == null ? Status.E_NO_RIGHTS : Status.E_INVALID_ARG, problem);
        }
        if (received >= 0 && ks.label() != Keep.PUT_CAP) {
            ks.delete(received);
        }
        synchronized (init) { // the monitor of the Init object: launch and kept() read what it changes
            boolean known = r.keptValues.containsKey(key) || r.keptCaps.containsKey(key);
            if (!known && ks.label() != Keep.REMOVE && r.keptValues.size() + r.keptCaps.size() >= MAX_KEPT_KEYS) {
                if (received >= 0) {
                    ks.delete(received);
                }
                return Replies.error(ks, Status.E_NO_MEMORY, "keep " + key + ": " + r.spec.name()
                        + " already keeps " + MAX_KEPT_KEYS + " keys");
            }
            if (ks.label() == Keep.REMOVE && !known) {
                return Replies.error(ks, Status.E_EMPTY_SLOT, "forget " + key + ": nothing is kept under it");
            }
            r.keptValues.remove(key);
            Integer old = r.keptCaps.remove(key);
            if (old != null) {
                ks.delete(old);
                keptSlots.clear(old);
            }
            if (ks.label() == Keep.PUT) {
                r.keptValues.put(key, value);
            } else if (ks.label() == Keep.PUT_CAP) {
                keptSlots.set(received);
                r.keptCaps.put(key, received);
            }
        }
        return Replies.ok(0);
    }
}
