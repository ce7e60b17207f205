package isola.kernel;

import static isola.kernel.KernelRig.badge;
import static isola.kernel.KernelRig.mr;
import static isola.kernel.KernelRig.setMr;
import static isola.kernel.Status.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * IPC, notifications, timeouts, faults and restarts on the simulated multiprocessor: the same
 * kinds of systems as the deterministic tests, but with the lock-free fast paths on and a seeded
 * interleaving. Each test runs a handful of seeds and checks every answer; the trace (which only
 * the locked paths write) shows that the fast paths took part.
 */
class SimulatedIpcTest {
    static final int EP = 0;
    static final int SLEEP = 1;
    static final int FAULTS = 2;
    static final int NOTE = 3;
    static final int SEEDS = 6;
    static final long BOOM = -1;

    KernelRig rig;

    @AfterEach
    void tearDown() {
        if (rig != null) {
            rig.close();
        }
    }

    static long answer(long v) {
        return v * 31 + 7;
    }

    /** How many slow-path entries of system call {@code op} the trace holds. */
    static long slowEntries(Kernel k, String op) {
        String suffix = " " + op + " ";
        return k.trace().lines().stream().filter(l -> l.contains(" syscall ") && l.contains(suffix)).count();
    }

    /**
     * {@code clients} clients each calling {@code calls} times; the server answers in a
     * replyRecv loop. Returns how many calls and replyRecvs the fast paths took.
     */
    long[] callReplyLoop(long seed, int clients, int calls) {
        rig = KernelRig.simulated(seed);
        Kernel k = rig.k;
        Domain srv = rig.domain("srv");
        rig.servedEndpoint(srv, EP);
        AtomicIntegerArray seen = new AtomicIntegerArray(clients * calls);
        rig.spawn(srv, "server", 10, t -> {
            long reply = 0;
            for (int n = 0; n < clients * calls; n++) {
                assertEquals(OK, k.replyRecv(t, EP, reply, Kernel.FOREVER));
                int who = (int) badge(t);
                long seq = mr(t, 1);
                assertEquals(1, seen.incrementAndGet(who * calls + (int) seq), "message served twice");
                setMr(t, 0, answer(mr(t, 0)));
                reply = Tag.of(0, 1);
            }
            assertEquals(OK, k.reply(t, reply));
        });
        for (int c = 0; c < clients; c++) {
            int id = c;
            Domain d = rig.domain("c" + c);
            rig.grant(srv, EP, d, EP, Rights.SEND, id);
            rig.spawn(d, "client" + c, 5, t -> {
                for (int i = 0; i < calls; i++) {
                    long v = 1000L * id + i;
                    setMr(t, 0, v);
                    setMr(t, 1, i);
                    assertEquals(OK, k.call(t, EP, Tag.of(1, 2), Kernel.FOREVER), "call " + i);
                    assertEquals(answer(v), mr(t, 0), "client " + id + " call " + i);
                }
            });
        }
        rig.runSimulated();
        for (int i = 0; i < seen.length(); i++) {
            assertEquals(1, seen.get(i), "message " + i + " served once");
        }
        // Every call and every replyRecv of the loop but the last is one system call.
        long total = (long) clients * calls;
        long[] fast = {total - slowEntries(k, "call"), total - slowEntries(k, "replyRecv")};
        rig.close();
        rig = null;
        return fast;
    }

    @Test
    void callsAndReplyRecvLoopsAnswerEveryCallWithFastPathsOn() {
        long fastCalls = 0;
        long fastReplyRecvs = 0;
        for (long seed = 1; seed <= SEEDS; seed++) {
            long[] fast = callReplyLoop(seed, 3, 12);
            fastCalls += fast[0];
            fastReplyRecvs += fast[1];
        }
        assertTrue(fastCalls > 0, "no call took the fast path");
        assertTrue(fastReplyRecvs > 0, "no replyRecv took the fast path");
    }

    @Test
    void passiveCallsRunTheHandlerOnTheCallersThreadWithoutTheLock() {
        for (long seed = 1; seed <= SEEDS; seed++) {
            rig = KernelRig.simulated(seed);
            Kernel k = rig.k;
            Domain srv = rig.domain("srv");
            Endpoint ep = rig.endpoint(srv, EP);
            AtomicIntegerArray handled = new AtomicIntegerArray(3);
            k.bindPassive(ep, srv, caller -> {
                handled.incrementAndGet((int) Utcb.badge(caller.utcb()));
                Utcb.setMr(caller.utcb(), 0, answer(Utcb.mr(caller.utcb(), 0)));
                return Tag.of(0, 1);
            });
            for (int c = 0; c < 3; c++) {
                int id = c;
                Domain d = rig.domain("c" + c);
                rig.grant(srv, EP, d, EP, Rights.SEND, id);
                rig.spawn(d, "client" + c, 5, t -> {
                    for (int i = 0; i < 10; i++) {
                        setMr(t, 0, 100L * id + i);
                        assertEquals(OK, k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER));
                        assertEquals(answer(100L * id + i), mr(t, 0));
                    }
                });
            }
            rig.runSimulated();
            for (int c = 0; c < 3; c++) {
                assertEquals(10, handled.get(c), "calls of client " + c);
            }
            assertEquals(0, slowEntries(k, "call"), "seed " + seed + ": a passive call took the lock");
            rig.close();
        }
        rig = null;
    }

    @Test
    void signalsAreNeitherLostNorInventedAmongFastCalls() {
        for (long seed = 1; seed <= SEEDS; seed++) {
            rig = KernelRig.simulated(seed);
            Kernel k = rig.k;
            Domain srv = rig.domain("srv");
            rig.servedEndpoint(srv, EP);
            rig.notification(srv, NOTE);
            Domain cli = rig.domain("cli");
            rig.grant(srv, EP, cli, EP, Rights.SEND, 0);
            long[] got = new long[1];
            // The server answers calls and, between them, collects signals with a timed wait.
            rig.spawn(srv, "server", 10, t -> {
                long reply = 0;
                for (int n = 0; n < 8; n++) {
                    assertEquals(OK, k.replyRecv(t, EP, reply, Kernel.FOREVER));
                    setMr(t, 0, answer(mr(t, 0)));
                    reply = Tag.of(0, 1);
                    assertEquals(OK, k.reply(t, reply));
                    reply = 0;
                    int r = k.await(t, NOTE, 3_000);
                    assertTrue(r == OK || r == E_TIMEOUT, Status.name(r));
                    got[0] |= r == OK ? badge(t) : 0;
                }
                while (got[0] != 0xFF) {
                    assertEquals(OK, k.await(t, NOTE, Kernel.FOREVER));
                    got[0] |= badge(t);
                }
            });
            for (int b = 0; b < 8; b++) {
                Domain s = rig.domain("sig" + b);
                rig.grant(srv, NOTE, s, NOTE, Rights.ALL, 1L << b);
                rig.spawn(s, "signaller" + b, 5, t -> assertEquals(OK, k.signal(t, NOTE)));
            }
            rig.spawn(cli, "client", 5, t -> {
                for (int i = 0; i < 8; i++) {
                    setMr(t, 0, i);
                    assertEquals(OK, k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER));
                    assertEquals(answer(i), mr(t, 0));
                }
            });
            rig.runSimulated();
            assertEquals(0xFF, got[0], "seed " + seed);
            rig.close();
        }
        rig = null;
    }

    @Test
    void aTimedOutCallFailsAloneAndTheNextFastCallIsAnswered() {
        for (long seed = 1; seed <= SEEDS; seed++) {
            rig = KernelRig.simulated(seed);
            Kernel k = rig.k;
            Domain srv = rig.domain("srv");
            rig.servedEndpoint(srv, EP);
            rig.notification(srv, SLEEP);
            Domain cli = rig.domain("cli");
            rig.grant(srv, EP, cli, EP, Rights.SEND, 0);
            int[] statuses = new int[4];
            rig.spawn(srv, "server", 10, t -> {
                long reply = 0;
                for (int n = 0; n < 4; n++) {
                    assertEquals(OK, k.replyRecv(t, EP, reply, Kernel.FOREVER));
                    if (mr(t, 0) == 1) {
                        rig.sleep(t, SLEEP, 50_000); // far longer than the caller waits
                    }
                    setMr(t, 0, answer(mr(t, 0)));
                    reply = Tag.of(0, 1);
                }
                k.reply(t, reply);
            });
            rig.spawn(cli, "client", 5, t -> {
                for (int i = 0; i < 4; i++) {
                    setMr(t, 0, i);
                    long timeout = i == 1 ? 5_000 : Kernel.FOREVER;
                    statuses[i] = k.call(t, EP, Tag.of(1, 1), timeout);
                    if (statuses[i] == OK) {
                        assertEquals(answer(i), mr(t, 0), "call " + i + " got another call's answer");
                    }
                }
            });
            rig.runSimulated();
            assertArrayEquals(new int[] {OK, E_TIMEOUT, OK, OK}, statuses, "seed " + seed);
            rig.close();
        }
        rig = null;
    }

    @Test
    void aFaultingServerIsResumedAndItsCallersAreAnswered() {
        for (long seed = 1; seed <= SEEDS; seed++) {
            rig = KernelRig.simulated(seed);
            Kernel k = rig.k;
            Domain sup = rig.domain("sup");
            Domain srv = rig.domain("srv");
            Endpoint faultEp = rig.endpoint(sup, FAULTS);
            rig.servedEndpoint(srv, EP);
            k.setFaultEndpoint(srv, faultEp, 5);
            int[] faults = new int[1];
            rig.spawn(sup, "supervisor", 20, t -> {
                assertEquals(OK, k.recv(t, FAULTS, Kernel.FOREVER));
                assertEquals(5, badge(t), "the fault endpoint's badge");
                faults[0]++;
                assertEquals(OK, k.reply(t, Tag.of(Domain.FAULT_RESUME, 0)));
            });
            int[] served = new int[1];
            rig.spawn(srv, "server", 10, t -> {
                long reply = 0;
                while (served[0] < 6) {
                    assertEquals(OK, k.replyRecv(t, EP, reply, Kernel.FOREVER));
                    if (mr(t, 0) == BOOM) {
                        throw new IllegalStateException("boom"); // the body runs again once resumed
                    }
                    served[0]++;
                    setMr(t, 0, answer(mr(t, 0)));
                    reply = Tag.of(0, 1);
                }
                k.reply(t, reply);
            });
            List<Integer> statuses = new java.util.ArrayList<>();
            Domain cli = rig.domain("cli");
            rig.grant(srv, EP, cli, EP, Rights.SEND, 0);
            rig.spawn(cli, "client", 5, t -> {
                for (long v : new long[] {1, 2, BOOM, 3, 4, 5, 6}) {
                    setMr(t, 0, v);
                    int st = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
                    statuses.add(st);
                    if (v != BOOM) {
                        assertEquals(OK, st, "call " + v);
                        assertEquals(answer(v), mr(t, 0), "call " + v);
                    }
                }
            });
            rig.runSimulated();
            assertEquals(1, faults[0], "seed " + seed);
            assertEquals(6, served[0]);
            assertNotEquals(OK, statuses.get(2), "the call that crashed its server was not answered OK");
            rig.close();
        }
        rig = null;
    }

    @Test
    void aKillForRestartFailsOnlyTheCallInFlightAndTheNextIncarnationAnswersTheRest() {
        long answeredByNext = 0;
        long restartedTotal = 0;
        for (long seed = 1; seed <= SEEDS; seed++) {
            rig = KernelRig.simulated(seed);
            Kernel k = rig.k;
            Domain init = rig.domain("init");
            Endpoint service = rig.endpoint(init, EP);
            rig.notification(init, SLEEP);
            rig.notification(init, NOTE);
            // An incarnation answers v + delta: the answer says which one served the call.
            java.util.function.LongFunction<Domain> incarnation = delta -> {
                Domain d = rig.domain("srv" + delta);
                rig.grant(init, EP, d, EP, Rights.RECV, 0);
                k.rebindEndpoint(service, d);
                rig.spawn(d, "server", 10, t -> {
                    long reply = 0;
                    int st;
                    while ((st = k.replyRecv(t, EP, reply, Kernel.FOREVER)) == OK) {
                        setMr(t, 0, mr(t, 0) + delta);
                        reply = Tag.of(0, 1);
                    }
                    assertEquals(E_KILLED, st);
                });
                return d;
            };
            Domain first = incarnation.apply(1_000);
            Domain[] second = new Domain[1];
            rig.spawn(init, "supervisor", 20, t -> {
                rig.sleep(t, SLEEP, 4_000);
                k.killForRestart(first);
                rig.sleep(t, SLEEP, 2_000); // down a while: calls arriving now wait
                second[0] = incarnation.apply(2_000);
                long done = 0;
                while (done != 7) {
                    assertEquals(OK, k.await(t, NOTE, Kernel.FOREVER));
                    done |= badge(t);
                }
                k.killDomainNow(second[0]);
            });
            int[][] statuses = new int[3][6];
            long[][] answers = new long[3][6];
            for (int c = 0; c < 3; c++) {
                int id = c;
                Domain d = rig.domain("c" + c);
                rig.grant(init, EP, d, EP, Rights.SEND, 0);
                rig.grant(init, NOTE, d, NOTE, Rights.SEND, 1L << c);
                rig.spawn(d, "client" + c, 5, t -> {
                    for (int i = 0; i < 6; i++) {
                        setMr(t, 0, 10 * id + i);
                        statuses[id][i] = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
                        answers[id][i] = mr(t, 0) - (10 * id + i);
                    }
                    assertEquals(OK, k.signal(t, NOTE));
                });
            }
            rig.runSimulated();
            int restarted = 0;
            for (int c = 0; c < 3; c++) {
                for (int i = 0; i < 6; i++) {
                    String what = "seed " + seed + " client " + c + " call " + i;
                    if (statuses[c][i] == E_RESTARTED) {
                        restarted++;
                    } else {
                        assertEquals(OK, statuses[c][i], what);
                        assertTrue(answers[c][i] == 1_000 || answers[c][i] == 2_000, what + " answered " + answers[c][i]);
                        answeredByNext += answers[c][i] == 2_000 ? 1 : 0;
                    }
                }
            }
            assertTrue(restarted <= 1, "seed " + seed + ": one server thread had at most one call in flight, "
                    + restarted + " failed");
            restartedTotal += restarted;
            assertEquals(Domain.DEAD, first.state());
            rig.close();
        }
        rig = null;
        assertTrue(answeredByNext > 0, "the second incarnation answered nothing");
        assertTrue(restartedTotal > 0, "no kill caught a call in flight");
    }
}
