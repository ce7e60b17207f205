package isola.init;

import isola.device.HostDisk;
import isola.init.manifest.BootManifest;
import isola.init.manifest.ServerSpec;
import isola.kernel.Domain;
import isola.kernel.Endpoint;
import isola.kernel.Kernel;
import isola.kernel.Rights;
import isola.kernel.Tcb;
import isola.kernel.machine.HostedMachine;
import isola.sdk.Kept;
import isola.sdk.Log;
import isola.sdk.Proc;
import isola.sdk.Sys;
import isola.tier.IsolationTier;
import isola.tier.vm.VmTier;
import java.nio.file.Path;
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
 * and then serves {@code proc} ({@link ProcServer}). The supervisor domain ({@link Supervisor})
 * restarts crashed servers through {@link #relaunch}.
 *
 * <p>This class is the server table and the launching of servers; init's other roles are their
 * own classes, threads of init's domain: {@link Keeper} keeps each server's state across its
 * restarts ({@link Kept}) and seeds names and log with what they must start with, {@link Klogd}
 * writes init's, the supervisor's and the kernel's records to the log server, {@link Standby}
 * prepares servers' next incarnations ahead of a crash. {@link Running} is a started server.
 *
 * <p>Launching, relaunching and what is kept for a server are guarded by the monitor of the
 * Init object (the supervisor's restarts, the keeper's changes and the host's {@link #kept}).
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
    static final int KEEP = 3;
    static final int FIRST_SERVICE = 4;
    /** init's own log capability, badged so its records show as "init". */
    static final int INIT_LOG = 249;
    /** klogd's: the notification the kernel signals on a new kernel log record, and an unbadged log capability ("kernel"). */
    static final int KLOG = 248;
    /** init's IRQ control capability: drivers get their lines from it. */
    static final int IRQ_CONTROL = 246;
    static final int KLOG_LOG = 247;
    /** The log capability badged as the supervisor's, through which klogd writes the supervisor's records. */
    static final int SUPERVISOR_LOG = 245;
    /** Kept capabilities live in init's slots from here on. */
    static final int FIRST_KEPT = 1024;
    static final int SLOTS = 8192;
    /** Badges of init's and the supervisor's own capabilities to services (log sources). */
    static final long INIT_BADGE = 0xF0_0001;
    static final long SUPERVISOR_BADGE = 0xF0_0002;
    /** Capability space size and object quota of a server domain. */
    static final int SERVER_SLOTS = 256;
    static final int SERVER_QUOTA = 64;

    final HostedMachine machine;
    final Kernel kernel;
    final IsolationTier tier;
    final BootManifest manifest;
    private final Map<String, Path> jars;
    /** The exit status the system ends with; proc's shutdown completes it. */
    final CompletableFuture<Integer> exit = new CompletableFuture<>();
    private final CompletableFuture<Void> booted = new CompletableFuture<>();
    final Klogd klogd = new Klogd(this);
    private final Keeper keeper = new Keeper(this);
    final PagerClients pagers;
    final Standby standby;

    Domain domain;
    /** init's main thread: boot, then proc. */
    private Sys sys;
    final Map<String, Endpoint> endpoints = new LinkedHashMap<>();
    final Map<String, Integer> serviceSlots = new HashMap<>();
    final Map<String, Running> servers = new LinkedHashMap<>();
    private int nextSlot = FIRST_SERVICE;
    Supervisor supervisor;

    /**
     * A service init provides from the host instead of from a server: a device of the machine,
     * such as the console device. Its endpoint is init's, as every service's is, and reaches a
     * server only as the manifest grants it; it is not registered in names, so a server that
     * was not granted it cannot look it up.
     */
    public interface HostService {
        /** Starts serving {@code endpoint}, which init created (on the host: its own domain and threads). */
        void start(HostedMachine machine, Endpoint endpoint);
    }

    private final Map<String, HostService> hostServices = new LinkedHashMap<>();
    final Map<String, Endpoint> hostEndpoints = new LinkedHashMap<>();

    /** Before {@link #start}: init provides {@code service} through {@code host}. */
    public Init provide(String service, HostService host) {
        if (domain != null) {
            throw new IllegalStateException("host service " + service + " must be provided before init starts");
        }
        hostServices.put(service, host);
        return this;
    }

    private final Map<String, HostDisk> disks = new LinkedHashMap<>();

    /**
     * Before {@link #start}: the machine has {@code disk} as the device {@code name}, which init
     * hands to the servers the manifest grants it (a device is a grant, not a service: no
     * endpoint, no name). The caller keeps it, and closes it after the system stopped.
     */
    public Init attach(String name, HostDisk disk) {
        if (domain != null) {
            throw new IllegalStateException("device " + name + " must be attached before init starts");
        }
        disks.put(name, disk);
        return this;
    }

    /** Init of a system whose servers run in the {@code vm} tier. */
    public Init(HostedMachine machine, BootManifest manifest, Map<String, Path> jars) {
        this(machine, manifest, jars, new VmTier(machine));
    }

    /** Init of a system whose servers run in {@code tier}. */
    public Init(HostedMachine machine, BootManifest manifest, Map<String, Path> jars, IsolationTier tier) {
        this.machine = machine;
        this.kernel = machine.kernel();
        this.tier = tier;
        this.manifest = manifest;
        this.jars = Map.copyOf(jars);
        this.standby = new Standby(tier, this.jars);
        this.pagers = new PagerClients(this); // after kernel, which it keeps
    }

    /**
     * Creates init's domain and thread, which boots the system and then serves {@code proc}.
     * Returns the exit status the system ends with (at {@code shutdown}). A boot error ends it
     * with the error.
     */
    public CompletableFuture<Integer> start() {
        domain = kernel.createDomain("init", SLOTS, 1024);
        kernel.installCap(domain, IRQ_CONTROL, kernel.irqControl(), Rights.CONTROL, 0);
        Tcb main = kernel.createThread(domain, "main", 250);
        machine.spawn(main, () -> {
            sys = Sys.of(kernel, main);
            try {
                boot();
            } catch (RuntimeException | Error e) {
                booted.completeExceptionally(e);
                exit.completeExceptionally(e);
                throw e;
            }
            booted.complete(null);
            new ProcServer(this, sys).serve();
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
        Endpoint keep = kernel.createEndpoint(domain);
        kernel.installCap(domain, KEEP, keep, Rights.ALL, 0);
        kernel.rebindEndpoint(keep, domain);
        endpoints.put(Proc.PROC, proc);
        serviceSlots.put(Proc.PROC, PROC);
        endpoints.put(Proc.SUPERVISOR, sup);
        serviceSlots.put(Proc.SUPERVISOR, SUPERVISOR);
        for (var h : hostServices.entrySet()) {
            Endpoint ep = kernel.createEndpoint(domain);
            int slot = nextSlot++;
            kernel.installCap(domain, slot, ep, Rights.ALL, 0);
            serviceSlots.put(h.getKey(), slot);
            hostEndpoints.put(h.getKey(), ep);
            h.getValue().start(machine, ep);
        }
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
        pagers.assignSlots();
        for (Running r : servers.values()) {
            keeper.seed(r);
        }
        keeper.start();
        kernel.installCap(domain, KLOG, kernel.createNotification(domain), Rights.ALL, 0); // before the supervisor, which signals it
        supervisor = new Supervisor(this, sup, faults);
        supervisor.start();
        for (ServerSpec s : order) {
            Running r = servers.get(s.name());
            try {
                launch(r);
            } catch (RuntimeException e) {
                throw new ServerStartFailure(manifest.fileName() + ":" + s.line() + ": [server " + s.name()
                        + "] cannot start: " + inImageTerms(String.valueOf(e.getMessage()), s), e);
            }
            if (s.provides().contains("log")) {
                kernel.grantCap(domain, serviceSlots.get("log"), domain, INIT_LOG, Rights.SEND, INIT_BADGE);
                kernel.grantCap(domain, serviceSlots.get("log"), domain, KLOG_LOG, Rights.SEND, 0);
                kernel.grantCap(domain, serviceSlots.get("log"), domain, SUPERVISOR_LOG, Rights.SEND, SUPERVISOR_BADGE);
                klogd.start();
            }
        }
        log(Log.INFO, "init: started " + order.size() + " servers in "
                + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms");
    }

    /**
     * A server of the manifest that could not be started at boot (its tier refused its jar, say):
     * the message names the manifest's file and the server's line, and the jar as the boot image
     * names it, not the host file init unpacked it to.
     */
    public static final class ServerStartFailure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        ServerStartFailure(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** {@code message} with the host path of the server's unpacked jar written as the jar's path in the image. */
    private String inImageTerms(String message, ServerSpec s) {
        Path unpacked = jars.get(s.jar());
        return unpacked == null ? message : message.replace(unpacked.toString(), s.jar());
    }

    /** Logs as init: queued for klogd once the log server is up (the host's stderr before); never blocks. */
    void log(int level, String text) {
        if (klogd.queue(INIT_LOG, level, text)) {
            sys.signal(KLOG);
        }
    }

    /** Completes when every server has been started (not necessarily serving yet); fails if the boot did. */
    public CompletableFuture<Void> booted() {
        return booted;
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

    /**
     * Host side (tests, debuggers): gives domain {@code to} server {@code name}'s keep
     * capability in its slot {@code slot}, to change what init keeps for that server.
     */
    public void grantKeep(String name, Domain to, int slot) {
        Running r = server(name);
        if (r == null) {
            throw new IllegalArgumentException("no server '" + name + "' (servers: " + servers.keySet() + ")");
        }
        kernel.grantCap(domain, KEEP, to, slot, Rights.SEND | Rights.GRANT, r.badge);
    }

    /** What init keeps for server {@code name}: its kept values and the keys of its kept capabilities. */
    public synchronized Map<String, String> kept(String name) {
        Running r = servers.get(name);
        Map<String, String> out = new java.util.TreeMap<>(r.keptValues);
        r.keptCaps.keySet().forEach(k -> out.put(k, "(capability)"));
        return out;
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

    /** What {@code ps} shows, for the host (a hang report: the shell that would ask may be the one stuck). */
    public List<String> psForHost() {
        return ProcServer.ps(kernel);
    }

    /** Gives the supervisor's domain a capability to signal klogd, in its {@code slot}. */
    void grantKlogSignal(Domain to, int slot) {
        kernel.grantCap(domain, KLOG, to, slot, Rights.SEND, 0);
    }

    /**
     * Starts a server's next incarnation in a fresh domain: the provided endpoints (rebound to
     * it), the granted services, its keep capability and its kept capabilities in its slots, in
     * that order; faults reported to the supervisor.
     */
    synchronized void launch(Running r) {
        ServerSpec s = r.spec;
        IsolationTier.Prepared p = standby.take(r);
        IsolationTier.Loaded vd = null;
        try {
            vd = tier.load(p, SERVER_SLOTS, SERVER_QUOTA);
            kernel.setFrameQuota(vd.domain(), s.memory() >> 12); // its manifest's memory
            bindAndStart(r, vd);
            pagers.giveClients(r); // a restarted pager gets its clients back
        } catch (RuntimeException e) {
            p.discard(); // its main JVM thread, unless the start took it
            if (vd != null) {
                kernel.killDomainNow(vd.domain()); // callers of endpoints rebound to it get E_DEAD_DOMAIN
            }
            throw e;
        }
        if (s.restart().onCrash()) {
            standby.prepareLater(r);
        }
    }

    /** Gives a loaded incarnation its capabilities and endpoints, then starts it. */
    private void bindAndStart(Running r, IsolationTier.Loaded vd) {
        ServerSpec s = r.spec;
        Domain d = vd.domain();
        Map<String, Integer> provided = new LinkedHashMap<>();
        Map<String, Integer> granted = new LinkedHashMap<>();
        Map<String, HostDisk> devices = new LinkedHashMap<>();
        int slot = 0;
        for (String svc : s.provides()) {
            kernel.grantCap(domain, serviceSlots.get(svc), d, slot, Rights.ALL, 0);
            kernel.rebindEndpoint(endpoints.get(svc), d);
            provided.put(svc, slot++);
        }
        for (String svc : s.grants()) {
            if (svc.equals(isola.sdk.Blk.DISK)) { // a device, not a service: see attach
                HostDisk disk = disks.get(svc);
                if (disk != null) {
                    devices.put(svc, disk);
                }
                continue;
            }
            kernel.grantCap(domain, serviceSlots.get(svc), d, slot, Rights.SEND | Rights.GRANT, r.badge);
            granted.put(svc, slot++);
        }
        int keepSlot = slot++;
        kernel.grantCap(domain, KEEP, d, keepSlot, Rights.SEND | Rights.GRANT, r.badge);
        Map<String, Integer> keptCaps = new LinkedHashMap<>();
        for (var e : r.keptCaps.entrySet()) {
            kernel.grantCap(domain, e.getValue(), d, slot, domain.cspace().get(e.getValue()).rights, 0);
            keptCaps.put(e.getKey(), slot++);
        }
        kernel.setFaultEndpoint(d, supervisor.faults, r.badge);
        if (s.pager() != null) {
            pagers.attach(r, d);
        }
        IsolationTier.Loaded old = r.vd;
        r.vd = vd;
        if (old != null && old != vd && old.domain().state() == Domain.DEAD) {
            tier.release(old);
        }
        tier.start(vd, s.priority(), new IsolationTier.StartInfo(provided, granted, devices,
                new Kept(r.keptValues, keptCaps, r.keptMemory), keepSlot));
    }

    /**
     * The supervisor's restart: the old incarnation dies (callers get E_RESTARTED), a new one
     * starts. If the new one cannot start (no domain, thread or memory left), the server is
     * left dead, its waiting callers get E_DEAD_DOMAIN, and the exception says why.
     */
    synchronized void relaunch(Running r) {
        Domain old = r.vd.domain();
        kernel.killForRestart(old);
        try {
            launch(r);
        } catch (RuntimeException e) {
            r.gaveUp = true;
            kernel.abandonRestart(old);
            throw e;
        }
        r.restarts++;
    }

    synchronized Running server(String name) {
        return servers.get(name);
    }

    /** The server whose capabilities carry {@code badge}, or null (the table is fixed once booted). */
    Running serverByBadge(long badge) {
        for (Running x : servers.values()) {
            if (x.badge == badge) {
                return x;
            }
        }
        return null;
    }

    /** Waits a little, without holding anything (backoff between restarts). */
    static void pause(long nanos) {
        long end = System.nanoTime() + nanos;
        for (long left = nanos; left > 0; left = end - System.nanoTime()) {
            LockSupport.parkNanos(left);
        }
    }
}
