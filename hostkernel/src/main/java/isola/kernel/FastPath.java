package isola.kernel;

import static isola.kernel.Status.*;

import isola.kernel.machine.Machine;
import java.lang.foreign.MemorySegment;

/**
 * The lock-free IPC paths, in the seL4 manner ({@code fastpath.c}): a run of guards, a single
 * CAS that is the point of no return, then the state change. {@link #call} and
 * {@link #replyRecv} handle the common case of a call to a bound receiver and a server's loop;
 * anything else returns {@link Kernel#MISS} having changed nothing, and the slow path
 * ({@link IpcSlowPath}) takes it under the kernel lock. A passive call ({@link #passiveCall})
 * takes no lock at all: it runs the server's handler on the caller's thread.
 *
 * <p>Invariants the slow paths rely on:
 * <ul>
 *   <li>only an endpoint's {@code fastReceiver}'s wake word moves between "armed to receive
 *       here" and "claimed by a sender" without the lock; queues change only under it;
 *   <li>every wake-up of a blocked thread claims its wake word first ({@link Utcb}), so exactly
 *       one of a reply, a timeout and a kill delivers to a given wait;
 *   <li>a re-arming receiver and a sender queueing under the lock never miss each other: see
 *       {@link #armToReceive} and {@link #claimBoundAfterQueueing}, the two halves of that
 *       handshake.
 * </ul>
 * Nothing here allocates, locks or logs.
 */
final class FastPath {
    /** How long a fast call waits for a bound receiver that is busy (it is about to re-arm). */
    static final long RECEIVER_SPIN_NS = 2_000;

    private final Kernel k;
    private final Machine machine;

    /**
     * The service clock: what a thread's {@link Tcb#serviceStart} is stamped with when it
     * begins serving a call. A coarse clock, advanced only by whoever watches calls' ages (the
     * supervisor's watchdog, {@link Kernel#advanceServiceClock}), so the IPC paths stamp a call
     * with a plain load and store instead of reading the time. Never 0 (0 means "not serving").
     */
    long serviceClock = 1;

    FastPath(Kernel k) {
        this.k = k;
        this.machine = k.machine;
    }

    /**
     * The guards on the capability and the message: an endpoint capability with {@code right},
     * a tag without capabilities that fits the registers, a live thread. Null sends the call to
     * the slow path, which reports any error.
     */
    static Cap endpointCap(Tcb self, int slot, int right, long tag) {
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

    /** A call to the endpoint's bound receiver, or a passive call; MISS: take the slow path. */
    int call(Tcb self, int slot, long tag) {
        Cap c = endpointCap(self, slot, Rights.SEND, tag);
        if (c == null) {
            return Kernel.MISS;
        }
        Endpoint ep = (Endpoint) c.object;
        Domain server = ep.server;
        if (server != null && server.state != Domain.RUNNING) {
            return Kernel.MISS;
        }
        if (ep.passive != null) {
            return passiveCall(self, c, tag, slot);
        }
        Tcb r = ep.fastReceiver;
        if (r == null || ep.hasSenders) {
            return Kernel.MISS; // no bound receiver, or queued senders come first
        }
        MemorySegment su = self.utcb;
        MemorySegment ru = r.utcb;
        long gen = Utcb.arm(su, Utcb.WAIT_OTHER, 0);
        if (!claimReceiverSpinning(ru, ep)) {
            Utcb.disarm(su);
            return Kernel.MISS;
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

    /** A bound receiver answers its caller and waits for the next call; MISS: the slow path. */
    int replyRecv(Tcb self, int slot, long tag) {
        Cap c = endpointCap(self, slot, Rights.RECV, tag);
        if (c == null) {
            return Kernel.MISS;
        }
        Endpoint ep = (Endpoint) c.object;
        Reply rep = self.reply;
        long binding = rep.binding();
        Tcb caller = binding == 0 ? null : rep.caller(binding);
        if (ep.passive != null || ep.fastReceiver != self || ep.hasSenders
                || (caller != null && caller.proxyOf != null)) {
            return Kernel.MISS; // binding, queued senders and fault replies are the slow path's
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
        if (!armToReceive(machine, self, ep)) {
            return k.recv(self, slot, Kernel.FOREVER);
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

    // ---- the handshake between a re-arming receiver and a queueing sender -----------------

    /**
     * The receiver's half: {@code self}, bound to {@code ep}, arms its wake word to receive
     * there, fences, then re-checks for senders that queued under the lock. False: it withdrew
     * its arm (senders wait, or it is no longer bound) and must receive on the slow path. True:
     * it is armed, or already claimed by a sender; either way it waits for its wake-up.
     *
     * <p>Why nothing is lost: a sender queues (setting {@code hasSenders}) and then looks for
     * an armed bound receiver ({@link #claimBoundAfterQueueing}). Arm-then-read here and
     * write-then-claim there, each ordered by a volatile access, mean that at least one side
     * sees the other: the receiver withdraws, or the sender claims it, or both try and the CAS
     * on the wake word lets exactly one win. {@code machine}: {@link Machine#preempt} before
     * the arm (a sender queues and finds the receiver busy: only the re-check sees it) and
     * between the arm and the re-check (the sender claims it, or both race), where a simulated
     * machine lets a sender in.
     */
    static boolean armToReceive(Machine machine, Tcb self, Endpoint ep) {
        MemorySegment su = self.utcb;
        machine.preempt();
        Utcb.armVolatile(su, Utcb.WAIT_RECV_FAST, ep.id);
        machine.preempt();
        return !((ep.hasSenders || ep.fastReceiver != self) && Utcb.withdraw(su));
    }

    /**
     * The sender's half, lock held, after it queued on {@code ep} ({@link Endpoint#sendersChanged}):
     * claims the endpoint's bound receiver if it is armed to receive there, so that the caller
     * hands it the head of the queue. Null if there is none or it is busy (it will see the
     * queue when it re-arms: {@link #armToReceive}).
     */
    @LockHeld
    static Tcb claimBoundAfterQueueing(Endpoint ep) {
        Tcb fr = ep.fastReceiver;
        if (fr != null && fr.current.state == Domain.RUNNING
                && Utcb.claimReceiver(fr.utcb, ep.id, Utcb.WAIT_RECV_FAST)) {
            return fr;
        }
        return null;
    }

    /** Makes {@code t} the endpoint's sticky fast receiver unless another thread is. */
    @LockHeld
    static boolean bindFastReceiver(Tcb t, Endpoint ep) {
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

    /** {@code t} is no longer any endpoint's fast receiver: new fast calls do not reach it. */
    @LockHeld
    static void unbindFastReceiver(Tcb t) {
        Endpoint old = t.fastEp;
        if (old != null) {
            Endpoint.FAST_RECEIVER.compareAndSet(old, t, (Tcb) null);
            t.fastEp = null;
        }
    }

    // ---- passive calls ------------------------------------------------------------------------

    /**
     * Runs a passive server's handler on the calling thread inside the server's domain. MISS if
     * the endpoint was unbound since the caller found it passive (its server is being
     * restarted): the call has not started, and takes the slow path, which queues it for the
     * next incarnation.
     */
    int passiveCall(Tcb self, Cap c, long tag, int slot) {
        Endpoint ep = (Endpoint) c.object;
        Endpoint.Passive p = ep.passive; // the domain and its entry as they were bound: one read
        if (p == null) {
            return Kernel.MISS;
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
            return k.faults.passiveFault(self, server, t, slot);
        }
        self.current = saved;
        self.serviceStart = outerStart;
        if (server.state == Domain.DEAD) {
            // Killed under the call (its watchdog, say) and the handler came back anyway: the
            // answer of a dead incarnation is not delivered, as an active server's late reply is not.
            return self.fail(server.downStatus(), slot);
        }
        if ((replyTag & 0xFF00L) != 0 || (replyTag & 0xFFL) > Utcb.MESSAGE_REGISTERS) {
            return k.faults.passiveFault(self, server, new IllegalStateException(
                    "passive handler returned an invalid reply tag 0x" + Long.toHexString(replyTag)), slot);
        }
        Utcb.setTag(u, replyTag);
        return OK;
    }

    /**
     * Stamps {@code self} as serving from now if what it received is a call awaiting its reply.
     * The receiver stamps itself as it returns with the call, so a hand-off still writes only
     * the two threads' UTCBs and the reply object, never the other thread's Tcb.
     */
    int served(Tcb self, int st) {
        if (st == OK && self.reply.binding() != 0) {
            self.serviceStart = serviceClock;
        }
        return st;
    }
}
