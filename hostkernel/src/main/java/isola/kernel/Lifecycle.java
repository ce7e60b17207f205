package isola.kernel;

import static isola.kernel.Status.*;

import java.util.ArrayList;
import java.util.List;

/**
 * Domains and threads from creation to reclamation (seL4's {@code tcb.c} and Zircon's process
 * dispatcher): creating them, serving endpoints, killing (for good or for a restart), a thread's
 * exit, and freeing a dead domain's id once nothing can reach it.
 */
final class Lifecycle {
    private final Kernel k;
    private final Scheduling sched;
    private final Capabilities caps;

    Lifecycle(Kernel k) {
        this.k = k;
        this.sched = k.sched;
        this.caps = k.caps;
    }

    // ---- creation (boot interface, lock held) ---------------------------------------------

    @LockHeld
    Domain createDomain(String name, int slots, int quota) {
        if (slots <= 0 || quota < 0) {
            throw new KernelException(E_INVALID_ARG,
                    "createDomain " + name + ": slots " + slots + " and quota " + quota + " must be positive");
        }
        Domain d = k.domains.allocate();
        if (d == null) {
            throw new KernelException(E_NO_MEMORY, "createDomain " + name + ": all "
                    + k.domains.capacity() + " domains are in use");
        }
        isola.kernel.mem.AddressSpace vspace = k.memory.newAddressSpace();
        if (vspace == null) {
            k.domains.release(d);
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
        k.klog(KernelLog.DOMAIN_CREATED, d.id, 0, d);
        return d;
    }

    @LockHeld
    Tcb createThread(Domain d, String name, int priority) {
        if (priority < 0 || priority >= Scheduler.PRIORITIES) {
            throw new KernelException(E_INVALID_ARG, "createThread " + name + ": priority "
                    + priority + " is outside 0.." + (Scheduler.PRIORITIES - 1));
        }
        if (d.state == Domain.DEAD) {
            throw new KernelException(E_DEAD_DOMAIN, "createThread " + name + ": domain "
                    + d.name + " is dead");
        }
        Tcb t = newTcb(name, d, priority);
        t.domainNext = d.threads;
        d.threads = t;
        d.threadCount++;
        return t;
    }

    /** A fresh inactive Tcb with its reply object and UTCB, in no domain's thread list yet. */
    @LockHeld
    Tcb newTcb(String name, Domain d, int priority) {
        Tcb t = k.threads.allocate();
        Reply rep = t == null ? null : k.replies.allocate();
        if (t == null || rep == null) {
            if (t != null) {
                k.threads.release(t);
            }
            throw new KernelException(E_NO_MEMORY, "createThread " + name + ": out of "
                    + (t == null ? "threads" : "reply objects"));
        }
        if (t.utcb == null) {
            t.utcb = Utcb.allocate(k.utcbArena);
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
        t.timeslice = k.config.timesliceNs();
        t.sliceLeft = t.timeslice;
        t.runner = null;
        t.sdk = null;
        t.translator = null; // its MMUs went with the thread that had the Tcb before
        return t;
    }

    @LockHeld
    void startThread(Tcb t) {
        if (t.state != Tcb.INACTIVE) {
            throw new KernelException(E_INVALID_ARG, "startThread " + t.name + ": not inactive but "
                    + Tcb.stateName(t.state));
        }
        t.state = Tcb.RUNNING;
        sched.started(t);
    }

    // ---- serving ------------------------------------------------------------------------------

    /** See {@link Kernel#serve}. */
    @LockHeld
    int serve(Tcb self, int slot, PassiveEntry entry) {
        Cap c = caps.lookup(self, slot, ObjectType.ENDPOINT, Rights.RECV);
        if (c == null) {
            return self.error;
        }
        if (self.current.state == Domain.DEAD) {
            return self.fail(E_DEAD_DOMAIN, slot); // a passive call still inside a killed domain
        }
        Endpoint ep = (Endpoint) c.object;
        if (entry != null && (ep.fastReceiver != null || !ep.receivers.isEmpty())) {
            return self.fail(E_ILLEGAL_OPERATION, slot); // threads wait on it: it is served actively
        }
        ep.server = self.current;
        ep.passive = entry == null ? null : new Endpoint.Passive(self.current, entry);
        if (entry != null) {
            // Callers that queued while the server was restarting now call passively.
            sched.failQueue(ep.senders, Kernel.REQUEUE);
            ep.sendersChanged();
        }
        return OK;
    }

    @LockHeld
    void bindPassive(Endpoint ep, Domain d, PassiveEntry entry) {
        if (ep.fastReceiver != null || !ep.receivers.isEmpty()) {
            throw new KernelException(E_ILLEGAL_OPERATION, "bindPassive " + ep + " to " + d.name
                    + ": threads receive on it");
        }
        ep.server = d;
        ep.passive = new Endpoint.Passive(d, entry);
    }

    /** See {@link Kernel#rebindEndpoint}. */
    @LockHeld
    void rebindEndpoint(Endpoint ep, Domain d) {
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
        k.klog(KernelLog.ENDPOINT_REBOUND, ep.id, d.id, d);
        if (old != d) {
            reclaimIfUnreachable(old);
        }
    }

    /** The pool index of the next live endpoint from {@code from} that {@code d} serves, or -1. */
    @LockHeld
    int servedBy(Domain d, int from) {
        for (int i = from; i < k.endpoints.capacity(); i++) {
            Endpoint ep = k.endpoints.get(i);
            if (ep.live && ep.server == d) {
                return i;
            }
        }
        return -1;
    }

    /** Fails every sender waiting on the endpoints {@code d} serves with {@code status}. */
    @LockHeld
    void failWaiting(Domain d, int status) {
        for (int i = servedBy(d, 0); i >= 0; i = servedBy(d, i + 1)) {
            Endpoint ep = k.endpoints.get(i);
            sched.failQueue(ep.senders, status);
            ep.sendersChanged();
        }
    }

    // ---- death ----------------------------------------------------------------------------

    /**
     * Kills a domain: its threads unwind with E_KILLED, callers it was serving get
     * E_DEAD_DOMAIN (E_RESTARTED if it is being restarted), its capabilities are deleted.
     * Senders queued on the endpoints it serves get E_DEAD_DOMAIN too, unless it is being
     * restarted: then they wait for the next incarnation.
     */
    @LockHeld
    void killDomain(Domain d) {
        assert k.lockHeld();
        if (d.state == Domain.DEAD) {
            return;
        }
        d.state = Domain.DEAD;
        int callerStatus = d.downStatus();
        k.klog(KernelLog.DOMAIN_KILLED, d.id, d.restarting ? 1 : 0, d);
        for (Tcb t = d.threads; t != null; t = t.domainNext) {
            t.killed = true;
            caps.failCaller(t.reply, callerStatus);
            // Unbind before claiming: a fast receiver re-arming meanwhile then either sees itself
            // unbound (and takes the slow path) or is armed when we claim it; else it could wait forever.
            FastPath.unbindFastReceiver(t);
            if (Utcb.claimAny(t.utcb)) {
                sched.cancelBlock(t);
                sched.wakeClaimed(t, E_KILLED);
            }
        }
        if (callerStatus != E_RESTARTED) {
            failWaiting(d, callerStatus);
        }
        Tcb proxy = d.faultProxy;
        if (proxy != null && d.faultPending && Utcb.claimAny(proxy.utcb)) {
            sched.cancelBlock(proxy);
            Utcb.release(proxy.utcb);
        }
        d.faultPending = false;
        if (d.faultCap != null) {
            Cap fc = d.faultCap;
            d.faultCap = null;
            caps.release(fc.object, E_DELETED);
        }
        if (d.pagerCap != null) {
            Cap pc = d.pagerCap;
            d.pagerCap = null;
            caps.release(pc.object, E_DELETED);
        }
        k.memory.teardown(d); // its mappings first: a frame whose last capability goes next is free then
        for (CapSlot s : d.cspace.slots) {
            caps.deleteSlot(s, E_DEAD_DOMAIN);
        }
        reclaimIfUnreachable(d);
    }

    /** The supervisor gave up on {@code d}: calls waiting on its endpoints get E_DEAD_DOMAIN. */
    @LockHeld
    void abandonRestart(Domain d) {
        d.restarting = false;
        k.klog(KernelLog.RESTART_ABANDONED, d.id, 0, d);
        if (d.state == Domain.DEAD) {
            failWaiting(d, E_DEAD_DOMAIN);
        }
        sched.rescheduleIfIdle();
    }

    /**
     * Frees a dead domain's id once nothing can reach the domain any more: no thread of its own
     * is left and it serves no endpoint (a supervisor rebound them, or they were deleted). A
     * domain left dead on its endpoints (restart = never, or given up) keeps its id, so callers
     * still learn it is dead. The Domain object is retired, not reused ({@link ObjectPool#retire}).
     */
    @LockHeld
    void reclaimIfUnreachable(Domain d) {
        if (d == null || !d.live || d.state != Domain.DEAD || d.threadCount != 0 || servedBy(d, 0) >= 0) {
            return;
        }
        Tcb proxy = d.faultProxy;
        if (proxy != null) {
            // A reply to a fault it sent finds its wait claimed or of an older generation.
            d.faultProxy = null;
            proxy.state = Tcb.DEAD;
            k.replies.release(proxy.reply);
            proxy.reply = null;
            k.threads.release(proxy);
        }
        d.backend = null; // its class loader can go: drop what still refers to it
        d.lastFault = d.lastFault == null ? null : new RetiredFault(d.lastFault);
        k.klog(KernelLog.DOMAIN_RECLAIMED, d.id, 0, d);
        k.domains.retire(d);
    }

    /** See {@link Kernel#threadExit}. */
    void threadExit(Tcb self) {
        sched.begin(self, Trace.OP_EXIT, 0);
        // A killed server can still have taken a fast call after the kill: that caller, too,
        // learns that the server's domain died.
        caps.failCaller(self.reply, self.killed ? self.domain.downStatus() : E_DELETED);
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
        FastPath.unbindFastReceiver(self);
        self.state = Tcb.DEAD;
        sched.exited(self);
        k.replies.release(self.reply);
        self.reply = null;
        k.memory.forget(self);
        k.threads.release(self);
        sched.end(self, OK);
    }

    // ---- introspection ------------------------------------------------------------------------

    /** See {@link Kernel#liveDomains}. */
    @LockHeld
    List<Domain> liveDomains() {
        List<Domain> out = new ArrayList<>();
        for (int i = 0; i < k.domains.capacity(); i++) {
            Domain d = k.domains.get(i);
            if (d.live) {
                out.add(d);
            }
        }
        return out;
    }

    @LockHeld
    List<Tcb> threadsOf(Domain d) {
        List<Tcb> out = new ArrayList<>();
        for (Tcb t = d.threads; t != null; t = t.domainNext) {
            out.add(t);
        }
        return out;
    }

    /** See {@link Kernel#oldestCallStart}: racy, without the lock. */
    long oldestCallStart(Domain d) {
        long oldest = 0;
        for (int i = 0; i < k.threads.capacity(); i++) {
            Tcb t = k.threads.get(i);
            long start = t.serviceStart;
            if (start != 0 && t.live && t.current == d && (oldest == 0 || start < oldest)) {
                oldest = start;
            }
        }
        return oldest;
    }

    /** See {@link Kernel#callersInDeadDomains}. */
    @LockHeld
    List<Tcb> callersInDeadDomains() {
        List<Tcb> out = new ArrayList<>();
        for (int i = 0; i < k.threads.capacity(); i++) {
            Tcb t = k.threads.get(i);
            Domain in = t.current;
            if (t.live && in != null && in != t.domain && in.state == Domain.DEAD && t.proxyOf == null) {
                out.add(t);
            }
        }
        return out;
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
}
