package isola.kernel;

import static isola.kernel.Status.*;

import isola.kernel.mem.AddressSpace;
import isola.kernel.mem.Paging;
import java.lang.foreign.MemorySegment;

/**
 * The memory system calls: frames and page tables from a domain's quota, mapping them into an
 * address space, and page faults delivered to a pager as calls. The objects and page tables
 * themselves are {@link Memory}'s; this class decodes and checks the calls.
 */
final class MemoryCalls {
    private final Kernel k;
    private final Scheduling sched;
    private final Capabilities caps;
    private final Memory memory;
    /** The status a {@link Memory} allocation failed with (one word, reused: lock held). */
    private final int[] memStatus = new int[1];

    MemoryCalls(Kernel k) {
        this.k = k;
        this.sched = k.sched;
        this.caps = k.caps;
        this.memory = k.memory;
    }

    /** A frame ({@code arg}: its size) or page table ({@code arg}: its level) into {@code dst}, all rights. */
    int alloc(Tcb self, int dst, int type, long arg) {
        sched.begin(self, Trace.OP_MEM, dst);
        int r = memoryEntry(self);
        CapSlot d = r != OK ? null : caps.emptySlot(self, dst);
        if (r == OK && d == null) {
            r = self.error;
        } else if (r == OK) {
            KernelObject o = type == ObjectType.FRAME ? memory.allocateFrame(self.current, arg, memStatus)
                    : memory.allocateTable(self.current, (int) arg, memStatus);
            if (o == null) {
                r = self.fail(memStatus[0], memory.errorArg);
            } else {
                caps.install(d, null, Cap.of(o, Rights.ALL, 0));
            }
        }
        return sched.end(self, r);
    }

    int tableLink(Tcb self, int domainSlot, int tableSlot, long va) {
        sched.begin(self, Trace.OP_MEM, tableSlot);
        AddressSpace as = space(self, domainSlot);
        Cap c = as == null ? null : caps.lookup(self, tableSlot, ObjectType.PAGE_TABLE, 0);
        return sched.end(self, c == null ? self.error : result(self, memory.linkTable(as, (PageTable) c.object, va)));
    }

    int tableUnlink(Tcb self, int domainSlot, long va, int level) {
        sched.begin(self, Trace.OP_MEM, domainSlot);
        AddressSpace as = space(self, domainSlot);
        return sched.end(self, as == null ? self.error : result(self, memory.unlinkTable(as, va, level)));
    }

    /** Any mapping needs the frame capability's RECV right, a writable one (R/W) its SEND right too. */
    int map(Tcb self, int domainSlot, int frameSlot, long va, long flags) {
        sched.begin(self, Trace.OP_MEM, frameSlot);
        AddressSpace as = space(self, domainSlot);
        int rights = (flags & Paging.RW) != 0 ? Rights.RECV | Rights.SEND : Rights.RECV;
        Cap c = as == null ? null : caps.lookup(self, frameSlot, ObjectType.FRAME, rights);
        return sched.end(self, c == null ? self.error
                : result(self, memory.map(as, (Frame) c.object, self.current.cspace.slots[frameSlot], va, flags)));
    }

    int unmap(Tcb self, int domainSlot, long va, long size) {
        sched.begin(self, Trace.OP_MEM, domainSlot);
        AddressSpace as = space(self, domainSlot);
        return sched.end(self, as == null ? self.error : result(self, memory.unmap(as, va, size)));
    }

    int protect(Tcb self, int domainSlot, long va, long size, long flags) {
        sched.begin(self, Trace.OP_MEM, domainSlot);
        AddressSpace as = space(self, domainSlot);
        return sched.end(self, as == null ? self.error : result(self, memory.protect(as, va, size, flags)));
    }

    /** See {@link Kernel#pageFault}. */
    int pageFault(Tcb self, long va, int errorCode) {
        MemorySegment u = self.utcb;
        long[] saved = self.enterFault();
        try {
            Utcb.saveMessage(u, saved);
            Utcb.setMr(u, 0, va);
            Utcb.setMr(u, 1, errorCode);
            Utcb.setMr(u, 2, self.id);
            long faultTag = Tag.of(Kernel.PAGE_FAULT, 3);
            int r;
            do {
                r = sched.begin(self, Trace.OP_FAULT, va);
                Cap pager = self.current.pagerCap;
                if (r == OK) {
                    r = pager == null ? self.fail(E_NOT_MAPPED, va)
                            : k.ipc.sendThrough(self, pager, -1, faultTag, Kernel.FOREVER, true);
                }
                r = sched.end(self, r);
            } while (r == Kernel.REQUEUE);
            if (r == Kernel.PASSIVE) {
                r = k.fastPath.passiveCall(self, self.pendingCap, faultTag, -1); // a passive pager runs on this thread
            }
            if (r == OK && Tag.label(Utcb.tag(u)) != 0) {
                r = self.fail(E_NOT_MAPPED, va); // the pager could not map it
            }
            return r;
        } finally {
            Utcb.restoreMessage(u, saved);
            self.leaveFault();
        }
    }

    /** See {@link Kernel#setPager}. */
    @LockHeld
    void setPager(Domain d, Endpoint ep, long badge) {
        if (d.state == Domain.DEAD && ep != null) {
            throw new KernelException(E_DEAD_DOMAIN, "setPager " + d.name + ": it is dead");
        }
        if (d.pagerCap != null) {
            caps.release(d.pagerCap.object, E_DELETED);
            d.pagerCap = null;
        }
        if (ep != null) {
            d.pagerCap = Cap.of(ep, Rights.SEND, badge);
            ep.capCount++;
        }
    }

    @LockHeld
    void setFrameQuota(Domain d, long frames) {
        if (frames < 0) {
            throw new KernelException(E_INVALID_ARG, "setFrameQuota " + d.name + ": " + frames + " frames");
        }
        d.frameQuota = frames;
    }

    /** The first checks of every memory call: a live thread in a live domain. */
    private static int memoryEntry(Tcb self) {
        return self.killed ? self.fail(E_KILLED, Kernel.SELF)
                : self.current.state == Domain.DEAD ? self.fail(E_DEAD_DOMAIN, Kernel.SELF) : OK;
    }

    /** The address space a mapping call changes, after the entry checks; null with the error in self. */
    @LockHeld
    private AddressSpace space(Tcb self, int domainSlot) {
        if (memoryEntry(self) != OK) {
            return null;
        }
        Domain d;
        if (domainSlot == Kernel.SELF) {
            d = self.current;
        } else {
            Cap c = caps.lookup(self, domainSlot, ObjectType.DOMAIN, Rights.CONTROL);
            if (c == null) {
                return null;
            }
            d = (Domain) c.object;
        }
        if (d.vspace == null) {
            self.fail(E_DEAD_DOMAIN, domainSlot);
            return null;
        }
        return d.vspace;
    }

    private int result(Tcb self, int status) {
        return status == OK ? OK : self.fail(status, memory.errorArg);
    }
}
