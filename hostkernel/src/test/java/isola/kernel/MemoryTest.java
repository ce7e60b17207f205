package isola.kernel;

import static isola.kernel.Status.*;
import static isola.kernel.mem.Paging.*;
import static org.junit.jupiter.api.Assertions.*;

import isola.kernel.mem.Mmu;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Frames and page tables as capabilities: allocation from a domain's frame quota, linking
 * tables and mapping frames in its own or another domain's address space, sharing a frame
 * between two domains, the errors that change nothing, and everything given back when a domain
 * dies.
 */
class MemoryTest {
    static final long VA = 0x0000_0040_0000_0000L;
    static final int T3 = 1, T2 = 2, T1 = 3, FRAME = 4, FRAME2 = 5, RO = 6, DOM = 7;

    KernelRig rig;
    Kernel k;
    long freeAtStart;

    @BeforeEach
    void setUp() {
        rig = KernelRig.deterministic();
        k = rig.k;
    }

    @AfterEach
    void tearDown() {
        rig.close();
    }

    Domain domain(String name, long frames) {
        Domain d = rig.domain(name);
        k.setFrameQuota(d, frames);
        return d;
    }

    /** Allocates and links the three tables that cover {@link #VA} in {@code self}'s own space. */
    void tables(Tcb t) {
        assertEquals(OK, k.tableAlloc(t, T3, 3));
        assertEquals(OK, k.tableAlloc(t, T2, 2));
        assertEquals(OK, k.tableAlloc(t, T1, 1));
        assertEquals(OK, k.tableLink(t, Kernel.SELF, T3, VA));
        assertEquals(OK, k.tableLink(t, Kernel.SELF, T2, VA));
        assertEquals(OK, k.tableLink(t, Kernel.SELF, T1, VA));
    }

    long translate(Domain d, long va, int access) {
        return new Mmu(k.memory.ram, d.addressSpace()).translate(va, access);
    }

    void run(Domain d, KernelRig.ThreadBody body) {
        rig.spawn(d, "t", 10, body);
        rig.runAll();
    }

    @Test
    void framesComeFromTheQuotaZeroedAndGoBackWhenDeleted() {
        long free = k.framesFree();
        Domain d = domain("d", 4);
        run(d, t -> {
            assertEquals(OK, k.frameAlloc(t, FRAME, SIZE_4K));
            Frame f = (Frame) d.cspace().get(FRAME).object;
            k.memory.ram.write64(f.physicalAddress() + 64, 0xDEAD);
            assertEquals(1, d.framesUsed());
            assertEquals(E_NO_MEMORY, k.frameAlloc(t, FRAME2, SIZE_2M), "512 frames exceed the quota of 4");
            assertTrue(Status.describe(t.error, "frameAlloc", t.errorArg).contains("quota (frame)"));
            assertNull(d.cspace().get(FRAME2), "nothing was installed");
            assertEquals(E_INVALID_ARG, k.frameAlloc(t, FRAME2, 8192), "no such page size");
            assertEquals(OK, k.capDelete(t, FRAME));
            assertEquals(0, d.framesUsed());
            assertEquals(OK, k.frameAlloc(t, FRAME, SIZE_4K));
            Frame g = (Frame) d.cspace().get(FRAME).object;
            assertEquals(0, k.memory.ram.read64(g.physicalAddress() + 64), "a new frame is zeroed");
        });
        assertEquals(free - 2, k.framesFree(), "the root table and the one frame");
    }

    @Test
    void mapsThroughLinkedTablesAndTheMmuSeesIt() {
        Domain d = domain("d", 16);
        long[] pa = new long[1];
        run(d, t -> {
            assertEquals(OK, k.frameAlloc(t, FRAME, SIZE_4K));
            pa[0] = ((Frame) d.cspace().get(FRAME).object).physicalAddress();
            assertEquals(E_NO_TABLE, k.map(t, Kernel.SELF, FRAME, VA, RW | US));
            tables(t);
            assertEquals(OK, k.map(t, Kernel.SELF, FRAME, VA, RW | US));
        });
        assertEquals(pa[0] + 0x10, translate(d, VA + 0x10, Mmu.WRITE));
        assertEquals(4, d.framesUsed(), "three tables and the frame");
    }

    @Test
    void badRequestsGetDistinctErrorsAndChangeNothing() {
        Domain d = domain("d", 16);
        run(d, t -> {
            tables(t);
            assertEquals(OK, k.frameAlloc(t, FRAME, SIZE_4K));
            assertEquals(OK, k.map(t, Kernel.SELF, FRAME, VA, RW | US));
            assertEquals(OK, k.frameAlloc(t, FRAME2, SIZE_4K));
            assertEquals(E_MAPPED, k.map(t, Kernel.SELF, FRAME2, VA, US), "overlap");
            assertEquals(E_NOT_CANONICAL, k.map(t, Kernel.SELF, FRAME2, 0x0000_8000_0000_0000L, US));
            assertEquals("map: E_NOT_CANONICAL: address 0x800000000000 is not canonical",
                    Status.describe(t.error, "map", t.errorArg));
            assertEquals(E_UNALIGNED, k.map(t, Kernel.SELF, FRAME2, VA + 0x10, US));
            assertEquals(E_NOT_MAPPED, k.unmap(t, Kernel.SELF, VA + SIZE_4K, SIZE_4K));
            assertEquals(E_WRONG_TYPE, k.map(t, Kernel.SELF, T1, VA + SIZE_4K, US), "a table is not a frame");
            // A read-only copy of the frame capability maps readable, not writable.
            k.grantCap(d, FRAME2, d, RO, Rights.RECV, 0);
            assertEquals(E_NO_RIGHTS, k.map(t, Kernel.SELF, RO, VA + SIZE_4K, RW | US));
            assertEquals(OK, k.map(t, Kernel.SELF, RO, VA + SIZE_4K, US));
            assertEquals(E_INVALID_ARG, k.protect(t, Kernel.SELF, VA + SIZE_4K, SIZE_4K, RW | US), "no R/W upgrade");
            assertEquals(OK, k.protect(t, Kernel.SELF, VA + SIZE_4K, SIZE_4K, US | NX), "an NX entry (negative as a long) is an entry");
            assertEquals(E_INVALID_ARG, k.protect(t, Kernel.SELF, VA + SIZE_4K, SIZE_4K, RW | US | NX), "nor from an NX entry");
            // The last capability of a mapped frame cannot go; a linked table's neither.
            assertEquals(E_FRAME_MAPPED, k.capDelete(t, FRAME));
            assertEquals(E_FRAME_MAPPED, k.capDelete(t, T1));
            assertEquals(E_FRAME_MAPPED, k.tableUnlink(t, Kernel.SELF, VA, 1), "the table still maps pages");
            assertEquals(OK, k.unmap(t, Kernel.SELF, VA, SIZE_4K));
            assertEquals(E_NOT_MAPPED, k.unmap(t, Kernel.SELF, VA, SIZE_4K), "double unmap");
            assertEquals(OK, k.capDelete(t, FRAME));
        });
        assertTrue(Mmu.isFault(translate(d, VA, Mmu.READ)), "unmapped");
        assertFalse(Mmu.isFault(translate(d, VA + SIZE_4K, Mmu.READ)));
        assertEquals(Mmu.FAULT | Mmu.PF_U | Mmu.PF_W | Mmu.PF_P, translate(d, VA + SIZE_4K, Mmu.WRITE), "read-only");
    }

    @Test
    void twoDomainsShareAFrameAndItOutlivesItsCreator() {
        long free = k.framesFree();
        Domain a = domain("a", 16);
        Domain b = domain("b", 16);
        run(a, t -> {
            tables(t);
            assertEquals(OK, k.frameAlloc(t, FRAME, SIZE_4K));
            assertEquals(OK, k.map(t, Kernel.SELF, FRAME, VA, RW | US));
        });
        k.grantCap(a, FRAME, b, FRAME, Rights.RECV, 0); // read-only for b
        run(b, t -> {
            tables(t);
            assertEquals(OK, k.map(t, Kernel.SELF, FRAME, VA + SIZE_4K, US));
        });
        long pa = translate(a, VA, Mmu.WRITE);
        k.memory.ram.write64(pa + 8, 42); // a writes ...
        assertEquals(42, k.memory.ram.read64(translate(b, VA + SIZE_4K + 8, Mmu.READ)), "... b reads, no copy");
        k.killDomainNow(a);
        assertEquals(42, k.memory.ram.read64(translate(b, VA + SIZE_4K + 8, Mmu.READ)), "b's mapping holds the frame");
        k.killDomainNow(b);
        assertEquals(free, k.framesFree(), "every frame and table of both came back");
    }

    /**
     * A mapping belongs to the capability that made it (as in seL4): one page per capability;
     * moving the capability moves the mapping; revoking a shared frame unmaps it from the domain
     * that mapped it through a derived capability, and deleting a non-last capability unmaps its
     * page, while the frame lives on.
     */
    @Test
    void revokingASharedFrameUnmapsItWhereverItWasMapped() {
        Domain a = domain("a", 16);
        Domain b = domain("b", 16);
        run(a, t -> {
            tables(t);
            assertEquals(OK, k.frameAlloc(t, FRAME, SIZE_4K));
            assertEquals(OK, k.map(t, Kernel.SELF, FRAME, VA, RW | US));
            assertEquals(E_MAPPED, k.map(t, Kernel.SELF, FRAME, VA + SIZE_4K, RW | US), "one page per capability");
            assertEquals(VA, t.errorArg, "the error names where it is mapped");
        });
        k.grantCap(a, FRAME, b, FRAME, Rights.RECV, 0); // derived from a's
        run(b, t -> {
            tables(t);
            assertEquals(OK, k.map(t, Kernel.SELF, FRAME, VA, US));
            assertEquals(OK, k.capMove(t, FRAME, FRAME2), "the mapping moves with the capability");
        });
        long pa = ((Frame) a.cspace().get(FRAME).object).physicalAddress();
        assertEquals(pa, translate(b, VA, Mmu.READ));
        run(a, t -> assertEquals(OK, k.capRevoke(t, FRAME)));
        assertTrue(Mmu.isFault(translate(b, VA, Mmu.READ)), "revoked: b's page is gone");
        assertEquals(pa, translate(a, VA, Mmu.READ), "a's own mapping stays");
        assertEquals(1, ((Frame) a.cspace().get(FRAME).object).mappings());
        // A second capability of a's maps the frame again; deleting it unmaps that page only.
        k.grantCap(a, FRAME, a, RO, Rights.RECV, 0);
        run(a, t -> {
            assertEquals(OK, k.map(t, Kernel.SELF, RO, VA + SIZE_4K, US));
            assertEquals(OK, k.capDelete(t, RO));
        });
        assertTrue(Mmu.isFault(translate(a, VA + SIZE_4K, Mmu.READ)));
        assertEquals(pa, translate(a, VA, Mmu.READ));
    }

    /**
     * The hosted TLB shootdown: a frame unmapped while a thread may still hold a translation to
     * it is reused only once that thread's MMU has seen the unmap; a thread waiting in a system
     * call does not hold it back.
     */
    @Test
    void anUnmappedFrameWaitsUntilEveryMmuHasSeenTheUnmap() {
        Domain d = domain("d", 64);
        rig.notification(d, 20);
        rig.spawn(d, "waiter", 20, t -> { // runs first
            k.mmu(t, d.addressSpace()); // registered, then waiting in a system call
            rig.sleep(t, 20, 1_000_000_000L);
        });
        rig.spawn(d, "t", 10, t -> {
            tables(t);
            assertEquals(OK, k.frameAlloc(t, FRAME, SIZE_4K));
            long pa = ((Frame) d.cspace().get(FRAME).object).physicalAddress();
            assertEquals(OK, k.map(t, Kernel.SELF, FRAME, VA, RW | US));
            Mmu mmu = k.mmu(t, d.addressSpace());
            assertEquals(pa, mmu.translate(VA, Mmu.WRITE)); // as if about to write
            assertEquals(OK, k.unmap(t, Kernel.SELF, VA, SIZE_4K));
            assertEquals(OK, k.capDelete(t, FRAME));
            assertEquals(1, k.framesInLimbo(), "this thread has not seen the unmap: the frame waits");
            for (int i = 0; i < 8; i++) {
                assertEquals(OK, k.frameAlloc(t, 8 + i, SIZE_4K));
                assertNotEquals(pa, ((Frame) d.cspace().get(8 + i).object).physicalAddress(), "not reused yet");
            }
            assertEquals(2, k.memory.mmus.size(), "the waiter's MMU is registered too");
            assertTrue(Mmu.isFault(mmu.translate(VA, Mmu.READ)), "the next translation sees the unmap");
            assertEquals(0, k.framesInLimbo(), "and the frame is free again (the waiter did not hold it)");
        });
        rig.runAll();
    }

    @Test
    void aPagerMapsIntoAnotherDomainWithItsControlCapability() {
        Domain pager = domain("pager", 16);
        Domain client = domain("client", 16);
        k.installCap(pager, DOM, client, Rights.CONTROL, 0);
        k.installCap(pager, DOM + 1, client, Rights.SEND, 0);
        run(pager, t -> {
            assertEquals(OK, k.tableAlloc(t, T3, 3));
            assertEquals(OK, k.tableAlloc(t, T2, 2));
            assertEquals(OK, k.tableAlloc(t, T1, 1));
            assertEquals(E_NO_RIGHTS, k.tableLink(t, DOM + 1, T3, VA), "needs CONTROL of the domain");
            assertEquals(OK, k.tableLink(t, DOM, T3, VA));
            assertEquals(OK, k.tableLink(t, DOM, T2, VA));
            assertEquals(OK, k.tableLink(t, DOM, T1, VA));
            assertEquals(OK, k.frameAlloc(t, FRAME, SIZE_4K));
            assertEquals(OK, k.map(t, DOM, FRAME, VA, RW | US));
        });
        assertFalse(Mmu.isFault(translate(client, VA, Mmu.WRITE)));
        assertTrue(Mmu.isFault(translate(pager, VA, Mmu.READ)), "not in the pager's own space");
        assertEquals(4, pager.framesUsed(), "the pager paid");
        assertEquals(0, client.framesUsed());
    }
}
