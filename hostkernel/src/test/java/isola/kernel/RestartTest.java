package isola.kernel;

import static isola.kernel.KernelRig.mr;
import static isola.kernel.KernelRig.setMr;
import static isola.kernel.Status.*;
import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Restarting a server on the same endpoint (the supervisor's {@code killForRestart},
 * {@code rebindEndpoint}, {@code abandonRestart}), on the deterministic machine: only the call
 * the dead server had taken fails, with E_RESTARTED; calls queued or arriving while it is down
 * wait and are served by the next incarnation; once the supervisor gives up they get
 * E_DEAD_DOMAIN.
 */
class RestartTest {
    static final int EP = 0;
    static final int SLEEP = 1;
    static final long SLOW = 1_000;

    KernelRig rig;
    Kernel k;
    Domain init;
    Endpoint service;

    @AfterEach
    void tearDown() {
        if (rig != null) {
            rig.close();
        }
    }

    /** init owns the endpoint (all rights in its slot EP); servers and clients get copies. */
    void setUp() {
        rig = KernelRig.deterministic();
        k = rig.k;
        init = rig.domain("init");
        service = rig.endpoint(init, EP);
        rig.notification(init, SLEEP);
    }

    Domain client(String name) {
        Domain d = rig.domain(name);
        rig.grant(init, EP, d, EP, Rights.SEND, 0);
        rig.notification(d, SLEEP);
        return d;
    }

    /**
     * A server incarnation answering {@code mr0 + delta} ({@link #SLOW} takes 50 µs first); its
     * thread ends after {@code calls} calls, or when it is killed.
     */
    Domain incarnation(String name, long delta, int calls) {
        Domain d = rig.domain(name);
        rig.grant(init, EP, d, EP, Rights.RECV, 0);
        rig.notification(d, SLEEP);
        k.rebindEndpoint(service, d);
        rig.spawn(d, "server", 10, t -> {
            long reply = 0;
            for (int i = 0; i < calls && k.replyRecv(t, EP, reply, Kernel.FOREVER) == OK; i++) {
                if (mr(t, 0) == SLOW && k.await(t, SLEEP, 50_000) == E_KILLED) {
                    return;
                }
                setMr(t, 0, mr(t, 0) + delta);
                reply = Tag.of(0, 1);
            }
            if (reply != 0) {
                k.reply(t, reply);
            }
        });
        return d;
    }

    long[] call(Tcb t, long value) {
        setMr(t, 0, value);
        int st = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
        return new long[] {st, mr(t, 0), rig.now()};
    }

    @Test
    void onlyTheTakenCallFailsTheOthersWaitForTheNextIncarnation() {
        setUp();
        Domain first = incarnation("server-1", 1, 1);
        long[] inFlight = new long[3], arriving = new long[3], polled = new long[1], after = new long[3];
        long[] rebound = new long[1];
        Domain[] second = new Domain[1];
        rig.spawn(client("c1"), "c1", 5, t -> System.arraycopy(call(t, SLOW), 0, inFlight, 0, 3));
        rig.spawn(init, "supervisor", 20, t -> {
            rig.sleep(t, SLEEP, 10_000); // c1's slow call is being served
            k.killForRestart(first);
            rig.sleep(t, SLEEP, 40_000); // down a while: c2 and c3 try meanwhile
            rebound[0] = rig.now();
            second[0] = incarnation("server-2", 100, 2);
        });
        rig.spawn(client("c2"), "c2", 5, t -> {
            rig.sleep(t, SLEEP, 20_000);
            System.arraycopy(call(t, 5), 0, arriving, 0, 3);
            System.arraycopy(call(t, 6), 0, after, 0, 3);
        });
        rig.spawn(client("c3"), "c3", 5, t -> {
            rig.sleep(t, SLEEP, 25_000);
            setMr(t, 0, 7);
            polled[0] = k.send(t, EP, Tag.of(1, 1), Kernel.POLL);
        });
        rig.runAll();

        assertEquals(E_RESTARTED, inFlight[0], "the call the dead incarnation had taken");
        assertTrue(inFlight[2] < rebound[0], "failed at the kill, not when its handler would have ended");
        assertEquals(OK, arriving[0], "a call arriving while the server is down waits");
        assertEquals(105, arriving[1], "answered by the new incarnation");
        assertTrue(arriving[2] >= rebound[0]);
        assertEquals(OK, after[0]);
        assertEquals(106, after[1]);
        assertEquals(E_RESTARTED, polled[0], "a non-blocking send does not wait");
        assertEquals(Domain.DEAD, first.state());
        assertSame(second[0], service.server);
    }

    @Test
    void restartsOutnumberTheDomainPoolBecauseDeadIncarnationsAreReclaimed() {
        setUp();
        int restarts = k.domainCapacity() + 50;
        int liveBefore = k.domainsInUse();
        long[] answers = new long[restarts];
        Domain[] incarnations = new Domain[restarts];
        Domain c = client("c1");
        rig.spawn(init, "supervisor", 20, t -> {
            for (int i = 0; i < restarts; i++) {
                incarnations[i] = incarnation("server-" + i, i, Integer.MAX_VALUE);
                while (answers[i] == 0) {
                    rig.sleep(t, SLEEP, 1_000); // until the client's call is answered
                }
                k.killForRestart(incarnations[i]);
            }
        });
        rig.spawn(c, "c1", 5, t -> {
            for (int i = 0; i < restarts; i++) {
                while (incarnations[i] == null) {
                    rig.sleep(t, SLEEP, 1_000);
                }
                answers[i] = call(t, 1_000_000)[1];
            }
        });
        rig.runAll();
        for (int i = 0; i < restarts; i++) {
            assertEquals(1_000_000 + i, answers[i], "call " + i + " answered by incarnation " + i);
        }
        // Left: c1, and the last incarnation, dead but still on the endpoint (never rebound).
        assertEquals(liveBefore + 2, k.domainsInUse(), "every other dead incarnation was reclaimed");
        assertSame(incarnations[restarts - 1], k.domain(incarnations[restarts - 1].id()));
        Domain first = incarnations[0];
        assertEquals(Domain.DEAD, first.state(), "a retired domain stays as it died");
        assertEquals("server-0", first.name());
        assertNotSame(first, k.domain(first.id()), "its id went to another domain");
    }

    @Test
    void waitingCallersGetDeadDomainWhenTheSupervisorGivesUp() {
        setUp();
        Domain first = incarnation("server-1", 1, 1);
        long[] waiting = new long[3];
        long[] gaveUp = new long[1];
        rig.spawn(init, "supervisor", 20, t -> {
            k.killForRestart(first);
            rig.sleep(t, SLEEP, 30_000);
            gaveUp[0] = rig.now();
            k.abandonRestart(first);
        });
        int[] later = new int[1];
        rig.spawn(client("c1"), "c1", 5, t -> {
            rig.sleep(t, SLEEP, 10_000);
            System.arraycopy(call(t, 5), 0, waiting, 0, 3);
            setMr(t, 0, 5);
            later[0] = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
        });
        rig.runAll();
        assertEquals(E_DEAD_DOMAIN, waiting[0]);
        assertTrue(waiting[2] >= gaveUp[0], "it waited until the supervisor gave up");
        assertEquals(E_DEAD_DOMAIN, later[0]);
    }

    @Test
    void waitingCallersTimeOut() {
        setUp();
        Domain first = incarnation("server-1", 1, 1);
        int[] st = new int[1];
        rig.spawn(init, "supervisor", 20, t -> {
            k.killForRestart(first);
            rig.sleep(t, SLEEP, 100_000);
            incarnation("server-2", 100, 0);
        });
        rig.spawn(client("c1"), "c1", 5, t -> {
            rig.sleep(t, SLEEP, 10_000);
            setMr(t, 0, 5);
            st[0] = k.call(t, EP, Tag.of(1, 1), 20_000);
        });
        rig.runAll();
        assertEquals(E_TIMEOUT, st[0], "the call's own timeout still holds while it waits");
    }

    @Test
    void callersWaitingForAPassiveIncarnationRunItsHandler() {
        setUp();
        Domain first = incarnation("server-1", 1, 1);
        long[] waiting = new long[3];
        long[] bound = new long[1];
        rig.spawn(init, "supervisor", 20, t -> {
            k.killForRestart(first);
            rig.sleep(t, SLEEP, 30_000);
            Domain passive = rig.domain("server-2");
            rig.grant(init, EP, passive, EP, Rights.RECV, 0);
            k.rebindEndpoint(service, passive);
            rig.spawn(passive, "binder", 10, b -> {
                bound[0] = rig.now();
                assertEquals(OK, k.serve(b, EP, caller -> {
                    setMr(caller, 0, mr(caller, 0) + 1000);
                    return Tag.of(0, 1);
                }));
            });
        });
        int[] oneWay = new int[1];
        rig.spawn(client("c1"), "c1", 5, t -> {
            rig.sleep(t, SLEEP, 10_000);
            System.arraycopy(call(t, 5), 0, waiting, 0, 3);
        });
        rig.spawn(client("c2"), "c2", 5, t -> {
            rig.sleep(t, SLEEP, 10_000);
            oneWay[0] = k.send(t, EP, Tag.of(1, 0), Kernel.FOREVER);
        });
        rig.runAll();
        assertEquals(OK, waiting[0]);
        assertEquals(1005, waiting[1], "ran the passive handler on its own thread");
        assertTrue(waiting[2] >= bound[0]);
        assertEquals(E_ILLEGAL_OPERATION, oneWay[0], "a passive server takes no one-way message");
    }

    /**
     * A passive handler that fails because its domain was killed for a restart under the call
     * (a native-tier server's isolate refuses a call once it is closed): the caller gets
     * E_RESTARTED, as for any call the dead incarnation had taken, and the dead domain is not
     * faulted again.
     */
    @Test
    void aPassiveCallWhoseServerIsKilledUnderItFailsWithERestarted() {
        setUp();
        Domain server = rig.domain("passive-1");
        k.rebindEndpoint(service, server);
        k.bindPassive(service, server, caller -> {
            k.killForRestart(server);
            throw new IllegalStateException("its isolate is being torn down");
        });
        long[] result = new long[3];
        rig.spawn(client("c1"), "c1", 5, t -> System.arraycopy(call(t, 1), 0, result, 0, 3));
        rig.runAll();

        assertEquals(E_RESTARTED, result[0]);
        assertEquals(Domain.DEAD, server.state());
        assertEquals(0, server.faultCount(), "not reported as a fault of the dead domain");
        assertNull(server.lastFault());
    }
}
