package isola.sdk;

import isola.kernel.Tag;

/** The console service's protocol and client: text out, lines in. */
public final class Console {
    private Console() {}

    public static final int WRITE = 1;
    public static final int READ_LINE = 2;
    public static final int COMPLETE = 3;

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

    /** Reads a line after showing {@code prompt}; null at the end of input. */
    public static String readLine(Sys sys, int console, String prompt) {
        int len = sys.putString(0, prompt);
        int st = sys.callRetrying(console, Tag.of(READ_LINE, len), Sys.RESTART_ATTEMPTS);
        if (st == isola.kernel.Status.OK && sys.label() == Replies.EOF) {
            return null;
        }
        Replies.check(sys, st, "console read");
        return sys.string(0);
    }

    /** Adds a word the console offers when the user presses Tab. */
    public static void addCompletion(Sys sys, int console, String word) {
        int len = sys.putString(0, word);
        Replies.check(sys, sys.callRetrying(console, Tag.of(COMPLETE, len), Sys.RESTART_ATTEMPTS), "console completion");
    }
}
