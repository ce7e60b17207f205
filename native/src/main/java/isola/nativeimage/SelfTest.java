package isola.nativeimage;

import isola.kernel.Domain;
import isola.kernel.Status;
import isola.kernel.Tcb;
import isola.testservers.selftest.ActiveEchoServer;
import isola.testservers.selftest.CrashServer;
import isola.testservers.selftest.EchoServer;
import isola.testservers.selftest.MemoryServer;
import isola.tier.nativeimage.NativeTier;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import isola.system.pager.PagerServer;
import picocli.CommandLine.Command;

/**
 * Checks, inside the executable, what the native tier promises: a passive call into another
 * isolate answers; an exception, an OutOfMemoryError in the server's heap and a stack overflow
 * stay in the server's isolate (the caller gets E_SERVER_FAULT, the domain is faulted, the
 * other servers and the kernel go on); a fresh isolate serves the same endpoint after a restart
 * and the old one is torn down. Prints PASS or FAIL per check; exits 1 if any failed. The
 * native module's integration test runs it against the built executable.
 */
@Command(name = "selftest", mixinStandardHelpOptions = true,
        description = "Check isolate calls, containment of crashes and restarts in this executable.")
final class SelfTest implements Callable<Integer> {
    private final List<String> failures = new ArrayList<>();

    private void check(String name, boolean ok, String detail) {
        System.out.println((ok ? "PASS " : "FAIL ") + name + (ok ? "" : ": " + detail));
        if (!ok) {
            failures.add(name);
        }
    }

    @Override
    public Integer call() throws Exception {
        try (NativeRig rig = new NativeRig()) {
            NativeRig.Served echo = rig.serve("echo", EchoServer.class.getName(), EchoServer.SERVICE);
            NativeRig.Served crash = rig.serve("crash", CrashServer.class.getName(), CrashServer.SERVICE,
                    new NativeRig.Layout(1, 16, 16, rig::reportFaults));
            NativeRig.Served active = rig.serve("active", ActiveEchoServer.class.getName(), ActiveEchoServer.SERVICE);
            NativeRig.Served pager = rig.serve("pager", PagerServer.class.getName(), "pager",
                    new NativeRig.Layout(PagerServer.ENDPOINT, 128, 16, d -> rig.kernel.setFrameQuota(d, 1024)));
            rig.onClientThread("selftest", t -> {
                int st = rig.call(t, echo.clientSlot, 0, 41);
                check("call into another isolate", st == Status.OK && NativeRig.mr0(t) == 42,
                        Status.name(st) + ", MR0 " + NativeRig.mr0(t));
                for (int i = 0; i < 1000; i++) {
                    st = rig.call(t, active.clientSlot, 0, i);
                    if (st != Status.OK || NativeRig.mr0(t) != i + 1) {
                        break;
                    }
                }
                check("calls to an active server whose thread runs in its isolate", st == Status.OK
                        && NativeRig.mr0(t) == 1000, Status.name(st) + ", MR0 " + NativeRig.mr0(t));

                contained(rig, t, crash, echo, CrashServer.THROW, "IllegalStateException", "exception");
                restarted(rig, t, crash, "after an exception");
                contained(rig, t, crash, echo, CrashServer.OOM, "OutOfMemoryError", "out of memory");
                restarted(rig, t, crash, "after running out of memory");
                contained(rig, t, crash, echo, CrashServer.RECURSE, "StackOverflowError", "stack overflow");
                restarted(rig, t, crash, "after a stack overflow");
                st = rig.call(t, crash.clientSlot, CrashServer.HEAP_MAX);
                check("a server isolate's heap is bounded (" + NativeTier.SERVER_HEAP_MIB + " MiB)",
                        st == Status.OK && NativeRig.mr0(t) == NativeTier.SERVER_HEAP_MIB << 20,
                        Status.name(st) + ", its limit " + NativeRig.mr0(t) + " bytes");
                servesDuring(rig, t, crash, echo, active, CrashServer.OOM, "OutOfMemoryError", "out of memory");
                servesDuring(rig, t, crash, echo, active, CrashServer.RECURSE, "StackOverflowError", "stack overflow");
                runawayStopped(rig, t, crash);
                callsRacingRestarts(rig, crash);
                memory(rig, t, pager);
            });
        }
        System.out.println(failures.isEmpty() ? "selftest: all passed" : "selftest: failed: " + failures);
        return failures.isEmpty() ? 0 : 1;
    }

    /** A crash of kind {@code label} fails only the call, faults only its domain, and names the error. */
    private void contained(NativeRig rig, Tcb t, NativeRig.Served crash, NativeRig.Served echo, int label, String error,
            String what) {
        int st = rig.call(t, crash.clientSlot, label, 0);
        Domain d = crash.domain;
        Throwable fault = d.lastFault();
        check(what + " fails the call with E_SERVER_FAULT", st == Status.E_SERVER_FAULT, "got " + Status.name(st));
        check(what + " faults the server's domain", d.state() == Domain.FAULTED, Domain.stateName(d.state()));
        check(what + " is reported as " + error, fault != null && String.valueOf(fault.getMessage()).contains(error),
                String.valueOf(fault));
        reported(rig, t, crash, what);
        st = rig.call(t, echo.clientSlot, 0, 7);
        check(what + ": another isolate's server still answers", st == Status.OK && NativeRig.mr0(t) == 8,
                Status.name(st) + ", MR0 " + NativeRig.mr0(t));
        byte[] kernelHeap = new byte[32 << 20]; // the kernel's own heap still has room
        check(what + ": the kernel isolate still allocates", kernelHeap.length == 32 << 20, "");
    }

    /** The kernel sent the crashed domain's fault to its fault endpoint (the supervisor's in a booted system). */
    private void reported(NativeRig rig, Tcb t, NativeRig.Served crash, String what) {
        NativeRig.Fault f = rig.awaitFault(t, FAULT_WAIT_NS);
        check(what + " is reported to the server's fault endpoint", f.of(crash.domain) && f.kind() == Domain.FAULT_HANDLER,
                f + ", the domain is " + crash.domain.id());
    }

    /**
     * The server restarts in a fresh isolate on the same endpoint, and the old isolate is torn
     * down; then the fault message is answered, as the supervisor answers it after a restart.
     */
    private void restarted(NativeRig rig, Tcb t, NativeRig.Served crash, String when) throws Exception {
        NativeTier.NativeServer old = crash.restart(null);
        int answered = rig.answerFault(t);
        check("restart " + when + ": the fault message is answered", answered == Status.OK, Status.name(answered));
        int st = rig.call(t, crash.clientSlot, CrashServer.ECHO, 99);
        check("restart " + when + ": a fresh isolate serves the endpoint", st == Status.OK && NativeRig.mr0(t) == 100,
                Status.name(st) + ", MR0 " + NativeRig.mr0(t));
        check("restart " + when + ": the old isolate is torn down", old.tearDown(1_000_000_000L), old.leftInPlace());
        check("restart " + when + ": a caller still holding the old isolate's entry is refused", old.refusesCalls(t),
                "it would enter the torn-down isolate");
    }

    /** How long a test waits for a fault message or for a thread before it reports a hang (never reached when all is well). */
    private static final long FAULT_WAIT_NS = 60_000_000_000L, HANG_MS = 60_000;
    /** A call that takes longer than this has waited on something it should not (it takes microseconds). */
    private static final long CALL_DEADLINE_NS = 10_000_000_000L;
    /** Calls made to each other server while the crash server holds in its failing state. */
    private static final int CALLS_WHILE_HELD = 1000;

    /**
     * Other servers serve while the crash server's isolate runs out of memory (small objects,
     * the heap full to the last bytes) or overflows its stack, not only after. A client thread
     * calls a passive server and an active one (each in an isolate of its own), every call with
     * a deadline, through the whole episode: the isolate filling its heap or stack, failing,
     * its fault reported, the restart. And while the crash server holds in its failing state
     * (see CrashServer: heap exhausted or stack at its limit, waiting to be released), another
     * thread makes {@link #CALLS_WHILE_HELD} calls to each, so some calls certainly fall inside
     * it. Every call must be answered, the failure must still be reported and the server
     * restarted.
     */
    private void servesDuring(NativeRig rig, Tcb t, NativeRig.Served crash, NativeRig.Served echo, NativeRig.Served active,
            int label, String error, String what) throws Exception {
        long word = org.graalvm.nativeimage.UnmanagedMemory.calloc(16).rawValue(); // outside every heap: both isolates see it
        jdk.internal.misc.Unsafe u = jdk.internal.misc.Unsafe.getUnsafe();
        AtomicBoolean stop = new AtomicBoolean();
        long[] calls = new long[1];
        String[] bad = new String[1];
        boolean crasherDone = false;
        try {
            NativeRig.Running loop = rig.startOnClientThread("during", c -> {
                for (long i = 0; !stop.get() && bad[0] == null; i++) {
                    bad[0] = answered(rig, c, echo, i);
                    bad[0] = bad[0] != null ? bad[0] : answered(rig, c, active, i);
                    calls[0]++;
                }
            });
            int[] crashed = {Integer.MIN_VALUE};
            NativeRig.Running crasher = rig.startOnClientThread("crasher", c -> crashed[0] = rig.call(c, crash.clientSlot, label, word));
            long deadline = System.nanoTime() + FAULT_WAIT_NS;
            while (u.getLongVolatile(null, word) != CrashServer.HELD && System.nanoTime() - deadline < 0 && bad[0] == null) {
                Thread.onSpinWait();
            }
            boolean held = u.getLongVolatile(null, word) == CrashServer.HELD;
            check(what + ": the server holds in its failing state", held, "it never got there (" + Status.name(crashed[0]) + ")");
            String[] whileHeld = new String[1];
            if (held) {
                NativeRig.Running h = rig.startOnClientThread("while-held", c -> {
                    for (int i = 0; i < CALLS_WHILE_HELD && whileHeld[0] == null; i++) {
                        whileHeld[0] = answered(rig, c, echo, i);
                        whileHeld[0] = whileHeld[0] != null ? whileHeld[0] : answered(rig, c, active, i);
                    }
                });
                boolean done = h.join(HANG_MS);
                check(what + " (held, at " + u.getLongVolatile(null, word + 8) + (label == CrashServer.OOM ? " objects" : " frames")
                        + "): " + CALLS_WHILE_HELD + " calls each to a passive and an active server are answered",
                        done && whileHeld[0] == null, done ? whileHeld[0] : "they did not finish in " + HANG_MS + " ms");
            }
            u.putLongVolatile(null, word, CrashServer.RELEASE);
            crasherDone = crasher.join(HANG_MS);
            check(what + " under concurrent calls fails the call with E_SERVER_FAULT", crasherDone && crashed[0] == Status.E_SERVER_FAULT,
                    crasherDone ? Status.name(crashed[0]) : "the call did not return in " + HANG_MS + " ms");
            Throwable fault = crash.domain.lastFault();
            check(what + " under concurrent calls is reported as " + error,
                    fault != null && String.valueOf(fault.getMessage()).contains(error), String.valueOf(fault));
            reported(rig, t, crash, what + " under concurrent calls");
            restarted(rig, t, crash, "after " + what + " under concurrent calls");
            stop.set(true);
            boolean loopDone = loop.join(HANG_MS);
            check(what + ": calls racing it all along are answered within their deadline", loopDone && bad[0] == null && calls[0] > 0,
                    loopDone ? bad[0] + " (" + calls[0] + " calls)" : "the calls did not finish in " + HANG_MS + " ms");
            System.out.println("     (" + calls[0] + " calls to each racing " + what + ")");
        } finally {
            u.putLongVolatile(null, word, CrashServer.RELEASE); // never leave the server spinning
            stop.set(true);
            if (crasherDone) { // else the server may still read the word
                org.graalvm.nativeimage.UnmanagedMemory.free(org.graalvm.word.WordFactory.pointer(word));
            }
        }
    }

    /** One echo call to {@code s} with a deadline: null if answered right, else what went wrong. */
    private static String answered(NativeRig rig, Tcb c, NativeRig.Served s, long i) {
        int st = rig.callWithin(c, CALL_DEADLINE_NS, s.clientSlot, 0, i);
        return st == Status.OK && NativeRig.mr0(c) == i + 1 ? null
                : s.name + " call " + i + ": " + Status.name(st) + ", MR0 " + NativeRig.mr0(c);
    }

    /**
     * A passive handler that loops without a system call, on its caller's thread inside the
     * server's isolate, is stopped there once its domain is killed and its isolate torn down
     * (RunawayStop): the call fails with E_RESTARTED, the isolate goes, the next incarnation
     * serves. In the vm tier no such loop can be stopped. The kernel meanwhile sees the call in
     * service, which the supervisor's watchdog reads.
     */
    private void runawayStopped(NativeRig rig, Tcb t, NativeRig.Served crash) throws Exception {
        int[] spun = {-1};
        NativeRig.Running spinner = rig.startOnClientThread("spinner", s -> spun[0] = rig.call(s, crash.clientSlot, CrashServer.SPIN, 0));
        long end = System.nanoTime() + 10_000_000_000L;
        rig.kernel.advanceServiceClock();
        while (rig.kernel.oldestCallStart(crash.domain) == 0 && System.nanoTime() < end) {
            Thread.sleep(1);
        }
        check("runaway: the kernel sees the looping call in service", rig.kernel.oldestCallStart(crash.domain) != 0,
                "no call in service in " + crash.domain);
        Thread.sleep(200); // well inside its loop
        long t0 = System.nanoTime();
        NativeTier.NativeServer old = crash.restart(null);
        boolean tornDown = old.tearDown(5_000_000_000L);
        boolean ended = spinner.join(5_000);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        check("runaway: a handler looping without system calls is stopped in its killed isolate", tornDown && ended,
                (tornDown ? "" : "the isolate was not torn down in 5 s; ") + (ended ? "" : "the caller is still inside"));
        check("runaway: its call fails with E_RESTARTED", spun[0] == Status.E_RESTARTED, Status.name(spun[0]));
        int st = rig.call(t, crash.clientSlot, CrashServer.ECHO, 9);
        check("runaway: the next incarnation serves", st == Status.OK && NativeRig.mr0(t) == 10,
                Status.name(st) + ", MR0 " + NativeRig.mr0(t));
        System.out.println("     (stopped " + ms + " ms after the kill)");
    }

    /**
     * A client calls the server in a loop while it is restarted again and again, each old
     * isolate torn down at once: every call is answered by some incarnation, or fails with
     * E_RESTARTED if the one it entered was killed under it; none faults or crashes.
     */
    private void callsRacingRestarts(NativeRig rig, NativeRig.Served crash) throws Exception {
        final int restarts = 20;
        AtomicBoolean stop = new AtomicBoolean();
        long[] answered = new long[1], restarted = new long[1];
        String[] other = new String[1];
        NativeRig.Running racer = rig.startOnClientThread("racer", t -> {
            while (!stop.get() && other[0] == null) {
                int st = rig.call(t, crash.clientSlot, CrashServer.ECHO, 5);
                if (st == Status.OK && NativeRig.mr0(t) == 6) {
                    answered[0]++;
                } else if (st == Status.E_RESTARTED) {
                    restarted[0]++;
                } else {
                    other[0] = Status.name(st) + ", MR0 " + NativeRig.mr0(t);
                }
            }
        });
        boolean tornDown = true;
        String stuck = null;
        for (int i = 0; i < restarts && other[0] == null; i++) {
            NativeTier.NativeServer old = crash.restart(null);
            if (!old.tearDown(1_000_000_000L)) {
                tornDown = false;
                stuck = old.leftInPlace();
            }
        }
        stop.set(true);
        racer.join();
        check("calls racing " + restarts + " restarts are answered or get E_RESTARTED", other[0] == null && answered[0] > 0,
                "a call got " + other[0] + " (" + answered[0] + " answered; the server's last fault: " + crash.domain.lastFault() + ")");
        check("each old isolate is torn down while calls race", tornDown, stuck);
        System.out.println("     (" + answered[0] + " calls answered, " + restarted[0] + " got E_RESTARTED)");
    }

    /**
     * A server in its isolate reads and writes its address space through VirtualMemory: its
     * pages fault in from a pager in another isolate (each fault a nested call: server isolate,
     * kernel, pager isolate), zero-copy views span pages, and a bad address is an error reply.
     */
    private void memory(NativeRig rig, Tcb t, NativeRig.Served pager) throws Exception {
        final int pagerSlot = 32; // the pager's slot for its client's domain (init's FIRST_PAGER_CLIENT)
        NativeRig.Served mem = rig.serve("memory", MemoryServer.class.getName(), MemoryServer.SERVICE,
                new NativeRig.Layout(1, 16, 16, d -> {
                    rig.kernel.deleteCap(pager.domain, pagerSlot);
                    rig.kernel.installCap(pager.domain, pagerSlot, d, isola.kernel.Rights.CONTROL, 0);
                    rig.kernel.setPager(d, pager.endpoint, pagerSlot);
                }));
        int st = rig.call(t, mem.clientSlot, MemoryServer.PUT, 3, 0x1234_5678_9ABCL);
        int put = NativeRig.label(t);
        st = st == Status.OK ? rig.call(t, mem.clientSlot, MemoryServer.GET, 3) : st;
        check("memory: a server in an isolate writes and reads a page its pager (another isolate) maps",
                st == Status.OK && put == 0 && NativeRig.label(t) == 0 && NativeRig.mr0(t) == 0x1234_5678_9ABCL,
                Status.name(st) + ", labels " + put + "/" + NativeRig.label(t) + ", MR0 0x" + Long.toHexString(NativeRig.mr0(t)));
        st = rig.call(t, mem.clientSlot, MemoryServer.GET, 7);
        check("memory: a fresh page is zeroed", st == Status.OK && NativeRig.label(t) == 0 && NativeRig.mr0(t) == 0,
                Status.name(st) + ", label " + NativeRig.label(t) + ", MR0 " + NativeRig.mr0(t));
        int length = 3 * 4096 + 5;
        st = rig.call(t, mem.clientSlot, MemoryServer.FILL, 10, 100, length, 7);
        check("memory: zero-copy views over several pages, read back by copy",
                st == Status.OK && NativeRig.label(t) == 0 && NativeRig.mr0(t) == 7L * length,
                Status.name(st) + ", label " + NativeRig.label(t) + ", MR0 " + NativeRig.mr0(t));
        st = rig.call(t, mem.clientSlot, MemoryServer.GET, 1L << 40);
        check("memory: a non-canonical address is an error reply (E_NOT_CANONICAL), not a crash",
                st == Status.OK && NativeRig.label(t) == isola.sdk.Replies.ERROR && NativeRig.mr0(t) == Status.E_NOT_CANONICAL,
                Status.name(st) + ", label " + NativeRig.label(t) + ", MR0 " + NativeRig.mr0(t));
        check("memory: the pager's isolate paid for the pages", pager.domain.framesUsed() >= 5,
                pager.domain.framesUsed() + " frames");
    }
}
