package isola.tier.nativeimage;

import java.util.ArrayList;
import java.util.List;
import org.apache.logging.log4j.core.util.Cancellable;
import org.apache.logging.log4j.core.util.ShutdownCallbackRegistry;

/**
 * What a server isolate's libraries ask to run when it ends, run when the native tier tears it
 * down ({@link #runAll}). Log4j registers the stop of its context here (a server isolate's
 * {@code log4j.shutdownCallbackRegistry}, see NativeLogging): by default it would register a
 * JVM shutdown hook, which in an isolate runs at no teardown, so every incarnation of the log
 * server would leave its host log file open in the process.
 *
 * <p>Log4j instantiates it by name (registered for reflection in NativeFeature). Each isolate
 * has its own statics, so its own list.
 */
public final class IsolateShutdown implements ShutdownCallbackRegistry {
    private static final List<Runnable> callbacks = new ArrayList<>();

    public IsolateShutdown() {}

    @Override
    public Cancellable addShutdownCallback(Runnable callback) {
        synchronized (callbacks) {
            callbacks.add(callback);
        }
        return new Cancellable() {
            @Override
            public void cancel() {
                synchronized (callbacks) {
                    callbacks.remove(callback);
                }
            }

            @Override
            public void run() {
                callback.run();
            }
        };
    }

    /**
     * Runs the callbacks registered (newest first, as they depend on what came before) and
     * forgets them; answers how many failed, each named on stderr (the process's: a teardown
     * has no caller to tell). Runs in the isolate's teardown, when none of its server's
     * threads is inside it.
     */
    static int runAll() {
        List<Runnable> run;
        synchronized (callbacks) {
            run = new ArrayList<>(callbacks);
            callbacks.clear();
        }
        int failed = 0;
        for (int i = run.size() - 1; i >= 0; i--) {
            try {
                run.get(i).run();
            } catch (Throwable e) {
                failed++;
                System.err.println("isola native: a shutdown callback of a server isolate failed: " + e);
            }
        }
        return failed;
    }
}
