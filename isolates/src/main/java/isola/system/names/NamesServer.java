package isola.system.names;

import isola.kernel.Rights;
import isola.kernel.Status;
import isola.kernel.Tag;
import isola.sdk.IsolaException;
import isola.sdk.Keep;
import isola.sdk.Kept;
import isola.sdk.Names;
import isola.sdk.Replies;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The names server: a map from service names to capabilities, held in its own capability
 * space. Active (one thread), since registering carries a capability in the message.
 *
 * <p>Its state is kept by init ({@link Keep}): every registration (its capability, under a key
 * naming its owner) and minted prefix is kept before it is acknowledged, and each incarnation
 * starts from what was kept, which init seeds with the system's services and each server's
 * prefix. A crash loses nothing acknowledged.
 *
 * <p>A name's owner is the badge of the names capability that registered it (init's, 0, for
 * the services init seeds). Registering a name again through its owner's capability succeeds
 * and makes the name stand for the capability just sent: a crash after a registration was kept
 * and before it was answered loses only the answer, and {@code Sys.callRetrying} then sends the
 * same request to the next incarnation, which must not take the owner's own registration for a
 * conflict. Through any other capability it fails with E_SLOT_OCCUPIED.
 */
public final class NamesServer implements Server {
    /** Slots from here on hold registered and minted capabilities. */
    static final int FIRST_FREE = 8;
    /** Badges this server mints for prefix capabilities; init's client badges are small. */
    static final long PREFIX_BADGE_BASE = 1L << 40;
    /** Longest name: its key, with the longest owner suffix, must fit the keeper's. */
    static final int MAX_NAME = Keep.MAX_KEY - Names.KEPT_NAME.length() - 1 - 16;

    private final TreeMap<String, Integer> names = new TreeMap<>();
    /** The owner of each registered name whose owner is not init (0). */
    private final Map<String, Long> owners = new HashMap<>();
    private final Map<Long, String> prefixes = new HashMap<>();
    private final BitSet used = new BitSet();
    private int endpoint;
    private int keep;
    private int slots;
    private long nextBadge = PREFIX_BADGE_BASE;

    @Override
    public void start(ServerContext ctx) {
        endpoint = ctx.endpoint("names");
        keep = ctx.keep();
        slots = 256;
        used.set(0, FIRST_FREE);
        prefixes.put(0L, ""); // init's own, unbadged capability
        restore(ctx.kept());
        Sys sys = ctx.sys();
        sys.check(sys.serve(endpoint), "serve names");
        long reply = 0;
        sys.receiveWindow(freeSlot());
        for (;;) {
            int st = sys.replyRecv(endpoint, reply);
            reply = st == Status.OK ? handle(sys) : 0;
            int window = freeSlot();
            sys.receiveWindow(window < 0 ? -1 : window);
        }
    }

    /** Takes up what the previous incarnation (or init's seeding) kept. */
    private void restore(Kept kept) {
        for (Map.Entry<String, String> e : kept.values().entrySet()) { // no lambdas: see Server
            if (e.getKey().startsWith(Names.KEPT_PREFIX)) {
                long badge = Long.parseLong(e.getKey().substring(Names.KEPT_PREFIX.length()));
                prefixes.put(badge, e.getValue());
                nextBadge = Math.max(nextBadge, badge + 1);
            }
        }
        for (Map.Entry<String, Integer> e : kept.caps().entrySet()) {
            if (e.getKey().startsWith(Names.KEPT_NAME)) {
                String name = e.getKey().substring(Names.KEPT_NAME.length());
                int at = name.lastIndexOf(Names.KEPT_OWNER);
                if (at >= 0) {
                    owners.put(name.substring(0, at), Long.parseUnsignedLong(name.substring(at + 1), 16));
                    name = name.substring(0, at);
                }
                names.put(name, e.getValue());
                used.set(e.getValue());
            }
        }
    }

    /**
     * The key a registration is kept under: its name and its owner in one key, so that one keep
     * records both (a crash cannot keep one without the other).
     */
    private static String keptKey(String name, long owner) {
        return owner == 0 ? Names.KEPT_NAME + name : Names.KEPT_NAME + name + Names.KEPT_OWNER + Long.toHexString(owner);
    }

    /** Runs a change of the kept state; its failure is the request's error reply, else null. */
    private static Long kept(Sys sys, String what, Runnable change) {
        try {
            change.run();
            return null;
        } catch (IsolaException e) {
            return Replies.error(sys, e.status(), what + ": not kept: " + e.getMessage());
        }
    }

    private int freeSlot() {
        int s = used.nextClearBit(FIRST_FREE);
        return s < slots ? s : -1;
    }

    private long handle(Sys sys) {
        int label = sys.label();
        long badge = sys.badge();
        if (label == Names.LIST) {
            return list(sys);
        }
        String name = sys.string(0);
        if (name == null || !validName(name)) {
            dropReceived(sys);
            return Replies.error(sys, Status.E_INVALID_ARG, "bad name " + (name == null ? "(no text)" : "'" + name + "'")
                    + ": 1.." + MAX_NAME + " of a-z 0-9 . _ - /");
        }
        return switch (label) {
            case Names.REGISTER -> register(sys, badge, name);
            case Names.LOOKUP -> lookup(sys, name);
            case Names.UNREGISTER -> unregister(sys, badge, name);
            case Names.MINT_PREFIX -> mintPrefix(sys, badge, name);
            default -> {
                dropReceived(sys);
                yield Replies.error(sys, Status.E_INVALID_ARG, "names: unknown request " + label);
            }
        };
    }

    static boolean validName(String n) {
        if (n.isEmpty() || n.length() > MAX_NAME) {
            return false;
        }
        for (int i = 0; i < n.length(); i++) {
            char c = n.charAt(i);
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '/')) {
                return false;
            }
        }
        return true;
    }

    /** Whether the capability the request came through may change {@code name}. */
    private String deny(long badge, String name) {
        String prefix = prefixes.get(badge);
        if (prefix == null) {
            return "this names capability has no prefix: it may only look names up";
        }
        if (!name.startsWith(prefix)) {
            return "'" + name + "' is outside this capability's prefix '" + prefix + "'";
        }
        return null;
    }

    private long register(Sys sys, long badge, String name) {
        if (sys.capsReceived() != 1) {
            return Replies.error(sys, Status.E_INVALID_ARG, "register " + name + ": send exactly one capability");
        }
        int slot = sys.capSlot(0);
        String denied = deny(badge, name);
        if (denied != null) {
            sys.delete(slot);
            return Replies.error(sys, Status.E_NO_RIGHTS, "register: " + denied);
        }
        Integer old = names.get(name);
        if (old != null && owners.getOrDefault(name, 0L) != badge) {
            sys.delete(slot);
            return Replies.error(sys, Status.E_SLOT_OCCUPIED, "register: '" + name
                    + "' is already registered, through another names capability");
        }
        // The owner's own name again (a retry whose first answer was lost, as a rule): the same
        // key, so the keeper replaces the capability it keeps with this one.
        String key = keptKey(name, badge);
        Long failed = kept(sys, "register " + name, () -> Keep.putCap(sys, keep, key, slot));
        if (failed != null) {
            sys.delete(slot);
            return failed;
        }
        if (old != null) {
            sys.delete(old);
            used.clear(old);
        }
        used.set(slot);
        names.put(name, slot);
        if (badge != 0) {
            owners.put(name, badge);
        }
        return Replies.ok(0);
    }

    private long lookup(Sys sys, String name) {
        Integer slot = names.get(name);
        dropReceived(sys);
        if (slot == null) {
            return Replies.error(sys, Status.E_EMPTY_SLOT, "lookup: no service is registered as '" + name + "'");
        }
        sys.capSlot(0, slot);
        return Tag.of(Replies.OK, 0, 1);
    }

    private long unregister(Sys sys, long badge, String name) {
        dropReceived(sys);
        String denied = deny(badge, name);
        if (denied != null) {
            return Replies.error(sys, Status.E_NO_RIGHTS, "unregister: " + denied);
        }
        Integer slot = names.get(name);
        if (slot == null) {
            return Replies.error(sys, Status.E_EMPTY_SLOT, "unregister: no service is registered as '" + name + "'");
        }
        String key = keptKey(name, owners.getOrDefault(name, 0L));
        Long failed = kept(sys, "unregister " + name, () -> Keep.remove(sys, keep, key));
        if (failed != null) {
            return failed;
        }
        names.remove(name);
        owners.remove(name);
        sys.delete(slot);
        used.clear(slot);
        return Replies.ok(0);
    }

    private long mintPrefix(Sys sys, long badge, String prefix) {
        dropReceived(sys);
        String denied = deny(badge, prefix);
        if (denied != null) {
            return Replies.error(sys, Status.E_NO_RIGHTS, "mint prefix: " + denied);
        }
        int slot = freeSlot();
        if (slot < 0) {
            return Replies.error(sys, Status.E_NO_MEMORY, "mint prefix " + prefix + ": no free slots");
        }
        long b = nextBadge;
        Long failed = kept(sys, "mint prefix " + prefix, () -> Keep.put(sys, keep, Names.KEPT_PREFIX + b, prefix));
        if (failed != null) {
            return failed;
        }
        nextBadge++;
        int st = sys.mint(endpoint, slot, Rights.SEND | Rights.GRANT, b); // GRANT: register sends a capability
        if (st != Status.OK) {
            return Replies.error(sys, st, sys.describe(st, "mint prefix " + prefix));
        }
        used.set(slot);
        prefixes.put(b, prefix);
        sys.capSlot(0, slot);
        return Tag.of(Replies.OK, 0, 1);
    }

    private long list(Sys sys) {
        dropReceived(sys);
        return Replies.page(sys, List.copyOf(names.keySet()));
    }

    /** A capability sent with a request that does not take one is not kept. */
    private void dropReceived(Sys sys) {
        for (int i = 0; i < sys.capsReceived(); i++) {
            sys.delete(sys.capSlot(i));
        }
    }
}
