package isola.bench;

import static isola.bench.Suite.BUSY;
import static isola.bench.Suite.div;
import static isola.bench.Suite.num;
import static isola.bench.Suite.plain;
import static java.util.concurrent.TimeUnit.NANOSECONDS;

import isola.bench.Suite.Ratio;
import isola.bench.Suite.Target;
import java.util.List;
import java.util.Set;

/**
 * The {@code mem} suite, beside its benchmarks in {@link MemBench}: the kernel's frame allocator
 * and hosted MMU against plain Java baselines, a page fault round trip through a pager, and
 * 64 MiB moved through registers or shared frames.
 */
final class MemSuite {
    private MemSuite() {}

    private static final String FRAME = "frameAllocFree";
    private static final String BLOCK_2M = "blockAllocFree2M";
    private static final String FRAME_STACK = "frameStackBaseline";
    private static final String TLB_HIT = "tlbHitRead";
    private static final String PHYS_READ = "physicalRead";
    private static final String TLB_MISS = "tlbMissRead";
    private static final String FAULT = "pageFaultRoundTrip";
    private static final String REMAP = "remapWithoutFault";
    private static final String MAPPED_READ = "mappedRead";
    private static final String SHARED = "transfer64MiBShared";
    private static final String REGISTERS = "transfer64MiBRegisters";
    static final List<String> BENCHMARKS = List.of(FRAME, BLOCK_2M, FRAME_STACK, TLB_HIT, PHYS_READ, TLB_MISS,
            FAULT, REMAP, MAPPED_READ, SHARED, REGISTERS);
    /** Target: 64 MiB through shared frames is at least this many times faster than through registers. */
    private static final double SHARED_VS_REGISTERS_TARGET = 10;
    /** Target: a page fault round trip through the pager, in ns. */
    private static final double FAULT_TARGET_NS = 2000;

    /** Target: frame allocations (each with its free) per second, in millions. */
    private static final double FRAME_TARGET_MPS = 20;
    /** Target: a read through a TLB hit, translation included, in ns. */
    private static final double TLB_HIT_TARGET_NS = 5;

    static final Suite SUITE = new Suite("mem",
            "physical memory and the MMU: frame allocation vs a plain stack, reads through the TLB "
                    + "(hit and walk) vs a physical read",
            MemBench.class, BENCHMARKS, BENCHMARKS, false, 2, 5, 10,
            "== isola bench mem: one operation per op; median, min and max over all measurement "
                    + "iterations of all forks ==",
            null,
            List.of(new Ratio("frame alloc+free / stack pop+push", FRAME, FRAME_STACK, "x"),
                    new Ratio("read through a TLB hit / physical read", TLB_HIT, PHYS_READ, "x"),
                    new Ratio("read through a walk / physical read", TLB_MISS, PHYS_READ, "x"),
                    new Ratio("unmap + faulting read / unmap + map + read", FAULT, REMAP, "x"),
                    new Ratio("64 MiB: registers / shared frames", REGISTERS, SHARED, "x")),
            List.of(new Target("frame allocate+free > " + plain(FRAME_TARGET_MPS) + " M/s",
                            m -> div(1e3, m.in(FRAME, NANOSECONDS)), v -> num(v) + " M/s",
                            v -> v > FRAME_TARGET_MPS),
                    Target.below("TLB-hit translation (with its read)", TLB_HIT, NANOSECONDS, TLB_HIT_TARGET_NS),
                    new Target("page fault round trip via the pager < " + plain(FAULT_TARGET_NS / 1000) + " us",
                            m -> m.in(FAULT, NANOSECONDS), v -> num(v) + " ns", v -> v < FAULT_TARGET_NS),
                    new Target("64 MiB via shared frames >= " + plain(SHARED_VS_REGISTERS_TARGET) + "x registers",
                            m -> m.ratio(REGISTERS, SHARED), v -> num(v) + "x", v -> v >= SHARED_VS_REGISTERS_TARGET)),
            Set.of(),
            BUSY);
}
