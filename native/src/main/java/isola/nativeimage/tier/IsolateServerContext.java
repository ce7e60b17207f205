package isola.nativeimage.tier;

import isola.sdk.BaseServerContext;
import isola.sdk.Kept;
import isola.sdk.ServerContext;
import isola.sdk.Sys;
import java.util.Map;

/**
 * A native-tier server's {@link ServerContext}, inside its own isolate: its threads are kernel
 * threads whose OS threads run in this isolate ({@link IsolateGate#spawn}). It grants no services
 * and keeps nothing yet: init does not start native-tier servers yet (the self-test and the
 * benchmarks do).
 */
final class IsolateServerContext extends BaseServerContext {
    private final IsolateGate gate;

    IsolateServerContext(String name, Sys sys, IsolateGate gate, Map<String, Integer> endpoints) {
        super(name, sys, endpoints, Map.of(), Kept.NONE, -1);
        this.gate = gate;
    }

    @Override
    public void spawn(String threadName, int priority, ThreadBody body) {
        sys().check(gate.spawn(threadName, priority, body), "spawn " + threadName);
    }
}
