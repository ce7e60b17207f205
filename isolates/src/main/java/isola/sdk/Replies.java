package isola.sdk;

import isola.kernel.Status;
import isola.kernel.Tag;
import java.util.ArrayList;
import java.util.List;

/**
 * The reply convention of Isola's system services: label {@link #OK} with the result in the
 * registers, or label {@link #ERROR} with a status in MR0 and a message naming the bad input
 * from MR1. Listings page through a cursor: the request carries it in MR0, the reply the next
 * cursor (or -1 at the end) in MR0 and one line of text from MR1.
 */
public final class Replies {
    private Replies() {}

    public static final int OK = 0;
    public static final int ERROR = 1;
    /** End of input (the console's readLine). */
    public static final int EOF = 2;

    public static long ok(int length) {
        return Tag.of(OK, length);
    }

    /** An error reply: {@code status} and {@code message} in the caller's registers. */
    public static long error(Sys sys, int status, String message) {
        sys.mr(0, status);
        int max = Sys.maxStringBytes(1);
        int end = Sys.fit(message, 0, max);
        String m = end == message.length() ? message : message.substring(0, Sys.fit(message, 0, max - 3)) + "...";
        return Tag.of(ERROR, sys.putString(1, m));
    }

    /** One line of a listing, with the cursor of the next one (-1: this is the last). */
    public static long line(Sys sys, long next, String text) {
        sys.mr(0, next);
        return Tag.of(OK, sys.putString(1, text));
    }

    /** Serves a listing of {@code lines}: the one at the request's cursor (MR0), and the next cursor. */
    public static long page(Sys sys, List<String> lines) {
        if (lines.isEmpty()) {
            return empty(sys);
        }
        long cursor = sys.mr(0);
        int i = (int) Math.max(0, Math.min(cursor, lines.size() - 1));
        return line(sys, i + 1 < lines.size() ? i + 1 : -1, lines.get(i));
    }

    /** The reply to a listing with no lines at all. */
    public static long empty(Sys sys) {
        sys.mr(0, -1);
        sys.mr(1, -1);
        return Tag.of(OK, 2);
    }

    /**
     * Checks a call to a system service: a kernel error or an error reply becomes an
     * {@link IsolaException} whose message says what failed and why.
     */
    public static void check(Sys sys, int callStatus, String what) {
        if (callStatus != Status.OK) {
            throw new IsolaException(callStatus, sys.describe(callStatus, what));
        }
        if (sys.label() == ERROR) {
            int st = (int) sys.mr(0);
            String m = sys.string(1);
            throw new IsolaException(st, what + ": " + (m == null ? Status.name(st) : m));
        }
    }

    /**
     * All lines of a listing: calls {@code label} on {@code slot} with the cursor in MR0 and,
     * if {@code arg} is not null, the text {@code arg} from MR1.
     */
    public static List<String> lines(Sys sys, int slot, int label, String arg, String what) {
        List<String> out = new ArrayList<>();
        long cursor = 0;
        while (cursor >= 0) {
            sys.mr(0, cursor);
            int len = arg == null ? 1 : sys.putString(1, arg);
            check(sys, sys.callRetrying(slot, Tag.of(label, len), Sys.RESTART_ATTEMPTS), what);
            cursor = sys.mr(0);
            String line = sys.string(1);
            if (line != null) {
                out.add(line);
            }
        }
        return out;
    }
}
