package isola.kernel;

/** Capability rights: a bit set. A derived capability may only have fewer rights. */
public final class Rights {
    private Rights() {}

    /** send, call, signal. */
    public static final int SEND = 1;
    /** recv, wait, poll. */
    public static final int RECV = 2;
    /** transfer capabilities in a message sent with this capability. */
    public static final int GRANT = 4;
    /** manage the object: kill or resume a domain, configure a thread. */
    public static final int CONTROL = 8;
    public static final int ALL = SEND | RECV | GRANT | CONTROL;

    public static boolean has(int rights, int needed) {
        return (rights & needed) == needed;
    }

    public static String toString(int rights) {
        StringBuilder sb = new StringBuilder(4);
        sb.append((rights & SEND) != 0 ? 's' : '-');
        sb.append((rights & RECV) != 0 ? 'r' : '-');
        sb.append((rights & GRANT) != 0 ? 'g' : '-');
        sb.append((rights & CONTROL) != 0 ? 'c' : '-');
        return sb.toString();
    }
}
