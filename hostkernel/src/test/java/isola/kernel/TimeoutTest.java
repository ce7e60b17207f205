package isola.kernel;

import static isola.kernel.KernelRig.mr;
import static isola.kernel.KernelRig.setMr;
import static isola.kernel.KernelRig.tag;
import static isola.kernel.Status.*;
import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Timeouts on every blocking operation. Deterministic machine: the deadline is the entry's time
 * (the start plus {@link Kernel#ENTRY_COST_NS}) plus the timeout, and with nothing else to run
 * the clock jumps straight to it. Concurrent machine: only the status is checked.
 */
class TimeoutTest {
    static final int EP = 0;
    static final int SLEEP = 1;
    static final int NOTE = 2;
    static final long ENTRY = Kernel.ENTRY_COST_NS;

    KernelRig rig;
    Kernel k;
    Domain server;
    Domain client;
    Endpoint ep;

    @BeforeEach
    void setUp() {
        rig = KernelRig.deterministic();
        setUp(rig);
    }

    void setUp(KernelRig r) {
        rig = r;
        k = r.k;
        server = r.domain("server");
        client = r.domain("client");
        ep = r.endpoint(server, EP);
        r.notification(server, SLEEP);
        r.notification(client, SLEEP);
        r.notification(client, NOTE);
        r.grant(server, EP, client, EP, Rights.SEND, 3);
    }

    @AfterEach
    void tearDown() {
        rig.close();
    }

    /** Each blocking operation with nobody on the other side times out at exactly its deadline. */
    @Test
    void blockingOperationsExpireAtTheirDeadline() {
        long[] at = new long[8];
        int[] st = new int[4];
        rig.spawn(client, "cli", 10, t -> {
            long t0 = rig.now();
            st[0] = k.send(t, EP, Tag.of(1, 0), 40_000);
            at[0] = rig.now() - t0;
            t0 = rig.now();
            st[1] = k.call(t, EP, Tag.of(1, 0), 25_000);
            at[1] = rig.now() - t0;
            t0 = rig.now();
            st[2] = k.await(t, NOTE, 7_000);
            at[2] = rig.now() - t0;
            assertEquals(NOTE, t.errorArg());
        });
        rig.spawn(server, "srv", 10, t -> {
            rig.sleep(t, SLEEP, 1_000_000); // out of the way until the client is done
            long t0 = rig.now();
            st[3] = k.recv(t, EP, 123_000);
            at[3] = rig.now() - t0;
        });
        rig.runAll();
        assertEquals(E_TIMEOUT, st[0]);
        assertEquals(ENTRY + 40_000, at[0]);
        assertEquals(E_TIMEOUT, st[1]);
        assertEquals(ENTRY + 25_000, at[1]);
        assertEquals(E_TIMEOUT, st[2]);
        assertEquals(ENTRY + 7_000, at[2]);
        assertEquals(E_TIMEOUT, st[3]);
        assertEquals(ENTRY + 123_000, at[3]);
        assertEquals(0, ep.queuedSenders(), "timed-out senders left the queue");
        assertEquals(0, ep.waitingReceivers(), "timed-out receivers left the queue");
    }

    /** Several sleepers wake in deadline order, each at its own time. */
    @Test
    void sleepersWakeInDeadlineOrder() {
        long[] deltas = {50_000, 10_000, 30_000, 10_000, 20_000};
        for (int i = 0; i < deltas.length; i++) {
            int idx = i;
            rig.spawn(client, "s" + i, 10, t -> {
                long start = rig.now();
                assertEquals(E_TIMEOUT, k.await(t, NOTE, deltas[idx]));
                rig.log.add("s" + idx + "@" + (rig.now() - start - ENTRY - deltas[idx]));
            });
        }
        rig.runAll();
        // the threads enter 1000 ns apart; deadlines 51000, 12000, 33000, 14000, 25000
        assertEquals(List.of("s1@0", "s3@0", "s4@0", "s2@0", "s0@0"), rig.log);
    }

    /**
     * Equal deadlines all expire at that time, in the order the waits began; the woken threads
     * then run by priority, FIFO among equals.
     */
    @Test
    void equalDeadlinesExpireTogetherInOrderOfWaiting() {
        long[] woken = new long[1];
        // w0 enters at 1000, then high (priority 20) at 2000, w1 at 3000, w2 at 4000:
        // every deadline is 40000
        long[] timeouts = {39_000, 37_000, 36_000};
        for (int i = 0; i < 3; i++) {
            int idx = i;
            rig.spawn(client, "w" + i, 10, t -> {
                assertEquals(E_TIMEOUT, k.await(t, NOTE, timeouts[idx]));
                rig.log.add("w" + idx + "@" + rig.now());
            });
        }
        rig.spawn(client, "high", 20, t -> {
            assertEquals(E_TIMEOUT, k.await(t, NOTE, 38_000));
            woken[0] = rig.now();
            rig.log.add("high@" + rig.now());
        });
        rig.runAll();
        assertEquals(40_000, woken[0]);
        // each thread's exit is a kernel entry (1000 ns) before the next one runs
        assertEquals(List.of("high@40000", "w0@41000", "w1@42000", "w2@43000"), rig.log);
    }

    /**
     * A message arriving before the deadline cancels the timeout: the receiver gets OK, and the
     * old deadline fires into none of its later waits.
     */
    @Test
    void messageBeforeDeadlineCancelsTimeout() {
        int[] st = new int[4];
        long[] at = new long[3];
        rig.spawn(server, "srv", 10, t -> {
            long t0 = rig.now();
            st[0] = k.recv(t, EP, 100_000);
            at[0] = rig.now() - t0;
            assertEquals(41, mr(t, 0));
            // a wait with no timeout across the old deadline: only the next message ends it
            st[1] = k.recv(t, EP, Kernel.FOREVER);
            at[1] = rig.now() - t0;
            assertEquals(42, mr(t, 0));
            // a wait with a later timeout is not ended early by the old one
            long t1 = rig.now();
            st[2] = k.recv(t, EP, 300_000);
            at[2] = rig.now() - t1;
        });
        rig.spawn(client, "cli", 10, t -> {
            rig.sleep(t, SLEEP, 10_000);
            setMr(t, 0, 41);
            assertEquals(OK, k.send(t, EP, Tag.of(1, 1), Kernel.FOREVER));
            rig.sleep(t, SLEEP, 200_000);
            setMr(t, 0, 42);
            assertEquals(OK, k.send(t, EP, Tag.of(1, 1), Kernel.FOREVER));
        });
        rig.runAll();
        assertEquals(OK, st[0]);
        assertTrue(at[0] < 100_000, "received before the deadline");
        assertEquals(OK, st[1]);
        assertTrue(at[1] > 200_000, "waited past the first deadline");
        assertEquals(E_TIMEOUT, st[2]);
        assertEquals(ENTRY + 300_000, at[2]);
    }

    /** A signal arriving before the deadline ends a timed wait with the bits. */
    @Test
    void signalBeforeDeadlineCancelsTimeout() {
        rig.grant(client, NOTE, server, 5, Rights.SEND, 16);
        int[] st = new int[2];
        long[] got = new long[2];
        rig.spawn(client, "waiter", 10, t -> {
            long t0 = rig.now();
            st[0] = k.await(t, NOTE, 50_000);
            got[0] = Utcb.badge(t.utcb());
            got[1] = rig.now() - t0;
            st[1] = k.await(t, NOTE, 80_000); // nothing more comes: times out on its own deadline
        });
        rig.spawn(server, "signaller", 10, t -> {
            rig.sleep(t, SLEEP, 5_000);
            assertEquals(OK, k.signal(t, 5));
        });
        rig.runAll();
        assertEquals(OK, st[0]);
        assertEquals(16, got[0]);
        assertTrue(got[1] < 50_000);
        assertEquals(E_TIMEOUT, st[1]);
    }

    /**
     * A call whose message was received but whose reply comes too late times out at its
     * deadline; the late reply is dropped (the replier still gets OK) and touches neither the
     * caller's registers nor its next call.
     */
    @Test
    void callTimesOutWaitingForReplyAndLateReplyIsDropped() {
        int[] st = new int[6];
        long[] at = new long[1];
        long[] got = new long[3];
        rig.spawn(server, "srv", 10, t -> {
            assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
            assertEquals(555, mr(t, 0));
            rig.sleep(t, SLEEP, 100_000); // too slow
            setMr(t, 0, 999);
            st[0] = k.reply(t, Tag.of(9, 1));
            st[1] = k.reply(t, Tag.of(9, 1)); // already consumed
            // the client's next call is answered normally
            assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
            setMr(t, 0, mr(t, 0) + 1);
            st[2] = k.reply(t, Tag.of(2, 1));
        });
        rig.spawn(client, "cli", 10, t -> {
            setMr(t, 0, 555);
            long t0 = rig.now();
            st[3] = k.call(t, EP, Tag.of(1, 1), 50_000);
            at[0] = rig.now() - t0;
            rig.sleep(t, SLEEP, 200_000); // the late reply happens meanwhile
            got[0] = mr(t, 0);
            setMr(t, 0, 7);
            st[4] = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
            got[1] = mr(t, 0);
            got[2] = tag(t);
        });
        rig.runAll();
        assertEquals(E_TIMEOUT, st[3]);
        assertEquals(ENTRY + 50_000, at[0]);
        assertEquals(OK, st[0], "a reply to a caller that gave up is not the replier's error");
        assertEquals(E_NO_REPLY, st[1]);
        assertEquals(555, got[0], "the late reply did not reach the caller's registers");
        assertEquals(OK, st[4]);
        assertEquals(8, got[1]);
        assertEquals(2, Tag.label(got[2]));
        assertEquals(OK, st[2]);
    }

    /** A call that times out while still queued leaves the queue: its message is never received. */
    @Test
    void callTimingOutWhileQueuedIsWithdrawn() {
        int[] st = new int[3];
        rig.spawn(client, "cli", 10, t -> {
            setMr(t, 0, 1);
            st[0] = k.call(t, EP, Tag.of(1, 1), 20_000);
            assertEquals(0, ep.queuedSenders());
            setMr(t, 0, 2);
            st[1] = k.send(t, EP, Tag.of(2, 1), Kernel.FOREVER);
        });
        rig.spawn(server, "srv", 10, t -> {
            rig.sleep(t, SLEEP, 100_000);
            st[2] = k.recv(t, EP, Kernel.FOREVER);
            assertEquals(2, mr(t, 0), "the timed-out call's message was delivered");
            assertEquals(2, Tag.label(tag(t)));
            assertNull(t.reply.caller(), "no caller is bound by a one-way message");
        });
        rig.runAll();
        assertEquals(E_TIMEOUT, st[0]);
        assertEquals(OK, st[1]);
        assertEquals(OK, st[2]);
    }

    /** A queued call picked up before its deadline keeps the deadline for its reply phase. */
    @Test
    void timeoutCoversBothPhasesOfQueuedCall() {
        int[] st = new int[2];
        long[] at = new long[1];
        rig.spawn(client, "cli", 10, t -> {
            long t0 = rig.now();
            st[0] = k.call(t, EP, Tag.of(1, 0), 60_000);
            at[0] = rig.now() - t0;
        });
        rig.spawn(server, "srv", 10, t -> {
            rig.sleep(t, SLEEP, 20_000); // the call waits queued for 20 µs
            assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
            rig.sleep(t, SLEEP, 100_000); // and never gets its reply in time
            st[1] = k.reply(t, Tag.of(0, 0));
        });
        rig.runAll();
        assertEquals(E_TIMEOUT, st[0]);
        assertEquals(ENTRY + 60_000, at[0], "one deadline for both phases");
        assertEquals(OK, st[1]);
    }

    // ---- concurrent machine: real time, statuses only ----

    @Test
    void timeoutsOnConcurrentMachine() {
        rig.close();
        setUp(KernelRig.concurrent());
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            int[] st = new int[8];
            AtomicInteger lateReply = new AtomicInteger(99);
            // nobody receives yet
            Tcb cli = rig.thread(client, "cli", 10);
            rig.machine.attach(cli);
            st[0] = k.send(cli, EP, Tag.of(1, 0), 2_000_000);
            st[1] = k.call(cli, EP, Tag.of(1, 0), 2_000_000);
            st[2] = k.await(cli, NOTE, 2_000_000);
            // a server that receives but answers too late
            Tcb srv = rig.spawn(server, "srv", 10, t -> {
                assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
                assertEquals(E_TIMEOUT, k.await(t, SLEEP, 50_000_000));
                setMr(t, 0, 999);
                lateReply.set(k.reply(t, Tag.of(0, 1)));
                // then serve normally until killed
                long reply = 0;
                while (k.replyRecv(t, EP, reply, Kernel.FOREVER) == OK) {
                    setMr(t, 0, mr(t, 0) + 1);
                    reply = Tag.of(0, 1);
                }
            });
            // The call's 5 ms bound is for the reply: the server must be receiving first, or a
            // slow start (a busy host) times the call out in the queue and the server never sees it.
            while (srv.state() != Tcb.BLOCKED_RECV) {
                Thread.sleep(1);
            }
            setMr(cli, 0, 555);
            st[3] = k.call(cli, EP, Tag.of(1, 1), 5_000_000);
            while (lateReply.get() == 99) {
                Thread.sleep(1);
            }
            st[4] = (int) mr(cli, 0);
            setMr(cli, 0, 10);
            st[5] = k.call(cli, EP, Tag.of(1, 1), Kernel.FOREVER);
            st[6] = (int) mr(cli, 0);
            // a receive with a timeout on an endpoint of its own
            Endpoint mine = rig.endpoint(client, 9);
            st[7] = k.recv(cli, 9, 3_000_000);
            k.killDomainNow(server);
            assertTrue(rig.machine.awaitRunners(30_000));
            rig.check();
            assertEquals(E_TIMEOUT, st[0], "send");
            assertEquals(E_TIMEOUT, st[1], "call, nobody receiving");
            assertEquals(E_TIMEOUT, st[2], "await");
            assertEquals(E_TIMEOUT, st[3], "call, reply too late");
            assertEquals(OK, lateReply.get());
            assertEquals(555, st[4], "late reply dropped");
            assertEquals(OK, st[5]);
            assertEquals(11, st[6]);
            assertEquals(E_TIMEOUT, st[7], "recv");
            assertNotNull(mine);
        });
    }
}
