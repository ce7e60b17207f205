package isola.kernel;

import static org.junit.jupiter.api.Assertions.*;

import isola.kernel.machine.HostedMachine;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The periodic timer on IRQ 0 drives time slices on the deterministic (uniprocessor) machine:
 * threads of equal priority take turns a slice at a time, and a higher-priority thread whose
 * timeout the timer fires preempts the running one at its next kernel entry.
 */
class TimerTest {
    static final int NOTE = 0;
    static final long SLICE = 2_000_000; // 2 ms of virtual time
    KernelRig rig;

    @AfterEach
    void tearDown() {
        rig.close();
    }

    /** Runs of the same thread, with the virtual time each began. */
    record Run(String thread, long start) {}

    @Test
    void peersTakeTurnsBySliceAndAWokenHigherPriorityThreadPreempts() {
        rig = new KernelRig(HostedMachine.deterministic(KernelConfig.DEFAULT.withTimerHz(1000).withTimeslice(SLICE)));
        Kernel k = rig.k;
        Domain d = rig.domain("d");
        rig.notification(d, NOTE);
        List<Run> runs = new ArrayList<>();
        for (String name : List.of("a", "b")) {
            rig.spawn(d, name, 10, t -> {
                for (int i = 0; i < 6_000; i++) { // 6000 entries of 1 us: 6 ms each
                    note(runs, name, k.machine().now());
                    k.poll(t, NOTE);
                }
            });
        }
        rig.spawn(d, "c", 20, t -> {
            rig.sleep(t, NOTE, 3_500_000); // wakes at 3.5 ms, while b has the processor
            note(runs, "c", k.machine().now());
        });
        rig.runAll();
        List<String> order = runs.stream().map(Run::thread).toList();
        // a runs its 2 ms slice, then b; c (asleep from the start) wakes at 3.5 ms and preempts b,
        // which finishes its slice at 4 ms; then a and b alternate every 2 ms.
        assertEquals(List.of("a", "b", "c", "b", "a", "b", "a", "b", "a"), order.subList(0, Math.min(9, order.size())),
                "runs: " + runs);
        Run cWakes = runs.get(2);
        assertTrue(cWakes.start() >= 3_500_000 && cWakes.start() < 3_500_000 + 3 * Kernel.ENTRY_COST_NS,
                "c preempted b within an entry of its timeout: " + cWakes);
        long bStart = runs.get(1).start();
        assertTrue(Math.abs(bStart - SLICE) <= 1_000_000, "a's slice is about 2 ms (ticks of 1 ms): " + bStart);
        assertEquals(4_000_000, runs.get(4).start(), "b kept the rest of its slice after c: " + runs);
        assertTrue(k.irqLine(0).delivered() >= 12, "the periodic timer ticked on IRQ 0: " + k.irqLine(0).delivered());
    }

    private static void note(List<Run> runs, String name, long now) {
        if (runs.isEmpty() || !runs.get(runs.size() - 1).thread().equals(name)) {
            runs.add(new Run(name, now));
        }
    }

    @Test
    void aTimerRateOutsideItsRangeIsRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> KernelConfig.DEFAULT.withTimerHz(-1));
        assertTrue(e.getMessage().contains("-1"), e.getMessage());
        rig = KernelRig.deterministic();
    }
}
