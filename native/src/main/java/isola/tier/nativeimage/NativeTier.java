package isola.tier.nativeimage;

import isola.kernel.Domain;
import isola.kernel.Tcb;
import isola.kernel.machine.HostedMachine;
import isola.tier.IsolationTier;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.graalvm.nativeimage.CurrentIsolate;
import org.graalvm.nativeimage.PinnedObject;
import org.graalvm.word.WordFactory;

/**
 * The native isolation tier, kernel side: each server domain runs in its own GraalVM isolate
 * ({@link ServerIsolate}), with its own heap and garbage collector. Its threads are kernel
 * threads whose OS threads enter the isolate; its passive handlers run on callers' threads
 * entering it ({@link IsolatePassiveEntry}); its system calls come back through
 * {@link KernelEntry}. Only code compiled into the executable can run as a server.
 */
public final class NativeTier implements IsolationTier {
    /**
     * The most heap one server isolate may use, in MiB: its OutOfMemoryError is its own, and a
     * server filling its heap cannot take the process's memory from the others.
     */
    public static final long SERVER_HEAP_MIB = 64;

    private final HostedMachine machine;

    public NativeTier(HostedMachine machine) {
        this.machine = machine;
        KernelEntry.install(this, machine.kernel());
        machine.onThreadExit(NativeThread::release);
    }

    /**
     * Starts a thread of {@code domain} running body number {@code body} of its isolate: a
     * kernel thread whose OS thread enters the isolate and stays there, making its system calls
     * back into the kernel. An exception it ends with is a thread fault of the domain. Returns
     * OK or the status of the thread's creation.
     */
    int spawn(ServerIsolate isolate, Domain domain, String name, int priority, int body) {
        Tcb t;
        try {
            t = machine.kernel().createThread(domain, name, priority);
        } catch (isola.kernel.KernelException e) {
            return e.status();
        }
        machine.spawn(t, () -> {
            NativeThread n = NativeThread.of(t);
            long r = inIsolate(isolate, n, thread -> ServerEntry.RUN.getFunctionPointer().invoke(WordFactory.pointer(thread),
                    body, n.index, n.handle, n.utcbAddress, CurrentIsolate.getCurrentThread().rawValue()));
            if (r == ServerEntry.KILLED) {
                throw isola.kernel.KilledError.INSTANCE;
            }
            if (r != 0) {
                throw new IsolatePassiveEntry.ServerIsolateFault(domain.name() + "/" + name + ": "
                        + (r == ServerEntry.CLOSED ? "its isolate is being torn down" : ServerEntry.faultText(r, n)));
            }
        });
        return isola.kernel.Status.OK;
    }

    /**
     * Runs {@code entry} (given this thread's isolate thread there) as a counted call into
     * {@code isolate}: how a kernel thread enters a server's isolate to start or run there.
     * Passive calls do the same inline, without the lambda ({@link IsolatePassiveEntry}).
     */
    private static long inIsolate(ServerIsolate isolate, NativeThread n, java.util.function.LongUnaryOperator entry) {
        long thread = isolate.enter(n);
        if (thread == 0) {
            return ServerEntry.CLOSED;
        }
        try {
            return entry.applyAsLong(thread);
        } finally {
            isolate.leave(n);
        }
    }

    /** A server running in its own isolate. */
    public static final class NativeServer {
        private final ServerIsolate isolate;

        NativeServer(ServerIsolate isolate) {
            this.isolate = isolate;
        }

        /** The isolate's name and address, as ps shows it. */
        public String isolate() {
            return isolate.toString();
        }

        /** Calls an empty entry point of the server's isolate {@code n} times on {@code caller}'s thread. */
        public long crossEmpty(Tcb caller, int n) {
            return isolate.crossEmpty(NativeThread.of(caller), n);
        }

        /**
         * Closes the isolate and tears it down once no thread is inside it (waiting at most
         * {@code timeoutNs}); false if a thread stayed inside (the isolate is then left in
         * place, closed).
         */
        public boolean tearDown(long timeoutNs) {
            return isolate.tearDown(timeoutNs);
        }

        /** Why the last {@link #tearDown} returned false (who stayed inside), or null. */
        public String leftInPlace() {
            return isolate.leftInPlace();
        }

        /**
         * Whether a call into the isolate from {@code caller}'s thread would be refused now (it
         * is closed), as it is for a caller that still holds the isolate's entry from before
         * the server was killed.
         */
        public boolean refusesCalls(Tcb caller) {
            NativeThread n = NativeThread.of(caller);
            if (isolate.enter(n) == 0) {
                return true;
            }
            isolate.leave(n);
            return false;
        }
    }

    /** Creates an isolate and tears it down; returns the nanoseconds each took. */
    public static long[] createAndTearDown(String name) {
        long t0 = System.nanoTime();
        ServerIsolate s = ServerIsolate.create(name);
        long t1 = System.nanoTime();
        s.tearDown(Long.MAX_VALUE);
        return new long[] {t1 - t0, System.nanoTime() - t1};
    }

    /**
     * Creates {@code domain}'s isolate and starts {@code serverClass} there on a new kernel
     * thread of the domain, with {@code endpoints} (service name to slot). Completes when the
     * server's {@code start} returned; exceptionally, naming the server, if it threw.
     */
    public CompletableFuture<NativeServer> start(Domain domain, String serverClass, Map<String, Integer> endpoints, int priority) {
        return start(prepare(domain.name()), domain, serverClass, endpoints, priority);
    }

    /** An isolate created ahead of need, for a server's next incarnation (creation takes milliseconds). */
    public static final class Standby {
        private final ServerIsolate isolate;

        private Standby(ServerIsolate isolate) {
            this.isolate = isolate;
        }
    }

    /** Creates an isolate for a later {@link #start(Standby, Domain, String, Map, int)}. */
    public Standby prepare(String name) {
        return new Standby(ServerIsolate.create(name));
    }

    /** As {@link #start(Domain, String, Map, int)}, in an isolate created ahead. */
    public CompletableFuture<NativeServer> start(Standby standby, Domain domain, String serverClass, Map<String, Integer> endpoints,
            int priority) {
        CompletableFuture<NativeServer> started = new CompletableFuture<>();
        startMain(standby.isolate, domain, serverClass, new StartInfo(endpoints, Map.of(), Map.of(), isola.sdk.Kept.NONE, -1), priority,
                started);
        return started;
    }

    // ---- as init's tier ----

    /** A server of a boot image made ready: its class (compiled into this executable) and an isolate. */
    record NativePrepared(String name, String serverClass, Standby standby) implements IsolationTier.Prepared {
        @Override
        public void discard() {
            standby.isolate.tearDown(1_000_000_000L);
        }
    }

    /** A server's domain and the isolate it will run in. */
    public record NativeLoaded(Domain domain, NativePrepared prepared) implements IsolationTier.Loaded {
        @Override
        public String isolation() {
            return "isolate " + prepared.standby.isolate;
        }
    }

    /**
     * Checks that the jar names a server class compiled into this executable (only those can run
     * here: a native image loads no classes) and creates its isolate.
     */
    @Override
    public NativePrepared prepare(String name, java.nio.file.Path jar) {
        String serverClass = isola.tier.vm.VmTier.serverClassOf(jar);
        try {
            Class.forName(serverClass);
        } catch (ClassNotFoundException | LinkageError e) {
            throw new IllegalArgumentException(jar + ": server class " + serverClass
                    + " is not compiled into this native executable, which loads no classes at run time (it holds the "
                    + "default image's servers and those NativeFeature names: add it there and rebuild with ./isola native, "
                    + "or boot the image in the vm tier with ./isola boot)");
        }
        return new NativePrepared(name, serverClass, prepare(name));
    }

    @Override
    public NativePrepared prepareAhead(String name, java.nio.file.Path jar) {
        return prepare(name, jar);
    }

    @Override
    public NativeLoaded load(IsolationTier.Prepared prepared, int slots, int quota) {
        if (!(prepared instanceof NativePrepared p)) {
            throw new IllegalArgumentException(prepared.name() + " was prepared by another tier, not the native tier");
        }
        Domain d = machine.kernel().createDomain(p.name(), slots, quota);
        NativeLoaded l = new NativeLoaded(d, p);
        d.backend = l;
        return l;
    }

    @Override
    public Tcb start(IsolationTier.Loaded loaded, int priority, StartInfo info) {
        if (!(loaded instanceof NativeLoaded l)) {
            throw new IllegalArgumentException(loaded.domain().name() + " was loaded by another tier, not the native tier");
        }
        return startMain(l.prepared().standby().isolate, l.domain(), l.prepared().serverClass(), info, priority,
                new CompletableFuture<>());
    }

    /**
     * Tears the dead incarnation's isolate down, on a thread of its own: it waits until no thread
     * is inside (a second at most; else the isolate stays, closed; see ServerIsolate#tearDown).
     */
    @Override
    public void release(IsolationTier.Loaded old) {
        if (old instanceof NativeLoaded l) {
            ServerIsolate isolate = l.prepared().standby().isolate;
            Thread.ofPlatform().daemon().name("isola-teardown-" + l.domain().name()).start(() -> {
                if (!isolate.tearDown(1_000_000_000L)) {
                    System.err.println("isola native: the isolate " + isolate + " of a dead incarnation is left in place, closed: "
                            + isolate.leftInPlace());
                }
            });
        }
    }

    /**
     * What the server's isolate is told at start ({@link ServerRuntime#start} reads it): lines
     * of name, class, then "e service slot", "s service slot", "k keepSlot", "v key value"
     * (Base64), "c key slot" (key in Base64), "d device path" (path in Base64) for each granted
     * disk, which the isolate opens itself (it cannot share the launcher's descriptor object),
     * "m address size" for the kept memory, "w address" for the isolate's kill word
     * ({@link RunawayStop}).
     */
    private static String spec(ServerIsolate isolate, Domain domain, String serverClass, StartInfo info) {
        var b64 = java.util.Base64.getEncoder();
        StringBuilder spec = new StringBuilder(domain.name()).append('\n').append(serverClass);
        info.endpoints().forEach((svc, slot) -> spec.append("\ne ").append(svc).append(' ').append(slot));
        info.services().forEach((svc, slot) -> spec.append("\ns ").append(svc).append(' ').append(slot));
        spec.append("\nk ").append(info.keepSlot());
        info.kept().values().forEach((k, v) -> spec.append("\nv ").append(b64.encodeToString(k.getBytes(StandardCharsets.UTF_8)))
                .append(' ').append(b64.encodeToString(v.getBytes(StandardCharsets.UTF_8))));
        info.kept().caps().forEach((k, slot) -> spec.append("\nc ").append(b64.encodeToString(k.getBytes(StandardCharsets.UTF_8)))
                .append(' ').append(slot));
        info.devices().forEach((device, disk) -> spec.append("\nd ").append(device).append(' ')
                .append(b64.encodeToString(disk.path().toAbsolutePath().toString().getBytes(StandardCharsets.UTF_8))));
        java.lang.foreign.MemorySegment m = info.kept().memory();
        spec.append("\nm ").append(m.address()).append(' ').append(m.byteSize());
        spec.append("\nw ").append(isolate.killWord);
        return spec.toString();
    }

    /** Starts the server's main thread in {@code isolate}; completes {@code started} once its start returned. */
    private Tcb startMain(ServerIsolate isolate, Domain domain, String serverClass, StartInfo info, int priority,
            CompletableFuture<NativeServer> started) {
        byte[] bytes = spec(isolate, domain, serverClass, info).getBytes(StandardCharsets.UTF_8);
        Tcb t = machine.kernel().createThread(domain, "main", priority);
        machine.spawn(t, () -> {
            NativeThread n = NativeThread.of(t);
            long r;
            try (PinnedObject p = PinnedObject.create(bytes)) {
                r = inIsolate(isolate, n, thread -> ServerEntry.START.getFunctionPointer().invoke(WordFactory.pointer(thread),
                        p.addressOfArrayElement(0).rawValue(), bytes.length, n.index, n.handle, n.utcbAddress,
                        CurrentIsolate.getCurrentThread().rawValue()));
            }
            if (r == 0) {
                started.complete(new NativeServer(isolate));
            } else {
                IllegalStateException e = new IllegalStateException(domain.name() + " (" + serverClass
                        + ") failed to start in its isolate: " + (r == ServerEntry.CLOSED ? "the isolate was torn down" : ServerEntry.faultText(r, n)));
                started.completeExceptionally(e);
                throw e; // a fault of the domain, as in the vm tier
            }
        });
        return t;
    }
}
