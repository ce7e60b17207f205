package isola.bench;

import isola.bench.servers.pager.RemapPager;
import isola.bench.servers.sink.SinkServer;
import isola.kernel.Kernel;
import isola.kernel.Rights;
import isola.kernel.Status;
import isola.sdk.Sys;
import isola.sdk.VirtualMemory;
import isola.kernel.mem.AddressSpace;
import isola.kernel.mem.FrameAllocator;
import isola.kernel.mem.Mmu;
import isola.kernel.mem.Paging;
import isola.kernel.mem.PhysicalMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
import org.openjdk.jmh.annotations.TearDown;
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
 *   <li>{@link #tlbMissRead}: the same read after a TLB flush: a 4-level walk;
 *   <li>{@link #pageFaultRoundTrip}: in a `vm`-tier system, a client unmaps a page and reads it:
 *       the read faults, the kernel calls the client's pager (a passive server in a domain of
 *       its own, {@link RemapPager}), which maps the frame back, and the read is retried;
 *       against {@link #remapWithoutFault}, the same unmap, map and read done by the client
 *       itself, and {@link #mappedRead}, the read alone;
 *   <li>{@link #transfer64MiBShared} and {@link #transfer64MiBRegisters}: 64 MiB moved from a
 *       client's 2 MiB source array to an active server ({@link SinkServer}), so that the server
 *       holds all 64 MiB afterwards. Through message registers: 64 words per call, which the
 *       server copies into its 64 MiB buffer (it must: the next message overwrites them).
 *       Through shared frames: 32 frames of 2 MiB that both map; the client copies a chunk into
 *       one and calls "ready", and the server, which holds the frame mapped, checks the chunk's
 *       first and last word: zero-copy, as the issue defines shared memory. Either way the
 *       client writes every byte once and the server answers each call with the last word it
 *       received, which the client checks.
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

    /**
     * A `vm`-tier server and a client domain whose kernel thread the benchmark thread is: the
     * client's system calls and its view of its address space.
     */
    public abstract static class ServerAndClient {
        EchoSystem system;
        EchoSystem.Client client;
        Sys sys;
        VirtualMemory memory;

        /** Starts the server, gives the client {@code frames} of quota and attaches it as {@code clientName}. */
        void open(String name, Class<? extends isola.sdk.Server> server, int slot,
                java.util.function.Predicate<isola.kernel.Endpoint> ready, int frames, String clientName) throws Exception {
            system = new EchoSystem(name, server, slot, 100, ready);
            system.kernel.setFrameQuota(system.client, frames);
            client = system.attachClient(clientName);
            sys = client.sys();
            memory = sys.memory();
        }

        @Setup(Level.Iteration)
        public void rebind() {
            client.rebindToCurrentThread();
        }

        @TearDown(Level.Trial)
        public void close() {
            system.close();
        }
    }

    /** A client domain whose page at {@link #VA} its pager maps back on every fault. */
    @State(Scope.Thread)
    public static class Paged extends ServerAndClient {
        static final long VA = 0x0000_0020_0000_0000L;
        /** Slots: its three page tables from TABLES on, then its frame. */
        static final int TABLES = 1, FRAME = 4;

        @Setup(Level.Trial)
        public void setup() throws Exception {
            open("pager", RemapPager.class, RemapPager.SLOT, ep -> ep.isPassive(), 16, "faulter");
            Kernel k = system.kernel;
            sys.check(sys.linkTables(Sys.SELF, VA, Sys.PAGE_4K, TABLES), "tables");
            sys.check(sys.frameAlloc(FRAME, Sys.PAGE_4K), "frame");
            k.grantCap(system.client, FRAME, system.server.domain(), RemapPager.FRAME, Rights.SEND | Rights.RECV, 0);
            k.installCap(system.server.domain(), RemapPager.CLIENT, system.client, Rights.CONTROL, 0);
            k.setPager(system.client, system.endpoint, RemapPager.CLIENT);
            memory.putLong(VA, 42); // faults once: the pager maps it
            if (memory.getLong(VA) != 42) {
                throw new IllegalStateException("the pager's mapping does not hold");
            }
        }
    }

    @Benchmark
    public long pageFaultRoundTrip(Paged s) {
        s.sys.unmap(Sys.SELF, Paged.VA, Sys.PAGE_4K);
        return s.memory.getLong(Paged.VA);
    }

    @Benchmark
    public long remapWithoutFault(Paged s) {
        s.sys.unmap(Sys.SELF, Paged.VA, Sys.PAGE_4K);
        s.sys.map(Sys.SELF, Paged.FRAME, Paged.VA, Sys.MAP_WRITE | Sys.MAP_USER | Sys.MAP_NO_EXEC);
        return s.memory.getLong(Paged.VA);
    }

    @Benchmark
    public long mappedRead(Paged s) {
        return s.memory.getLong(Paged.VA);
    }

    /** A client and an active sink server sharing 64 MiB of frames. */
    @State(Scope.Thread)
    public static class Transfer extends ServerAndClient {
        static final long VA = 0x0000_0030_0000_0000L;
        static final long TOTAL = 64L << 20;
        static final int CHUNK = SinkServer.CHUNK;
        static final int CHUNKS = (int) (TOTAL / CHUNK);
        /** Slots: its two page tables from TABLES on, then the shared frames. */
        static final int TABLES = 1, FRAMES = 3, SINK = EchoSystem.CLIENT_SLOT;
        /** The source: one chunk's worth, sent CHUNKS times. */
        final long[] words = new long[CHUNK / 8];
        /** What the sink's answers add up to over 64 MiB, each way. */
        long sharedCheck, registersCheck;
        final VirtualMemory.Run fill = (run, offset) -> MemorySegment.copy(
                words, (int) (offset / 8), run, ValueLayout.JAVA_LONG_UNALIGNED, 0, (int) (run.byteSize() / 8));

        @Setup(Level.Trial)
        public void setup() throws Exception {
            open("sink", SinkServer.class, SinkServer.SLOT, ep -> ep.waitingReceivers() > 0, (int) (TOTAL >> 12) + 16, "source");
            Kernel k = system.kernel;
            k.setFrameQuota(system.server.domain(), 16);
            sys.check(sys.linkTables(Sys.SELF, VA, Sys.PAGE_2M, TABLES), "tables");
            for (int i = 0; i < CHUNKS; i++) {
                sys.check(sys.frameAlloc(FRAMES + i, Sys.PAGE_2M), "frame");
                sys.check(sys.map(Sys.SELF, FRAMES + i, VA + (long) i * CHUNK, Sys.MAP_WRITE | Sys.MAP_USER | Sys.MAP_NO_EXEC), "map");
                k.grantCap(system.client, FRAMES + i, system.server.domain(), SinkServer.FRAMES + i, Rights.RECV, 0);
            }
            for (int i = 0; i < words.length; i++) {
                words[i] = i * 0x9E37_79B9_7F4A_7C15L + 1;
            }
            for (int i = 63; i < words.length; i += 64) {
                registersCheck += words[i];
            }
            registersCheck *= CHUNKS;
            sharedCheck = words[words.length - 1] * CHUNKS;
        }

        /** A call to the sink; its answer. */
        long call(int label, int length) {
            int st = sys.call(SINK, label, length);
            if (st != Status.OK) {
                throw new IllegalStateException(sys.describe(st, "sink call"));
            }
            return sys.mr(0);
        }

        static long checked(long answers, long expected) {
            if (answers != expected) {
                throw new IllegalStateException("the sink's answers add up to " + answers + ", not " + expected);
            }
            return answers;
        }
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public long transfer64MiBShared(Transfer s) {
        long answers = 0;
        for (int i = 0; i < Transfer.CHUNKS; i++) {
            s.memory.writeInPlace(Transfer.VA + (long) i * Transfer.CHUNK, Transfer.CHUNK, s.fill);
            s.sys.mr(0, i);
            answers += s.call(SinkServer.SHARED, 1);
        }
        return Transfer.checked(answers, s.sharedCheck);
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public long transfer64MiBRegisters(Transfer s) {
        long answers = 0;
        long[] w = s.words;
        for (int i = 0; i < Transfer.CHUNKS; i++) {
            for (int at = 0; at < w.length; at += 64) {
                for (int r = 0; r < 64; r++) {
                    s.sys.mr(r, w[at + r]);
                }
                answers += s.call(SinkServer.REGISTERS, 64);
            }
        }
        return Transfer.checked(answers, s.registersCheck);
    }

    @Benchmark
    public long tlbMissRead(Mapped s) {
        s.space.invalidate();
        return s.ram.read64(s.mmu.translate(Mapped.VA + s.next(), Mmu.READ));
    }
}
