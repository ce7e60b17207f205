package isola.kernel;

/**
 * Sizes fixed at boot: every kernel object comes from a pool of this many, allocated up front.
 *
 * @param traceEvents events the {@link Trace} can hold (0: tracing off)
 * @param timesliceNs default time slice of a thread
 */
public record KernelConfig(int domains, int threads, int endpoints, int notifications,
        int replies, int traceEvents, long timesliceNs) {

    public static final KernelConfig DEFAULT =
            new KernelConfig(256, 2048, 8192, 2048, 4096, 0, 5_000_000L);

    public KernelConfig withTrace(int events) {
        return new KernelConfig(domains, threads, endpoints, notifications, replies, events, timesliceNs);
    }

    public KernelConfig withTimeslice(long ns) {
        return new KernelConfig(domains, threads, endpoints, notifications, replies, traceEvents, ns);
    }

    public KernelConfig withPools(int domains, int threads, int endpoints, int notifications, int replies) {
        return new KernelConfig(domains, threads, endpoints, notifications, replies, traceEvents, timesliceNs);
    }
}
