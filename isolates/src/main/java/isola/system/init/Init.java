package isola.system.init;

import isola.kernel.Cap;
import isola.kernel.Domain;
import isola.kernel.Endpoint;
import isola.kernel.Kernel;
import isola.kernel.KernelObject;
import isola.kernel.ObjectType;
import isola.kernel.Rights;
import isola.kernel.Status;
import isola.kernel.Tcb;
import isola.kernel.hosted.HostedMachine;
import isola.sdk.IsolaException;
import isola.sdk.Log;
import isola.sdk.Names;
import isola.sdk.Proc;
import isola.sdk.Replies;
import isola.sdk.Sys;
import isola.vm.VmTier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * init, the first domain. It holds the original capability of every service endpoint, starts
 * the manifest's servers in dependency order, each with only the capabilities it is granted,
 * registers the services with names, and then serves {@code proc} (ps, caps, kill, shutdown).
 * The supervisor domain ({@link Supervisor}) restarts crashed servers through {@link #relaunch}.
 *
 * <p>init and the supervisor are the trusted part of the system, like seL4's root task: host
 * code with the authority to create domains (the vm tier) and to use the kernel's boot
 * interface. Every other server is a jar from the boot image in its own vm-tier domain.
 */
public final class Init {
    /** Slots of init's original capabilities. */
    static final int PROC = 0;
    static final int SUPERVISOR = 1;
    static final int FAULTS = 2;
    static final int FIRST_SERVICE = 3;
    static final int TEMP = 250;
    /** init's own log capability, badged so its records show as "init". */
    static final int INIT_LOG = 249;
    static final int SLOTS = 256;
    /** Badges of init's and the supervisor's own capabilities to services (log sources). */
    static final long INIT_BADGE = 0xF0_0001;
    static final long SUPERVISOR_BADGE = 0xF0_0002;
    /** Capability space size and object quota of a server domain. */
    static final int SERVER_SLOTS = 256;
    static final int SERVER_QUOTA = 64;

    final HostedMachine machine;
    final Kernel kernel;
    final VmTier tier;
    final BootManifest manifest;
    private final Map<String, Path> jars;
    private final CompletableFuture<Integer> exit = new CompletableFuture<>();

    Domain domain;
    private Sys sys;
    private final Map<String, Endpoint> endpoints = new LinkedHashMap<>();
    private final Map<String, Integer> serviceSlots = new HashMap<>();
    final Map<String, Running> servers = new LinkedHashMap<>();
    private int nextSlot = FIRST_SERVICE;
    private Supervisor supervisor;

    /** A server as started: its manifest entry and its current incarnation. */
    static final class Running {
        final ServerSpec spec;
        final long badge;
        volatile VmTier.VmDomain vd;
        int restarts;
        int consecutiveCrashes;
        long lastCrashNanos;
        boolean gaveUp;

        Running(ServerSpec spec, long badge) {
            this.spec = spec;
            this.badge = badge;
        }
    }

    public Init(HostedMachine machine, BootManifest manifest, Map<String, Path> jars) {
        this.machine = machine;
        this.kernel = machine.kernel();
        this.tier = new VmTier(machine);
        this.manifest = manifest;
        this.jars = Map.copyOf(jars);
    }

    /**
     * Creates init's domain and thread, which boots the system and then serves {@code proc}.
     * Returns the exit status the system ends with (at {@code shutdown}). A boot error ends it
     * with the error.
     */
    public CompletableFuture<Integer> start() {
        domain = kernel.createDomain("init", SLOTS, 1024);
        Tcb main = kernel.createThread(domain, "main", 250);
        machine.spawn(main, () -> {
            sys = Sys.of(kernel, main);
            try {
                boot();
            } catch (RuntimeException | Error e) {
                exit.completeExceptionally(e);
                throw e;
            }
            serveProc();
        });
        return exit;
    }

    private void boot() {
        long t0 = System.nanoTime();
        Endpoint proc = kernel.createEndpoint(domain);
        kernel.installCap(domain, PROC, proc, Rights.ALL, 0);
        kernel.rebindEndpoint(proc, domain);
        Endpoint sup = kernel.createEndpoint(domain);
        kernel.installCap(domain, SUPERVISOR, sup, Rights.ALL, 0);
        Endpoint faults = kernel.createEndpoint(domain);
        kernel.installCap(domain, FAULTS, faults, Rights.ALL, 0);
        endpoints.put(Proc.PROC, proc);
        serviceSlots.put(Proc.PROC, PROC);
        endpoints.put(Proc.SUPERVISOR, sup);
        serviceSlots.put(Proc.SUPERVISOR, SUPERVISOR);
        // Every service endpoint is created up front, owned by init: restarts keep them.
        List<ServerSpec> order = manifest.startOrder();
        for (ServerSpec s : order) {
            for (String svc : s.provides()) {
                Endpoint ep = kernel.createEndpoint(domain);
                int slot = nextSlot++;
                kernel.installCap(domain, slot, ep, Rights.ALL, 0);
                endpoints.put(svc, ep);
                serviceSlots.put(svc, slot);
            }
        }
        long badge = 1;
        for (ServerSpec s : order) {
            servers.put(s.name(), new Running(s, badge++));
        }
        supervisor = new Supervisor(this, sup, faults);
        supervisor.start();
        for (ServerSpec s : order) {
            Running r = servers.get(s.name());
            launch(r);
            announce(r);
        }
        log(Log.INFO, "init: started " + order.size() + " servers in "
                + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms");
    }

    /**
     * Tells a newly started names or log server what init knows: names gets each server's
     * prefix and every service's endpoint, log the name of every badge. A restarted one is told
     * again, so restarting them loses none of it.
     */
    private void announce(Running r) {
        if (r.spec.provides().contains("names")) {
            int names = serviceSlots.get("names");
            for (Running x : servers.values()) {
                if (x.spec.grants().contains("names")) {
                    Names.setPrefix(sys, names, x.badge, x.spec.name() + "/");
                }
            }
            for (String svc : endpoints.keySet()) {
                kernel.grantCap(domain, serviceSlots.get(svc), domain, TEMP, Rights.SEND | Rights.GRANT, 0);
                try {
                    Names.register(sys, names, svc, TEMP);
                } finally {
                    sys.delete(TEMP);
                }
            }
        }
        if (r.spec.provides().contains("log")) {
            int log = serviceSlots.get("log");
            Log.nameSource(sys, log, 0, "kernel");
            Log.nameSource(sys, log, INIT_BADGE, "init");
            Log.nameSource(sys, log, SUPERVISOR_BADGE, "supervisor");
            for (Running x : servers.values()) {
                Log.nameSource(sys, log, x.badge, x.spec.name());
            }
            if (domain.cspace().get(INIT_LOG) == null) {
                kernel.grantCap(domain, log, domain, INIT_LOG, Rights.SEND, INIT_BADGE);
            }
        }
    }

    /** Logs as init, once the log server is up (the host's stderr before). */
    void log(int level, String text) {
        logThrough(sys, INIT_LOG, level, text);
    }

    /** Writes a log record through {@code slot} if it holds the log capability. */
    static void logThrough(Sys sys, int slot, int level, String text) {
        try {
            Log.write(sys, slot, level, text);
        } catch (IsolaException e) {
            System.err.println("isola: " + text + " (log unavailable: " + e.getMessage() + ")");
        }
    }

    /**
     * Host side (tests, embedders): gives domain {@code to} a capability to call
     * {@code service} in its slot {@code slot}, as a manifest grant would.
     */
    public void grantService(String service, Domain to, int slot, long badge) {
        Integer from = serviceSlots.get(service);
        if (from == null) {
            throw new IllegalArgumentException("no service '" + service + "' (services: " + serviceSlots.keySet() + ")");
        }
        kernel.grantCap(domain, from, to, slot, Rights.SEND | Rights.GRANT, badge);
    }

    /** The current domain of server {@code name}, or null. */
    public Domain serverDomain(String name) {
        Running r = server(name);
        return r == null || r.vd == null ? null : r.vd.domain();
    }

    /** Restarts of server {@code name} so far. */
    public int restarts(String name) {
        Running r = server(name);
        return r == null ? 0 : r.restarts;
    }

    /** Grants the log capability the supervisor logs through, into its {@code slot}. */
    void grantLog(Domain to, int slot) {
        Integer log = serviceSlots.get("log");
        if (log != null) {
            kernel.grantCap(domain, log, to, slot, Rights.SEND, SUPERVISOR_BADGE);
        }
    }

    /**
     * Starts a server's next incarnation in a fresh domain: the provided endpoints (rebound to
     * it) and the granted services in its slots, faults reported to the supervisor.
     */
    void launch(Running r) {
        ServerSpec s = r.spec;
        VmTier.VmDomain vd = tier.load(s.name(), jars.get(s.jar()), SERVER_SLOTS, SERVER_QUOTA);
        Domain d = vd.domain();
        Map<String, Integer> provided = new LinkedHashMap<>();
        Map<String, Integer> granted = new LinkedHashMap<>();
        int slot = 0;
        for (String svc : s.provides()) {
            kernel.grantCap(domain, serviceSlots.get(svc), d, slot, Rights.ALL, 0);
            kernel.rebindEndpoint(endpoints.get(svc), d);
            provided.put(svc, slot++);
        }
        for (String svc : s.grants()) {
            kernel.grantCap(domain, serviceSlots.get(svc), d, slot, Rights.SEND | Rights.GRANT, r.badge);
            granted.put(svc, slot++);
        }
        kernel.setFaultEndpoint(d, supervisor.faults, r.badge);
        r.vd = vd;
        tier.start(vd, s.priority(), provided, granted);
    }

    /** The supervisor's restart: the old incarnation dies (callers get E_RESTARTED), a new one starts. */
    synchronized void relaunch(Running r) {
        kernel.killForRestart(r.vd.domain());
        launch(r);
        r.restarts++;
    }

    synchronized Running server(String name) {
        return servers.get(name);
    }

    // ---- proc ----

    private void serveProc() {
        long reply = 0;
        for (;;) {
            int st = sys.replyRecv(PROC, reply);
            reply = st == Status.OK ? handleProc() : 0;
            if (exit.isDone()) {
                sys.reply(reply);
                return;
            }
        }
    }

    private long handleProc() {
        try {
            return switch (sys.label()) {
                case Proc.PS -> Replies.page(sys, ps());
                case Proc.CAPS -> caps();
                case Proc.SERVERS -> Replies.page(sys, new ArrayList<>(servers.keySet()));
                case Proc.KILL -> kill();
                case Proc.SHUTDOWN -> shutdown((int) sys.mr(0));
                case Proc.ANNOUNCE -> {
                    Running r = sys.badge() == SUPERVISOR_BADGE ? server(sys.string(0)) : null;
                    if (r == null) {
                        yield Replies.error(sys, Status.E_NO_RIGHTS, "announce: only the supervisor, for a server");
                    }
                    announce(r);
                    yield Replies.ok(0);
                }
                default -> Replies.error(sys, Status.E_INVALID_ARG, "proc: unknown request " + sys.label());
            };
        } catch (RuntimeException e) {
            return Replies.error(sys, e instanceof IsolaException ie ? ie.status() : Status.E_INVALID_ARG,
                    e.getMessage() == null ? e.toString() : e.getMessage());
        }
    }

    private List<Domain> liveDomains() {
        List<Domain> out = new ArrayList<>();
        for (int i = 0; i < kernel.domainCapacity(); i++) {
            Domain d = kernel.domain(i);
            if (d != null && d.state() != Domain.DEAD) {
                out.add(d);
            }
        }
        return out;
    }

    private List<String> ps() {
        List<String> lines = new ArrayList<>();
        lines.add(String.format("%3s  %-12s %-8s %-10s %-14s %4s", "ID", "DOMAIN", "STATE", "THREAD", "THREAD STATE", "PRIO"));
        for (Domain d : liveDomains()) {
            List<Tcb> ts = kernel.threadsOf(d);
            String head = String.format("%3d  %-12s %-8s", d.id(), d.name(), Domain.stateName(d.state()));
            if (ts.isEmpty()) {
                lines.add(head + " " + String.format("%-10s %-14s %4s", "-", "(passive)", "-"));
            }
            for (int i = ts.size() - 1; i >= 0; i--) {
                Tcb t = ts.get(i);
                lines.add(head + " " + String.format("%-10s %-14s %4d", t.name(), Tcb.stateName(t.state()), t.priority()));
            }
        }
        return lines;
    }

    private long caps() {
        String name = sys.string(1);
        Domain d = null;
        List<Domain> live = liveDomains();
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
        endpoints.forEach((svc, ep) -> serviceOf.put(ep, svc));
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
        Running r = server(name);
        if (r == null) {
            return Replies.error(sys, Status.E_INVALID_ARG, "kill: no server named '" + name
                    + "' (servers: " + String.join(", ", servers.keySet()) + ")");
        }
        kernel.injectFault(r.vd.domain(), "killed from the shell");
        return Replies.ok(0);
    }

    private long shutdown(int status) {
        log(Log.INFO, "init: shutdown, status " + status);
        supervisor.stop();
        for (Running r : servers.values()) {
            kernel.killDomainNow(r.vd.domain());
        }
        kernel.killDomainNow(supervisor.domain);
        exit.complete(status);
        return Replies.ok(0);
    }

    /** Waits a little, without holding anything (backoff between restarts). */
    static void pause(long nanos) {
        long end = System.nanoTime() + nanos;
        for (long left = nanos; left > 0; left = end - System.nanoTime()) {
            LockSupport.parkNanos(left);
        }
    }
}
