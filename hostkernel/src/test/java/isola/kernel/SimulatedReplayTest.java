package isola.kernel;

import static org.junit.jupiter.api.Assertions.*;

import isola.kernel.SimulatedExplorationTest.Run;
import isola.kernel.SimulatedExplorationTest.Totals;
import org.junit.jupiter.api.Test;

/**
 * Replay on the simulated multiprocessor: one seed run twice on fresh machines gives the same
 * interleaving (the schedule of switches), the same kernel trace and the same outcomes, fast
 * paths and all; another seed gives another interleaving of the same system.
 */
class SimulatedReplayTest {
    static final long SEED = 42;

    @Test
    void theSameSeedReplaysTheSameInterleavingAndTrace() {
        // The first seed whose run took fast calls and was switched inside the handshake.
        long seed = 1;
        Totals totals = new Totals();
        Run a = SimulatedExplorationTest.explore(seed, totals);
        while (totals.fastCalls == 0 || totals.handshakePreemptions == 0) {
            assertTrue(++seed < 50, "no seed below 50 exercised the fast paths");
            totals = new Totals();
            a = SimulatedExplorationTest.explore(seed, totals);
        }
        Run b = SimulatedExplorationTest.explore(seed, new Totals());
        assertTrue(a.schedule().size() > 100, "schedule too short: " + a.schedule().size());
        assertTrue(a.trace().size() > 100, "trace too short: " + a.trace().size());
        assertEquals(a.schedule(), b.schedule());
        assertEquals(a.trace(), b.trace());
        assertEquals(a.outcomes(), b.outcomes());
        assertEquals(a.endTime(), b.endTime());
    }

    @Test
    void differentSeedsGiveDifferentInterleavings() {
        Run a = SimulatedExplorationTest.explore(SEED, new Totals());
        for (long other = SEED + 1; other <= SEED + 3; other++) {
            Run c = SimulatedExplorationTest.explore(other, new Totals());
            assertNotEquals(a.schedule(), c.schedule(), "seed " + other);
            assertNotEquals(a.trace(), c.trace(), "seed " + other);
        }
    }
}
