package isola.kernel;

import static isola.kernel.Status.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The kernel core: a single state machine over kernel objects. Every system call is a method
 * taking the calling thread. Slow paths run between {@link Machine#enter} and
 * {@link Machine#leave} (the kernel lock), change objects, and may block the caller. Two fast
 * paths, {@code call} and {@code replyRecv} in their common case, run without the lock in the
 * seL4 style: a run of guards, a single CAS that is the point of no return, then the state
 * change. The core holds no JDK locks or threads, does no reflection or logging, and allocates
 * nothing on the fast paths.
 *
 * <p>Lock-free invariants the slow paths rely on: only the endpoint {@code state} word moves
 * between "empty" and "one fast-armed receiver" without the lock; every wake-up of a blocked
 * thread claims its wake word first (see {@link Utcb}), so exactly one of a reply, a timeout
 * and a kill delivers to a given wait.
 *
 * <h2>Delivery across faults and restarts</h2>
 * A message is copied to at most one receiving thread, at most once, per system call: the kernel
 * never re-sends one. What a call's status says of it:
 * <ul>
 *   <li>OK: delivered, and this is its answer;
 *   <li>E_RESTARTED: delivered to an incarnation of the server that was killed for a restart
 *       ({@link #killForRestart}) before its answer reached the caller. The server may have acted
 *       on it, and may even have answered (the answer lost to the kill);
 *   <li>E_SERVER_FAULT: delivered, and the thread (or passive handler) serving it faulted;
 *   <li>a call not yet delivered when its server faults (with a fault handler to tell) or dies
 *       for a restart is not failed: it waits in the endpoint's queue and is delivered to the
 *       next incarnation, once (or fails with E_DEAD_DOMAIN if the supervisor gives up, E_TIMEOUT
 *       when its timeout expires). Only a non-blocking send, which cannot wait, gets E_RESTARTED
 *       undelivered.
 * </ul>
 * So retrying after E_RESTARTED or E_SERVER_FAULT ({@code Sys.callRetrying}) is a new send, and
 * the request may be carried out twice, by the old incarnation and by the new: a server whose
 * requests are retried makes them idempotent (as the names server's {@code register} is: its
 * owner's repeat succeeds).
 */
public final class Kernel {
    /** Block until done. */
    public static final long FOREVER = -1L;
    /** Do not block: a non-blocking send or receive. */
    public static final long POLL = 0L;

    static final int BLOCKED = 1;
    static final int PASSIVE = 2;
    static final int MISS = 3;
    /**
     * A queued sender's endpoint was rebound to a passive server while it waited: the kernel
     * entry starts over and the call runs passively. Never returned to a caller.
     */
    static final int REQUEUE = 4;

    /** Virtual time one kernel entry costs in deterministic mode. */
    public static final long ENTRY_COST_NS = 1_000;

    // syscall numbers, for the trace
    static final int OP_SEND = 1, OP_RECV = 2, OP_CALL = 3, OP_REPLY = 4, OP_REPLY_RECV = 5,
            OP_SIGNAL = 6, OP_WAIT = 7, OP_YIELD = 8, OP_CAP = 9, OP_CREATE = 10, OP_KILL = 11,
            OP_EXIT = 12, OP_FAULT = 13, OP_SAVE_REPLY = 14, OP_TICK = 15, OP_BOOT = 16, OP_MEM = 17, OP_IRQ = 18;
    private static final String[] OP_NAMES = {"?", "send", "recv", "call", "reply", "replyRecv",
        "signal", "wait", "yield", "cap", "create", "kill", "exit", "fault", "saveReply", "tick", "boot", "mem", "irq"};

    static String opName(int op) {
        return op > 0 && op < OP_NAMES.length ? OP_NAMES[op] : "op" + op;
    }

    private final Machine machine;
    private final boolean fast;
    private final boolean uni;
    private final KernelConfig config;
    final ObjectPool<Domain> domains;
    final ObjectPool<Tcb> threads;
    final ObjectPool<Endpoint> endpoints;
    final ObjectPool<Notification> notifications;
    final ObjectPool<Reply> replies;
    private final Scheduler scheduler = new Scheduler();
    private final TimerQueue timers;
    private final Trace trace;
    private final KernelLog klog;
    final Memory memory;
    final InterruptController irqs = new InterruptController();
    final ObjectPool<IrqHandler> irqHandlers = new ObjectPool<>(InterruptController.LINES, IrqHandler::new);
    private final IrqControl irqControl = new IrqControl();
    private final Arena utcbArena = Arena.ofShared();
    /** The running thread on a uniprocessor machine; null when idle. */
    private Tcb current;

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
        memory = new Memory(machine.ram(), config);
        tickPeriod = config.timerHz() > 0 ? 1_000_000_000L / config.timerHz() : 0;
        nextTick = machine.now() + tickPeriod;
        serviceOrigin = machine.now();
    }

    /** The periodic timer's period in ns (0: none), and when it next ticks. */
    private final long tickPeriod;
    private long nextTick;

    /**
     * The service clock: what a thread's {@link Tcb#serviceStart} is stamped with when it
     * begins serving a call. A coarse clock, advanced only by whoever watches calls' ages (the
     * supervisor's watchdog, {@link #advanceServiceClock}), so the IPC paths stamp a call with
     * a plain load and store instead of reading the time. Never 0 (0 means "not serving").
     */
    private long serviceClock = 1;
    private final long serviceOrigin;

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
        return current;
    }

    // =====================================================================================
    // IPC: call, send, recv, reply, replyRecv
    // =====================================================================================

    /**
     * Sends the message in the caller's registers through the endpoint in {@code slot} and waits
     * for the reply, which arrives in the same registers. {@code timeout} covers both phases.
     */
    public int call(Tcb self, int slot, long tag, long timeout) {
        if (fast && timeout == FOREVER) {
            int r = fastCall(self, slot, tag);
            if (r != MISS) {
                return r;
            }
        }
        int r;
        do {
            do {
                begin(self, OP_CALL, slot);
                r = self.killed ? E_KILLED : slowSend(self, slot, tag, timeout, true);
                r = end(self, r);
            } while (r == REQUEUE);
            if (r == PASSIVE) {
                r = passiveCall(self, self.pendingCap, tag, slot); // MISS: unbound meanwhile, so again
            }
        } while (r == MISS);
        return r;
    }

    /** Sends without waiting for a reply; blocks until a receiver takes it or the timeout expires. */
    public int send(Tcb self, int slot, long tag, long timeout) {
        int r;
        do {
            begin(self, OP_SEND, slot);
            r = self.killed ? E_KILLED : slowSend(self, slot, tag, timeout, false);
            r = end(self, r);
        } while (r == REQUEUE);
        return r;
    }

    /** Receives a message into the caller's registers; a call also binds the caller's reply object. */
    public int recv(Tcb self, int slot, long timeout) {
        self.serviceStart = 0; // a receive ends the service of any call taken before
        begin(self, OP_RECV, slot);
        int r = self.killed ? E_KILLED : slowRecv(self, slot, timeout);
        return served(self, end(self, r));
    }

    /**
     * Stamps {@code self} as serving from now if what it received is a call awaiting its reply.
     * The receiver stamps itself as it returns with the call, so a hand-off still writes only
     * the two threads' UTCBs and the reply object, never the other thread's Tcb.
     */
    private int served(Tcb self, int st) {
        if (st == OK && self.reply.binding() != 0) {
            self.serviceStart = serviceClock;
        }
        return st;
    }

    /** Answers the caller bound to this thread's reply object. */
    public int reply(Tcb self, long tag) {
        self.serviceStart = 0;
        begin(self, OP_REPLY, -1);
        int r = self.killed ? E_KILLED : slowReply(self, self.reply, tag, -1);
        return end(self, r);
    }

    /** Answers the caller whose reply capability was saved in {@code slot}; deletes it (one-shot). */
    public int replyTo(Tcb self, int slot, long tag) {
        begin(self, OP_REPLY, slot);
        int r;
        Cap c = self.killed ? null : lookup(self, slot, ObjectType.REPLY, Rights.SEND);
        if (self.killed) {
            r = E_KILLED;
        } else if (c == null) {
            r = self.error;
        } else {
            r = slowReply(self, (Reply) c.object, tag, slot);
            if (r == OK) {
                deleteSlot(self.current.cspace.slots[slot], E_NO_REPLY);
            }
        }
        return end(self, r);
    }

    /**
     * Replies to the current caller, if any, then receives the next message: a server's loop in
     * one kernel entry. With no caller bound it only receives.
     */
    public int replyRecv(Tcb self, int slot, long tag, long timeout) {
        self.serviceStart = 0; // the call is answered; the next one stamps it again
        if (fast && timeout == FOREVER) {
            int r = fastReplyRecv(self, slot, tag);
            if (r != MISS) {
                return served(self, r);
            }
        }
        begin(self, OP_REPLY_RECV, slot);
        int r;
        if (self.killed) {
            r = E_KILLED;
        } else {
            r = OK;
            if (self.reply.caller() != null) {
                r = slowReply(self, self.reply, tag, -1);
            }
            if (r == OK) {
                r = slowRecv(self, slot, timeout);
            }
        }
        return served(self, end(self, r));
    }

    /** Moves the reply object bound to a caller into {@code dst}, so the answer can come later. */
    public int saveReply(Tcb self, int dst) {
        self.serviceStart = 0; // the call waits in a saved reply now, not on this thread
        begin(self, OP_SAVE_REPLY, dst);
        int r = self.killed ? E_KILLED : slowSaveReply(self, dst);
        return end(self, r);
    }

    // ---- fast paths -------------------------------------------------------------------------

    /**
     * The fast paths' guards on the capability and the message: an endpoint capability with
     * {@code right}, a tag without capabilities that fits the registers, a live thread. Null
     * sends the call to the slow path, which reports any error.
     */
    private static Cap fastEndpointCap(Tcb self, int slot, int right, long tag) {
        CapSlot[] slots = self.current.cspace.slots;
        if (slot < 0 || slot >= slots.length) {
            return null;
        }
        Cap c = slots[slot].cap;
        if (c == null || c.type != ObjectType.ENDPOINT || (c.rights & right) == 0
                || (tag & 0xFF00L) != 0 || (tag & 0xFFL) > Utcb.MESSAGE_REGISTERS || self.killed) {
            return null;
        }
        return c;
    }

    private int fastCall(Tcb self, int slot, long tag) {
        Cap c = fastEndpointCap(self, slot, Rights.SEND, tag);
        if (c == null) {
            return MISS;
        }
        Endpoint ep = (Endpoint) c.object;
        Domain server = ep.server;
        if (server != null && server.state != Domain.RUNNING) {
            return MISS;
        }
        if (ep.passive != null) {
            return passiveCall(self, c, tag, slot);
        }
        Tcb r = ep.fastReceiver;
        if (r == null || ep.hasSenders) {
            return MISS; // no bound receiver, or queued senders come first
        }
        MemorySegment su = self.utcb;
        MemorySegment ru = r.utcb;
        long gen = Utcb.arm(su, Utcb.WAIT_OTHER, 0);
        if (!claimReceiverSpinning(ru, ep)) {
            Utcb.disarm(su);
            return MISS;
        }
        // Point of no return: the receiver is ours.
        Utcb.copyMrs(su, ru, (int) (tag & 0xFF));
        Utcb.setTag(ru, tag);
        Utcb.setBadge(ru, c.badge);
        Utcb.setStatus(ru, OK);
        r.reply.bind(self, gen);
        boolean parked = Utcb.release(ru);
        if (parked) {
            machine.unpark(r);
        }
        machine.await(self, parked);
        int st = Utcb.status(su);
        if (st != OK) {
            self.errorArg = slot;
        }
        return st;
    }

    /** How long a fast call waits for a bound receiver that is busy (it is about to re-arm). */
    static final long RECEIVER_SPIN_NS = 2_000;

    /**
     * Claims the endpoint's bound receiver, spinning briefly while it is busy: on a
     * multiprocessor the server is typically between its reply and its next receive.
     */
    private boolean claimReceiverSpinning(MemorySegment ru, Endpoint ep) {
        int id = ep.id;
        if (Utcb.claimReceiver(ru, id, Utcb.WAIT_RECV_FAST)) {
            return true;
        }
        long start = machine.now();
        for (int i = 1; ; i++) {
            Thread.onSpinWait();
            if (Utcb.claimReceiver(ru, id, Utcb.WAIT_RECV_FAST)) {
                return true;
            }
            if ((i & 15) == 0 && (machine.now() - start > RECEIVER_SPIN_NS || ep.hasSenders)) {
                return false;
            }
        }
    }

    private int fastReplyRecv(Tcb self, int slot, long tag) {
        Cap c = fastEndpointCap(self, slot, Rights.RECV, tag);
        if (c == null) {
            return MISS;
        }
        Endpoint ep = (Endpoint) c.object;
        Reply rep = self.reply;
        long binding = rep.binding();
        Tcb caller = binding == 0 ? null : rep.caller(binding);
        if (ep.passive != null || ep.fastReceiver != self || ep.hasSenders
                || (caller != null && caller.proxyOf != null)) {
            return MISS; // binding, queued senders and fault replies are the slow path's
        }
        MemorySegment su = self.utcb;
        boolean callerParked = false;
        if (caller != null) {
            rep.clearOwn();
            MemorySegment cu = caller.utcb;
            if (Utcb.claim(cu, Reply.generation(binding))) {
                Utcb.copyMrs(su, cu, (int) (tag & 0xFF));
                Utcb.setTag(cu, tag);
                Utcb.setBadge(cu, 0);
                Utcb.setStatus(cu, OK);
                callerParked = Utcb.release(cu);
                if (callerParked) {
                    machine.unpark(caller);
                }
            } // else the caller timed out or was killed: the reply has nobody to go to.
        }
        // The reply is done; from here a miss falls back to the locked receive only.
        // Arm, fence, then re-check: a sender that queues under the lock sets hasSenders and
        // then tries to claim us, so one of the two always sees the other.
        Utcb.armVolatile(su, Utcb.WAIT_RECV_FAST, ep.id);
        if ((ep.hasSenders || ep.fastReceiver != self) && Utcb.withdraw(su)) {
            return recv(self, slot, FOREVER);
        }
        // The caller answered is the likeliest next sender; if it was parked it must be
        // scheduled before it can send again.
        machine.await(self, callerParked);
        int st = Utcb.status(su);
        if (st != OK) {
            self.errorArg = slot;
        }
        return st;
    }

    /**
     * Runs a passive server's handler on the calling thread inside the server's domain. MISS if
     * the endpoint was unbound since the caller found it passive (its server is being
     * restarted): the call has not started, and takes the slow path, which queues it for the
     * next incarnation.
     */
    private int passiveCall(Tcb self, Cap c, long tag, int slot) {
        Endpoint ep = (Endpoint) c.object;
        Endpoint.Passive p = ep.passive; // the domain and its entry as they were bound: one read
        if (p == null) {
            return MISS;
        }
        Domain server = p.server();
        MemorySegment u = self.utcb;
        Utcb.setTag(u, tag);
        Utcb.setBadge(u, c.badge);
        Domain saved = self.current;
        long outerStart = self.serviceStart; // a passive call nested in another call
        self.serviceStart = serviceClock;
        self.current = server;
        long replyTag;
        try {
            replyTag = p.entry().enter(self);
        } catch (Throwable t) {
            self.current = saved;
            self.serviceStart = outerStart;
            if (self.killed) {
                self.errorArg = slot;
                return E_KILLED;
            }
            return passiveFault(self, server, t, slot);
        }
        self.current = saved;
        self.serviceStart = outerStart;
        if (server.state == Domain.DEAD) {
            // Killed under the call (its watchdog, say) and the handler came back anyway: the
            // answer of a dead incarnation is not delivered, as an active server's late reply is not.
            return fail(self, server.downStatus(), slot);
        }
        if ((replyTag & 0xFF00L) != 0 || (replyTag & 0xFFL) > Utcb.MESSAGE_REGISTERS) {
            return passiveFault(self, server, new IllegalStateException(
                    "passive handler returned an invalid reply tag 0x" + Long.toHexString(replyTag)), slot);
        }
        Utcb.setTag(u, replyTag);
        return OK;
    }

    // ---- slow paths (kernel lock held) ------------------------------------------------------

    private int slowSend(Tcb self, int slot, long tag, long timeout, boolean call) {
        Cap c = lookup(self, slot, ObjectType.ENDPOINT, Rights.SEND);
        if (c == null) {
            return self.error;
        }
        return sendThrough(self, c, slot, tag, timeout, call);
    }

    /** {@link #slowSend} through a capability the kernel holds ({@code slot}: for error reports). */
    private int sendThrough(Tcb self, Cap c, int slot, long tag, long timeout, boolean call) {
        int st = checkMessage(self, tag, (c.rights & Rights.GRANT) != 0, slot);
        if (st != OK) {
            return st;
        }
        Endpoint ep = (Endpoint) c.object;
        Domain server = ep.server;
        if (server != null && server.state != Domain.RUNNING) {
            int down = server.downStatus();
            if (down != E_RESTARTED || timeout == POLL) {
                return fail(self, down, slot);
            }
            // The server is coming back (its supervisor is restarting it, or deciding to): the
            // message waits in the endpoint's queue for the next incarnation. Only a call the
            // server had already taken fails, with E_RESTARTED.
            queueSender(ep, self, c, tag, call, slot, timeout);
            return BLOCKED;
        }
        if (ep.passive != null) {
            if (!call || Tag.caps(tag) != 0) {
                // A passive server has no thread to take a one-way message or capabilities.
                return fail(self, E_ILLEGAL_OPERATION, slot);
            }
            self.pendingCap = c;
            trace(Trace.PASSIVE, self.id, server.id);
            return PASSIVE;
        }
        Tcb r = ep.hasSenders ? null : takeReceiver(ep);
        if (r != null) {
            transfer(self, c, tag, r, true);
            if (call) {
                long gen = block(self, Tcb.BLOCKED_REPLY, r.reply, slot, timeout, Utcb.WAIT_OTHER, 0);
                r.reply.bind(self, gen);
            }
            wakeClaimed(r, OK);
            return call ? BLOCKED : OK;
        }
        if (timeout == POLL) {
            return fail(self, E_WOULD_BLOCK, slot);
        }
        queueSender(ep, self, c, tag, call, slot, timeout);
        return BLOCKED;
    }

    /**
     * Blocks {@code t} in the endpoint's senders queue. Then re-checks the bound receiver: it
     * may have armed after the caller looked, and it checks {@code hasSenders} only after
     * arming, so one of the two sees the other. If it is there, it takes the queue's head.
     */
    private void queueSender(Endpoint ep, Tcb t, Cap via, long tag, boolean call, int slot, long timeout) {
        t.pendingCap = via;
        t.pendingTag = tag;
        t.pendingCall = call;
        block(t, Tcb.BLOCKED_SEND, ep, slot, timeout, Utcb.WAIT_OTHER, 0);
        ep.senders.addByPriority(t);
        ep.sendersChanged();
        Tcb fr = ep.fastReceiver;
        if (fr != null && fr.current.state == Domain.RUNNING && Utcb.claimReceiver(fr.utcb, ep.id, Utcb.WAIT_RECV_FAST)) {
            Tcb s = ep.senders.pollFirst();
            ep.sendersChanged();
            receiveFrom(fr, s);
            wakeClaimed(fr, OK);
        }
    }

    private int slowRecv(Tcb self, int slot, long timeout) {
        Cap c = lookup(self, slot, ObjectType.ENDPOINT, Rights.RECV);
        if (c == null) {
            return self.error;
        }
        Endpoint ep = (Endpoint) c.object;
        if (ep.passive != null) {
            return fail(self, E_ILLEGAL_OPERATION, slot);
        }
        // A faulted domain's threads take no queued message until its fault handler resumes it.
        if (!ep.senders.isEmpty() && self.current.state == Domain.RUNNING) {
            Tcb s = ep.senders.pollFirst();
            ep.sendersChanged();
            receiveFrom(self, s);
            return OK;
        }
        if (timeout == POLL) {
            return fail(self, E_WOULD_BLOCK, slot);
        }
        if (fast && timeout == FOREVER && bindFastReceiver(self, ep)) {
            // Bound: fast senders claim it without the lock. No sender can queue meanwhile
            // (that needs the lock), so there is nothing to re-check.
            block(self, Tcb.BLOCKED_RECV, ep, slot, timeout, Utcb.WAIT_RECV_FAST, ep.id);
            return BLOCKED;
        }
        block(self, Tcb.BLOCKED_RECV, ep, slot, timeout, Utcb.WAIT_RECV, ep.id);
        ep.receivers.addByPriority(self);
        return BLOCKED;
    }

    /** Makes {@code t} the endpoint's sticky fast receiver unless another thread is. Lock held. */
    private static boolean bindFastReceiver(Tcb t, Endpoint ep) {
        if (ep.fastReceiver == t) {
            return true;
        }
        if (!Endpoint.FAST_RECEIVER.compareAndSet(ep, (Tcb) null, t)) {
            return false;
        }
        unbindFastReceiver(t);
        t.fastEp = ep;
        return true;
    }

    private static void unbindFastReceiver(Tcb t) {
        Endpoint old = t.fastEp;
        if (old != null) {
            Endpoint.FAST_RECEIVER.compareAndSet(old, t, (Tcb) null);
            t.fastEp = null;
        }
    }

    /**
     * Delivers a queued sender's message to the receiver {@code self} (claimed or running); a
     * caller stays blocked, now waiting for the reply. Lock held.
     */
    private void receiveFrom(Tcb self, Tcb s) {
        Cap via = s.pendingCap;
        transfer(s, via, s.pendingTag, self, true);
        s.pendingCap = null;
        s.queue = null;
        if (s.pendingCall) {
            // Same wait generation: the call's timeout still covers the reply phase.
            s.state = Tcb.BLOCKED_REPLY;
            s.blockedOn = self.reply;
            self.reply.bind(s, Utcb.generation(s.utcb));
        } else if (Utcb.claimAny(s.utcb)) {
            wakeClaimed(s, OK);
        }
    }

    private int slowReply(Tcb self, Reply rep, long tag, int slot) {
        long binding = rep.binding();
        if (binding == 0) {
            return fail(self, E_NO_REPLY, slot);
        }
        int st = checkMessage(self, tag, true, slot);
        if (st != OK) {
            return st;
        }
        if (!rep.clear(binding)) {
            return OK; // failCaller took it meanwhile: the caller has its answer
        }
        Tcb caller = rep.caller(binding);
        if (!Utcb.claim(caller.utcb, Reply.generation(binding))) {
            return OK; // the caller gave up (timeout, kill): nobody to answer
        }
        if (caller.proxyOf != null) {
            Utcb.release(caller.utcb);
            faultAnswered(caller.proxyOf, Tag.label(tag));
            return OK;
        }
        transfer(self, null, tag, caller, true);
        wakeClaimed(caller, OK);
        return OK;
    }

    private int slowSaveReply(Tcb self, int dst) {
        CapSlot d = emptySlot(self, dst);
        if (d == null) {
            return self.error;
        }
        Reply rep = self.reply;
        if (rep.caller() == null) {
            return fail(self, E_NO_REPLY, dst);
        }
        Reply fresh = replies.allocate();
        if (fresh == null) {
            return fail(self, E_NO_MEMORY, ObjectType.REPLY);
        }
        rep.detach();
        fresh.attach(self);
        self.reply = fresh;
        install(d, null, Cap.of(rep, Rights.SEND | Rights.GRANT, 0));
        return OK;
    }

    /** Validates a message before anything changes: length, cap count, grant right, cap slots. */
    private int checkMessage(Tcb self, long tag, boolean mayGrant, int slot) {
        int len = Tag.length(tag);
        if (len > Utcb.MESSAGE_REGISTERS) {
            return fail(self, E_MSG_TOO_LONG, len);
        }
        int caps = Tag.caps(tag);
        if (caps == 0) {
            return OK;
        }
        if (caps > Utcb.MAX_CAPS) {
            return fail(self, E_INVALID_ARG, caps);
        }
        if (!mayGrant) {
            return fail(self, E_NO_RIGHTS, slot);
        }
        for (int i = 0; i < caps; i++) {
            int s = Utcb.capSlot(self.utcb, i);
            Cap c = lookup(self, s, 0, 0);
            if (c == null) {
                return self.error;
            }
            if (c.type == ObjectType.REPLY) {
                return fail(self, E_ILLEGAL_OPERATION, s);
            }
        }
        return OK;
    }

    /**
     * Copies a message into the receiver's registers and moves capabilities into its receive
     * window, each a child of the sender's in the derivation tree. Capabilities that do not fit
     * (no window, window full or out of range) are not transferred; the tag says how many were.
     */
    private void transfer(Tcb from, Cap via, long tag, Tcb to, boolean grant) {
        MemorySegment fu = from.utcb;
        MemorySegment tu = to.utcb;
        Utcb.copyMrs(fu, tu, Tag.length(tag));
        int n = grant ? Tag.caps(tag) : 0;
        int moved = 0;
        if (n > 0) {
            long window = Utcb.recvWindow(tu);
            CapSlot[] src = from.current.cspace.slots;
            CapSlot[] dst = to.current.cspace.slots;
            for (int i = 0; i < n && window >= 0; i++) {
                int s = Utcb.capSlot(fu, i);
                long d = window + moved;
                if (s < 0 || s >= src.length || d >= dst.length) {
                    continue;
                }
                Cap c = src[s].cap;
                CapSlot ds = dst[(int) d];
                if (c == null || c == Cap.REVOKED || c.type == ObjectType.REPLY
                        || (ds.cap != null && ds.cap != Cap.REVOKED)) {
                    continue;
                }
                install(ds, src[s], c);
                Utcb.setCapSlot(tu, moved, (int) d);
                moved++;
            }
        }
        Utcb.setTag(tu, Tag.withCaps(tag, moved));
        Utcb.setBadge(tu, via == null ? 0 : via.badge);
    }

    /** Finds a waiting receiver (the bound one first, then the queue) and claims it; null if none. */
    private Tcb takeReceiver(Endpoint ep) {
        Tcb r = ep.fastReceiver;
        if (r != null && Utcb.claimReceiver(r.utcb, ep.id, Utcb.WAIT_RECV_FAST)) {
            r.blockedOn = null;
            return r;
        }
        while (!ep.receivers.isEmpty()) {
            r = ep.receivers.pollFirst();
            if (Utcb.claimReceiver(r.utcb, ep.id, Utcb.WAIT_RECV)) {
                timers.remove(r);
                r.blockedOn = null;
                return r;
            }
        }
        return null;
    }

    // =====================================================================================
    // Notifications
    // =====================================================================================

    /** ORs the capability's badge (1 if unbadged) into the notification, waking a waiter. */
    public int signal(Tcb self, int slot) {
        begin(self, OP_SIGNAL, slot);
        int r;
        Cap c = self.killed ? null : lookup(self, slot, ObjectType.NOTIFICATION, Rights.SEND);
        if (self.killed) {
            r = E_KILLED;
        } else if (c == null) {
            r = self.error;
        } else {
            signalObject((Notification) c.object, c.badge == 0 ? 1 : c.badge);
            r = OK;
        }
        return end(self, r);
    }

    /** Kernel-originated signal (interrupts, machine events). Lock held. */
    void signalObject(Notification n, long bits) {
        n.word |= bits;
        while (!n.waiters.isEmpty()) {
            Tcb w = n.waiters.pollFirst();
            if (Utcb.claimAny(w.utcb)) {
                Utcb.setBadge(w.utcb, n.word);
                n.word = 0;
                wakeClaimed(w, OK);
                return;
            }
        }
    }

    /** Waits for a signal; the pending bits arrive in the badge register and are cleared. */
    public int await(Tcb self, int slot, long timeout) {
        begin(self, OP_WAIT, slot);
        int r;
        Cap c = self.killed ? null : lookup(self, slot, ObjectType.NOTIFICATION, Rights.RECV);
        if (self.killed) {
            r = E_KILLED;
        } else if (c == null) {
            r = self.error;
        } else {
            Notification n = (Notification) c.object;
            if (n.word != 0 || timeout == POLL) {
                Utcb.setBadge(self.utcb, n.word);
                n.word = 0;
                r = OK;
            } else {
                block(self, Tcb.BLOCKED_WAIT, n, slot, timeout, Utcb.WAIT_OTHER, 0);
                n.waiters.addByPriority(self);
                r = BLOCKED;
            }
        }
        return end(self, r);
    }

    /** Non-blocking wait: the pending bits (0 if none) arrive in the badge register. */
    public int poll(Tcb self, int slot) {
        return await(self, slot, POLL);
    }

    /** Gives up the rest of the time slice to threads of the same priority. */
    public int yield(Tcb self) {
        begin(self, OP_YIELD, 0);
        self.sliceLeft = 0;
        self.yielded = true;
        return end(self, OK);
    }

    // =====================================================================================
    // Capabilities
    // =====================================================================================

    public int capCopy(Tcb self, int src, int dst) {
        return capMint(self, src, dst, -1, 0);
    }

    /**
     * Derives a capability with {@code rights} (a subset of the source's; -1 keeps them) and
     * {@code badge} (0 keeps the source's; a badged capability cannot be re-badged).
     */
    public int capMint(Tcb self, int src, int dst, int rights, long badge) {
        begin(self, OP_CAP, src);
        int r = self.killed ? E_KILLED : slowMint(self, src, dst, rights, badge);
        return end(self, r);
    }

    private int slowMint(Tcb self, int src, int dst, int rights, long badge) {
        Cap c = lookup(self, src, 0, 0);
        if (c == null) {
            return self.error;
        }
        if (c.type == ObjectType.REPLY) {
            return fail(self, E_ILLEGAL_OPERATION, src);
        }
        int newRights = rights == -1 ? c.rights : rights;
        if ((newRights & ~c.rights) != 0 || newRights < 0) {
            return fail(self, E_INVALID_ARG, rights);
        }
        if (badge != 0 && c.badge != 0 && badge != c.badge) {
            return fail(self, E_ILLEGAL_OPERATION, src);
        }
        CapSlot d = emptySlot(self, dst);
        if (d == null) {
            return self.error;
        }
        CapSlot s = self.current.cspace.slots[src];
        install(d, s, Cap.of(c.object, newRights, badge != 0 ? badge : c.badge));
        return OK;
    }

    public int capMove(Tcb self, int src, int dst) {
        begin(self, OP_CAP, src);
        int r;
        if (self.killed) {
            r = E_KILLED;
        } else {
            Cap c = lookup(self, src, 0, 0);
            CapSlot d = c == null ? null : emptySlot(self, dst);
            if (c == null || d == null) {
                r = self.error;
            } else {
                CapSlot s = self.current.cspace.slots[src];
                if (d.cap == Cap.REVOKED) {
                    d.cap = null;
                }
                s.transplantTo(d);
                d.cap = c;
                s.cap = null;
                if (c.type == ObjectType.FRAME) {
                    memory.capMoved(s, d);
                }
                r = OK;
            }
        }
        return end(self, r);
    }

    public int capDelete(Tcb self, int slot) {
        begin(self, OP_CAP, slot);
        int r;
        if (self.killed) {
            r = E_KILLED;
        } else {
            CSpace cs = self.current.cspace;
            if (slot < 0 || slot >= cs.slots.length) {
                r = fail(self, E_INVALID_SLOT, slot);
            } else if (cs.slots[slot].cap == null) {
                r = fail(self, E_EMPTY_SLOT, slot);
            } else if (stillInUse(cs.slots[slot].cap)) {
                r = fail(self, E_FRAME_MAPPED, slot); // unmap it first; nothing changes
            } else {
                deleteSlot(cs.slots[slot], E_DELETED);
                r = OK;
            }
        }
        return end(self, r);
    }

    /** The last capability to a frame that is mapped, or to a page table that is linked. */
    private static boolean stillInUse(Cap c) {
        return c != Cap.REVOKED && c.object.capCount == 1
                && (c.object instanceof Frame f ? f.mappings > 0 : c.object instanceof PageTable t && t.linked);
    }

    /** Deletes every capability derived from the one in {@code slot}; they read as revoked. */
    public int capRevoke(Tcb self, int slot) {
        begin(self, OP_CAP, slot);
        int r;
        Cap c = self.killed ? null : lookup(self, slot, 0, 0);
        if (self.killed) {
            r = E_KILLED;
        } else if (c == null) {
            r = self.error;
        } else {
            revokeChildren(self.current.cspace.slots[slot]);
            r = OK;
        }
        return end(self, r);
    }

    public int createEndpoint(Tcb self, int dst) {
        return create(self, dst, ObjectType.ENDPOINT);
    }

    public int createNotification(Tcb self, int dst) {
        return create(self, dst, ObjectType.NOTIFICATION);
    }

    private int create(Tcb self, int dst, int type) {
        begin(self, OP_CREATE, dst);
        int r;
        if (self.killed) {
            r = E_KILLED;
        } else if (self.current.state == Domain.DEAD) {
            r = fail(self, E_DEAD_DOMAIN, dst); // a passive call still inside a killed domain
        } else {
            CapSlot d = emptySlot(self, dst);
            if (d == null) {
                r = self.error;
            } else {
                KernelObject o = allocateObject(self.current, type);
                if (o == null) {
                    r = fail(self, E_NO_MEMORY, type);
                } else {
                    install(d, null, Cap.of(o, Rights.ALL, 0));
                    r = OK;
                }
            }
        }
        return end(self, r);
    }

    private KernelObject allocateObject(Domain d, int type) {
        if (d.used >= d.quota) {
            return null;
        }
        KernelObject o = switch (type) {
            case ObjectType.ENDPOINT -> endpoints.allocate();
            case ObjectType.NOTIFICATION -> notifications.allocate();
            default -> null;
        };
        if (o != null) {
            o.owner = d;
            d.used++;
        }
        return o;
    }

    /**
     * Declares the caller's current domain the server of the endpoint in {@code slot} (which
     * needs the RECV right): calls fail with E_DEAD_DOMAIN once the domain dies. With an
     * {@code entry} the domain serves it passively: calls run the entry on the caller's thread.
     */
    public int serve(Tcb self, int slot, PassiveEntry entry) {
        begin(self, OP_CREATE, slot);
        int r;
        Cap c = self.killed ? null : lookup(self, slot, ObjectType.ENDPOINT, Rights.RECV);
        if (self.killed) {
            r = E_KILLED;
        } else if (c == null) {
            r = self.error;
        } else if (self.current.state == Domain.DEAD) {
            r = fail(self, E_DEAD_DOMAIN, slot); // a passive call still inside a killed domain
        } else {
            Endpoint ep = (Endpoint) c.object;
            if (entry != null && (ep.fastReceiver != null || !ep.receivers.isEmpty())) {
                r = fail(self, E_ILLEGAL_OPERATION, slot); // threads wait on it: it is served actively
            } else {
                ep.server = self.current;
                ep.passive = entry == null ? null : new Endpoint.Passive(self.current, entry);
                if (entry != null) {
                    // Callers that queued while the server was restarting now call passively.
                    failQueue(ep.senders, REQUEUE);
                    ep.sendersChanged();
                }
                r = OK;
            }
        }
        return end(self, r);
    }

    /** Kills the domain named by a DOMAIN capability with the CONTROL right. */
    public int domainKill(Tcb self, int slot) {
        begin(self, OP_KILL, slot);
        int r;
        Cap c = self.killed ? null : lookup(self, slot, ObjectType.DOMAIN, Rights.CONTROL);
        if (self.killed) {
            r = E_KILLED;
        } else if (c == null) {
            r = self.error;
        } else {
            killDomain((Domain) c.object);
            r = OK;
        }
        return end(self, r);
    }

    // ---- memory: frames, page tables, mappings ----------------------------------------------

    /** The {@code domainSlot} of the mapping calls that names the caller's own domain. */
    public static final int SELF = -1;
    private final int[] memStatus = new int[1];

    /**
     * Allocates a zeroed frame of {@code size} bytes (4 KiB, 2 MiB or 1 GiB, aligned to its
     * size) from the caller's frame quota; its capability, with all rights, goes to {@code dst}.
     */
    public int frameAlloc(Tcb self, int dst, long size) {
        return memoryAlloc(self, dst, ObjectType.FRAME, size);
    }

    /** Allocates a zeroed page table of {@code level} (3: PDPT, 2: directory, 1: table) into {@code dst}. */
    public int tableAlloc(Tcb self, int dst, int level) {
        return memoryAlloc(self, dst, ObjectType.PAGE_TABLE, level);
    }

    /** A frame ({@code arg}: its size) or page table ({@code arg}: its level) into {@code dst}, all rights. */
    private int memoryAlloc(Tcb self, int dst, int type, long arg) {
        begin(self, OP_MEM, dst);
        int r = memoryEntry(self);
        CapSlot d = r != OK ? null : emptySlot(self, dst);
        if (r == OK && d == null) {
            r = self.error;
        } else if (r == OK) {
            KernelObject o = type == ObjectType.FRAME ? memory.allocateFrame(self.current, arg, memStatus)
                    : memory.allocateTable(self.current, (int) arg, memStatus);
            if (o == null) {
                r = fail(self, memStatus[0], memory.errorArg);
            } else {
                install(d, null, Cap.of(o, Rights.ALL, 0));
            }
        }
        return end(self, r);
    }

    /**
     * Links the page table in {@code tableSlot} into the address space of the domain in
     * {@code domainSlot} (a DOMAIN capability with CONTROL, or {@link #SELF}) to cover {@code va}.
     */
    public int tableLink(Tcb self, int domainSlot, int tableSlot, long va) {
        begin(self, OP_MEM, tableSlot);
        isola.kernel.mem.AddressSpace as = space(self, domainSlot);
        Cap c = as == null ? null : lookup(self, tableSlot, ObjectType.PAGE_TABLE, 0);
        return end(self, c == null ? self.error : memResult(self, memory.linkTable(as, (PageTable) c.object, va)));
    }

    /** Unlinks the empty level-{@code level} page table covering {@code va} from the target's address space. */
    public int tableUnlink(Tcb self, int domainSlot, long va, int level) {
        begin(self, OP_MEM, domainSlot);
        isola.kernel.mem.AddressSpace as = space(self, domainSlot);
        return end(self, as == null ? self.error : memResult(self, memory.unlinkTable(as, va, level)));
    }

    /**
     * Maps the frame in {@code frameSlot} at {@code va} in the target's address space with
     * {@code flags} ({@link isola.kernel.mem.Paging#MAP_FLAGS}): any mapping needs the frame
     * capability's RECV right, a writable one (R/W) its SEND right too.
     */
    public int map(Tcb self, int domainSlot, int frameSlot, long va, long flags) {
        begin(self, OP_MEM, frameSlot);
        isola.kernel.mem.AddressSpace as = space(self, domainSlot);
        int rights = (flags & isola.kernel.mem.Paging.RW) != 0 ? Rights.RECV | Rights.SEND : Rights.RECV;
        Cap c = as == null ? null : lookup(self, frameSlot, ObjectType.FRAME, rights);
        return end(self, c == null ? self.error
                : memResult(self, memory.map(as, (Frame) c.object, self.current.cspace.slots[frameSlot], va, flags)));
    }

    /** Unmaps the page of {@code size} at {@code va} from the target's address space. */
    public int unmap(Tcb self, int domainSlot, long va, long size) {
        begin(self, OP_MEM, domainSlot);
        isola.kernel.mem.AddressSpace as = space(self, domainSlot);
        return end(self, as == null ? self.error : memResult(self, memory.unmap(as, va, size)));
    }

    /** Changes the flags of the page of {@code size} at {@code va}; R/W can be dropped, not added. */
    public int protect(Tcb self, int domainSlot, long va, long size, long flags) {
        begin(self, OP_MEM, domainSlot);
        isola.kernel.mem.AddressSpace as = space(self, domainSlot);
        return end(self, as == null ? self.error : memResult(self, memory.protect(as, va, size, flags)));
    }

    /** Label of a page-fault message to a pager: MR0 address, MR1 #PF error code, MR2 thread id. */
    public static final int PAGE_FAULT = 0xFE;

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
        MemorySegment u = self.utcb;
        long[] saved = self.enterFault();
        try {
            Utcb.saveMessage(u, saved);
            Utcb.setMr(u, 0, va);
            Utcb.setMr(u, 1, errorCode);
            Utcb.setMr(u, 2, self.id);
            long faultTag = Tag.of(PAGE_FAULT, 3);
            int r;
            do {
                begin(self, OP_FAULT, va);
                Cap pager = self.current.pagerCap;
                r = self.killed ? E_KILLED : pager == null ? fail(self, E_NOT_MAPPED, va)
                        : sendThrough(self, pager, -1, faultTag, FOREVER, true);
                r = end(self, r);
            } while (r == REQUEUE);
            if (r == PASSIVE) {
                r = passiveCall(self, self.pendingCap, faultTag, -1); // a passive pager runs on this thread
            }
            if (r == OK && Tag.label(Utcb.tag(u)) != 0) {
                r = fail(self, E_NOT_MAPPED, va); // the pager could not map it
            }
            return r;
        } finally {
            Utcb.restoreMessage(u, saved);
            self.leaveFault();
        }
    }

    /** Boot interface: {@code d}'s page faults go to {@code ep} with {@code badge}; null: none. */
    public void setPager(Domain d, Endpoint ep, long badge) {
        machine.enter(null);
        try {
            if (d.state == Domain.DEAD && ep != null) {
                throw new KernelException(E_DEAD_DOMAIN, "setPager " + d.name + ": it is dead");
            }
            if (d.pagerCap != null) {
                release(d.pagerCap.object, E_DELETED);
                d.pagerCap = null;
            }
            if (ep != null) {
                d.pagerCap = Cap.of(ep, Rights.SEND, badge);
                ep.capCount++;
            }
        } finally {
            machine.leave(null);
        }
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
        machine.enter(null);
        try {
            return memory.mmu(self, as);
        } finally {
            machine.leave(null);
        }
    }

    /** Frames freed but waiting for every MMU to see their unmap. */
    public long framesInLimbo() {
        machine.enter(null);
        try {
            memory.drainLimbo();
            return memory.limboFrames();
        } finally {
            machine.leave(null);
        }
    }

    /** Boot interface: how many 4 KiB frames {@code d} may hold in frames and page tables. */
    public void setFrameQuota(Domain d, long frames) {
        if (frames < 0) {
            throw new KernelException(E_INVALID_ARG, "setFrameQuota " + d.name + ": " + frames + " frames");
        }
        machine.enter(null);
        try {
            d.frameQuota = frames;
        } finally {
            machine.leave(null);
        }
    }

    /** Free and total 4 KiB frames of physical memory. */
    public long framesFree() {
        machine.enter(null);
        try {
            memory.drainLimbo();
            return memory.allocator.freeFrames();
        } finally {
            machine.leave(null);
        }
    }

    public long framesTotal() {
        return memory.allocator.totalFrames(); // fixed at boot
    }

    /** The first checks of every memory call: a live thread in a live domain. */
    private int memoryEntry(Tcb self) {
        return self.killed ? fail(self, E_KILLED, SELF) : self.current.state == Domain.DEAD ? fail(self, E_DEAD_DOMAIN, SELF) : OK;
    }

    /** The address space a mapping call changes, after the entry checks; null with the error in self. */
    private isola.kernel.mem.AddressSpace space(Tcb self, int domainSlot) {
        if (memoryEntry(self) != OK) {
            return null;
        }
        Domain d;
        if (domainSlot == SELF) {
            d = self.current;
        } else {
            Cap c = lookup(self, domainSlot, ObjectType.DOMAIN, Rights.CONTROL);
            if (c == null) {
                return null;
            }
            d = (Domain) c.object;
        }
        if (d.vspace == null) {
            fail(self, E_DEAD_DOMAIN, domainSlot);
            return null;
        }
        return d.vspace;
    }

    private int memResult(Tcb self, int status) {
        return status == OK ? OK : fail(self, status, memory.errorArg);
    }

    // ---- interrupts ----------------------------------------------------------------------------

    /** Interrupt lines (vectors 32..255); line 0 is the timer's. */
    public static final int IRQ_LINES = InterruptController.LINES;

    /**
     * A device raised interrupt line {@code line} (a machine-originated entry): delivered now
     * if its priority allows and it is not masked or in service, else remembered as pending.
     * Line 0 is the timer: the kernel handles it ({@link #tick}).
     */
    public void raiseIrq(int line) {
        if (line < 0 || line >= IRQ_LINES) {
            throw new KernelException(E_INVALID_ARG, "raiseIrq: line " + line + " is outside 0.." + (IRQ_LINES - 1));
        }
        if (line == InterruptController.TIMER_LINE) {
            tick();
            return;
        }
        raiseIrqs(line);
    }

    /**
     * Several lines raised at once (an interrupt burst from the machine's devices): they are
     * delivered highest priority first. The timer's line is not one of them.
     */
    public void raiseIrqs(int... lines) {
        for (int line : lines) {
            if (line <= InterruptController.TIMER_LINE || line >= IRQ_LINES) {
                throw new KernelException(E_INVALID_ARG, "raiseIrqs: line " + line + " is outside 1.." + (IRQ_LINES - 1));
            }
        }
        machine.enter(null);
        try {
            for (int line : lines) {
                irqs.pending[line] = true;
            }
            deliverIrqs();
            if (uni) {
                reschedule(); // a woken driver of higher priority runs now
            }
        } finally {
            machine.leave(null);
        }
    }

    /** Delivers pending lines, highest priority first. Lock held. */
    private void deliverIrqs() {
        int line;
        while ((line = irqs.next()) >= 0) {
            irqs.pending[line] = false;
            irqs.inService[line] = true;
            irqs.delivered[line]++;
            trace(Trace.IRQ, line, InterruptController.FIRST_IRQ_VECTOR + line);
            IrqHandler h = irqs.handler[line];
            if (h != null && h.notification != null && h.notification.live) {
                signalObject(h.notification, h.bits);
            }
        }
    }

    /** The IRQ control capability's object, for init (boot interface). */
    public KernelObject irqControl() {
        return irqControl;
    }

    /** Hands out line {@code line} as an IRQ handler capability in {@code dst} (needs IRQ control). */
    public int irqIssue(Tcb self, int controlSlot, int line, int dst) {
        begin(self, OP_IRQ, line);
        int r;
        Cap c = self.killed ? null : lookup(self, controlSlot, ObjectType.IRQ_CONTROL, Rights.CONTROL);
        CapSlot d = c == null ? null : emptySlot(self, dst);
        if (self.killed) {
            r = E_KILLED;
        } else if (c == null || d == null) {
            r = self.error;
        } else if (line <= InterruptController.TIMER_LINE || line >= IRQ_LINES) {
            r = fail(self, E_INVALID_ARG, line); // outside 1..223 (the timer's line is the kernel's)
        } else if (irqs.handler[line] != null) {
            r = fail(self, E_ILLEGAL_OPERATION, line); // the line already has a handler
        } else {
            IrqHandler h = irqHandlers.allocate();
            h.line = line;
            h.notification = null;
            h.owner = self.current;
            irqs.handler[line] = h;
            install(d, null, Cap.of(h, Rights.ALL, 0));
            r = OK;
        }
        return end(self, r);
    }

    /**
     * Binds the handler's line to the notification in {@code notificationSlot} (SEND right): a
     * delivery signals it with the capability's badge (1 if none). Unmasks the line.
     */
    public int irqBind(Tcb self, int handlerSlot, int notificationSlot) {
        begin(self, OP_IRQ, handlerSlot);
        int r;
        Cap h = self.killed ? null : lookup(self, handlerSlot, ObjectType.IRQ_HANDLER, Rights.CONTROL);
        Cap n = h == null ? null : lookup(self, notificationSlot, ObjectType.NOTIFICATION, Rights.SEND);
        if (self.killed) {
            r = E_KILLED;
        } else if (h == null || n == null) {
            r = self.error;
        } else {
            IrqHandler ih = (IrqHandler) h.object;
            Notification old = ih.notification;
            ih.notification = (Notification) n.object;
            ih.notification.capCount++; // the binding holds it, as a capability would
            ih.bits = n.badge == 0 ? 1 : n.badge;
            if (old != null) {
                release(old, E_DELETED);
            }
            irqs.masked[ih.line] = false;
            deliverIrqs();
            r = OK;
        }
        return end(self, r);
    }

    /** End of interrupt: the line leaves service; a pending raise is delivered now. */
    public int irqAck(Tcb self, int handlerSlot) {
        return irqChange(self, handlerSlot, 0, 0);
    }

    /** Masks (true) or unmasks the line; raises while masked stay pending. */
    public int irqMask(Tcb self, int handlerSlot, boolean mask) {
        return irqChange(self, handlerSlot, mask ? 1 : 2, 0);
    }

    /** Sets the line's priority, 0..15 (default: its vector's priority class, vector / 16). */
    public int irqPriority(Tcb self, int handlerSlot, int priority) {
        return irqChange(self, handlerSlot, 3, priority);
    }

    private int irqChange(Tcb self, int handlerSlot, int what, int priority) {
        begin(self, OP_IRQ, handlerSlot);
        int r;
        Cap h = self.killed ? null : lookup(self, handlerSlot, ObjectType.IRQ_HANDLER, Rights.CONTROL);
        if (self.killed) {
            r = E_KILLED;
        } else if (h == null) {
            r = self.error;
        } else if (what == 3 && (priority < 0 || priority >= InterruptController.PRIORITIES)) {
            r = fail(self, E_INVALID_ARG, priority);
        } else {
            int line = ((IrqHandler) h.object).line;
            switch (what) {
                case 0 -> irqs.inService[line] = false;
                case 1 -> irqs.masked[line] = true;
                case 2 -> irqs.masked[line] = false;
                default -> irqs.priority[line] = priority;
            }
            deliverIrqs();
            r = OK;
        }
        return end(self, r);
    }

    /** One line's state, for the shell and tests. */
    public record IrqLine(int line, int vector, String vectorName, long delivered, boolean masked, boolean pending,
            boolean inService, int priority, String owner) {}

    public IrqLine irqLine(int line) {
        machine.enter(null);
        try {
            IrqHandler h = irqs.handler[line];
            int vector = InterruptController.FIRST_IRQ_VECTOR + line;
            return new IrqLine(line, vector, InterruptController.vectorName(vector), irqs.delivered[line],
                    irqs.masked[line], irqs.pending[line], irqs.inService[line], irqs.priority[line],
                    line == InterruptController.TIMER_LINE ? "kernel (timer)" : h == null ? null
                            : h.owner == null ? "?" : h.owner.name);
        } finally {
            machine.leave(null);
        }
    }

    /** The name of an x86 vector: an exception's mnemonic, or IRQ n. */
    public static String vectorName(int vector) {
        return InterruptController.vectorName(vector);
    }

    // ---- capability helpers (lock held) -----------------------------------------------------

    /**
     * Resolves {@code slot} in the thread's current capability space to a capability of
     * {@code type} (0: any) with {@code rights}. On failure returns null with the status in
     * {@code self.error} and the slot in {@code self.errorArg}. Safe without the lock.
     */
    private Cap lookup(Tcb self, int slot, int type, int rights) {
        CapSlot[] slots = self.current.cspace.slots;
        if (slot < 0 || slot >= slots.length) {
            fail(self, E_INVALID_SLOT, slot);
            return null;
        }
        Cap c = slots[slot].cap;
        int st = c == null ? E_EMPTY_SLOT
                : c == Cap.REVOKED ? E_REVOKED
                : type != 0 && c.type != type ? E_WRONG_TYPE
                : (c.rights & rights) != rights ? E_NO_RIGHTS
                : OK;
        if (st != OK) {
            fail(self, st, slot);
            return null;
        }
        return c;
    }

    private CapSlot emptySlot(Tcb self, int dst) {
        CapSlot[] slots = self.current.cspace.slots;
        if (dst < 0 || dst >= slots.length) {
            fail(self, E_INVALID_SLOT, dst);
            return null;
        }
        Cap c = slots[dst].cap;
        if (c != null && c != Cap.REVOKED) {
            fail(self, E_SLOT_OCCUPIED, dst);
            return null;
        }
        return slots[dst];
    }

    private static int fail(Tcb self, int status, long arg) {
        self.error = status;
        self.errorArg = arg;
        return status;
    }

    /** Puts {@code cap} into the empty (or revoked) slot {@code d}, as a child of {@code parent}. */
    private void install(CapSlot d, CapSlot parent, Cap cap) {
        if (d.cap == Cap.REVOKED) {
            d.cap = null;
        }
        if (parent != null) {
            parent.addChild(d);
        }
        cap.object.capCount++;
        d.cap = cap;
    }

    /** Empties a slot; its children move up to its parent. The last capability destroys the object. */
    private void deleteSlot(CapSlot s, int waiterStatus) {
        Cap c = s.cap;
        if (c == null) {
            return;
        }
        s.cap = null;
        if (c == Cap.REVOKED) {
            return;
        }
        s.unlink();
        if (c.type == ObjectType.FRAME) {
            memory.capGone(s); // the page it mapped goes with it
        }
        release(c.object, waiterStatus);
    }

    private void revokeChildren(CapSlot root) {
        while (root.firstChild != null) {
            CapSlot leaf = root.firstChild;
            while (leaf.firstChild != null) {
                leaf = leaf.firstChild;
            }
            leaf.detach();
            Cap c = leaf.cap;
            leaf.cap = Cap.REVOKED;
            if (c.type == ObjectType.FRAME) {
                memory.capGone(leaf); // revoking a shared frame unmaps it from whoever mapped it
            }
            release(c.object, E_REVOKED);
        }
    }

    /** Drops one capability reference; destroys endpoints, notifications and replies at zero. */
    private void release(KernelObject o, int waiterStatus) {
        if (--o.capCount > 0) {
            return;
        }
        switch (o) {
            case Endpoint ep -> destroyEndpoint(ep, waiterStatus);
            case Notification n -> {
                failQueue(n.waiters, waiterStatus);
                n.word = 0;
                uncharge(n);
                notifications.release(n);
            }
            case Reply rep -> {
                if (rep.thread == null) {
                    failCaller(rep, waiterStatus == E_REVOKED ? E_DELETED : waiterStatus);
                    replies.release(rep);
                }
            }
            case Frame f -> memory.frameReleased(f);
            case IrqHandler h -> {
                int line = h.line;
                irqs.handler[line] = null;
                irqs.masked[line] = true;
                irqs.inService[line] = false;
                irqs.pending[line] = false;
                Notification bound = h.notification;
                h.notification = null;
                irqHandlers.release(h);
                if (bound != null) {
                    release(bound, E_DELETED);
                }
                deliverIrqs(); // its line no longer holds the processor priority
            }
            case PageTable t -> memory.tableReleased(t);
            default -> { }
        }
    }

    private void destroyEndpoint(Endpoint ep, int waiterStatus) {
        int status = waiterStatus == E_REVOKED ? E_DELETED : waiterStatus;
        Tcb r = ep.fastReceiver;
        if (r != null) {
            // Unbind first: a receiver re-arming meanwhile then sees it is no longer bound and
            // withdraws to the slow path, instead of waiting on a destroyed endpoint.
            unbindFastReceiver(r);
            if (Utcb.claimReceiver(r.utcb, ep.id, Utcb.WAIT_RECV_FAST)) {
                wakeClaimed(r, status);
            }
        }
        failQueue(ep.senders, status);
        ep.sendersChanged();
        failQueue(ep.receivers, status);
        Domain server = ep.server;
        ep.server = null;
        ep.passive = null;
        uncharge(ep);
        endpoints.release(ep);
        reclaimIfUnreachable(server);
    }

    private void uncharge(KernelObject o) {
        if (o.owner != null) {
            o.owner.used--;
        }
    }

    private void failQueue(TcbQueue q, int status) {
        while (!q.isEmpty()) {
            Tcb t = q.pollFirst();
            if (Utcb.claimAny(t.utcb)) {
                timers.remove(t);
                wakeClaimed(t, status);
            }
        }
    }

    /** Wakes the caller bound to a reply object with an error. */
    private void failCaller(Reply rep, int status) {
        long binding;
        do { // a fast caller may bind a killed server that has just answered the last one
            binding = rep.binding();
            if (binding == 0) {
                return;
            }
        } while (!rep.clear(binding));
        Tcb caller = rep.caller(binding);
        if (Utcb.claim(caller.utcb, Reply.generation(binding))) {
            if (caller.proxyOf != null) {
                Utcb.release(caller.utcb);
                caller.proxyOf.faultPending = false;
                return;
            }
            wakeClaimed(caller, status);
        }
    }

    // =====================================================================================
    // Faults, domain death, thread exit
    // =====================================================================================

    /**
     * An uncaught exception in {@code self}'s code. The thread's caller (if it was serving one)
     * gets E_SERVER_FAULT, the domain is marked faulted, its fault endpoint gets a message, and
     * the thread waits for the fault handler. Returns OK when resumed (the machine restarts the
     * thread's body) or E_KILLED when the handler kills the domain.
     */
    public int threadFault(Tcb self, Throwable cause) {
        self.serviceStart = 0;
        begin(self, OP_FAULT, 0);
        failCaller(self.reply, E_SERVER_FAULT);
        if (self.killed) {
            return end(self, E_KILLED);
        }
        block(self, Tcb.FAULTED, null, -1, FOREVER, Utcb.WAIT_OTHER, 0);
        faultDomain(self.domain, self, Domain.FAULT_THREAD, cause);
        return end(self, BLOCKED);
    }

    private int passiveFault(Tcb self, Domain server, Throwable cause, int slot) {
        begin(self, OP_FAULT, slot);
        if (server.state == Domain.DEAD) {
            // Its domain was killed under the call (a native-tier server's isolate then refuses
            // it): the call fails as a call the dead server had taken does, not as a new fault.
            return end(self, fail(self, server.downStatus(), slot));
        }
        faultDomain(server, self, Domain.FAULT_HANDLER, cause);
        fail(self, E_SERVER_FAULT, slot);
        return end(self, E_SERVER_FAULT);
    }

    private void faultDomain(Domain d, Tcb t, int kind, Throwable cause) {
        d.faultCount++;
        d.lastFault = cause;
        d.lastFaultThread = t.name;
        trace(Trace.FAULT, d.id, t.id);
        klog(KernelLog.DOMAIN_FAULTED, d.id, kind, d);
        if (d.state == Domain.RUNNING) {
            d.state = Domain.FAULTED;
        }
        if (d.faultCap == null || d.faultPending || d.state == Domain.DEAD) {
            return;
        }
        // The fault message is a call from the domain's kernel-internal proxy thread, so it
        // queues, orders by priority and gets a reply exactly like any other call.
        Tcb proxy = d.faultProxy;
        MemorySegment u = proxy.utcb;
        Utcb.setMr(u, 0, kind);
        Utcb.setMr(u, 1, t.id);
        Utcb.setMr(u, 2, d.id);
        Utcb.setMr(u, 3, d.faultCount);
        Utcb.setTag(u, Tag.of(Domain.FAULT_LABEL, 4));
        d.faultPending = true;
        Endpoint ep = (Endpoint) d.faultCap.object;
        long tag = Tag.of(Domain.FAULT_LABEL, 4);
        Tcb r = ep.hasSenders ? null : takeReceiver(ep);
        if (r != null) {
            transfer(proxy, d.faultCap, tag, r, false);
            long gen = block(proxy, Tcb.BLOCKED_REPLY, r.reply, -1, FOREVER, Utcb.WAIT_OTHER, 0);
            r.reply.bind(proxy, gen);
            wakeClaimed(r, OK);
            return;
        }
        queueSender(ep, proxy, d.faultCap, tag, true, -1, FOREVER);
    }

    /** The fault handler replied: resume the domain or kill it. */
    private void faultAnswered(Domain d, int label) {
        d.faultPending = false;
        if (label != Domain.FAULT_RESUME || d.crashed) { // a crash's threads cannot go on: resuming it is killing it
            killDomain(d);
            return;
        }
        if (d.state == Domain.FAULTED) {
            d.state = Domain.RUNNING;
        }
        for (Tcb t = d.threads; t != null; t = t.domainNext) {
            if (t.state == Tcb.FAULTED && Utcb.claimAny(t.utcb)) {
                wakeClaimed(t, OK);
            }
        }
        for (int i = servedBy(d, 0); i >= 0; i = servedBy(d, i + 1)) {
            deliverHeld(endpoints.get(i));
        }
    }

    /** The pool index of the next live endpoint from {@code from} that {@code d} serves, or -1. */
    private int servedBy(Domain d, int from) {
        for (int i = from; i < endpoints.capacity(); i++) {
            Endpoint ep = endpoints.get(i);
            if (ep.live && ep.server == d) {
                return i;
            }
        }
        return -1;
    }

    /** Fails every sender waiting on the endpoints {@code d} serves with {@code status}. */
    private void failWaiting(Domain d, int status) {
        for (int i = servedBy(d, 0); i >= 0; i = servedBy(d, i + 1)) {
            Endpoint ep = endpoints.get(i);
            failQueue(ep.senders, status);
            ep.sendersChanged();
        }
    }

    /** Hands the messages queued while the endpoint's server was down to its waiting threads. */
    private void deliverHeld(Endpoint ep) {
        if (ep.passive != null) {
            failQueue(ep.senders, REQUEUE);
        } else {
            Tcb r;
            while (!ep.senders.isEmpty() && (r = takeReceiver(ep)) != null) {
                receiveFrom(r, ep.senders.pollFirst());
                wakeClaimed(r, OK);
            }
        }
        ep.sendersChanged();
    }

    /**
     * Kills a domain: its threads unwind with E_KILLED, callers it was serving get
     * E_DEAD_DOMAIN (E_RESTARTED if it is being restarted), its capabilities are deleted.
     * Senders queued on the endpoints it serves get E_DEAD_DOMAIN too, unless it is being
     * restarted: then they wait for the next incarnation.
     */
    public void killDomain(Domain d) {
        if (d.state == Domain.DEAD) {
            return;
        }
        d.state = Domain.DEAD;
        int callerStatus = d.downStatus();
        klog(KernelLog.DOMAIN_KILLED, d.id, d.restarting ? 1 : 0, d);
        for (Tcb t = d.threads; t != null; t = t.domainNext) {
            t.killed = true;
            failCaller(t.reply, callerStatus);
            // Unbind before claiming: a fast receiver re-arming meanwhile then either sees itself
            // unbound (and takes the slow path) or is armed when we claim it; else it could wait forever.
            unbindFastReceiver(t);
            if (Utcb.claimAny(t.utcb)) {
                cancelBlock(t);
                wakeClaimed(t, E_KILLED);
            }
        }
        if (callerStatus != E_RESTARTED) {
            failWaiting(d, callerStatus);
        }
        Tcb proxy = d.faultProxy;
        if (proxy != null && d.faultPending && Utcb.claimAny(proxy.utcb)) {
            cancelBlock(proxy);
            Utcb.release(proxy.utcb);
        }
        d.faultPending = false;
        if (d.faultCap != null) {
            Cap fc = d.faultCap;
            d.faultCap = null;
            release(fc.object, E_DELETED);
        }
        if (d.pagerCap != null) {
            Cap pc = d.pagerCap;
            d.pagerCap = null;
            release(pc.object, E_DELETED);
        }
        memory.teardown(d); // its mappings first: a frame whose last capability goes next is free then
        for (CapSlot s : d.cspace.slots) {
            deleteSlot(s, E_DEAD_DOMAIN);
        }
        reclaimIfUnreachable(d);
    }

    /**
     * Frees a dead domain's id once nothing can reach the domain any more: no thread of its own
     * is left and it serves no endpoint (a supervisor rebound them, or they were deleted). A
     * domain left dead on its endpoints (restart = never, or given up) keeps its id, so callers
     * still learn it is dead. The Domain object is retired, not reused ({@link ObjectPool#retire}).
     * Lock held.
     */
    private void reclaimIfUnreachable(Domain d) {
        if (d == null || !d.live || d.state != Domain.DEAD || d.threadCount != 0 || servedBy(d, 0) >= 0) {
            return;
        }
        Tcb proxy = d.faultProxy;
        if (proxy != null) {
            // A reply to a fault it sent finds its wait claimed or of an older generation.
            d.faultProxy = null;
            proxy.state = Tcb.DEAD;
            replies.release(proxy.reply);
            proxy.reply = null;
            threads.release(proxy);
        }
        d.backend = null; // its class loader can go: drop what still refers to it
        d.lastFault = d.lastFault == null ? null : new RetiredFault(d.lastFault);
        klog(KernelLog.DOMAIN_RECLAIMED, d.id, 0, d);
        domains.retire(d);
    }

    /** The thread's body returned (or it unwound after a kill): it leaves the system. */
    public void threadExit(Tcb self) {
        begin(self, OP_EXIT, 0);
        // A killed server can still have taken a fast call after the kill: that caller, too,
        // learns that the server's domain died.
        failCaller(self.reply, self.killed ? self.domain.downStatus() : E_DELETED);
        Domain d = self.domain;
        Tcb prev = null;
        for (Tcb t = d.threads; t != null; prev = t, t = t.domainNext) {
            if (t == self) {
                if (prev == null) {
                    d.threads = t.domainNext;
                } else {
                    prev.domainNext = t.domainNext;
                }
                break;
            }
        }
        d.threadCount--;
        reclaimIfUnreachable(d);
        unbindFastReceiver(self);
        self.state = Tcb.DEAD;
        if (uni && scheduler.isQueued(self)) {
            scheduler.remove(self);
        }
        replies.release(self.reply);
        self.reply = null;
        memory.forget(self);
        threads.release(self);
        end(self, OK);
    }

    // =====================================================================================
    // Blocking, waking, time, scheduling
    // =====================================================================================

    /** Blocks {@code t} (lock held): arms its wake word and schedules its timeout. */
    private long block(Tcb t, int state, KernelObject on, int slot, long timeout, long kind, int endpoint) {
        long gen = Utcb.arm(t.utcb, kind, endpoint);
        t.state = state;
        t.blockedOn = on;
        t.errorArg = slot;
        if (timeout > 0) {
            timers.schedule(t, machine.now() + timeout, gen);
            if (timers.peek() == t) {
                machine.timerChanged(t.deadline);
            }
        }
        trace(Trace.BLOCK, t.id, on == null ? -1 : on.id);
        return gen;
    }

    /** Removes a claimed thread from whatever queue it waited in. */
    private void cancelBlock(Tcb t) {
        TcbQueue q = t.queue;
        if (q != null) {
            q.remove(t);
            if (t.blockedOn instanceof Endpoint ep) {
                ep.sendersChanged();
            }
        }
        t.pendingCap = null;
        timers.remove(t);
    }

    /** Completes the wake-up of a claimed thread (lock held). */
    private void wakeClaimed(Tcb t, int status) {
        timers.remove(t);
        t.blockedOn = null;
        if (t.proxyOf != null) {
            t.proxyOf.faultPending = false;
            Utcb.release(t.utcb);
            return;
        }
        Utcb.setStatus(t.utcb, status);
        t.state = Tcb.RUNNING;
        trace(Trace.WAKE, t.id, status);
        if (uni) {
            scheduler.enqueueTail(t);
        }
        if (Utcb.release(t.utcb)) {
            machine.unpark(t);
        }
    }

    /** The timer: expires due timeouts. Called by the machine's timer device. */
    public void tick() {
        machine.enter(null);
        if (uni && tickPeriod > 0) {
            ticks(machine.now()); // counts the periodic ticks up to now
        } else {
            irqs.delivered[InterruptController.TIMER_LINE]++; // the timer is IRQ 0
        }
        expire(machine.now());
        machine.timerChanged(nextDeadline());
        if (uni) {
            reschedule();
        }
        machine.leave(null);
    }

    private void expire(long now) {
        Tcb t;
        boolean changed = false;
        while ((t = timers.peek()) != null && t.deadline <= now) {
            timers.remove(t);
            changed = true;
            if (Utcb.claim(t.utcb, t.timerGen)) {
                cancelBlock(t);
                wakeClaimed(t, E_TIMEOUT);
            }
        }
        if (changed) {
            Tcb next = timers.peek();
            machine.timerChanged(next == null ? Long.MAX_VALUE : next.deadline);
        }
    }

    /** Earliest pending timeout, or Long.MAX_VALUE. Lock held. */
    public long nextDeadline() {
        Tcb t = timers.peek();
        return t == null ? Long.MAX_VALUE : t.deadline;
    }

    private void begin(Tcb self, int op, long arg) {
        machine.enter(self);
        trace(Trace.SYSCALL, self.id, ((long) op << 32) | (arg & 0xFFFFFFFFL));
        if (uni) {
            if (tickPeriod > 0) {
                ticks(machine.now());
            } else {
                self.sliceLeft -= ENTRY_COST_NS;
            }
            expire(machine.now());
        }
    }

    /**
     * The periodic timer's ticks due by {@code now} (IRQ 0), taken at this kernel entry, the
     * uniprocessor's preemption point: each charges its period to the running thread's slice;
     * the entry's end then rotates it behind its peers if the slice is used up. Lock held.
     */
    private void ticks(long now) {
        if (now >= nextTick) {
            long n = (now - nextTick) / tickPeriod + 1; // after an idle jump, many at once
            nextTick += n * tickPeriod;
            irqs.delivered[InterruptController.TIMER_LINE] += n;
            Tcb cur = current;
            if (cur != null) {
                cur.sliceLeft -= n * tickPeriod;
            }
        }
    }

    /** Ends an entry; a blocked caller returns the status its waker left in its UTCB. */
    private int end(Tcb self, int r) {
        boolean stopped = false;
        if (r == E_KILLED && self.domain.state == Domain.FAULTED) {
            // Its domain crashed (injectFault) and the supervisor has not killed it yet: it waits
            // for that here, having done nothing of this call, rather than unwind and leave early.
            block(self, Tcb.FAULTED, null, -1, FOREVER, Utcb.WAIT_OTHER, 0);
            r = BLOCKED;
            stopped = true;
        }
        if (uni) {
            reschedule();
        }
        machine.leave(self);
        if (r == BLOCKED) {
            self.state = Tcb.RUNNING;
            int st = Utcb.status(self.utcb);
            return stopped ? E_KILLED : st;
        }
        return r;
    }

    /**
     * Uniprocessor scheduling decision at the end of an entry: the current thread keeps the CPU
     * unless it blocked, its slice ran out (round robin: to the tail) or a higher priority thread
     * is ready (preempted: back to the head).
     */
    private void reschedule() {
        Tcb cur = current;
        if (cur != null && cur.state == Tcb.RUNNING && !scheduler.isQueued(cur)) {
            if (cur.sliceLeft <= 0) {
                cur.sliceLeft = cur.timeslice;
                cur.yielded = false;
                scheduler.enqueueTail(cur);
            } else if (scheduler.highestPriority() > cur.priority) {
                scheduler.enqueueHead(cur);
            } else {
                return;
            }
        } else if (cur != null && cur.state == Tcb.RUNNING) {
            // Woken while still current (e.g. its own timeout fired inside its entry).
            scheduler.remove(cur);
            return;
        }
        Tcb next = scheduler.pollHighest();
        current = next;
        if (next != cur) {
            trace(next == null ? Trace.IDLE : Trace.SWITCH, next == null ? 0 : next.id, 0);
        }
    }

    /** Records a lifecycle event in the kernel log and wakes its reader (lock held). */
    private void klog(int kind, long a, long b, Domain subject) {
        klog.record(machine.now(), kind, a, b, subject);
        if (klog.reader != null && klog.reader.live) {
            signalObject(klog.reader, 1);
        }
    }

    private void trace(int kind, long a, long b) {
        if (trace.enabled()) {
            trace.record(machine.now(), kind, a, b);
        }
    }

    // =====================================================================================
    // Boot interface: used by the machine, init and tests to build the initial system
    // =====================================================================================

    /** Creates a domain with a capability space of {@code slots} slots and an object quota. */
    public Domain createDomain(String name, int slots, int quota) {
        if (slots <= 0 || quota < 0) {
            throw new KernelException(E_INVALID_ARG,
                    "createDomain " + name + ": slots " + slots + " and quota " + quota + " must be positive");
        }
        machine.enter(null);
        try {
            Domain d = domains.allocate();
            if (d == null) {
                throw new KernelException(E_NO_MEMORY, "createDomain " + name + ": all "
                        + domains.capacity() + " domains are in use");
            }
            isola.kernel.mem.AddressSpace vspace = memory.newAddressSpace();
            if (vspace == null) {
                domains.release(d);
                throw new KernelException(E_NO_MEMORY, "createDomain " + name
                        + ": no physical frame left for its page-table root");
            }
            d.vspace = vspace;
            d.frameQuota = 0;
            d.framesUsed = 0;
            d.name = name;
            d.cspace = new CSpace(d, slots);
            d.quota = quota;
            d.used = 0;
            d.threads = null;
            d.threadCount = 0;
            d.faultCap = null;
            d.pagerCap = null;
            d.faultProxy = null;
            d.faultPending = false;
            d.faultCount = 0;
            d.lastFault = null;
            d.restarting = false;
            d.backend = null;
            d.state = Domain.RUNNING;
            klog(KernelLog.DOMAIN_CREATED, d.id, 0, d);
            return d;
        } finally {
            machine.leave(null);
        }
    }

    /** Creates an inactive thread in {@code d}; {@link #startThread} makes it runnable. */
    public Tcb createThread(Domain d, String name, int priority) {
        if (priority < 0 || priority >= Scheduler.PRIORITIES) {
            throw new KernelException(E_INVALID_ARG, "createThread " + name + ": priority "
                    + priority + " is outside 0.." + (Scheduler.PRIORITIES - 1));
        }
        machine.enter(null);
        try {
            if (d.state == Domain.DEAD) {
                throw new KernelException(E_DEAD_DOMAIN, "createThread " + name + ": domain "
                        + d.name + " is dead");
            }
            Tcb t = newTcb(name, d, priority);
            t.domainNext = d.threads;
            d.threads = t;
            d.threadCount++;
            return t;
        } finally {
            machine.leave(null);
        }
    }

    private Tcb newTcb(String name, Domain d, int priority) {
        Tcb t = threads.allocate();
        Reply rep = t == null ? null : replies.allocate();
        if (t == null || rep == null) {
            if (t != null) {
                threads.release(t);
            }
            throw new KernelException(E_NO_MEMORY, "createThread " + name + ": out of "
                    + (t == null ? "threads" : "reply objects"));
        }
        if (t.utcb == null) {
            t.utcb = Utcb.allocate(utcbArena);
        }
        Utcb.disarm(t.utcb);
        Utcb.setRecvWindow(t.utcb, Utcb.NO_WINDOW);
        rep.attach(t);
        t.reply = rep;
        t.name = name;
        t.domain = d;
        t.current = d;
        t.priority = priority;
        t.state = Tcb.INACTIVE;
        t.killed = false;
        t.serviceStart = 0;
        t.proxyOf = null;
        t.fastEp = null;
        t.timeslice = config.timesliceNs();
        t.sliceLeft = t.timeslice;
        t.runner = null;
        t.sdk = null;
        t.translator = null; // its MMUs went with the thread that had the Tcb before
        return t;
    }

    public void startThread(Tcb t) {
        machine.enter(null);
        try {
            if (t.state != Tcb.INACTIVE) {
                throw new KernelException(E_INVALID_ARG, "startThread " + t.name + ": not inactive but "
                        + Tcb.stateName(t.state));
            }
            t.state = Tcb.RUNNING;
            if (uni) {
                scheduler.enqueueTail(t);
                if (current == null) {
                    reschedule();
                }
            }
        } finally {
            machine.leave(null);
        }
    }

    public void setTimeslice(Tcb t, long ns) {
        if (ns <= 0) {
            throw new KernelException(E_INVALID_ARG, "setTimeslice " + t.name + ": " + ns + " ns");
        }
        machine.enter(null);
        t.timeslice = ns;
        t.sliceLeft = ns;
        machine.leave(null);
    }

    public Endpoint createEndpoint(Domain owner) {
        machine.enter(null);
        try {
            Endpoint ep = (Endpoint) allocateObject(owner, ObjectType.ENDPOINT);
            if (ep == null) {
                throw new KernelException(E_NO_MEMORY, "createEndpoint for " + owner.name
                        + ": quota " + owner.quota + " or endpoint pool exhausted");
            }
            return ep;
        } finally {
            machine.leave(null);
        }
    }

    public Notification createNotification(Domain owner) {
        machine.enter(null);
        try {
            Notification n = (Notification) allocateObject(owner, ObjectType.NOTIFICATION);
            if (n == null) {
                throw new KernelException(E_NO_MEMORY, "createNotification for " + owner.name
                        + ": quota " + owner.quota + " or notification pool exhausted");
            }
            return n;
        } finally {
            machine.leave(null);
        }
    }

    /** Boot interface: empties {@code slot} of {@code d} (nothing if it is empty). */
    public void deleteCap(Domain d, int slot) {
        machine.enter(null);
        try {
            if (slot < 0 || slot >= d.cspace.slots.length) {
                throw new KernelException(E_INVALID_SLOT, "deleteCap in " + d.name + ": slot " + slot
                        + " is outside 0.." + (d.cspace.slots.length - 1));
            }
            deleteSlot(d.cspace.slots[slot], E_DELETED);
        } finally {
            machine.leave(null);
        }
    }

    /** Installs an original capability (a root of the derivation tree) into an empty slot. */
    public void installCap(Domain d, int slot, KernelObject object, int rights, long badge) {
        machine.enter(null);
        try {
            if (slot < 0 || slot >= d.cspace.slots.length) {
                throw new KernelException(E_INVALID_SLOT, "installCap into " + d.name + ": slot "
                        + slot + " is outside 0.." + (d.cspace.slots.length - 1));
            }
            CapSlot s = d.cspace.slots[slot];
            if (s.cap != null && s.cap != Cap.REVOKED) {
                throw new KernelException(E_SLOT_OCCUPIED, "installCap into " + d.name + ": slot "
                        + slot + " holds " + s.cap);
            }
            if (!object.live) {
                throw new KernelException(E_DELETED, "installCap into " + d.name + ": " + object
                        + " is not live");
            }
            if ((rights & ~Rights.ALL) != 0) {
                throw new KernelException(E_INVALID_ARG, "installCap: rights " + rights);
            }
            install(s, null, Cap.of(object, rights, badge));
        } finally {
            machine.leave(null);
        }
    }

    /** Copies a capability from one domain's slot to another's as its child (boot-time grant). */
    public void grantCap(Domain from, int fromSlot, Domain to, int toSlot, int rights, long badge) {
        machine.enter(null);
        try {
            if (fromSlot < 0 || fromSlot >= from.cspace.slots.length) {
                throw new KernelException(E_INVALID_SLOT, "grantCap from " + from.name + ": slot "
                        + fromSlot + " is outside 0.." + (from.cspace.slots.length - 1));
            }
            Cap c = from.cspace.get(fromSlot);
            if (c == null || c == Cap.REVOKED) {
                throw new KernelException(c == null ? E_EMPTY_SLOT : E_REVOKED, "grantCap from "
                        + from.name + ": slot " + fromSlot + (c == null ? " is empty" : " was revoked"));
            }
            if ((rights & ~c.rights) != 0) {
                throw new KernelException(E_INVALID_ARG, "grantCap: rights " + Rights.toString(rights)
                        + " exceed " + Rights.toString(c.rights));
            }
            if (c.type == ObjectType.REPLY || (badge != 0 && c.badge != 0 && badge != c.badge)) {
                // As in mint: a reply capability is one-shot, and a badge cannot be changed.
                throw new KernelException(E_ILLEGAL_OPERATION, "grantCap from " + from.name + ": slot "
                        + fromSlot + " holds " + c + ", which cannot be derived with badge " + badge);
            }
            if (toSlot < 0 || toSlot >= to.cspace.slots.length) {
                throw new KernelException(E_INVALID_SLOT, "grantCap into " + to.name + ": slot "
                        + toSlot + " is outside 0.." + (to.cspace.slots.length - 1));
            }
            Cap t = to.cspace.get(toSlot);
            if (t != null && t != Cap.REVOKED) {
                throw new KernelException(E_SLOT_OCCUPIED, "grantCap into " + to.name + ": slot "
                        + toSlot + " is not an empty slot");
            }
            install(to.cspace.slots[toSlot], from.cspace.slots[fromSlot],
                    Cap.of(c.object, rights, badge != 0 ? badge : c.badge));
        } finally {
            machine.leave(null);
        }
    }

    /** Makes {@code d} the server of {@code ep}: calls fail with E_DEAD_DOMAIN once it dies. */
    public void bindServer(Endpoint ep, Domain d) {
        machine.enter(null);
        ep.server = d;
        machine.leave(null);
    }

    /** Binds a passive server: calls on {@code ep} run {@code entry} on the caller's thread in {@code d}. */
    public void bindPassive(Endpoint ep, Domain d, PassiveEntry entry) {
        machine.enter(null);
        try {
            if (ep.fastReceiver != null || !ep.receivers.isEmpty()) {
                throw new KernelException(E_ILLEGAL_OPERATION, "bindPassive " + ep + " to " + d.name
                        + ": threads receive on it");
            }
            ep.server = d;
            ep.passive = new Endpoint.Passive(d, entry);
        } finally {
            machine.leave(null);
        }
    }

    /** Sets where {@code d}'s faults are reported: the endpoint in the holder's slot, with a badge. */
    public void setFaultEndpoint(Domain d, Endpoint ep, long badge) {
        machine.enter(null);
        try {
            if (d.faultProxy == null) {
                Tcb proxy = newTcb(d.name + "/fault", d, Scheduler.PRIORITIES - 1);
                proxy.proxyOf = d;
                proxy.state = Tcb.INACTIVE;
                d.faultProxy = proxy;
            }
            if (d.faultCap != null) {
                release(d.faultCap.object, E_DELETED);
            }
            d.faultCap = Cap.of(ep, Rights.SEND, badge);
            ep.capCount++;
        } finally {
            machine.leave(null);
        }
    }

    /**
     * Resumes a faulted domain (its faulted threads restart), as a RESUME fault reply would. A
     * crash ({@link #injectFault}) cannot be resumed: refused here, and a RESUME reply to its
     * fault message kills the domain, as its threads are stopped for good.
     */
    public void resumeDomain(Domain d) {
        machine.enter(null);
        try {
            if (d.state == Domain.DEAD) {
                throw new KernelException(E_DEAD_DOMAIN, "resumeDomain " + d.name + ": dead");
            }
            if (d.crashed) {
                throw new KernelException(E_ILLEGAL_OPERATION, "resumeDomain " + d.name
                        + ": it was crashed (injectFault), which stops its threads for good: kill it instead");
            }
            faultAnswered(d, Domain.FAULT_RESUME);
            if (uni && current == null) {
                reschedule(); // an idle uniprocessor runs the threads this woke, as startThread does
            }
        } finally {
            machine.leave(null);
        }
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
        machine.enter(null);
        try {
            d.restarting = false;
            klog(KernelLog.RESTART_ABANDONED, d.id, 0, d);
            if (d.state == Domain.DEAD) {
                failWaiting(d, E_DEAD_DOMAIN);
            }
            if (uni && current == null) {
                reschedule();
            }
        } finally {
            machine.leave(null);
        }
    }

    /**
     * Hands an endpoint whose server died to a new server domain, which serves it actively
     * (its threads receive on it) or binds a passive handler with {@code serve}. Clients'
     * capabilities to the endpoint stay valid across the restart.
     */
    public void rebindEndpoint(Endpoint ep, Domain d) {
        machine.enter(null);
        try {
            Domain old = ep.server;
            if (old != null && old != d && old.state != Domain.DEAD) {
                throw new KernelException(E_ILLEGAL_OPERATION, "rebindEndpoint " + ep + " to "
                        + d.name + ": its server " + old.name + " is still " + Domain.stateName(old.state));
            }
            if (d.state == Domain.DEAD) {
                throw new KernelException(E_DEAD_DOMAIN, "rebindEndpoint " + ep + ": " + d.name + " is dead");
            }
            ep.server = d;
            ep.passive = null;
            klog(KernelLog.ENDPOINT_REBOUND, ep.id, d.id, d);
            if (old != d) {
                reclaimIfUnreachable(old);
            }
        } finally {
            machine.leave(null);
        }
    }

    /**
     * Crashes {@code d} on demand: the domain is marked faulted, its fault endpoint is told, and
     * its threads stop: each at its next kernel entry, where it waits, without having done what
     * it asked, until the domain is killed (then it unwinds with E_KILLED, and a call it was
     * serving fails with E_RESTARTED). Unlike a thread's own fault, a resume finds nothing to
     * run on: its threads unwind. The shell's {@code kill} and the watchdog use it.
     */
    public void injectFault(Domain d, String reason) {
        machine.enter(null);
        try {
            if (d.state != Domain.RUNNING) {
                throw new KernelException(E_DEAD_DOMAIN, "injectFault " + d.name + ": it is "
                        + Domain.stateName(d.state));
            }
            Tcb t = d.threads != null ? d.threads : d.faultProxy;
            if (t == null) {
                throw new KernelException(E_ILLEGAL_OPERATION, "injectFault " + d.name
                        + ": it has no threads and no fault endpoint");
            }
            d.crashed = true;
            faultDomain(d, t, Domain.FAULT_INJECTED, new InjectedFault(reason));
            // A crash: nothing of the domain gets further while its supervisor decides. Its
            // threads went on before, and a shell killed at its prompt took the next line
            // typed, ran it and died in it when the supervisor came (the fault storm's lost
            // lines). Each now stops at its next kernel entry (see end); a blocked one stays
            // blocked. None leaves before the domain is killed, as before: the tiers tear a
            // dead incarnation down only once its threads are out, and the native tier broke
            // when they left early.
            for (Tcb x = d.threads; x != null; x = x.domainNext) {
                x.killed = true;
                unbindFastReceiver(x); // no new call reaches it on the fast path
            }
        } finally {
            machine.leave(null);
        }
    }

    /**
     * A reclaimed domain's last fault, as text: the original exception may be of a class of the
     * domain's own, and the kernel log keeps the domain for a while.
     */
    static final class RetiredFault extends RuntimeException {
        private final String text;

        RetiredFault(Throwable cause) {
            super(cause.getMessage(), null, false, false);
            text = cause.toString();
        }

        @Override
        public String toString() {
            return text;
        }
    }

    /** The cause recorded for an injected crash. */
    public static final class InjectedFault extends RuntimeException {
        InjectedFault(String reason) {
            super(reason, null, false, false);
        }
    }

    public void killDomainNow(Domain d) {
        machine.enter(null);
        try {
            killDomain(d);
            if (uni && current == null) {
                reschedule(); // an idle uniprocessor runs the threads this woke, as startThread does
            }
        } finally {
            machine.leave(null);
        }
    }

    // ---- the kernel log (init's klogd drains it into the log server) ----

    /** Signals {@code n} whenever the kernel log gets a record (boot interface; null: nobody). */
    public void setLogReader(Notification n) {
        machine.enter(null);
        try {
            klog.reader = n;
        } finally {
            machine.leave(null);
        }
    }

    /** The sequence number the next kernel log record will get. */
    public long logWritten() {
        machine.enter(null);
        try {
            return klog.written();
        } finally {
            machine.leave(null);
        }
    }

    /** The oldest kernel log record still held. */
    public long logFirst() {
        machine.enter(null);
        try {
            return klog.first();
        } finally {
            machine.leave(null);
        }
    }

    /**
     * Kernel log record {@code seq} as text (with the kernel's time in ms), or null if it was
     * overwritten or is not written yet. Names are read now, from the domain the record is about.
     */
    public String logRecord(long seq) {
        long time, a, b;
        int kind;
        Domain d;
        machine.enter(null);
        try {
            if (seq < klog.first() || seq >= klog.written()) {
                return null;
            }
            time = klog.time(seq);
            kind = klog.kind(seq);
            a = klog.a(seq);
            b = klog.b(seq);
            d = klog.subject(seq);
        } finally {
            machine.leave(null);
        }
        // Formatted outside the lock: names and causes are read racily, which text may.
        String text = switch (kind) {
            case KernelLog.DOMAIN_CREATED -> domainText(d) + " created";
            case KernelLog.DOMAIN_FAULTED -> {
                Throwable cause = d.lastFault;
                yield domainText(d) + " faulted in thread " + d.lastFaultThread + " ("
                        + (b == Domain.FAULT_INJECTED ? "injected: " + (cause == null ? "" : cause.getMessage())
                        : cause == null ? "fault" : cause.toString()) + ")";
            }
            case KernelLog.DOMAIN_KILLED -> domainText(d) + " killed" + (b != 0 ? ", to be restarted" : "");
            case KernelLog.ENDPOINT_REBOUND -> "endpoint " + a + " now served by " + domainText(d);
            case KernelLog.RESTART_ABANDONED -> domainText(d) + ": restart abandoned";
            case KernelLog.DOMAIN_RECLAIMED -> domainText(d) + " reclaimed: its id is free";
            default -> "event " + kind + " " + a + " " + b;
        };
        return "[" + time / 1_000_000 + "." + String.format(java.util.Locale.ROOT, "%03d", time / 1000 % 1000) + " ms] " + text;
    }

    private static String domainText(Domain d) {
        return "domain " + d.id + " (" + d.name + ")";
    }

    // ---- introspection (for the shell, tests and benchmarks) ----

    public Domain domain(int id) {
        Domain d = domains.get(id);
        return d.live ? d : null;
    }

    /**
     * The domains holding an id now, in id order, taken under the kernel lock: a domain being
     * created is not in it half-made.
     */
    public java.util.List<Domain> liveDomains() {
        machine.enter(null);
        try {
            java.util.List<Domain> out = new java.util.ArrayList<>();
            for (int i = 0; i < domains.capacity(); i++) {
                Domain d = domains.get(i);
                if (d.live) {
                    out.add(d);
                }
            }
            return out;
        } finally {
            machine.leave(null);
        }
    }

    public int domainCapacity() {
        return domains.capacity();
    }

    /** Threads of a domain, newest first. */
    public java.util.List<Tcb> threadsOf(Domain d) {
        machine.enter(null);
        try {
            java.util.List<Tcb> out = new java.util.ArrayList<>();
            for (Tcb t = d.threads; t != null; t = t.domainNext) {
                out.add(t);
            }
            return out;
        } finally {
            machine.leave(null);
        }
    }

    // ---- calls' ages, for a watchdog (host side) ----

    /**
     * Advances the service clock to now and returns its new value: calls that begin serving
     * from here on are stamped with it. The clock's resolution is how often this is called: a
     * call stamped {@code t} began at {@code t} or later, but before the next advance. Its
     * values are ns since the kernel started, plus 1 (never 0), and only grow. Host side, one
     * caller (the watchdog); no lock.
     */
    public long advanceServiceClock() {
        long now = Math.max(serviceClock, machine.now() - serviceOrigin + 1);
        serviceClock = now;
        return now;
    }

    /**
     * The service-clock stamp of the oldest call that {@code d}'s code is serving now, or 0 if
     * it serves none: over its own threads that took a call needing a reply and have not
     * answered it yet, and over every thread (its own or a caller's) inside a passive call into
     * it. Read racily, without the kernel lock: a snapshot for a watchdog, not an invariant.
     */
    public long oldestCallStart(Domain d) {
        long oldest = 0;
        for (int i = 0; i < threads.capacity(); i++) {
            Tcb t = threads.get(i);
            long start = t.serviceStart;
            if (start != 0 && t.live && t.current == d && (oldest == 0 || start < oldest)) {
                oldest = start;
            }
        }
        return oldest;
    }

    /**
     * Threads inside a passive call into a domain that is dead now (which may be reclaimed
     * already: its callers do not keep it): a handler killed under its caller that has not
     * returned. In the vm tier one that never makes a system call cannot be stopped, and holds
     * its caller's thread until it ends.
     */
    public java.util.List<Tcb> callersInDeadDomains() {
        machine.enter(null);
        try {
            java.util.List<Tcb> out = new java.util.ArrayList<>();
            for (int i = 0; i < threads.capacity(); i++) {
                Tcb t = threads.get(i);
                Domain in = t.current;
                if (t.live && in != null && in != t.domain && in.state == Domain.DEAD && t.proxyOf == null) {
                    out.add(t);
                }
            }
            return out;
        } finally {
            machine.leave(null);
        }
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
