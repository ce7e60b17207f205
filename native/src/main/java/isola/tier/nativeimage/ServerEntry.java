package isola.tier.nativeimage;

import isola.kernel.KilledError;
import isola.sdk.Sys;
import org.graalvm.nativeimage.IsolateThread;
import org.graalvm.nativeimage.c.function.CEntryPoint;
import org.graalvm.nativeimage.c.function.CEntryPointLiteral;
import org.graalvm.nativeimage.c.function.CFunctionPointer;
import org.graalvm.nativeimage.c.function.InvokeCFunctionPointer;

/**
 * A server isolate's entry points, which the kernel isolate calls: start a server, run a
 * passive handler. They run in the server's isolate, on the kernel thread's own OS thread, and
 * never let an exception cross the boundary: a handler's failure is a negative result and its
 * text goes to the kernel first ({@link IsolateGate#reportFault}).
 */
final class ServerEntry {
    private ServerEntry() {}

    /**
     * Results of an entry that are not a reply tag: a fault (its text reported), the domain
     * killed, a fault whose text could not be reported; and, from the kernel's side, the
     * isolate closed (the call was refused before it crossed).
     */
    static final long FAULTED = -1, KILLED = -2, CLOSED = -3, FAULTED_UNREPORTED = -4;

    /**
     * The text of the fault an entry of thread {@code n} ended with ({@code r} FAULTED or
     * FAULTED_UNREPORTED), on the kernel's side: what the isolate reported, or, if it could not,
     * a text made here, so that even then the fault is named and reported.
     */
    static String faultText(long r, NativeThread n) {
        return r == FAULTED_UNREPORTED ? "the server's isolate failed and could not say why (reporting it failed too)"
                : n.faultText;
    }

    interface PassivePointer extends CFunctionPointer {
        @InvokeCFunctionPointer
        long invoke(IsolateThread server, int handler, int thread, long tcb, long utcb, long kernelThread);
    }

    interface StartPointer extends CFunctionPointer {
        @InvokeCFunctionPointer
        long invoke(IsolateThread server, long spec, int specLength, int thread, long tcb, long utcb, long kernelThread);
    }

    interface DetachPointer extends CFunctionPointer {
        @InvokeCFunctionPointer
        void invoke(IsolateThread server);
    }

    interface CountPointer extends CFunctionPointer {
        @InvokeCFunctionPointer
        int invoke(IsolateThread server);
    }

    interface NopPointer extends CFunctionPointer {
        @InvokeCFunctionPointer
        long invoke(IsolateThread server, long x);
    }

    // Created at image build time (this class is initialized there, see NativeFeature).
    static final CEntryPointLiteral<PassivePointer> PASSIVE = CEntryPointLiteral.create(ServerEntry.class, "passive",
            IsolateThread.class, int.class, int.class, long.class, long.class, long.class);
    static final CEntryPointLiteral<StartPointer> START = CEntryPointLiteral.create(ServerEntry.class, "start",
            IsolateThread.class, long.class, int.class, int.class, long.class, long.class, long.class);

    static final CEntryPointLiteral<PassivePointer> RUN = CEntryPointLiteral.create(ServerEntry.class, "run",
            IsolateThread.class, int.class, int.class, long.class, long.class, long.class);

    /** Runs thread body number {@code body} on the kernel thread {@code tcb}: 0 when it returns. */
    @CEntryPoint(publishAs = CEntryPoint.Publish.NotPublished)
    static long run(IsolateThread self, int body, int thread, long tcb, long utcb, long kernelThread) {
        try {
            Sys sys = ServerRuntime.sys(thread, tcb, utcb, kernelThread);
            RunawayStop stop = ServerRuntime.stop(thread);
            int armed = stop.arm(); // inside the try: where the stop's error is caught
            try {
                ServerRuntime.body(body).run(sys);
            } finally {
                stop.restore(armed);
            }
            return 0;
        } catch (Throwable e) {
            return failed(e, kernelThread, tcb);
        }
    }

    /**
     * What an entry returns for {@code e}: KILLED for the kill signal, else FAULTED, its text
     * reported to the kernel first. The report needs no heap here (see IsolateGate#reportFault);
     * should it fail all the same, the entry still returns, FAULTED_UNREPORTED: an exception
     * escaping a {@code @CEntryPoint} would end the whole process, every isolate with it.
     */
    private static long failed(Throwable e, long kernelThread, long tcb) {
        // All of it inside a try: a runaway stop (RunawayStop) may throw again here, in the
        // handler of a thread already unwinding from its kill, and an exception escaping the
        // entry point aborts the process (the native fault storm saw it).
        try {
            if (e instanceof KilledError) {
                return KILLED;
            }
            IsolateGate.reportFault(kernelThread, tcb, e);
            return FAULTED;
        } catch (Throwable again) {
            return e instanceof KilledError || again instanceof KilledError ? KILLED : FAULTED_UNREPORTED;
        }
    }

    static final CEntryPointLiteral<DetachPointer> DETACH_OTHERS = CEntryPointLiteral.create(ServerEntry.class,
            "detachOthers", IsolateThread.class);

    /**
     * Detaches every other thread that attached to this isolate from outside (callers and the
     * threads of earlier starts), as GraalVM's own teardown does once they are gone: here they
     * are elsewhere (none is inside: see ServerIsolate#tearDown) and may never come back to
     * detach themselves. The isolate's own threads (its reference handler) are left to teardown.
     */
    @CEntryPoint(publishAs = CEntryPoint.Publish.NotPublished)
    static void detachOthers(IsolateThread self) {
        com.oracle.svm.core.thread.VMThreads.detachAllThreadsExceptCurrentWithoutCleanupForTearDown();
    }

    static final CEntryPointLiteral<CountPointer> RELEASE = CEntryPointLiteral.create(ServerEntry.class, "release",
            IsolateThread.class);

    /**
     * Gives back what the isolate holds of the process's, which GraalVM's teardown does not:
     * runs what its libraries registered to run at its end (IsolateShutdown: Log4j closes its
     * files), then closes the host files its server left open (HostFiles: a disk image).
     * Returns how many host files it closed, or a negative number if closing one failed (see
     * HostFiles#closeAll). The host files are closed even in an isolate whose heap is
     * exhausted, where the callbacks fail: that needs no allocation.
     */
    @CEntryPoint(publishAs = CEntryPoint.Publish.NotPublished)
    static int release(IsolateThread self) {
        try {
            IsolateShutdown.runAll();
        } catch (Throwable e) { // no heap for even the copy of the list: what it would have closed stays open
            // nothing more can be done here, and nothing may escape an entry point
        }
        try {
            return isola.nativeimage.disk.HostFiles.closeAll();
        } catch (Throwable e) { // it allocates nothing and calls only close(2); but nothing may escape an entry point
            return Integer.MIN_VALUE;
        }
    }

    static final CEntryPointLiteral<NopPointer> NOP = CEntryPointLiteral.create(ServerEntry.class, "nop",
            IsolateThread.class, long.class);

    /** An empty entry: what crossing into an isolate and back costs, without the kernel. */
    @CEntryPoint(publishAs = CEntryPoint.Publish.NotPublished)
    static long nop(IsolateThread self, long x) {
        return x + 1;
    }

    /** Runs handler number {@code handler} for the kernel thread {@code tcb}, whose registers are at {@code utcb}. */
    @CEntryPoint(publishAs = CEntryPoint.Publish.NotPublished)
    static long passive(IsolateThread self, int handler, int thread, long tcb, long utcb, long kernelThread) {
        try {
            Sys sys = ServerRuntime.sys(thread, tcb, utcb, kernelThread);
            RunawayStop stop = ServerRuntime.stop(thread);
            int armed = stop.arm(); // inside the try: where the stop's error is caught
            try {
                return ServerRuntime.handler(handler).handle(sys);
            } finally {
                stop.restore(armed);
            }
        } catch (Throwable e) {
            return failed(e, kernelThread, tcb);
        }
    }

    /**
     * Starts the server {@code spec} describes (UTF-8 at {@code spec}: see {@link ServerRuntime#start})
     * on the kernel thread {@code tcb}; returns 0, or FAULTED with the failure reported.
     */
    @CEntryPoint(publishAs = CEntryPoint.Publish.NotPublished)
    static long start(IsolateThread self, long spec, int specLength, int thread, long tcb, long utcb, long kernelThread) {
        try {
            ServerRuntime.start(KernelEntry.getString(spec, specLength), thread, tcb, utcb, kernelThread);
            return 0;
        } catch (Throwable e) {
            return failed(e, kernelThread, tcb);
        }
    }
}
