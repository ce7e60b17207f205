package isola.sdk;

import static org.junit.jupiter.api.Assertions.*;

import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.KernelConfig;
import isola.kernel.Status;
import isola.kernel.Tcb;
import isola.kernel.machine.ConcurrentMachine;
import isola.kernel.machine.HostedMachine;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Zero-copy views ({@link VirtualMemory#readInPlace}, {@link VirtualMemory#writeInPlace}): they
 * are the memory itself, run by run; they cannot outlive the call or write a read-only page; a
 * range with a page that refuses the access is not touched at all; and a frame unmapped while a
 * view is open stays out of reuse until the view closes.
 */
class VirtualMemoryViewTest {
    /** Slots: the three tables 4 KiB pages need from TABLES on, a frame, a copy of its cap, another frame. */
    static final int TABLES = 0, FRAME = 3, ALIAS = 4, OTHER = 5;
    static final long VA = 0x0000_0040_0000_0000L;
    static final long RW = Sys.MAP_WRITE | Sys.MAP_USER | Sys.MAP_NO_EXEC;
    final ConcurrentMachine machine = HostedMachine.concurrent(KernelConfig.DEFAULT);
    final Kernel k = machine.kernel();
    Sys sys;
    VirtualMemory memory;

    /** Page 0 and page 1 map the same frame (so they are two runs), page 2 another frame. */
    @BeforeEach
    void map() {
        Domain d = k.createDomain("viewer", 16, 16);
        k.setFrameQuota(d, 64);
        Tcb t = k.createThread(d, "viewer", 10);
        machine.attach(t);
        sys = Sys.of(k, t);
        sys.check(sys.linkTables(Sys.SELF, VA, Sys.PAGE_4K, TABLES), "tables");
        sys.check(sys.frameAlloc(FRAME, Sys.PAGE_4K), "frame");
        sys.check(sys.copy(FRAME, ALIAS), "alias");
        sys.check(sys.frameAlloc(OTHER, Sys.PAGE_4K), "other frame");
        sys.check(sys.map(Sys.SELF, FRAME, VA, RW), "map page 0");
        sys.check(sys.map(Sys.SELF, ALIAS, VA + 4096, RW), "map page 1");
        sys.check(sys.map(Sys.SELF, OTHER, VA + 8192, RW), "map page 2");
        memory = sys.memory();
    }

    @AfterEach
    void close() {
        machine.close();
    }

    @Test
    void viewsAreTheMemoryItselfRunByRun() {
        List<long[]> runs = new ArrayList<>();
        memory.writeInPlace(VA + 100, 8192 - 200, (run, offset) -> {
            runs.add(new long[] {offset, run.byteSize()});
            for (long i = 0; i < run.byteSize(); i++) {
                run.set(ValueLayout.JAVA_BYTE, i, (byte) (offset + i));
            }
        });
        assertEquals(2, runs.size(), "pages 0 and 1 are not contiguous in physical memory");
        assertArrayEquals(new long[] {0, 4096 - 100}, runs.get(0));
        assertArrayEquals(new long[] {4096 - 100, 4096 - 100}, runs.get(1));
        // the second run wrote page 1's frame, which is page 0's: page 0 shows it below 3896
        assertEquals((byte) (3996 + 50), readByte(VA + 50));
        assertEquals((byte) 3900, readByte(VA + 4000), "the first run's bytes above it");
        long[] seen = new long[1];
        memory.readInPlace(VA + 4096 + 200, 16, (run, offset) -> {
            seen[0] = run.get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
            assertTrue(run.isReadOnly());
            assertThrows(IllegalArgumentException.class, () -> run.set(ValueLayout.JAVA_BYTE, 0, (byte) 1));
        });
        assertEquals(readLong(VA + 200), seen[0], "page 1 aliases page 0");
    }

    @Test
    void aViewCannotOutliveItsCall() {
        MemorySegment[] kept = new MemorySegment[1];
        memory.readInPlace(VA, 64, (run, offset) -> kept[0] = run);
        assertThrows(IllegalStateException.class, () -> kept[0].get(ValueLayout.JAVA_LONG, 0));
    }

    @Test
    void aRangeWithAReadOnlyPageIsNotTouched() {
        memory.putLong(VA + 4096 - 8, 7);
        sys.check(sys.protect(Sys.SELF, VA + 4096, Sys.PAGE_4K, Sys.MAP_USER | Sys.MAP_NO_EXEC), "protect page 1");
        int[] calls = new int[1];
        IsolaException e = assertThrows(IsolaException.class,
                () -> memory.writeInPlace(VA + 4096 - 8, 16, (run, offset) -> calls[0]++));
        assertEquals(Status.E_NO_RIGHTS, e.status(), e.getMessage());
        assertEquals(0, calls[0], "no run was handed out");
        assertEquals(7, memory.getLong(VA + 4096 - 8));
        IsolaException unmapped = assertThrows(IsolaException.class,
                () -> memory.readInPlace(VA + 3 * 4096 - 8, 16, (run, offset) -> calls[0]++));
        assertEquals(Status.E_NOT_MAPPED, unmapped.status(), unmapped.getMessage());
        assertEquals(0, calls[0]);
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> memory.readInPlace(VA, -1, (run, offset) -> calls[0]++));
        assertTrue(bad.getMessage().contains("-1 bytes"), bad.getMessage());
    }

    /**
     * The page under an open view is unmapped and its frame freed; the thread then translates
     * again (which, with no view open, would end the frame's grace period): the frame stays in
     * limbo, and the view still reads the old contents, until the view closes.
     */
    @Test
    void aFrameUnmappedUnderAnOpenViewIsNotReusedBeforeItCloses() {
        memory.putLong(VA + 8192, 42);
        long[] inside = new long[3];
        memory.readInPlace(VA + 8192, 8, (run, offset) -> {
            sys.check(sys.unmap(Sys.SELF, VA + 8192, Sys.PAGE_4K), "unmap page 2");
            sys.check(sys.delete(OTHER), "free page 2's frame");
            inside[0] = memory.getLong(VA); // a translation after the unmap
            inside[1] = k.framesInLimbo();
            inside[2] = run.get(ValueLayout.JAVA_LONG, 0);
        });
        assertEquals(1, inside[1], "page 2's frame waits while the view is open");
        assertEquals(42, inside[2], "the view still reads it");
        assertEquals(0, k.framesInLimbo(), "and is free once the view closed");
    }

    private long readLong(long va) {
        return memory.getLong(va);
    }

    private byte readByte(long va) {
        byte[] b = new byte[1];
        memory.read(va, b, 0, 1);
        return b[0];
    }
}
