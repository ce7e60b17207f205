package isola.kernel;

import static isola.kernel.Status.*;

import isola.kernel.machine.Machine;
import java.lang.foreign.Arena;
import java.util.List;

/**
 * The kernel core: a single state machine over kernel objects, and its system-call layer. Every
 * system call is a method here taking the calling thread; each hands its work to the part of the
 * kernel that owns it:
 * <ul>
 *   <li>{@link FastPath}: the lock-free call, replyRecv and passive call, and both halves of
 *       the fast path's handshake with the slow path;
 *   <li>{@link IpcSlowPath}: IPC under the kernel lock; {@link Signals}: notifications;
 *   <li>{@link Capabilities}: lookup, derivation, deletion, revocation, objects' ends;
 *   <li>{@link Lifecycle}: domains and threads from creation to reclamation; {@link Faults};
 *   <li>{@link Scheduling}: kernel entry and exit, blocking, waking, timeouts, the
 *       uniprocessor's scheduler;
 *   <li>{@link MemoryCalls} and {@link IrqCalls}.
 * </ul>
 * Slow paths run between {@link Machine#enter} and {@link Machine#leave} (the kernel lock;
 * methods that need it are marked {@link LockHeld}), change objects, and may block the caller.
 * The core holds no JDK locks or threads, does no reflection or logging, and allocates nothing
 * on the fast paths. What a status says of its message across faults and restarts: {@link Status}.
 */
public final class Kernel {
    /** Block until done. */
    public static final long FOREVER = -1L;
    /** Do not block: a non-blocking send or receive. */
    public static final long POLL = 0L;

    // Internal results of the IPC paths, never returned to a caller.
    static final int BLOCKED = 1;
    static final int PASSIVE = 2;
    static final int MISS = 3;
    /** A queued sender's endpoint went passive while it waited: the entry starts over, passively. */
    static final int REQUEUE = 4;

    /** Virtual time one kernel entry costs in deterministic mode. */
    public static final long ENTRY_COST_NS = 1_000;

    final Machine machine;
    /** Lock-free paths on: a multiprocessor machine. */
    final boolean fast;
    /** One kernel thread at a time, in the scheduler's order. */
    final boolean uni;
    final KernelConfig config;
    final ObjectPool<Domain> domains;
    final ObjectPool<Tcb> threads;
    final ObjectPool<Endpoint> endpoints;
    final ObjectPool<Notification> notifications;
    final ObjectPool<Reply> replies;
    final Scheduler scheduler = new Scheduler();
    final TimerQueue timers;
    private final Trace trace;
    private final KernelLog klog;
    private final KernelLogReader logReader;
    private final KernelLock lock;
    final Memory memory;
    final InterruptController irqs = new InterruptController();
    final ObjectPool<IrqHandler> irqHandlers = new ObjectPool<>(InterruptController.LINES, IrqHandler::new);
    private final IrqControl irqControl = new IrqControl();
    final Arena utcbArena = Arena.ofShared();
    private final long serviceOrigin;

    // The kernel's parts, by concern; each made after the ones it uses.
    final Scheduling sched;
    final FastPath fastPath;
    final Capabilities caps;
    final Signals signals;
    final IpcSlowPath ipc;
    final Lifecycle lifecycle;
    final Faults faults;
    final MemoryCalls mem;
    final IrqCalls irq;

    public Kernel(Machine machine, KernelConfig config) {
        this.machine = machine;
        this.config = config;
        this.uni = machine.uniprocessor();
        this.fast = !uni;
        domains = new ObjectPool<>(config.domains(), Domain::new);
        threads = new ObjectPool<>(config.threads(), Tcb::new);
        endpoints = new ObjectPool<>(config.endpoints(), Endpoint::new);
        notifications = new ObjectPool<>(config.notifications(), Notification::new);
        replies = new ObjectPool<>(config.replies(), id -> new Reply(id, threads, utcbArena));
        timers = new TimerQueue(config.threads());
        trace = new Trace(config.traceEvents());
        klog = new KernelLog(machine.now());
        lock = new KernelLock(machine);
        logReader = new KernelLogReader(lock, klog);
        memory = new Memory(machine.ram(), config);
        serviceOrigin = machine.now();
        sched = new Scheduling(this);
        fastPath = new FastPath(this);
        caps = new Capabilities(this);
        signals = new Signals(this);
        ipc = new IpcSlowPath(this);
        lifecycle = new Lifecycle(this);
        faults = new Faults(this);
        mem = new MemoryCalls(this);
        irq = new IrqCalls(this);
    }

    public Machine machine() {
        return machine;
    }

    public Trace trace() {
        return trace;
    }

    public KernelConfig config() {
        return config;
    }

    /** The running thread (uniprocessor machines only). */
    public Tcb current() {
        return sched.current();
    }

    // ---- the trace and the log, for the parts ----------------------------------------------------

    /** For {@link LockHeld}'s assertions. */
    boolean lockHeld() {
        return machine.holdsLock();
    }

    void trace(int kind, long a, long b) {
        if (trace.enabled()) {
            trace.record(machine.now(), kind, a, b);
        }
    }

    /** Records a lifecycle event in the kernel log and wakes its reader. */
    @LockHeld
    void klog(int kind, long a, long b, Domain subject) {
        klog.record(machine.now(), kind, a, b, subject);
        if (klog.reader != null && klog.reader.live) {
            signals.signal(klog.reader, 1);
        }
    }

    // ---- IPC: call, send, recv, reply, replyRecv ------------------------------------------------

    /**
     * Sends the message in the caller's registers through the endpoint in {@code slot} and waits
     * for the reply, which arrives in the same registers. {@code timeout} covers both phases.
     */
    public int call(Tcb self, int slot, long tag, long timeout) {
        if (fast && timeout == FOREVER) {
            int r = fastPath.call(self, slot, tag);
            if (r != MISS) {
                return r;
            }
        }
        return ipc.call(self, slot, tag, timeout);
    }

    /** Sends without waiting for a reply; blocks until a receiver takes it or the timeout expires. */
    public int send(Tcb self, int slot, long tag, long timeout) {
        return ipc.send(self, slot, tag, timeout);
    }

    /** Receives a message into the caller's registers; a call also binds the caller's reply object. */
    public int recv(Tcb self, int slot, long timeout) {
        return ipc.recv(self, slot, timeout);
    }

    /** Answers the caller bound to this thread's reply object. */
    public int reply(Tcb self, long tag) {
        return ipc.reply(self, tag);
    }

    /** Answers the caller whose reply capability was saved in {@code slot}; deletes it (one-shot). */
    public int replyTo(Tcb self, int slot, long tag) {
        return ipc.replyTo(self, slot, tag);
    }

    /**
     * Replies to the current caller, if any, then receives the next message: a server's loop in
     * one kernel entry. With no caller bound it only receives.
     */
    public int replyRecv(Tcb self, int slot, long tag, long timeout) {
        self.serviceStart = 0; // the call is answered; the next one stamps it again
        if (fast && timeout == FOREVER) {
            int r = fastPath.replyRecv(self, slot, tag);
            if (r != MISS) {
                return fastPath.served(self, r);
            }
        }
        return ipc.replyRecv(self, slot, tag, timeout);
    }

    /** Moves the reply object bound to a caller into {@code dst}, so the answer can come later. */
    public int saveReply(Tcb self, int dst) {
        return ipc.saveReply(self, dst);
    }

    // ---- Notifications and the processor --------------------------------------------------------

    /** ORs the capability's badge (1 if unbadged) into the notification, waking a waiter. */
    public int signal(Tcb self, int slot) {
        int r = sched.begin(self, Trace.OP_SIGNAL, slot);
        return sched.end(self, r != OK ? r : signals.signal(self, slot));
    }

    /** Waits for a signal; the pending bits arrive in the badge register and are cleared. */
    public int await(Tcb self, int slot, long timeout) {
        int r = sched.begin(self, Trace.OP_WAIT, slot);
        return sched.end(self, r != OK ? r : signals.await(self, slot, timeout));
    }

    /** Non-blocking wait: the pending bits (0 if none) arrive in the badge register. */
    public int poll(Tcb self, int slot) {
        return await(self, slot, POLL);
    }

    /** Gives up the rest of the time slice to threads of the same priority. */
    public int yield(Tcb self) {
        return sched.yield(self);
    }

    // ---- Capabilities and objects ---------------------------------------------------------------

    public int capCopy(Tcb self, int src, int dst) {
        return capMint(self, src, dst, -1, 0);
    }

    /**
     * Derives a capability with {@code rights} (a subset of the source's; -1 keeps them) and
     * {@code badge} (0 keeps the source's; a badged capability cannot be re-badged).
     */
    public int capMint(Tcb self, int src, int dst, int rights, long badge) {
        int r = sched.begin(self, Trace.OP_CAP, src);
        return sched.end(self, r != OK ? r : caps.mint(self, src, dst, rights, badge));
    }

    public int capMove(Tcb self, int src, int dst) {
        int r = sched.begin(self, Trace.OP_CAP, src);
        return sched.end(self, r != OK ? r : caps.move(self, src, dst));
    }

    /** Empties the slot; refused (E_FRAME_MAPPED) for the last capability of a mapped frame or linked table. */
    public int capDelete(Tcb self, int slot) {
        int r = sched.begin(self, Trace.OP_CAP, slot);
        return sched.end(self, r != OK ? r : caps.delete(self, slot));
    }

    /** Deletes every capability derived from the one in {@code slot}; they read as revoked. */
    public int capRevoke(Tcb self, int slot) {
        int r = sched.begin(self, Trace.OP_CAP, slot);
        return sched.end(self, r != OK ? r : caps.revoke(self, slot));
    }

    public int createEndpoint(Tcb self, int dst) {
        int r = sched.begin(self, Trace.OP_CREATE, dst);
        return sched.end(self, r != OK ? r : caps.create(self, dst, ObjectType.ENDPOINT));
    }

    public int createNotification(Tcb self, int dst) {
        int r = sched.begin(self, Trace.OP_CREATE, dst);
        return sched.end(self, r != OK ? r : caps.create(self, dst, ObjectType.NOTIFICATION));
    }

    /**
     * Declares the caller's current domain the server of the endpoint in {@code slot} (which
     * needs the RECV right): calls fail with E_DEAD_DOMAIN once the domain dies. With an
     * {@code entry} the domain serves it passively: calls run the entry on the caller's thread.
     */
    public int serve(Tcb self, int slot, PassiveEntry entry) {
        int r = sched.begin(self, Trace.OP_CREATE, slot);
        return sched.end(self, r != OK ? r : lifecycle.serve(self, slot, entry));
    }

    /** Kills the domain named by a DOMAIN capability with the CONTROL right. */
    public int domainKill(Tcb self, int slot) {
        int r = sched.begin(self, Trace.OP_KILL, slot);
        Cap c = r != OK ? null : caps.lookup(self, slot, ObjectType.DOMAIN, Rights.CONTROL);
        if (c != null) {
            lifecycle.killDomain((Domain) c.object);
        }
        return sched.end(self, r != OK ? r : c == null ? self.error : OK);
    }

    // ---- Memory: frames, page tables, mappings, page faults -------------------------------------

    /** The {@code domainSlot} of the mapping calls that names the caller's own domain. */
    public static final int SELF = -1;
    /** Label of a page-fault message to a pager: MR0 address, MR1 #PF error code, MR2 thread id. */
    public static final int PAGE_FAULT = 0xFE;

    /**
     * Allocates a zeroed frame of {@code size} bytes (4 KiB, 2 MiB or 1 GiB, aligned to its
     * size) from the caller's frame quota; its capability, with all rights, goes to {@code dst}.
     */
    public int frameAlloc(Tcb self, int dst, long size) {
        return mem.alloc(self, dst, ObjectType.FRAME, size);
    }

    /** Allocates a zeroed page table of {@code level} (3: PDPT, 2: directory, 1: table) into {@code dst}. */
    public int tableAlloc(Tcb self, int dst, int level) {
        return mem.alloc(self, dst, ObjectType.PAGE_TABLE, level);
    }

    /**
     * Links the page table in {@code tableSlot} into the address space of the domain in
     * {@code domainSlot} (a DOMAIN capability with CONTROL, or {@link #SELF}) to cover {@code va}.
     */
    public int tableLink(Tcb self, int domainSlot, int tableSlot, long va) {
        return mem.tableLink(self, domainSlot, tableSlot, va);
    }

    /** Unlinks the empty level-{@code level} page table covering {@code va} from the target's address space. */
    public int tableUnlink(Tcb self, int domainSlot, long va, int level) {
        return mem.tableUnlink(self, domainSlot, va, level);
    }

    /**
     * Maps the frame in {@code frameSlot} at {@code va} in the target's address space with
     * {@code flags} ({@link isola.kernel.mem.Paging#MAP_FLAGS}): any mapping needs the frame
     * capability's RECV right, a writable one (R/W) its SEND right too.
     */
    public int map(Tcb self, int domainSlot, int frameSlot, long va, long flags) {
        return mem.map(self, domainSlot, frameSlot, va, flags);
    }

    /** Unmaps the page of {@code size} at {@code va} from the target's address space. */
    public int unmap(Tcb self, int domainSlot, long va, long size) {
        return mem.unmap(self, domainSlot, va, size);
    }

    /** Changes the flags of the page of {@code size} at {@code va}; R/W can be dropped, not added. */
    public int protect(Tcb self, int domainSlot, long va, long size, long flags) {
        return mem.protect(self, domainSlot, va, size, flags);
    }

    /**
     * A page fault of {@code self} at {@code va} (the MMU's #PF {@code errorCode}): a call to the
     * pager of the domain the thread runs in (for a passive call, the server's), which maps
     * something and replies label 0, after which the caller retries the access. OK, or
     * E_NOT_MAPPED (with {@code va}) if there is no pager or it refused, or the call's error.
     *
     * <p>A fault is invisible to the thread, as on a CPU: whatever message it was composing
     * (tag, badge, all message registers, capability words, receive window) is as it was
     * afterwards, whatever the pager replied or, if it is passive and so runs on this thread,
     * wrote.
     */
    public int pageFault(Tcb self, long va, int errorCode) {
        return mem.pageFault(self, va, errorCode);
    }

    /** Boot interface: {@code d}'s page faults go to {@code ep} with {@code badge}; null: none. */
    public void setPager(Domain d, Endpoint ep, long badge) {
        lock.run(() -> mem.setPager(d, ep, badge));
    }

    /** The translator of {@code self}'s virtual addresses (its memory accesses), made on first use; only {@code self} uses it. */
    public Translator translator(Tcb self) {
        Translator t = self.translator;
        if (t == null) {
            t = self.translator = new Translator(this, self);
        }
        return t;
    }

    /**
     * The MMU {@code self} uses to reach {@code as} (its domain's, or a passive server's), made
     * once and registered: the kernel reuses an unmapped frame only after every registered MMU
     * has seen the unmap, or its thread waits in a system call.
     */
    public isola.kernel.mem.Mmu mmu(Tcb self, isola.kernel.mem.AddressSpace as) {
        return lock.get(() -> memory.mmu(self, as));
    }

    /** Frames freed but waiting for every MMU to see their unmap. */
    public long framesInLimbo() {
        return lock.get(memory::drainedLimboFrames);
    }

    /** Boot interface: how many 4 KiB frames {@code d} may hold in frames and page tables. */
    public void setFrameQuota(Domain d, long frames) {
        lock.run(() -> mem.setFrameQuota(d, frames));
    }

    /** Free and total 4 KiB frames of physical memory. */
    public long framesFree() {
        return lock.get(memory::drainedFreeFrames);
    }

    public long framesTotal() {
        return memory.allocator.totalFrames(); // fixed at boot
    }

    // ---- Interrupts -----------------------------------------------------------------------------

    /** Interrupt lines (vectors 32..255); line 0 is the timer's. */
    public static final int IRQ_LINES = InterruptController.LINES;

    /**
     * A device raised interrupt line {@code line} (a machine-originated entry): delivered now
     * if its priority allows and it is not masked or in service, else remembered as pending.
     * Line 0 is the timer: the kernel handles it ({@link #tick}).
     */
    public void raiseIrq(int line) {
        IrqCalls.checkLine("raiseIrq", line, InterruptController.TIMER_LINE);
        if (line == InterruptController.TIMER_LINE) {
            tick();
        } else {
            raiseIrqs(line);
        }
    }

    /**
     * Several lines raised at once (an interrupt burst from the machine's devices): they are
     * delivered highest priority first. The timer's line is not one of them.
     */
    public void raiseIrqs(int... lines) {
        for (int line : lines) {
            IrqCalls.checkLine("raiseIrqs", line, InterruptController.TIMER_LINE + 1);
        }
        lock.run(() -> irq.raise(lines));
    }

    /** The IRQ control capability's object, for init (boot interface). */
    public KernelObject irqControl() {
        return irqControl;
    }

    /** Hands out line {@code line} as an IRQ handler capability in {@code dst} (needs IRQ control). */
    public int irqIssue(Tcb self, int controlSlot, int line, int dst) {
        int r = sched.begin(self, Trace.OP_IRQ, line);
        return sched.end(self, r != OK ? r : irq.issue(self, controlSlot, line, dst));
    }

    /**
     * Binds the handler's line to the notification in {@code notificationSlot} (SEND right): a
     * delivery signals it with the capability's badge (1 if none). Unmasks the line.
     */
    public int irqBind(Tcb self, int handlerSlot, int notificationSlot) {
        int r = sched.begin(self, Trace.OP_IRQ, handlerSlot);
        return sched.end(self, r != OK ? r : irq.bind(self, handlerSlot, notificationSlot));
    }

    /** End of interrupt: the line leaves service; a pending raise is delivered now. */
    public int irqAck(Tcb self, int handlerSlot) {
        return irqChange(self, handlerSlot, IrqCalls.ACK, 0);
    }

    /** Masks (true) or unmasks the line; raises while masked stay pending. */
    public int irqMask(Tcb self, int handlerSlot, boolean mask) {
        return irqChange(self, handlerSlot, mask ? IrqCalls.MASK : IrqCalls.UNMASK, 0);
    }

    /** Sets the line's priority, 0..15 (default: its vector's priority class, vector / 16). */
    public int irqPriority(Tcb self, int handlerSlot, int priority) {
        return irqChange(self, handlerSlot, IrqCalls.PRIORITY, priority);
    }

    private int irqChange(Tcb self, int handlerSlot, int what, int priority) {
        int r = sched.begin(self, Trace.OP_IRQ, handlerSlot);
        return sched.end(self, r != OK ? r : irq.change(self, handlerSlot, what, priority));
    }

    public IrqLine irqLine(int line) {
        return lock.get(() -> irq.line(line));
    }

    /** The name of an x86 vector: an exception's mnemonic, or IRQ n. */
    public static String vectorName(int vector) {
        return InterruptController.vectorName(vector);
    }

    /** The timer: expires due timeouts. Called by the machine's timer device. */
    public void tick() {
        sched.tick();
    }

    /** Earliest pending timeout, or Long.MAX_VALUE. Lock held. */
    public long nextDeadline() {
        return sched.nextDeadline();
    }

    // ---- Faults and thread exit -----------------------------------------------------------------

    /**
     * An uncaught exception in {@code self}'s code. The thread's caller (if it was serving one)
     * gets E_SERVER_FAULT, the domain is marked faulted, its fault endpoint gets a message, and
     * the thread waits for the fault handler. Returns OK when resumed (the machine restarts the
     * thread's body) or E_KILLED when the handler kills the domain.
     */
    public int threadFault(Tcb self, Throwable cause) {
        return faults.threadFault(self, cause);
    }

    /** The thread's body returned (or it unwound after a kill): it leaves the system. */
    public void threadExit(Tcb self) {
        lifecycle.threadExit(self);
    }

    // ---- Boot interface: used by the machine, init and tests to build the initial system --------

    /** Creates a domain with a capability space of {@code slots} slots and an object quota. */
    public Domain createDomain(String name, int slots, int quota) {
        return lock.get(() -> lifecycle.createDomain(name, slots, quota));
    }

    /** Creates an inactive thread in {@code d}; {@link #startThread} makes it runnable. */
    public Tcb createThread(Domain d, String name, int priority) {
        return lock.get(() -> lifecycle.createThread(d, name, priority));
    }

    public void startThread(Tcb t) {
        lock.run(() -> lifecycle.startThread(t));
    }

    public void setTimeslice(Tcb t, long ns) {
        lock.run(() -> sched.setTimeslice(t, ns));
    }

    public Endpoint createEndpoint(Domain owner) {
        return (Endpoint) createObject(owner, ObjectType.ENDPOINT, "createEndpoint", "endpoint");
    }

    public Notification createNotification(Domain owner) {
        return (Notification) createObject(owner, ObjectType.NOTIFICATION, "createNotification", "notification");
    }

    private KernelObject createObject(Domain owner, int type, String op, String pool) {
        KernelObject o = lock.get(() -> caps.allocateObject(owner, type));
        if (o == null) {
            throw new KernelException(E_NO_MEMORY, op + " for " + owner.name
                    + ": quota " + owner.quota + " or " + pool + " pool exhausted");
        }
        return o;
    }

    /** Boot interface: empties {@code slot} of {@code d} (nothing if it is empty). */
    public void deleteCap(Domain d, int slot) {
        lock.run(() -> caps.deleteSlot(d.cspace.checkedSlot("deleteCap in", slot), E_DELETED));
    }

    /** Installs an original capability (a root of the derivation tree) into an empty slot. */
    public void installCap(Domain d, int slot, KernelObject object, int rights, long badge) {
        lock.run(() -> caps.installOriginal(d, slot, object, rights, badge));
    }

    /** Copies a capability from one domain's slot to another's as its child (boot-time grant). */
    public void grantCap(Domain from, int fromSlot, Domain to, int toSlot, int rights, long badge) {
        lock.run(() -> caps.grant(from, fromSlot, to, toSlot, rights, badge));
    }

    /** Makes {@code d} the server of {@code ep}: calls fail with E_DEAD_DOMAIN once it dies. */
    public void bindServer(Endpoint ep, Domain d) {
        lock.run(() -> ep.server = d);
    }

    /** Binds a passive server: calls on {@code ep} run {@code entry} on the caller's thread in {@code d}. */
    public void bindPassive(Endpoint ep, Domain d, PassiveEntry entry) {
        lock.run(() -> lifecycle.bindPassive(ep, d, entry));
    }

    /** Sets where {@code d}'s faults are reported: the endpoint in the holder's slot, with a badge. */
    public void setFaultEndpoint(Domain d, Endpoint ep, long badge) {
        lock.run(() -> faults.setFaultEndpoint(d, ep, badge));
    }

    /**
     * Resumes a faulted domain (its faulted threads restart), as a RESUME fault reply would. A
     * crash ({@link #injectFault}) cannot be resumed: refused here, and a RESUME reply to its
     * fault message kills the domain, as its threads are stopped for good.
     */
    public void resumeDomain(Domain d) {
        lock.run(() -> faults.resume(d));
    }

    /**
     * Kills {@code d} so that its supervisor can start it again in a fresh domain: a call in
     * flight gets E_RESTARTED, not E_DEAD_DOMAIN; calls queued or arriving before the new
     * incarnation serves the endpoint ({@link #rebindEndpoint}) wait for it.
     * {@link #abandonRestart} fails them once the supervisor gives up.
     */
    public void killForRestart(Domain d) {
        d.restarting = true; // read by killDomain, under the lock killDomainNow takes
        killDomainNow(d);
    }

    /** The supervisor gave up on {@code d}: calls waiting on its endpoints get E_DEAD_DOMAIN. */
    public void abandonRestart(Domain d) {
        lock.run(() -> lifecycle.abandonRestart(d));
    }

    /**
     * Hands an endpoint whose server died to a new server domain, which serves it actively
     * (its threads receive on it) or binds a passive handler with {@code serve}. Clients'
     * capabilities to the endpoint stay valid across the restart.
     */
    public void rebindEndpoint(Endpoint ep, Domain d) {
        lock.run(() -> lifecycle.rebindEndpoint(ep, d));
    }

    /**
     * Crashes {@code d} on demand: the domain is marked faulted, its fault endpoint is told, and
     * its threads stop: each at its next kernel entry, where it waits, without having done what
     * it asked, until the domain is killed (then it unwinds with E_KILLED, and a call it was
     * serving fails with E_RESTARTED). Unlike a thread's own fault, a resume finds nothing to
     * run on: its threads unwind. The shell's {@code kill} and the watchdog use it.
     */
    public void injectFault(Domain d, String reason) {
        lock.run(() -> faults.inject(d, reason));
    }

    /** Kills {@code d}: its threads unwind, its callers fail, its capabilities are deleted. */
    public void killDomainNow(Domain d) {
        lock.run(() -> {
            lifecycle.killDomain(d);
            sched.rescheduleIfIdle(); // an idle uniprocessor runs the threads this woke
        });
    }

    /** The kernel log's reading side (init's klogd drains it into the log server). */
    public KernelLogReader log() {
        return logReader;
    }

    // ---- introspection (for the shell, tests and benchmarks) ------------------------------------

    public Domain domain(int id) {
        Domain d = domains.get(id);
        return d.live ? d : null;
    }

    /**
     * The domains holding an id now, in id order, taken under the kernel lock: a domain being
     * created is not in it half-made.
     */
    public List<Domain> liveDomains() {
        return lock.get(lifecycle::liveDomains);
    }

    public int domainCapacity() {
        return domains.capacity();
    }

    /** Threads of a domain, newest first. */
    public List<Tcb> threadsOf(Domain d) {
        return lock.get(() -> lifecycle.threadsOf(d));
    }

    // ---- calls' ages, for a watchdog (host side) ------------------------------------------------

    /**
     * Advances the service clock ({@link FastPath#serviceClock}) to now and returns its new
     * value: calls that begin serving from here on are stamped with it. The clock's resolution
     * is how often this is called: a call stamped {@code t} began at {@code t} or later, but
     * before the next advance. Its values are ns since the kernel started, plus 1 (never 0), and
     * only grow. Host side, one caller (the watchdog); no lock.
     */
    public long advanceServiceClock() {
        long now = Math.max(fastPath.serviceClock, machine.now() - serviceOrigin + 1);
        fastPath.serviceClock = now;
        return now;
    }

    /**
     * The service-clock stamp of the oldest call that {@code d}'s code is serving now, or 0 if
     * it serves none: over its own threads that took a call needing a reply and have not
     * answered it yet, and over every thread (its own or a caller's) inside a passive call into
     * it. Read racily, without the kernel lock: a snapshot for a watchdog, not an invariant.
     */
    public long oldestCallStart(Domain d) {
        return lifecycle.oldestCallStart(d);
    }

    /**
     * Threads inside a passive call into a domain that is dead now (which may be reclaimed
     * already: its callers do not keep it): a handler killed under its caller that has not
     * returned. In the vm tier one that never makes a system call cannot be stopped, and holds
     * its caller's thread until it ends.
     */
    public List<Tcb> callersInDeadDomains() {
        return lock.get(lifecycle::callersInDeadDomains);
    }

    /** Domains holding an id: live ones, and dead ones not reclaimed yet. */
    public int domainsInUse() {
        return domains.inUse();
    }

    public int endpointsInUse() {
        return endpoints.inUse();
    }

    public int threadsInUse() {
        return threads.inUse();
    }
}
