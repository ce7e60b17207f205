package isola.system.names;

import isola.kernel.Rights;
import isola.kernel.Status;
import isola.kernel.Tag;
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
 */
public final class NamesServer implements Server {
    /** Slots from here on hold registered and minted capabilities. */
    static final int FIRST_FREE = 8;
    /** Badges this server mints for prefix capabilities; init's client badges are small. */
    static final long PREFIX_BADGE_BASE = 1L << 40;
    static final int MAX_NAME = 100;

    private final TreeMap<String, Integer> names = new TreeMap<>();
    private final Map<Long, String> prefixes = new HashMap<>();
    private final BitSet used = new BitSet();
    private int endpoint;
    private int slots;
    private long nextBadge = PREFIX_BADGE_BASE;

    @Override
    public void start(ServerContext ctx) {
        endpoint = ctx.endpoint("names");
        slots = 256;
        used.set(0, FIRST_FREE);
        prefixes.put(0L, "");
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
        if (label == Names.SET_PREFIX) {
            return setPrefix(sys, badge);
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
        if (denied != null || names.containsKey(name)) {
            sys.delete(slot);
            return denied != null ? Replies.error(sys, Status.E_NO_RIGHTS, "register: " + denied)
                    : Replies.error(sys, Status.E_SLOT_OCCUPIED, "register: '" + name + "' is already registered");
        }
        used.set(slot);
        names.put(name, slot);
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
        Integer slot = names.remove(name);
        if (slot == null) {
            return Replies.error(sys, Status.E_EMPTY_SLOT, "unregister: no service is registered as '" + name + "'");
        }
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
        long b = nextBadge++;
        int st = sys.mint(endpoint, slot, Rights.SEND | Rights.GRANT, b); // GRANT: register sends a capability
        if (st != Status.OK) {
            return Replies.error(sys, st, sys.describe(st, "mint prefix " + prefix));
        }
        used.set(slot);
        prefixes.put(b, prefix);
        sys.capSlot(0, slot);
        return Tag.of(Replies.OK, 0, 1);
    }

    private long setPrefix(Sys sys, long badge) {
        dropReceived(sys);
        String prefix = sys.string(1);
        if (badge != 0) {
            return Replies.error(sys, Status.E_NO_RIGHTS, "set prefix: only init's capability may assign prefixes");
        }
        if (prefix == null || (!prefix.isEmpty() && !validName(prefix)) || sys.mr(0) >= PREFIX_BADGE_BASE) {
            return Replies.error(sys, Status.E_INVALID_ARG, "set prefix: bad badge " + sys.mr(0) + " or prefix " + prefix);
        }
        prefixes.put(sys.mr(0), prefix);
        return Replies.ok(0);
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
