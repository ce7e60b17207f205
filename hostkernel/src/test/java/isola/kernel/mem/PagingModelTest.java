package isola.kernel.mem;

import static isola.kernel.Status.*;
import static isola.kernel.mem.Mmu.*;
import static isola.kernel.mem.Paging.*;
import static org.junit.jupiter.api.Assertions.*;

import isola.kernel.Status;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Random link/unlink of tables and map/unmap/protect of 4 KiB, 2 MiB and 1 GiB pages, with
 * errors on purpose, against a reference model of the same operations (which tables exist,
 * which pages are mapped); after each step, random translations through the MMU agree with
 * the model. Addresses are drawn from a few small windows so that overlaps are frequent.
 */
class PagingModelTest {
    static final long MIB = 1 << 20;
    final PhysicalMemory ram = PhysicalMemory.hosted(4096 * MIB); // sparse
    final FrameAllocator frames = new FrameAllocator(0, 64 * MIB); // tables come from here
    final Paging paging = new Paging(ram);

    /** The model: linked tables, by level and the region they cover, and mapped pages by base. */
    static final class Model {
        final Set<String> tables = new HashSet<>();
        /** page base -> {size, pa, flags} */
        final Map<Long, long[]> pages = new HashMap<>();

        static String key(int level, long va) {
            return level + ":" + (va >> (12 + 9 * level));
        }

        boolean table(int level, long va) {
            return level == 4 || tables.contains(key(level, va));
        }

        long[] page(int level, long va) {
            long size = pageSize(level);
            long[] p = pages.get(va & ~(size - 1));
            return p != null && p[0] == size ? p : null;
        }

        /** The page covering va, of any size, or null. */
        long[] covering(long va) {
            for (int level = 1; level <= 3; level++) {
                long[] p = page(level, va);
                if (p != null) {
                    return p;
                }
            }
            return null;
        }

        /** What walking to {@code level} for {@code va} finds above it: OK, E_NO_TABLE or E_MAPPED. */
        int walk(long va, int level) {
            for (int l = 3; l >= level; l--) {
                if (l < 3 && page(l + 1, va) != null) {
                    return E_MAPPED;
                }
                if (!table(l, va)) {
                    return E_NO_TABLE;
                }
            }
            return OK;
        }

        /** Whether the level-{@code level} slot for va holds a page, or a table (level - 1). */
        boolean slotUsed(int level, long va) {
            return page(level, va) != null || (level > 1 && table(level - 1, va));
        }

        boolean tableEmpty(int level, long va) {
            long span = pageSize(level + 1);
            long base = va & ~(span - 1);
            for (long b : pages.keySet()) {
                if (b >= base && b - base < span) {
                    return false;
                }
            }
            if (level > 1) {
                for (String t : tables) {
                    int l = t.charAt(0) - '0';
                    long region = Long.parseLong(t.substring(2));
                    if (l == level - 1 && ((region << (12 + 9 * l)) & ~(span - 1)) == base) {
                        return false;
                    }
                }
            }
            return true;
        }
    }

    long randomVa(Random rnd) {
        int pick = rnd.nextInt(100);
        if (pick < 2) {
            return 0x0000_8000_0000_0000L + (rnd.nextInt(8) << 12); // not canonical
        }
        long base = switch (rnd.nextInt(3)) {
            case 0 -> 0L;
            case 1 -> 1L << 39;
            default -> 0xFFFF_8000_0000_0000L;
        };
        long va = base + ((long) rnd.nextInt(2) << 30) + ((long) rnd.nextInt(3) << 21) + ((long) rnd.nextInt(6) << 12);
        return pick < 6 ? va + 8 : va; // sometimes unaligned
    }

    static final long[] SIZES = {SIZE_4K, SIZE_4K, SIZE_4K, SIZE_2M, SIZE_2M, SIZE_1G};
    static final long[] FLAGS = {US, RW | US, RW | US | NX, US | NX, RW, RW | US | PWT | PCD};

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3})
    void randomizedAgainstTheModel(long seed) {
        Random rnd = new Random(seed);
        long root = frames.allocate(0);
        paging.clearTable(root);
        AddressSpace space = new AddressSpace(root);
        Mmu mmu = new Mmu(ram, space);
        Model m = new Model();
        Map<String, Long> tablePa = new HashMap<>();
        List<Long> touched = new ArrayList<>();
        long[] out = new long[1];
        for (int step = 0; step < 20_000; step++) {
            long va = randomVa(rnd);
            String what;
            int got, want;
            switch (rnd.nextInt(10)) {
                case 0, 1 -> { // link a table
                    int level = 1 + rnd.nextInt(3);
                    long t = frames.allocate(0);
                    paging.clearTable(t);
                    what = "link L" + level;
                    got = paging.linkTable(root, va, level, t);
                    want = !canonical(va) ? E_NOT_CANONICAL : m.walk(va, level + 1);
                    if (want == OK && m.slotUsed(level + 1, va)) {
                        want = E_MAPPED;
                    }
                    if (got == OK) {
                        m.tables.add(Model.key(level, va));
                        tablePa.put(Model.key(level, va), t);
                    } else {
                        frames.free(t, 0);
                    }
                }
                case 2 -> { // unlink a table
                    int level = 1 + rnd.nextInt(3);
                    what = "unlink L" + level;
                    got = paging.unlinkTable(root, va, level, out);
                    want = !canonical(va) ? E_NOT_CANONICAL
                            : m.walk(va, level + 1) != OK || !m.table(level, va) ? E_NOT_MAPPED
                            : !m.tableEmpty(level, va) ? E_FRAME_MAPPED : OK;
                    if (got == OK) {
                        assertEquals(tablePa.remove(Model.key(level, va)), out[0]);
                        m.tables.remove(Model.key(level, va));
                        frames.free(out[0], 0);
                    }
                }
                case 3, 4, 5 -> { // map
                    long size = SIZES[rnd.nextInt(SIZES.length)];
                    long flags = FLAGS[rnd.nextInt(FLAGS.length)];
                    long pa = (64 * MIB + (long) rnd.nextInt(64) * SIZE_2M) & ~(size - 1);
                    int level = leafLevel(size);
                    what = "map " + size;
                    got = paging.map(root, va, pa, size, flags);
                    want = !canonical(va) ? E_NOT_CANONICAL : (va & (size - 1)) != 0 ? E_UNALIGNED : m.walk(va, level);
                    if (want == OK && m.slotUsed(level, va)) {
                        want = E_MAPPED;
                    }
                    if (got == OK) {
                        m.pages.put(va, new long[] {size, pa, flags});
                        touched.add(va);
                    }
                }
                case 6, 7 -> { // unmap
                    long size = SIZES[rnd.nextInt(SIZES.length)];
                    what = "unmap " + size;
                    got = paging.unmap(root, va, size, out);
                    want = !canonical(va) ? E_NOT_CANONICAL : (va & (size - 1)) != 0 ? E_UNALIGNED
                            : m.page(leafLevel(size), va) == null ? E_NOT_MAPPED : OK;
                    if (got == OK) {
                        assertEquals(m.pages.remove(va)[1], out[0]);
                    }
                }
                default -> { // protect
                    long size = SIZES[rnd.nextInt(SIZES.length)];
                    long flags = FLAGS[rnd.nextInt(FLAGS.length)];
                    what = "protect " + size;
                    got = paging.protect(root, va, size, flags);
                    want = !canonical(va) ? E_NOT_CANONICAL : (va & (size - 1)) != 0 ? E_UNALIGNED
                            : m.page(leafLevel(size), va) == null ? E_NOT_MAPPED : OK;
                    if (got == OK) {
                        m.pages.get(va)[2] = flags;
                    }
                }
            }
            assertEquals(Status.name(want), Status.name(got), "step " + step + ": " + what + " at 0x" + Long.toHexString(va));
            space.invalidate(); // as the kernel does after every change
            for (int probe = 0; probe < 4; probe++) {
                // a random address, or anywhere in a page mapped some time (large pages too)
                long at = touched.isEmpty() || rnd.nextBoolean() ? randomVa(rnd) & ~7L
                        : touched.get(rnd.nextInt(touched.size())) + (rnd.nextLong(SIZE_1G) & ~7L);
                int access = new int[] {READ, WRITE, FETCH}[rnd.nextInt(3)];
                assertEquals(expected(m, at, access), mmu.translate(at, access),
                        "step " + step + ": translate 0x" + Long.toHexString(at) + " access " + access);
            }
        }
    }

    static long expected(Model m, long va, int access) {
        if (!canonical(va)) {
            return GENERAL_PROTECTION;
        }
        long[] p = m.covering(va);
        if (p == null) {
            return FAULT | access | PF_U;
        }
        long flags = p[2];
        if ((flags & US) == 0 || (access == WRITE && (flags & RW) == 0) || (access == FETCH && (flags & NX) != 0)) {
            return FAULT | access | PF_U | PF_P;
        }
        return p[1] + (va & (p[0] - 1));
    }
}
