package isola.kernel;

import static isola.kernel.KernelRig.mr;
import static isola.kernel.KernelRig.setMr;
import static isola.kernel.Status.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Priority order on endpoint queues and on the ready queue; round robin; yield. */
class PriorityTest {
    static final int EP = 0;
    static final int SLEEP = 1;
    static final int NOTE = 2;

    KernelRig rig;
    Kernel k;
    Domain dom;

    @BeforeEach
    void setUp() {
        rig = KernelRig.deterministic();
        k = rig.k;
        dom = rig.domain("d");
        rig.endpoint(dom, EP);
        rig.notification(dom, SLEEP);
        rig.notification(dom, NOTE);
    }

    @AfterEach
    void tearDown() {
        rig.close();
    }

    /**
     * Senders arrive (staggered by sleeps) in an order unrelated to their priorities; the
     * receiver, which comes last, gets them highest priority first, FIFO among equals.
     */
    @Test
    void queuedSendersReceivedByPriorityThenFifo() {
        String[] names = {"a5", "b10", "c5", "d10", "e7", "f10"};
        int[] prios = {5, 10, 5, 10, 7, 10};
        for (int i = 0; i < names.length; i++) {
            int idx = i;
            rig.spawn(dom, names[i], prios[i], t -> {
                rig.sleep(t, SLEEP, 10_000L * (idx + 1));
                setMr(t, 0, idx);
                assertEquals(OK, k.send(t, EP, Tag.of(1, 1), Kernel.FOREVER));
            });
        }
        rig.spawn(dom, "rcv", 1, t -> {
            rig.sleep(t, SLEEP, 1_000_000);
            for (int i = 0; i < names.length; i++) {
                assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
                rig.log.add(names[(int) mr(t, 0)]);
            }
        });
        rig.runAll();
        assertEquals(List.of("b10", "d10", "f10", "e7", "a5", "c5"), rig.log);
    }

    /** Callers queue the same way as one-way senders. */
    @Test
    void queuedCallersServedByPriorityThenFifo() {
        String[] names = {"x3", "y9", "z3", "w9"};
        int[] prios = {3, 9, 3, 9};
        for (int i = 0; i < names.length; i++) {
            int idx = i;
            rig.spawn(dom, names[i], prios[i], t -> {
                rig.sleep(t, SLEEP, 10_000L * (idx + 1));
                setMr(t, 0, idx);
                assertEquals(OK, k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER));
                assertEquals(idx + 100, mr(t, 0));
            });
        }
        rig.spawn(dom, "srv", 20, t -> {
            rig.sleep(t, SLEEP, 1_000_000);
            long reply = 0;
            for (int i = 0; i < names.length; i++) {
                assertEquals(OK, k.replyRecv(t, EP, reply, Kernel.FOREVER));
                rig.log.add(names[(int) mr(t, 0)]);
                setMr(t, 0, mr(t, 0) + 100);
                reply = Tag.of(0, 1);
            }
            assertEquals(OK, k.reply(t, reply));
        });
        rig.runAll();
        assertEquals(List.of("y9", "w9", "x3", "z3"), rig.log);
    }

    /** Receivers waiting on an endpoint get messages highest priority first, FIFO among equals. */
    @Test
    void waitingReceiversServedByPriorityThenFifo() {
        String[] names = {"r4", "r8a", "r6", "r8b", "r4b"};
        int[] prios = {4, 8, 6, 8, 4};
        for (int i = 0; i < names.length; i++) {
            int idx = i;
            rig.spawn(dom, names[i], prios[i], t -> {
                rig.sleep(t, SLEEP, 10_000L * (idx + 1));
                assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
                rig.log.add(names[idx] + ":" + mr(t, 0));
            });
        }
        rig.spawn(dom, "snd", 1, t -> {
            rig.sleep(t, SLEEP, 1_000_000);
            for (int i = 0; i < names.length; i++) {
                setMr(t, 0, i);
                assertEquals(OK, k.send(t, EP, Tag.of(1, 1), Kernel.FOREVER));
            }
        });
        rig.runAll();
        assertEquals(List.of("r8a:0", "r8b:1", "r6:2", "r4:3", "r4b:4"), rig.log);
    }

    /**
     * A higher-priority thread woken by a lower one runs as soon as the waker's kernel entry
     * ends, before the waker's next instruction; a lower-priority one woken waits.
     */
    @Test
    void wokenHigherPriorityThreadPreempts() {
        Domain d2 = rig.domain("d2");
        rig.notification(d2, NOTE);
        rig.grant(d2, NOTE, dom, 3, Rights.SEND, 0);
        rig.spawn(d2, "high", 20, t -> {
            assertEquals(OK, k.await(t, NOTE, Kernel.FOREVER));
            rig.log.add("high");
        });
        rig.spawn(dom, "mid", 10, t -> {
            rig.sleep(t, SLEEP, 10_000); // meanwhile low starts waiting
            rig.log.add("mid1");
            assertEquals(OK, k.signal(t, NOTE)); // wakes low: no preemption
            rig.log.add("mid2");
            assertEquals(OK, k.signal(t, 3)); // wakes high: preempted here
            rig.log.add("mid3");
        });
        rig.spawn(dom, "low", 5, t -> {
            assertEquals(OK, k.await(t, NOTE, Kernel.FOREVER));
            rig.log.add("low");
        });
        rig.runAll();
        assertEquals(List.of("mid1", "mid2", "high", "mid3", "low"), rig.log);
    }

    /**
     * A higher-priority thread whose timeout expires while a lower one computes takes over at
     * the lower one's next kernel entry.
     */
    @Test
    void timeoutWokenThreadPreemptsAtNextKernelEntry() {
        long[] when = new long[2];
        int[] lowCount = new int[1];
        rig.spawn(dom, "high", 20, t -> {
            rig.sleep(t, SLEEP, 5_500);
            when[0] = rig.now();
            when[1] = lowCount[0];
        });
        rig.spawn(dom, "low", 5, t -> {
            for (int i = 0; i < 20; i++) {
                lowCount[0]++;
                assertEquals(OK, k.poll(t, NOTE));
            }
        });
        rig.runAll();
        // high sleeps from t=1000 (its entry) until 6500; low's entries are at 2000, 3000, ...,
        // so the one at 7000 (its 6th) expires the timeout and ends with high running.
        assertEquals(7_000, when[0]);
        assertEquals(6, when[1]);
    }

    /** Equal priorities with small slices share the processor round robin. */
    @Test
    void roundRobinAmongEqualPriorities() {
        for (String name : List.of("A", "B", "C")) {
            Tcb t = rig.thread(dom, name, 10);
            k.setTimeslice(t, 2_000); // two kernel entries
            rig.machine.spawn(t, () -> {
                for (int i = 0; i < 6; i++) {
                    rig.log.add(name);
                    k.poll(t, NOTE);
                }
            });
        }
        rig.runAll();
        assertEquals(String.join("", List.of("AABBCC", "AABBCC", "AABBCC")), String.join("", rig.log));
    }

    /** A lower priority never gets the processor while a higher one is ready, slices or not. */
    @Test
    void sliceExpiryDoesNotYieldToLowerPriority() {
        Tcb hi = rig.thread(dom, "H", 10);
        k.setTimeslice(hi, 1_000);
        rig.machine.spawn(hi, () -> {
            for (int i = 0; i < 5; i++) {
                rig.log.add("H");
                k.poll(hi, NOTE);
            }
        });
        rig.spawn(dom, "L", 9, t -> rig.log.add("L"));
        rig.runAll();
        assertEquals("HHHHHL", String.join("", rig.log));
    }

    /** yield moves the caller to the tail of its priority: equal priorities take turns. */
    @Test
    void yieldMovesToTail() {
        for (String name : List.of("A", "B", "C")) {
            rig.spawn(dom, name, 10, t -> {
                for (int i = 1; i <= 3; i++) {
                    rig.log.add(name + i);
                    assertEquals(OK, k.yield(t));
                }
            });
        }
        rig.runAll();
        assertEquals(List.of("A1", "B1", "C1", "A2", "B2", "C2", "A3", "B3", "C3"), rig.log);
    }

    /** Without a yield, a thread keeps the processor for its whole (default, long) slice. */
    @Test
    void withoutYieldNoRotation() {
        for (String name : List.of("A", "B")) {
            rig.spawn(dom, name, 10, t -> {
                for (int i = 1; i <= 3; i++) {
                    rig.log.add(name + i);
                    assertEquals(OK, k.poll(t, NOTE));
                }
            });
        }
        rig.runAll();
        assertEquals(List.of("A1", "A2", "A3", "B1", "B2", "B3"), rig.log);
    }

    /** yield does not give the processor to a lower priority. */
    @Test
    void yieldDoesNotYieldToLowerPriority() {
        rig.spawn(dom, "H", 10, t -> {
            for (int i = 1; i <= 3; i++) {
                rig.log.add("H" + i);
                assertEquals(OK, k.yield(t));
            }
        });
        rig.spawn(dom, "L", 5, t -> rig.log.add("L"));
        rig.runAll();
        assertEquals(List.of("H1", "H2", "H3", "L"), rig.log);
    }
}
