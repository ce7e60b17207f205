package isola.sdk;

import isola.kernel.Status;
import java.util.Map;

/**
 * What every isolation tier's {@link ServerContext} shares: the server's slots by service, what
 * init kept for it, and serving over its main thread's {@link Sys}. A tier adds how a thread of
 * the domain is started ({@link #spawn}).
 */
public abstract class BaseServerContext implements ServerContext {
    private final String name;
    private final Sys sys;
    private final Map<String, Integer> endpoints;
    private final Map<String, Integer> services;
    private final Map<String, BlockDevice> devices;
    private final Kept kept;
    private final int keepSlot;

    /** {@code keepSlot}: the keep capability's slot, or -1 if its launcher keeps nothing for it. */
    protected BaseServerContext(String name, Sys sys, Map<String, Integer> endpoints, Map<String, Integer> services,
            Map<String, BlockDevice> devices, Kept kept, int keepSlot) {
        this.name = name;
        this.sys = sys;
        this.endpoints = endpoints;
        this.services = services;
        this.devices = Map.copyOf(devices);
        this.kept = kept;
        this.keepSlot = keepSlot;
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final Sys sys() {
        return sys;
    }

    @Override
    public final int endpoint(String service) {
        return granted(endpoints, service, "provides no service", "");
    }

    @Override
    public final int service(String service) {
        return granted(services, service, "was not granted the service", "");
    }

    @Override
    public final BlockDevice device(String device) {
        return granted(devices, device, "was not granted the device", ", or none is attached");
    }

    /** What this server holds as {@code key}, or an error naming the key and what it does hold. */
    private <T> T granted(Map<String, T> held, String key, String problem, String detail) {
        T t = held.get(key);
        if (t == null) {
            throw new IsolaException(Status.E_EMPTY_SLOT, name + " " + problem + " '" + key + "'" + detail + " (it has: "
                    + (held.isEmpty() ? "none" : String.join(", ", new java.util.TreeSet<>(held.keySet()))) + ")");
        }
        return t;
    }

    @Override
    public final Kept kept() {
        return kept;
    }

    @Override
    public final int keep() {
        if (keepSlot < 0) {
            throw new IsolaException(Status.E_EMPTY_SLOT, name + " has no keep capability: its launcher keeps nothing for it");
        }
        return keepSlot;
    }

    @Override
    public final void servePassive(int slot, Handler handler) {
        sys.check(sys.servePassive(slot, handler), "servePassive slot " + slot);
    }

    @Override
    public final void serveActive(int slot, Handler handler, int threads, int priority) {
        sys.check(sys.serve(slot), "serveActive slot " + slot);
        for (int i = 0; i < threads; i++) {
            spawn("worker" + i, priority, s -> ActiveLoop.run(s, slot, handler));
        }
    }
}
