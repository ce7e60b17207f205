package isola.kernel;

import static org.junit.jupiter.api.Assertions.*;

import isola.kernel.machine.Machine;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The arm/queue handshake between a re-arming bound receiver ({@link FastPath#armToReceive})
 * and a sender queueing under the lock ({@link FastPath#claimBoundAfterQueueing}), on the real
 * code. The receiver's atomic steps are arm and re-check (split by {@link Machine#preempt});
 * the sender's are queue (set {@code hasSenders}) and claim. Whatever the order, exactly one
 * side must act on the other: the receiver withdraws (and receives on the slow path, finding
 * the queued sender), or the sender claims it (and hands it the queue's head). Neither: a lost
 * wake-up, both waiting. Both: a message delivered to a thread that is not waiting.
 *
 * <p>{@link #everyInterleavingOfTheStepsHasExactlyOneWinner} enumerates all six orders of the
 * four steps; {@link #racingOnTwoThreadsExactlyOneSideWinsEveryRound} runs the halves on two
 * JVM threads, where the hardware's store-load reordering could break a fence the enumeration
 * (sequentially consistent) cannot see.
 */
class HandshakeTest {
    /** Receiver/endpoint/sender triples a stress batch runs through, and how many batches. */
    static final int PAIRS = 1024;
    static final int BATCHES = 40;

    KernelRig rig;
    Endpoint[] eps = new Endpoint[PAIRS];
    Tcb[] receivers = new Tcb[PAIRS];
    Tcb[] senders = new Tcb[PAIRS];

    @BeforeEach
    void setUp() {
        // Only for its pools: nothing here runs on the machine.
        rig = new KernelRig(isola.kernel.machine.HostedMachine.deterministic(
                KernelConfig.DEFAULT.withPools(8, 2 * PAIRS + 8, PAIRS + 8, 8, 2 * PAIRS + 8)));
        Kernel k = rig.k;
        Domain srv = k.createDomain("srv", 8, 4 * PAIRS);
        Domain cli = k.createDomain("cli", 8, 4 * PAIRS);
        for (int j = 0; j < PAIRS; j++) {
            eps[j] = k.createEndpoint(srv);
            receivers[j] = k.createThread(srv, "receiver" + j, 10);
            senders[j] = k.createThread(cli, "sender" + j, 5);
            assertTrue(FastPath.bindFastReceiver(receivers[j], eps[j]));
        }
    }

    @AfterEach
    void tearDown() {
        rig.close();
    }

    /** The sender's first step: it joins the senders queue, as {@link IpcSlowPath#queueSender} does. */
    void queue(int j) {
        eps[j].senders.addByPriority(senders[j]);
        eps[j].sendersChanged();
    }

    /** The sender's second step; true if it claimed the receiver. */
    boolean claim(int j) {
        Tcb fr = FastPath.claimBoundAfterQueueing(eps[j]);
        assertTrue(fr == null || fr == receivers[j]);
        return fr != null;
    }

    boolean arm(int j, Machine m) {
        return FastPath.armToReceive(m, receivers[j], eps[j]);
    }

    /** Back to the start: nobody queued, the receiver not waiting. */
    void reset(int j) {
        Endpoint ep = eps[j];
        if (!ep.senders.isEmpty()) {
            ep.senders.remove(senders[j]);
            ep.sendersChanged();
        }
        var u = receivers[j].utcb();
        long w = Utcb.wakeWord(u);
        if (Utcb.isClaimed(w)) {
            Utcb.release(u); // what the claiming sender does once it has handed over the message
        } else if (!Utcb.isWoken(w)) {
            assertTrue(Utcb.withdraw(u));
        }
    }

    /** The same check for every order: the receiver waits if and only if the sender claimed it. */
    static void checkOneWinner(String order, boolean receiverWaits, boolean senderClaimed, long wake) {
        assertEquals(senderClaimed, receiverWaits, order + ": receiver "
                + (receiverWaits ? "waits" : "withdrew") + ", sender " + (senderClaimed ? "claimed it" : "did not"));
        if (senderClaimed) {
            assertTrue(Utcb.isClaimed(wake) && !Utcb.isWoken(wake), order + ": claimed, awaiting the message");
        } else {
            assertTrue(Utcb.isWoken(wake), order + ": withdrew");
        }
    }

    @Test
    void everyInterleavingOfTheStepsHasExactlyOneWinner() {
        // Where each sender step runs: 0 before the arm, 1 between arm and re-check, 2 after.
        List<String> orders = new ArrayList<>();
        for (int q = 0; q <= 2; q++) {
            for (int c = q; c <= 2; c++) {
                int queueAt = q;
                int claimAt = c;
                boolean[] claimed = new boolean[1];
                Runnable stepsAt1 = () -> {
                    if (queueAt == 1) {
                        queue(0);
                    }
                    if (claimAt == 1) {
                        claimed[0] = claim(0);
                    }
                };
                if (queueAt == 0) {
                    queue(0);
                }
                if (claimAt == 0) {
                    claimed[0] = claim(0);
                }
                boolean waits = arm(0, new PreemptHook(stepsAt1));
                if (queueAt == 2) {
                    queue(0);
                }
                if (claimAt == 2) {
                    claimed[0] = claim(0);
                }
                String order = "queue at " + queueAt + ", claim at " + claimAt;
                checkOneWinner(order, waits, claimed[0], Utcb.wakeWord(receivers[0].utcb()));
                orders.add(order);
                reset(0);
            }
        }
        assertEquals(6, orders.size(), "every order of arm < re-check and queue < claim");
    }

    @Test
    void withNoSenderTheReceiverStaysArmedForTheFastPath() {
        assertTrue(arm(0, new PreemptHook(() -> { })));
        var u = receivers[0].utcb();
        long w = Utcb.wakeWord(u);
        assertTrue(Utcb.isReceiving(w) && !Utcb.isClaimed(w), "armed to receive, unclaimed");
        assertTrue(Utcb.claimReceiver(u, eps[0].id, Utcb.WAIT_RECV_FAST), "a fast caller can claim it");
        Utcb.release(u);
    }

    /**
     * As jcstress runs a test: each side runs its half over {@link #PAIRS} independent triples,
     * the two sides in lockstep (neither starts triple j before the other has reached it), so
     * that their j-th steps overlap in time; then every triple is checked and reset, for
     * {@link #BATCHES} batches.
     */
    @Test
    void racingOnTwoThreadsExactlyOneSideWinsEveryRound() throws InterruptedException {
        PreemptHook none = new PreemptHook(() -> { });
        boolean[] waits = new boolean[PAIRS];
        boolean[] claimed = new boolean[PAIRS];
        Batches batches = new Batches();
        Thread r = Thread.ofPlatform().name("handshake-receiver").start(() -> batches.side(() -> {
            for (int j = 0; j < PAIRS; j++) {
                batches.lockstep(0, j);
                waits[j] = arm(j, none);
            }
        }));
        Thread s = Thread.ofPlatform().name("handshake-sender").start(() -> batches.side(() -> {
            for (int j = 0; j < PAIRS; j++) {
                batches.lockstep(1, j);
                queue(j);
                claimed[j] = claim(j);
            }
        }));
        long[] outcomes = new long[2]; // triples where the receiver withdrew, where the sender claimed
        try {
            for (int b = 1; b <= BATCHES; b++) {
                batches.runBatch(b);
                for (int j = 0; j < PAIRS; j++) {
                    checkOneWinner("batch " + b + " triple " + j, waits[j], claimed[j], Utcb.wakeWord(receivers[j].utcb()));
                    outcomes[claimed[j] ? 1 : 0]++;
                    reset(j);
                }
            }
        } catch (Throwable t) {
            batches.abort = true;
            r.join();
            s.join();
            throw new AssertionError("after " + outcomes[0] + " withdrawals and " + outcomes[1] + " claims",
                    batches.failed != null ? batches.failed : t);
        }
        batches.abort = true;
        r.join();
        s.join();
        assertEquals((long) PAIRS * BATCHES, outcomes[0] + outcomes[1]);
    }

    /** Releases both sides' loops at once and waits for both, through volatile counters. */
    static final class Batches {
        private volatile int started;
        private final java.util.concurrent.atomic.AtomicInteger done = new java.util.concurrent.atomic.AtomicInteger();
        /** Per side, the triple it has reached in the current batch (padded apart: one writer each). */
        private final java.util.concurrent.atomic.AtomicIntegerArray reached = new java.util.concurrent.atomic.AtomicIntegerArray(32);
        volatile boolean abort;
        volatile Throwable failed;

        /** One side: for each batch, waits for the other side too, then runs {@code half}. */
        void side(Runnable half) {
            try {
                for (int b = 1; ; b++) {
                    while (started < b) {
                        if (abort) {
                            return;
                        }
                        pause();
                    }
                    half.run();
                    done.incrementAndGet();
                }
            } catch (Throwable t) {
                failed = t;
                abort = true;
            }
        }

        /** Side {@code side} has reached triple {@code j}; returns once the other side has too. */
        void lockstep(int side, int j) {
            int mark = started * PAIRS + j; // grows across batches: no reset needed
            reached.set(side * 16, mark);
            while (reached.get((1 - side) * 16) < mark && !abort) {
                pause();
            }
        }

        /** Starts batch {@code b} and returns once both sides have finished it. */
        void runBatch(int b) {
            started = b;
            while (done.get() < 2 * b) {
                if (abort) {
                    throw new AssertionError("a side failed in batch " + b, failed);
                }
                pause();
            }
        }

        /** Spins, giving up the CPU now and then: the host may have fewer cores than threads. */
        static void pause() {
            Thread.onSpinWait();
            if ((System.nanoTime() & 0x3F) == 0) {
                Thread.yield();
            }
        }
    }

    /** A machine that only has {@link #preempt}, where the test puts the other side's steps. */
    static final class PreemptHook implements Machine {
        private final Runnable atPreempt;

        PreemptHook(Runnable atPreempt) {
            this.atPreempt = atPreempt;
        }

        @Override
        public void preempt() {
            atPreempt.run();
        }

        @Override
        public long now() {
            throw new UnsupportedOperationException();
        }

        @Override
        public void enter(Tcb self) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void leave(Tcb self) {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean holdsLock() {
            throw new UnsupportedOperationException();
        }

        @Override
        public void await(Tcb self, boolean partnerParked) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void unpark(Tcb t) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void timerChanged(long deadline) {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean uniprocessor() {
            throw new UnsupportedOperationException();
        }

        @Override
        public isola.kernel.mem.PhysicalMemory ram() {
            throw new UnsupportedOperationException();
        }
    }
}
