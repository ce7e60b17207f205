package isola.bench;

import isola.kernel.Domain;
import isola.kernel.Endpoint;
import isola.kernel.Kernel;
import isola.kernel.KernelConfig;
import isola.kernel.Rights;
import isola.kernel.Tcb;
import isola.kernel.machine.ConcurrentMachine;
import isola.kernel.machine.HostedMachine;
import isola.sdk.Server;
import isola.sdk.Sys;
import isola.tier.vm.ServerJars;
import isola.tier.vm.VmTier;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * A concurrent machine with one echo server in a `vm`-tier domain of its own (loaded from a
 * server jar packed from {@code serverClass}) and a client domain holding a SEND capability to
 * the server's endpoint in slot {@link #CLIENT_SLOT}. The benchmark driver's JVM thread becomes
 * a kernel thread of the client domain with {@link #attachClient}.
 */
final class EchoSystem implements AutoCloseable {
    /** The client's slot of its capability to the server's endpoint. */
    static final int CLIENT_SLOT = 0;
    /** Capability slots of the server's and the client's domain. */
    static final int SLOTS = 64;
    /** Badge of the client's capability (the server sees it; nothing depends on it). */
    static final long BADGE = 7;
    /** Priority of the client thread. */
    static final int CLIENT_PRIORITY = 100;
    private static final long READY_TIMEOUT_NS = 10_000_000_000L;

    final ConcurrentMachine machine;
    final Kernel kernel;
    final VmTier.VmDomain server;
    final Endpoint endpoint;
    final Domain client;
    private final Path dir;

    /**
     * Packs {@code serverClass}'s package into a jar, loads it into a new domain, grants it the
     * endpoint in {@code serverSlot} (all rights), starts it and waits until {@code ready} says
     * it serves the endpoint.
     */
    EchoSystem(String name, Class<? extends Server> serverClass, int serverSlot, int priority,
            Predicate<Endpoint> ready) throws IOException, InterruptedException {
        dir = Files.createTempDirectory("isola-bench-");
        machine = HostedMachine.concurrent(KernelConfig.DEFAULT);
        kernel = machine.kernel();
        boolean ok = false;
        try {
            Path jar = ServerJars.pack(serverClass, dir.resolve(name + ".jar"));
            VmTier tier = new VmTier(machine);
            server = tier.load(name, jar, SLOTS, 16);
            Domain sd = server.domain();
            endpoint = kernel.createEndpoint(sd);
            kernel.installCap(sd, serverSlot, endpoint, Rights.ALL, 0);
            client = kernel.createDomain(name + "-client", SLOTS, 16);
            kernel.grantCap(sd, serverSlot, client, CLIENT_SLOT, Rights.SEND, BADGE);
            tier.start(server, priority);
            awaitReady(ready);
            ok = true;
        } finally {
            if (!ok) {
                close();
            }
        }
    }

    private void awaitReady(Predicate<Endpoint> ready) throws InterruptedException {
        long start = System.nanoTime();
        Domain sd = server.domain();
        while (!ready.test(endpoint)) {
            if (sd.faultCount() > 0 || sd.state() != Domain.RUNNING) {
                throw new IllegalStateException("server " + sd.name() + " (" + server.serverClass()
                        + ") failed to start: state " + Domain.stateName(sd.state()) + ", last fault "
                        + sd.lastFault(), sd.lastFault());
            }
            if (System.nanoTime() - start > READY_TIMEOUT_NS) {
                throw new IllegalStateException("server " + sd.name() + " (" + server.serverClass()
                        + ") does not serve " + endpoint + " after " + READY_TIMEOUT_NS / 1_000_000 + " ms");
            }
            Thread.sleep(1);
        }
    }

    /** A kernel thread of the client domain, bound to the calling JVM thread. */
    Client attachClient(String name) {
        Tcb t = kernel.createThread(client, name, CLIENT_PRIORITY);
        machine.attach(t);
        return new Client(t, Sys.of(kernel, t));
    }

    record Client(Tcb tcb, Sys sys) {
        /**
         * Re-binds the kernel thread to the calling JVM thread if the driver moved (a waker
         * unparks {@code tcb.runner}). Call only while the thread is not in a system call.
         */
        void rebindToCurrentThread() {
            Thread me = Thread.currentThread();
            if (tcb.runner != me) {
                tcb.runner = me;
            }
        }
    }

    @Override
    public void close() {
        try {
            if (server != null) {
                kernel.killDomainNow(server.domain());
            }
            if (client != null) {
                kernel.killDomainNow(client);
            }
            machine.close();
            machine.awaitRunners(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            deleteQuietly(dir);
        }
    }

    private static void deleteQuietly(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            System.err.println("isola bench: cannot delete " + dir + ": " + e);
        }
    }
}
