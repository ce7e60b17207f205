package isola.sdk;

import isola.kernel.Tag;
import java.util.List;

/**
 * The names service's protocol and client: service names mapped to endpoint capabilities.
 * Anyone with a names capability may look names up and list them; registering and
 * unregistering need a capability whose badge the names server gave a prefix ({@link
 * #mintPrefix}, or init's seeding of each server's prefix), and only names under that prefix.
 */
public final class Names {
    private Names() {}

    public static final int REGISTER = 1;
    public static final int LOOKUP = 2;
    public static final int UNREGISTER = 3;
    public static final int LIST = 4;
    public static final int MINT_PREFIX = 5;

    /**
     * Keys of the names server's kept state: a registered capability ({@code name/NAME}, or
     * {@code name/NAME@OWNER} with the owner's badge in hex: the badge of the names capability
     * that registered it, when it is not init's, 0), a badge's prefix.
     */
    public static final String KEPT_NAME = "name/";
    public static final char KEPT_OWNER = '@';
    public static final String KEPT_PREFIX = "prefix/";

    /**
     * Registers the capability in {@code capSlot} under {@code name}. Registering a name again
     * through the names capability that registered it succeeds (the name then stands for the
     * capability sent), so a retry after a restart lost the answer succeeds; through another
     * capability it fails with E_SLOT_OCCUPIED.
     */
    public static void register(Sys sys, int names, String name, int capSlot) {
        int len = sys.putString(0, name);
        sys.capSlot(0, capSlot);
        Replies.check(sys, sys.callRetrying(names, Tag.of(REGISTER, len, 1), Sys.RESTART_ATTEMPTS), "register " + name);
    }

    /** Looks {@code name} up; its capability lands in the empty slot {@code dst}. */
    public static void lookup(Sys sys, int names, String name, int dst) {
        callForCap(sys, names, LOOKUP, name, dst, "lookup " + name);
    }

    /** A request with {@code text} in MR0 whose reply carries one capability, into {@code dst}. */
    private static void callForCap(Sys sys, int names, int label, String text, int dst, String what) {
        int len = sys.putString(0, text);
        sys.receiveWindow(dst);
        try {
            Replies.check(sys, sys.call(names, Tag.of(label, len), Sys.FOREVER), what);
        } finally {
            sys.receiveWindow(-1);
        }
        if (sys.capsReceived() != 1) {
            throw new IsolaException(isola.kernel.Status.E_SLOT_OCCUPIED, what
                    + ": the capability could not be received into slot " + dst);
        }
    }

    public static void unregister(Sys sys, int names, String name) {
        int len = sys.putString(0, name);
        Replies.check(sys, sys.call(names, Tag.of(UNREGISTER, len), Sys.FOREVER), "unregister " + name);
    }

    /** Every registered name, sorted. */
    public static List<String> list(Sys sys, int names) {
        return Replies.lines(sys, names, LIST, null, "list names");
    }

    /** A names capability allowed to register under {@code prefix}, into the empty slot {@code dst}. */
    public static void mintPrefix(Sys sys, int names, String prefix, int dst) {
        callForCap(sys, names, MINT_PREFIX, prefix, dst, "mint prefix " + prefix);
    }
}
