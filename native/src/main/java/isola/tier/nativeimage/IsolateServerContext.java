package isola.tier.nativeimage;

import isola.sdk.BaseServerContext;
import isola.sdk.Kept;
import isola.sdk.ServerContext;
import isola.sdk.Sys;
import java.util.Map;

/**
 * A native-tier server's {@link ServerContext}, inside its own isolate: its threads are kernel
 * threads whose OS threads run in this isolate ({@link IsolateGate#spawn}). Kept memory is the
 * region init allocated, seen here at the same address.
 */
final class IsolateServerContext extends BaseServerContext {
    private final IsolateGate gate;

    IsolateServerContext(String name, Sys sys, IsolateGate gate, Map<String, Integer> endpoints,
            Map<String, Integer> services, Map<String, isola.sdk.BlockDevice> devices, Kept kept, int keepSlot) {
        super(name, sys, endpoints, services, devices, kept, keepSlot);
        this.gate = gate;
    }

    @Override
    public void spawn(String threadName, int priority, ThreadBody body) {
        sys().check(gate.spawn(threadName, priority, body), "spawn " + threadName);
    }
}
