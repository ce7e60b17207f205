package isola.kernel.mem;

/**
 * A domain's address space as the MMUs see it: the root of its page tables (its CR3 value) and
 * an invalidation epoch. The kernel bumps the epoch after it removes or narrows a mapping;
 * every {@link Mmu} compares it on each translation and drops its TLB when it changed, which is
 * the hosted form of a TLB shootdown.
 */
public final class AddressSpace {
    private final long root;
    private volatile long epoch;

    public AddressSpace(long root) {
        if ((root & (Paging.SIZE_4K - 1)) != 0 || root < 0) {
            throw new IllegalArgumentException("page-table root 0x" + Long.toHexString(root) + " is not a frame address");
        }
        this.root = root;
    }

    /** The PML4's physical address (CR3 without flags). */
    public long root() {
        return root;
    }

    long epoch() {
        return epoch;
    }

    /** Makes every MMU of this address space forget its cached translations (kernel, after a change). */
    public void invalidate() {
        epoch++; // under the kernel lock: one writer
    }
}
