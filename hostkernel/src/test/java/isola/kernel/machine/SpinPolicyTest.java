package isola.kernel.machine;

import static isola.kernel.machine.ConcurrentMachine.BACKOFF_MAX;
import static isola.kernel.machine.ConcurrentMachine.BACKOFF_MIN;
import static isola.kernel.machine.ConcurrentMachine.MAX_SPIN_NANOS;
import static isola.kernel.machine.ConcurrentMachine.missed;
import static isola.kernel.machine.ConcurrentMachine.nextBudget;
import static isola.kernel.machine.ConcurrentMachine.paid;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import isola.kernel.WaitHistory;
import org.junit.jupiter.api.Test;

/**
 * The concurrent machine's spin-then-park decisions, fed outcomes directly (no threads and no
 * clocks: which wait spins, and for how long, is a function of the outcomes alone).
 */
class SpinPolicyTest {
    static final long BASE = 50_000;

    /** Parking waits before the next spin; consumes them. */
    private static int parkingWaits(WaitHistory h) {
        int n = 0;
        while (nextBudget(h, BASE) == 0) {
            n++;
        }
        return n;
    }

    @Test
    void spinsThatPayOffKeepSpinningAtTheBase() {
        WaitHistory h = new WaitHistory();
        for (int i = 0; i < 1000; i++) {
            assertEquals(BASE, nextBudget(h, BASE));
            paid(h, false);
        }
        assertEquals(0, h.misses);
    }

    @Test
    void aMachineWithoutSpinningNeverSpins() {
        WaitHistory h = new WaitHistory();
        for (int i = 0; i < 10; i++) {
            assertEquals(0, nextBudget(h, 0));
            missed(h, 0, 1_000, false);
        }
    }

    @Test
    void aPartnerJustPastTheBudgetEarnsOneLongerSpin() {
        WaitHistory h = new WaitHistory();
        nextBudget(h, BASE);
        missed(h, BASE, 10_000, false); // woken soon after parking
        assertEquals(2 * BASE, nextBudget(h, BASE));
        paid(h, false); // the longer spin paid off: it stays
        assertEquals(2 * BASE, nextBudget(h, BASE));
        paid(h, false);
        missed(h, BASE, 10_000, false);
        assertEquals(4 * BASE, nextBudget(h, BASE));
        paid(h, false);
        for (int i = 0; i < 10; i++) {
            nextBudget(h, BASE);
            missed(h, BASE, 10_000, false);
            paid(h, false);
        }
        assertTrue(h.budget <= MAX_SPIN_NANOS, "budget " + h.budget);
    }

    @Test
    void aLongerSpinThatFailsTooIsUndoneAndTheWaiterParks() {
        // A partner starved by the spinner answers soon after the spinner parks, however long
        // it spun: growing the budget never pays, and two misses switch to parking.
        WaitHistory h = new WaitHistory();
        nextBudget(h, BASE);
        missed(h, BASE, 10_000, false);
        assertEquals(2 * BASE, nextBudget(h, BASE));
        missed(h, BASE, 10_000, false);
        assertEquals(BASE, h.budget);
        assertEquals(BACKOFF_MIN, parkingWaits(h));
    }

    @Test
    void failedProbesBackOffExponentiallyAndOneThatPaysEndsIt() {
        WaitHistory h = new WaitHistory();
        nextBudget(h, BASE);
        missed(h, BASE, 10_000, false);
        nextBudget(h, BASE);
        missed(h, BASE, 10_000, false);
        int expected = BACKOFF_MIN;
        for (int round = 0; round < 10; round++) {
            assertEquals(expected, parkingWaits(h), "round " + round);
            // nextBudget returned the probe's budget: it fails too, and never grows
            missed(h, BASE, 10_000, false);
            assertEquals(BASE, h.budget);
            expected = Math.min(BACKOFF_MAX, expected * 2);
        }
        assertEquals(BACKOFF_MAX, parkingWaits(h));
        paid(h, false); // the probe paid off: spin again at once
        for (int i = 0; i < 5; i++) {
            assertEquals(BASE, nextBudget(h, BASE));
            paid(h, false);
        }
        // the next run of failures starts from the shortest backoff again
        missed(h, BASE, 10_000, false);
        nextBudget(h, BASE);
        missed(h, BASE, 10_000, false);
        assertEquals(BACKOFF_MIN, parkingWaits(h));
    }

    @Test
    void aSpinThatLostItsCpuDoesNotCountAsPaidOff() {
        WaitHistory h = new WaitHistory();
        nextBudget(h, BASE);
        paid(h, true); // woken, but only because the spinner was descheduled meanwhile
        assertEquals(1, h.misses);
        nextBudget(h, BASE);
        missed(h, BASE, 10_000, true); // preempted and parked: no growth
        assertEquals(BASE, h.budget);
        assertFalse(h.grew);
        assertEquals(BACKOFF_MIN, parkingWaits(h));
    }

    @Test
    void aLongSleepShrinksTheBudgetToTheBase() {
        WaitHistory h = new WaitHistory();
        h.budget = 4 * BASE;
        nextBudget(h, BASE);
        missed(h, BASE, 10_000_000, false); // the partner was idle
        assertEquals(2 * BASE, h.budget);
        paid(h, false);
        nextBudget(h, BASE);
        missed(h, BASE, 10_000_000, false);
        assertEquals(BASE, h.budget);
        paid(h, false);
        nextBudget(h, BASE);
        missed(h, BASE, 10_000_000, false);
        assertEquals(BASE, h.budget);
    }

    @Test
    void oneMissAmongHitsDoesNotStopSpinning() {
        WaitHistory h = new WaitHistory();
        for (int i = 0; i < 100; i++) {
            assertTrue(nextBudget(h, BASE) > 0, "wait " + i);
            if (i % 3 == 0) {
                missed(h, BASE, 10_000_000, false);
            } else {
                paid(h, false);
            }
        }
    }
}
