package isola.init;

import isola.kernel.Domain;
import isola.kernel.Endpoint;
import isola.kernel.Kernel;
import isola.kernel.Rights;
import isola.kernel.Status;
import isola.kernel.Tcb;
import isola.sdk.ActiveLoop;
import isola.sdk.Handler;
import isola.sdk.Log;
import isola.sdk.Proc;
import isola.sdk.Replies;
import isola.sdk.Sys;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The supervisor domain: every server's fault endpoint. On a crash it restarts the server in a
 * fresh domain on the same endpoints, so clients' capabilities stay valid and a call that was in
 * flight fails with E_RESTARTED (retry). The first restart is immediate; a crash within
 * {@link #CONSECUTIVE_WINDOW_NS} of the last waits the manifest's backoff, doubling; after
 * max-restarts consecutive crashes it gives up and the server's callers get E_DEAD_DOMAIN. It
 * also serves {@code supervisor}: restart on request, and a status listing. If any server has a
 * call {@code deadline}, its {@link Watchdog} thread kills a server whose call overruns it, and
 * the kill is handled as a crash.
 */
final class Supervisor {
    static final int SERVICE = 0;
    static final int FAULTS = 1;
    /** A capability to signal klogd, which writes the supervisor's log records for it. */
    static final int KLOG = 2;
    /** Lent to the capability to a pager while it is told to forget a dead client. */
    static final int PAGER = 3;
    /** init's proc endpoint, through which it stops the system when a critical server is lost. */
    static final int PROC = 5;
    /** The exit status of a system stopped because a critical server is dead. */
    public static final int CRITICAL_LOST = 3;
    private static final long SHUTDOWN_CALL_NS = TimeUnit.SECONDS.toNanos(10);
    /** A notification nobody signals: the watchdog's rounds are timed waits on it. */
    static final int WATCH_TIMER = 4;
    /** Crashes closer together than this count as consecutive. */
    static final long CONSECUTIVE_WINDOW_NS = TimeUnit.SECONDS.toNanos(30);

    private final Init init;
    private final Kernel kernel;
    final Domain domain;
    final Endpoint faults;
    private final Endpoint service;
    private volatile boolean stopping;

    Supervisor(Init init, Endpoint service, Endpoint faults) {
        this.init = init;
        this.kernel = init.kernel;
        this.service = service;
        this.faults = faults;
        this.domain = kernel.createDomain("supervisor", 16, 16);
        kernel.grantCap(init.domain, Init.SUPERVISOR, domain, SERVICE, Rights.ALL, 0);
        kernel.grantCap(init.domain, Init.FAULTS, domain, FAULTS, Rights.ALL, 0);
        kernel.rebindEndpoint(service, domain);
        kernel.rebindEndpoint(faults, domain);
        init.grantKlogSignal(domain, KLOG);
        kernel.grantCap(init.domain, Init.PROC, domain, PROC, Rights.ALL, 0);
    }

    void start() {
        spawn("faults", FAULTS, this::onFault);
        spawn("requests", SERVICE, this::onRequest);
        Watchdog watchdog = Watchdog.of(init);
        if (watchdog != null) {
            kernel.installCap(domain, WATCH_TIMER, kernel.createNotification(domain), Rights.ALL, 0);
            Tcb t = kernel.createThread(domain, "watchdog", 240);
            init.machine.spawn(t, () -> watchdog.run(Sys.of(kernel, t), WATCH_TIMER, () -> stopping));
        }
    }

    void stop() {
        stopping = true;
    }

    private void spawn(String name, int slot, Handler h) {
        Tcb t = kernel.createThread(domain, name, 240);
        init.machine.spawn(t, () -> ActiveLoop.run(Sys.of(kernel, t), slot, h));
    }

    /** Logs as "supervisor": queued for klogd, never waiting on the log server (one it restarts). */
    private void log(Sys sys, int level, String text) {
        if (init.klogd.queue(Init.SUPERVISOR_LOG, level, text)) {
            sys.signal(KLOG);
        }
    }

    /** A fault message from a server domain's proxy: MR0 kind, MR1 thread, MR2 domain, MR3 count. */
    private long onFault(Sys sys) {
        Running r = init.serverByBadge(sys.badge());
        if (r == null || stopping) {
            return faultReply(); // unknown or shutting down: let it die
        }
        Domain d = r.vd.domain();
        Throwable cause = d.lastFault();
        long now = System.nanoTime();
        boolean overran = r.overrun == d;
        r.overrun = null;
        String what = overran
                ? "watchdog: " + r.spec.name() + " overran its deadline of " + Watchdog.text(r.spec.deadline()) + " in a call"
                : r.spec.name() + " crashed (" + (cause == null ? "fault" : cause.toString()) + ")";
        if (!r.spec.restart().onCrash()) {
            kernel.killDomainNow(d);
            log(sys, Log.ERROR, what + "; restart = never: left dead");
            leftDead(sys, r, what + "; restart = never");
            return faultReply();
        }
        r.consecutiveCrashes = now - r.lastCrashNanos < CONSECUTIVE_WINDOW_NS ? r.consecutiveCrashes + 1 : 1;
        r.lastCrashNanos = now;
        if (r.consecutiveCrashes > r.spec.restart().maxRestarts()) {
            r.gaveUp = true;
            kernel.killDomainNow(d);
            kernel.abandonRestart(d);
            log(sys, Log.ERROR, what + "; gave up after " + r.spec.restart().maxRestarts() + " restarts");
            leftDead(sys, r, what + "; the supervisor gave up after " + r.spec.restart().maxRestarts() + " restarts");
            return faultReply();
        }
        if (r.consecutiveCrashes > 1) {
            kernel.killForRestart(d); // callers learn now; the new incarnation comes after the backoff
            Init.pause(r.spec.restart().backoffFor(r.consecutiveCrashes - 1).toNanos());
        }
        try {
            init.relaunch(r);
        } catch (RuntimeException e) {
            log(sys, Log.ERROR, what + "; restart failed, left dead: " + e.getMessage());
            leftDead(sys, r, what + "; its restart failed: " + e.getMessage());
            return faultReply();
        }
        long ms = TimeUnit.NANOSECONDS.toMicros(System.nanoTime() - now);
        log(sys, Log.WARN, what + "; restarted (" + r.consecutiveCrashes + "/" + r.spec.restart().maxRestarts()
                + ") in " + ms / 1000.0 + " ms");
        return faultReply();
    }

    /**
     * What a server left dead for good held elsewhere is given back: its pager's frames. If the
     * system cannot go on without it (critical in the manifest), the system stops: the reason
     * on the host's stderr (the user's terminal, which the dead server may have been serving)
     * and exit status {@link #CRITICAL_LOST}, rather than a shell that never answers again.
     */
    private void leftDead(Sys sys, Running r, String why) {
        if (r.spec.critical() && !stopping && !init.machine.closed()) { // not when the host is closing the machine
            log(sys, Log.ERROR, "the critical server " + r.spec.name() + " is dead (" + why + "): stopping the system");
            System.err.println("isola: the critical server " + r.spec.name() + " is dead: " + why
                    + "; the system stops (exit status " + CRITICAL_LOST + "; target/isola.log has its log)");
            sys.mr(0, CRITICAL_LOST);
            int st = sys.call(PROC, isola.kernel.Tag.of(Proc.SHUTDOWN, 1), SHUTDOWN_CALL_NS);
            if (st != Status.OK) {
                System.err.println("isola: stopping the system failed: " + Status.name(st));
            }
            return;
        }
        leftDead(sys, r);
    }

    /**
     * What a server left dead for good held elsewhere is given back: its pager's frames, and its
     * tier's hold on the dead incarnation (the native tier tears its isolate down, which also
     * stops code still running there).
     */
    private void leftDead(Sys sys, Running r) {
        var dead = r.vd;
        if (dead != null && dead.domain().state() == Domain.DEAD) {
            init.tier.release(dead);
        }
        int st = init.pagers.release(domain, sys, PAGER, r);
        if (st != Status.OK) {
            log(sys, Log.WARN, r.spec.name() + "'s pager " + r.spec.pager() + " did not free its pages: "
                    + Status.name(st));
        }
    }

    private static long faultReply() {
        return isola.kernel.Tag.of(Domain.FAULT_KILL, 0);
    }

    private long onRequest(Sys sys) {
        switch (sys.label()) {
            case Proc.RESTART -> {
                String name = sys.string(0);
                Running r = name == null ? null : init.server(name);
                if (r == null) {
                    return Replies.error(sys, Status.E_INVALID_ARG, "restart: no server named '" + name
                            + "' (servers: " + String.join(", ", init.servers.keySet()) + ")");
                }
                long t0 = System.nanoTime();
                r.gaveUp = false;
                r.consecutiveCrashes = 0;
                try {
                    init.relaunch(r);
                } catch (RuntimeException e) {
                    String line = "restart " + name + " failed, left dead: " + e.getMessage();
                    log(sys, Log.ERROR, line);
                    leftDead(sys, r);
                    return Replies.error(sys, e instanceof isola.kernel.KernelException ke ? ke.status() : Status.E_NO_MEMORY, line);
                }
                String line = "restarted " + name + " in "
                        + TimeUnit.NANOSECONDS.toMicros(System.nanoTime() - t0) / 1000.0 + " ms";
                log(sys, Log.INFO, line + " (on request)");
                return isola.kernel.Tag.of(Replies.OK, sys.putString(0, line));
            }
            case Proc.STATUS -> {
                List<String> lines = new ArrayList<>();
                lines.add(String.format("%-12s %-9s %8s %10s %12s %9s %9s", "SERVER", "POLICY", "RESTARTS", "MAX", "BACKOFF",
                        "DEADLINE", "STATE"));
                for (Running r : init.servers.values()) {
                    var p = r.spec.restart();
                    lines.add(String.format("%-12s %-9s %8d %10d %12s %9s %9s", r.spec.name(), p.onCrash() ? "on-crash" : "never",
                            r.restarts, p.maxRestarts(), p.backoff().toMillis() + "ms",
                            r.spec.deadline() == null ? "-" : Watchdog.text(r.spec.deadline()),
                            r.gaveUp ? "gave up" : Domain.stateName(r.vd.domain().state())));
                }
                return Replies.page(sys, lines);
            }
            default -> {
                return Replies.error(sys, Status.E_INVALID_ARG, "supervisor: unknown request " + sys.label());
            }
        }
    }
}
