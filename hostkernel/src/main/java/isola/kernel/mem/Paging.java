package isola.kernel.mem;

import static isola.kernel.Status.*;

/**
 * x86-64 4-level paging (Intel SDM Vol. 3A, 4.5), on tables stored in frames of
 * {@link PhysicalMemory}: the entry format, and the kernel's operations on a hierarchy given by
 * its root (the CR3 value: the PML4's physical address).
 *
 * <p>Levels are numbered as the SDM does: 4 is the PML4, 3 the PDPT, 2 the page directory, 1
 * the page table. A 1 GiB page is a PDPTE with PS set, a 2 MiB page a PDE with PS set, a 4 KiB
 * page a PTE. Tables are linked explicitly ({@link #linkTable}), as in seL4: mapping a page
 * never allocates, so a domain pays for its own page tables and an out-of-memory can only come
 * from an explicit request.
 *
 * <p>Operations check everything before they change anything and return a status; on error
 * {@link #errorAddress} says which address was wrong.
 */
public final class Paging {
    // ---- entry bits (Tables 4-15 to 4-20) ----
    public static final long P = 1L;
    public static final long RW = 1L << 1;
    public static final long US = 1L << 2;
    public static final long PWT = 1L << 3;
    public static final long PCD = 1L << 4;
    public static final long A = 1L << 5;
    /** Dirty: leaf entries only. */
    public static final long D = 1L << 6;
    /** Page size: a PDPTE or PDE that maps a page instead of referencing a table. */
    public static final long PS = 1L << 7;
    /** PAT in a 4 KiB PTE (bit 7, where PS is in upper levels). */
    public static final long PAT_4K = 1L << 7;
    /** Global: leaf entries only. */
    public static final long G = 1L << 8;
    /** PAT in a 2 MiB or 1 GiB page entry. */
    public static final long PAT_LARGE = 1L << 12;
    /** Execute-disable (with IA32_EFER.NXE = 1). */
    public static final long NX = 1L << 63;
    /** Physical address bits 12..51 (MAXPHYADDR 52). */
    public static final long ADDR = 0x000F_FFFF_FFFF_F000L;
    static final long ADDR_2M = 0x000F_FFFF_FFE0_0000L;
    static final long ADDR_1G = 0x000F_FFFF_C000_0000L;
    /** Bits that must be 0 in a 2 MiB / 1 GiB page entry (between PAT and the address). */
    static final long RSVD_2M = 0x0000_0000_001F_E000L;
    static final long RSVD_1G = 0x0000_0000_3FFF_E000L;
    /**
     * Flags a mapping request may set: the rest are the MMU's (A, D), structural (PS), or the
     * kernel's (G: a global user page would outlive address-space switches on a real CPU).
     */
    public static final long MAP_FLAGS = RW | US | PWT | PCD | NX;

    public static final long SIZE_4K = 1L << 12;
    public static final long SIZE_2M = 1L << 21;
    public static final long SIZE_1G = 1L << 30;

    private final PhysicalMemory ram;
    /** The address an operation's error is about. */
    private long errorAddress;

    public Paging(PhysicalMemory ram) {
        this.ram = ram;
    }

    public long errorAddress() {
        return errorAddress;
    }

    /** True if bits 63..47 of {@code va} are all equal (48-bit linear addresses). */
    public static boolean canonical(long va) {
        return (va << 16 >> 16) == va;
    }

    /** Index of {@code va}'s entry in its level-{@code level} table (9 bits per level). */
    public static int index(long va, int level) {
        return (int) (va >>> (3 + 9 * level)) & 511;
    }

    /** The level whose leaf entry maps a page of {@code size} (1, 2 or 3), or 0 if none does. */
    public static int leafLevel(long size) {
        return size == SIZE_4K ? 1 : size == SIZE_2M ? 2 : size == SIZE_1G ? 3 : 0;
    }

    static long pageSize(int level) {
        return 1L << (3 + 9 * level);
    }

    /** Physical address an entry of {@code level} points to (a table or a page). */
    public static long target(long entry, int level, boolean page) {
        return entry & (!page || level == 1 ? ADDR : level == 2 ? ADDR_2M : ADDR_1G);
    }

    /** A page entry of {@code level} for {@code pa} with the request's {@code flags}. */
    public static long pageEntry(long pa, int level, long flags) {
        long e = pa | P | flags;
        return level == 1 ? e : e | PS;
    }

    /** A table entry: user, writable, executable, so the leaves alone decide (as is usual). */
    public static long tableEntry(long tablePa) {
        return tablePa | P | RW | US;
    }

    /** A fresh table: a zeroed frame. */
    public void clearTable(long tablePa) {
        ram.zero(tablePa, SIZE_4K);
    }

    /** {@link #entryAddress}: a table on the way is missing. */
    public static final long NO_TABLE = -1;
    /** {@link #entryAddress}: a large page above the level covers the address. */
    public static final long PAGE_ABOVE = -2;

    /**
     * Physical address of {@code va}'s entry at {@code level}, walking down from the root
     * through present table entries; {@link #NO_TABLE} or {@link #PAGE_ABOVE} if the walk stops
     * above {@code level}.
     */
    public long entryAddress(long root, long va, int level) {
        long table = root;
        for (int l = 4; l > level; l--) {
            long e = ram.read64(table + 8L * index(va, l));
            if ((e & P) == 0) {
                return NO_TABLE;
            }
            if ((e & PS) != 0) {
                return PAGE_ABOVE;
            }
            table = e & ADDR;
        }
        return table + 8L * index(va, level);
    }

    /**
     * Links a zeroed table at {@code tablePa} as {@code va}'s level-{@code level} table (3: a
     * PDPT in the PML4, 2: a page directory, 1: a page table). Its parent must exist and the
     * slot be free.
     */
    public int linkTable(long root, long va, int level, long tablePa) {
        errorAddress = va;
        if (!canonical(va)) {
            return E_NOT_CANONICAL;
        }
        if (level < 1 || level > 3 || (tablePa & (SIZE_4K - 1)) != 0) {
            return E_INVALID_ARG;
        }
        long slot = entryAddress(root, va, level + 1);
        if (slot < 0) {
            return slot == PAGE_ABOVE ? E_MAPPED : E_NO_TABLE;
        }
        if ((ram.read64(slot) & P) != 0) {
            return E_MAPPED;
        }
        ram.write64Release(slot, tableEntry(tablePa));
        return OK;
    }

    /**
     * Unlinks {@code va}'s level-{@code level} table if it maps nothing; its physical address
     * goes to {@code out[0]} so the caller can free it.
     */
    public int unlinkTable(long root, long va, int level, long[] out) {
        errorAddress = va;
        if (!canonical(va)) {
            return E_NOT_CANONICAL;
        }
        if (level < 1 || level > 3) {
            return E_INVALID_ARG;
        }
        long slot = entryAddress(root, va, level + 1);
        long e = slot < 0 ? 0 : ram.read64(slot);
        if ((e & P) == 0 || (e & PS) != 0) {
            return E_NOT_MAPPED;
        }
        long table = e & ADDR;
        for (int i = 0; i < 512; i++) {
            if ((ram.read64(table + 8L * i) & P) != 0) {
                return E_FRAME_MAPPED; // still maps something
            }
        }
        ram.write64Release(slot, 0);
        out[0] = table;
        return OK;
    }

    /** Maps the page of {@code size} at {@code pa} at {@code va} with {@code flags} (see {@link #MAP_FLAGS}). */
    public int map(long root, long va, long pa, long size, long flags) {
        errorAddress = va;
        int level = leafLevel(size);
        if (level == 0 || (flags & ~MAP_FLAGS) != 0) {
            return E_INVALID_ARG;
        }
        if (!canonical(va)) {
            return E_NOT_CANONICAL;
        }
        if ((va & (size - 1)) != 0) {
            return E_UNALIGNED;
        }
        if ((pa & (size - 1)) != 0 || pa < 0 || pa + size > ram.size()) {
            errorAddress = pa;
            return E_UNALIGNED;
        }
        long slot = entryAddress(root, va, level);
        if (slot < 0) {
            return slot == PAGE_ABOVE ? E_MAPPED : E_NO_TABLE; // inside a larger page: overlap
        }
        if ((ram.read64(slot) & P) != 0) {
            return E_MAPPED; // a page, or (above level 1) a table
        }
        ram.write64Release(slot, pageEntry(pa, level, flags));
        return OK;
    }

    /**
     * Unmaps the page of {@code size} at {@code va}; its physical address goes to {@code out[0]}.
     * The caller invalidates TLBs before it reuses the frame.
     */
    public int unmap(long root, long va, long size, long[] out) {
        long slot = leafSlot(root, va, size);
        if (slot < 0) {
            return (int) slot;
        }
        long e = ram.getAndSet64(slot, 0); // atomically: an MMU may be setting A or D
        out[0] = target(e, leafLevel(size), true);
        return OK;
    }

    /** Changes the flags of the page of {@code size} at {@code va}, keeping A and D. */
    public int protect(long root, long va, long size, long flags) {
        if ((flags & ~MAP_FLAGS) != 0) {
            errorAddress = va;
            return E_INVALID_ARG;
        }
        long slot = leafSlot(root, va, size);
        if (slot < 0) {
            return (int) slot;
        }
        long e;
        do { // a CAS: an MMU may set A or D meanwhile, which must not be lost
            e = ram.read64(slot);
        } while (!ram.cas64(slot, e, (e & ~MAP_FLAGS) | flags));
        return OK;
    }

    /**
     * The leaf entry of the page of {@code size} at {@code va}, or 0 (not present) if there is
     * none. (Not a status: an entry with NX set is negative.)
     */
    public long leaf(long root, long va, long size) {
        long slot = leafSlot(root, va, size);
        return slot < 0 ? 0 : ram.read64(slot);
    }

    /** Address of the present leaf entry mapping a page of {@code size} at {@code va}, or a negative status. */
    public long leafSlot(long root, long va, long size) {
        errorAddress = va;
        int level = leafLevel(size);
        if (level == 0) {
            return E_INVALID_ARG;
        }
        if (!canonical(va)) {
            return E_NOT_CANONICAL;
        }
        if ((va & (size - 1)) != 0) {
            return E_UNALIGNED;
        }
        long slot = entryAddress(root, va, level);
        if (slot < 0) {
            return E_NOT_MAPPED;
        }
        long e = ram.read64(slot);
        if ((e & P) == 0 || (level > 1 && (e & PS) == 0)) {
            return E_NOT_MAPPED;
        }
        return slot;
    }
}
