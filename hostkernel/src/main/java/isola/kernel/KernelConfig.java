package isola.kernel;

/**
 * Sizes fixed at boot: every kernel object comes from a pool of this many, allocated up front.
 *
 * @param traceEvents events the {@link Trace} can hold (0: tracing off)
 * @param timesliceNs default time slice of a thread
 * @param memoryBytes physical memory (hosted: the size of the shared-memory file)
 * @param frames frame objects (each a block of 4 KiB, 2 MiB or 1 GiB)
 * @param pageTables page-table objects
 * @param timerHz the rate of the periodic timer on IRQ 0, which charges time slices on a
 *     uniprocessor machine (0: no periodic tick; each kernel entry is charged instead). The
 *     concurrent hosted machine runs every thread on a host thread, so the host shares the
 *     cores; its timer device raises IRQ 0 at the next timeout only (tickless).
 */
public record KernelConfig(int domains, int threads, int endpoints, int notifications,
        int replies, int traceEvents, long timesliceNs, long memoryBytes, int frames, int pageTables, int timerHz) {

    public static final long DEFAULT_MEMORY = 256L << 20;

    public static final KernelConfig DEFAULT =
            new KernelConfig(256, 2048, 8192, 2048, 4096, 0, 5_000_000L, DEFAULT_MEMORY, 65536, 8192, 0);

    public KernelConfig withTrace(int events) {
        return new KernelConfig(domains, threads, endpoints, notifications, replies, events, timesliceNs,
                memoryBytes, frames, pageTables, timerHz);
    }

    public KernelConfig withTimeslice(long ns) {
        return new KernelConfig(domains, threads, endpoints, notifications, replies, traceEvents, ns,
                memoryBytes, frames, pageTables, timerHz);
    }

    public KernelConfig withPools(int domains, int threads, int endpoints, int notifications, int replies) {
        return new KernelConfig(domains, threads, endpoints, notifications, replies, traceEvents, timesliceNs,
                memoryBytes, frames, pageTables, timerHz);
    }

    /** A periodic timer of {@code hz} ticks per second on IRQ 0 (0: none). */
    public KernelConfig withTimerHz(int hz) {
        if (hz < 0 || hz > 1_000_000) {
            throw new IllegalArgumentException("timer rate " + hz + " Hz is outside 0..1000000");
        }
        return new KernelConfig(domains, threads, endpoints, notifications, replies, traceEvents, timesliceNs,
                memoryBytes, frames, pageTables, hz);
    }

    /** Physical memory of {@code bytes} (a positive multiple of 4 KiB). */
    public KernelConfig withMemory(long bytes) {
        return new KernelConfig(domains, threads, endpoints, notifications, replies, traceEvents, timesliceNs,
                bytes, frames, pageTables, timerHz);
    }
}
