package isola.init;

import isola.kernel.Cap;
import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.KernelObject;
import isola.kernel.ObjectType;
import isola.kernel.Rights;
import isola.kernel.Status;
import isola.kernel.Tcb;
import isola.sdk.IsolaException;
import isola.sdk.Log;
import isola.sdk.Proc;
import isola.sdk.Replies;
import isola.sdk.Sys;
import isola.tier.IsolationTier;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The {@code proc} service, which init's main thread serves once the system is booted: ps, mem,
 * irq, caps, the server list, kill and shutdown. What it shows it reads from the kernel and from
 * init's server table; shutdown ends the system with the status asked for.
 */
final class ProcServer {
    /** How long {@code kill} waits for the restart before it answers "restarting". */
    static final long KILL_WAIT_NS = TimeUnit.SECONDS.toNanos(2);
    static final long KILL_POLL_NS = TimeUnit.MILLISECONDS.toNanos(1);

    private final Init init;
    private final Kernel kernel;
    /** init's main thread, which serves proc. */
    private final Sys sys;

    ProcServer(Init init, Sys sys) {
        this.init = init;
        this.kernel = init.kernel;
        this.sys = sys;
    }

    /** Serves proc on init's slot {@link Init#PROC} until shutdown. */
    void serve() {
        long reply = 0;
        for (;;) {
            int st = sys.replyRecv(Init.PROC, reply);
            reply = st == Status.OK ? handle() : 0;
            if (init.exit.isDone()) {
                sys.reply(reply);
                return;
            }
        }
    }

    private long handle() {
        try {
            return switch (sys.label()) {
                case Proc.PS -> Replies.page(sys, ps(kernel));
                case Proc.CAPS -> caps();
                case Proc.SERVERS -> Replies.page(sys, new ArrayList<>(init.servers.keySet()));
                case Proc.MEM -> Replies.page(sys, mem());
                case Proc.IRQ -> Replies.page(sys, irq());
                case Proc.KILL -> kill();
                case Proc.SHUTDOWN -> shutdown((int) sys.mr(0));
                default -> Replies.error(sys, Status.E_INVALID_ARG, "proc: unknown request " + sys.label());
            };
        } catch (RuntimeException e) {
            return Replies.error(sys, e instanceof IsolaException ie ? ie.status() : Status.E_INVALID_ARG,
                    e.getMessage() == null ? e.toString() : e.getMessage());
        }
    }

    private static List<Domain> liveDomains(Kernel kernel) {
        List<Domain> out = new ArrayList<>();
        for (Domain d : kernel.liveDomains()) {
            if (d.state() != Domain.DEAD) {
                out.add(d);
            }
        }
        return out;
    }

    /** What {@code ps} shows; static, as the host asks for it too ({@link Init#psForHost}), from any thread. */
    static List<String> ps(Kernel kernel) {
        List<String> lines = new ArrayList<>();
        lines.add(String.format("%3s  %-12s %-8s %-10s %-14s %4s  %s", "ID", "DOMAIN", "STATE", "THREAD", "THREAD STATE",
                "PRIO", "ISOLATION"));
        for (Domain d : liveDomains(kernel)) {
            List<Tcb> ts = kernel.threadsOf(d);
            String head = String.format("%3d  %-12s %-8s", d.id(), d.name(), Domain.stateName(d.state()));
            // init and the supervisor run in the kernel's own heap (host side, trusted)
            String isolation = d.backend instanceof IsolationTier.Loaded l ? l.isolation() : "kernel";
            if (ts.isEmpty()) {
                lines.add(head + " " + String.format("%-10s %-14s %4s  %s", "-", "(passive)", "-", isolation));
            }
            for (int i = ts.size() - 1; i >= 0; i--) {
                Tcb t = ts.get(i);
                lines.add(head + " " + String.format("%-10s %-14s %4d  %s", t.name(), Tcb.stateName(t.state()), t.priority(),
                        isolation));
            }
        }
        // A dead incarnation whose code still runs: a vm-tier thread cannot be stopped, so one
        // that never makes a system call (a loop) runs on, holding nothing (its domain is dead,
        // its endpoints serve the next incarnation, its system calls fail). Shown as "runaway":
        // the dead domain's own threads, and callers' threads inside its passive handler.
        for (Domain d : kernel.liveDomains()) {
            if (d.state() == Domain.DEAD) {
                for (Tcb t : kernel.threadsOf(d).reversed()) {
                    runawayRow(lines, d, t, t.name());
                }
            }
        }
        for (Tcb t : kernel.callersInDeadDomains()) {
            runawayRow(lines, t.currentDomain(), t, t.domain().name() + "/" + t.name());
        }
        return lines;
    }

    private static void runawayRow(List<String> lines, Domain d, Tcb t, String thread) {
        if (isRunaway(t)) {
            String isolation = d.backend instanceof IsolationTier.Loaded l ? l.isolation() : "-"; // "-": reclaimed
            lines.add(String.format("%3d  %-12s %-8s %-10s %-14s %4d  %s", d.id(), d.name(), Domain.stateName(d.state()),
                    thread, "runaway", t.priority(), isolation));
        }
    }

    /** A thread running in a dead domain's code (its own, or a caller inside its passive handler) on a live JVM thread. */
    private static boolean isRunaway(Tcb t) {
        return t.state() == Tcb.RUNNING && t.runner instanceof Thread jt && jt.isAlive();
    }

    private List<String> mem() {
        long total = kernel.framesTotal(), free = kernel.framesFree();
        List<String> lines = new ArrayList<>();
        lines.add(String.format("frames: %d total (%d MiB), %d used, %d free (4 KiB each)", total, total >> 8, total - free, free));
        lines.add(String.format("%3s  %-12s %10s %10s", "ID", "DOMAIN", "FRAMES", "QUOTA"));
        long paid = 0;
        for (Domain d : liveDomains(kernel)) {
            lines.add(String.format("%3d  %-12s %10d %10d", d.id(), d.name(), d.framesUsed(), d.frameQuota()));
            paid += d.framesUsed();
        }
        long limbo = kernel.framesInLimbo();
        // the rest: each address space's root table, which the kernel pays for (a snapshot: it may lag a moment)
        lines.add(String.format("%3s  %-12s %10d %10s", "-", "kernel", Math.max(0, total - free - paid - limbo), "-"));
        if (limbo > 0) {
            lines.add(limbo + " freed frames wait for every thread to drop stale translations (TLB shootdown)");
        }
        return lines;
    }

    /** The timer's line and every line with a handler or deliveries. */
    private List<String> irq() {
        List<String> lines = new ArrayList<>();
        lines.add(String.format("%4s %6s  %-10s %10s %4s  %-22s %s", "LINE", "VECTOR", "NAME", "COUNT", "PRIO", "STATE", "OWNER"));
        for (int line = 0; line < Kernel.IRQ_LINES; line++) {
            isola.kernel.IrqLine l = kernel.irqLine(line);
            if (line != 0 && l.owner() == null && l.delivered() == 0) {
                continue;
            }
            String state = (l.masked() ? "masked" : "unmasked") + (l.inService() ? ", in service" : "") + (l.pending() ? ", pending" : "");
            lines.add(String.format("%4d %6d  %-10s %10d %4d  %-22s %s", l.line(), l.vector(), l.vectorName(), l.delivered(),
                    l.priority(), state, l.owner() == null ? "-" : l.owner()));
        }
        return lines;
    }

    private long caps() {
        String name = sys.string(1);
        Domain d = null;
        List<Domain> live = liveDomains(kernel);
        for (Domain x : live) {
            if (x.name().equals(name)) {
                d = x;
            }
        }
        if (d == null) {
            List<String> names = new ArrayList<>();
            live.forEach(x -> names.add(x.name()));
            return Replies.error(sys, Status.E_INVALID_ARG, "caps: no domain named '" + name + "' (domains: "
                    + String.join(", ", names) + ")");
        }
        Map<KernelObject, String> serviceOf = new HashMap<>();
        init.endpoints.forEach((svc, ep) -> serviceOf.put(ep, svc));
        init.hostEndpoints.forEach((svc, ep) -> serviceOf.put(ep, svc));
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < d.cspace().size(); i++) {
            Cap c = d.cspace().get(i);
            if (c == null) {
                continue;
            }
            String what = c.isRevoked() ? "revoked" : ObjectType.name(c.type) + "#" + c.object.id();
            String svc = c.isRevoked() ? null : serviceOf.get(c.object);
            lines.add(String.format("slot %3d  %-16s rights=%-4s badge=%-8s %s", i, what,
                    Rights.toString(c.rights), Long.toHexString(c.badge), svc == null ? "" : "(" + svc + ")"));
        }
        return Replies.page(sys, lines);
    }

    private long kill() {
        String name = sys.string(0);
        Running r = init.server(name);
        if (r == null) {
            return Replies.error(sys, Status.E_INVALID_ARG, "kill: no server named '" + name
                    + "' (servers: " + String.join(", ", init.servers.keySet()) + ")");
        }
        int before = r.restarts;
        boolean wasDown = false;
        try {
            kernel.injectFault(r.vd.domain(), "killed from the shell");
        } catch (isola.kernel.KernelException e) {
            // It crashed already and the supervisor is restarting it (or gave up): nothing to
            // kill; say so, after waiting for that restart as for one's own.
            wasDown = true;
        }
        // Answer once the supervisor has dealt with it, so that what the caller does next (ps,
        // supervisor, a call to the server) sees the new incarnation; bounded, as a backoff may be long.
        long deadline = System.nanoTime() + KILL_WAIT_NS;
        while ((wasDown ? r.vd.domain().state() != isola.kernel.Domain.RUNNING : r.restarts == before) && !r.gaveUp
                && r.spec.restart().onCrash() && System.nanoTime() < deadline) {
            Init.pause(KILL_POLL_NS);
        }
        String killed = wasDown ? name + " was down already" : "killed " + name;
        boolean back = wasDown ? r.vd.domain().state() == isola.kernel.Domain.RUNNING : r.restarts != before;
        String line = back ? killed + "; restarted (restarts: " + r.restarts + ")"
                : r.gaveUp ? killed + "; the supervisor gave up on it (see supervisor)"
                : !r.spec.restart().onCrash() ? killed + "; restart = never: left dead"
                : killed + "; restarting (after its backoff)";
        return isola.kernel.Tag.of(Replies.OK, sys.putString(0, line));
    }


    /**
     * Ends the system with exit status {@code status}: init's last records reach the host log,
     * then every server, the standbys and the supervisor are killed.
     */
    private long shutdown(int status) {
        init.log(Log.INFO, "init: shutdown, status " + status);
        init.klogd.flush(sys);
        init.supervisor.stop();
        for (Running r : init.servers.values()) {
            kernel.killDomainNow(r.vd.domain());
        }
        init.standby.stop(init.servers.values());
        kernel.killDomainNow(init.supervisor.domain);
        init.exit.complete(status);
        return Replies.ok(0);
    }
}
