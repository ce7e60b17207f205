package isola.kernel;

import static isola.kernel.Status.*;

import isola.kernel.mem.AddressSpace;
import isola.kernel.mem.FrameAllocator;
import isola.kernel.mem.Paging;
import isola.kernel.mem.PhysicalMemory;

/**
 * The kernel's physical memory: the frame allocator, the frame and page-table objects, and
 * every domain's address space. Called by {@link Kernel} under its lock; operations check their
 * input completely before they change anything, return a status, and leave the offending value
 * in {@link #errorArg}.
 *
 * <p>Accounting: a domain pays for its frames and page tables from its frame quota, in 4 KiB
 * frames; its page-table root is the kernel's. A frame is freed when its last capability and
 * its last mapping are gone, whichever is last; a page table when its last capability is gone
 * and it is unlinked.
 *
 * <p>A freed frame that was mapped (or walked, for a table) is not reused at once: another
 * thread may have translated to it just before the unmap and not yet made its access. It waits
 * in limbo until every registered MMU has adopted the invalidation that unmapped it, or its
 * thread is waiting in a system call (so between accesses) with no view open or gone: the
 * hosted TLB shootdown's acknowledgement. The domain's quota is credited at once.
 */
final class Memory {
    final PhysicalMemory ram;
    final FrameAllocator allocator;
    final Paging paging;
    final ObjectPool<Frame> frames;
    final ObjectPool<PageTable> tables;
    /** The frame or page table whose block starts at each frame number. */
    private final KernelObject[] byFrame;
    private final long[] out = new long[1];
    long errorArg;
    /** One invalidation epoch for every address space: a frame's grace period spans all of them. */
    private final java.util.concurrent.atomic.AtomicLong epoch = new java.util.concurrent.atomic.AtomicLong();
    /** Every MMU threads use (owner: their Tcb), so the kernel can ask them what they have seen. */
    final java.util.ArrayList<isola.kernel.mem.Mmu> mmus = new java.util.ArrayList<>();
    /**
     * A page mapped through a frame capability. As in seL4 the mapping belongs to the capability:
     * deleting or revoking it unmaps the page, so revoking a shared frame cuts off every domain
     * that mapped it through a derived capability. One mapping per capability (copy it to map
     * the frame again).
     */
    record Mapping(CapSlot slot, AddressSpace space, long va, long size) {}
    private final java.util.IdentityHashMap<CapSlot, Mapping> mappingBySlot = new java.util.IdentityHashMap<>();
    private final java.util.IdentityHashMap<AddressSpace, java.util.HashMap<Long, Mapping>> mappingsBySpace =
            new java.util.IdentityHashMap<>();
    /** Freed frames waiting out their grace period: {physical address, order, epoch}. */
    private final java.util.ArrayDeque<long[]> limbo = new java.util.ArrayDeque<>();

    Memory(PhysicalMemory ram, KernelConfig config) {
        this.ram = ram;
        this.allocator = new FrameAllocator(0, ram.size());
        this.paging = new Paging(ram);
        this.frames = new ObjectPool<>(config.frames(), Frame::new);
        this.tables = new ObjectPool<>(config.pageTables(), PageTable::new);
        this.byFrame = new KernelObject[(int) ram.frames()];
    }

    // ---- address spaces ----

    /** A fresh, empty address space for a new domain, or null if no frame is left. */
    AddressSpace newAddressSpace() {
        drainLimbo();
        long root = allocator.allocate(0);
        if (root < 0) {
            return null;
        }
        paging.clearTable(root);
        return new AddressSpace(root, epoch);
    }

    /**
     * Empties a dead domain's address space: every page unmapped (a frame nothing else holds is
     * freed), every table unlinked, the root freed. MMUs are invalidated first.
     */
    void teardown(Domain d) {
        AddressSpace as = d.vspace;
        if (as == null) {
            return;
        }
        d.vspace = null;
        as.invalidate();
        java.util.HashMap<Long, Mapping> ms = mappingsBySpace.remove(as);
        if (ms != null) {
            for (Mapping m : ms.values()) {
                mappingBySlot.remove(m.slot());
            }
        }
        teardownTable(as.root(), 4);
        retire(as.root(), 0);
    }

    /**
     * Frees a block once every MMU is past the current epoch (see the class comment). The limbo
     * is drained where frames are wanted (allocation, the free count), not per block: a domain's
     * teardown retires all its frames at once.
     */
    private void retire(long pa, int order) {
        limbo.addLast(new long[] {pa, order, epoch.get()});
    }

    /** Gives back the frames whose grace period is over, oldest first. */
    void drainLimbo() {
        long[] e;
        while ((e = limbo.peekFirst()) != null && quiescent(e[2])) {
            limbo.removeFirst();
            allocator.free(e[0], (int) e[1]);
        }
    }

    /** Frames still in limbo once those whose grace period is over are given back. */
    long drainedLimboFrames() {
        drainLimbo();
        return limboFrames();
    }

    /** Free frames once those whose grace period is over are given back. */
    long drainedFreeFrames() {
        drainLimbo();
        return allocator.freeFrames();
    }

    /** Frames in limbo (freed, not yet reusable). */
    long limboFrames() {
        long n = 0;
        for (long[] e : limbo) {
            n += 1L << e[1];
        }
        return n;
    }

    /** Whether no thread can still reach a frame unmapped at {@code e} through a stale translation. */
    private boolean quiescent(long e) {
        for (isola.kernel.mem.Mmu m : mmus) {
            Tcb t = (Tcb) m.owner();
            if (m.seen() >= e || (!m.pinned() && !Utcb.isWoken(Utcb.wakeWord(t.utcb)))) {
                continue; // adopted the epoch, or waiting in a system call with no view open
            }
            return false;
        }
        return true;
    }

    /** The MMU {@code t} uses for {@code as}, registered so its epoch counts. */
    isola.kernel.mem.Mmu mmu(Tcb t, AddressSpace as) {
        for (isola.kernel.mem.Mmu m : t.mmus) {
            if (m.space() == as) {
                return m;
            }
        }
        isola.kernel.mem.Mmu m = new isola.kernel.mem.Mmu(ram, as, t);
        t.mmus.add(m);
        mmus.add(m);
        return m;
    }

    /** A thread leaves: its MMUs no longer hold frames back. */
    void forget(Tcb t) {
        if (!t.mmus.isEmpty()) {
            mmus.removeAll(t.mmus);
            t.mmus.clear();
            drainLimbo();
        }
    }

    private void teardownTable(long table, int level) {
        for (int i = 0; i < 512; i++) {
            long slot = table + 8L * i;
            long e = ram.read64(slot);
            if ((e & Paging.P) == 0) {
                continue;
            }
            ram.write64(slot, 0);
            boolean page = level == 1 || (level < 4 && (e & Paging.PS) != 0);
            if (page) {
                unmapped(Paging.target(e, level, true));
            } else {
                teardownTable(e & Paging.ADDR, level - 1);
                PageTable t = (PageTable) byFrame[(int) ((e & Paging.ADDR) >>> 12)];
                t.linked = false;
                freeTableIfUnused(t);
            }
        }
    }

    // ---- objects ----

    /** A zeroed frame of {@code size} charged to {@code d}; null with the error in {@code status[0]}. */
    Frame allocateFrame(Domain d, long size, int[] status) {
        int level = Paging.leafLevel(size);
        if (level == 0) {
            errorArg = size;
            status[0] = E_INVALID_ARG;
            return null;
        }
        int order = 9 * (level - 1);
        long n = 1L << order;
        if (d.framesUsed + n > d.frameQuota) {
            errorArg = ObjectType.FRAME;
            status[0] = E_NO_MEMORY;
            return null;
        }
        drainLimbo();
        Frame f = frames.allocate();
        long pa = f == null ? -1 : allocator.allocate(order);
        if (pa < 0) {
            if (f != null) {
                frames.release(f);
            }
            errorArg = ObjectType.FRAME;
            status[0] = E_NO_MEMORY;
            return null;
        }
        ram.zero(pa, size);
        f.pa = pa;
        f.order = order;
        f.mappings = 0;
        f.mapped = false;
        f.owner = d;
        d.framesUsed += n;
        byFrame[(int) (pa >>> 12)] = f;
        return f;
    }

    /** A zeroed page table of {@code level} charged to {@code d}; null with the error in {@code status[0]}. */
    PageTable allocateTable(Domain d, int level, int[] status) {
        if (level < 1 || level > 3) {
            errorArg = level;
            status[0] = E_INVALID_ARG;
            return null;
        }
        if (d.framesUsed + 1 > d.frameQuota) {
            errorArg = ObjectType.PAGE_TABLE;
            status[0] = E_NO_MEMORY;
            return null;
        }
        drainLimbo();
        PageTable t = tables.allocate();
        long pa = t == null ? -1 : allocator.allocate(0);
        if (pa < 0) {
            if (t != null) {
                tables.release(t);
            }
            errorArg = ObjectType.PAGE_TABLE;
            status[0] = E_NO_MEMORY;
            return null;
        }
        paging.clearTable(pa);
        t.pa = pa;
        t.level = level;
        t.linked = false;
        t.walked = false;
        t.owner = d;
        d.framesUsed++;
        byFrame[(int) (pa >>> 12)] = t;
        return t;
    }

    /** The last capability to a frame went: freed now unless still mapped. */
    void frameReleased(Frame f) {
        freeFrameIfUnused(f);
    }

    /** The last capability to a page table went: freed now unless still linked. */
    void tableReleased(PageTable t) {
        freeTableIfUnused(t);
    }

    private void unmapped(long pa) {
        Frame f = (Frame) byFrame[(int) (pa >>> 12)];
        f.mappings--;
        freeFrameIfUnused(f);
    }

    private void freeFrameIfUnused(Frame f) {
        if (f.capCount > 0 || f.mappings > 0 || !f.live) {
            return;
        }
        byFrame[(int) (f.pa >>> 12)] = null;
        if (f.mapped) {
            retire(f.pa, f.order);
        } else {
            allocator.free(f.pa, f.order); // never mapped: no MMU can reach it
        }
        if (f.owner != null) {
            f.owner.framesUsed -= 1L << f.order;
        }
        frames.release(f);
    }

    private void freeTableIfUnused(PageTable t) {
        if (t.capCount > 0 || t.linked || !t.live) {
            return;
        }
        byFrame[(int) (t.pa >>> 12)] = null;
        if (t.walked) {
            retire(t.pa, 0);
        } else {
            allocator.free(t.pa, 0);
        }
        if (t.owner != null) {
            t.owner.framesUsed--;
        }
        tables.release(t);
    }

    // ---- mapping (the target domain's address space) ----

    int linkTable(AddressSpace as, PageTable t, long va) {
        errorArg = va;
        if (t.linked) {
            return E_MAPPED;
        }
        int st = paging.linkTable(as.root(), va, t.level, t.pa);
        if (st == OK) {
            t.linked = true;
            t.walked = true;
        }
        return st;
    }

    int unlinkTable(AddressSpace as, long va, int level) {
        errorArg = va;
        int st = paging.unlinkTable(as.root(), va, level, out);
        if (st != OK) {
            return st;
        }
        as.invalidate();
        PageTable t = (PageTable) byFrame[(int) (out[0] >>> 12)];
        t.linked = false;
        freeTableIfUnused(t);
        return OK;
    }

    /** Maps {@code f} through the capability in {@code via}, which must not map a page already. */
    int map(AddressSpace as, Frame f, CapSlot via, long va, long flags) {
        Mapping old = mappingBySlot.get(via);
        if (old != null) {
            errorArg = old.va();
            return E_MAPPED; // this capability already maps a page there
        }
        errorArg = va;
        int st = paging.map(as.root(), va, f.pa, f.size(), flags);
        if (st == OK) {
            f.mappings++;
            f.mapped = true;
            Mapping m = new Mapping(via, as, va, f.size());
            mappingBySlot.put(via, m);
            java.util.HashMap<Long, Mapping> ms = mappingsBySpace.get(as);
            if (ms == null) {
                ms = new java.util.HashMap<>();
                mappingsBySpace.put(as, ms);
            }
            ms.put(va, m);
        }
        return st;
    }

    /** A frame capability is going (deleted, revoked, its domain dying): the page it mapped goes. */
    void capGone(CapSlot s) {
        Mapping m = mappingBySlot.remove(s);
        if (m == null) {
            return;
        }
        mappingsBySpace.get(m.space()).remove(m.va());
        if (paging.unmap(m.space().root(), m.va(), m.size(), out) == OK) {
            m.space().invalidate();
            unmapped(out[0]);
        }
    }

    /** A frame capability moved to another slot: its mapping moves with it. */
    void capMoved(CapSlot from, CapSlot to) {
        Mapping m = mappingBySlot.remove(from);
        if (m != null) {
            Mapping moved = new Mapping(to, m.space(), m.va(), m.size());
            mappingBySlot.put(to, moved);
            mappingsBySpace.get(m.space()).put(m.va(), moved);
        }
    }

    int unmap(AddressSpace as, long va, long size) {
        errorArg = va;
        int st = paging.unmap(as.root(), va, size, out);
        if (st != OK) {
            return st;
        }
        java.util.HashMap<Long, Mapping> ms = mappingsBySpace.get(as);
        Mapping m = ms == null ? null : ms.remove(va);
        if (m != null) {
            mappingBySlot.remove(m.slot());
        }
        as.invalidate(); // before the frame can go
        unmapped(out[0]);
        return OK;
    }

    /** Narrows a mapping: R/W may be dropped, never added (that needs the frame's SEND right). */
    int protect(AddressSpace as, long va, long size, long flags) {
        errorArg = va;
        long slot = paging.leafSlot(as.root(), va, size);
        if (slot < 0) {
            return (int) slot;
        }
        if ((flags & Paging.RW) != 0 && (ram.read64(slot) & Paging.RW) == 0) {
            return E_INVALID_ARG; // a writable mapping is made by map, with the frame's SEND right
        }
        int st = paging.protect(as.root(), va, size, flags);
        if (st == OK) {
            as.invalidate();
        }
        return st;
    }
}
