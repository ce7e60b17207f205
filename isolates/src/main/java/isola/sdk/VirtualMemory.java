package isola.sdk;

import isola.kernel.Status;
import isola.kernel.Translator;
import isola.kernel.mem.Mmu;
import isola.kernel.mem.Words;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A thread's view of its domain's address space (for a passive handler, of the server's). Every
 * access goes through the thread's own {@link Mmu}, with the CPU's rules: an access to an
 * unmapped page, or against its protection, is a page fault that the domain's pager resolves
 * (the access is then retried); if it cannot, the access throws {@link IsolaException} with
 * E_NOT_MAPPED, which, uncaught, is a fault of the domain like any other.
 *
 * <p>Word accesses must be naturally aligned (so they never straddle two pages); byte ranges may
 * start and end anywhere. One per {@link Sys}: not thread-safe, like the thread it serves.
 * Translation is the kernel's ({@link Translator}, reached through the thread's
 * {@link KernelGate}): its MMUs are registered with the kernel, which reuses a frame unmapped
 * meanwhile only after this thread has translated again or waits in a system call, so an
 * access in flight never lands in a frame that went to someone else. The same code runs in
 * every tier; in the native tier each translation is a call into the kernel's isolate.
 */
public final class VirtualMemory {
    private final KernelGate gate;
    private final MemorySegment ram;

    /**
     * The view of the thread whose gate is {@code gate}; {@code ram} is physical memory, which
     * the physical addresses the gate's translations answer index. Each gate makes its own
     * ({@link KernelGate#memory}): physical memory is not the server's to hand out.
     */
    public VirtualMemory(KernelGate gate, MemorySegment ram) {
        this.gate = gate;
        this.ram = ram;
    }

    public long getLong(long va) {
        aligned(va, 8);
        return Words.get(ram, physical(va, Mmu.READ));
    }

    public void putLong(long va, long value) {
        aligned(va, 8);
        Words.set(ram, physical(va, Mmu.WRITE), value);
    }

    public int getInt(long va) {
        aligned(va, 4);
        return Words.getInt(ram, physical(va, Mmu.READ));
    }

    public void putInt(long va, int value) {
        aligned(va, 4);
        Words.setInt(ram, physical(va, Mmu.WRITE), value);
    }

    /**
     * Copies {@code length} bytes at {@code va} into {@code dst} from {@code offset}: one copy per
     * run of pages that are contiguous in physical memory (a large page is one run).
     */
    public void read(long va, byte[] dst, int offset, int length) {
        java.util.Objects.checkFromIndexSize(offset, length, dst.length);
        for (int done = 0; done < length; ) {
            long pa = physical(va + done, Mmu.READ);
            int n = run(va + done, pa, length - done, Mmu.READ);
            MemorySegment.copy(ram.asSlice(pa, n), ValueLayout.JAVA_BYTE, 0, dst, offset + done, n);
            done += n;
        }
    }

    /** Copies {@code length} bytes of {@code src} from {@code offset} to {@code va}, run by run as {@link #read}. */
    public void write(long va, byte[] src, int offset, int length) {
        java.util.Objects.checkFromIndexSize(offset, length, src.length);
        for (int done = 0; done < length; ) {
            long pa = physical(va + done, Mmu.WRITE);
            int n = run(va + done, pa, length - done, Mmu.WRITE);
            MemorySegment.copy(src, offset + done, ram.asSlice(pa, n), ValueLayout.JAVA_BYTE, 0, n);
            done += n;
        }
    }

    /**
     * What {@link #readInPlace} and {@link #writeInPlace} hand out: {@code run} is the range's
     * bytes from {@code offset} on, in place in physical memory, valid only during the call.
     */
    @FunctionalInterface
    public interface Run {
        void accept(MemorySegment run, long offset);
    }

    /**
     * Zero-copy read: hands {@code visitor} the {@code length} bytes at {@code va} as read-only
     * segments over the memory itself, one per run of physically contiguous pages (a large page
     * is one run), in order. Page faults are resolved first, as for {@link #read}.
     *
     * <p>Each segment is confined to this thread and closed when the call returns, so it cannot
     * be kept. Until then the thread keeps its translations, like a TLB entry held for the
     * duration: a page unmapped meanwhile stays readable through the segment, and its frame
     * is not reused before the call returns. Keep the call short, as one would a lock.
     */
    public void readInPlace(long va, long length, Run visitor) {
        inPlace(va, length, Mmu.READ, visitor);
    }

    /** Zero-copy write: as {@link #readInPlace}, with writable segments; every page must allow writes. */
    public void writeInPlace(long va, long length, Run visitor) {
        inPlace(va, length, Mmu.WRITE, visitor);
    }

    private void inPlace(long va, long length, int access, Run visitor) {
        if (length < 0 || va + length < va) {
            throw new IllegalArgumentException("range of " + length + " bytes at 0x" + Long.toHexString(va));
        }
        int st = gate.pin();
        if (st != Status.OK) {
            throw new IsolaException(st, Status.describe(st, "memory view", va));
        }
        try (java.lang.foreign.Arena scope = java.lang.foreign.Arena.ofConfined()) {
            // every page first, so a fault the pager cannot resolve leaves the range untouched
            for (long page = va & ~0xFFFL; page < va + length; page += 4096) {
                physical(Math.max(page, va), access);
            }
            for (long done = 0; done < length; ) {
                long pa = physical(va + done, access);
                int n = run(va + done, pa, (int) Math.min(length - done, 1 << 30), access);
                MemorySegment segment = ram.asSlice(pa, n).reinterpret(scope, null);
                visitor.accept(access == Mmu.WRITE ? segment : segment.asReadOnly(), done);
                done += n;
            }
        } finally {
            gate.unpin();
        }
    }

    /**
     * How many of {@code left} bytes from {@code va} (at {@code pa}) lie in pages that follow
     * each other in physical memory and allow {@code access}; at least up to the page's end.
     */
    private int run(long va, long pa, int left, int access) {
        return left <= 4096 - (va & 0xFFF) ? left : gate.contiguous(va, pa, left, access);
    }

    /** The physical address of an access, after the pager has resolved any page faults. */
    private long physical(long va, int access) {
        long pa = gate.translate(va, access);
        if (Translator.failed(pa)) {
            throw failure(pa, va, access);
        }
        return pa;
    }

    private static IsolaException failure(long result, long va, int access) {
        int st = Translator.status(result);
        int code = Translator.errorCode(result);
        String what = (access == Mmu.WRITE ? "write" : access == Mmu.FETCH ? "fetch" : "read") + " at 0x" + Long.toHexString(va);
        if (st == Status.E_NOT_CANONICAL || st == Status.E_DEAD_DOMAIN) {
            return new IsolaException(st, Status.describe(st, "memory access", va));
        }
        if (st == Status.E_ILLEGAL_OPERATION) {
            return new IsolaException(st, what + ": the address space changed during a view of it");
        }
        if ((code & Mmu.PF_P) != 0 && st == Status.E_NOT_MAPPED) {
            return new IsolaException(Status.E_NO_RIGHTS, what + ": E_NO_RIGHTS: the page is mapped without "
                    + (access == Mmu.WRITE ? "write" : access == Mmu.FETCH ? "execute" : "user") + " access");
        }
        return new IsolaException(st, Status.describe(st, what, va));
    }

    private static void aligned(long va, int size) {
        if ((va & (size - 1)) != 0) {
            throw new IllegalArgumentException("address 0x" + Long.toHexString(va) + " is not aligned to " + size + " bytes");
        }
    }
}
