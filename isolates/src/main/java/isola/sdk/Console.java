package isola.sdk;

import isola.kernel.Status;
import isola.kernel.Tag;

/**
 * The console service's protocol and client: text out, lines in.
 *
 * <p>Lines are numbered from 0 in the order they were typed, and a reader acknowledges a line by
 * asking for the next one: {@link #READ_LINE} for line {@code n} tells the console that every line
 * before {@code n} has been received, so it may forget them. Until then it delivers the same
 * line again, which is what makes a read survive a restart of the console driver: the retry
 * asks for the same {@code n} and gets the same line, not the one after it. A line longer than
 * one message comes in pieces (a character offset in the request, the line's length in the
 * reply), which {@link Input} puts together.
 *
 * <ul>
 *   <li>{@link #WRITE}: text in MR0.. (at most one message of it); reply OK.
 *   <li>{@link #READ_LINE}: MR0 the line's number, MR1 a character offset into it, MR2.. the
 *       prompt (shown while the console waits for the line to be typed). Reply OK with MR0 the
 *       line's number, MR1 its length in characters, MR2.. its text from the offset, as much as
 *       fits; or {@link Replies#EOF} at the end of input; or {@link #REFUSED} for a line too long.
 *   <li>{@link #TAKE_LINE}: MR0 the number of a line the reader has whole and now acts on; reply
 *       OK. A line handed out but never taken (its reader died first, or the line went to a
 *       read whose reader had died) is handed out again to the next reader.
 *   <li>{@link #NEXT_LINE}: reply OK with MR0 the number of the first line no reader has taken:
 *       where a new reader starts. Asking changes nothing, so it can be retried.
 *   <li>{@link #COMPLETE}: a word in MR0.. that Tab completes; reply OK.
 * </ul>
 *
 * <p>The console has one reader at a time: the shell.
 */
public final class Console {
    private Console() {}

    public static final int WRITE = 1;
    public static final int READ_LINE = 2;
    public static final int COMPLETE = 3;
    public static final int NEXT_LINE = 4;
    /**
     * A reply of the console device only (never seen by clients): a waiting {@link #READ_LINE}
     * was let go to make room for newer ones (most likely it was a dead driver incarnation's);
     * a live driver asks again.
     */
    public static final int AGAIN = 5;
    public static final int TAKE_LINE = 6;
    /**
     * The reply to a {@link #READ_LINE} for a line the console refused (longer than it takes):
     * MR0 the line's number, MR1 its length, MR2.. why. The reader takes it and counts a failed
     * command ({@link RefusedLine}).
     */
    public static final int REFUSED = 7;

    /** A line the console refused: the reader has taken it, and the next read gets the next one. */
    public static final class RefusedLine extends IsolaException {
        public RefusedLine(String message) {
            super(Status.E_INVALID_ARG, message);
        }
    }

    /** The built-in service of the machine's console device (the terminal), which the console driver is granted. */
    public static final String DEVICE = "tty";

    /** Writes {@code text} (split into messages as needed). */
    public static void write(Sys sys, int console, String text) {
        for (int from = 0; from < text.length(); ) {
            int to = Sys.fit(text, from, Sys.maxStringBytes(0));
            int len = sys.putString(0, text.substring(from, to));
            Replies.check(sys, sys.callRetrying(console, Tag.of(WRITE, len), Sys.RESTART_ATTEMPTS), "console write");
            from = to;
        }
    }

    public static void println(Sys sys, int console, String line) {
        write(sys, console, line + "\n");
    }

    /** Adds a word the console offers when the user presses Tab. */
    public static void addCompletion(Sys sys, int console, String word) {
        int len = sys.putString(0, word);
        Replies.check(sys, sys.callRetrying(console, Tag.of(COMPLETE, len), Sys.RESTART_ATTEMPTS), "console completion");
    }

    /**
     * A reader of the console's lines. It remembers which line comes next, so each line is read
     * once, across restarts of the console. It takes each line ({@link #TAKE_LINE}) before it
     * returns it, and a new reader (a restarted shell) starts after the lines taken: a line a
     * dead reader had begun on is not run again, and one that reached a reader already dead (a
     * shell killed at its prompt) is not lost (the fault storm lost such lines).
     */
    public static final class Input {
        private final int console;
        /** The number of the next line to ask for; -1 until the console said where to start. */
        private long next = -1;

        public Input(int console) {
            this.console = console;
        }

        /**
         * Reads a whole line (of any length the console takes) after showing {@code prompt}; null
         * at the end of input; {@link RefusedLine} for a line the console refused.
         */
        public String readLine(Sys sys, String prompt) {
            if (next < 0) {
                Replies.check(sys, sys.callRetrying(console, Tag.of(NEXT_LINE, 0), Sys.RESTART_ATTEMPTS), "console read");
                next = sys.mr(0);
            }
            StringBuilder line = new StringBuilder();
            long length = -1;
            while (length < 0 || line.length() < length) {
                sys.mr(0, next);
                sys.mr(1, line.length());
                int len = sys.putString(2, line.isEmpty() ? prompt : "");
                int st = sys.callRetrying(console, Tag.of(READ_LINE, len), Sys.RESTART_ATTEMPTS);
                if (st == Status.OK && sys.label() == Replies.EOF) {
                    return null;
                }
                if (st == Status.OK && sys.label() == REFUSED && sys.mr(0) == next) {
                    String why = sys.string(2);
                    take(sys);
                    throw new RefusedLine(why == null ? "console: line " + next + " was refused" : why);
                }
                Replies.check(sys, st, "console read");
                String piece = sys.string(2);
                if (sys.mr(0) != next || piece == null || (piece.isEmpty() && line.length() < sys.mr(1))) {
                    throw new IsolaException(Status.E_INVALID_ARG, "console read: line " + next + " at "
                            + line.length() + ": the console answered with line " + sys.mr(0) + ", "
                            + (piece == null ? "no text" : piece.length() + " characters") + " of " + sys.mr(1));
                }
                length = sys.mr(1);
                line.append(piece);
            }
            take(sys);
            return line.toString();
        }

        /** Takes line {@link #next}: the reader now acts on it. */
        private void take(Sys sys) {
            sys.mr(0, next);
            Replies.check(sys, sys.callRetrying(console, Tag.of(TAKE_LINE, 1), Sys.RESTART_ATTEMPTS), "console read");
            next++;
        }
    }
}
