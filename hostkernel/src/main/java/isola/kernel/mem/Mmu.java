package isola.kernel.mem;

import static isola.kernel.mem.Paging.*;

/**
 * A hosted MMU: translates user-mode accesses to one {@link AddressSpace} with the x86-64 rules
 * (Intel SDM Vol. 3A, 4.5 and 4.6), through a small TLB. One per thread, like one per core: it
 * is not thread-safe, and needs no locking for that reason.
 *
 * <p>A walk needs every level present; a user access needs U/S at every level, a write R/W at
 * every level (CR0.WP = 1), a fetch no XD at any level (EFER.NXE = 1); reserved bits set in a
 * large-page entry, or PS in a PML4E, are a reserved-bit fault. The walk sets A in each entry
 * it uses and D in the leaf on a write, atomically, as the CPU does. A non-canonical address
 * is a general-protection fault, not a page fault.
 *
 * <p>The TLB is direct-mapped, {@link #TLB_ENTRIES} entries of one 4 KiB page each (a large
 * page fills one entry per 4 KiB page used). An entry remembers whether writes are allowed and
 * whether the leaf was already dirty: the first write through a clean entry walks again to set
 * D, as the CPU does.
 */
public final class Mmu {
    /** Access kinds, as the bits of the page-fault error code they set. */
    public static final int READ = 0;
    public static final int WRITE = 1 << 1;
    public static final int FETCH = 1 << 4;

    /** Page-fault error code bits (SDM 4.7). */
    public static final int PF_P = 1;
    public static final int PF_W = 1 << 1;
    public static final int PF_U = 1 << 2;
    public static final int PF_RSVD = 1 << 3;
    public static final int PF_I = 1 << 4;

    /** Set in a result that is a fault; the low 32 bits are the #PF error code. */
    public static final long FAULT = Long.MIN_VALUE;
    /** A non-canonical address: #GP (vector 13) rather than #PF (vector 14). */
    public static final long GENERAL_PROTECTION = FAULT | (1L << 32);

    public static final int TLB_ENTRIES = 64;
    private static final long TLB_W = RW;
    private static final long TLB_DIRTY = D;

    private final PhysicalMemory ram;
    private final AddressSpace space;
    private final long root;
    /** Virtual page number + 1 of each entry; 0: empty. */
    private final long[] tags = new long[TLB_ENTRIES];
    /** Physical 4 KiB page of each entry, with TLB_W, TLB_DIRTY and NX. */
    private final long[] pages = new long[TLB_ENTRIES];
    private long epoch;
    /** The last epoch this MMU adopted: every access it made before, it made before adopting this. */
    private volatile long seen;
    /**
     * Views open over translations ({@link #pin}): while any is, {@link #seen} does not advance
     * and the kernel may not take the thread's waiting for quiescence. Written by the owner only.
     */
    private volatile int pins;
    private final Object owner;
    private long walks;

    public Mmu(PhysicalMemory ram, AddressSpace space) {
        this(ram, space, null);
    }

    /** An MMU used by {@code owner} (the kernel's thread), which the kernel may ask whether it has {@link #seen} a change. */
    public Mmu(PhysicalMemory ram, AddressSpace space, Object owner) {
        this.ram = ram;
        this.space = space;
        this.root = space.root();
        this.epoch = space.epoch();
        this.seen = epoch;
        this.owner = owner;
    }

    public Object owner() {
        return owner;
    }

    public AddressSpace space() {
        return space;
    }

    /**
     * The last invalidation epoch this MMU has adopted. Its accesses through translations it made
     * before it adopted an epoch are complete (program order, and a volatile write), so a frame
     * unmapped at that epoch is out of its reach.
     */
    public long seen() {
        return seen;
    }

    /**
     * Opens a view: translations made from now on stay in use, past later invalidations, until
     * the matching {@link #unpin} (a view over physical memory is a TLB entry held for its
     * length: the kernel keeps a frame unmapped meanwhile out of reuse until then). Pins nest.
     */
    public void pin() {
        pins = pins + 1;
    }

    /** Closes a view opened by {@link #pin}; the last one adopts the epoch the TLB is at. */
    public void unpin() {
        int n = pins - 1;
        if (n < 0) {
            throw new IllegalStateException("unpin without pin");
        }
        pins = n;
        if (n == 0) {
            seen = epoch;
        }
    }

    /** Whether a view is open: the owner's translations are in use even while it waits in a system call. */
    public boolean pinned() {
        return pins != 0;
    }

    /** True if a {@link #translate} result is a fault. */
    public static boolean isFault(long result) {
        return result < 0;
    }

    /** The page-fault error code of a fault result. */
    public static int errorCode(long result) {
        return (int) result;
    }

    /**
     * The physical address of a user-mode {@code access} (READ, WRITE or FETCH) at {@code va},
     * or a fault ({@link #isFault}): {@link #GENERAL_PROTECTION}, or FAULT with the #PF error
     * code. The access is not retried: the caller delivers the fault and asks again.
     */
    public long translate(long va, int access) {
        long e = space.epoch();
        if (e != epoch) {
            flush(e);
        }
        long vpn = va >>> 12;
        int i = (int) vpn & (TLB_ENTRIES - 1);
        if (tags[i] == vpn + 1) {
            long page = pages[i];
            if (access == READ || (access == WRITE ? (page & (TLB_W | TLB_DIRTY)) == (TLB_W | TLB_DIRTY) : page >= 0)) {
                return (page & ADDR) | (va & 0xFFF);
            }
        }
        return walk(va, access, i, vpn);
    }

    /** Translations that missed the TLB (or needed the walk to set D). */
    public long walks() {
        return walks;
    }

    private void flush(long e) {
        java.util.Arrays.fill(tags, 0);
        epoch = e;
        if (pins == 0) {
            seen = e;
        }
    }

    private long walk(long va, int access, int i, long vpn) {
        walks++;
        if (!canonical(va)) {
            return GENERAL_PROTECTION;
        }
        long r;
        while ((r = walkOnce(va, access, i, vpn)) == RETRY) {
            // the kernel changed an entry between the walk's read and its A/D update
        }
        return r;
    }

    /** A walk that lost the race to set A or D on an entry the kernel changed meanwhile. */
    private static final long RETRY = FAULT | (2L << 32);

    private long walkOnce(long va, int access, int i, long vpn) {
        long table = root;
        long allow = RW | US;
        long nx = 0;
        for (int level = 4; ; level--) {
            long slot = table + 8L * index(va, level);
            long entry = ram.read64Acquire(slot);
            if ((entry & P) == 0) {
                return FAULT | access | PF_U;
            }
            boolean page = level == 1 || (level < 4 && (entry & PS) != 0);
            if ((level == 4 && (entry & PS) != 0) || (page && level == 2 && (entry & RSVD_2M) != 0)
                    || (page && level == 3 && (entry & RSVD_1G) != 0)) {
                return FAULT | access | PF_U | PF_P | PF_RSVD;
            }
            allow &= entry;
            nx |= entry & NX;
            if (!page) {
                if ((entry & A) == 0 && !ram.cas64(slot, entry, entry | A)) {
                    return RETRY;
                }
                table = entry & ADDR;
                continue;
            }
            if ((allow & US) == 0 || (access == WRITE && (allow & RW) == 0) || (access == FETCH && nx != 0)) {
                return FAULT | access | PF_U | PF_P;
            }
            long set = access == WRITE ? A | D : A;
            if ((entry & set) != set && !ram.cas64(slot, entry, entry | set)) {
                return RETRY; // only if still the same entry, as the CPU's locked update
            }
            long pa = target(entry, level, true) | (va & (pageSize(level) - 1) & ~0xFFFL);
            tags[i] = vpn + 1;
            pages[i] = pa | (allow & RW) | ((entry | set) & D) | nx;
            return pa | (va & 0xFFF);
        }
    }
}
