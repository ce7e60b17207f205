package isola.nativeimage;

import isola.kernel.Domain;
import isola.kernel.Endpoint;
import isola.kernel.Kernel;
import isola.kernel.KernelConfig;
import isola.kernel.Rights;
import isola.kernel.Tag;
import isola.kernel.Tcb;
import isola.kernel.Utcb;
import isola.kernel.machine.ConcurrentMachine;
import isola.kernel.machine.HostedMachine;
import isola.tier.nativeimage.NativeTier;
import java.util.Map;
import java.util.concurrent.ExecutionException;

/**
 * A kernel with servers in their own isolates and a client domain, as the self-test and the
 * benchmarks use it: start a server on a fresh endpoint, restart it on the same endpoint the way
 * the supervisor does, call it from a client thread.
 */
final class NativeRig implements AutoCloseable {
    static final int PRIORITY = 10;
    final ConcurrentMachine machine = HostedMachine.concurrent(KernelConfig.DEFAULT);
    final Kernel kernel = machine.kernel();
    final NativeTier tier = new NativeTier(machine);
    final Domain client = kernel.createDomain("client", 16, 16);
    private int nextClientSlot = 1;
    /** The client's slot for the rig's fault endpoint (see {@link #reportFaults}). */
    static final int FAULT_SLOT = 15;
    /** Where the servers whose layout says so report their faults, as init points every server at the supervisor. */
    private final Endpoint faults = kernel.createEndpoint(client);

    NativeRig() {
        kernel.installCap(client, FAULT_SLOT, faults, Rights.ALL, 0);
    }

    /**
     * A {@link Layout#setUp} step: {@code d}'s faults go to the rig's fault endpoint, where a
     * client thread takes them with {@link #awaitFault}, as the supervisor does.
     */
    void reportFaults(Domain d) {
        kernel.setFaultEndpoint(d, faults, 0);
    }

    /** A fault message as the kernel sends it (label 0xFA: MR0 kind, MR2 domain), or the status of waiting for one. */
    record Fault(int status, int label, long kind, long domain) {
        boolean of(Domain d) {
            return status == isola.kernel.Status.OK && label == Domain.FAULT_LABEL && domain == d.id();
        }
    }

    /**
     * Waits at most {@code timeoutNs} on {@code t} for the next fault message. The caller then
     * restarts the server and answers it ({@link #answerFault}), as the supervisor does.
     */
    Fault awaitFault(Tcb t, long timeoutNs) {
        int st = kernel.recv(t, FAULT_SLOT, timeoutNs);
        var u = t.utcb();
        return st != isola.kernel.Status.OK ? new Fault(st, -1, -1, -1)
                : new Fault(st, Tag.label(Utcb.tag(u)), Utcb.mr(u, 0), Utcb.mr(u, 2));
    }

    /** Answers the fault message {@code t} took: kill (the server was restarted meanwhile). Returns the status. */
    int answerFault(Tcb t) {
        return kernel.reply(t, Tag.of(Domain.FAULT_KILL, 0));
    }

    /** A server running in an isolate, the endpoint it serves and the client's slot for it. */
    final class Served {
        final String name;
        final String serverClass;
        final String service;
        final Endpoint endpoint;
        final int clientSlot;
        private final Layout layout;
        Domain domain;
        NativeTier.NativeServer server;

        private Served(String name, String serverClass, String service, Layout layout) {
            this.name = name;
            this.serverClass = serverClass;
            this.service = service;
            this.layout = layout;
            this.endpoint = kernel.createEndpoint(client);
            kernel.installCap(client, 0, endpoint, Rights.ALL, 0);
            this.clientSlot = nextClientSlot++;
            kernel.grantCap(client, 0, client, clientSlot, Rights.SEND, clientSlot);
            kernel.deleteCap(client, 0);
        }

        /** Starts the server's first or next incarnation in {@code standby} (null: a new isolate) on the endpoint. */
        void start(NativeTier.Standby standby) throws ExecutionException, InterruptedException {
            Domain d = kernel.createDomain(name, layout.slots, layout.quota);
            kernel.installCap(d, layout.slot, endpoint, Rights.ALL, 0);
            layout.setUp.accept(d);
            kernel.rebindEndpoint(endpoint, d);
            var started = standby == null
                    ? tier.start(d, serverClass, Map.of(service, layout.slot), PRIORITY)
                    : tier.start(standby, d, serverClass, Map.of(service, layout.slot), PRIORITY);
            server = started.get();
            domain = d;
        }

        /**
         * Restarts it as a supervisor would: the crashed domain is killed (callers wait for the
         * next incarnation) and the next one starts on the same endpoint. Returns the old
         * incarnation's server, whose isolate the caller tears down.
         */
        NativeTier.NativeServer restart(NativeTier.Standby standby) throws ExecutionException, InterruptedException {
            NativeTier.NativeServer old = server;
            kernel.killForRestart(domain);
            start(standby);
            return old;
        }
    }

    /**
     * The baseline server: a passive echo (MR0 + 1) bound in the kernel's own isolate, no
     * crossing. Returns the client's slot for it.
     */
    int serveInKernel(String name) {
        Domain d = kernel.createDomain(name, 8, 8);
        Endpoint ep = kernel.createEndpoint(d);
        kernel.installCap(d, 1, ep, Rights.ALL, 0);
        kernel.bindPassive(ep, d, caller -> {
            Utcb.setMr(caller.utcb(), 0, Utcb.mr(caller.utcb(), 0) + 1);
            return Tag.of(0, 1);
        });
        int slot = nextClientSlot++;
        kernel.grantCap(d, 1, client, slot, Rights.SEND, slot);
        return slot;
    }

    /**
     * A server domain's shape: the slot of the endpoint it serves, its slot count and frame
     * quota, and what to do to each new domain of it before the server starts (give it a pager).
     */
    record Layout(int slot, int slots, int quota, java.util.function.Consumer<Domain> setUp) {
        static final Layout SMALL = new Layout(1, 16, 16, d -> {});
    }

    Served serve(String name, String serverClass, String service) throws ExecutionException, InterruptedException {
        return serve(name, serverClass, service, Layout.SMALL);
    }

    Served serve(String name, String serverClass, String service, Layout layout) throws ExecutionException, InterruptedException {
        Served s = new Served(name, serverClass, service, layout);
        s.start(null);
        return s;
    }

    /** Runs {@code body} on a new kernel thread of the client domain and waits for it. */
    void onClientThread(String name, ClientBody body) throws Exception {
        startOnClientThread(name, body).join();
    }

    /** Starts {@code body} on a new kernel thread of the client domain. */
    Running startOnClientThread(String name, ClientBody body) {
        Tcb t = kernel.createThread(client, name, PRIORITY);
        Running r = new Running();
        r.thread = machine.spawn(t, () -> {
            try {
                body.run(t);
            } catch (Throwable e) {
                r.failure = e;
            }
        });
        return r;
    }

    /** A client thread's run: {@link #join} waits for it and throws what it threw. */
    static final class Running {
        private Thread thread;
        private volatile Throwable failure;

        void join() throws Exception {
            join(0);
        }

        /**
         * Waits at most {@code timeoutMs} (0: for ever); false if the thread is still running
         * then: what a test reports as a hang instead of hanging itself. Throws what it threw.
         */
        boolean join(long timeoutMs) throws Exception {
            thread.join(timeoutMs);
            if (thread.isAlive()) {
                return false;
            }
            if (failure instanceof Exception e) {
                throw e;
            }
            if (failure instanceof Error e) {
                throw e;
            }
            return true;
        }
    }

    @FunctionalInterface
    interface ClientBody {
        void run(Tcb self) throws Exception;
    }

    /** One call with {@code label} and {@code mrs} in MR0.. through {@code slot}; returns the status. */
    int call(Tcb t, int slot, int label, long... mrs) {
        return callWithin(t, Kernel.FOREVER, slot, label, mrs);
    }

    /** As {@link #call}, with a deadline: E_TIMEOUT if it is not answered within {@code timeoutNs}. */
    int callWithin(Tcb t, long timeoutNs, int slot, int label, long... mrs) {
        for (int i = 0; i < mrs.length; i++) {
            Utcb.setMr(t.utcb(), i, mrs[i]);
        }
        return kernel.call(t, slot, Tag.of(label, mrs.length), timeoutNs);
    }

    /** {@code n} echo calls through {@code slot}, each reply checked (MR0 + 1). */
    void calls(Tcb t, int slot, int n) {
        var u = t.utcb();
        for (int i = 0; i < n; i++) {
            Utcb.setMr(u, 0, i);
            int st = kernel.call(t, slot, Tag.of(1, 1), Kernel.FOREVER);
            if (st != isola.kernel.Status.OK || Utcb.mr(u, 0) != i + 1) {
                throw new IllegalStateException("call " + i + " through slot " + slot + ": "
                        + isola.kernel.Status.name(st) + ", MR0 " + Utcb.mr(u, 0));
            }
        }
    }

    static long mr0(Tcb t) {
        return Utcb.mr(t.utcb(), 0);
    }

    /** The label of the reply {@code t} got. */
    static int label(Tcb t) {
        return Tag.label(Utcb.tag(t.utcb()));
    }

    @Override
    public void close() {
        machine.close();
    }
}
