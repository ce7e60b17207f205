package isola.system.log;

import isola.kernel.Status;
import isola.sdk.Log;
import isola.sdk.Replies;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;
import java.util.HashMap;
import java.util.Map;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;

/**
 * The log server: a ring of the last {@link #CAPACITY} records from the kernel and the servers,
 * which {@code dmesg} reads, each also written through Log4j 2 (logger {@code isola.SOURCE}).
 * Passive: a write runs on the writer's thread, so concurrent writers share the ring under its
 * monitor (the log is not an IPC fast path).
 */
public final class LogServer implements Server {
    static final int CAPACITY = 1024;

    private final long[] times = new long[CAPACITY];
    private final int[] levels = new int[CAPACITY];
    private final String[] sources = new String[CAPACITY];
    private final String[] texts = new String[CAPACITY];
    /** Records ever written; the ring holds the last CAPACITY of them. */
    private long written;
    private final Map<Long, String> sourceNames = new HashMap<>();
    private final long bootNanos = System.nanoTime();

    @Override
    public void start(ServerContext ctx) {
        sourceNames.put(0L, "kernel");
        ctx.servePassive(ctx.endpoint("log"), this::handle);
    }

    private long handle(Sys sys) {
        return switch (sys.label()) {
            case Log.WRITE -> write(sys);
            case Log.READ -> read(sys);
            case Log.SOURCE -> source(sys);
            default -> Replies.error(sys, Status.E_INVALID_ARG, "log: unknown request " + sys.label());
        };
    }

    private long write(Sys sys) {
        int level = (int) sys.mr(0);
        String text = sys.string(1);
        if (text == null || level < Log.ERROR || level > Log.DEBUG) {
            return Replies.error(sys, Status.E_INVALID_ARG, "log write: level " + level
                    + (text == null ? " and no text" : "") + " (levels 1..4, text from MR1)");
        }
        String source;
        synchronized (this) {
            source = sourceNames.getOrDefault(sys.badge(), "badge" + sys.badge());
            int i = (int) (written++ % CAPACITY);
            times[i] = System.nanoTime() - bootNanos;
            levels[i] = level;
            sources[i] = source;
            texts[i] = text;
        }
        LogManager.getLogger("isola." + source).log(log4jLevel(level), text);
        return Replies.ok(0);
    }

    private static Level log4jLevel(int level) {
        return switch (level) {
            case Log.ERROR -> Level.ERROR;
            case Log.WARN -> Level.WARN;
            case Log.DEBUG -> Level.DEBUG;
            default -> Level.INFO;
        };
    }

    private long read(Sys sys) {
        long cursor = sys.mr(0);
        synchronized (this) {
            long first = Math.max(0, written - CAPACITY);
            long n = Math.max(cursor, first);
            if (n >= written) {
                return Replies.empty(sys);
            }
            int i = (int) (n % CAPACITY);
            String line = String.format("[%10.6f] %-10s %-5s %s", times[i] / 1e9, sources[i],
                    Log.levelName(levels[i]), texts[i]);
            return Replies.line(sys, n + 1 < written ? n + 1 : -1, line);
        }
    }

    /** Only the unbadged capability (init's) may name sources: badges are init's to assign. */
    private long source(Sys sys) {
        if (sys.badge() != 0) {
            return Replies.error(sys, Status.E_NO_RIGHTS, "log source: only init's capability may name sources");
        }
        String name = sys.string(1);
        if (name == null || name.isEmpty()) {
            return Replies.error(sys, Status.E_INVALID_ARG, "log source: no name");
        }
        synchronized (this) {
            sourceNames.put(sys.mr(0), name);
        }
        return Replies.ok(0);
    }
}
