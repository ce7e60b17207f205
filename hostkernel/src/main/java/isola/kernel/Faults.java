package isola.kernel;

import static isola.kernel.Status.*;

import java.lang.foreign.MemorySegment;

/**
 * Faults: a thread's uncaught exception, a passive handler's, and a crash injected from outside.
 * The faulting domain is marked FAULTED and its fault endpoint gets a message, sent as a call
 * from the domain's kernel-internal proxy thread; the handler's reply resumes the domain or
 * kills it ({@link #faultAnswered}).
 */
final class Faults {
    private final Kernel k;
    private final Scheduling sched;

    Faults(Kernel k) {
        this.k = k;
        this.sched = k.sched;
    }

    /** See {@link Kernel#threadFault}. */
    int threadFault(Tcb self, Throwable cause) {
        self.serviceStart = 0;
        sched.begin(self, Trace.OP_FAULT, 0);
        k.caps.failCaller(self.reply, E_SERVER_FAULT);
        if (self.killed) {
            return sched.end(self, E_KILLED);
        }
        sched.block(self, Tcb.FAULTED, null, -1, Kernel.FOREVER, Utcb.WAIT_OTHER, 0);
        faultDomain(self.domain, self, Domain.FAULT_THREAD, cause);
        return sched.end(self, Kernel.BLOCKED);
    }

    /** A passive handler running on {@code self} threw {@code cause}: its caller gets E_SERVER_FAULT. */
    int passiveFault(Tcb self, Domain server, Throwable cause, int slot) {
        sched.begin(self, Trace.OP_FAULT, slot);
        if (server.state == Domain.DEAD) {
            // Its domain was killed under the call (a native-tier server's isolate then refuses
            // it): the call fails as a call the dead server had taken does, not as a new fault.
            return sched.end(self, self.fail(server.downStatus(), slot));
        }
        faultDomain(server, self, Domain.FAULT_HANDLER, cause);
        return sched.end(self, self.fail(E_SERVER_FAULT, slot));
    }

    /** See {@link Kernel#injectFault}. */
    @LockHeld
    void inject(Domain d, String reason) {
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
        // lines). Each now stops at its next kernel entry (see Scheduling.end); a blocked one
        // stays blocked. None leaves before the domain is killed, as before: the tiers tear a
        // dead incarnation down only once its threads are out, and the native tier broke
        // when they left early.
        for (Tcb x = d.threads; x != null; x = x.domainNext) {
            x.killed = true;
            FastPath.unbindFastReceiver(x); // no new call reaches it on the fast path
        }
    }

    @LockHeld
    private void faultDomain(Domain d, Tcb t, int kind, Throwable cause) {
        assert k.lockHeld();
        d.faultCount++;
        d.lastFault = cause;
        d.lastFaultThread = t.name;
        k.trace(Trace.FAULT, d.id, t.id);
        k.klog(KernelLog.DOMAIN_FAULTED, d.id, kind, d);
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
        long tag = Tag.of(Domain.FAULT_LABEL, 4);
        Utcb.setTag(u, tag);
        d.faultPending = true;
        Endpoint ep = (Endpoint) d.faultCap.object;
        IpcSlowPath ipc = k.ipc;
        Tcb r = ep.hasSenders ? null : ipc.takeReceiver(ep);
        if (r != null) {
            ipc.transfer(proxy, d.faultCap, tag, r, false);
            long gen = sched.block(proxy, Tcb.BLOCKED_REPLY, r.reply, -1, Kernel.FOREVER, Utcb.WAIT_OTHER, 0);
            r.reply.bind(proxy, gen);
            sched.wakeClaimed(r, OK);
            return;
        }
        ipc.queueSender(ep, proxy, d.faultCap, tag, true, -1, Kernel.FOREVER);
    }

    /** The fault handler replied: resume the domain or kill it. */
    @LockHeld
    void faultAnswered(Domain d, int label) {
        d.faultPending = false;
        if (label != Domain.FAULT_RESUME || d.crashed) { // a crash's threads cannot go on: resuming it is killing it
            k.lifecycle.killDomain(d);
            return;
        }
        if (d.state == Domain.FAULTED) {
            d.state = Domain.RUNNING;
        }
        for (Tcb t = d.threads; t != null; t = t.domainNext) {
            if (t.state == Tcb.FAULTED && Utcb.claimAny(t.utcb)) {
                sched.wakeClaimed(t, OK);
            }
        }
        Lifecycle life = k.lifecycle;
        for (int i = life.servedBy(d, 0); i >= 0; i = life.servedBy(d, i + 1)) {
            k.ipc.deliverHeld(k.endpoints.get(i));
        }
    }

    /** See {@link Kernel#setFaultEndpoint}. */
    @LockHeld
    void setFaultEndpoint(Domain d, Endpoint ep, long badge) {
        if (d.faultProxy == null) {
            Tcb proxy = k.lifecycle.newTcb(d.name + "/fault", d, Scheduler.PRIORITIES - 1);
            proxy.proxyOf = d;
            proxy.state = Tcb.INACTIVE;
            d.faultProxy = proxy;
        }
        if (d.faultCap != null) {
            k.caps.release(d.faultCap.object, E_DELETED);
        }
        d.faultCap = Cap.of(ep, Rights.SEND, badge);
        ep.capCount++;
    }

    /** See {@link Kernel#resumeDomain}. */
    @LockHeld
    void resume(Domain d) {
        if (d.state == Domain.DEAD) {
            throw new KernelException(E_DEAD_DOMAIN, "resumeDomain " + d.name + ": dead");
        }
        if (d.crashed) {
            throw new KernelException(E_ILLEGAL_OPERATION, "resumeDomain " + d.name
                    + ": it was crashed (injectFault), which stops its threads for good: kill it instead");
        }
        faultAnswered(d, Domain.FAULT_RESUME);
        sched.rescheduleIfIdle();
    }

    /** The cause recorded for an injected crash. */
    static final class InjectedFault extends RuntimeException {
        InjectedFault(String reason) {
            super(reason, null, false, false);
        }
    }
}
