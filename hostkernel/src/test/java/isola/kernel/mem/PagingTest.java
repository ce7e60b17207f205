package isola.kernel.mem;

import static isola.kernel.Status.*;
import static isola.kernel.mem.Paging.*;
import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/**
 * Page-table entries bit for bit against the layouts of Intel's SDM Vol. 3A, Tables 4-14 to
 * 4-20, and the kernel's operations on them, with their errors.
 */
class PagingTest {
    static final long MIB = 1 << 20;
    final PhysicalMemory ram = PhysicalMemory.hosted(64 * MIB);
    final FrameAllocator frames = new FrameAllocator(0, ram.size());
    final Paging paging = new Paging(ram);
    final long root = table();

    long table() {
        long t = frames.allocate(0);
        paging.clearTable(t);
        return t;
    }

    /** Links whatever tables {@code va} needs down to the level that maps a page of {@code size}. */
    void tablesFor(long va, long size) {
        for (int level = 3; level >= leafLevel(size); level--) {
            if (paging.entryAddress(root, va, level) < 0) {
                assertEquals(OK, paging.linkTable(root, va, level, table()));
            }
        }
    }

    @Test
    void entryBitsAreTheSdmLayout() {
        // Table 4-14 (CR3) .. 4-20 (PTE): bit 0 P, 1 R/W, 2 U/S, 3 PWT, 4 PCD, 5 A, 6 D, 7 PS
        // (PAT in a PTE), 8 G, 12 PAT in a large-page entry, 12..51 the address, 63 XD.
        assertEquals(0x1L, P);
        assertEquals(0x2L, RW);
        assertEquals(0x4L, US);
        assertEquals(0x8L, PWT);
        assertEquals(0x10L, PCD);
        assertEquals(0x20L, A);
        assertEquals(0x40L, D);
        assertEquals(0x80L, PS);
        assertEquals(0x80L, PAT_4K);
        assertEquals(0x100L, G);
        assertEquals(0x1000L, PAT_LARGE);
        assertEquals(0x8000_0000_0000_0000L, NX);
        assertEquals(0x000F_FFFF_FFFF_F000L, ADDR);
        assertEquals(0x8000_0001_2345_6007L, pageEntry(0x1_2345_6000L, 1, RW | US | NX), "4 KiB PTE");
        assertEquals(0x1_2345_611FL, pageEntry(0x1_2345_6000L, 1, RW | US | PWT | PCD | G), "4 KiB PTE, caching and global");
        assertEquals(0x4020_0083L, pageEntry(0x4020_0000L, 2, RW), "2 MiB PDE: PS set");
        assertEquals(0x8000_0000_8000_0085L, pageEntry(0x8000_0000L, 3, US | NX), "1 GiB PDPTE: PS set");
        assertEquals(0x5007L, tableEntry(0x5000L), "a table entry: P, R/W, U/S");
    }

    @Test
    void indexesAndCanonicalAddresses() {
        long va = 0x0000_7FFF_FFFF_F000L;
        assertEquals(255, index(va, 4));
        assertEquals(511, index(va, 3));
        assertEquals(511, index(va, 2));
        assertEquals(511, index(va, 1));
        assertEquals(1, index(0x0000_0080_0000_0000L, 4));
        assertEquals(1, index(0x4000_0000L, 3));
        assertEquals(1, index(0x20_0000L, 2));
        assertEquals(1, index(0x1000L, 1));
        assertTrue(canonical(0));
        assertTrue(canonical(0x0000_7FFF_FFFF_FFFFL));
        assertFalse(canonical(0x0000_8000_0000_0000L));
        assertFalse(canonical(0x7FFF_8000_0000_0000L));
        assertTrue(canonical(0xFFFF_8000_0000_0000L));
        assertTrue(canonical(-1L));
    }

    @Test
    void mapsAPageThroughLinkedTablesIntoTheExactEntry() {
        long va = 0x0000_0012_3456_7000L;
        long pa = frames.allocate(0);
        assertEquals(E_NO_TABLE, paging.map(root, va, pa, SIZE_4K, RW | US), "no PDPT yet");
        tablesFor(va, SIZE_4K);
        assertEquals(OK, paging.map(root, va, pa, SIZE_4K, RW | US));
        long pml4e = ram.read64(root + 8L * index(va, 4));
        long pdpte = ram.read64((pml4e & ADDR) + 8L * index(va, 3));
        long pde = ram.read64((pdpte & ADDR) + 8L * index(va, 2));
        long pte = ram.read64((pde & ADDR) + 8L * index(va, 1));
        assertEquals(P | RW | US, pml4e & 0xFFF);
        assertEquals(pa | P | RW | US, pte);
        assertEquals(pte, paging.leaf(root, va, SIZE_4K));
    }

    @Test
    void badRequestsGetDistinctErrorsAndChangeNothing() {
        long va = 0x4000_0000L;
        tablesFor(va, SIZE_4K);
        long pa = frames.allocate(0);
        assertEquals(OK, paging.map(root, va, pa, SIZE_4K, RW | US));
        long before = paging.leaf(root, va, SIZE_4K);
        assertEquals(E_NOT_CANONICAL, paging.map(root, 0x0000_8000_0000_0000L, pa, SIZE_4K, US));
        assertEquals(0x0000_8000_0000_0000L, paging.errorAddress());
        assertEquals(E_UNALIGNED, paging.map(root, va + 0x800, pa, SIZE_4K, US));
        assertEquals(E_UNALIGNED, paging.map(root, va + SIZE_4K, pa + 8, SIZE_4K, US), "unaligned frame");
        assertEquals(E_UNALIGNED, paging.map(root, va + SIZE_4K, ram.size(), SIZE_4K, US), "frame outside RAM");
        assertEquals(E_MAPPED, paging.map(root, va, pa, SIZE_4K, US), "overlap");
        assertEquals(E_MAPPED, paging.map(root, va, 0, SIZE_2M, US), "a page table is where the 2 MiB page would go");
        assertEquals(E_INVALID_ARG, paging.map(root, va + SIZE_4K, pa, 8192, US), "no such page size");
        assertEquals(E_INVALID_ARG, paging.map(root, va + SIZE_4K, pa, SIZE_4K, US | A), "A is the MMU's");
        assertEquals(E_INVALID_ARG, paging.map(root, va + SIZE_4K, pa, SIZE_4K, US | G), "G is the kernel's");
        assertEquals(E_NOT_MAPPED, paging.protect(root, va + SIZE_4K, SIZE_4K, US));
        assertEquals(E_NOT_MAPPED, paging.unmap(root, va + SIZE_2M, SIZE_4K, new long[1]), "no table there either");
        assertEquals(before, paging.leaf(root, va, SIZE_4K), "the mapping is unchanged");
        long[] out = new long[1];
        assertEquals(OK, paging.unmap(root, va, SIZE_4K, out));
        assertEquals(pa, out[0]);
        assertEquals(E_NOT_MAPPED, paging.unmap(root, va, SIZE_4K, out), "double unmap");
        assertEquals(E_FRAME_MAPPED, paging.unlinkTable(root, 0, 3, out), "the PDPT still holds a directory");
        assertEquals(OK, paging.unlinkTable(root, va, 1, out), "an empty page table can go");
        assertEquals(E_NOT_MAPPED, paging.unlinkTable(root, va, 1, out));
        assertEquals(E_MAPPED, paging.linkTable(root, va, 2, table()), "the directory is still there");
    }

    @Test
    void protectKeepsAccessedAndDirtyAndTheFrame() {
        long va = 0x7000_0000L;
        tablesFor(va, SIZE_2M);
        long pa = frames.allocate(9);
        assertEquals(OK, paging.map(root, va, pa, SIZE_2M, RW | US));
        Mmu mmu = new Mmu(ram, new AddressSpace(root));
        assertFalse(Mmu.isFault(mmu.translate(va + 5, Mmu.WRITE)));
        assertEquals(OK, paging.protect(root, va, SIZE_2M, US | NX));
        assertEquals(pa | P | US | NX | PS | A | D, paging.leaf(root, va, SIZE_2M));
    }
}
