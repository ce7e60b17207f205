package isola.nativeimage.tier;

import com.oracle.svm.core.AlwaysInline;
import java.util.concurrent.ConcurrentHashMap;
import org.graalvm.nativeimage.Isolate;
import org.graalvm.nativeimage.IsolateThread;
import org.graalvm.nativeimage.Isolates;
import org.graalvm.word.WordFactory;

/**
 * The kernel isolate's handle on a server domain's GraalVM isolate: its own heap and garbage
 * collector, entered through {@code @CEntryPoint} calls ({@link ServerEntry}). Each OS thread
 * that enters it is attached once; its isolate thread is kept by {@link NativeThread} index.
 */
final class ServerIsolate {
    private static final ConcurrentHashMap<Long, ServerIsolate> byIsolate = new ConcurrentHashMap<>();

    final String name;
    final long isolate;
    /** Isolate thread per NativeThread index (raw words; 0: not attached yet). */
    private final long[] threads = new long[NativeThread.MAX];

    private ServerIsolate(String name, long isolate) {
        this.name = name;
        this.isolate = isolate;
    }

    /** Creates the isolate; the calling OS thread is attached to it (and returned in {@code creator}). */
    static ServerIsolate create(String name) {
        IsolateThread t = Isolates.createIsolate(Isolates.CreateIsolateParameters.getDefault());
        Isolate i = Isolates.getIsolate(t);
        ServerIsolate s = new ServerIsolate(name, i.rawValue());
        byIsolate.put(s.isolate, s);
        return s;
    }

    static ServerIsolate of(long isolate) {
        ServerIsolate s = byIsolate.get(isolate);
        if (s == null) {
            throw new IllegalArgumentException("no server isolate at 0x" + Long.toHexString(isolate));
        }
        return s;
    }

    /** This OS thread's isolate thread in this isolate, attaching it on first entry. */
    @AlwaysInline("on every passive call into a server isolate")
    long threadFor(NativeThread n) {
        long t = threads[n.index];
        return t != 0 ? t : attach(n);
    }

    private long attach(NativeThread n) {
        long t = Isolates.attachCurrentThread(WordFactory.pointer(isolate)).rawValue();
        threads[n.index] = t;
        return t;
    }

    /** Detaches thread {@code n} from every isolate it entered (on its own OS thread, as it ends). */
    static void detachAll(NativeThread n) {
        for (ServerIsolate s : byIsolate.values()) {
            long t = s.threads[n.index];
            if (t != 0) {
                s.threads[n.index] = 0;
                Isolates.detachThread(WordFactory.pointer(t));
            }
        }
    }

    /** The calling OS thread's isolate thread here, attaching it if needed (slow path: start, teardown). */
    long currentThread() {
        return Isolates.attachCurrentThread(WordFactory.pointer(isolate)).rawValue();
    }

    /** Calls an empty entry point in this isolate {@code n} times from the calling thread (benchmark floor). */
    long crossEmpty(NativeThread thread, int n) {
        var nop = ServerEntry.NOP.getFunctionPointer();
        org.graalvm.nativeimage.IsolateThread t = WordFactory.pointer(threadFor(thread));
        long x = 0;
        for (int i = 0; i < n; i++) {
            x = nop.invoke(t, x);
        }
        return x;
    }

    /** Tears the isolate down: its heap and every thread attached to it go. No thread may be inside it. */
    void tearDown() {
        byIsolate.remove(isolate);
        Isolates.tearDownIsolate(WordFactory.pointer(currentThread()));
    }

    @Override
    public String toString() {
        return name + "@0x" + Long.toHexString(isolate);
    }
}
