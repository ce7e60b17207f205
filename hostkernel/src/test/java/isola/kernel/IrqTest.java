package isola.kernel;

import static isola.kernel.Status.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Interrupts: x86 vectors, IRQ handler capabilities bound to notifications, delivery and end of
 * interrupt, masking, priorities as a local APIC orders them, and the timer on line 0.
 */
class IrqTest {
    static final int CONTROL = 0, NOTE = 1, H5 = 2, H40 = 3, H100 = 4, H200 = 5, SLEEP = 6;

    KernelRig rig;
    Kernel k;
    Domain driver;

    @BeforeEach
    void setUp() {
        rig = KernelRig.deterministic();
        k = rig.k;
        driver = rig.domain("driver");
        k.installCap(driver, CONTROL, k.irqControl(), Rights.CONTROL, 0);
        rig.notification(driver, NOTE);
        rig.notification(driver, SLEEP);
    }

    @AfterEach
    void tearDown() {
        rig.close();
    }

    /** Pending bits of the driver's notification, without waiting (0: none). */
    long poll(Tcb t) {
        int st = k.poll(t, NOTE);
        return st == OK ? KernelRig.badge(t) : 0;
    }

    @Test
    void vectorsHaveTheirX86Meanings() {
        assertEquals("#DE divide error", Kernel.vectorName(0));
        assertEquals("#DF double fault", Kernel.vectorName(8));
        assertEquals("#GP general protection", Kernel.vectorName(13));
        assertEquals("#PF page fault", Kernel.vectorName(14));
        assertEquals("IRQ 0", Kernel.vectorName(32));
        assertEquals("IRQ 223", Kernel.vectorName(255));
        assertEquals(34, k.irqLine(2).vector());
        assertEquals(2, k.irqLine(2).priority(), "default priority: the vector's class, 34 / 16");
    }

    @Test
    void aRaisedLineSignalsItsDriverOnceUntilAcknowledged() {
        long[] seen = new long[4];
        rig.spawn(driver, "drv", 10, t -> {
            assertEquals(OK, k.irqIssue(t, CONTROL, 5, H5));
            k.grantCap(driver, NOTE, driver, SLEEP + 1, Rights.SEND, 0x20);
            assertEquals(OK, k.irqBind(t, H5, SLEEP + 1));
            k.raiseIrq(5);
            seen[0] = poll(t);
            k.raiseIrq(5); // in service: remembered, not delivered
            seen[1] = poll(t);
            assertTrue(k.irqLine(5).pending());
            assertEquals(OK, k.irqAck(t, H5));
            seen[2] = poll(t); // the pending raise, delivered at the end of interrupt
            assertEquals(OK, k.irqAck(t, H5));
            seen[3] = poll(t);
        });
        rig.runAll();
        assertArrayEquals(new long[] {0x20, 0, 0x20, 0}, seen);
        assertEquals(2, k.irqLine(5).delivered());
        assertEquals("driver", k.irqLine(5).owner());
    }

    @Test
    void aMaskedLineKeepsItsRaiseUntilUnmasked() {
        long[] seen = new long[2];
        rig.spawn(driver, "drv", 10, t -> {
            assertEquals(OK, k.irqIssue(t, CONTROL, 5, H5));
            assertEquals(OK, k.irqBind(t, H5, NOTE));
            assertEquals(OK, k.irqMask(t, H5, true));
            k.raiseIrq(5);
            seen[0] = poll(t);
            assertEquals(OK, k.irqMask(t, H5, false));
            seen[1] = poll(t);
        });
        rig.runAll();
        assertArrayEquals(new long[] {0, 1}, seen);
    }

    /** The lines delivered so far, in order, from the kernel's trace. */
    List<Integer> deliveries() {
        List<Integer> out = new ArrayList<>();
        for (String l : k.trace().lines()) {
            String[] w = l.split(" "); // time irq LINE vector V
            if (w[1].equals("irq")) {
                out.add(Integer.parseInt(w[2]));
            }
        }
        return out;
    }

    @Test
    void aBurstIsDeliveredHighestPriorityFirstAndAWaitingLineHoldsBackOnlyItself() {
        List<Integer> order = new ArrayList<>();
        rig.spawn(driver, "drv", 10, t -> {
            int[][] lines = {{40, H40, 1 << 1, 10}, {100, H100, 1 << 2, 11}, {200, H200, 1 << 3, 12}};
            for (int[] l : lines) {
                assertEquals(OK, k.irqIssue(t, CONTROL, l[0], l[1]));
                k.grantCap(driver, NOTE, driver, l[3], Rights.SEND, l[2]); // each line its own bit
                assertEquals(OK, k.irqBind(t, l[1], l[3]));
            }
            k.raiseIrqs(40, 100, 200); // priorities 4, 8, 14 (their vectors' classes)
            record(order, poll(t));
            k.raiseIrq(40); // 40 waits for its ack: pending
            k.raiseIrq(100); // likewise
            record(order, poll(t));
            assertEquals(OK, k.irqAck(t, H200));
            assertEquals(OK, k.irqAck(t, H100)); // delivers 100's pending raise; 40 still waits alone
            record(order, poll(t));
            assertEquals(OK, k.irqAck(t, H40));
            record(order, poll(t));
            for (int h : new int[] {H40, H100}) {
                assertEquals(OK, k.irqAck(t, h));
            }
            assertEquals(OK, k.irqPriority(t, H40, 15)); // now above 200
            k.raiseIrqs(100, 200, 40);
            record(order, poll(t));
        });
        rig.runAll();
        assertEquals(List.of(40 + 100 * 1000 + 200 * 1000 * 1000, -1, 100, 40, 40 + 100 * 1000 + 200 * 1000 * 1000),
                order.stream().map(v -> v).toList());
        assertEquals(List.of(200, 100, 40, 100, 40, 40, 200, 100), deliveries(),
                "by priority within each burst; a line waiting for its ack held back only itself");
    }

    /** The lines whose bits are set, as one number: the first + 1000 x the second + 10^6 x the third. */
    private static void record(List<Integer> order, long bits) {
        int[] lines = {0, 40, 100, 200};
        int v = -1;
        int scale = 1;
        for (int i = 1; i < 4; i++) {
            if ((bits & (1L << i)) != 0) {
                v = v < 0 ? lines[i] : v + lines[i] * scale;
            }
            if (v >= 0 && (bits & (1L << i)) != 0) {
                scale *= 1000;
            }
        }
        order.add(v);
    }

    @Test
    void badRequestsAreRefusedAndChangeNothing() {
        int[] st = new int[6];
        rig.spawn(driver, "drv", 10, t -> {
            st[0] = k.irqIssue(t, CONTROL, 0, H5); // the timer's
            st[1] = k.irqIssue(t, CONTROL, Kernel.IRQ_LINES, H5);
            assertEquals(OK, k.irqIssue(t, CONTROL, 5, H5));
            st[2] = k.irqIssue(t, CONTROL, 5, H40); // taken
            st[3] = k.irqAck(t, NOTE); // not a handler
            st[4] = k.irqPriority(t, H5, 16);
            st[5] = k.irqIssue(t, NOTE, 6, H40); // not the control capability
            assertNull(driver.cspace().get(H40), "nothing installed");
            assertEquals(OK, k.capDelete(t, H5));
            assertTrue(k.irqLine(5).masked(), "a line without handler is masked");
            assertEquals(OK, k.irqIssue(t, CONTROL, 5, H5), "and can be handed out again");
        });
        rig.runAll();
        assertArrayEquals(new int[] {E_INVALID_ARG, E_INVALID_ARG, E_ILLEGAL_OPERATION, E_WRONG_TYPE, E_INVALID_ARG,
            E_WRONG_TYPE}, st);
        assertThrows(KernelException.class, () -> k.raiseIrq(Kernel.IRQ_LINES));
    }

    @Test
    void theHostedTimerDeviceRaisesIrqZero() throws Exception {
        KernelRig c = KernelRig.concurrent();
        try {
            Domain d = c.domain("sleeper");
            c.notification(d, SLEEP);
            Tcb t = c.spawn(d, "sleeper", 10, self -> c.sleep(self, SLEEP, 1_000_000));
            ((Thread) t.runner).join(30_000);
            c.check();
            assertTrue(c.k.irqLine(0).delivered() >= 1, "the timeout came through IRQ 0");
        } finally {
            c.close();
        }
    }

    @Test
    void theTimerIsIrqZero() {
        rig.spawn(driver, "sleeper", 10, t -> rig.sleep(t, SLEEP, 50_000));
        rig.runAll();
        assertTrue(k.irqLine(0).delivered() >= 1, "the sleep's timeout came through IRQ 0");
        assertEquals("kernel (timer)", k.irqLine(0).owner());
    }
}
