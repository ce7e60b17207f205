package isola.init;

import isola.kernel.Kernel;
import isola.kernel.Tcb;
import isola.sdk.IsolaException;
import isola.sdk.Log;
import isola.sdk.Sys;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * klogd, init's thread that writes to the log server for init, the supervisor and the kernel (as
 * "kernel"): it drains the kernel's log and {@link #logQueue}. It is the only one of theirs that
 * may wait on the log server, which the supervisor may be restarting meanwhile; the others queue
 * their records ({@link #queue}) and signal it through init's slot {@link Init#KLOG}.
 */
final class Klogd {
    /**
     * How long klogd lets kernel records gather after a wake-up before it drains them: a crash
     * writes several at once, and draining them is work for both cores while the supervisor
     * restarts the server (dmesg shows them this much later).
     */
    static final long LOG_BATCH_NS = 10_000_000;
    /** How long shutdown waits for klogd to write what is queued, and then for the log to reach the host's. */
    static final long SHUTDOWN_LOG_NS = TimeUnit.SECONDS.toNanos(2);

    private final Init init;
    /** init's and the supervisor's records, which klogd writes to the log server (they never wait on it). */
    private final LogQueue logQueue = new LogQueue();
    /** Set once klogd runs (a log server exists); before, records go to the host's stderr. */
    private volatile boolean running;
    /** Set at shutdown: klogd writes what is queued, then ends. */
    private volatile boolean stopping;
    private final CompletableFuture<Void> done = new CompletableFuture<>();

    Klogd(Init init) {
        this.init = init;
    }

    /**
     * Queues a record for klogd to write through init's slot {@code slot}; false (and the record
     * printed on the host's stderr) if no log server exists. The caller then signals klogd.
     */
    boolean queue(int slot, int level, String text) {
        if (!running) {
            System.err.println("isola: " + text);
            return false;
        }
        logQueue.add(slot, level, text);
        return true;
    }

    /** Writes a log record through {@code slot} if it holds the log capability. */
    private static void logThrough(Sys sys, int slot, int level, String text) {
        try {
            Log.write(sys, slot, level, text);
        } catch (IsolaException e) {
            System.err.println("isola: " + text + " (log unavailable: " + e.getMessage() + ")");
        }
    }

    /** Starts klogd's thread in init's domain, once the log server has started and init holds its log capabilities. */
    void start() {
        Kernel kernel = init.kernel;
        kernel.log().setReader((isola.kernel.Notification) init.domain.cspace().get(Init.KLOG).object);
        Tcb klogd = kernel.createThread(init.domain, "klogd", 230);
        running = true;
        init.machine.spawn(klogd, () -> {
            Sys ks = Sys.of(kernel, klogd);
            try {
                for (long next = kernel.log().first(); ; ks.await(Init.KLOG), Init.pause(LOG_BATCH_NS)) {
                    boolean last = stopping; // read first: what was written before shutdown is drained
                    for (long end = kernel.log().written(); next < end; next++) {
                        long first = kernel.log().first();
                        if (next < first) {
                            logThrough(ks, Init.KLOG_LOG, Log.WARN, (first - next) + " kernel log records were overwritten before klogd read them");
                            next = first;
                        }
                        String line = kernel.log().record(next);
                        if (line != null) {
                            logThrough(ks, Init.KLOG_LOG, Log.INFO, line);
                        }
                    }
                    drainQueue(ks);
                    if (last) {
                        return;
                    }
                }
            } finally {
                done.complete(null);
            }
        });
    }

    private void drainQueue(Sys ks) {
        long dropped = logQueue.takeDropped();
        if (dropped > 0) {
            logThrough(ks, Init.INIT_LOG, Log.WARN, dropped + " records of init's and the supervisor's were dropped while the log server was unavailable");
        }
        for (LogQueue.Entry e = logQueue.poll(); e != null; e = logQueue.poll()) {
            logThrough(ks, e.slot(), e.level(), e.text());
        }
    }

    /**
     * At shutdown, from init's main thread {@code sys}: klogd writes what is queued and stops (the
     * kills that follow are the end, not news), then the log server syncs to the host's log. Both
     * are bounded: a log server that is down or hung costs the host log its last records, not the
     * shutdown.
     */
    void flush(Sys sys) {
        init.kernel.log().setReader(null);
        if (!running) {
            return;
        }
        stopping = true;
        sys.signal(Init.KLOG);
        String problem = null;
        try {
            done.get(SHUTDOWN_LOG_NS, TimeUnit.NANOSECONDS);
            Log.sync(sys, Init.INIT_LOG, SHUTDOWN_LOG_NS);
        } catch (java.util.concurrent.TimeoutException e) {
            problem = "the log server did not take init's last records within " + TimeUnit.NANOSECONDS.toMillis(SHUTDOWN_LOG_NS) + " ms";
        } catch (IsolaException e) {
            problem = e.getMessage();
        } catch (InterruptedException | java.util.concurrent.ExecutionException e) {
            problem = e.toString();
        }
        if (problem != null) {
            System.err.println("isola: the host log may miss records: " + problem);
        }
    }
}
