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
import isola.kernel.machine.HostedMachine;
import isola.sdk.IsolaException;
import isola.sdk.Keep;
import isola.sdk.Kept;
import isola.sdk.Log;
import isola.sdk.Names;
import isola.sdk.Proc;
import isola.sdk.Replies;
import isola.sdk.Sys;
import isola.tier.IsolationTier;
import isola.tier.vm.VmTier;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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
 * and then serves {@code proc} (ps, caps, kill, shutdown). The supervisor domain
 * ({@link Supervisor}) restarts crashed servers through {@link #relaunch}.
 *
 * <p>init also keeps each server's state across its restarts ({@link Kept}): its "keeper"
 * thread serves {@link Keep} requests, and every incarnation of a server starts with what was
 * kept for it. init seeds names with every service and each server's prefix, and log with the
 * names of its sources, so a restarted names or log server is whole before it serves its
 * first call.
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
    /** Most keys a server may keep. */
    static final int MAX_KEPT_KEYS = 1024;
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
    private final CompletableFuture<Integer> exit = new CompletableFuture<>();
    private final CompletableFuture<Void> booted = new CompletableFuture<>();
    /** init's and the supervisor's records, which klogd writes to the log server (they never wait on it). */
    final LogQueue logQueue = new LogQueue();
    /** Set once klogd runs (a log server exists); before, records go to the host's stderr. */
    private volatile boolean klogdRunning;
    /** Set at shutdown: klogd writes what is queued, then ends. */
    private volatile boolean klogdStopping;
    private final CompletableFuture<Void> klogdDone = new CompletableFuture<>();

    Domain domain;
    private Sys sys;
    private final Map<String, Endpoint> endpoints = new LinkedHashMap<>();
    private final Map<String, Integer> serviceSlots = new HashMap<>();
    final Map<String, Running> servers = new LinkedHashMap<>();
    private int nextSlot = FIRST_SERVICE;
    private Supervisor supervisor;
    /** Slots of init's holding kept capabilities; only the keeper thread (and boot, before it) takes them. */
    private final java.util.BitSet keptSlots = new java.util.BitSet();
    /**
     * Prepares servers' next incarnations in the background (host work: reading jars, defining
     * classes), {@link #STANDBY_DELAY_MS} after a start, so that it does not compete for the
     * cores with the start itself (a boot, or a restart still warming up).
     */
    private final java.util.concurrent.ScheduledThreadPoolExecutor preparer = new java.util.concurrent.ScheduledThreadPoolExecutor(1, job -> {
        Thread t = new Thread(job, "isola-init-preparer");
        t.setDaemon(true);
        t.setPriority(Thread.MIN_PRIORITY);
        return t;
    });
    /** How long after a server's start its next incarnation is prepared. */
    static final long STANDBY_DELAY_MS = 50;

    {
        preparer.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    }

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
    private final Map<String, Endpoint> hostEndpoints = new LinkedHashMap<>();

    /** Before {@link #start}: init provides {@code service} through {@code host}. */
    public Init provide(String service, HostService host) {
        if (domain != null) {
            throw new IllegalStateException("host service " + service + " must be provided before init starts");
        }
        hostServices.put(service, host);
        return this;
    }

    /** A server as started: its manifest entry, what init keeps for it, its current incarnation. */
    static final class Running {
        final ServerSpec spec;
        final long badge;
        /** Its DOMAIN capability's slot in its pager's domain (-1: no pager), and how often it was given. */
        int pagerSlot = -1;
        int pagerGeneration;
        /** Kept text and capabilities (as slots of init's), guarded by init's monitor. */
        final Map<String, String> keptValues = new LinkedHashMap<>();
        final Map<String, Integer> keptCaps = new LinkedHashMap<>();
        /** The kept memory, the same region for every incarnation. */
        final MemorySegment keptMemory;
        volatile IsolationTier.Loaded vd;
        /** The next incarnation, prepared ahead of a crash (null: none yet). */
        java.util.concurrent.Future<? extends IsolationTier.Prepared> standby;
        volatile int restarts;
        /** The incarnation the watchdog killed for overrunning its deadline, until the supervisor handles it. */
        volatile Domain overrun;
        int consecutiveCrashes;
        long lastCrashNanos;
        volatile boolean gaveUp;

        Running(ServerSpec spec, long badge) {
            this.spec = spec;
            this.badge = badge;
            this.keptMemory = spec.keptMemory() == 0 ? MemorySegment.NULL
                    : Arena.ofAuto().allocate(spec.keptMemory(), 64);
        }
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
        Map<String, Integer> clientsOf = new HashMap<>();
        for (Running r : servers.values()) {
            if (r.spec.pager() != null) {
                int k = clientsOf.merge(r.spec.pager(), 1, Integer::sum) - 1;
                if (k >= 64 - FIRST_PAGER_CLIENT) {
                    throw new IllegalStateException("pager service " + r.spec.pager() + " has more than "
                            + (64 - FIRST_PAGER_CLIENT) + " clients");
                }
                r.pagerSlot = FIRST_PAGER_CLIENT + k;
            }
        }
        for (Running r : servers.values()) {
            seed(r);
        }
        Tcb keeper = kernel.createThread(domain, "keeper", 245);
        machine.spawn(keeper, () -> serveKeep(Sys.of(kernel, keeper)));
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
                startKlogd();
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

    /**
     * What init knows that a names or log server must start with, kept for it before its first
     * incarnation: names gets every service's endpoint and each server's prefix (its name and a
     * slash), log the name of every badge. Each incarnation then starts whole.
     */
    private void seed(Running r) {
        if (r.spec.provides().contains("names")) {
            for (Running x : servers.values()) {
                if (x.spec.grants().contains("names")) {
                    r.keptValues.put(Names.KEPT_PREFIX + x.badge, x.spec.name() + "/");
                }
            }
            for (String svc : endpoints.keySet()) {
                int slot = keptSlots.nextClearBit(FIRST_KEPT);
                kernel.grantCap(domain, serviceSlots.get(svc), domain, slot, Rights.SEND | Rights.GRANT, 0);
                keptSlots.set(slot);
                r.keptCaps.put(Names.KEPT_NAME + svc, slot);
            }
        }
        if (r.spec.provides().contains("log")) {
            r.keptValues.put(Log.KEPT_SOURCE + 0, "kernel");
            r.keptValues.put(Log.KEPT_SOURCE + INIT_BADGE, "init");
            r.keptValues.put(Log.KEPT_SOURCE + SUPERVISOR_BADGE, "supervisor");
            for (Running x : servers.values()) {
                r.keptValues.put(Log.KEPT_SOURCE + x.badge, x.spec.name());
            }
        }
    }

    /** Logs as init: queued for klogd once the log server is up (the host's stderr before); never blocks. */
    void log(int level, String text) {
        if (queueLog(INIT_LOG, level, text)) {
            sys.signal(KLOG);
        }
    }

    /**
     * Queues a record for klogd to write through init's slot {@code slot}; false (and the record
     * printed on the host's stderr) if no log server exists. The caller then signals klogd.
     */
    boolean queueLog(int slot, int level, String text) {
        if (!klogdRunning) {
            System.err.println("isola: " + text);
            return false;
        }
        logQueue.add(slot, level, text);
        return true;
    }

    /** Writes a log record through {@code slot} if it holds the log capability. */
    static void logThrough(Sys sys, int slot, int level, String text) {
        try {
            Log.write(sys, slot, level, text);
        } catch (IsolaException e) {
            System.err.println("isola: " + text + " (log unavailable: " + e.getMessage() + ")");
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
        IsolationTier.Prepared p = takeStandby(r);
        IsolationTier.Loaded vd = null;
        try {
            vd = tier.load(p, SERVER_SLOTS, SERVER_QUOTA);
            kernel.setFrameQuota(vd.domain(), s.memory() >> 12); // its manifest's memory
            bindAndStart(r, vd);
            for (Running c : servers.values()) { // a restarted pager gets its clients back
                if (c.spec.pager() != null && s.provides().contains(c.spec.pager()) && c.vd != null
                        && c.vd.domain().state() != Domain.DEAD) {
                    givePager(r, c, c.vd.domain());
                }
            }
        } catch (RuntimeException e) {
            p.discard(); // its main JVM thread, unless the start took it
            if (vd != null) {
                kernel.killDomainNow(vd.domain()); // callers of endpoints rebound to it get E_DEAD_DOMAIN
            }
            throw e;
        }
        if (s.restart().onCrash()) {
            r.standby = preparer.schedule(() -> tier.prepareAhead(s.name(), jars.get(s.jar())),
                    STANDBY_DELAY_MS, java.util.concurrent.TimeUnit.MILLISECONDS);
        }
    }

    /**
     * A pager's clients' DOMAIN capabilities (CONTROL) sit in its slots from here: the pager maps
     * a client's pages with the one the fault's badge names.
     */
    static final int FIRST_PAGER_CLIENT = 32;

    /** The badge of a client's faults: its slot in the pager, and which incarnation (fresh tables). */
    private static long pagerBadge(Running client) {
        return client.pagerSlot + 64L * client.pagerGeneration;
    }

    /** Puts a CONTROL capability to the client's domain in its slot of the pager's domain. */
    private void givePager(Running pager, Running client, Domain clientDomain) {
        Domain pd = pager.vd.domain();
        kernel.deleteCap(pd, client.pagerSlot);
        kernel.installCap(pd, client.pagerSlot, clientDomain, Rights.CONTROL, 0);
    }

    /**
     * A client left dead for good: its pager frees what it held for it (it would otherwise
     * learn only from a next incarnation's first fault, which will not come) and loses its
     * capability to the dead domain. The call comes from {@code sys}, a thread of {@code caller},
     * which lends its slot {@code scratch} for the capability to the pager. A failure is logged
     * by the caller: the client stays dead either way.
     */
    static final long PAGER_FORGET_NS = TimeUnit.SECONDS.toNanos(2);

    int releasePaged(Domain caller, Sys sys, int scratch, Running client) {
        if (client.spec.pager() == null || client.pagerSlot < 0) {
            return Status.OK;
        }
        Running p = providerOf(client.spec.pager());
        if (p.vd == null || p.vd.domain().state() == Domain.DEAD) {
            return Status.OK; // its next incarnation starts empty, and without this client
        }
        kernel.installCap(caller, scratch, endpoints.get(client.spec.pager()), Rights.SEND, isola.sdk.Pager.SUPERVISOR);
        int st;
        try {
            sys.mr(0, client.pagerSlot);
            // bounded: the pager may itself be down, and the supervisor must not wait on it
            st = sys.call(scratch, isola.kernel.Tag.of(isola.sdk.Pager.FORGET, 1), PAGER_FORGET_NS);
            if (st == Status.OK && sys.label() != 0) {
                st = Status.E_INVALID_ARG;
            }
        } finally {
            kernel.deleteCap(caller, scratch);
        }
        synchronized (this) {
            kernel.deleteCap(p.vd.domain(), client.pagerSlot);
        }
        return st;
    }

    private Running providerOf(String service) {
        for (Running x : servers.values()) {
            if (x.spec.provides().contains(service)) {
                return x;
            }
        }
        throw new IllegalStateException("no server provides " + service); // the manifest checked it
    }

    /** Gives a loaded incarnation its capabilities and endpoints, then starts it. */
    private void bindAndStart(Running r, IsolationTier.Loaded vd) {
        ServerSpec s = r.spec;
        Domain d = vd.domain();
        Map<String, Integer> provided = new LinkedHashMap<>();
        Map<String, Integer> granted = new LinkedHashMap<>();
        Map<String, isola.sdk.BlockDevice> devices = new LinkedHashMap<>();
        int slot = 0;
        for (String svc : s.provides()) {
            kernel.grantCap(domain, serviceSlots.get(svc), d, slot, Rights.ALL, 0);
            kernel.rebindEndpoint(endpoints.get(svc), d);
            provided.put(svc, slot++);
        }
        for (String svc : s.grants()) {
            if (svc.equals(isola.sdk.Blk.DISK)) { // a device, not a service: see HostDisk
                isola.device.HostDisk disk = isola.device.HostDisk.attached(svc);
                if (disk != null) {
                    devices.put(svc, disk.forDriver());
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
            r.pagerGeneration++;
            Running p = providerOf(s.pager());
            if (p.vd != null && p.vd.domain().state() != Domain.DEAD) {
                givePager(p, r, d);
            }
            kernel.setPager(d, endpoints.get(s.pager()), pagerBadge(r));
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
     * The server's prepared next incarnation (waiting for it if it is being prepared), else one
     * prepared now (also when its preparation has not begun: a crash soon after a start).
     */
    private IsolationTier.Prepared takeStandby(Running r) {
        var f = r.standby;
        r.standby = null;
        if (f != null && !f.cancel(false)) {
            // Being prepared (a few ms): wait for it, through interrupts, so it is not lost.
            boolean interrupted = false;
            try {
                for (;;) {
                    try {
                        return f.get();
                    } catch (InterruptedException e) {
                        interrupted = true;
                    } catch (java.util.concurrent.ExecutionException e) {
                        break; // prepared again below, which reports the problem
                    }
                }
            } finally {
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        return tier.prepare(r.spec.name(), jars.get(r.spec.jar()));
    }

    // ---- klogd ----

    /**
     * How long klogd lets kernel records gather after a wake-up before it drains them: a crash
     * writes several at once, and draining them is work for both cores while the supervisor
     * restarts the server (dmesg shows them this much later).
     */
    static final long LOG_BATCH_NS = 10_000_000;

    /**
     * Starts klogd, the one thread that writes to the log server for init, the supervisor and the
     * kernel (as "kernel"): it drains the kernel's log and {@link #logQueue}. It is the only one of
     * theirs that may wait on the log server, which the supervisor may be restarting meanwhile.
     */
    private void startKlogd() {
        kernel.log().setReader((isola.kernel.Notification) domain.cspace().get(KLOG).object);
        Tcb klogd = kernel.createThread(domain, "klogd", 230);
        klogdRunning = true;
        machine.spawn(klogd, () -> {
            Sys ks = Sys.of(kernel, klogd);
            try {
                for (long next = kernel.log().first(); ; ks.await(KLOG), pause(LOG_BATCH_NS)) {
                    boolean last = klogdStopping; // read first: what was written before shutdown is drained
                    for (long end = kernel.log().written(); next < end; next++) {
                        long first = kernel.log().first();
                        if (next < first) {
                            logThrough(ks, KLOG_LOG, Log.WARN, (first - next) + " kernel log records were overwritten before klogd read them");
                            next = first;
                        }
                        String line = kernel.log().record(next);
                        if (line != null) {
                            logThrough(ks, KLOG_LOG, Log.INFO, line);
                        }
                    }
                    drainQueue(ks);
                    if (last) {
                        return;
                    }
                }
            } finally {
                klogdDone.complete(null);
            }
        });
    }

    private void drainQueue(Sys ks) {
        long dropped = logQueue.takeDropped();
        if (dropped > 0) {
            logThrough(ks, INIT_LOG, Log.WARN, dropped + " records of init's and the supervisor's were dropped while the log server was unavailable");
        }
        for (LogQueue.Entry e = logQueue.poll(); e != null; e = logQueue.poll()) {
            logThrough(ks, e.slot(), e.level(), e.text());
        }
    }

    // ---- keeper ----

    /**
     * The keeper thread's loop: each received capability lands in a free slot of init's, which
     * a PUT_CAP then keeps; anything else it brought is deleted.
     */
    private void serveKeep(Sys ks) {
        long reply = 0;
        for (;;) {
            int window = keptSlots.nextClearBit(FIRST_KEPT);
            ks.receiveWindow(window < SLOTS ? window : -1);
            int st = ks.replyRecv(KEEP, reply);
            reply = st == Status.OK ? handleKeep(ks) : 0;
        }
    }

    private long handleKeep(Sys ks) {
        Running r = serverByBadge(ks.badge());
        int received = ks.capsReceived() == 1 ? ks.capSlot(0) : -1;
        String key = ks.string(0);
        String problem = r == null ? "keep: this capability belongs to no server"
                : key == null || key.isEmpty() || key.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > Keep.MAX_KEY
                        ? "keep: bad key " + (key == null ? "(no text)" : "'" + key + "'") + ": 1.." + Keep.MAX_KEY + " bytes"
                : ks.label() == Keep.PUT_CAP && received < 0 ? "keep " + key + ": send exactly one capability"
                : ks.label() < Keep.PUT || ks.label() > Keep.REMOVE ? "keep: unknown request " + ks.label()
                : null;
        String value = problem == null && ks.label() == Keep.PUT ? ks.string(ks.afterString(0)) : null;
        if (problem == null && ks.label() == Keep.PUT && value == null) {
            problem = "keep " + key + ": no value after the key";
        }
        if (problem != null) {
            if (received >= 0) {
                ks.delete(received);
            }
            return Replies.error(ks, r == null ? Status.E_NO_RIGHTS : Status.E_INVALID_ARG, problem);
        }
        if (received >= 0 && ks.label() != Keep.PUT_CAP) {
            ks.delete(received);
        }
        synchronized (this) {
            boolean known = r.keptValues.containsKey(key) || r.keptCaps.containsKey(key);
            if (!known && ks.label() != Keep.REMOVE && r.keptValues.size() + r.keptCaps.size() >= MAX_KEPT_KEYS) {
                if (received >= 0) {
                    ks.delete(received);
                }
                return Replies.error(ks, Status.E_NO_MEMORY, "keep " + key + ": " + r.spec.name()
                        + " already keeps " + MAX_KEPT_KEYS + " keys");
            }
            if (ks.label() == Keep.REMOVE && !known) {
                return Replies.error(ks, Status.E_EMPTY_SLOT, "forget " + key + ": nothing is kept under it");
            }
            r.keptValues.remove(key);
            Integer old = r.keptCaps.remove(key);
            if (old != null) {
                ks.delete(old);
                keptSlots.clear(old);
            }
            if (ks.label() == Keep.PUT) {
                r.keptValues.put(key, value);
            } else if (ks.label() == Keep.PUT_CAP) {
                keptSlots.set(received);
                r.keptCaps.put(key, received);
            }
        }
        return Replies.ok(0);
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

    private List<Domain> liveDomains() {
        List<Domain> out = new ArrayList<>();
        for (Domain d : kernel.liveDomains()) {
            if (d.state() != Domain.DEAD) {
                out.add(d);
            }
        }
        return out;
    }

    /** What {@code ps} shows, for the host (a hang report: the shell that would ask may be the one stuck). */
    public List<String> psForHost() {
        return ps();
    }

    private List<String> ps() {
        List<String> lines = new ArrayList<>();
        lines.add(String.format("%3s  %-12s %-8s %-10s %-14s %4s  %s", "ID", "DOMAIN", "STATE", "THREAD", "THREAD STATE",
                "PRIO", "ISOLATION"));
        for (Domain d : liveDomains()) {
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
        for (Domain d : liveDomains()) {
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
        hostEndpoints.forEach((svc, ep) -> serviceOf.put(ep, svc));
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
            pause(KILL_POLL_NS);
        }
        String killed = wasDown ? name + " was down already" : "killed " + name;
        boolean back = wasDown ? r.vd.domain().state() == isola.kernel.Domain.RUNNING : r.restarts != before;
        String line = back ? killed + "; restarted (restarts: " + r.restarts + ")"
                : r.gaveUp ? killed + "; the supervisor gave up on it (see supervisor)"
                : !r.spec.restart().onCrash() ? killed + "; restart = never: left dead"
                : killed + "; restarting (after its backoff)";
        return isola.kernel.Tag.of(Replies.OK, sys.putString(0, line));
    }

    /** How long {@code kill} waits for the restart before it answers "restarting". */
    static final long KILL_WAIT_NS = TimeUnit.SECONDS.toNanos(2);
    static final long KILL_POLL_NS = TimeUnit.MILLISECONDS.toNanos(1);

    private long shutdown(int status) {
        log(Log.INFO, "init: shutdown, status " + status);
        flushLog();
        supervisor.stop();
        for (Running r : servers.values()) {
            kernel.killDomainNow(r.vd.domain());
        }
        // Standbys not begun are dropped; one being prepared is let finish, then discarded.
        preparer.shutdown();
        try {
            preparer.awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Running r : servers.values()) {
            var f = r.standby;
            if (f != null && f.state() == java.util.concurrent.Future.State.SUCCESS) {
                f.resultNow().discard();
            }
        }
        kernel.killDomainNow(supervisor.domain);
        exit.complete(status);
        return Replies.ok(0);
    }

    /** How long shutdown waits for klogd to write what is queued, and then for the log to reach the host's. */
    static final long SHUTDOWN_LOG_NS = TimeUnit.SECONDS.toNanos(2);

    /**
     * At shutdown: klogd writes what is queued and stops (the kills that follow are the end, not
     * news), then the log server syncs to the host's log. Both are bounded: a log server that is
     * down or hung costs the host log its last records, not the shutdown.
     */
    private void flushLog() {
        kernel.log().setReader(null);
        if (!klogdRunning) {
            return;
        }
        klogdStopping = true;
        sys.signal(KLOG);
        String problem = null;
        try {
            klogdDone.get(SHUTDOWN_LOG_NS, TimeUnit.NANOSECONDS);
            Log.sync(sys, INIT_LOG, SHUTDOWN_LOG_NS);
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

    /** Waits a little, without holding anything (backoff between restarts). */
    static void pause(long nanos) {
        long end = System.nanoTime() + nanos;
        for (long left = nanos; left > 0; left = end - System.nanoTime()) {
            LockSupport.parkNanos(left);
        }
    }
}
