package isola.kernel;

import isola.kernel.mem.AddressSpace;
import isola.kernel.mem.Mmu;

/**
 * One thread's translation of virtual addresses, kernel side: the MMU of the address space the
 * thread runs in now (a passive call switches it), with page faults handed to the domain's
 * pager and the access retried. What the SDK's {@code VirtualMemory} stands on, in every tier:
 * called directly in the {@code vm} tier, through the kernel entry in the native tier, where
 * the MMU and the kernel's TLB bookkeeping stay in the kernel's heap and the server gets only
 * physical addresses to access memory at.
 *
 * <p>A result is a physical address (never negative), or a failure: negative, with the status
 * and the page-fault error code in it ({@link #status}, {@link #errorCode}). One per thread
 * ({@link Kernel#translator}), used only by it.
 */
public final class Translator {
    private static final long FAILED = Long.MIN_VALUE;

    private final Kernel kernel;
    private final Tcb tcb;
    private AddressSpace space;
    private Mmu mmu;
    /** The MMU a view holds open ({@link #pin}), or null. */
    private Mmu pinned;
    private int pins;

    Translator(Kernel kernel, Tcb tcb) {
        this.kernel = kernel;
        this.tcb = tcb;
    }

    public static boolean failed(long result) {
        return result < 0;
    }

    /** A failure's status: E_NOT_MAPPED, E_NOT_CANONICAL, E_DEAD_DOMAIN, E_ILLEGAL_OPERATION, or the pager's. */
    public static int status(long result) {
        return (int) result;
    }

    /** A failure's x86 page-fault error code ({@link Mmu#PF_P}, ...), 0 if it was no page fault. */
    public static int errorCode(long result) {
        return (int) (result >>> 32) & 0x7FFF_FFFF;
    }

    private static long failure(int status, int errorCode) {
        return FAILED | (long) errorCode << 32 | (status & 0xFFFF_FFFFL);
    }

    /**
     * The physical address of an access of kind {@code access} ({@link Mmu#READ}, WRITE, FETCH)
     * at {@code va}, after the pager has resolved any page faults; or a failure. While a view is
     * open ({@link #pin}), a change of address space fails it with E_ILLEGAL_OPERATION.
     */
    public long physical(long va, int access) {
        Mmu m = mmu();
        if (m == null) {
            return failure(Status.E_DEAD_DOMAIN, 0);
        }
        if (pinned != null && m != pinned) {
            return failure(Status.E_ILLEGAL_OPERATION, 0);
        }
        long pa = m.translate(va, access);
        while (Mmu.isFault(pa)) {
            if (pa == Mmu.GENERAL_PROTECTION) {
                return failure(Status.E_NOT_CANONICAL, 0);
            }
            int code = Mmu.errorCode(pa);
            int st = kernel.pageFault(tcb, va, code);
            if (st != Status.OK) {
                return failure(st, code);
            }
            pa = m.translate(va, access);
        }
        return pa;
    }

    /**
     * How many of {@code left} bytes from {@code va} (at {@code pa}) lie in pages that follow
     * each other in physical memory and allow {@code access}, without faulting; at least up to
     * the page's end.
     */
    public int contiguous(long va, long pa, int left, int access) {
        int n = (int) Math.min(left, 4096 - (va & 0xFFF));
        Mmu m = mmu();
        while (n < left && m != null) {
            if (m.translate(va + n, access) != pa + n) {
                break; // a fault, or not contiguous: the next run starts there
            }
            n += (int) Math.min(left - n, 4096);
        }
        return n;
    }

    /**
     * Opens a view over physical memory: until the matching {@link #unpin} the thread keeps its
     * translations (see {@link Mmu#pin}), so a frame unmapped meanwhile is not reused. Views nest.
     */
    public int pin() {
        if (pins == 0) {
            Mmu m = mmu();
            if (m == null) {
                return Status.E_DEAD_DOMAIN;
            }
            m.pin();
            pinned = m;
        }
        pins++;
        return Status.OK;
    }

    public int unpin() {
        if (pins == 0) {
            return Status.E_ILLEGAL_OPERATION;
        }
        if (--pins == 0) {
            pinned.unpin();
            pinned = null;
        }
        return Status.OK;
    }

    /** The MMU for the address space the thread runs in now; null if its domain is dead. */
    private Mmu mmu() {
        AddressSpace as = tcb.currentDomain().addressSpace();
        if (as != space) {
            if (as == null) {
                return null;
            }
            space = as;
            mmu = kernel.mmu(tcb, as);
        }
        return mmu;
    }
}
