package isola.boot.testservers.spin;

import isola.kernel.Status;
import isola.sdk.Replies;
import isola.sdk.Sys;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The requests of the spinning test servers. {@link #SPIN} loops without a system call until
 * the host sets the system property {@link #RELEASE} (a test lets its runaway threads end that
 * way), then answers; {@link #BUSY} loops without a system call for MR0 ms, then answers;
 * {@link #INC} answers MR0 + 1 at once. Every answer carries this incarnation's nonce in MR1
 * (each domain loads its own copy of this class).
 */
public final class Spin {
    public static final int SPIN = 1;
    public static final int BUSY = 2;
    public static final int INC = 3;
    /** Set to "true" on the host to let every SPIN loop end. */
    public static final String RELEASE = "isola.test.spin.release";

    /** Chosen once per domain. */
    static final long NONCE = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);

    private Spin() {}

    static long handle(Sys sys) {
        switch (sys.label()) {
            case SPIN -> {
                while (!Boolean.getBoolean(RELEASE)) {
                    Thread.onSpinWait(); // no system call: only a watchdog can take the domain back
                }
                return answer(sys, -1);
            }
            case BUSY -> {
                long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(sys.mr(0));
                while (System.nanoTime() < end) {
                    Thread.onSpinWait();
                }
                return answer(sys, sys.mr(0));
            }
            case INC -> {
                return answer(sys, sys.mr(0) + 1);
            }
            default -> {
                return Replies.error(sys, Status.E_INVALID_ARG, "spin: unknown request " + sys.label());
            }
        }
    }

    private static long answer(Sys sys, long value) {
        sys.mr(0, value);
        sys.mr(1, NONCE);
        return Replies.ok(2);
    }
}
