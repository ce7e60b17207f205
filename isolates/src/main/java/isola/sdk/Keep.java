package isola.sdk;

import isola.kernel.Tag;

/**
 * The keep protocol and client: a server changes what init keeps for it across restarts
 * ({@link Kept}) through the capability in {@link ServerContext#keep()}. A change is kept once
 * the call returns, so a server that acknowledges a request only after keeping its effect loses
 * nothing acknowledged when it crashes. Each server reaches only its own keys (init tells them
 * apart by the capability's badge).
 */
public final class Keep {
    private Keep() {}

    /** MR0.. key, then the value: keep text under the key. */
    public static final int PUT = 1;
    /** MR0.. key, one capability: keep a copy of the capability under the key. */
    public static final int PUT_CAP = 2;
    /** MR0.. key: forget the key (its value or capability). */
    public static final int REMOVE = 3;

    /** Longest key, in UTF-8 bytes. */
    public static final int MAX_KEY = 100;

    public static void put(Sys sys, int keep, String key, String value) {
        int next = sys.putString(0, key);
        int len = sys.putString(next, value);
        Replies.check(sys, sys.call(keep, Tag.of(PUT, len), Sys.FOREVER), "keep " + key);
    }

    /** Keeps a copy of the capability in {@code capSlot} (which stays where it is). */
    public static void putCap(Sys sys, int keep, String key, int capSlot) {
        int len = sys.putString(0, key);
        sys.capSlot(0, capSlot);
        Replies.check(sys, sys.call(keep, Tag.of(PUT_CAP, len, 1), Sys.FOREVER), "keep " + key);
    }

    public static void remove(Sys sys, int keep, String key) {
        int len = sys.putString(0, key);
        Replies.check(sys, sys.call(keep, Tag.of(REMOVE, len), Sys.FOREVER), "forget " + key);
    }
}
