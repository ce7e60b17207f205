package isola.init.manifest;

import java.time.Duration;
import java.util.Objects;

/**
 * How the supervisor treats a crash of one server.
 *
 * @param onCrash whether a crashed server is restarted at all ({@code restart = on-crash}) or left
 *     down ({@code restart = never})
 * @param maxRestarts how many consecutive restarts are attempted before the server is given up on
 * @param backoff the delay before the first restart; later consecutive restarts double it, see
 *     {@link #backoffFor(int)}
 */
public record RestartPolicy(boolean onCrash, int maxRestarts, Duration backoff) {

    /** The growth of the delay stops here, so a flapping server is still retried every 10 s. */
    public static final Duration MAX_DOUBLED_BACKOFF = Duration.ofSeconds(10);

    /** The policy of a server whose section names none of the restart keys. */
    public static final RestartPolicy DEFAULT = new RestartPolicy(true, 5, Duration.ofMillis(10));

    public RestartPolicy {
        Objects.requireNonNull(backoff, "backoff");
        if (maxRestarts < 0) {
            throw new IllegalArgumentException("maxRestarts " + maxRestarts + " is negative");
        }
        if (backoff.isNegative()) {
            throw new IllegalArgumentException("backoff " + backoff + " is negative");
        }
    }

    /**
     * The delay before a restart: {@link #backoff()} for the first consecutive restart, doubled for
     * each further one, but never doubled beyond {@link #MAX_DOUBLED_BACKOFF}.
     *
     * <p>A base backoff that is already above the cap is used as it is (the manifest allows up to
     * 60 s, and someone who asked for that meant it); it is just not doubled.
     *
     * @param consecutiveRestart 1 for the first restart after a healthy run, 2 for the next, ...
     * @throws IllegalArgumentException if {@code consecutiveRestart} is less than 1
     */
    public Duration backoffFor(int consecutiveRestart) {
        if (consecutiveRestart < 1) {
            throw new IllegalArgumentException(
                    "consecutiveRestart " + consecutiveRestart + " must be at least 1");
        }
        Duration d = backoff;
        // Doubling step by step, stopping at the cap, cannot overflow whatever the count is;
        // a zero base stays zero, so stop early rather than loop up to a large count.
        for (int i = 1; i < consecutiveRestart && !d.isZero(); i++) {
            if (d.compareTo(MAX_DOUBLED_BACKOFF) >= 0) {
                return d;
            }
            d = d.multipliedBy(2);
            if (d.compareTo(MAX_DOUBLED_BACKOFF) > 0) {
                return MAX_DOUBLED_BACKOFF;
            }
        }
        return d;
    }
}
