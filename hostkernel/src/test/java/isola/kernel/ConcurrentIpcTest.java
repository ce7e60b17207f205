package isola.kernel;

import static isola.kernel.KernelRig.badge;
import static isola.kernel.KernelRig.mr;
import static isola.kernel.KernelRig.setMr;
import static isola.kernel.KernelRig.tag;
import static isola.kernel.Status.*;
import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The lock-free fast paths on the concurrent machine, under load: many clients calling one
 * active server with one or two server threads, fast-path calls mixed with slow-path calls
 * (timeouts) and one-way sends, passive calls, and the server domain killed mid-traffic. Every
 * message is checked end to end: who sent it, its sequence number, its payload, its reply.
 */
class ConcurrentIpcTest {
    static final int EP = 0;
    static final int CLIENTS = 4;
    static final int CALLS = 20_000;
    static final int CALL = 1;
    static final int ONE_WAY = 2;
    static final long SLOW_TIMEOUT = 30_000_000_000L; // never expires here: only forces the slow path
    static final Duration HANG_GUARD = Duration.ofSeconds(60);

    KernelRig rig;

    @AfterEach
    void tearDown() {
        if (rig != null) {
            rig.close();
        }
    }

    static long payload(int client, long seq) {
        return seq * 7919 + client * 104729L + 1;
    }

    static long answer(long v) {
        return v * 31 + 7;
    }

    /** How a client sends its {@code seq}th message. */
    enum Mode {
        FAST, // call, no timeout: the lock-free fast path
        SLOW, // call with a timeout: the locked path
        MIXED // calls of both kinds and one-way sends
    }

    /** A system: one server domain with {@code serverThreads} threads, one domain per client. */
    final class Echo {
        final Domain srv;
        final Endpoint ep;
        final Domain[] clients = new Domain[CLIENTS];
        /** How many times each (client, seq) message reached a server thread. */
        final AtomicIntegerArray seen = new AtomicIntegerArray(CLIENTS * CALLS);
        /**
         * With {@link #ordered}: the seq each client's next message must have. Such clients only
         * call, one call at a time, so their messages reach the server in order, each once, with
         * no bound on seq (the check needs no reset, unlike {@link #seen}).
         */
        final AtomicLongArray nextSeq = new AtomicLongArray(CLIENTS);
        final boolean ordered;
        final ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
        final AtomicLong served = new AtomicLong();
        final List<Tcb> serverThreads = new ArrayList<>();

        Echo(int serverThreads) {
            this(serverThreads, false);
        }

        Echo(int serverThreads, boolean ordered) {
            this.ordered = ordered;
            Kernel k = rig.k;
            srv = rig.domain("srv");
            ep = rig.servedEndpoint(srv, EP);
            for (int c = 0; c < CLIENTS; c++) {
                clients[c] = rig.domain("cli" + c);
                rig.grant(srv, EP, clients[c], EP, Rights.SEND, 1000 + c);
            }
            for (int s = 0; s < serverThreads; s++) {
                int sid = s;
                this.serverThreads.add(rig.spawn(srv, "server" + s, 10, t -> serve(t, sid)));
            }
        }

        void serve(Tcb t, int sid) {
            Kernel k = rig.k;
            long reply = 0;
            while (k.replyRecv(t, EP, reply, Kernel.FOREVER) == OK) {
                served.incrementAndGet();
                long tg = tag(t);
                int id = (int) mr(t, 0);
                long seq = mr(t, 1);
                long v = mr(t, 2);
                if (id < 0 || id >= CLIENTS || seq < 0 || (!ordered && seq >= CALLS)) {
                    errors.add("server" + sid + ": bad message id " + id + " seq " + seq);
                    reply = Tag.of(99, 0);
                    continue;
                }
                if (badge(t) != 1000 + id) {
                    errors.add("server" + sid + ": badge " + badge(t) + " for client " + id);
                }
                if (Tag.length(tg) != 3) {
                    errors.add("server" + sid + ": length " + Tag.length(tg));
                }
                if (v != payload(id, seq)) {
                    errors.add("server" + sid + ": payload of " + id + "/" + seq + " is " + v);
                }
                if (ordered) {
                    long want = nextSeq.get(id);
                    if (!nextSeq.compareAndSet(id, seq, seq + 1)) {
                        errors.add("server" + sid + ": " + id + "/" + seq + (seq < want ? " delivered again" : " delivered")
                                + " when " + id + "/" + want + " was due");
                    }
                } else {
                    int times = seen.incrementAndGet(id * CALLS + (int) seq);
                    if (times != 1) {
                        errors.add("server" + sid + ": " + id + "/" + seq + " delivered " + times + " times");
                    }
                }
                boolean call = Tag.label(tg) == CALL;
                boolean bound = t.reply.caller() != null;
                // (a kill unbinds the caller it fails, and marks the domain dead first)
                if (bound != call && (bound || srv.state() == Domain.RUNNING)) {
                    errors.add("server" + sid + ": label " + Tag.label(tg) + " but caller bound: " + bound);
                }
                setMr(t, 2, answer(v));
                setMr(t, 3, sid);
                reply = Tag.of(CALL, 4);
            }
        }

        /** A client's loop; returns normally after all its messages went through. */
        void client(Tcb t, int id, Mode mode) {
            Kernel k = rig.k;
            for (int seq = 0; seq < CALLS; seq++) {
                long v = payload(id, seq);
                setMr(t, 0, id);
                setMr(t, 1, seq);
                setMr(t, 2, v);
                setMr(t, 3, -1);
                int kind = switch (mode) {
                    case FAST -> 0;
                    case SLOW -> 1;
                    case MIXED -> seq % 3;
                };
                if (kind == 2) {
                    int r = k.send(t, EP, Tag.of(ONE_WAY, 3), Kernel.FOREVER);
                    assertEquals(OK, r, "client " + id + " send " + seq);
                    continue;
                }
                int r = k.call(t, EP, Tag.of(CALL, 3), kind == 0 ? Kernel.FOREVER : SLOW_TIMEOUT);
                assertEquals(OK, r, "client " + id + " call " + seq);
                long tg = tag(t);
                assertEquals(CALL, Tag.label(tg), "reply label, client " + id + " call " + seq);
                assertEquals(4, Tag.length(tg));
                assertEquals(id, mr(t, 0), "reply for another client, client " + id + " call " + seq);
                assertEquals(seq, mr(t, 1), "reply for another call, client " + id + " call " + seq);
                assertEquals(answer(v), mr(t, 2), "reply payload, client " + id + " call " + seq);
                assertTrue(mr(t, 3) >= 0, "reply came from a server thread");
                assertEquals(0, badge(t));
            }
        }

        void runClients(Mode[] modes) throws InterruptedException {
            List<Thread> threads = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                int id = c;
                Tcb t = rig.spawn(clients[c], "client" + c, 10, self -> client(self, id, modes[id]));
                threads.add((Thread) t.runner);
            }
            for (Thread jt : threads) {
                jt.join();
            }
            rig.check();
            assertEachSeenOnce();
            assertTrue(errors.isEmpty(), () -> "server saw: " + errors.stream().limit(10).toList());
            assertEquals((long) CLIENTS * CALLS, served.get());
        }

        /**
         * Every client message reached a server thread exactly once. A one-way send returns once
         * the message is handed to a server thread, which may not have run yet when the clients
         * end, so this waits (bounded) for the last ones before it counts.
         */
        void assertEachSeenOnce() throws InterruptedException {
            long deadline = System.nanoTime() + 10_000_000_000L;
            for (int i = 0; i < seen.length(); i++) {
                while (seen.get(i) == 0 && System.nanoTime() < deadline) {
                    Thread.sleep(1);
                }
                assertEquals(1, seen.get(i), "client " + i / CALLS + " message " + i % CALLS);
            }
        }

        void shutDown() throws InterruptedException {
            rig.k.killDomainNow(srv);
            assertTrue(rig.machine.awaitRunners(30_000), "server threads did not end after the kill");
            assertEquals(0, srv.threadCount());
        }
    }

    @ParameterizedTest(name = "{0} server thread(s)")
    @ValueSource(ints = {1, 2})
    void manyClientsFastPath(int serverThreads) {
        rig = KernelRig.concurrent();
        assertTimeoutPreemptively(HANG_GUARD, () -> {
            Echo e = new Echo(serverThreads);
            e.runClients(new Mode[] {Mode.FAST, Mode.FAST, Mode.FAST, Mode.FAST});
            e.shutDown();
        });
    }

    /** Fast-path calls, slow-path calls and one-way sends from different clients at once. */
    @ParameterizedTest(name = "{0} server thread(s)")
    @ValueSource(ints = {1, 2})
    void fastAndSlowPathsMixed(int serverThreads) {
        rig = KernelRig.concurrent();
        assertTimeoutPreemptively(HANG_GUARD, () -> {
            Echo e = new Echo(serverThreads);
            e.runClients(new Mode[] {Mode.FAST, Mode.SLOW, Mode.MIXED, Mode.FAST});
            e.shutDown();
        });
    }

    /**
     * Calls with timeouts so short that replies and timeouts race: each call ends exactly once,
     * either OK with its own reply or E_TIMEOUT, and a reply that lost the race never reaches
     * the caller's registers or a later call.
     */
    @Test
    void repliesRaceTimeouts() {
        rig = KernelRig.concurrent();
        assertTimeoutPreemptively(HANG_GUARD, () -> {
            Kernel k = rig.k;
            Domain srv = rig.domain("srv");
            Endpoint ep = rig.servedEndpoint(srv, EP);
            for (int s = 0; s < 2; s++) {
                rig.spawn(srv, "server" + s, 10, t -> {
                    long reply = 0;
                    while (k.replyRecv(t, EP, reply, Kernel.FOREVER) == OK) {
                        long spin = mr(t, 1) % 7 * 5_000; // 0..30 µs of work
                        long until = System.nanoTime() + spin;
                        while (System.nanoTime() < until) {
                            Thread.onSpinWait();
                        }
                        setMr(t, 2, answer(mr(t, 2)));
                        reply = Tag.of(CALL, 3);
                    }
                });
            }
            int clients = 3;
            int calls = 5_000;
            AtomicLong oks = new AtomicLong();
            AtomicLong timeouts = new AtomicLong();
            List<Thread> threads = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                int id = c;
                Domain d = rig.domain("cli" + c);
                rig.grant(srv, EP, d, EP, Rights.SEND, 0);
                Tcb t = rig.spawn(d, "client" + c, 10, self -> {
                    for (int seq = 0; seq < calls; seq++) {
                        setMr(self, 0, id);
                        setMr(self, 1, seq);
                        setMr(self, 2, payload(id, seq));
                        int r = k.call(self, EP, Tag.of(CALL, 3), 1_000 + (seq % 5) * 10_000L);
                        if (r == OK) {
                            oks.incrementAndGet();
                            assertEquals(id, mr(self, 0), "call " + seq);
                            assertEquals(seq, mr(self, 1), "reply of another call, call " + seq);
                            assertEquals(answer(payload(id, seq)), mr(self, 2), "call " + seq);
                        } else {
                            assertEquals(E_TIMEOUT, r, "call " + seq);
                            timeouts.incrementAndGet();
                            assertEquals(seq, mr(self, 1), "a late reply reached the registers, call " + seq);
                            assertEquals(payload(id, seq), mr(self, 2), "call " + seq);
                        }
                    }
                });
                threads.add((Thread) t.runner);
            }
            for (Thread jt : threads) {
                jt.join();
            }
            rig.check();
            assertEquals((long) clients * calls, oks.get() + timeouts.get());
            k.killDomainNow(srv);
            assertTrue(rig.machine.awaitRunners(30_000));
        });
    }

    /**
     * Killing one client domain mid-traffic: its clients unwind with E_KILLED, replies to them
     * are dropped, and the server and the other clients carry on to the end undisturbed.
     */
    @Test
    void killClientDomainDuringTraffic() {
        rig = KernelRig.concurrent();
        assertTimeoutPreemptively(HANG_GUARD, () -> {
            Kernel k = rig.k;
            Echo e = new Echo(2);
            Domain victims = rig.domain("victims");
            rig.grant(e.srv, EP, victims, EP, Rights.SEND, 1000 + CLIENTS);
            AtomicLong victimCalls = new AtomicLong();
            int[] ended = {99, 99};
            for (int v = 0; v < 2; v++) {
                int idx = v;
                rig.spawn(victims, "victim" + v, 10, t -> {
                    for (;;) {
                        setMr(t, 0, -1); // the server flags it and answers anyway
                        int r = k.call(t, EP, Tag.of(CALL, 3), idx == 0 ? Kernel.FOREVER : SLOW_TIMEOUT);
                        if (r != OK) {
                            ended[idx] = r;
                            return;
                        }
                        victimCalls.incrementAndGet();
                    }
                });
            }
            List<Thread> threads = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                int id = c;
                Tcb t = rig.spawn(e.clients[c], "client" + c, 10, self -> e.client(self, id, Mode.MIXED));
                threads.add((Thread) t.runner);
            }
            while (victimCalls.get() < 2_000) {
                Thread.sleep(1);
            }
            k.killDomainNow(victims);
            for (Thread jt : threads) {
                jt.join();
            }
            rig.check();
            assertEquals(E_KILLED, ended[0]);
            assertEquals(E_KILLED, ended[1]);
            assertEquals(0, victims.threadCount());
            e.assertEachSeenOnce();
            // the server flagged every victim message as bad: count them out, then check the rest
            e.errors.removeIf(m -> m.contains("bad message id -1"));
            assertTrue(e.errors.isEmpty(), () -> "server saw: " + e.errors.stream().limit(10).toList());
            assertEquals(Domain.RUNNING, e.srv.state());
            e.shutDown();
        });
    }

    /**
     * Fast calls answered half through a saved reply capability, half through the implicit
     * reply: saving moves the caller's binding out of the thread's UTCB into the saved reply,
     * and the thread's fresh implicit reply starts unbound, under concurrent fast callers.
     */
    @Test
    void savedAndImplicitRepliesUnderFastCalls() {
        rig = KernelRig.concurrent();
        assertTimeoutPreemptively(HANG_GUARD, () -> {
            Kernel k = rig.k;
            Domain srv = rig.domain("srv");
            Endpoint ep = rig.servedEndpoint(srv, EP);
            int saved = 5;
            AtomicLong viaSaved = new AtomicLong();
            rig.spawn(srv, "server", 10, t -> {
                long reply = 0;
                for (long n = 0; ; n++) {
                    if (k.replyRecv(t, EP, reply, Kernel.FOREVER) != OK) {
                        return;
                    }
                    setMr(t, 2, answer(mr(t, 2)) + badge(t));
                    if (n % 2 == 0) {
                        assertEquals(OK, k.saveReply(t, saved));
                        assertEquals(E_NO_REPLY, k.reply(t, Tag.of(CALL, 3)), "the fresh implicit reply is unbound");
                        assertEquals(OK, k.replyTo(t, saved, Tag.of(CALL, 3)));
                        viaSaved.incrementAndGet();
                        reply = 0;
                    } else {
                        reply = Tag.of(CALL, 3);
                    }
                }
            });
            callFromClients(srv, CALLS / 4);
            assertTrue(viaSaved.get() >= (long) CLIENTS * CALLS / 4 / 2, viaSaved + " answered through a saved reply");
        });
    }

    /**
     * {@link #CLIENTS} client domains, each with a SEND capability (badge 1000 + client) to the
     * endpoint in {@code server}'s slot {@link #EP}, call it {@code callsEach} times with a
     * payload the server answers; each reply is checked, and the caller stays in its own domain.
     * Returns once every client is done.
     */
    private void callFromClients(Domain server, int callsEach) throws InterruptedException {
        Kernel k = rig.k;
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            int id = c;
            Domain d = rig.domain("cli" + c);
            rig.grant(server, EP, d, EP, Rights.SEND, 1000 + c);
            Tcb t = rig.spawn(d, "client" + c, 10, self -> {
                for (int seq = 0; seq < callsEach; seq++) {
                    setMr(self, 0, id);
                    setMr(self, 1, seq);
                    setMr(self, 2, payload(id, seq));
                    assertEquals(OK, k.call(self, EP, Tag.of(CALL, 3), Kernel.FOREVER));
                    assertEquals(id, mr(self, 0));
                    assertEquals(seq, mr(self, 1));
                    assertEquals(answer(payload(id, seq)) + 1000 + id, mr(self, 2));
                    assertSame(d, self.currentDomain());
                }
            });
            threads.add((Thread) t.runner);
        }
        for (Thread jt : threads) {
            jt.join();
        }
        rig.check();
    }

    /** Many clients calling a passive server at once: each call runs on its own thread. */
    @Test
    void passiveServerUnderLoad() {
        rig = KernelRig.concurrent();
        assertTimeoutPreemptively(HANG_GUARD, () -> {
            Kernel k = rig.k;
            Domain p = rig.domain("passive");
            Endpoint ep = rig.endpoint(p, EP);
            AtomicLong calls = new AtomicLong();
            k.bindPassive(ep, p, caller -> {
                calls.incrementAndGet();
                if (caller.currentDomain() != p) {
                    throw new IllegalStateException("handler outside its domain");
                }
                Utcb.setMr(caller.utcb(), 2, answer(Utcb.mr(caller.utcb(), 2)) + Utcb.badge(caller.utcb()));
                return Tag.of(CALL, 3);
            });
            callFromClients(p, CALLS);
            assertEquals((long) CLIENTS * CALLS, calls.get());
            assertEquals(Domain.RUNNING, p.state());
        });
    }

    /**
     * The server domain is killed while clients call it on fast and slow paths: every client
     * stops promptly with E_DEAD_DOMAIN, none hangs, every server thread ends, and nothing
     * delivered before the kill was answered wrongly. Repeated, since the kill races the
     * lock-free paths: a fast call can claim a server thread after the kill, whose exit must
     * then fail that caller with E_DEAD_DOMAIN too (it said E_DELETED). Each client's calls must
     * reach the server in order, each once. {@code -Disola.ipc.rounds=N} runs N rounds instead of
     * {@link #ROUNDS}, to look for rare interleavings.
     */
    @ParameterizedTest(name = "{0} server thread(s)")
    @ValueSource(ints = {1, 2})
    void killServerDuringTraffic(int serverThreads) {
        int rounds = Integer.getInteger("isola.ipc.rounds", ROUNDS);
        for (int round = 0; round < rounds; round++) {
            int r = round % ROUNDS;
            rig = KernelRig.concurrent();
            assertTimeoutPreemptively(HANG_GUARD, () -> killRound(serverThreads, r), "round " + r);
            rig.close();
            rig = null;
        }
    }

    /** Rounds of the kill test; each round's calls before the kill grow with it. */
    static final int ROUNDS = 20;

    private void killRound(int serverThreads, int round) throws InterruptedException {
        Kernel k = rig.k;
        Echo e = new Echo(serverThreads, true);
        int[] ended = new int[CLIENTS];
        long[] done = new long[CLIENTS];
        AtomicLong total = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            int id = c;
            Tcb t = rig.spawn(e.clients[c], "client" + c, 10, self -> {
                for (long seq = 0; ; seq++) {
                    long v = payload(id, seq);
                    setMr(self, 0, id);
                    setMr(self, 1, seq);
                    setMr(self, 2, v);
                    long timeout = (id + round) % 2 == 0 ? Kernel.FOREVER : SLOW_TIMEOUT;
                    int r = k.call(self, EP, Tag.of(CALL, 3), timeout);
                    if (r != OK) {
                        ended[id] = r;
                        done[id] = seq;
                        return;
                    }
                    assertEquals(id, mr(self, 0));
                    assertEquals(seq, mr(self, 1));
                    assertEquals(answer(v), mr(self, 2));
                    total.incrementAndGet();
                }
            });
            threads.add((Thread) t.runner);
        }
        long target = 200 + 300L * round;
        while (total.get() < target) {
            Thread.sleep(1);
        }
        k.killDomainNow(e.srv);
        for (Thread jt : threads) {
            jt.join();
        }
        rig.check();
        assertTrue(e.errors.isEmpty(), () -> "server saw: " + e.errors.stream().limit(10).toList());
        for (int c = 0; c < CLIENTS; c++) {
            int st = ended[c];
            assertEquals(E_DEAD_DOMAIN, st, "client " + c + " ended with " + Status.name(st));
        }
        assertTrue(rig.machine.awaitRunners(30_000), "server threads did not end after the kill");
        assertEquals(0, e.srv.threadCount());
        assertEquals(Domain.DEAD, e.srv.state());
    }

    /**
     * A thread's last kernel entry (its exit) returns its Tcb to the pool, and once the entry
     * releases the lock a new thread can be given that Tcb and wait on its wake word, as seen
     * when a restart's new server threads were created while the old ones exited: the exiting
     * thread then found the wake word armed, waited on it, and died with "kernel thread ... is
     * run by" another JVM thread. Here the Tcb is left as that race leaves it, dead to the exiting
     * thread and armed by its next user (another JVM thread): leaving must not touch it.
     */
    @Test
    void anExitingThreadLeavesItsReusedTcbAlone() {
        rig = KernelRig.concurrent();
        Tcb t = rig.thread(rig.domain("d"), "exiting", 10);
        Thread nextUser = new Thread(() -> { });
        t.runner = nextUser;
        t.state = Tcb.DEAD;
        long gen = Utcb.arm(t.utcb(), Utcb.WAIT_RECV, 0);
        rig.machine.enter(t);
        rig.machine.leave(t);
        long w = Utcb.wakeWord(t.utcb());
        assertEquals(gen, w >>> Utcb.GEN_SHIFT, "the next user's wait is as it armed it");
        assertFalse(Utcb.isWoken(w) || Utcb.isClaimed(w) || (w & Utcb.PARKED) != 0, Long.toHexString(w));
    }

    // ---- restarts under traffic ----------------------------------------------------------

    /** The most calls a client makes in one restart round, and the most attempts of one call. */
    static final int RESTART_CALLS = 50_000;
    static final int MAX_ATTEMPTS = 16;
    static final int RESTART_ROUNDS = 4;

    /**
     * The server is restarted again and again under traffic, as the supervisor does it
     * ({@code killForRestart}, a fresh domain rebound to the same endpoint, new threads), while
     * clients call on the fast and the slow path and retry a call that failed with E_RESTARTED,
     * as {@code Sys.callRetrying} does: each retry is a new attempt, numbered in the message.
     * The kernel's guarantee, checked for every attempt once all threads have settled: it was
     * delivered to a server thread at most once; it was delivered if its caller got OK or
     * E_RESTARTED; an attempt never made was never delivered (so a call that was queued while
     * the server was down reached the next incarnation once, and nothing was re-sent by the
     * kernel). Restart times come from a seeded random source ({@code -Disola.seed=N} repeats
     * a seed's choices; thread timing still varies); {@code -Disola.ipc.rounds=N} runs N rounds.
     */
    @ParameterizedTest(name = "{0} server thread(s)")
    @ValueSource(ints = {1, 2})
    void restartServerDuringTraffic(int serverThreads) {
        long seed = Long.getLong("isola.seed", 17L);
        int rounds = Integer.getInteger("isola.ipc.rounds", RESTART_ROUNDS);
        // A kernel thread that dies of an exception (the machine's, not its body's: the body's
        // are faults) would otherwise only print to stderr.
        ConcurrentLinkedQueue<String> died = new ConcurrentLinkedQueue<>();
        Thread.UncaughtExceptionHandler before = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((jt, ex) -> died.add(jt.getName() + ": " + ex));
        try {
            for (int round = 0; round < rounds; round++) {
                long s = seed * 1_000 + round;
                rig = KernelRig.concurrent();
                assertTimeoutPreemptively(HANG_GUARD, () -> restartRound(serverThreads, s), "seed " + s);
                rig.close();
                rig = null;
                assertTrue(died.isEmpty(), () -> "seed " + s + ": kernel threads died: " + died);
            }
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(before);
        }
    }

    private void restartRound(int serverThreads, long seed) throws InterruptedException {
        Kernel k = rig.k;
        Random random = new Random(seed);
        Domain owner = rig.domain("init");
        Endpoint ep = rig.endpoint(owner, EP);
        Domain[] clients = new Domain[CLIENTS];
        for (int c = 0; c < CLIENTS; c++) {
            clients[c] = rig.domain("cli" + c);
            rig.grant(owner, EP, clients[c], EP, Rights.SEND, 1000 + c);
        }
        // Per (client, seq): the attempts a server thread received, as bits; the attempts that
        // failed with E_RESTARTED, as bits; and 1 + the attempt that was answered (0: none yet).
        AtomicIntegerArray delivered = new AtomicIntegerArray(CLIENTS * RESTART_CALLS);
        AtomicIntegerArray restarted = new AtomicIntegerArray(CLIENTS * RESTART_CALLS);
        AtomicIntegerArray answered = new AtomicIntegerArray(CLIENTS * RESTART_CALLS);
        int[] sent = new int[CLIENTS];
        ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
        AtomicLong total = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();

        IntFunction<Domain> incarnation = n -> {
            Domain d = rig.domain("srv" + n);
            rig.grant(owner, EP, d, EP, Rights.RECV, 0);
            k.rebindEndpoint(ep, d);
            for (int s = 0; s < serverThreads; s++) {
                rig.spawn(d, "server" + s, 10, t -> {
                    long reply = 0;
                    while (k.replyRecv(t, EP, reply, Kernel.FOREVER) == OK) {
                        int id = (int) mr(t, 0);
                        long seq = mr(t, 1);
                        int attempt = (int) mr(t, 2);
                        if (id < 0 || id >= CLIENTS || seq < 0 || seq >= RESTART_CALLS || attempt < 0
                                || attempt >= MAX_ATTEMPTS || badge(t) != 1000 + id || mr(t, 3) != payload(id, seq)) {
                            errors.add("srv" + n + ": bad message " + id + "/" + seq + "/" + attempt + " badge " + badge(t));
                            reply = Tag.of(99, 0);
                            continue;
                        }
                        int bit = 1 << attempt;
                        int before = delivered.getAndAccumulate(id * RESTART_CALLS + (int) seq, bit, (a, b) -> a | b);
                        if ((before & bit) != 0) {
                            errors.add("srv" + n + ": " + id + "/" + seq + " attempt " + attempt + " delivered twice");
                        }
                        setMr(t, 3, answer(mr(t, 3)));
                        reply = Tag.of(CALL, 4);
                    }
                });
            }
            return d;
        };

        Domain current = incarnation.apply(0);
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            int id = c;
            long timeout = random.nextBoolean() ? Kernel.FOREVER : SLOW_TIMEOUT;
            Tcb t = rig.spawn(clients[c], "client" + c, 10, self -> {
                for (int seq = 0; seq < RESTART_CALLS && !stop.get(); seq++) {
                    int i = id * RESTART_CALLS + seq;
                    sent[id] = seq + 1;
                    for (int attempt = 0; ; attempt++) {
                        assertTrue(attempt < MAX_ATTEMPTS, "client " + id + " call " + seq + ": too many restarts");
                        setMr(self, 0, id);
                        setMr(self, 1, seq);
                        setMr(self, 2, attempt);
                        setMr(self, 3, payload(id, seq));
                        int r = k.call(self, EP, Tag.of(CALL, 4), timeout);
                        if (r == E_RESTARTED) {
                            restarted.getAndAccumulate(i, 1 << attempt, (a, b) -> a | b);
                            continue;
                        }
                        assertEquals(OK, r, "client " + id + " call " + seq + " attempt " + attempt);
                        assertEquals(id, mr(self, 0));
                        assertEquals(seq, mr(self, 1), "reply for another call, client " + id);
                        assertEquals(attempt, mr(self, 2), "reply for another attempt, client " + id + " call " + seq);
                        assertEquals(answer(payload(id, seq)), mr(self, 3));
                        answered.set(i, attempt + 1);
                        total.incrementAndGet();
                        break;
                    }
                }
            });
            threads.add((Thread) t.runner);
        }
        int restarts = 3 + random.nextInt(6);
        for (int n = 1; n <= restarts; n++) {
            long target = total.get() + 50 + random.nextInt(1_500);
            while (total.get() < target && threads.stream().anyMatch(Thread::isAlive)) {
                Thread.sleep(1);
            }
            k.killForRestart(current);
            if (random.nextBoolean()) {
                Thread.sleep(random.nextInt(3)); // down a while: calls queue for the next incarnation
            }
            current = incarnation.apply(n);
        }
        stop.set(true);
        for (Thread jt : threads) {
            jt.join();
        }
        k.killDomainNow(current);
        assertTrue(rig.machine.awaitRunners(30_000), "server threads did not end");
        rig.check();
        assertTrue(errors.isEmpty(), () -> "seed " + seed + ": " + errors.stream().limit(10).toList());
        for (int c = 0; c < CLIENTS; c++) {
            for (int seq = 0; seq < sent[c]; seq++) {
                int i = c * RESTART_CALLS + seq;
                int a = answered.get(i);
                assertTrue(a > 0, "seed " + seed + ": client " + c + " call " + seq + " was not answered");
                int expected = restarted.get(i) | 1 << (a - 1);
                assertEquals(expected, delivered.get(i), "seed " + seed + ": client " + c + " call " + seq
                        + ": attempts delivered (bits) against attempts answered or failed with E_RESTARTED");
            }
        }
    }
}
