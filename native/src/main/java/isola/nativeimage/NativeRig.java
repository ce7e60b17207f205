package isola.nativeimage;

import isola.kernel.Domain;
import isola.kernel.Endpoint;
import isola.kernel.Kernel;
import isola.kernel.KernelConfig;
import isola.kernel.Rights;
import isola.kernel.Tag;
import isola.kernel.Tcb;
import isola.kernel.Utcb;
import isola.kernel.hosted.ConcurrentMachine;
import isola.kernel.hosted.HostedMachine;
import isola.nativeimage.tier.NativeTier;
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

    /** A server running in an isolate, the endpoint it serves and the client's slot for it. */
    final class Served {
        final String name;
        final String serverClass;
        final String service;
        final Endpoint endpoint;
        final int clientSlot;
        Domain domain;
        NativeTier.NativeServer server;

        private Served(String name, String serverClass, String service) {
            this.name = name;
            this.serverClass = serverClass;
            this.service = service;
            this.endpoint = kernel.createEndpoint(client);
            kernel.installCap(client, 0, endpoint, Rights.ALL, 0);
            this.clientSlot = nextClientSlot++;
            kernel.grantCap(client, 0, client, clientSlot, Rights.SEND, clientSlot);
            kernel.deleteCap(client, 0);
        }

        /** Starts the server's first or next incarnation in {@code standby} (null: a new isolate) on the endpoint. */
        void start(NativeTier.Standby standby) throws ExecutionException, InterruptedException {
            Domain d = kernel.createDomain(name, 16, 16);
            kernel.installCap(d, 1, endpoint, Rights.ALL, 0);
            kernel.rebindEndpoint(endpoint, d);
            var started = standby == null
                    ? tier.start(d, serverClass, Map.of(service, 1), PRIORITY)
                    : tier.start(standby, d, serverClass, Map.of(service, 1), PRIORITY);
            server = started.get();
            domain = d;
        }

        /**
         * Restarts it as a supervisor would: the crashed domain is killed (callers wait for the
         * next incarnation), the next one starts on the same endpoint, then the old isolate is
         * torn down. Returns the old incarnation's server, already torn down.
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

    Served serve(String name, String serverClass, String service) throws ExecutionException, InterruptedException {
        Served s = new Served(name, serverClass, service);
        s.start(null);
        return s;
    }

    /** Runs {@code body} on a new kernel thread of the client domain and waits for it. */
    void onClientThread(String name, ClientBody body) throws Exception {
        Tcb t = kernel.createThread(client, name, PRIORITY);
        Exception[] failure = new Exception[1];
        Error[] error = new Error[1];
        Thread runner = machine.spawn(t, () -> {
            try {
                body.run(t);
            } catch (Exception e) {
                failure[0] = e;
            } catch (Error e) {
                error[0] = e;
            }
        });
        runner.join();
        if (error[0] != null) {
            throw error[0];
        }
        if (failure[0] != null) {
            throw failure[0];
        }
    }

    @FunctionalInterface
    interface ClientBody {
        void run(Tcb self) throws Exception;
    }

    /** One call with {@code label} and MR0 = {@code value} through {@code slot}; returns the status. */
    int call(Tcb t, int slot, int label, long value) {
        Utcb.setMr(t.utcb(), 0, value);
        return kernel.call(t, slot, Tag.of(label, 1), Kernel.FOREVER);
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

    @Override
    public void close() {
        machine.close();
    }
}
