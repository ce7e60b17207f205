package isola.init;

import isola.init.manifest.ServerSpec;
import isola.kernel.Domain;
import isola.tier.IsolationTier;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A server as started: its manifest entry, what init keeps for it, its current incarnation.
 * One per server of the manifest, made at boot and kept through every restart.
 */
final class Running {
    final ServerSpec spec;
    final long badge;
    /** Its DOMAIN capability's slot in its pager's domain (-1: no pager), and how often it was given. */
    int pagerSlot = -1;
    int pagerGeneration;
    /** Kept text and capabilities (as slots of init's), guarded by init's monitor. */
    final Map<String, String> keptValues = new LinkedHashMap<>();
    final Map<String, Integer> keptCaps = new LinkedHashMap<>();
    /** The kept memory, the same region for every incarnation. */
    final MemorySegment keptMemory;
    volatile IsolationTier.Loaded vd;
    /** The next incarnation, prepared ahead of a crash (null: none yet). */
    java.util.concurrent.Future<? extends IsolationTier.Prepared> standby;
    volatile int restarts;
    /** The incarnation the watchdog killed for overrunning its deadline, until the supervisor handles it. */
    volatile Domain overrun;
    int consecutiveCrashes;
    long lastCrashNanos;
    volatile boolean gaveUp;

    Running(ServerSpec spec, long badge) {
        this.spec = spec;
        this.badge = badge;
        this.keptMemory = spec.keptMemory() == 0 ? MemorySegment.NULL
                : Arena.ofAuto().allocate(spec.keptMemory(), 64);
    }
}
