package isola.init;

import isola.tier.IsolationTier;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Servers' next incarnations, prepared ahead of a crash so that a restart need not wait for
 * host work (reading jars, defining classes). A server's standby is prepared in the background
 * {@link #DELAY_MS} after each start, so that it does not compete for the cores with the start
 * itself (a boot, or a restart still warming up); the next launch takes it.
 */
final class Standby {
    /** How long after a server's start its next incarnation is prepared. */
    static final long DELAY_MS = 50;

    private final IsolationTier tier;
    /** The host file of each server jar of the image. */
    private final Map<String, Path> jars;
    private final ScheduledThreadPoolExecutor preparer = new ScheduledThreadPoolExecutor(1, job -> {
        Thread t = new Thread(job, "isola-init-preparer");
        t.setDaemon(true);
        t.setPriority(Thread.MIN_PRIORITY);
        return t;
    });

    Standby(IsolationTier tier, Map<String, Path> jars) {
        this.tier = tier;
        this.jars = jars;
        preparer.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    }

    /** After a start of {@code r}: its next incarnation is prepared {@link #DELAY_MS} from now. */
    void prepareLater(Running r) {
        String name = r.spec.name();
        Path jar = jars.get(r.spec.jar());
        r.standby = preparer.schedule(() -> tier.prepareAhead(name, jar), DELAY_MS, TimeUnit.MILLISECONDS);
    }

    /**
     * The server's prepared next incarnation (waiting for it if it is being prepared), else one
     * prepared now (also when its preparation has not begun: a crash soon after a start).
     */
    IsolationTier.Prepared take(Running r) {
        var f = r.standby;
        r.standby = null;
        if (f != null && !f.cancel(false)) {
            // Being prepared (a few ms): wait for it, through interrupts, so it is not lost.
            boolean interrupted = false;
            try {
                for (;;) {
                    try {
                        return f.get();
                    } catch (InterruptedException e) {
                        interrupted = true;
                    } catch (ExecutionException e) {
                        break; // prepared again below, which reports the problem
                    }
                }
            } finally {
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        return tier.prepare(r.spec.name(), jars.get(r.spec.jar()));
    }

    /** At shutdown: standbys not begun are dropped; one being prepared is let finish, then discarded. */
    void stop(Iterable<Running> servers) {
        preparer.shutdown();
        try {
            preparer.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Running r : servers) {
            var f = r.standby;
            if (f != null && f.state() == Future.State.SUCCESS) {
                f.resultNow().discard();
            }
        }
    }
}
