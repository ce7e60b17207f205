package isola.kernel.mem;

import static isola.kernel.Status.OK;
import static isola.kernel.mem.Mmu.*;
import static isola.kernel.mem.Paging.*;
import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/** The hosted MMU: the CPU's translation rules, accessed and dirty bits, and its TLB. */
class MmuTest {
    static final long MIB = 1 << 20;
    final PhysicalMemory ram = PhysicalMemory.hosted(2048 * MIB); // sparse: only touched frames cost
    final FrameAllocator frames = new FrameAllocator(0, ram.size());
    final Paging paging = new Paging(ram);
    final long root = table();
    final AddressSpace space = new AddressSpace(root);
    final Mmu mmu = new Mmu(ram, space);

    long table() {
        long t = frames.allocate(0);
        paging.clearTable(t);
        return t;
    }

    long map(long va, long size, long flags) {
        for (int level = 3; level >= leafLevel(size); level--) {
            if (paging.entryAddress(root, va, level) < 0) {
                assertEquals(OK, paging.linkTable(root, va, level, table()));
            }
        }
        long pa = frames.allocate(Long.numberOfTrailingZeros(size) - 12);
        assertEquals(OK, paging.map(root, va, pa, size, flags));
        return pa;
    }

    @Test
    void translatesEachPageSizeWithTheOffset() {
        long p4 = map(0x1000_0000L, SIZE_4K, RW | US);
        long p2 = map(0x4020_0000L, SIZE_2M, RW | US);
        long p1 = map(0x80_4000_0000L, SIZE_1G, US);
        assertEquals(p4 + 0x123, mmu.translate(0x1000_0123L, READ));
        assertEquals(p2 + 0x1_2345, mmu.translate(0x4021_2345L, WRITE));
        assertEquals(p1 + 0x3456_789A, mmu.translate(0x80_7456_789AL, READ));
    }

    @Test
    void faultsCarryTheErrorCodeTheCpuWouldPush() {
        map(0x1000L, SIZE_4K, US); // read-only
        map(0x2000L, SIZE_4K, RW); // supervisor only
        map(0x3000L, SIZE_4K, RW | US | NX);
        assertEquals(FAULT | PF_U, mmu.translate(0x9000L, READ), "not present");
        assertEquals(FAULT | PF_U | PF_W, mmu.translate(0x9000L, WRITE), "not present, write");
        assertEquals(FAULT | PF_U | PF_W | PF_P, mmu.translate(0x1008L, WRITE), "write to read-only");
        assertEquals(FAULT | PF_U | PF_P, mmu.translate(0x2000L, READ), "user access to a supervisor page");
        assertEquals(FAULT | PF_U | PF_I | PF_P, mmu.translate(0x3000L, FETCH), "fetch from XD");
        assertFalse(isFault(mmu.translate(0x3000L, WRITE)));
        assertEquals(GENERAL_PROTECTION, mmu.translate(0x0000_8000_0000_0000L, READ), "non-canonical: #GP");
        // A reserved bit in a 2 MiB entry (bit 13) is a reserved-bit fault.
        long va = 0x60_0000_0000L;
        map(va, SIZE_2M, RW | US);
        long slot = paging.entryAddress(root, va, 2);
        ram.write64(slot, ram.read64(slot) | (1L << 13));
        assertEquals(FAULT | PF_U | PF_P | PF_RSVD, mmu.translate(va, READ));
    }

    @Test
    void theWalkSetsAccessedAndDirtyAsTheCpuDoes() {
        long va = 0x5000_0000L;
        long pa = map(va, SIZE_4K, RW | US);
        long pte = paging.entryAddress(root, va, 1);
        long pml4e = root + 8L * index(va, 4);
        assertEquals(0, ram.read64(pte) & (A | D));
        mmu.translate(va, READ);
        assertEquals(A, ram.read64(pte) & (A | D), "a read sets A");
        assertEquals(A, ram.read64(pml4e) & A, "and A in the tables used");
        long walks = mmu.walks();
        mmu.translate(va, WRITE);
        assertEquals(walks + 1, mmu.walks(), "the first write through a clean TLB entry walks again");
        assertEquals(A | D, ram.read64(pte) & (A | D), "a write sets D");
        mmu.translate(va + 8, WRITE);
        assertEquals(walks + 1, mmu.walks(), "then it hits");
        assertEquals(pa | P | RW | US | A | D, ram.read64(pte));
    }

    @Test
    void theTlbServesUntilTheAddressSpaceIsInvalidated() {
        long va = 0x7000_0000L;
        long pa = map(va, SIZE_4K, RW | US);
        assertEquals(pa, mmu.translate(va, READ));
        long walks = mmu.walks();
        assertEquals(pa + 16, mmu.translate(va + 16, READ));
        assertEquals(walks, mmu.walks(), "a TLB hit");
        long[] out = new long[1];
        assertEquals(OK, paging.unmap(root, va, SIZE_4K, out));
        assertEquals(pa, mmu.translate(va, READ), "stale until invalidated, as on the CPU");
        space.invalidate();
        assertEquals(FAULT | PF_U, mmu.translate(va, READ), "after the shootdown, the walk sees the unmap");
    }
}
