package isola.kernel;

import static isola.kernel.Status.*;

import java.lang.foreign.MemorySegment;

/**
 * Synchronous IPC under the kernel lock (seL4's {@code endpoint.c}): everything the fast path
 * ({@link FastPath}) leaves: timeouts, queued senders and receivers, one-way sends, capability
 * transfer, replies to saved reply capabilities and to fault messages, servers that are down.
 * Each entry decodes and checks the whole request first, and changes nothing if it fails.
 */
final class IpcSlowPath {
    private final Kernel k;
    private final Scheduling sched;
    private final Capabilities caps;
    private final FastPath fastPath;

    IpcSlowPath(Kernel k) {
        this.k = k;
        this.sched = k.sched;
        this.caps = k.caps;
        this.fastPath = k.fastPath;
    }

    // ---- entries ----------------------------------------------------------------------------

    int call(Tcb self, int slot, long tag, long timeout) {
        int r;
        do {
            do {
                r = sched.begin(self, Trace.OP_CALL, slot);
                r = sched.end(self, r != OK ? r : send(self, slot, tag, timeout, true));
            } while (r == Kernel.REQUEUE);
            if (r == Kernel.PASSIVE) {
                r = fastPath.passiveCall(self, self.pendingCap, tag, slot); // MISS: unbound meanwhile, so again
            }
        } while (r == Kernel.MISS);
        return r;
    }

    int send(Tcb self, int slot, long tag, long timeout) {
        int r;
        do {
            r = sched.begin(self, Trace.OP_SEND, slot);
            r = sched.end(self, r != OK ? r : send(self, slot, tag, timeout, false));
        } while (r == Kernel.REQUEUE);
        return r;
    }

    int recv(Tcb self, int slot, long timeout) {
        self.serviceStart = 0; // a receive ends the service of any call taken before
        int r = sched.begin(self, Trace.OP_RECV, slot);
        return fastPath.served(self, sched.end(self, r != OK ? r : recvLocked(self, slot, timeout)));
    }

    int reply(Tcb self, long tag) {
        self.serviceStart = 0;
        int r = sched.begin(self, Trace.OP_REPLY, -1);
        return sched.end(self, r != OK ? r : reply(self, self.reply, tag, -1));
    }

    int replyTo(Tcb self, int slot, long tag) {
        int r = sched.begin(self, Trace.OP_REPLY, slot);
        if (r == OK) {
            Cap c = caps.lookup(self, slot, ObjectType.REPLY, Rights.SEND);
            r = c == null ? self.error : reply(self, (Reply) c.object, tag, slot);
            if (c != null && r == OK) {
                caps.deleteSlot(self.current.cspace.slots[slot], E_NO_REPLY);
            }
        }
        return sched.end(self, r);
    }

    /** The slow half of {@link Kernel#replyRecv}: reply to the bound caller, if any, then receive. */
    int replyRecv(Tcb self, int slot, long tag, long timeout) {
        int r = sched.begin(self, Trace.OP_REPLY_RECV, slot);
        if (r == OK && self.reply.caller() != null) {
            r = reply(self, self.reply, tag, -1);
        }
        if (r == OK) {
            r = recvLocked(self, slot, timeout);
        }
        return fastPath.served(self, sched.end(self, r));
    }

    int saveReply(Tcb self, int dst) {
        self.serviceStart = 0; // the call waits in a saved reply now, not on this thread
        int r = sched.begin(self, Trace.OP_SAVE_REPLY, dst);
        return sched.end(self, r != OK ? r : saveReplyLocked(self, dst));
    }

    // ---- sending (lock held) ------------------------------------------------------------------

    @LockHeld
    private int send(Tcb self, int slot, long tag, long timeout, boolean call) {
        Cap c = caps.lookup(self, slot, ObjectType.ENDPOINT, Rights.SEND);
        if (c == null) {
            return self.error;
        }
        return sendThrough(self, c, slot, tag, timeout, call);
    }

    /**
     * Sends through a capability the kernel holds ({@code slot}: for error reports; -1 for the
     * kernel's own, a pager's). Returns OK, an error, BLOCKED (the caller waits), or PASSIVE
     * (the endpoint is served passively: {@code self.pendingCap} is set for the call).
     */
    @LockHeld
    int sendThrough(Tcb self, Cap c, int slot, long tag, long timeout, boolean call) {
        assert k.lockHeld();
        int st = checkMessage(self, tag, (c.rights & Rights.GRANT) != 0, slot);
        if (st != OK) {
            return st;
        }
        Endpoint ep = (Endpoint) c.object;
        Domain server = ep.server;
        if (server != null && server.state != Domain.RUNNING) {
            int down = server.downStatus();
            if (down != E_RESTARTED || timeout == Kernel.POLL) {
                return self.fail(down, slot);
            }
            // The server is coming back (its supervisor is restarting it, or deciding to): the
            // message waits in the endpoint's queue for the next incarnation. Only a call the
            // server had already taken fails, with E_RESTARTED.
            queueSender(ep, self, c, tag, call, slot, timeout);
            return Kernel.BLOCKED;
        }
        if (ep.passive != null) {
            if (!call || Tag.caps(tag) != 0) {
                // A passive server has no thread to take a one-way message or capabilities.
                return self.fail(E_ILLEGAL_OPERATION, slot);
            }
            self.pendingCap = c;
            k.trace(Trace.PASSIVE, self.id, server.id);
            return Kernel.PASSIVE;
        }
        Tcb r = ep.hasSenders ? null : takeReceiver(ep);
        if (r != null) {
            transfer(self, c, tag, r, true);
            if (call) {
                long gen = sched.block(self, Tcb.BLOCKED_REPLY, r.reply, slot, timeout, Utcb.WAIT_OTHER, 0);
                r.reply.bind(self, gen);
            }
            sched.wakeClaimed(r, OK);
            return call ? Kernel.BLOCKED : OK;
        }
        if (timeout == Kernel.POLL) {
            return self.fail(E_WOULD_BLOCK, slot);
        }
        queueSender(ep, self, c, tag, call, slot, timeout);
        return Kernel.BLOCKED;
    }

    /**
     * Blocks {@code t} in the endpoint's senders queue. Then re-checks the bound receiver: it
     * may have armed after the caller looked, and it checks {@code hasSenders} only after
     * arming, so one of the two sees the other ({@link FastPath#claimBoundAfterQueueing}). If
     * it is there, it takes the queue's head.
     */
    @LockHeld
    void queueSender(Endpoint ep, Tcb t, Cap via, long tag, boolean call, int slot, long timeout) {
        assert k.lockHeld();
        t.pendingCap = via;
        t.pendingTag = tag;
        t.pendingCall = call;
        sched.block(t, Tcb.BLOCKED_SEND, ep, slot, timeout, Utcb.WAIT_OTHER, 0);
        k.machine.preempt(); // the bound receiver may re-arm after the caller found it busy
        ep.senders.addByPriority(t);
        ep.sendersChanged();
        Tcb fr = FastPath.claimBoundAfterQueueing(ep);
        if (fr != null) {
            Tcb s = ep.senders.pollFirst();
            ep.sendersChanged();
            receiveFrom(fr, s);
            sched.wakeClaimed(fr, OK);
        }
    }

    /** Validates a message before anything changes: length, cap count, grant right, cap slots. */
    @LockHeld
    private int checkMessage(Tcb self, long tag, boolean mayGrant, int slot) {
        int len = Tag.length(tag);
        if (len > Utcb.MESSAGE_REGISTERS) {
            return self.fail(E_MSG_TOO_LONG, len);
        }
        int n = Tag.caps(tag);
        if (n == 0) {
            return OK;
        }
        if (n > Utcb.MAX_CAPS) {
            return self.fail(E_INVALID_ARG, n);
        }
        if (!mayGrant) {
            return self.fail(E_NO_RIGHTS, slot);
        }
        for (int i = 0; i < n; i++) {
            int s = Utcb.capSlot(self.utcb, i);
            Cap c = caps.lookup(self, s, 0, 0);
            if (c == null) {
                return self.error;
            }
            if (c.type == ObjectType.REPLY) {
                return self.fail(E_ILLEGAL_OPERATION, s);
            }
        }
        return OK;
    }

    /**
     * Copies a message into the receiver's registers and moves capabilities into its receive
     * window, each a child of the sender's in the derivation tree. Capabilities that do not fit
     * (no window, window full or out of range) are not transferred; the tag says how many were.
     */
    @LockHeld
    void transfer(Tcb from, Cap via, long tag, Tcb to, boolean grant) {
        assert k.lockHeld();
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
                caps.install(ds, src[s], c);
                Utcb.setCapSlot(tu, moved, (int) d);
                moved++;
            }
        }
        Utcb.setTag(tu, Tag.withCaps(tag, moved));
        Utcb.setBadge(tu, via == null ? 0 : via.badge);
    }

    // ---- receiving (lock held) ----------------------------------------------------------------

    @LockHeld
    private int recvLocked(Tcb self, int slot, long timeout) {
        Cap c = caps.lookup(self, slot, ObjectType.ENDPOINT, Rights.RECV);
        if (c == null) {
            return self.error;
        }
        Endpoint ep = (Endpoint) c.object;
        if (ep.passive != null) {
            return self.fail(E_ILLEGAL_OPERATION, slot);
        }
        // A faulted domain's threads take no queued message until its fault handler resumes it.
        if (!ep.senders.isEmpty() && self.current.state == Domain.RUNNING) {
            Tcb s = ep.senders.pollFirst();
            ep.sendersChanged();
            receiveFrom(self, s);
            return OK;
        }
        if (timeout == Kernel.POLL) {
            return self.fail(E_WOULD_BLOCK, slot);
        }
        if (k.fast && timeout == Kernel.FOREVER && FastPath.bindFastReceiver(self, ep)) {
            // Bound: fast senders claim it without the lock. No sender can queue meanwhile
            // (that needs the lock), so there is nothing to re-check.
            sched.block(self, Tcb.BLOCKED_RECV, ep, slot, timeout, Utcb.WAIT_RECV_FAST, ep.id);
            return Kernel.BLOCKED;
        }
        sched.block(self, Tcb.BLOCKED_RECV, ep, slot, timeout, Utcb.WAIT_RECV, ep.id);
        ep.receivers.addByPriority(self);
        return Kernel.BLOCKED;
    }

    /**
     * Delivers a queued sender's message to the receiver {@code self} (claimed or running); a
     * caller stays blocked, now waiting for the reply.
     */
    @LockHeld
    void receiveFrom(Tcb self, Tcb s) {
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
            sched.wakeClaimed(s, OK);
        }
    }

    /** Finds a waiting receiver (the bound one first, then the queue) and claims it; null if none. */
    @LockHeld
    Tcb takeReceiver(Endpoint ep) {
        assert k.lockHeld();
        Tcb r = ep.fastReceiver;
        if (r != null && Utcb.claimReceiver(r.utcb, ep.id, Utcb.WAIT_RECV_FAST)) {
            r.blockedOn = null;
            return r;
        }
        while (!ep.receivers.isEmpty()) {
            r = ep.receivers.pollFirst();
            if (Utcb.claimReceiver(r.utcb, ep.id, Utcb.WAIT_RECV)) {
                k.timers.remove(r);
                r.blockedOn = null;
                return r;
            }
        }
        return null;
    }

    /** Hands the messages queued while the endpoint's server was down to its waiting threads. */
    @LockHeld
    void deliverHeld(Endpoint ep) {
        if (ep.passive != null) {
            sched.failQueue(ep.senders, Kernel.REQUEUE);
        } else {
            Tcb r;
            while (!ep.senders.isEmpty() && (r = takeReceiver(ep)) != null) {
                receiveFrom(r, ep.senders.pollFirst());
                sched.wakeClaimed(r, OK);
            }
        }
        ep.sendersChanged();
    }

    // ---- replying (lock held) -----------------------------------------------------------------

    @LockHeld
    private int reply(Tcb self, Reply rep, long tag, int slot) {
        long binding = rep.binding();
        if (binding == 0) {
            return self.fail(E_NO_REPLY, slot);
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
            k.faults.faultAnswered(caller.proxyOf, Tag.label(tag));
            return OK;
        }
        transfer(self, null, tag, caller, true);
        sched.wakeClaimed(caller, OK);
        return OK;
    }

    @LockHeld
    private int saveReplyLocked(Tcb self, int dst) {
        CapSlot d = caps.emptySlot(self, dst);
        if (d == null) {
            return self.error;
        }
        Reply rep = self.reply;
        if (rep.caller() == null) {
            return self.fail(E_NO_REPLY, dst);
        }
        Reply fresh = k.replies.allocate();
        if (fresh == null) {
            return self.fail(E_NO_MEMORY, ObjectType.REPLY);
        }
        rep.detach();
        fresh.attach(self);
        self.reply = fresh;
        caps.install(d, null, Cap.of(rep, Rights.SEND | Rights.GRANT, 0));
        return OK;
    }
}
