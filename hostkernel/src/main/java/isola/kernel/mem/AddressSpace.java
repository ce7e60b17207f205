package isola.kernel.mem;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A domain's address space as the MMUs see it: the root of its page tables (its CR3 value) and
 * the invalidation epoch. The kernel bumps the epoch after it removes or narrows a mapping;
 * every {@link Mmu} compares it on each translation and drops its TLB when it changed, which is
 * the hosted form of a TLB shootdown. The kernel's address spaces share one epoch, so the
 * kernel can tell when every MMU has seen a change ({@link Mmu#seen}) before it reuses a frame.
 */
public final class AddressSpace {
    private final long root;
    private final AtomicLong epoch;

    /** An address space with an epoch of its own. */
    public AddressSpace(long root) {
        this(root, new AtomicLong());
    }

    /** An address space whose invalidations share {@code epoch} with others. */
    public AddressSpace(long root, AtomicLong epoch) {
        if ((root & (Paging.SIZE_4K - 1)) != 0 || root < 0) {
            throw new IllegalArgumentException("page-table root 0x" + Long.toHexString(root) + " is not a frame address");
        }
        this.root = root;
        this.epoch = epoch;
    }

    /** The PML4's physical address (CR3 without flags). */
    public long root() {
        return root;
    }

    public long epoch() {
        return epoch.get();
    }

    /** Makes every MMU of this address space forget its cached translations (kernel, after a change). */
    public void invalidate() {
        epoch.incrementAndGet();
    }
}
