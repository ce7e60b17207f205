package isola.bench;

import isola.kernel.Status;
import isola.kernel.mem.AddressSpace;
import isola.kernel.mem.FrameAllocator;
import isola.kernel.mem.Mmu;
import isola.kernel.mem.Paging;
import isola.kernel.mem.PhysicalMemory;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Physical memory and the hosted MMU, one operation per invocation:
 * <ul>
 *   <li>{@link #frameAllocFree}: a 4 KiB frame allocated and freed by the buddy allocator,
 *       against {@link #frameStackBaseline}, popping and pushing a preallocated stack of frame
 *       numbers (the floor for any allocator);
 *   <li>{@link #blockAllocFree2M}: a 2 MiB block allocated and freed (split and merge);
 *   <li>{@link #tlbHitRead}: an 8-byte read through the MMU at a virtual address whose page the
 *       TLB holds, against {@link #physicalRead}, the same read at its physical address;
 *   <li>{@link #tlbMissRead}: the same read after a TLB flush: a 4-level walk.
 * </ul>
 * Run through {@code ./isola bench mem} ({@link BenchMain}).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(value = 2, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xms512m", "-Xmx512m"})
@Threads(1)
public class MemBench {
    static final long RAM = 256L << 20;

    @State(Scope.Thread)
    public static class Frames {
        FrameAllocator frames;
        final int[] stack = new int[1024];
        int top;

        @Setup(Level.Trial)
        public void setup() {
            frames = new FrameAllocator(0, RAM);
            for (int i = 0; i < stack.length; i++) {
                stack[i] = i;
            }
            top = stack.length;
        }
    }

    @Benchmark
    public long frameAllocFree(Frames s) {
        long pa = s.frames.allocate(0);
        s.frames.free(pa, 0);
        return pa;
    }

    @Benchmark
    public long blockAllocFree2M(Frames s) {
        long pa = s.frames.allocate(9);
        s.frames.free(pa, 9);
        return pa;
    }

    @Benchmark
    public int frameStackBaseline(Frames s) {
        int f = s.stack[--s.top];
        s.stack[s.top++] = f;
        return f;
    }

    /** A 4 KiB page mapped at {@link #VA}, an MMU whose TLB holds it, and its physical address. */
    @State(Scope.Thread)
    public static class Mapped {
        static final long VA = 0x0000_0040_1234_5000L;
        PhysicalMemory ram;
        AddressSpace space;
        Mmu mmu;
        long pa;
        long offset;

        @Setup(Level.Trial)
        public void setup() {
            ram = PhysicalMemory.hosted(RAM);
            FrameAllocator frames = new FrameAllocator(0, RAM);
            Paging paging = new Paging(ram);
            long root = table(frames, paging);
            for (int level = 3; level >= 1; level--) {
                check(paging.linkTable(root, VA, level, table(frames, paging)));
            }
            pa = frames.allocate(0);
            check(paging.map(root, VA, pa, Paging.SIZE_4K, Paging.RW | Paging.US));
            space = new AddressSpace(root);
            mmu = new Mmu(ram, space);
            if (mmu.translate(VA, Mmu.READ) != pa) {
                throw new IllegalStateException("the mapping does not translate");
            }
        }

        /** An offset in the page that changes per invocation, so nothing is hoisted. */
        long next() {
            offset = (offset + 8) & 0xFF8;
            return offset;
        }

        private static long table(FrameAllocator frames, Paging paging) {
            long t = frames.allocate(0);
            paging.clearTable(t);
            return t;
        }

        private static void check(int status) {
            if (status != Status.OK) {
                throw new IllegalStateException(Status.name(status));
            }
        }
    }

    @Benchmark
    public long tlbHitRead(Mapped s) {
        return s.ram.read64(s.mmu.translate(Mapped.VA + s.next(), Mmu.READ));
    }

    @Benchmark
    public long physicalRead(Mapped s) {
        return s.ram.read64(s.pa + s.next());
    }

    @Benchmark
    public long tlbMissRead(Mapped s) {
        s.space.invalidate();
        return s.ram.read64(s.mmu.translate(Mapped.VA + s.next(), Mmu.READ));
    }
}
