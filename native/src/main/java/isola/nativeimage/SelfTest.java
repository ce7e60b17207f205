package isola.nativeimage;

import isola.kernel.Domain;
import isola.kernel.Status;
import isola.kernel.Tcb;
import isola.nativeimage.tier.ActiveEchoServer;
import isola.nativeimage.tier.CrashServer;
import isola.nativeimage.tier.EchoServer;
import isola.nativeimage.tier.NativeTier;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
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
            NativeRig.Served crash = rig.serve("crash", CrashServer.class.getName(), CrashServer.SERVICE);
            NativeRig.Served active = rig.serve("active", ActiveEchoServer.class.getName(), ActiveEchoServer.SERVICE);
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
        st = rig.call(t, echo.clientSlot, 0, 7);
        check(what + ": another isolate's server still answers", st == Status.OK && NativeRig.mr0(t) == 8,
                Status.name(st) + ", MR0 " + NativeRig.mr0(t));
        byte[] kernelHeap = new byte[32 << 20]; // the kernel's own heap still has room
        check(what + ": the kernel isolate still allocates", kernelHeap.length == 32 << 20, "");
    }

    /** The server restarts in a fresh isolate on the same endpoint, and the old isolate is torn down. */
    private void restarted(NativeRig rig, Tcb t, NativeRig.Served crash, String when) throws Exception {
        NativeTier.NativeServer old = crash.restart(null);
        int st = rig.call(t, crash.clientSlot, CrashServer.ECHO, 99);
        check("restart " + when + ": a fresh isolate serves the endpoint", st == Status.OK && NativeRig.mr0(t) == 100,
                Status.name(st) + ", MR0 " + NativeRig.mr0(t));
        check("restart " + when + ": the old isolate is torn down", old.tearDown(1_000_000_000L),
                "a thread stayed inside it for 1 s");
    }
}
