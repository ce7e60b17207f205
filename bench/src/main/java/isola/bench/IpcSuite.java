package isola.bench;

import static isola.bench.Suite.num;
import static java.util.concurrent.TimeUnit.NANOSECONDS;

import isola.bench.Suite.Ratio;
import isola.bench.Suite.Target;
import java.util.List;
import java.util.Set;

/**
 * The {@code ipc} suite, beside its benchmarks in {@link IpcBench}: five round trips, two of
 * them system calls and three baselines, and the targets that judge the system calls against
 * the baselines of the same run.
 */
final class IpcSuite {
    private IpcSuite() {}

    private static final String JAVA = "javaInterfaceCall";
    private static final String PASSIVE = "passiveCall";
    private static final String ACTIVE = "activeCall";
    private static final String QUEUE = "synchronousQueue";
    private static final String SPIN = "spinPingPong";
    static final List<String> BENCHMARKS = List.of(JAVA, PASSIVE, ACTIVE, QUEUE, SPIN);

    /** Target: a passive call's median round trip, in ns. */
    private static final double PASSIVE_TARGET_NS = 25;
    /** Target: an active round trip costs at most this many spin ping-pongs. */
    private static final double ACTIVE_VS_SPIN_TARGET = 2;
    /** Target: an active round trip is at least this many times faster than a SynchronousQueue one. */
    private static final double QUEUE_VS_ACTIVE_TARGET = 10;

    /**
     * Order of the interleaved run: each fork round measures the cross-thread round trips back
     * to back (spin ping-pong, then active, then SynchronousQueue), so a ratio compares
     * neighbours in time. Where the host places two vCPUs changes the cache-line transfer cost
     * several-fold from minute to minute, which JMH's own order (by name, all forks of one
     * benchmark before the next) would turn into ratio noise.
     */
    private static final List<String> ORDER = List.of(SPIN, ACTIVE, QUEUE, PASSIVE, JAVA);

    static final Suite SUITE = new Suite("ipc",
            "IPC round trips: passive and active calls vs Java call, SynchronousQueue, spin ping-pong",
            IpcBench.class, BENCHMARKS, ORDER, false, 2, 5, 10,
            "== isola bench ipc: one round trip per operation; median, min and max over all "
                    + "measurement iterations of all forks ==",
            "ns/op",
            List.of(new Ratio("passive call / Java interface call", PASSIVE, JAVA, "x"),
                    new Ratio("active call / spin ping-pong", ACTIVE, SPIN, "x"),
                    new Ratio("SynchronousQueue / active call", QUEUE, ACTIVE, "x (active is that many times faster)")),
            List.of(new Target("passive call median < " + num(PASSIVE_TARGET_NS) + " ns",
                            m -> m.in(PASSIVE, NANOSECONDS), v -> num(v) + " ns", v -> v < PASSIVE_TARGET_NS),
                    new Target("active round trip <= " + num(ACTIVE_VS_SPIN_TARGET) + "x spin ping-pong",
                            m -> m.ratio(ACTIVE, SPIN), v -> num(v) + "x", v -> v <= ACTIVE_VS_SPIN_TARGET),
                    new Target("active >= " + num(QUEUE_VS_ACTIVE_TARGET) + "x faster than SynchronousQueue",
                            m -> m.ratio(QUEUE, ACTIVE), v -> num(v) + "x", v -> v >= QUEUE_VS_ACTIVE_TARGET)),
            Set.of(),
            "WARNING: other processes may have been busy during the run; cross-thread round trips "
                    + "(active, spin ping-pong, SynchronousQueue) are unreliable: see min/max, and rerun "
                    + "on an idle machine");
}
