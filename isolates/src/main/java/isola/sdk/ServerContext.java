package isola.sdk;

/**
 * What a server gets at start: its domain's first thread, and ways to serve and to start more
 * threads. Everything else it reaches through the capabilities in its slots, which its
 * launcher granted.
 */
public interface ServerContext {
    /** The domain's name. */
    String name();

    /** The system-call interface of the thread running {@link Server#start}. */
    Sys sys();

    /**
     * The slot of the endpoint this server provides as {@code service} (in the boot manifest's
     * {@code provides}); an {@link IsolaException} naming the service if it provides no such one.
     */
    int endpoint(String service);

    /**
     * The slot of the capability to call {@code service} (in the boot manifest's {@code grants});
     * an {@link IsolaException} naming the service if it was not granted.
     */
    int service(String service);

    /**
     * The block device granted to this server as {@code device} (in the boot manifest's
     * {@code grants}, e.g. {@code disk0}); an {@link IsolaException} naming the device if it was
     * not granted or none is attached. Devices are reached only this way: their classes are
     * not visible to servers.
     */
    BlockDevice device(String device);

    /** What init kept for this server across its restarts ({@link Kept#NONE} if nothing). */
    Kept kept();

    /**
     * The slot of this server's keep capability, through which it changes what is kept
     * ({@link Keep}); an {@link IsolaException} if its launcher keeps nothing for it.
     */
    int keep();

    /** Serves the endpoint in {@code slot} passively with {@code handler}. */
    void servePassive(int slot, Handler handler);

    /**
     * Serves the endpoint in {@code slot} actively: starts {@code threads} threads at
     * {@code priority}, each in a receive loop calling {@code handler}.
     */
    void serveActive(int slot, Handler handler, int threads, int priority);

    /** Starts another thread in this domain running {@code body} with its own {@link Sys}. */
    void spawn(String name, int priority, ThreadBody body);

    @FunctionalInterface
    interface ThreadBody {
        void run(Sys sys) throws Exception;
    }
}
