package isola.bench;

import static isola.bench.Suite.PER_BENCHMARK;
import static isola.bench.Suite.num;
import static isola.bench.Suite.plain;
import static java.util.concurrent.TimeUnit.MILLISECONDS;

import isola.bench.Suite.Ratio;
import isola.bench.Suite.Target;
import java.util.List;
import java.util.Set;

/**
 * The {@code fs} suite, beside its benchmarks in {@link FsBench}: the file system server against
 * the host's file system on the same workloads, and its crash to serving again.
 */
final class FsSuite {
    private FsSuite() {}

    private static final String SEQ_WRITE = "seqWrite";
    private static final String HOST_SEQ_WRITE = "hostSeqWrite";
    private static final String SEQ_WRITE_BUFFERED = "seqWriteBuffered";
    private static final String HOST_SEQ_WRITE_BUFFERED = "hostSeqWriteBuffered";
    private static final String SEQ_READ = "seqRead";
    private static final String HOST_SEQ_READ = "hostSeqRead";
    private static final String SEQ_READ_HEAP = "seqReadToHeap";
    private static final String HOST_SEQ_READ_HEAP = "hostSeqReadToHeap";
    private static final String SMALL_FILES = "smallFiles";
    private static final String HOST_SMALL_FILES = "hostSmallFiles";
    private static final String FS_CRASH = "crashToServing";
    static final List<String> BENCHMARKS = List.of(SEQ_WRITE, HOST_SEQ_WRITE, SEQ_WRITE_BUFFERED,
            HOST_SEQ_WRITE_BUFFERED, SEQ_READ, HOST_SEQ_READ, SEQ_READ_HEAP, HOST_SEQ_READ_HEAP, SMALL_FILES, HOST_SMALL_FILES, FS_CRASH);
    /** Target: sequential throughput through the fs server, as a fraction of the host file system's. */
    private static final double SEQ_VS_HOST_TARGET = 0.5;
    /** Target: small-file create+write+fsync rate through the fs server, as a fraction of the host's. */
    private static final double SMALL_VS_HOST_TARGET = 0.3;
    /** Target: fs server crash to serving again, journal replay included, on a 64 MiB image. */
    private static final double FS_CRASH_TARGET_MS = 50;

    static final Suite SUITE = new Suite("fs",
            "the file system server (block driver, fs server, a client through its shared buffer) against the "
                    + "host's file system, same workloads: 32 MiB sequential write (with and without fsync) and "
                    + "read (in place, and into a Java array), 100 small files each fsync'd; and crash to serving",
            FsBench.class, BENCHMARKS, BENCHMARKS, true, 1, PER_BENCHMARK, PER_BENCHMARK,
            "== isola bench fs: one workload, or one crash and recovery, per iteration; median, min and max over "
                    + "all measurement iterations of all forks ==",
            null,
            List.of(new Ratio("seq write+fsync: host / isola (throughput share)", HOST_SEQ_WRITE, SEQ_WRITE, "x"),
                    new Ratio("seq write, no fsync: host / isola", HOST_SEQ_WRITE_BUFFERED, SEQ_WRITE_BUFFERED, "x"),
                    new Ratio("seq read: host / isola", HOST_SEQ_READ, SEQ_READ, "x"),
                    new Ratio("seq read into a Java array: host / isola", HOST_SEQ_READ_HEAP, SEQ_READ_HEAP, "x"),
                    new Ratio("small files+fsync: host / isola", HOST_SMALL_FILES, SMALL_FILES, "x")),
            List.of(new Target("seq write+fsync >= " + plain(SEQ_VS_HOST_TARGET * 100) + "% of the host's",
                            m -> m.ratio(HOST_SEQ_WRITE, SEQ_WRITE), v -> num(v * 100) + "%", v -> v >= SEQ_VS_HOST_TARGET),
                    new Target("seq read >= " + plain(SEQ_VS_HOST_TARGET * 100) + "% of the host's",
                            m -> m.ratio(HOST_SEQ_READ, SEQ_READ), v -> num(v * 100) + "%", v -> v >= SEQ_VS_HOST_TARGET),
                    new Target("small files+fsync >= " + plain(SMALL_VS_HOST_TARGET * 100) + "% of the host's",
                            m -> m.ratio(HOST_SMALL_FILES, SMALL_FILES), v -> num(v * 100) + "%",
                            v -> v >= SMALL_VS_HOST_TARGET),
                    Target.below("fs crash to serving (64 MiB image)", FS_CRASH, MILLISECONDS, FS_CRASH_TARGET_MS)),
            Set.of(),
            "WARNING: other processes may have been busy during the run; see min/max, and rerun on an idle machine");
}
