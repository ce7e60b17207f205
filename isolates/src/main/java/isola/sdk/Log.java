package isola.sdk;

import isola.kernel.Tag;
import java.util.List;

/**
 * The log service's protocol and client. Records go into the log server's ring (read back by
 * {@code dmesg}) and through Log4j 2 to the host's log. The source of a record is the badge of
 * the capability it came through, which init names after the server it granted it to (in the
 * log server's kept state).
 */
public final class Log {
    private Log() {}

    public static final int WRITE = 1;
    public static final int READ = 2;
    /** Returns once every record written so far is in the host's log too (at shutdown). */
    public static final int SYNC = 3;

    /** Key of the log server's kept state naming the source of a badge: {@code source/BADGE}. */
    public static final String KEPT_SOURCE = "source/";

    public static final int ERROR = 1;
    public static final int WARN = 2;
    public static final int INFO = 3;
    public static final int DEBUG = 4;

    public static String levelName(int level) {
        return switch (level) {
            case ERROR -> "error";
            case WARN -> "warn";
            case INFO -> "info";
            case DEBUG -> "debug";
            default -> "level" + level;
        };
    }

    /** Logs {@code text} at {@code level}; a too-long text is cut. */
    public static void write(Sys sys, int log, int level, String text) {
        sys.mr(0, level);
        int len = sys.putString(1, text.substring(0, Sys.fit(text, 0, Sys.maxStringBytes(1))));
        Replies.check(sys, sys.callRetrying(log, Tag.of(WRITE, len), Sys.RESTART_ATTEMPTS), "log write");
    }

    public static void info(Sys sys, int log, String text) {
        write(sys, log, INFO, text);
    }

    /** Waits until every record written so far has reached the host's log (Log4j). */
    public static void sync(Sys sys, int log) {
        sync(sys, log, Sys.FOREVER);
    }

    /** As {@link #sync(Sys, int)}, failing with E_TIMEOUT after {@code timeoutNs}. */
    public static void sync(Sys sys, int log, long timeoutNs) {
        Replies.check(sys, sys.call(log, Tag.of(SYNC, 0), timeoutNs), "log sync");
    }

    /** Every record in the ring, oldest first, formatted like dmesg. */
    public static List<String> read(Sys sys, int log) {
        return Replies.lines(sys, log, READ, null, "dmesg");
    }
}
