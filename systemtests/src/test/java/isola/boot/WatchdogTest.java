package isola.boot;

import static isola.boot.MidCallCrashTest.awaitTrue;
import static org.junit.jupiter.api.Assertions.*;

import isola.boot.image.DefaultImage;
import isola.boot.testservers.spin.PassiveSpinServer;
import isola.boot.testservers.spin.Spin;
import isola.boot.testservers.spin.SpinServer;
import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.Status;
import isola.kernel.Tag;
import isola.kernel.Tcb;
import isola.sdk.Proc;
import isola.sdk.Replies;
import isola.sdk.Sys;
import java.io.ByteArrayOutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The supervisor's watchdog: a server whose call overruns its manifest's deadline in a loop that
 * never makes a system call is killed and restarted, its caller gets E_RESTARTED, the next call
 * is served by the new incarnation, and ps shows the dead incarnation's thread, which the vm tier
 * cannot stop, as "runaway" until it ends; a server without a deadline is left to finish a long
 * call. The only timing assertion is a lower bound: nothing is killed before its deadline.
 */
class WatchdogTest {
    static final long DEADLINE_MS = 500;
    static final int SPIN = 0, PASSIVE = 1, LAZY = 2, PROC = 3, SUPERVISOR = 4;

    @TempDir
    static Path dir;
    static Path image;

    @BeforeAll
    static void buildImage() throws Exception {
        String manifest = DefaultImage.defaultManifest() + """

                [server spin]
                jar      = spin.jar
                provides = spin
                deadline = %1$dms
                backoff  = 10ms

                [server spin-passive]
                jar      = spin-passive.jar
                provides = spin-passive
                deadline = %1$dms

                [server lazy]
                jar      = spin.jar
                provides = lazy
                """.formatted(DEADLINE_MS);
        image = DefaultImage.build(dir.resolve("spin.img"), manifest,
                Map.of("spin.jar", SpinServer.class, "spin-passive.jar", PassiveSpinServer.class));
    }

    private final PipedOutputStream keepOpen = new PipedOutputStream();
    private Boot boot;
    private Kernel kernel;
    private Domain client;

    @BeforeEach
    void start() throws Exception {
        System.clearProperty(Spin.RELEASE);
        boot = Boot.start(image, new PipedInputStream(keepOpen), new PrintStream(new ByteArrayOutputStream()), false);
        boot.awaitBooted();
        kernel = boot.machine().kernel();
        client = kernel.createDomain("client", 16, 16);
        boot.init().grantService("spin", client, SPIN, 1);
        boot.init().grantService("spin-passive", client, PASSIVE, 1);
        boot.init().grantService("lazy", client, LAZY, 1);
        boot.init().grantService(Proc.PROC, client, PROC, 1);
        boot.init().grantService(Proc.SUPERVISOR, client, SUPERVISOR, 1);
    }

    @AfterEach
    void stop() throws Exception {
        System.setProperty(Spin.RELEASE, "true"); // whatever a test left spinning ends
        keepOpen.close();
        assertEquals(0, assertTimeoutPreemptively(BootTest.HANG_GUARD, boot::awaitExit));
        boot.close();
    }

    /** A client thread: a host JVM thread attached to a kernel thread of the client domain, and its Sys. */
    private record Client(ExecutorService thread, Tcb tcb, Sys sys) {
        <T> T run(java.util.concurrent.Callable<T> job) throws Exception {
            return thread.submit(job).get();
        }
    }

    private Client client(String name) throws Exception {
        ExecutorService e = Executors.newSingleThreadExecutor(r -> new Thread(r, "client-" + name));
        Tcb t = kernel.createThread(client, name, 100);
        Sys sys = e.submit(() -> {
            boot.machine().attach(t);
            return Sys.of(kernel, t);
        }).get();
        return new Client(e, t, sys);
    }

    /** One call, no retry: its status, and MR0 and the incarnation's nonce (MR1) if answered. */
    record Answer(int status, long value, long nonce) {}

    private static Answer call(Sys sys, int slot, int label, long value) {
        sys.mr(0, value);
        int st = sys.call(slot, Tag.of(label, 1), Sys.FOREVER);
        if (st == Status.OK && sys.label() != Replies.OK) {
            fail("reply label " + sys.label() + ": " + sys.string(0));
        }
        return st == Status.OK ? new Answer(st, sys.mr(0), sys.mr(1)) : new Answer(st, 0, 0);
    }

    private static List<String> rowsOf(List<String> ps, String text) {
        return ps.stream().filter(l -> l.contains(text)).toList();
    }

    @Test
    void anActiveServerLoopingInACallIsKilledAndRestartedAndItsCallerFreed() throws Exception {
        Client a = client("a");
        try {
            assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
                Answer before = a.run(() -> call(a.sys(), SPIN, Spin.INC, 1));
                assertEquals(new Answer(Status.OK, 2, before.nonce()), before);
                Domain first = boot.init().serverDomain("spin");

                long t0 = System.nanoTime();
                Answer spun = a.run(() -> call(a.sys(), SPIN, Spin.SPIN, 0));
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                assertEquals(Status.E_RESTARTED, spun.status(), "the overrunning call fails with E_RESTARTED, not "
                        + Status.name(spun.status()));
                assertTrue(ms >= DEADLINE_MS, "killed after " + ms + " ms, before its deadline of " + DEADLINE_MS + " ms");

                Answer after = a.run(() -> call(a.sys(), SPIN, Spin.INC, 41));
                assertEquals(Status.OK, after.status());
                assertEquals(42, after.value());
                assertNotEquals(before.nonce(), after.nonce(), "the new incarnation serves");
                assertEquals(1, boot.init().restarts("spin"));
                assertEquals(Domain.DEAD, first.state());

                List<String> status = a.run(() -> Proc.supervisorStatus(a.sys(), SUPERVISOR));
                String row = rowsOf(status, "spin ").getFirst();
                assertTrue(row.matches("spin\\s+on-crash\\s+1\\s+5\\s+10ms\\s+500ms\\s+running"), row);

                // The vm tier cannot stop the dead incarnation's worker: ps shows it until it ends.
                List<String> ps = a.run(() -> Proc.ps(a.sys(), PROC));
                List<String> runaway = rowsOf(ps, "runaway");
                assertEquals(1, runaway.size(), String.join("\n", ps));
                assertTrue(runaway.getFirst().matches("\\s*" + first.id() + "\\s+spin\\s+dead\\s+worker0\\s+runaway.*"),
                        runaway.getFirst());
                assertEquals(1, rowsOf(ps, " spin ").stream().filter(l -> l.contains("running") || l.contains("recv")).count(),
                        "the new incarnation's worker: " + String.join("\n", ps));

                // Let it go: its next system call fails (its domain is dead), it unwinds and is gone.
                Tcb worker = kernel.threadsOf(first).getFirst();
                System.setProperty(Spin.RELEASE, "true");
                awaitTrue(() -> kernel.threadsOf(first).isEmpty(), "the runaway thread ends at its next system call");
                assertTrue(worker.isKilled());
                assertEquals(List.of(), rowsOf(a.run(() -> Proc.ps(a.sys(), PROC)), "runaway"));
                assertEquals(Status.OK, a.run(() -> call(a.sys(), SPIN, Spin.INC, 1)).status());
                assertEquals(1, boot.init().restarts("spin"), "the released thread's late reply changed nothing");
            });
        } finally {
            a.thread().shutdownNow();
        }
    }

    @Test
    void aServerWithoutADeadlineIsNotKilledForALongCall() throws Exception {
        Client a = client("a");
        try {
            assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
                long busy = 4 * DEADLINE_MS; // the watchdog runs (spin has a deadline) all along
                Answer long_ = a.run(() -> call(a.sys(), LAZY, Spin.BUSY, busy));
                assertEquals(new Answer(Status.OK, busy, long_.nonce()), long_);
                assertEquals(0, boot.init().restarts("lazy"));
                // and a call shorter than the deadline does not get a server with one killed
                Answer short_ = a.run(() -> call(a.sys(), SPIN, Spin.BUSY, DEADLINE_MS / 5));
                assertEquals(Status.OK, short_.status());
                assertEquals(0, boot.init().restarts("spin"));
            });
        } finally {
            a.thread().shutdownNow();
        }
    }

    @Test
    void aPassiveServerLoopingOnItsCallersThreadIsRestartedAndTheCallerShownAsRunaway() throws Exception {
        Client a = client("a");
        Client b = client("b");
        try {
            assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
                Answer before = a.run(() -> call(a.sys(), PASSIVE, Spin.INC, 1));
                assertEquals(Status.OK, before.status());
                Domain first = boot.init().serverDomain("spin-passive");

                // b's own thread runs the handler's loop: in the vm tier nothing can take it back.
                Future<Answer> spun = b.thread().submit(() -> call(b.sys(), PASSIVE, Spin.SPIN, 0));
                awaitTrue(() -> boot.init().restarts("spin-passive") == 1, "the watchdog restarts spin-passive");
                assertEquals(Domain.DEAD, first.state());

                Answer after = a.run(() -> call(a.sys(), PASSIVE, Spin.INC, 41));
                assertEquals(new Answer(Status.OK, 42, after.nonce()), after);
                assertNotEquals(before.nonce(), after.nonce(), "the new incarnation serves other callers");

                List<String> ps = a.run(() -> Proc.ps(a.sys(), PROC));
                List<String> runaway = rowsOf(ps, "runaway");
                assertEquals(1, runaway.size(), String.join("\n", ps));
                assertTrue(runaway.getFirst().matches("\\s*" + first.id() + "\\s+spin-passive\\s+dead\\s+client/b\\s+runaway.*"),
                        runaway.getFirst());
                assertFalse(spun.isDone(), "b is still inside the dead incarnation's loop");

                // When the loop ends, the dead incarnation's answer is not delivered: b learns of the restart.
                System.setProperty(Spin.RELEASE, "true");
                assertEquals(Status.E_RESTARTED, spun.get().status());
                assertEquals(List.of(), rowsOf(a.run(() -> Proc.ps(a.sys(), PROC)), "runaway"));
                assertEquals(Status.OK, b.run(() -> call(b.sys(), PASSIVE, Spin.INC, 1)).status());
            });
        } finally {
            a.thread().shutdownNow();
            b.thread().shutdownNow();
        }
    }
}
