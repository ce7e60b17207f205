package isola.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayDeque;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The block client's staging ring against a model of the driver: requests of random sizes, a
 * driver that lags by a random number of requests (up to a full queue), and reservations whose
 * request is never submitted. No block is ever handed out while a request that holds it is in
 * flight, and when everything has completed every block is free.
 */
class StagingRingTest {
    static final int BLOCKS = Blk.STAGING_BLOCKS;
    static final int SLOTS = Blk.SLOTS;

    /** An in-flight request's blocks: [at, at + n). */
    record Span(long id, int at, int n) {}

    @Test
    void noBlockIsHandedOutWhileARequestHoldsIt() {
        for (long seed = 1; seed <= 200; seed++) {
            run(seed, 2_000);
        }
    }

    private static void run(long seed, int requests) {
        Random r = new Random(seed);
        long base = r.nextInt(3) == 0 ? 0 : r.nextInt(1 << 20); // a region attached before
        StagingRing ring = new StagingRing(BLOCKS, SLOTS, base);
        ArrayDeque<Span> inFlight = new ArrayDeque<>();
        int[] owner = new int[BLOCKS]; // 1 + index of the request holding each block, 0 if none
        Driver driver = new Driver(base);
        boolean stalled = false;
        for (int i = 0; i < requests; i++) {
            // Sizes as the fs server's: one-block metadata writes in place, flushes and reads into
            // registered buffers (0 blocks here), and file data of up to a request's maximum;
            // while the driver stalls, mostly small ones (a commit's), so the queue's slots run out.
            int kind = r.nextInt(stalled ? 40 : 10);
            int n = kind < 5 ? 1 + r.nextInt(Blk.MAX_REQUEST) : kind < 8 ? 0 : 1;
            int at = -1;
            if (n > 0) {
                // As Blk.Device.stage: free what the driver completed, then reserve, or wait for it.
                while (true) {
                    ring.completed(driver.done);
                    if ((at = ring.reserve(n)) >= 0) {
                        break;
                    }
                    assertFalse(inFlight.isEmpty(), "seed " + seed + ": no room for " + n + " blocks with nothing in flight");
                    driver.complete(inFlight, owner, 1);
                }
                for (int b = at; b < at + n; b++) {
                    if (owner[b] != 0) {
                        fail("seed " + seed + ": request " + ring.nextId() + " got staging block " + b
                                + ", which request " + (owner[b] - 1) + " still holds");
                    }
                    owner[b] = (int) (ring.nextId() + 1);
                }
                if (r.nextInt(50) == 0) {
                    // The thread unwinds between the reservation and the submit: the blocks stay held.
                    for (int b = at; b < at + n; b++) {
                        owner[b] = 0;
                    }
                    continue;
                }
            }
            // As Blk.Device.submit: wait until the slot is free in the books, not only at the driver.
            while (!ring.slotFree()) {
                driver.complete(inFlight, owner, 1 + r.nextInt(4));
                ring.completed(driver.done);
            }
            inFlight.add(new Span(ring.nextId(), at, n));
            ring.submitted();
            // The driver keeps up, lagging by a few requests, or stalls for a while (the queue fills).
            if (r.nextInt(100) == 0) {
                stalled = !stalled;
            }
            int lag = stalled ? SLOTS : r.nextInt(8);
            while (inFlight.size() > lag) {
                driver.complete(inFlight, owner, 1);
            }
        }
        driver.complete(inFlight, owner, inFlight.size());
        ring.completed(driver.done);
        assertEquals(0, ring.reserve(BLOCKS), "seed " + seed + ": blocks still held when nothing is in flight");
    }

    /** The driver: performs requests in order; the client learns of it only when it looks. */
    static final class Driver {
        long done;

        Driver(long base) {
            done = base;
        }

        void complete(ArrayDeque<Span> inFlight, int[] owner, int k) {
            for (int j = 0; j < k && !inFlight.isEmpty(); j++) {
                Span s = inFlight.poll();
                for (int b = s.at; b < s.at + s.n; b++) {
                    owner[b] = 0;
                }
                done = s.id + 1;
            }
        }
    }

    /**
     * The regression a host kill found: a full queue whose requests the driver completed but the
     * client had not yet freed. The next request must wait for the books, not only the driver.
     */
    @Test
    void aSlotIsFreeOnlyOnceItsLastRequestIsFreed() {
        StagingRing ring = new StagingRing(BLOCKS, SLOTS, 0);
        for (int i = 0; i < SLOTS; i++) {
            assertTrue(ring.reserve(1) >= 0);
            ring.submitted();
        }
        assertTrue(ring.reserve(49) >= 0, "room for the next write's data");
        assertFalse(ring.slotFree());
        assertThrows(IllegalStateException.class, ring::submitted);
        ring.completed(1);
        assertTrue(ring.slotFree());
        ring.submitted();
        ring.completed(SLOTS + 1);
        assertEquals(0, ring.used());
    }

    @Test
    void aReservationLargerThanTheRingIsRefusedNamingItsSize() {
        StagingRing ring = new StagingRing(BLOCKS, SLOTS, 0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ring.reserve(BLOCKS + 1));
        assertTrue(e.getMessage().contains(Integer.toString(BLOCKS + 1)), e.getMessage());
    }
}
