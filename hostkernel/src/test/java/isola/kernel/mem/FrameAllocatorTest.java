package isola.kernel.mem;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The buddy allocator against a model: a bitmap of allocated frames. */
class FrameAllocatorTest {
    static final long MIB = 1 << 20;

    @Test
    void allocatesAlignedBlocksAndMergesThemBack() {
        FrameAllocator fa = new FrameAllocator(0, 64 * MIB);
        assertEquals(16384, fa.freeFrames());
        assertEquals(14, fa.largestFreeOrder(), "64 MiB is one block of 2^14 frames");
        long big = fa.allocate(9); // 2 MiB
        assertEquals(0, big % (2 * MIB), "a 2 MiB block is 2 MiB-aligned");
        long small = fa.allocate(0);
        assertNotEquals(-1, small);
        assertTrue(small < big || small >= big + 2 * MIB, "no overlap");
        assertEquals(9, fa.orderOf(big));
        assertEquals(0, fa.orderOf(small));
        fa.free(big, 9);
        fa.free(small, 0);
        assertEquals(16384, fa.freeFrames());
        assertEquals(14, fa.largestFreeOrder(), "everything merged back into one block");
    }

    @Test
    void badFreesAreRefusedAndChangeNothing() {
        FrameAllocator fa = new FrameAllocator(0, 16 * MIB);
        long f = fa.allocate(0);
        long block = fa.allocate(3);
        long free = fa.freeFrames();
        var unaligned = assertThrows(IllegalArgumentException.class, () -> fa.free(f + 8, 0));
        assertTrue(unaligned.getMessage().contains(Long.toHexString(f + 8)), unaligned.getMessage());
        assertThrows(IllegalArgumentException.class, () -> fa.free(block, 2), "wrong order");
        assertThrows(IllegalArgumentException.class, () -> fa.free(block + 4096, 0), "inside a block");
        assertThrows(IllegalArgumentException.class, () -> fa.free(1L << 40, 0), "outside RAM");
        fa.free(f, 0);
        var twice = assertThrows(IllegalArgumentException.class, () -> fa.free(f, 0));
        assertTrue(twice.getMessage().contains("not an allocated block"), twice.getMessage());
        assertEquals(free + 1, fa.freeFrames());
        assertThrows(IllegalArgumentException.class, () -> fa.allocate(FrameAllocator.MAX_ORDER + 1));
    }

    @Test
    void exhaustionIsMinusOneAndRecoverable() {
        FrameAllocator fa = new FrameAllocator(0, MIB);
        List<Long> all = new ArrayList<>();
        long f;
        while ((f = fa.allocate(0)) != -1) {
            all.add(f);
        }
        assertEquals(256, all.size());
        assertEquals(-1, fa.allocate(0));
        assertEquals(0, fa.freeFrames());
        for (long x : all) {
            fa.free(x, 0);
        }
        assertEquals(8, fa.largestFreeOrder(), "1 MiB whole again, the cached single frames included");
        assertNotEquals(-1, fa.allocate(8));
    }

    @Test
    void randomizedAgainstAModel() {
        Random rnd = new Random(42);
        long base = 3 * 4096; // an odd start: blocks stay aligned to physical addresses
        long bytes = 37 * MIB + 5 * 4096;
        FrameAllocator fa = new FrameAllocator(base, bytes);
        int frames = (int) (bytes >>> 12);
        BitSet used = new BitSet();
        List<long[]> live = new ArrayList<>();
        for (int step = 0; step < 200_000; step++) {
            if (live.isEmpty() || rnd.nextInt(100) < 55) {
                int order = rnd.nextInt(100) < 80 ? 0 : rnd.nextInt(11);
                long pa = fa.allocate(order);
                if (pa == -1) {
                    continue;
                }
                long n = 1L << order;
                assertEquals(0, pa % (n * 4096), "block aligned to its size");
                assertTrue(pa >= base && pa + n * 4096 <= base + bytes, "inside the managed range");
                int first = (int) ((pa - base) >>> 12);
                assertTrue(used.get(first, first + (int) n).isEmpty(), "block overlaps a live one at step " + step);
                used.set(first, first + (int) n);
                live.add(new long[] {pa, order});
            } else {
                long[] b = live.remove(rnd.nextInt(live.size()));
                fa.free(b[0], (int) b[1]);
                int first = (int) ((b[0] - base) >>> 12);
                used.clear(first, first + (1 << b[1]));
            }
            assertEquals(frames - used.cardinality(), fa.freeFrames());
        }
        for (long[] b : live) {
            fa.free(b[0], (int) b[1]);
        }
        assertEquals(frames, fa.freeFrames());
        FrameAllocator fresh = new FrameAllocator(base, bytes);
        assertEquals(fresh.largestFreeOrder(), fa.largestFreeOrder(), "fully merged again");
    }
}
