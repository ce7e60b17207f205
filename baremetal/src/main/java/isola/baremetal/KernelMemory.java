package isola.baremetal;

import isola.kernel.Status;
import isola.kernel.mem.FrameAllocator;
import isola.kernel.mem.Paging;
import isola.kernel.mem.PhysicalMemory;
import java.lang.foreign.MemorySegment;

/**
 * The Java kernel's memory on bare metal: it takes RAM over from the boot frame pool, hands the
 * free frames to hostkernel's {@link FrameAllocator}, and builds its own page tables with
 * hostkernel's {@link Paging} (the code hosted mode runs on simulated RAM), then loads them.
 *
 * <p>The tables identity-map RAM (virtual = physical, as the boot stub's did): the kernel
 * image with 4 KiB pages, its code read-only and executable, everything else no-execute, the
 * image heap's read-only part read-only; page 0 unmapped, so a stray access there faults; the
 * rest of RAM with 2 MiB pages. The heap window's subtree, which the runtime's mmap manages, is
 * linked in unchanged.
 *
 * <p>The heap's frames come from a pool the kernel keeps topped up ({@link #balance}): the
 * garbage collector maps memory where no Java may run, so the frames it maps were handed over
 * beforehand.
 */
final class KernelMemory {
    /** Frames the heap's pool is topped up to, and the low mark that triggers a top-up. */
    final long poolTarget, poolLow;

    final PhysicalMemory ram;
    final FrameAllocator frames;
    final Paging paging;
    /** The root table (CR3) the kernel built. */
    final long root;
    /** Where the kernel's frame allocator starts: below it, the image, modules and the boot pool. */
    final long base;
    private final long[] out = new long[1];

    private KernelMemory(PhysicalMemory ram, FrameAllocator frames, long base) {
        this.ram = ram;
        this.frames = frames;
        this.paging = new Paging(ram);
        this.base = base;
        this.poolTarget = Math.max(1024, frames.totalFrames() / 4);
        this.poolLow = poolTarget / 2;
        this.root = buildTables();
    }

    /** Takes RAM over: the region the boot pool stopped in, from where it stopped, becomes the allocator's. */
    static KernelMemory takeOver(BootInfo boot) {
        long first = Nucleus.framesHandover();
        BootInfo.Region region = null;
        for (BootInfo.Region r : boot.available()) {
            if (r.end() > first && (region == null || r.end() - r.start() > region.end() - region.start())) {
                region = r;
            }
        }
        if (region == null) {
            throw new IllegalStateException("no RAM above 0x" + Long.toHexString(first)
                    + " (the end of the boot frame pool) for the kernel's frame allocator");
        }
        long base = align(Math.max(first, region.start()), PhysicalMemory.FRAME);
        long end = region.end() & -PhysicalMemory.FRAME;
        if (end - base < (4L << 20)) {
            throw new IllegalStateException("too little memory: " + ((end - base) >> 10)
                    + " KiB of RAM for the kernel's frame allocator above 0x" + Long.toHexString(base) + " (at least 4 MiB)");
        }
        PhysicalMemory ram = PhysicalMemory.of(MemorySegment.ofAddress(0).reinterpret(end));
        KernelMemory m = new KernelMemory(ram, new FrameAllocator(base, end - base), base);
        m.balance();
        return m;
    }

    /** Loads the kernel's tables into CR3. */
    void activate() {
        Cpu.writeCr3(root);
    }

    /**
     * A block of {@code 2^order} frames for {@code what}, or an exception naming what ran out.
     * Threads share the allocator (the interrupt thread tops the heap's pool up), hence the lock.
     */
    synchronized long allocate(int order, String what) {
        long pa = frames.allocate(order);
        if (pa < 0) {
            throw new IllegalStateException("no free block of " + (PhysicalMemory.FRAME << order >> 10) + " KiB for " + what);
        }
        return pa;
    }

    /** A zeroed frame for a table. */
    private long tableFrame() {
        long pa = allocate(0, "the kernel's page tables");
        paging.clearTable(pa);
        return pa;
    }

    private long buildTables() {
        long pml4 = tableFrame();
        long imageStart = Nucleus.kernelStart(), textEnd = Nucleus.kernelTextEnd(), imageEnd = align(Nucleus.kernelEnd(), Paging.SIZE_4K);
        long top = ram.size();
        for (long va = 0; va < top; ) {
            boolean small = va < Paging.SIZE_2M || (va < align(imageEnd, Paging.SIZE_2M) && va + Paging.SIZE_2M > imageStart)
                    || top - va < Paging.SIZE_2M;
            if (small) {
                if (va != 0) { // page 0 stays unmapped: a null access faults
                    long flags;
                    if (va >= imageStart && va < textEnd) {
                        flags = 0; // kernel code: read-only, executable
                    } else if (va < imageEnd && Nucleus.readonly(va)) {
                        flags = Paging.NX; // the image heap's read-only part
                    } else {
                        flags = Paging.RW | Paging.NX;
                    }
                    map(pml4, va, va, Paging.SIZE_4K, flags);
                }
                va += Paging.SIZE_4K;
            } else {
                map(pml4, va, va, Paging.SIZE_2M, Paging.RW | Paging.NX);
                va += Paging.SIZE_2M;
            }
        }
        check(paging.linkTable(pml4, Nucleus.heapWindow(), 3, Nucleus.heapPdpt()), "link the heap window");
        return pml4;
    }

    /** Maps one page, linking the tables it needs. */
    private void map(long pml4, long va, long pa, long size, long flags) {
        int r = paging.map(pml4, va, pa, size, flags);
        while (r == Status.E_NO_TABLE) {
            // Link the highest missing table, then try again.
            int level = 3;
            while (level > Paging.leafLevel(size) && paging.entryAddress(pml4, va, level) >= 0) {
                level--;
            }
            check(paging.linkTable(pml4, va, level, tableFrame()), "link a level-" + level + " table");
            r = paging.map(pml4, va, pa, size, flags);
        }
        check(r, "map 0x" + Long.toHexString(va));
    }

    private void check(int status, String what) {
        if (status != Status.OK) {
            throw new IllegalStateException("page tables: cannot " + what + ": " + Status.name(status)
                    + " at 0x" + Long.toHexString(paging.errorAddress()));
        }
    }

    /**
     * Keeps the heap's frame pool between its low mark and twice its target: tops it up from
     * the frame allocator, or takes surplus back. Returns the frames moved (+ given, - taken).
     */
    synchronized long balance() {
        long pooled = Nucleus.framesPooled();
        long moved = 0;
        if (pooled < poolLow) {
            for (long i = pooled; i < poolTarget; i++) {
                long pa = frames.allocate(0);
                if (pa < 0) {
                    break; // the pool keeps what it has; mmap fails when it runs dry
                }
                Nucleus.framesGive(pa);
                moved++;
            }
        } else if (pooled > 2 * poolTarget) {
            for (long i = pooled; i > poolTarget; i--) {
                long pa = Nucleus.framesTake();
                if (pa == 0) {
                    break;
                }
                if (pa < base) { // a boot-pool frame: it stays with the heap
                    Nucleus.framesGive(pa);
                    break;
                }
                frames.free(pa, 0);
                moved--;
            }
        }
        return moved;
    }

    static long align(long v, long a) {
        return (v + a - 1) & -a;
    }
}
