package isola.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.DoublePredicate;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatFactory;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.WorkloadParams;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs a benchmark suite and reports it: {@code BenchMain SUITE [options]}. The result is JMH's
 * own JSON format, in {@code target/bench/SUITE.json} (relative to the current directory); this
 * prints the medians, ratios against the baselines of the same run, and the suite's targets.
 *
 * <p>A suite is data ({@link Suite}): its benchmark class and methods, its defaults, and the
 * ratios and targets its report judges. Two suites exist:
 * <ul>
 *   <li>{@code ipc} ({@link IpcBench}): by default it runs in fork rounds: each round forks one
 *       JVM per benchmark, in {@link #IPC_ORDER}, so the benchmarks a ratio compares are
 *       measured close in time; the forks are then merged per benchmark and written with JMH's
 *       JSON writer, as one JMH run with that many forks would write them. {@code --sequential}
 *       makes it one plain JMH run.
 *   <li>{@code boot} ({@link BootBench}): single-shot benchmarks (one launcher start, or one
 *       crash and recovery, per iteration) in one plain JMH run.
 * </ul>
 *
 * <p>Exit status: 0 when the suite ran (targets are reported, not enforced, unless
 * {@code --fail-on-miss}); 1 when a benchmark produced no result, or a target was missed with
 * {@code --fail-on-miss}; 2 for a usage error (unknown suite or option).
 */
public final class BenchMain {
    private BenchMain() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help") || args[0].equals("help")) {
            usage(args.length == 0 ? err : out);
            return args.length == 0 ? 2 : 0;
        }
        Suite suite = SUITES.get(args[0]);
        if (suite == null) {
            err.println("isola bench: unknown suite '" + args[0] + "'; known suites: "
                    + String.join(", ", SUITES.keySet()));
            return 2;
        }
        Options opts;
        try {
            opts = Options.parse(suite, List.of(args).subList(1, args.length));
        } catch (IllegalArgumentException e) {
            err.println("isola bench " + suite.name() + ": " + e.getMessage());
            usage(err);
            return 2;
        }
        if (opts.help) {
            usage(out);
            return 0;
        }
        try {
            return runSuite(suite, opts, out, err);
        } catch (RunnerException | IOException e) {
            err.println("isola bench " + suite.name() + ": " + e.getMessage());
            e.printStackTrace(err);
            return 1;
        }
    }

    static void usage(PrintStream s) {
        s.println("usage: BenchMain SUITE [options]     (./isola bench SUITE [options])");
        s.println();
        s.println("suites:");
        SUITES.values().forEach(x -> s.printf("  %-8s %s%n", x.name(), x.description()));
        s.println();
        s.println("options:");
        s.println("  --forks N         forked JVMs (isolates: runs of the executable; baremetal: QEMU");
        s.println("                    boots) per benchmark (default: ipc 2, boot 1, mem 2, isolates 2,");
        s.println("                    baremetal 3, fs 1)");
        s.println("  --warmup N        warm-up iterations per fork (default: ipc 5; boot per benchmark:");
        s.println("                    3 launcher starts, 10 crashes; fs per benchmark: 300 reads, 60");
        s.println("                    sequential writes, 40 small-file rounds, 10 crashes)");
        s.println("  --iterations N    measurement iterations per fork (default: ipc 10; boot per");
        s.println("                    benchmark: 10 launcher starts, 30 crashes; fs 20)");
        s.println("  --time S          ipc only: seconds per iteration, warm-up and measurement (default 1)");
        s.println("  --warmup-time S   ipc only: seconds per warm-up iteration (default: --time)");
        s.println("  --include REGEX   only benchmarks of the suite whose name matches REGEX");
        s.println("  --result FILE     JMH JSON result file (default target/bench/SUITE.json)");
        s.println("  --prof NAME       add a JMH profiler (e.g. gc, stack, perfnorm); repeatable");
        s.println("  --load N          run N busy processes (each a JVM spinning one thread) for the whole");
        s.println("                    run, to measure under oversubscription (default 0); the table and");
        s.println("                    the JSON (params.load) record N");
        s.println("  --sequential      ipc only: one JMH run in JMH's order (all forks of a benchmark,");
        s.println("                    then the next) instead of fork rounds interleaving the benchmarks");
        s.println("  --fail-on-miss    exit 1 if a target is missed");
        s.println("  -h, --help        this help");
        s.println();
        s.println("boot is single-shot: each iteration is one launcher start or one crash and recovery,");
        s.println("so --time and --warmup-time do not apply to it. Run it from the repository root");
        s.println("(./isola bench does): it starts ./isola boot.");
        s.println();
        s.println("isolates runs inside the native executable (native/target/bin/isola, built by ./isola");
        s.println("native); each fork is one run of it, and --time does not apply.");
        s.println();
        s.println("baremetal boots the kernel image (baremetal/target/image/isola-kernel.elf, built by");
        s.println("./isola image) in QEMU with bench on its command line; each fork is one boot.");
        s.println();
        s.println("quick runs: ./isola bench ipc --forks 1 --warmup 2 --iterations 3 --time 1");
        s.println("            ./isola bench boot --warmup 2 --iterations 5");
    }

    // =====================================================================================
    // Suites as data
    // =====================================================================================

    /** Options every suite takes. */
    static final Set<String> COMMON_OPTIONS = Set.of("-h", "--help", "--fail-on-miss", "--forks", "--warmup",
            "--iterations", "--include", "--result", "--prof", "--load");
    /** The most busy processes {@code --load} starts: enough to oversubscribe any host this runs on. */
    static final int MAX_LOAD = 64;
    /** The name under which the JSON's {@code params} record {@code --load}. */
    static final String LOAD_PARAM = "load";
    /** Options only timed (not single-shot) suites take, with their interleaved fork rounds. */
    static final Set<String> TIMED_OPTIONS = Set.of("--time", "--warmup-time", "--sequential");

    /** A warm-up or measurement count that the benchmark's own annotations decide. */
    static final int PER_BENCHMARK = -1;

    /**
     * One suite.
     *
     * @param benchClass the JMH benchmark class, or null for a suite measured inside the native
     *     executable ({@link NativeHarness})
     * @param benchmarks the benchmark methods of {@code benchClass}, in the order the table lists them
     * @param runOrder order of the interleaved fork rounds (timed suites)
     * @param singleShot true if every iteration is one invocation: no time options, no fork rounds
     * @param warmup default warm-up iterations, or {@link #PER_BENCHMARK}
     * @param iterations default measurement iterations, or {@link #PER_BENCHMARK}
     * @param heading the table's title line
     * @param tableUnit the unit every row reports in (a "median UNIT" column), or null for a unit column
     * @param needsRoot benchmarks that need the repository root (they start ./isola)
     * @param busyWarning what the report says when the host was busy
     */
    record Suite(String name, String description, Class<?> benchClass, List<String> benchmarks,
            List<String> runOrder, boolean singleShot, int forks, int warmup, int iterations, String heading,
            String tableUnit, List<Ratio> ratios, List<Target> targets, Set<String> needsRoot, String busyWarning) {

        Path defaultResult() {
            return Path.of("target", "bench", name + ".json");
        }

        boolean takes(String option) {
            return COMMON_OPTIONS.contains(option) || (!singleShot && TIMED_OPTIONS.contains(option));
        }
    }

    /** A ratio of two benchmarks' medians (converted to one unit), printed with {@code suffix}. */
    record Ratio(String what, String numerator, String denominator, String suffix) {}

    /**
     * A target: {@code value} computes what is judged from the medians (null if not measured),
     * {@code shown} formats it, {@code pass} judges it.
     */
    record Target(String what, Function<Medians, Double> value, Function<Double, String> shown,
            DoublePredicate pass) {}

    /** The medians of one run, by benchmark, in any time unit. */
    record Medians(Map<String, Stats> stats) {
        /** The median of {@code m} in {@code unit}, or null if not measured. */
        Double in(String m, TimeUnit unit) {
            Stats s = stats.get(m);
            if (s == null || Double.isNaN(s.median())) {
                return null;
            }
            double ns = nanosPerUnit(s.unit());
            return Double.isNaN(ns) ? null : s.median() * ns / unit.toNanos(1);
        }

        /** a's median over b's: in one time unit, or directly if both count the same thing (cycles/op). */
        Double ratio(String a, String b) {
            Stats sa = stats.get(a), sb = stats.get(b);
            if (sa != null && sb != null && sa.unit() != null && sa.unit().equals(sb.unit())
                    && Double.isNaN(nanosPerUnit(sa.unit()))) {
                return div(sa.median(), sb.median());
            }
            return div(in(a, TimeUnit.NANOSECONDS), in(b, TimeUnit.NANOSECONDS));
        }
    }

    /** Nanoseconds in one unit of a JMH score unit such as "ns/op" or "ms/op"; NaN if unknown. */
    static double nanosPerUnit(String scoreUnit) {
        String u = scoreUnit == null ? "" : scoreUnit.replace("/op", "");
        return switch (u) {
            case "ns" -> 1;
            case "us" -> 1e3;
            case "ms" -> 1e6;
            case "s" -> 1e9;
            case "min" -> 60e9;
            default -> Double.NaN;
        };
    }

    // ---- ipc ----

    static final String JAVA = "javaInterfaceCall";
    static final String PASSIVE = "passiveCall";
    static final String ACTIVE = "activeCall";
    static final String QUEUE = "synchronousQueue";
    static final String SPIN = "spinPingPong";
    static final List<String> IPC_BENCHMARKS = List.of(JAVA, PASSIVE, ACTIVE, QUEUE, SPIN);

    /** Target: a passive call's median round trip, in ns. */
    static final double PASSIVE_TARGET_NS = 25;
    /** Target: an active round trip costs at most this many spin ping-pongs. */
    static final double ACTIVE_VS_SPIN_TARGET = 2;
    /** Target: an active round trip is at least this many times faster than a SynchronousQueue one. */
    static final double QUEUE_VS_ACTIVE_TARGET = 10;

    /**
     * Order of the interleaved run: each fork round measures the cross-thread round trips back
     * to back (spin ping-pong, then active, then SynchronousQueue), so a ratio compares
     * neighbours in time. Where the host places two vCPUs changes the cache-line transfer cost
     * several-fold from minute to minute, which JMH's own order (by name, all forks of one
     * benchmark before the next) would turn into ratio noise.
     */
    static final List<String> IPC_ORDER = List.of(SPIN, ACTIVE, QUEUE, PASSIVE, JAVA);

    static final Suite IPC = new Suite("ipc",
            "IPC round trips: passive and active calls vs Java call, SynchronousQueue, spin ping-pong",
            IpcBench.class, IPC_BENCHMARKS, IPC_ORDER, false, 2, 5, 10,
            "== isola bench ipc: one round trip per operation; median, min and max over all "
                    + "measurement iterations of all forks ==",
            "ns/op",
            List.of(new Ratio("passive call / Java interface call", PASSIVE, JAVA, "x"),
                    new Ratio("active call / spin ping-pong", ACTIVE, SPIN, "x"),
                    new Ratio("SynchronousQueue / active call", QUEUE, ACTIVE, "x (active is that many times faster)")),
            List.of(new Target("passive call median < " + num(PASSIVE_TARGET_NS) + " ns",
                            m -> m.in(PASSIVE, TimeUnit.NANOSECONDS), v -> num(v) + " ns", v -> v < PASSIVE_TARGET_NS),
                    new Target("active round trip <= " + num(ACTIVE_VS_SPIN_TARGET) + "x spin ping-pong",
                            m -> m.ratio(ACTIVE, SPIN), v -> num(v) + "x", v -> v <= ACTIVE_VS_SPIN_TARGET),
                    new Target("active >= " + num(QUEUE_VS_ACTIVE_TARGET) + "x faster than SynchronousQueue",
                            m -> m.ratio(QUEUE, ACTIVE), v -> num(v) + "x", v -> v >= QUEUE_VS_ACTIVE_TARGET)),
            Set.of(),
            "WARNING: other processes may have been busy during the run; cross-thread round trips "
                    + "(active, spin ping-pong, SynchronousQueue) are unreliable: see min/max, and rerun "
                    + "on an idle machine");

    // ---- boot ----

    static final String LAUNCHER = "launcherBoot";
    static final String JVM_START = "jvmStart";
    static final String CRASH_NAMES = "crashNamesToServing";
    static final String NAMES_CALL = "namesListCall";
    static final String CRASH_LOG = "crashLogToServing";
    static final String LOG_CALL = "logWriteCall";
    static final List<String> BOOT_BENCHMARKS = List.of(LAUNCHER, JVM_START, CRASH_NAMES, NAMES_CALL, CRASH_LOG,
            LOG_CALL);

    /** Target: launcher start to the shell's prompt, JVM start included, in ms (on 2 cores). */
    static final double BOOT_TARGET_MS = 1500;
    /** Target: a crashed `vm`-tier server serves again within this many ms. */
    static final double CRASH_TARGET_MS = 5;

    static final Suite BOOT = new Suite("boot",
            "start-up and recovery: ./isola boot to the shell prompt vs JVM start; crash of names/log "
                    + "to serving again vs a plain call",
            BootBench.class, BOOT_BENCHMARKS, BOOT_BENCHMARKS, true, 1, PER_BENCHMARK, PER_BENCHMARK,
            "== isola bench boot: one launcher start, or one crash and recovery, per iteration; median, "
                    + "min and max over all measurement iterations of all forks ==",
            null,
            List.of(new Ratio("launcher boot / JVM start", LAUNCHER, JVM_START, "x"),
                    new Ratio("names: crash to serving / plain list", CRASH_NAMES, NAMES_CALL, "x"),
                    new Ratio("log: crash to serving / plain write", CRASH_LOG, LOG_CALL, "x")),
            List.of(new Target("./isola boot to prompt < " + plain(BOOT_TARGET_MS) + " ms",
                            m -> m.in(LAUNCHER, TimeUnit.MILLISECONDS), v -> num(v) + " ms", v -> v < BOOT_TARGET_MS),
                    new Target("names crash to serving < " + plain(CRASH_TARGET_MS) + " ms",
                            m -> ms(m, CRASH_NAMES), v -> num(v) + " ms", v -> v < CRASH_TARGET_MS),
                    new Target("log crash to serving < " + plain(CRASH_TARGET_MS) + " ms",
                            m -> ms(m, CRASH_LOG), v -> num(v) + " ms", v -> v < CRASH_TARGET_MS)),
            Set.of(LAUNCHER, JVM_START),
            "WARNING: other processes may have been busy during the run; start-up and restart times "
                    + "are unreliable: see min/max, and rerun on an idle machine");

    private static Double ms(Medians m, String bench) {
        return m.in(bench, TimeUnit.MILLISECONDS);
    }

    // ---- mem ----

    static final String FRAME = "frameAllocFree";
    static final String BLOCK_2M = "blockAllocFree2M";
    static final String FRAME_STACK = "frameStackBaseline";
    static final String TLB_HIT = "tlbHitRead";
    static final String PHYS_READ = "physicalRead";
    static final String TLB_MISS = "tlbMissRead";
    static final String FAULT = "pageFaultRoundTrip";
    static final String REMAP = "remapWithoutFault";
    static final String MAPPED_READ = "mappedRead";
    static final String SHARED = "transfer64MiBShared";
    static final String REGISTERS = "transfer64MiBRegisters";
    static final List<String> MEM_BENCHMARKS = List.of(FRAME, BLOCK_2M, FRAME_STACK, TLB_HIT, PHYS_READ, TLB_MISS,
            FAULT, REMAP, MAPPED_READ, SHARED, REGISTERS);
    /** Target: 64 MiB through shared frames is at least this many times faster than through registers. */
    static final double SHARED_VS_REGISTERS_TARGET = 10;
    /** Target: a page fault round trip through the pager, in ns. */
    static final double FAULT_TARGET_NS = 2000;

    /** Target: frame allocations (each with its free) per second, in millions. */
    static final double FRAME_TARGET_MPS = 20;
    /** Target: a read through a TLB hit, translation included, in ns. */
    static final double TLB_HIT_TARGET_NS = 5;

    static final Suite MEM = new Suite("mem",
            "physical memory and the MMU: frame allocation vs a plain stack, reads through the TLB "
                    + "(hit and walk) vs a physical read",
            MemBench.class, MEM_BENCHMARKS, MEM_BENCHMARKS, false, 2, 5, 10,
            "== isola bench mem: one operation per op; median, min and max over all measurement "
                    + "iterations of all forks ==",
            null,
            List.of(new Ratio("frame alloc+free / stack pop+push", FRAME, FRAME_STACK, "x"),
                    new Ratio("read through a TLB hit / physical read", TLB_HIT, PHYS_READ, "x"),
                    new Ratio("read through a walk / physical read", TLB_MISS, PHYS_READ, "x"),
                    new Ratio("unmap + faulting read / unmap + map + read", FAULT, REMAP, "x"),
                    new Ratio("64 MiB: registers / shared frames", REGISTERS, SHARED, "x")),
            List.of(new Target("frame allocate+free > " + plain(FRAME_TARGET_MPS) + " M/s",
                            m -> div(1e3, m.in(FRAME, TimeUnit.NANOSECONDS)), v -> num(v) + " M/s",
                            v -> v > FRAME_TARGET_MPS),
                    new Target("TLB-hit translation (with its read) < " + plain(TLB_HIT_TARGET_NS) + " ns",
                            m -> m.in(TLB_HIT, TimeUnit.NANOSECONDS), v -> num(v) + " ns", v -> v < TLB_HIT_TARGET_NS),
                    new Target("page fault round trip via the pager < " + plain(FAULT_TARGET_NS / 1000) + " us",
                            m -> m.in(FAULT, TimeUnit.NANOSECONDS), v -> num(v) + " ns", v -> v < FAULT_TARGET_NS),
                    new Target("64 MiB via shared frames >= " + plain(SHARED_VS_REGISTERS_TARGET) + "x registers",
                            m -> m.ratio(REGISTERS, SHARED), v -> num(v) + "x", v -> v >= SHARED_VS_REGISTERS_TARGET)),
            Set.of(),
            "WARNING: other processes may have been busy during the run: see min/max, and rerun on an idle machine");

    // ---- isolates (harness: the native executable) ----

    static final String IN_ISOLATE = "callInIsolate";
    static final String ACROSS = "callAcrossIsolates";
    static final String EMPTY_CROSSING = "emptyCrossing";
    static final String CRASH_NATIVE = "crashToServing";
    static final String ISOLATE_CREATE = "isolateCreate";
    static final String ISOLATE_TEARDOWN = "isolateTeardown";
    static final String BOOTED_NAMES = "bootedCrashNamesToServing";
    static final String BOOTED_LOG = "bootedCrashLogToServing";
    static final List<String> ISOLATE_BENCHMARKS = List.of(IN_ISOLATE, ACROSS, EMPTY_CROSSING, CRASH_NATIVE,
            ISOLATE_CREATE, ISOLATE_TEARDOWN, BOOTED_NAMES, BOOTED_LOG);
    /** Target: a passive call into another isolate, capability check included, in ns. */
    static final double ACROSS_TARGET_NS = 40;
    /** Target: a crashed native-tier server serves again within this many ms. */
    static final double NATIVE_CRASH_TARGET_MS = 15;

    static final Suite ISOLATES = new Suite("isolates",
            "GraalVM isolate boundaries in the native executable: a passive call into a server's own "
                    + "isolate vs one inside the kernel's; an empty crossing; crash to serving again (one server, "
                    + "and names or log in the booted system, through the supervisor); isolate creation and teardown",
            null, ISOLATE_BENCHMARKS, ISOLATE_BENCHMARKS, true, 2, 5, 10,
            "== isola bench isolates: one call (ns) or one isolate (ms) per operation, measured inside the "
                    + "native executable; median, min and max over all measurement iterations of all forks ==",
            null,
            List.of(new Ratio("call across isolates / call inside one", ACROSS, IN_ISOLATE, "x"),
                    new Ratio("call across isolates / empty crossing", ACROSS, EMPTY_CROSSING, "x")),
            List.of(new Target("passive call across isolates < " + plain(ACROSS_TARGET_NS) + " ns",
                            m -> m.in(ACROSS, TimeUnit.NANOSECONDS), v -> num(v) + " ns", v -> v < ACROSS_TARGET_NS),
                    new Target("native crash to serving < " + plain(NATIVE_CRASH_TARGET_MS) + " ms",
                            m -> ms(m, CRASH_NATIVE), v -> num(v) + " ms", v -> v < NATIVE_CRASH_TARGET_MS),
                    new Target("booted: names crash to serving < " + plain(NATIVE_CRASH_TARGET_MS) + " ms",
                            m -> ms(m, BOOTED_NAMES), v -> num(v) + " ms", v -> v < NATIVE_CRASH_TARGET_MS),
                    new Target("booted: log crash to serving < " + plain(NATIVE_CRASH_TARGET_MS) + " ms",
                            m -> ms(m, BOOTED_LOG), v -> num(v) + " ms", v -> v < NATIVE_CRASH_TARGET_MS)),
            Set.of(),
            "WARNING: other processes may have been busy during the run: see min/max, and rerun on an idle machine");

    // ---- baremetal (harness: the kernel in QEMU) ----

    static final String BOOT_TO_SUMMARY = NativeHarness.BOOT_TO_SUMMARY;
    static final String TSC_READ = "tscRead";
    static final String TIMER_INTERRUPT = "timerInterrupt";
    static final String CONTEXT_SWITCH = "contextSwitch";
    static final String LOCK_UNCONTENDED = "lockUncontended";
    static final String LOCK_HANDOFF = "lockHandoff";
    static final String PAGE_FAULT = "pageFault";
    static final List<String> BAREMETAL_BENCHMARKS = List.of(BOOT_TO_SUMMARY, TSC_READ, TIMER_INTERRUPT, CONTEXT_SWITCH,
            LOCK_UNCONTENDED, LOCK_HANDOFF, PAGE_FAULT);
    /** Target: QEMU start to the kernel's summary line, wall time under TCG. */
    static final double QEMU_BOOT_TARGET_MS = 1000;

    static final Suite BAREMETAL = new Suite("baremetal",
            "the kernel on x86-64 in QEMU (TCG): QEMU start to the summary line (wall), and in TSC cycles on "
                    + "bare metal: a timer interrupt's entry to exit, a thread switch, uncontended and contended lock "
                    + "hand-off, a demand page fault's round trip",
            null, BAREMETAL_BENCHMARKS, BAREMETAL_BENCHMARKS, true, 3, 3, 10,
            "== isola bench baremetal: wall ms per boot, or TSC cycles per operation under QEMU TCG (emulated cycles: "
                    + "compare within this run only); median, min and max over all iterations of all boots ==",
            null,
            List.of(new Ratio("contended lock hand-off / thread switch", LOCK_HANDOFF, CONTEXT_SWITCH, "x"),
                    new Ratio("page fault / thread switch", PAGE_FAULT, CONTEXT_SWITCH, "x"),
                    new Ratio("uncontended lock / TSC read", LOCK_UNCONTENDED, TSC_READ, "x")),
            List.of(new Target("QEMU start to summary line < " + plain(QEMU_BOOT_TARGET_MS) + " ms",
                    m -> ms(m, BOOT_TO_SUMMARY), v -> num(v) + " ms", v -> v < QEMU_BOOT_TARGET_MS)),
            Set.of(),
            "WARNING: other processes may have been busy during the run: see min/max, and rerun on an idle machine");

    // ---- fs ----

    static final String SEQ_WRITE = "seqWrite";
    static final String HOST_SEQ_WRITE = "hostSeqWrite";
    static final String SEQ_WRITE_BUFFERED = "seqWriteBuffered";
    static final String HOST_SEQ_WRITE_BUFFERED = "hostSeqWriteBuffered";
    static final String SEQ_READ = "seqRead";
    static final String HOST_SEQ_READ = "hostSeqRead";
    static final String SEQ_READ_HEAP = "seqReadToHeap";
    static final String HOST_SEQ_READ_HEAP = "hostSeqReadToHeap";
    static final String SMALL_FILES = "smallFiles";
    static final String HOST_SMALL_FILES = "hostSmallFiles";
    static final String FS_CRASH = "crashToServing";
    static final List<String> FS_BENCHMARKS = List.of(SEQ_WRITE, HOST_SEQ_WRITE, SEQ_WRITE_BUFFERED,
            HOST_SEQ_WRITE_BUFFERED, SEQ_READ, HOST_SEQ_READ, SEQ_READ_HEAP, HOST_SEQ_READ_HEAP, SMALL_FILES, HOST_SMALL_FILES, FS_CRASH);
    /** Target: sequential throughput through the fs server, as a fraction of the host file system's. */
    static final double SEQ_VS_HOST_TARGET = 0.5;
    /** Target: small-file create+write+fsync rate through the fs server, as a fraction of the host's. */
    static final double SMALL_VS_HOST_TARGET = 0.3;
    /** Target: fs server crash to serving again, journal replay included, on a 64 MiB image. */
    static final double FS_CRASH_TARGET_MS = 50;

    static final Suite FS = new Suite("fs",
            "the file system server (block driver, fs server, a client through its shared buffer) against the "
                    + "host's file system, same workloads: 32 MiB sequential write (with and without fsync) and "
                    + "read (in place, and into a Java array), 100 small files each fsync'd; and crash to serving",
            FsBench.class, FS_BENCHMARKS, FS_BENCHMARKS, true, 1, PER_BENCHMARK, PER_BENCHMARK,
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
                    new Target("fs crash to serving (64 MiB image) < " + plain(FS_CRASH_TARGET_MS) + " ms",
                            m -> ms(m, FS_CRASH), v -> num(v) + " ms", v -> v < FS_CRASH_TARGET_MS)),
            Set.of(),
            "WARNING: other processes may have been busy during the run; see min/max, and rerun on an idle machine");

    /** Known suites, in the order the usage lists them. */
    static final Map<String, Suite> SUITES = new LinkedHashMap<>();

    static {
        SUITES.put(IPC.name(), IPC);
        SUITES.put(BOOT.name(), BOOT);
        SUITES.put(MEM.name(), MEM);
        SUITES.put(ISOLATES.name(), ISOLATES);
        SUITES.put(BAREMETAL.name(), BAREMETAL);
        SUITES.put(FS.name(), FS);
    }

    // =====================================================================================
    // Options
    // =====================================================================================

    static final class Options {
        final Suite suite;
        int forks;
        /** Warm-up iterations per fork, or {@link #PER_BENCHMARK}. */
        int warmup;
        /** Measurement iterations per fork, or {@link #PER_BENCHMARK}. */
        int iterations;
        double time = 1;
        Double warmupTime;
        String include = ".*";
        Path result;
        boolean failOnMiss;
        boolean sequential;
        boolean help;
        /** Busy processes to run beside the benchmark ({@code --load}). */
        int load;
        final List<String> profilers = new ArrayList<>();

        private Options(Suite suite) {
            this.suite = suite;
            forks = suite.forks();
            warmup = suite.warmup();
            iterations = suite.iterations();
            result = suite.defaultResult();
        }

        static Options parse(Suite suite, List<String> args) {
            Options o = new Options(suite);
            for (int i = 0; i < args.size(); i++) {
                String a = args.get(i);
                String name = a;
                String value = null;
                int eq = a.indexOf('=');
                if (a.startsWith("--") && eq > 0) {
                    name = a.substring(0, eq);
                    value = a.substring(eq + 1);
                }
                if (!COMMON_OPTIONS.contains(name) && !TIMED_OPTIONS.contains(name)) {
                    throw new IllegalArgumentException("unknown option '" + a + "'");
                }
                if (!suite.takes(name)) {
                    throw new IllegalArgumentException(name + " does not apply to suite " + suite.name()
                            + ": it is single-shot (each iteration is one run, not a time slice)");
                }
                switch (name) {
                    case "-h", "--help" -> o.help = true;
                    case "--fail-on-miss" -> o.failOnMiss = true;
                    case "--sequential" -> o.sequential = true;
                    default -> {
                        if (value == null) {
                            if (i + 1 >= args.size()) {
                                throw new IllegalArgumentException(name + " needs a value");
                            }
                            value = args.get(++i);
                        }
                        o.set(name, value);
                    }
                }
            }
            return o;
        }

        private void set(String name, String value) {
            switch (name) {
                case "--forks" -> forks = intAtLeast(name, value, 0);
                case "--warmup" -> warmup = intAtLeast(name, value, 0);
                case "--iterations" -> iterations = intAtLeast(name, value, 1);
                case "--time" -> time = seconds(name, value);
                case "--warmup-time" -> warmupTime = seconds(name, value);
                case "--include" -> {
                    try {
                        Pattern.compile(value);
                    } catch (RuntimeException e) {
                        throw new IllegalArgumentException("--include '" + value + "' is not a regular expression: "
                                + e.getMessage());
                    }
                    include = value;
                }
                case "--result" -> result = Path.of(value);
                case "--prof" -> profilers.add(value);
                case "--load" -> {
                    load = intAtLeast(name, value, 0);
                    if (load > MAX_LOAD) {
                        throw new IllegalArgumentException("--load '" + value + "' is more than " + MAX_LOAD
                                + " busy processes");
                    }
                }
                default -> throw new IllegalArgumentException("unknown option '" + name + "'");
            }
        }

        private static int intAtLeast(String name, String value, int min) {
            try {
                int n = Integer.parseInt(value);
                if (n >= min) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new IllegalArgumentException(name + " '" + value + "' is not an integer >= " + min);
        }

        private static double seconds(String name, String value) {
            try {
                double s = Double.parseDouble(value);
                if (s > 0 && s <= 3600) {
                    return s;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new IllegalArgumentException(name + " '" + value + "' is not a number of seconds in (0, 3600]");
        }
    }

    private static TimeValue timeValue(double seconds) {
        return TimeValue.milliseconds(Math.max(1, Math.round(seconds * 1000)));
    }

    // =====================================================================================
    // Running
    // =====================================================================================

    static int runSuite(Suite suite, Options o, PrintStream out, PrintStream err) throws RunnerException, IOException {
        Path result = o.result.toAbsolutePath();
        Pattern inc = Pattern.compile(o.include);
        List<String> wanted = new ArrayList<>();
        for (String m : suite.runOrder()) {
            if (inc.matcher(m).matches()) {
                wanted.add(m);
            }
        }
        if (wanted.isEmpty()) {
            err.println("isola bench " + suite.name() + ": --include '" + o.include + "' matches none of "
                    + suite.benchmarks());
            return 2;
        }
        List<String> jvmArgs = new ArrayList<>();
        if (wanted.stream().anyMatch(suite.needsRoot()::contains)) {
            Path root = Path.of("").toAbsolutePath();
            Path launcher = root.resolve("isola");
            if (!Files.isRegularFile(launcher) || !Files.isExecutable(launcher)) {
                err.println("isola bench " + suite.name() + ": no executable launcher " + launcher
                        + "; run from the repository root (./isola bench " + suite.name() + " does)");
                return 1;
            }
            jvmArgs.add("-D" + BootBench.ROOT_PROPERTY + "=" + root);
            // --forks 0 runs the benchmarks in this JVM
            System.setProperty(BootBench.ROOT_PROPERTY, root.toString());
        }
        if (suite == BOOT) {
            // The in-process system's host log (Log4j), away from the launcher's target/isola.log.
            Path log = Path.of("target", "bench", "boot-isola.log").toAbsolutePath();
            jvmArgs.add("-Disola.log.file=" + log);
            if (System.getProperty("isola.log.file") == null) {
                System.setProperty("isola.log.file", log.toString());
            }
        }
        Files.createDirectories(result.getParent());
        double loadBefore = loadAverage();
        Collection<RunResult> results;
        double loadAfter;
        try (LoadProcesses load = LoadProcesses.start(o.load)) {
            if (o.load > 0) {
                out.println("isola bench " + suite.name() + ": --load " + o.load + ": busy processes " + load.pids());
            }
            results = suite.benchClass() == null
                    ? NativeHarness.run(suite, o, wanted, out)
                    : suite.singleShot() || o.sequential || o.forks <= 1
                    ? runSequential(suite, o, wanted, jvmArgs)
                    : runInterleaved(suite, o, wanted, jvmArgs, out);
            loadAfter = loadAverage(); // with the busy processes still running: the warning allows for them
            if (!load.allAlive()) {
                err.println("isola bench " + suite.name() + ": a busy process of --load " + o.load
                        + " ended during the run, so the run was not under the load asked for");
                return 1;
            }
        }
        results = withLoad(results, o.load);
        ResultFormatFactory.getInstance(ResultFormatType.JSON, result.toString()).writeOut(results);

        Map<String, Stats> stats = new LinkedHashMap<>();
        for (RunResult r : results) {
            String bench = r.getParams().getBenchmark();
            String method = bench.substring(bench.lastIndexOf('.') + 1);
            stats.put(method, Stats.of(r));
        }
        boolean complete = true;
        List<String> shown = new ArrayList<>();
        for (String m : suite.benchmarks()) {
            if (wanted.contains(m)) {
                shown.add(m);
                complete &= stats.containsKey(m);
            }
        }
        boolean allMet = report(suite, stats, shown, o, result, out);
        warnIfBusy(suite, loadBefore, loadAfter, o.load, out);
        if (!complete) {
            err.println("isola bench " + suite.name() + ": some benchmarks produced no result (see JMH's output above)");
            return 1;
        }
        return o.failOnMiss && !allMet ? 1 : 0;
    }

    /** The host's one-minute load average, or NaN if unknown. */
    static double loadAverage() {
        double l = java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        return l < 0 ? Double.NaN : l;
    }

    /**
     * A run measures what it claims only if nothing but the benchmark (and the {@code --load}
     * processes asked for) competed for the CPUs: with another busy process on a two-CPU
     * machine, two threads handing off to each other share one CPU. The load average before the
     * run is taken before the busy processes start; the one after includes the run itself (about
     * 2) and the {@code load} busy processes.
     */
    static void warnIfBusy(Suite suite, double before, double after, int load, PrintStream out) {
        int cpus = Runtime.getRuntime().availableProcessors();
        out.printf(Locale.ROOT, "host: %d CPUs, load average %s before the run, %s after%s%n", cpus,
                num(before), num(after), load > 0 ? " (" + load + " of it --load)" : "");
        if (before >= 1.0 || after > cpus + load + 0.5) {
            out.println(suite.busyWarning());
        }
    }

    /**
     * {@code results} with {@code --load} recorded in each benchmark's JMH params (the JSON's
     * {@code "params": {"load": "N"}}), idle runs included, so two result files say which was
     * measured under load without anyone having to remember.
     */
    static List<RunResult> withLoad(Collection<RunResult> results, int load) {
        List<RunResult> out = new ArrayList<>();
        for (RunResult r : results) {
            BenchmarkParams p = r.getParams();
            out.add(new RunResult(params(p, p.getForks(), load), r.getBenchmarkResults()));
        }
        out.sort(RunResult.DEFAULT_SORT_COMPARATOR);
        return out;
    }

    private static ChainedOptionsBuilder baseOptions(Suite suite, Options o, List<String> jvmArgs) {
        ChainedOptionsBuilder b = new OptionsBuilder();
        if (o.warmup != PER_BENCHMARK) {
            b.warmupIterations(o.warmup);
        }
        if (o.iterations != PER_BENCHMARK) {
            b.measurementIterations(o.iterations);
        }
        if (!suite.singleShot()) {
            b.warmupTime(timeValue(o.warmupTime != null ? o.warmupTime : o.time))
                    .measurementTime(timeValue(o.time));
        }
        if (!jvmArgs.isEmpty()) {
            // Prepended: the benchmark's own @Fork(jvmArgsAppend) flags stay.
            b.jvmArgsPrepend(jvmArgs.toArray(String[]::new));
        }
        for (String p : o.profilers) {
            b.addProfiler(p);
        }
        return b;
    }

    private static String only(Suite suite, List<String> methods) {
        return "^" + Pattern.quote(suite.benchClass().getName()) + "\\.(" + String.join("|", methods) + ")$";
    }

    /** One JMH run in JMH's order. */
    private static Collection<RunResult> runSequential(Suite suite, Options o, List<String> wanted,
            List<String> jvmArgs) throws RunnerException {
        return new Runner(baseOptions(suite, o, jvmArgs)
                .include(only(suite, wanted))
                .forks(o.forks)
                .build()).run();
    }

    /**
     * {@code forks} rounds of one fork of each benchmark, in the suite's run order; the forks of
     * each benchmark are then merged into one result, as a single JMH run with that many forks
     * would have it (runSuite writes them with JMH's own JSON writer).
     */
    private static Collection<RunResult> runInterleaved(Suite suite, Options o, List<String> wanted,
            List<String> jvmArgs, PrintStream out) throws RunnerException {
        Map<String, List<BenchmarkResult>> forks = new LinkedHashMap<>();
        Map<String, BenchmarkParams> params = new LinkedHashMap<>();
        for (int round = 1; round <= o.forks; round++) {
            for (String m : wanted) {
                out.printf("%n## isola bench %s: fork round %d of %d: %s%n", suite.name(), round, o.forks, m);
                Collection<RunResult> rr = new Runner(baseOptions(suite, o, jvmArgs)
                        .include(only(suite, List.of(m))).forks(1).build()).run();
                for (RunResult r : rr) {
                    String name = r.getParams().getBenchmark();
                    params.putIfAbsent(name, r.getParams());
                    forks.computeIfAbsent(name, k -> new ArrayList<>()).addAll(r.getBenchmarkResults());
                }
            }
        }
        List<RunResult> merged = new ArrayList<>();
        forks.forEach((name, brs) -> {
            BenchmarkParams p = params.get(name);
            merged.add(new RunResult(params(p, brs.size(), o.load), brs));
        });
        merged.sort(RunResult.DEFAULT_SORT_COMPARATOR);
        return merged;
    }

    /**
     * {@code p} with its fork count set to {@code forks} (the forks actually merged) and its
     * params to {@code load} only: the suites have no JMH {@code @Param} of their own.
     */
    static BenchmarkParams params(BenchmarkParams p, int forks, int load) {
        for (Object k : p.getParamsKeys()) {
            if (!k.equals(LOAD_PARAM)) {
                throw new IllegalStateException("benchmark " + p.getBenchmark() + " has a JMH @Param '" + k
                        + "', which the report would drop; record it here too");
            }
        }
        WorkloadParams wp = new WorkloadParams();
        wp.put(LOAD_PARAM, Integer.toString(load), 0);
        return new BenchmarkParams(p.getBenchmark(), p.generatedBenchmark(), p.shouldSynchIterations(),
                p.getThreads(), p.getThreadGroups(), p.getThreadGroupLabels(), forks, p.getWarmupForks(),
                p.getWarmup(), p.getMeasurement(), p.getMode(), wp, p.getTimeUnit(),
                p.getOpsPerInvocation(), p.getJvm(), p.getJvmArgs(), p.getJdkVersion(), p.getVmName(),
                p.getVmVersion(), p.getJmhVersion(), p.getTimeout());
    }

    /** Per-benchmark statistics over every measurement iteration of every fork. */
    record Stats(double median, double min, double max, int iterations, int forks, String unit) {
        static Stats of(RunResult r) {
            List<Double> scores = new ArrayList<>();
            String unit = r.getPrimaryResult().getScoreUnit();
            int forks = 0;
            for (BenchmarkResult br : r.getBenchmarkResults()) {
                forks++;
                for (IterationResult ir : br.getIterationResults()) {
                    scores.add(ir.getPrimaryResult().getScore());
                }
            }
            return of(scores, forks, unit);
        }

        static Stats of(List<Double> scores, int forks, String unit) {
            double[] s = scores.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            if (s.length == 0) {
                return new Stats(Double.NaN, Double.NaN, Double.NaN, 0, forks, unit);
            }
            int n = s.length;
            double median = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
            return new Stats(median, s[0], s[n - 1], n, forks, unit);
        }
    }

    // =====================================================================================
    // Report
    // =====================================================================================

    /** Prints the table, ratios and targets; true if every target that could be judged is met. */
    static boolean report(Suite suite, Map<String, Stats> stats, List<String> wanted, Options o, Path result,
            PrintStream out) {
        out.println();
        out.println(suite.heading());
        out.println(o.load == 0 ? "load: none (an idle run; --load N adds N busy processes)"
                : "load: " + o.load + " busy process" + (o.load == 1 ? "" : "es") + " (--load " + o.load
                        + ") ran throughout the run");
        String fixed = suite.tableUnit();
        int w = Math.max(20, wanted.stream().mapToInt(String::length).max().orElse(0)); // the name column
        if (fixed != null) {
            out.printf(Locale.ROOT, "%-" + w + "s %12s %12s %12s %8s %6s%n", "benchmark", "median " + fixed, "min", "max",
                    "iters", "forks");
        } else {
            out.printf(Locale.ROOT, "%-" + w + "s %12s %12s %12s %-6s %8s %6s%n", "benchmark", "median", "min", "max",
                    "unit", "iters", "forks");
        }
        for (String m : wanted) {
            Stats s = stats.get(m);
            if (s == null) {
                out.printf(Locale.ROOT, "%-" + w + "s %12s%n", m, "no result");
            } else if (fixed != null) {
                if (!fixed.equals(s.unit())) {
                    out.printf("(%s reports %s, not %s)%n", m, s.unit(), fixed);
                }
                out.printf(Locale.ROOT, "%-" + w + "s %12s %12s %12s %8d %6d%n", m, num(s.median()), num(s.min()),
                        num(s.max()), s.iterations(), s.forks());
            } else {
                out.printf(Locale.ROOT, "%-" + w + "s %12s %12s %12s %-6s %8d %6d%n", m, num(s.median()), num(s.min()),
                        num(s.max()), s.unit(), s.iterations(), s.forks());
            }
        }

        Medians medians = new Medians(stats);
        out.println();
        out.println("ratios (of medians):");
        for (Ratio r : suite.ratios()) {
            Double v = medians.ratio(r.numerator(), r.denominator());
            out.printf(Locale.ROOT, "  %-40s %s%n", r.what(), v == null ? "n/a (not measured)" : num(v) + r.suffix());
        }

        out.println();
        out.println("targets:");
        boolean met = true;
        for (Target t : suite.targets()) {
            Double v = t.value().apply(medians);
            met &= target(out, t.what(), v, v == null ? null : t.shown().apply(v), v != null && t.pass().test(v));
        }
        out.println();
        out.println("JMH JSON result: " + result);
        if (o.forks == 0) {
            out.println("(forks 0: measured in the launcher's JVM; numbers are less reliable)");
        }
        return met;
    }

    private static Double div(Double a, Double b) {
        return a == null || b == null || b == 0 ? null : a / b;
    }

    /** Prints one target; a target whose inputs were not measured is "n/a" and does not count. */
    private static boolean target(PrintStream out, String what, Double value, String shown, boolean pass) {
        String verdict = value == null ? "n/a" : pass ? "PASS" : "MISS";
        out.printf(Locale.ROOT, "  %-48s %12s  %s%n", what, shown == null ? "-" : shown, verdict);
        return value == null || pass;
    }

    /** {@code v} without trailing zeros: 5, 1500, 2.5. */
    static String plain(double v) {
        return java.math.BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
    }

    static String num(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        double a = Math.abs(v);
        String f = a >= 1000 ? "%.0f" : a >= 100 ? "%.1f" : a >= 10 ? "%.2f" : "%.3f";
        return String.format(Locale.ROOT, f, v);
    }
}
