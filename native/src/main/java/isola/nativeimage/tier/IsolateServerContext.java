package isola.nativeimage.tier;

import isola.kernel.Status;
import isola.sdk.ActiveLoop;
import isola.sdk.Handler;
import isola.sdk.IsolaException;
import isola.sdk.Kept;
import isola.sdk.ServerContext;
import isola.sdk.Sys;
import java.util.Map;

/** A native-tier server's {@link ServerContext}, inside its own isolate. */
final class IsolateServerContext implements ServerContext {
    private final String name;
    private final Sys sys;
    private final Map<String, Integer> endpoints;
    private final IsolateGate gate;

    IsolateServerContext(String name, Sys sys, IsolateGate gate, Map<String, Integer> endpoints) {
        this.name = name;
        this.sys = sys;
        this.gate = gate;
        this.endpoints = endpoints;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Sys sys() {
        return sys;
    }

    @Override
    public int endpoint(String service) {
        Integer slot = endpoints.get(service);
        if (slot == null) {
            throw new IsolaException(Status.E_EMPTY_SLOT, name + " provides no service '" + service + "' (it has: "
                    + (endpoints.isEmpty() ? "none" : String.join(", ", endpoints.keySet())) + ")");
        }
        return slot;
    }

    @Override
    public int service(String service) {
        throw new IsolaException(Status.E_EMPTY_SLOT, name + " was not granted the service '" + service + "' (it has: none)");
    }

    @Override
    public Kept kept() {
        return Kept.NONE;
    }

    @Override
    public int keep() {
        throw new IsolaException(Status.E_EMPTY_SLOT, name + " has no keep capability: its launcher keeps nothing for it");
    }

    @Override
    public void servePassive(int slot, Handler handler) {
        sys.check(sys.servePassive(slot, handler), "servePassive slot " + slot);
    }

    @Override
    public void serveActive(int slot, Handler handler, int threads, int priority) {
        sys.check(sys.serve(slot), "serveActive slot " + slot);
        for (int i = 0; i < threads; i++) {
            spawn("worker" + i, priority, s -> ActiveLoop.run(s, slot, handler));
        }
    }

    @Override
    public void spawn(String threadName, int priority, ThreadBody body) {
        sys.check(gate.spawn(threadName, priority, body), "spawn " + threadName);
    }
}
