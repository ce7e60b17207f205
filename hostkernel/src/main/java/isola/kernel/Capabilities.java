package isola.kernel;

import static isola.kernel.Status.*;

/**
 * Capability spaces and the derivation tree (seL4's {@code cnode.c}): lookup with type and
 * rights checks, copy, mint, move, delete and revoke, and what happens to an object when its
 * last capability goes. A capability is derived only as {@link #derivable} allows, whether a
 * thread mints it or init grants it at boot.
 */
final class Capabilities {
    private final Kernel k;
    private final Scheduling sched;

    Capabilities(Kernel k) {
        this.k = k;
        this.sched = k.sched;
    }

    // ---- decoding: safe without the lock ----------------------------------------------------

    /**
     * Resolves {@code slot} in the thread's current capability space to a capability of
     * {@code type} (0: any) with {@code rights}. On failure returns null with the status in
     * {@code self.error} and the slot in {@code self.errorArg}.
     */
    Cap lookup(Tcb self, int slot, int type, int rights) {
        CapSlot[] slots = self.current.cspace.slots;
        if (slot < 0 || slot >= slots.length) {
            self.fail(E_INVALID_SLOT, slot);
            return null;
        }
        Cap c = slots[slot].cap;
        int st = c == null ? E_EMPTY_SLOT
                : c == Cap.REVOKED ? E_REVOKED
                : type != 0 && c.type != type ? E_WRONG_TYPE
                : (c.rights & rights) != rights ? E_NO_RIGHTS
                : OK;
        if (st != OK) {
            self.fail(st, slot);
            return null;
        }
        return c;
    }

    /** The empty (or revoked) slot {@code dst} of the thread's capability space; null with the error in self. */
    CapSlot emptySlot(Tcb self, int dst) {
        CapSlot[] slots = self.current.cspace.slots;
        if (dst < 0 || dst >= slots.length) {
            self.fail(E_INVALID_SLOT, dst);
            return null;
        }
        Cap c = slots[dst].cap;
        if (c != null && c != Cap.REVOKED) {
            self.fail(E_SLOT_OCCUPIED, dst);
            return null;
        }
        return slots[dst];
    }

    /**
     * Whether {@code c} may be derived with {@code rights} and {@code badge} (0: its own): OK; E_ILLEGAL_OPERATION for a reply capability (one-shot) or a change of badge;
     * E_INVALID_ARG for rights it does not have.
     */
    static int derivable(Cap c, int rights, long badge) {
        if (c.type == ObjectType.REPLY) {
            return E_ILLEGAL_OPERATION;
        }
        if ((rights & ~c.rights) != 0 || rights < 0) {
            return E_INVALID_ARG;
        }
        if (badge != 0 && c.badge != 0 && badge != c.badge) {
            return E_ILLEGAL_OPERATION;
        }
        return OK;
    }

    // ---- the system calls (lock held) -------------------------------------------------------

    @LockHeld
    int mint(Tcb self, int src, int dst, int rights, long badge) {
        Cap c = lookup(self, src, 0, 0);
        if (c == null) {
            return self.error;
        }
        int newRights = rights == -1 ? c.rights : rights;
        int st = derivable(c, newRights, badge);
        if (st != OK) {
            return self.fail(st, st == E_INVALID_ARG ? rights : src);
        }
        CapSlot d = emptySlot(self, dst);
        if (d == null) {
            return self.error;
        }
        install(d, self.current.cspace.slots[src], Cap.of(c.object, newRights, badge != 0 ? badge : c.badge));
        return OK;
    }

    @LockHeld
    int move(Tcb self, int src, int dst) {
        Cap c = lookup(self, src, 0, 0);
        CapSlot d = c == null ? null : emptySlot(self, dst);
        if (c == null || d == null) {
            return self.error;
        }
        CapSlot s = self.current.cspace.slots[src];
        if (d.cap == Cap.REVOKED) {
            d.cap = null;
        }
        s.transplantTo(d);
        d.cap = c;
        s.cap = null;
        if (c.type == ObjectType.FRAME) {
            k.memory.capMoved(s, d);
        }
        return OK;
    }

    @LockHeld
    int delete(Tcb self, int slot) {
        CSpace cs = self.current.cspace;
        if (slot < 0 || slot >= cs.slots.length) {
            return self.fail(E_INVALID_SLOT, slot);
        }
        if (cs.slots[slot].cap == null) {
            return self.fail(E_EMPTY_SLOT, slot);
        }
        if (stillInUse(cs.slots[slot].cap)) {
            return self.fail(E_FRAME_MAPPED, slot); // unmap it first; nothing changes
        }
        deleteSlot(cs.slots[slot], E_DELETED);
        return OK;
    }

    /** The last capability to a frame that is mapped, or to a page table that is linked. */
    private static boolean stillInUse(Cap c) {
        return c != Cap.REVOKED && c.object.capCount == 1
                && (c.object instanceof Frame f ? f.mappings > 0 : c.object instanceof PageTable t && t.linked);
    }

    @LockHeld
    int revoke(Tcb self, int slot) {
        Cap c = lookup(self, slot, 0, 0);
        if (c == null) {
            return self.error;
        }
        revokeChildren(self.current.cspace.slots[slot]);
        return OK;
    }

    /** Creates an endpoint or a notification charged to the caller's domain, its capability in {@code dst}. */
    @LockHeld
    int create(Tcb self, int dst, int type) {
        if (self.current.state == Domain.DEAD) {
            return self.fail(E_DEAD_DOMAIN, dst); // a passive call still inside a killed domain
        }
        CapSlot d = emptySlot(self, dst);
        if (d == null) {
            return self.error;
        }
        KernelObject o = allocateObject(self.current, type);
        if (o == null) {
            return self.fail(E_NO_MEMORY, type);
        }
        install(d, null, Cap.of(o, Rights.ALL, 0));
        return OK;
    }

    /** An endpoint or notification charged to {@code d}'s object quota; null if none is left. */
    @LockHeld
    KernelObject allocateObject(Domain d, int type) {
        if (d.used >= d.quota) {
            return null;
        }
        KernelObject o = switch (type) {
            case ObjectType.ENDPOINT -> k.endpoints.allocate();
            case ObjectType.NOTIFICATION -> k.notifications.allocate();
            default -> null;
        };
        if (o != null) {
            o.owner = d;
            d.used++;
        }
        return o;
    }

    // ---- the boot interface's grants (lock held) ------------------------------------------

    /** See {@link Kernel#installCap}. */
    @LockHeld
    void installOriginal(Domain d, int slot, KernelObject object, int rights, long badge) {
        CapSlot s = d.cspace.checkedSlot("installCap into", slot);
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
    }

    /** See {@link Kernel#grantCap}: derived as {@link #mint} derives, or an exception naming the slots. */
    @LockHeld
    void grant(Domain from, int fromSlot, Domain to, int toSlot, int rights, long badge) {
        CapSlot s = from.cspace.checkedSlot("grantCap from", fromSlot);
        Cap c = s.cap;
        if (c == null || c == Cap.REVOKED) {
            throw new KernelException(c == null ? E_EMPTY_SLOT : E_REVOKED, "grantCap from "
                    + from.name + ": slot " + fromSlot + (c == null ? " is empty" : " was revoked"));
        }
        int st = derivable(c, rights, badge);
        if (st == E_INVALID_ARG) {
            throw new KernelException(E_INVALID_ARG, "grantCap: rights " + Rights.toString(rights)
                    + " exceed " + Rights.toString(c.rights));
        }
        if (st != OK) {
            // As in mint: a reply capability is one-shot, and a badge cannot be changed.
            throw new KernelException(st, "grantCap from " + from.name + ": slot "
                    + fromSlot + " holds " + c + ", which cannot be derived with badge " + badge);
        }
        CapSlot d = to.cspace.checkedSlot("grantCap into", toSlot);
        if (d.cap != null && d.cap != Cap.REVOKED) {
            throw new KernelException(E_SLOT_OCCUPIED, "grantCap into " + to.name + ": slot "
                    + toSlot + " is not an empty slot");
        }
        install(d, s, Cap.of(c.object, rights, badge != 0 ? badge : c.badge));
    }

    // ---- the derivation tree (lock held) ----------------------------------------------------

    /** Puts {@code cap} into the empty (or revoked) slot {@code d}, as a child of {@code parent}. */
    @LockHeld
    void install(CapSlot d, CapSlot parent, Cap cap) {
        assert k.lockHeld();
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
    @LockHeld
    void deleteSlot(CapSlot s, int waiterStatus) {
        assert k.lockHeld();
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
            k.memory.capGone(s); // the page it mapped goes with it
        }
        release(c.object, waiterStatus);
    }

    @LockHeld
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
                k.memory.capGone(leaf); // revoking a shared frame unmaps it from whoever mapped it
            }
            release(c.object, E_REVOKED);
        }
    }

    // ---- objects' ends (lock held) ----------------------------------------------------------

    /** Drops one capability reference; destroys endpoints, notifications and replies at zero. */
    @LockHeld
    void release(KernelObject o, int waiterStatus) {
        assert k.lockHeld();
        if (--o.capCount > 0) {
            return;
        }
        switch (o) {
            case Endpoint ep -> destroyEndpoint(ep, waiterStatus);
            case Notification n -> {
                sched.failQueue(n.waiters, waiterStatus);
                n.word = 0;
                uncharge(n);
                k.notifications.release(n);
            }
            case Reply rep -> {
                if (rep.thread == null) {
                    failCaller(rep, waiterStatus == E_REVOKED ? E_DELETED : waiterStatus);
                    k.replies.release(rep);
                }
            }
            case Frame f -> k.memory.frameReleased(f);
            case IrqHandler h -> k.irq.handlerReleased(h);
            case PageTable t -> k.memory.tableReleased(t);
            default -> { }
        }
    }

    @LockHeld
    private void destroyEndpoint(Endpoint ep, int waiterStatus) {
        int status = waiterStatus == E_REVOKED ? E_DELETED : waiterStatus;
        Tcb r = ep.fastReceiver;
        if (r != null) {
            // Unbind first: a receiver re-arming meanwhile then sees it is no longer bound and
            // withdraws to the slow path, instead of waiting on a destroyed endpoint.
            FastPath.unbindFastReceiver(r);
            if (Utcb.claimReceiver(r.utcb, ep.id, Utcb.WAIT_RECV_FAST)) {
                sched.wakeClaimed(r, status);
            }
        }
        sched.failQueue(ep.senders, status);
        ep.sendersChanged();
        sched.failQueue(ep.receivers, status);
        Domain server = ep.server;
        ep.server = null;
        ep.passive = null;
        uncharge(ep);
        k.endpoints.release(ep);
        k.lifecycle.reclaimIfUnreachable(server);
    }

    private static void uncharge(KernelObject o) {
        if (o.owner != null) {
            o.owner.used--;
        }
    }

    /** Wakes the caller bound to a reply object with an error. */
    @LockHeld
    void failCaller(Reply rep, int status) {
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
            sched.wakeClaimed(caller, status);
        }
    }
}
