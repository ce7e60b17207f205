package isola.init;

import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.KernelException;
import isola.sdk.Sys;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The supervisor's watchdog: kills a server whose call overruns its manifest's {@code deadline},
 * so that it is restarted the way a crash is, even if its code never makes another system call
 * (a loop). Each round it advances the kernel's service clock, with which the IPC paths stamp a
 * call as a server begins serving it (a plain store: nothing is timed on the fast path), and
 * compares every watched server's oldest call in service against its deadline.
 *
 * <p>A stamp {@code s} says the call began at {@code s} or later, before the next advance, so
 * the call's age is at least the time since that next advance: that lower bound must exceed the
 * deadline. With {@link #ROUNDS_PER_DEADLINE} rounds per (shortest) deadline, a call is
 * killed between its deadline and one and a half deadlines after it began, and never early.
 *
 * <p>The kill is a fault injected into the server's domain: the supervisor's fault thread then
 * handles it as any crash (one thread restarts servers, never two at once), with the server's
 * backoff and max-restarts. Callers of the killed incarnation get E_RESTARTED.
 */
final class Watchdog {
    /** Rounds per shortest deadline. */
    static final int ROUNDS_PER_DEADLINE = 4;
    /** Stamps older than the last this many advances are placed conservatively (see {@link #ageAtLeast}). */
    private static final int HISTORY = 64;

    private final Init init;
    private final Kernel kernel;
    /** Time between rounds, ns. */
    final long periodNs;
    /** The last {@link #HISTORY} values of the service clock, oldest first from {@link #next}. */
    private final long[] advances = new long[HISTORY];
    private int next;

    private Watchdog(Init init, long periodNs) {
        this.init = init;
        this.kernel = init.kernel;
        this.periodNs = periodNs;
    }

    /** The watchdog of init's servers, or null if none has a deadline. */
    static Watchdog of(Init init) {
        Duration shortest = null;
        for (Running r : init.servers.values()) {
            Duration d = r.spec.deadline();
            if (d != null && (shortest == null || d.compareTo(shortest) < 0)) {
                shortest = d;
            }
        }
        return shortest == null ? null : new Watchdog(init, Math.max(1, shortest.toNanos() / ROUNDS_PER_DEADLINE));
    }

    /**
     * The watchdog thread's loop: a round every {@link #periodNs}, timed by a wait on the
     * notification in {@code timerSlot} (nobody signals it) so ps shows the thread waiting. It
     * ends when the supervisor's domain is killed (the wait unwinds) or {@code stopping} holds.
     */
    void run(Sys sys, int timerSlot, java.util.function.BooleanSupplier stopping) {
        advance();
        while (!stopping.getAsBoolean()) {
            sys.await(timerSlot, periodNs);
            long now = advance();
            for (Running r : init.servers.values()) {
                check(r, now);
            }
        }
    }

    private long advance() {
        long now = kernel.advanceServiceClock();
        advances[next] = now;
        next = (next + 1) % HISTORY;
        return now;
    }

    /**
     * The least the age of a call stamped {@code start} can be at {@code now}: the time since
     * the first advance after {@code start}. A stamp from before the history began is given
     * the history's oldest advance, which is no earlier than its true next advance.
     */
    long ageAtLeast(long start, long now) {
        long after = Long.MAX_VALUE;
        for (long a : advances) {
            if (a > start && a < after) {
                after = a;
            }
        }
        return after == Long.MAX_VALUE ? 0 : now - after;
    }

    private void check(Running r, long now) {
        Duration deadline = r.spec.deadline();
        if (deadline == null || r.gaveUp) {
            return;
        }
        var vd = r.vd;
        if (vd == null) {
            return; // not started yet: init boots the servers while the watchdog runs
        }
        Domain d = vd.domain();
        if (d.state() != Domain.RUNNING) {
            return; // crashed or being restarted: the fault thread has it
        }
        long start = kernel.oldestCallStart(d);
        if (start == 0 || ageAtLeast(start, now) <= deadline.toNanos()) {
            return;
        }
        r.overrun = d;
        try {
            kernel.injectFault(d, "watchdog: a call overran the deadline of " + text(deadline));
        } catch (KernelException e) {
            r.overrun = null; // it faulted or died meanwhile: that is being handled already
        }
    }

    /** A deadline as the manifest would write it: 2s, 250ms. */
    static String text(Duration d) {
        long ms = d.toMillis();
        return ms % 1000 == 0 ? TimeUnit.MILLISECONDS.toSeconds(ms) + "s" : ms + "ms";
    }
}
