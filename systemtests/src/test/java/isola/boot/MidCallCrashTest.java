package isola.boot;

import static org.junit.jupiter.api.Assertions.*;

import isola.boot.image.DefaultImage;
import isola.boot.testservers.slow.SlowServer;
import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.Status;
import isola.kernel.Tag;
import isola.kernel.Tcb;
import isola.sdk.Replies;
import isola.sdk.Sys;
import java.io.ByteArrayOutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crashes an active server while its one thread is inside a slow handler serving a call: the
 * call fails with E_RESTARTED at once (not a hang, not the handler's late reply), the retry
 * is served by the next incarnation, and the reply the dead incarnation's handler produces when
 * it wakes up goes nowhere.
 */
class MidCallCrashTest {
    static final int SLOT = 0;
    static final long BADGE = 0x51;

    @TempDir
    static Path dir;
    static Path image;

    @BeforeAll
    static void buildImage() throws Exception {
        String manifest = DefaultImage.defaultManifest() + """

                [server slow]
                jar      = slow.jar
                priority = 120
                provides = slow
                restart  = on-crash
                max-restarts = 3
                backoff  = 10ms
                """;
        image = DefaultImage.build(dir.resolve("slow.img"), manifest, Map.of("slow.jar", SlowServer.class));
    }

    /** A reply of the slow server: the call's status, label, MR0 and the incarnation's nonce (MR1). */
    record Answer(int status, int label, long value, long nonce) {
        static Answer of(Sys sys, int status) {
            return status == Status.OK ? new Answer(status, sys.label(), sys.mr(0), sys.mr(1)) : new Answer(status, -1, 0, 0);
        }

        void assertOk(long expected, String what) {
            assertEquals(Status.OK, status, what + ": " + Status.name(status));
            assertEquals(Replies.OK, label, what + ": reply label");
            assertEquals(expected, value, what + ": reply value");
        }
    }

    @Test
    void crashInsideASlowHandlerFailsTheCallInFlightAndDropsTheLateReply() throws Exception {
        PipedOutputStream keepOpen = new PipedOutputStream();
        // Client thread A: a host JVM thread attached to a kernel thread of the client domain. All
        // of A's calls run on this one executor thread, since a Tcb is bound to the thread that attached it.
        ExecutorService a = Executors.newSingleThreadExecutor(r -> new Thread(r, "client-A"));
        try (Boot b = Boot.start(image, new PipedInputStream(keepOpen), new PrintStream(new ByteArrayOutputStream()), false)) {
            assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
                Kernel k = b.machine().kernel();
                b.awaitBooted(); // init boots on its own thread
                Domain client = k.createDomain("client", 16, 16);
                b.init().grantService(SlowServer.SERVICE, client, SLOT, BADGE);
                Tcb ta = k.createThread(client, "A", 100);
                Sys sys = a.submit(() -> {
                    b.machine().attach(ta);
                    return Sys.of(k, ta);
                }).get();

                Answer warm = a.submit(() -> call(sys, SlowServer.INC, 41)).get();
                warm.assertOk(42, "a call before the crash");
                Domain before = b.init().serverDomain("slow");
                Tcb worker = awaitWorker(k, before);
                // Idle: nobody else calls slow, so from now on only A's call can make it leave recv.
                awaitTrue(() -> worker.state() == Tcb.BLOCKED_RECV, "the worker waits for the next call");

                Future<Answer> inFlight = a.submit(() -> call(sys, SlowServer.SLOW, 1));
                // A's call was taken and the worker is in the handler (its sleep): A waits for
                // the reply, the worker runs. No sleeping to "make sure": the kernel's state says it.
                awaitTrue(() -> ta.state() == Tcb.BLOCKED_REPLY && worker.state() == Tcb.RUNNING,
                        "A's call is in the slow handler");

                k.injectFault(before, "test: crash mid-call");

                Answer crashed = inFlight.get();
                assertEquals(Status.E_RESTARTED, crashed.status(),
                        "the call in flight fails with E_RESTARTED, not " + Status.name(crashed.status()));

                Answer retried = a.submit(() -> {
                    sys.mr(0, 99);
                    int st = sys.callRetrying(SLOT, Tag.of(SlowServer.INC, 1), Sys.RESTART_ATTEMPTS);
                    return Answer.of(sys, st);
                }).get();
                retried.assertOk(100, "the retry after the crash");
                Domain after = b.init().serverDomain("slow");
                assertNotSame(before, after, "slow runs in a fresh domain");
                assertEquals(Domain.DEAD, before.state(), "the crashed incarnation's domain is dead");
                assertEquals(1, b.init().restarts("slow"));
                assertNotEquals(warm.nonce(), retried.nonce(), "the retry was served by the new incarnation");

                // A slow call to the new incarnation, in flight while the dead one's handler wakes up
                // and replies (if the restart was quick): that late reply must not land here.
                Answer slowAgain = a.submit(() -> call(sys, SlowServer.SLOW, 1000)).get();
                slowAgain.assertOk(2000, "a slow call to the new incarnation");
                assertEquals(retried.nonce(), slowAgain.nonce(), "served by the new incarnation");

                // The dead incarnation's worker has woken, replied to nobody and unwound.
                awaitTrue(() -> k.threadsOf(before).isEmpty(), "the dead incarnation's threads exit");
                for (int i = 0; i < 20; i++) {
                    int v = 7000 + i;
                    Answer later = a.submit(() -> call(sys, SlowServer.INC, v)).get();
                    later.assertOk(v + 1, "call " + i + " after the dead handler's reply");
                    assertEquals(retried.nonce(), later.nonce(), "served by the new incarnation");
                }
                assertSame(after, b.init().serverDomain("slow"), "no further restart");
                assertEquals(1, b.init().restarts("slow"));
            });
            keepOpen.close();
            int status = assertTimeoutPreemptively(BootTest.HANG_GUARD, b::awaitExit);
            assertEquals(0, status, "end of input shuts the system down");
        } finally {
            a.shutdownNow();
        }
    }

    /** One call of {@code label} with {@code value} in MR0, no retry. */
    static Answer call(Sys sys, int label, long value) {
        sys.mr(0, value);
        return Answer.of(sys, sys.call(SLOT, Tag.of(label, 1), Sys.FOREVER));
    }

    /** The server's receive thread, once {@code serveActive} has started it. */
    static Tcb awaitWorker(Kernel k, Domain d) throws InterruptedException {
        Tcb[] w = new Tcb[1];
        awaitTrue(() -> {
            for (Tcb t : k.threadsOf(d)) {
                if (t.name().equals("worker0")) {
                    w[0] = t;
                }
            }
            return w[0] != null;
        }, "the slow server starts its worker thread");
        return w[0];
    }

    /** Polls {@code condition} until it holds; the test's hang guard bounds the wait. */
    static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
        long end = System.nanoTime() + BootTest.HANG_GUARD.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                fail("timed out waiting until " + what);
            }
            if (Thread.interrupted()) {
                throw new InterruptedException(what);
            }
            LockSupport.parkNanos(100_000);
        }
    }
}
