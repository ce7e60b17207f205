package isola.bench;

import isola.bench.servers.echo.ActiveEchoServer;
import isola.bench.servers.echo.PassiveEchoServer;
import isola.kernel.Status;
import isola.sdk.Sys;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * IPC round trips: one request and its reply per invocation, each carrying one word (the
 * server replies MR0 + 1). Two kernel paths, through the server SDK, across two domains:
 * <ul>
 *   <li>{@link #passiveCall}: a call to a passive `vm`-tier server, whose handler runs on the
 *       caller's thread inside the server's domain;
 *   <li>{@link #activeCall}: a call to an active `vm`-tier server, whose own thread answers
 *       from its reply-and-receive loop (a hand-off between two JVM threads);
 * </ul>
 * and three baselines measured in the same run: a plain Java interface call doing the same work
 * ({@link #javaInterfaceCall}), a {@link SynchronousQueue} hand-off to an echo thread and back
 * ({@link #synchronousQueue}), and two threads ping-ponging one cache line
 * ({@link #spinPingPong}), the floor for any cross-thread round trip.
 *
 * <p>Each benchmark has its own state, so only its own threads run while it is measured. Run
 * through {@code ./isola bench ipc} ({@link BenchMain}), which prints medians and ratios.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(value = 2, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED",
    "--sun-misc-unsafe-memory-access=allow", "-Xms512m", "-Xmx512m"})
@Threads(1)
public class IpcBench {
    /** Label of an echo request. */
    static final int ECHO = 1;

    // =====================================================================================
    // Baseline: a plain Java interface call doing the servers' work
    // =====================================================================================

    /** The plain-Java counterpart of the servers' message registers. */
    public static final class Registers {
        long mr0;
    }

    /** The plain-Java counterpart of {@link isola.sdk.Handler}. */
    public interface JavaHandler {
        long handle(Registers r);
    }

    /** Same work as {@code isola.bench.servers.echo.EchoHandler}: MR0 + 1, one-word reply. */
    public static final class JavaEcho implements JavaHandler {
        @Override
        public long handle(Registers r) {
            r.mr0 = r.mr0 + 1;
            return Sys.tag(0, 1);
        }
    }

    @State(Scope.Thread)
    public static class JavaState {
        JavaHandler handler;
        Registers regs;
        long value;

        @Setup(Level.Trial)
        public void setup() {
            handler = new JavaEcho();
            regs = new Registers();
        }
    }

    @Benchmark
    public long javaInterfaceCall(JavaState s) {
        Registers r = s.regs;
        r.mr0 = s.value;
        long tag = s.handler.handle(r);
        s.value = r.mr0;
        return s.value + tag;
    }

    // =====================================================================================
    // Passive call through the SDK
    // =====================================================================================

    /** A machine with the passive echo server in its own `vm`-tier domain. */
    @State(Scope.Benchmark)
    public static class PassiveServer {
        EchoSystem system;

        @Setup(Level.Trial)
        public void setup() throws Exception {
            system = new EchoSystem("passive-echo", PassiveEchoServer.class, PassiveEchoServer.SLOT,
                    ActiveEchoServer.PRIORITY, ep -> ep.isPassive());
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            system.close();
        }
    }

    /**
     * The benchmark thread as a kernel thread of the client domain, attached on that thread;
     * each subclass depends on its own server state.
     */
    public abstract static class EchoClient {
        EchoSystem.Client client;
        Sys sys;
        long value;

        void attach(EchoSystem system, String name) {
            client = system.attachClient(name);
            sys = client.sys();
            checkEcho(sys, 41);
        }

        @Setup(Level.Iteration)
        public void rebind() {
            client.rebindToCurrentThread();
        }
    }

    /** One echo round trip through the SDK: the body of both server benchmarks. */
    private static long echoCall(EchoClient c) {
        Sys sys = c.sys;
        sys.mr(0, c.value);
        int st = sys.call(EchoSystem.CLIENT_SLOT, ECHO, 1);
        if (st != Status.OK) {
            throw callFailed(sys, st);
        }
        return c.value = sys.mr(0);
    }

    @State(Scope.Thread)
    public static class PassiveClient extends EchoClient {
        @Setup(Level.Trial)
        public void attach(PassiveServer server) {
            attach(server.system, "passive-client");
        }
    }

    @Benchmark
    public long passiveCall(PassiveClient c) {
        return echoCall(c);
    }

    // =====================================================================================
    // Active call: call / replyRecv between two JVM threads
    // =====================================================================================

    /** A machine with the active echo server (one thread) in its own `vm`-tier domain. */
    @State(Scope.Benchmark)
    public static class ActiveServer {
        EchoSystem system;

        @Setup(Level.Trial)
        public void setup() throws Exception {
            system = new EchoSystem("active-echo", ActiveEchoServer.class, ActiveEchoServer.SLOT,
                    ActiveEchoServer.PRIORITY, ep -> ep.waitingReceivers() > 0);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            system.close();
        }
    }

    @State(Scope.Thread)
    public static class ActiveClient extends EchoClient {
        @Setup(Level.Trial)
        public void attach(ActiveServer server) {
            attach(server.system, "active-client");
        }
    }

    @Benchmark
    public long activeCall(ActiveClient c) {
        return echoCall(c);
    }

    // =====================================================================================
    // Baseline: SynchronousQueue hand-off to an echo thread and back
    // =====================================================================================

    @State(Scope.Benchmark)
    public static class QueueEcho {
        final SynchronousQueue<Long> requests = new SynchronousQueue<>();
        final SynchronousQueue<Long> replies = new SynchronousQueue<>();
        Thread echo;
        long value;

        @Setup(Level.Trial)
        public void setup() {
            echo = Thread.ofPlatform().name("bench-queue-echo").daemon(true).start(() -> {
                try {
                    for (;;) {
                        replies.put(requests.take() + 1);
                    }
                } catch (InterruptedException stop) {
                    // torn down
                }
            });
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            echo.interrupt();
            echo.join(2_000);
        }
    }

    @Benchmark
    public long synchronousQueue(QueueEcho q) throws InterruptedException {
        q.requests.put(q.value);
        return q.value = q.replies.take();
    }

    // =====================================================================================
    // Baseline: two threads ping-pong one cache line
    // =====================================================================================

    static class LeftPad {
        long p00, p01, p02, p03, p04, p05, p06, p07, p08, p09, p0a, p0b, p0c, p0d, p0e, p0f;
    }

    /** The shared word: odd while a request is out, even once answered. */
    static class Line extends LeftPad {
        volatile long word;
    }

    /** Padding after the word, so nothing else shares its cache line (or its neighbour). */
    public static class PaddedLine extends Line {
        long p10, p11, p12, p13, p14, p15, p16, p17, p18, p19, p1a, p1b, p1c, p1d, p1e, p1f;
    }

    @State(Scope.Benchmark)
    public static class SpinEcho {
        static final VarHandle WORD;

        static {
            try {
                WORD = MethodHandles.lookup().findVarHandle(Line.class, "word", long.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        final PaddedLine line = new PaddedLine();
        volatile boolean running = true;
        Thread echo;

        @Setup(Level.Trial)
        public void setup() {
            echo = Thread.ofPlatform().name("bench-spin-echo").daemon(true).start(() -> {
                PaddedLine l = line;
                while (running) {
                    long w = (long) WORD.getAcquire(l);
                    if ((w & 1) != 0) {
                        WORD.setRelease(l, w + 1);
                    } else {
                        Thread.onSpinWait();
                    }
                }
            });
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            running = false;
            echo.join(2_000);
        }
    }

    @Benchmark
    public long spinPingPong(SpinEcho s) {
        PaddedLine l = s.line;
        long request = (long) SpinEcho.WORD.getAcquire(l) + 1; // odd: a request
        SpinEcho.WORD.setRelease(l, request);
        long w;
        while ((w = (long) SpinEcho.WORD.getAcquire(l)) == request) {
            Thread.onSpinWait();
        }
        return w;
    }

    // =====================================================================================

    /** One call before measuring: the server answers, and answers right. */
    static void checkEcho(Sys sys, long v) {
        sys.mr(0, v);
        int st = sys.call(EchoSystem.CLIENT_SLOT, ECHO, 1);
        if (st != Status.OK) {
            throw callFailed(sys, st);
        }
        if (sys.mr(0) != v + 1 || sys.length() != 1) {
            throw new IllegalStateException("echo of " + v + " answered " + sys.mr(0) + " in "
                    + sys.length() + " registers; want " + (v + 1) + " in 1");
        }
    }

    static IllegalStateException callFailed(Sys sys, int st) {
        return new IllegalStateException(sys.describe(st, "echo call"));
    }
}
