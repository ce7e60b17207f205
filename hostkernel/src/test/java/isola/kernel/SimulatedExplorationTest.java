package isola.kernel;

import static isola.kernel.KernelRig.badge;
import static isola.kernel.KernelRig.mr;
import static isola.kernel.KernelRig.setMr;
import static isola.kernel.Status.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/**
 * Explores interleavings of the fast and slow IPC paths on the simulated multiprocessor: for
 * each of {@link #SEEDS} seeds, clients mix fast calls, slow calls, calls that may time out and
 * one-way sends (slow-path senders queueing while the bound receiver re-arms) against one or
 * two server threads, while a supervisor kills and restarts the server. Invariants: no message
 * is served twice, none that was answered or accepted is lost, every call ends OK with its own
 * answer or with a failure its kind allows, and no thread is left waiting forever.
 *
 * <p>A failure names its seed; {@code -Disola.explore.seed=N} reruns that seed alone, with the
 * same interleaving.
 */
class SimulatedExplorationTest {
    static final int SEEDS = 200;
    static final int CLIENTS = 3;
    static final int MESSAGES = 10;
    static final int EP = 0;
    static final int SLEEP = 1;
    static final int DONE = 2;
    static final int CALL = 1;
    static final int ONE_WAY = 2;
    /** A timeout that never expires here: it only sends the call down the slow path. */
    static final long SLOW_TIMEOUT = 1_000_000_000L;
    /** Small pools and memory: a machine per seed. */
    static final KernelConfig CONFIG = new KernelConfig(32, 64, 64, 64, 64, 50_000, 5_000_000L, 1 << 20, 16, 16, 0);

    /** How a client sends one message. */
    enum Mode { FAST_CALL, SLOW_CALL, SHORT_CALL, SEND }

    static long payload(int client, int seq) {
        return 1_000_003L * client + 7919L * seq + 11;
    }

    static long answer(long v) {
        return v * 31 + 7;
    }

    /** What happened over all seeds: the exploration must have reached what it claims to test. */
    static final class Totals {
        long fastCalls, fastReplyRecvs, handshakePreemptions, restarted, timedOut, kills;
    }

    @Test
    void fastAndSlowPathsRacingKillsAndRestartsLoseNothing() {
        String only = System.getProperty("isola.explore.seed");
        long first = only != null ? Long.parseLong(only) : 1;
        long last = only != null ? first : SEEDS;
        Totals totals = new Totals();
        for (long seed = first; seed <= last; seed++) {
            try {
                explore(seed, totals);
            } catch (AssertionError | RuntimeException e) {
                System.err.println("exploration failed at seed " + seed + "; rerun it with -Disola.explore.seed=" + seed);
                throw new AssertionError("seed " + seed + " (rerun with -Disola.explore.seed=" + seed + "): "
                        + e.getMessage(), e);
            }
        }
        if (only == null) {
            assertTrue(totals.fastCalls > 0, "no fast call");
            assertTrue(totals.fastReplyRecvs > 0, "no fast replyRecv");
            assertTrue(totals.handshakePreemptions > 0, "the arm/queue handshake was never interleaved");
            assertTrue(totals.kills > 0 && totals.restarted > 0, "no kill caught a call in flight");
            assertTrue(totals.timedOut > 0, "no call timed out");
        }
    }

    /** What one seed's run produced, for replay: the kernel trace, the schedule, the outcomes. */
    record Run(List<String> trace, List<String> schedule, List<String> outcomes, long endTime) {}

    /** One seed: builds the system, runs it, checks the invariants. */
    static Run explore(long seed, Totals totals) {
        KernelRig rig = KernelRig.simulated(CONFIG, seed);
        try {
            return run(rig, seed, totals);
        } finally {
            rig.close();
        }
    }

    private static Run run(KernelRig rig, long seed, Totals totals) {
        Kernel k = rig.k;
        Random plan = new Random(seed * 0x9E3779B97F4A7C15L); // the workload; the machine's seed picks the interleaving
        int serverThreads = 1 + plan.nextInt(2);
        int restarts = plan.nextInt(3);
        Mode[][] modes = new Mode[CLIENTS][MESSAGES];
        long[][] timeouts = new long[CLIENTS][MESSAGES];
        int fastCallsPlanned = 0;
        for (int c = 0; c < CLIENTS; c++) {
            for (int i = 0; i < MESSAGES; i++) {
                modes[c][i] = Mode.values()[plan.nextInt(Mode.values().length)];
                timeouts[c][i] = 1_000 + plan.nextInt(4_000);
                fastCallsPlanned += modes[c][i] == Mode.FAST_CALL ? 1 : 0;
            }
        }
        long[] killAfter = new long[restarts];
        long[] downFor = new long[restarts];
        for (int r = 0; r < restarts; r++) {
            killAfter[r] = 2_000 + plan.nextInt(10_000);
            downFor[r] = plan.nextInt(3) * 1_500L;
        }

        Domain init = rig.domain("init");
        Endpoint service = rig.endpoint(init, EP);
        rig.notification(init, SLEEP);
        rig.notification(init, DONE);
        AtomicIntegerArray seen = new AtomicIntegerArray(CLIENTS * MESSAGES);
        int[][] status = new int[CLIENTS][MESSAGES];
        int[] incarnations = {0};
        java.util.concurrent.atomic.AtomicLong replyRecvs = new java.util.concurrent.atomic.AtomicLong();

        // A server incarnation: its threads answer calls and take one-way messages until killed.
        java.util.function.Supplier<Domain> incarnation = () -> {
            Domain d = rig.domain("srv-" + incarnations[0]++);
            rig.grant(init, EP, d, EP, Rights.RECV, 0);
            rig.notification(d, SLEEP);
            k.rebindEndpoint(service, d);
            for (int s = 0; s < serverThreads; s++) {
                rig.spawn(d, "server" + s, 10, t -> {
                    long reply = 0;
                    for (int n = 0; ; n++) {
                        replyRecvs.incrementAndGet();
                        int st = k.replyRecv(t, EP, reply, Kernel.FOREVER);
                        if (st == E_KILLED) {
                            return;
                        }
                        assertEquals(OK, st, "server receive");
                        int client = (int) badge(t);
                        int seq = (int) mr(t, 1);
                        assertTrue(client >= 0 && client < CLIENTS && seq >= 0 && seq < MESSAGES,
                                "a message from nowhere: client " + client + " seq " + seq);
                        assertEquals(payload(client, seq), mr(t, 0), "payload of client " + client + " seq " + seq);
                        assertEquals(1, seen.incrementAndGet(client * MESSAGES + seq),
                                "client " + client + " message " + seq + " served twice");
                        boolean call = Tag.label(Utcb.tag(t.utcb())) == CALL;
                        if (n % 4 == 3 && k.await(t, SLEEP, 1_500) == E_KILLED) {
                            return; // a slow request: callers queue meanwhile
                        }
                        setMr(t, 0, answer(payload(client, seq)));
                        reply = call ? Tag.of(0, 1) : 0;
                    }
                });
            }
            return d;
        };
        Domain[] current = {incarnation.get()};

        rig.spawn(init, "supervisor", 20, t -> {
            for (int r = 0; r < restarts; r++) {
                rig.sleep(t, SLEEP, killAfter[r]);
                k.killForRestart(current[0]);
                if (downFor[r] > 0) {
                    rig.sleep(t, SLEEP, downFor[r]);
                }
                current[0] = incarnation.get();
            }
            long done = 0;
            while (done != (1L << CLIENTS) - 1) {
                assertEquals(OK, k.await(t, DONE, Kernel.FOREVER));
                done |= badge(t);
            }
            k.killDomainNow(current[0]); // its threads unwind: nothing is left waiting
        });
        for (int c = 0; c < CLIENTS; c++) {
            int id = c;
            Domain d = rig.domain("c" + c);
            rig.grant(init, EP, d, EP, Rights.SEND, id);
            rig.grant(init, DONE, d, DONE, Rights.SEND, 1L << id);
            rig.spawn(d, "client" + c, 5, t -> {
                for (int i = 0; i < MESSAGES; i++) {
                    setMr(t, 0, payload(id, i));
                    setMr(t, 1, i);
                    long callTag = Tag.of(CALL, 2);
                    int st = switch (modes[id][i]) {
                        case FAST_CALL -> k.call(t, EP, callTag, Kernel.FOREVER);
                        case SLOW_CALL -> k.call(t, EP, callTag, SLOW_TIMEOUT);
                        case SHORT_CALL -> k.call(t, EP, callTag, timeouts[id][i]);
                        case SEND -> k.send(t, EP, Tag.of(ONE_WAY, 2), Kernel.FOREVER);
                    };
                    status[id][i] = st;
                    if (st == OK && modes[id][i] != Mode.SEND) {
                        assertEquals(answer(payload(id, i)), mr(t, 0), "client " + id + " call " + i + "'s answer");
                    }
                }
                assertEquals(OK, k.signal(t, DONE));
            });
        }

        int left = rig.sim().run();
        rig.check();
        assertEquals(0, left, "threads waiting forever: " + rig.sim().unfinished());

        int restarted = 0;
        List<String> outcomes = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            for (int i = 0; i < MESSAGES; i++) {
                int st = status[c][i];
                int n = seen.get(c * MESSAGES + i);
                String what = "client " + c + " message " + i + " (" + modes[c][i] + ") " + Status.name(st);
                outcomes.add(what + " seen " + n);
                switch (modes[c][i]) {
                    case FAST_CALL, SLOW_CALL -> assertTrue(st == OK || st == E_RESTARTED, what);
                    case SHORT_CALL -> assertTrue(st == OK || st == E_RESTARTED || st == E_TIMEOUT, what);
                    case SEND -> assertEquals(OK, st, what);
                }
                // Answered, accepted or failed by a kill: a server took it, once.
                if (st == OK || st == E_RESTARTED) {
                    assertEquals(1, n, what + " reached a server " + n + " times");
                }
                restarted += st == E_RESTARTED ? 1 : 0;
                totals.timedOut += st == E_TIMEOUT ? 1 : 0;
            }
        }
        // A kill fails at most the call each server thread was serving.
        assertTrue(restarted <= restarts * serverThreads, restarted + " calls failed by " + restarts + " kills");
        totals.restarted += restarted;
        totals.kills += restarts;
        assertEquals(0, k.trace().dropped(), "the trace overflowed: the counts below need all of it");
        totals.fastCalls += fastCallsPlanned - (slowEntries(k, "call") - (calls(modes, Mode.SLOW_CALL) + calls(modes, Mode.SHORT_CALL)));
        totals.fastReplyRecvs += replyRecvs.get() - slowEntries(k, "replyRecv");
        List<String> schedule = rig.sim().schedule();
        totals.handshakePreemptions += schedule.stream().filter(s -> s.startsWith("preempt ")).count();
        return new Run(k.trace().lines(), schedule, outcomes, rig.now());
    }

    /** Slow-path entries of system call {@code op} in the trace (the fast paths record none). */
    static long slowEntries(Kernel k, String op) {
        String infix = " " + op + " ";
        return k.trace().lines().stream().filter(l -> l.contains(" syscall ") && l.contains(infix)).count();
    }

    static int calls(Mode[][] modes, Mode mode) {
        int n = 0;
        for (Mode[] ms : modes) {
            for (Mode m : ms) {
                n += m == mode ? 1 : 0;
            }
        }
        return n;
    }
}
