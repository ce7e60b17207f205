package isola.system.log;

import isola.kernel.mem.Words;
import isola.kernel.Status;
import isola.sdk.Handler;
import isola.sdk.Kept;
import isola.sdk.Log;
import isola.sdk.Replies;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;

/**
 * The log server: a ring of the last records from the kernel and the servers, which
 * {@code dmesg} reads, each also written through Log4j 2 (logger {@code isola.SOURCE}).
 *
 * <p>The ring lives in the server's kept memory (the manifest's {@code kept-memory}), like Linux's
 * pstore: a restarted log server finds the records of its previous incarnations and goes on
 * after them, so a crash loses no acknowledged record. Without kept memory it uses memory of
 * its own, lost at a restart. Passive: a write runs on the writer's thread, so writers share the
 * ring under a lock word in the ring itself (which an old incarnation's writer still finishing a
 * record also takes). Source names come from the kept state init seeds.
 *
 * <p>A write only appends to the ring: its own thread, "host-log", copies new records to Log4j
 * (whose first use alone takes hundreds of milliseconds), so no writer waits for the host's
 * log. Its cursor is in the ring too, so a restart neither repeats nor drops host records.
 */
public final class LogServer implements Server, Handler {
    /** Records of a ring in memory of its own (no kept memory). */
    static final int DEFAULT_RECORDS = 1024;

    // Ring layout: a header, then fixed-size records.
    static final long MAGIC = 0x49534f4c414c4f47L; // "ISOLALOG"
    static final long H_MAGIC = 0, H_RECORDS = 8, H_WRITTEN = 16, H_ORIGIN = 24, H_LOCK = 32, H_HOST = 40,
            H_HOST_LOCK = 48;
    /** Slot of the notification a write signals to wake the host-log thread. */
    static final int WAKE = 16;
    static final long SYNC_LIMIT_NS = 5_000_000_000L;
    /** How long the host-log thread lets records gather after a wake-up before it copies them. */
    static final long HOST_BATCH_NS = 10_000_000;
    static final long HEADER = 64;
    static final int RECORD = 512;
    static final long R_TIME = 0, R_LEVEL = 8, R_SOURCE_LEN = 12, R_TEXT_LEN = 14, R_SOURCE = 16, R_TEXT = 48;
    static final int MAX_SOURCE = (int) (R_TEXT - R_SOURCE);
    static final int MAX_TEXT = RECORD - (int) R_TEXT;


    private MemorySegment ring;
    private long records;
    private final Map<Long, String> sourceNames = new HashMap<>();

    @Override
    public void start(ServerContext ctx) {
        Kept kept = ctx.kept();
        for (Map.Entry<String, String> e : kept.values().entrySet()) { // no lambda: see Server
            if (e.getKey().startsWith(Log.KEPT_SOURCE)) {
                sourceNames.put(Long.parseLong(e.getKey().substring(Log.KEPT_SOURCE.length())), e.getValue());
            }
        }
        attach(kept.memory().byteSize() >= HEADER + RECORD ? kept.memory()
                : Arena.ofAuto().allocate(HEADER + (long) DEFAULT_RECORDS * RECORD, 64));
        Sys sys = ctx.sys();
        sys.check(sys.createNotification(WAKE), "log: create the host-log notification");
        ctx.servePassive(ctx.endpoint("log"), this); // serving first: writers wait for it
        ctx.spawn("host-log", 50, this::copyToHost);
    }

    /**
     * The host's Log4j context, the same for every incarnation; the host-log thread gets it,
     * since Log4j's first use costs about half a second. LogManager.getLogger would pick the
     * context by the caller's class loader, and each incarnation has its own: every restart would
     * configure Log4j afresh, milliseconds of CPU while the server recovers.
     */
    private org.apache.logging.log4j.spi.LoggerContext hostLog;

    /** The host-log thread: copies each new record through Log4j 2, logger {@code isola.SOURCE}. */
    private void copyToHost(Sys sys) {
        hostLog = LogManager.getContext(LogManager.class.getClassLoader(), false);
        for (;;) {
            // One copier at a time, also across incarnations: a killed one may still be in Log4j.
            while (!Words.compareAndSet(ring, H_HOST_LOCK, 0L, 1L)) {
                java.util.concurrent.locks.LockSupport.parkNanos(100_000);
            }
            try {
                copyNew();
            } finally {
                Words.setRelease(ring, H_HOST_LOCK, 0L);
            }
            sys.await(WAKE);
            // Let records gather: copying each one as it comes would compete for the cores with
            // whatever the writers are doing, a restart for one (Log.SYNC waits this much longer).
            java.util.concurrent.locks.LockSupport.parkNanos(HOST_BATCH_NS);
        }
    }

    /** Copies every record the host log has not got yet (host lock held). */
    private void copyNew() {
        for (;;) {
            long n, level;
            String source, text;
            lock();
            try {
                long written = Words.get(ring, H_WRITTEN);
                n = Math.max(Words.get(ring, H_HOST), written - records);
                if (n >= written) {
                    break;
                }
                level = levelOf(n);
                source = sourceOf(n);
                text = textOf(n);
            } finally {
                unlock();
            }
            hostLog.getLogger("isola." + source).log(log4jLevel((int) level), text);
            Words.setRelease(ring, H_HOST, n + 1);
        }
    }

    /** Takes up the ring a previous incarnation left in {@code m}, or formats a new one. */
    void attach(MemorySegment m) {
        ring = m;
        records = (m.byteSize() - HEADER) / RECORD;
        if (Words.getAcquire(m, H_MAGIC) != MAGIC || Words.get(m, H_RECORDS) != records) {
            Words.set(m, H_RECORDS, records);
            Words.set(m, H_WRITTEN, 0L);
            Words.set(m, H_ORIGIN, System.nanoTime());
            Words.set(m, H_LOCK, 0L);
            Words.set(m, H_HOST, 0L);
            Words.set(m, H_HOST_LOCK, 0L);
            Words.setRelease(m, H_MAGIC, MAGIC);
        }
    }

    private void lock() {
        while (!Words.compareAndSet(ring, H_LOCK, 0L, 1L)) {
            Thread.onSpinWait();
        }
    }

    private void unlock() {
        Words.setRelease(ring, H_LOCK, 0L);
    }

    @Override
    public long handle(Sys sys) {
        return switch (sys.label()) {
            case Log.WRITE -> write(sys);
            case Log.READ -> read(sys);
            case Log.SYNC -> sync(sys);
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
        String source = sourceNames.get(sys.badge());
        if (source == null) {
            source = "badge" + sys.badge();
        }
        append(level, source, text);
        sys.signal(WAKE);
        return Replies.ok(0);
    }

    /** Waits (boundedly) until the host-log thread has copied every record written so far. */
    private long sync(Sys sys) {
        long deadline = System.nanoTime() + SYNC_LIMIT_NS;
        lock();
        long target = Words.get(ring, H_WRITTEN);
        unlock();
        while (Words.getAcquire(ring, H_HOST) < target) {
            if (System.nanoTime() > deadline) {
                return Replies.error(sys, Status.E_TIMEOUT, "log sync: the host log is "
                        + (target - Words.getAcquire(ring, H_HOST)) + " records behind");
            }
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
        return Replies.ok(0);
    }

    /** Writes a record in the next slot, then publishes it: a record is either whole or absent. */
    void append(int level, String source, String text) {
        byte[] src = source.substring(0, Sys.fit(source, 0, MAX_SOURCE)).getBytes(StandardCharsets.UTF_8);
        byte[] txt = text.substring(0, Sys.fit(text, 0, MAX_TEXT)).getBytes(StandardCharsets.UTF_8);
        lock();
        try {
            long written = Words.get(ring, H_WRITTEN);
            long at = offsetOf(written);
            Words.set(ring, at + R_TIME, System.nanoTime() - Words.get(ring, H_ORIGIN));
            Words.setInt(ring, at + R_LEVEL, level);
            Words.setShort(ring, at + R_SOURCE_LEN, (short) src.length);
            Words.setShort(ring, at + R_TEXT_LEN, (short) txt.length);
            MemorySegment.copy(src, 0, ring, ValueLayout.JAVA_BYTE, at + R_SOURCE, src.length);
            MemorySegment.copy(txt, 0, ring, ValueLayout.JAVA_BYTE, at + R_TEXT, txt.length);
            Words.setRelease(ring, H_WRITTEN, written + 1);
        } finally {
            unlock();
        }
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
        String line;
        long next;
        lock();
        try {
            long written = Words.get(ring, H_WRITTEN);
            long n = Math.max(cursor, Math.max(0, written - records));
            if (n >= written) {
                return Replies.empty(sys);
            }
            line = format(n);
            next = n + 1 < written ? n + 1 : -1;
        } finally {
            unlock();
        }
        return Replies.line(sys, next, line);
    }

    /** Record number {@code n} as dmesg shows it. */
    String format(long n) {
        long time = Words.get(ring, offsetOf(n) + R_TIME);
        return String.format("[%10.6f] %-10s %-5s %s", time / 1e9, sourceOf(n), Log.levelName(levelOf(n)), textOf(n));
    }

    // Fields of record number n (lock held).

    private long offsetOf(long n) {
        return HEADER + (n % records) * RECORD;
    }

    private int levelOf(long n) {
        return Words.getInt(ring, offsetOf(n) + R_LEVEL);
    }

    private String sourceOf(long n) {
        long at = offsetOf(n);
        return text(at + R_SOURCE, Words.getShort(ring, at + R_SOURCE_LEN), MAX_SOURCE);
    }

    private String textOf(long n) {
        long at = offsetOf(n);
        return text(at + R_TEXT, Words.getShort(ring, at + R_TEXT_LEN), MAX_TEXT);
    }

    private String text(long offset, int len, int max) {
        byte[] b = new byte[Math.max(0, Math.min(len, max))];
        MemorySegment.copy(ring, ValueLayout.JAVA_BYTE, offset, b, 0, b.length);
        return new String(b, StandardCharsets.UTF_8);
    }
}
