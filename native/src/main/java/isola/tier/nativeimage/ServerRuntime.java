package isola.tier.nativeimage;

import com.oracle.svm.core.AlwaysInline;
import isola.kernel.Utcb;
import isola.sdk.Handler;
import isola.sdk.Server;
import isola.sdk.Sys;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A server isolate's own state: its passive handlers and the {@code Sys} of each kernel thread
 * that entered it. Initialized at run time, so every isolate has its own.
 */
final class ServerRuntime {
    private ServerRuntime() {}

    static {
        NativeLogging.configureServerIsolate(); // each isolate has its own system properties
    }

    private static final int MAX_HANDLERS = 64;
    private static final Handler[] handlers = new Handler[MAX_HANDLERS];
    private static int handlerCount;
    private static final Sys[] sys = new Sys[NativeThread.MAX];
    private static final IsolateGate[] gates = new IsolateGate[NativeThread.MAX];
    /** What each cached Sys was made for: its thread's handle, UTCB and kernel-isolate thread. */
    private static final long[] sysTcb = new long[NativeThread.MAX], sysUtcb = new long[NativeThread.MAX],
            sysKernelThread = new long[NativeThread.MAX];

    static synchronized int register(Handler h) {
        if (handlerCount == MAX_HANDLERS) {
            throw new IllegalStateException("a server may serve at most " + MAX_HANDLERS + " endpoints passively");
        }
        handlers[handlerCount] = h;
        return handlerCount++;
    }

    static Handler handler(int i) {
        return handlers[i];
    }

    private static final int MAX_BODIES = 256;
    private static final isola.sdk.ServerContext.ThreadBody[] bodies = new isola.sdk.ServerContext.ThreadBody[MAX_BODIES];
    private static int bodyCount;

    /** Registers a thread body for a spawn; its number names it to the kernel. */
    static synchronized int registerBody(isola.sdk.ServerContext.ThreadBody b) {
        if (bodyCount == MAX_BODIES) {
            throw new IllegalStateException("a server may start at most " + MAX_BODIES + " threads");
        }
        bodies[bodyCount] = b;
        return bodyCount++;
    }

    static isola.sdk.ServerContext.ThreadBody body(int i) {
        return bodies[i];
    }

    /**
     * The Sys of kernel thread {@code tcb} in this isolate. Index {@code thread} belongs to one OS
     * thread at a time, so its entries need no lock; a new kernel thread under a reused index
     * (a new UTCB, handle or OS thread) gets a new Sys.
     */
    @AlwaysInline("on every passive call")
    static Sys sys(int thread, long tcb, long utcb, long kernelThread) {
        Sys s = sys[thread];
        if (s == null || sysTcb[thread] != tcb || sysUtcb[thread] != utcb || sysKernelThread[thread] != kernelThread) {
            RunawayStop stop = RunawayStop.register(); // a new kernel thread here: its OS thread may be new to this isolate
            IsolateGate g = new IsolateGate(kernelThread, tcb, stop);
            s = Sys.over(g, MemorySegment.ofAddress(utcb).reinterpret(Utcb.SIZE));
            gates[thread] = g;
            sys[thread] = s;
            sysTcb[thread] = tcb;
            sysUtcb[thread] = utcb;
            sysKernelThread[thread] = kernelThread;
        }
        return s;
    }

    /** The runaway stop of thread index {@code thread} (its gate's), made by the {@link #sys} call of its entry. */
    @AlwaysInline("on every passive call")
    static RunawayStop stop(int thread) {
        return gates[thread].stop();
    }

    /** Instantiates and starts a server, as NativeTier#spec describes it. */
    static void start(String spec, int thread, long tcb, long utcb, long kernelThread) throws Exception {
        // The error that unwinds a killed thread, its class initialized now, before anything can
        // be killed: initialized at the first kill instead, a runaway stop firing inside that
        // initialization's locking aborted the executable ("There must be a recurring callback
        // exception pending", in the native fault storm).
        if (isola.kernel.KilledError.INSTANCE == null) {
            throw new IllegalStateException("no KilledError");
        }
        Sys main = sys(thread, tcb, utcb, kernelThread);
        String[] lines = spec.split("\n");
        var b64 = java.util.Base64.getDecoder();
        Map<String, Integer> endpoints = new LinkedHashMap<>(), services = new LinkedHashMap<>(), caps = new LinkedHashMap<>();
        Map<String, String> values = new LinkedHashMap<>();
        Map<String, isola.sdk.BlockDevice> devices = new LinkedHashMap<>();
        int keepSlot = -1;
        MemorySegment memory = MemorySegment.NULL;
        for (int i = 2; i < lines.length; i++) {
            String[] f = lines[i].split(" ");
            switch (f[0]) {
                case "e" -> endpoints.put(f[1], Integer.parseInt(f[2]));
                case "s" -> services.put(f[1], Integer.parseInt(f[2]));
                case "k" -> keepSlot = Integer.parseInt(f[1]);
                case "v" -> values.put(new String(b64.decode(f[1]), java.nio.charset.StandardCharsets.UTF_8),
                        new String(b64.decode(f[2]), java.nio.charset.StandardCharsets.UTF_8));
                case "c" -> caps.put(new String(b64.decode(f[1]), java.nio.charset.StandardCharsets.UTF_8), Integer.parseInt(f[2]));
                case "d" -> devices.put(f[1], openDisk(f[1], new String(b64.decode(f[2]), java.nio.charset.StandardCharsets.UTF_8)));
                case "w" -> RunawayStop.watch(Long.parseLong(f[1]));
                case "m" -> {
                    long size = Long.parseLong(f[2]);
                    memory = size == 0 ? MemorySegment.NULL : MemorySegment.ofAddress(Long.parseLong(f[1])).reinterpret(size);
                }
                default -> throw new IllegalArgumentException("bad start line: " + lines[i]);
            }
        }
        RunawayStop stop = stop(thread);
        int armed = stop.arm(); // the server's code from here (its class's initialization too); the entry's try catches the stop
        try {
            Class<?> c = Class.forName(lines[1]);
            Server server = (Server) c.getConstructor().newInstance();
            server.start(new IsolateServerContext(lines[0], main, gates[thread], endpoints, services, devices,
                    new isola.sdk.Kept(values, caps, memory), keepSlot));
        } finally {
            stop.restore(armed);
        }
    }

    /** The granted disk, opened in this isolate (its descriptor closes with the isolate). */
    private static isola.sdk.BlockDevice openDisk(String device, String path) {
        try {
            return isola.device.HostDisk.open(java.nio.file.Path.of(path), false);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("device " + device + ": " + e.getMessage(), e);
        }
    }
}
