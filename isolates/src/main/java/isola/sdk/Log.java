package isola.sdk;

import isola.kernel.Tag;
import java.util.List;

/**
 * The log service's protocol and client. Records go into the log server's ring (read back by
 * {@code dmesg}) and through Log4j 2 to the host's log. The source of a record is the badge of
 * the capability it came through, which init names after the server it granted it to.
 */
public final class Log {
    private Log() {}

    public static final int WRITE = 1;
    public static final int READ = 2;
    public static final int SOURCE = 3;

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

    /** Every record in the ring, oldest first, formatted like dmesg. */
    public static List<String> read(Sys sys, int log) {
        return Replies.lines(sys, log, READ, null, "dmesg");
    }

    /** Names the source whose records come through capabilities badged {@code badge}. */
    public static void nameSource(Sys sys, int log, long badge, String name) {
        sys.mr(0, badge);
        int len = sys.putString(1, name);
        // init names sources right after starting the log server, which may not have bound yet
        Replies.check(sys, sys.callRetrying(log, Tag.of(SOURCE, len), Sys.RESTART_ATTEMPTS), "log source " + name);
    }
}
