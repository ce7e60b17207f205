package isola.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;

import isola.kernel.machine.ConcurrentMachine;
import isola.kernel.machine.DeterministicMachine;
import isola.kernel.machine.HostedMachine;
import isola.kernel.machine.SimulatedMachine;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Shared set-up for the IPC, scheduling, timeout, fault and replay tests: a machine, its kernel,
 * and short helpers to build domains, endpoints and threads.
 */
final class KernelRig {
    final HostedMachine machine;
    final Kernel k;
    /** Thread-safe record of events, for asserting orders of execution. */
    final List<String> log = Collections.synchronizedList(new ArrayList<>());
    /** Assertions that failed inside spawned threads. */
    final List<AssertionError> failures = Collections.synchronizedList(new ArrayList<>());

    KernelRig(HostedMachine machine) {
        this.machine = machine;
        this.k = machine.kernel();
    }

    static KernelRig deterministic() {
        return new KernelRig(HostedMachine.deterministic(KernelConfig.DEFAULT.withTrace(200_000)));
    }

    static KernelRig concurrent() {
        return new KernelRig(HostedMachine.concurrent(KernelConfig.DEFAULT));
    }

    /** A simulated multiprocessor (fast paths on) whose interleaving {@code seed} decides. */
    static KernelRig simulated(long seed) {
        return simulated(KernelConfig.DEFAULT.withTrace(200_000), seed);
    }

    static KernelRig simulated(KernelConfig config, long seed) {
        return new KernelRig(HostedMachine.simulated(config, seed));
    }

    SimulatedMachine sim() {
        return (SimulatedMachine) machine;
    }

    /** Runs the simulated machine until every spawned thread finished; fails otherwise. */
    void runSimulated() {
        int left = sim().run();
        check();
        assertEquals(0, left, "threads left waiting");
    }

    DeterministicMachine det() {
        return (DeterministicMachine) machine;
    }

    ConcurrentMachine conc() {
        return (ConcurrentMachine) machine;
    }

    long now() {
        return machine.now();
    }

    Domain domain(String name) {
        return k.createDomain(name, 32, 32);
    }

    /** Creates an endpoint owned by {@code d} with an all-rights capability in {@code slot}. */
    Endpoint endpoint(Domain d, int slot) {
        Endpoint ep = k.createEndpoint(d);
        k.installCap(d, slot, ep, Rights.ALL, 0);
        return ep;
    }

    /** As {@link #endpoint}, and {@code d} serves it (fast calls bind to its receivers). */
    Endpoint servedEndpoint(Domain d, int slot) {
        Endpoint ep = endpoint(d, slot);
        k.bindServer(ep, d);
        return ep;
    }

    /** Creates a notification owned by {@code d} with an all-rights capability in {@code slot}. */
    Notification notification(Domain d, int slot) {
        Notification n = k.createNotification(d);
        k.installCap(d, slot, n, Rights.ALL, 0);
        return n;
    }

    void grant(Domain from, int fromSlot, Domain to, int toSlot, int rights, long badge) {
        k.grantCap(from, fromSlot, to, toSlot, rights, badge);
    }

    Tcb thread(Domain d, String name, int priority) {
        return k.createThread(d, name, priority);
    }

    /**
     * Spawns a thread running {@code body}. A failed assertion in the body is recorded (and the
     * thread ends) rather than becoming a kernel fault; {@link #check} rethrows it.
     */
    Tcb spawn(Domain d, String name, int priority, ThreadBody body) {
        Tcb t = k.createThread(d, name, priority);
        machine.spawn(t, () -> {
            try {
                body.run(t);
            } catch (AssertionError e) {
                failures.add(e);
            }
        });
        return t;
    }

    /** Rethrows the first assertion that failed in a spawned thread, if any. */
    void check() {
        synchronized (failures) {
            if (!failures.isEmpty()) {
                AssertionError first = failures.get(0);
                for (int i = 1; i < failures.size(); i++) {
                    first.addSuppressed(failures.get(i));
                }
                throw first;
            }
        }
    }

    /** Runs the deterministic machine until every spawned thread finished; fails otherwise. */
    void runAll() {
        int left = det().run();
        check();
        assertEquals(0, left, "threads left blocked");
    }

    /**
     * Sleeps {@code ns} of (virtual) time: waits with a timeout on a notification in
     * {@code notifSlot} that nobody signals.
     */
    void sleep(Tcb t, int notifSlot, long ns) {
        assertEquals(Status.E_TIMEOUT, k.await(t, notifSlot, ns), "sleep of " + t.name());
    }

    void close() {
        machine.close();
    }

    static MemorySegment u(Tcb t) {
        return t.utcb();
    }

    static long mr(Tcb t, int i) {
        return Utcb.mr(t.utcb(), i);
    }

    static void setMr(Tcb t, int i, long v) {
        Utcb.setMr(t.utcb(), i, v);
    }

    static long tag(Tcb t) {
        return Utcb.tag(t.utcb());
    }

    static long badge(Tcb t) {
        return Utcb.badge(t.utcb());
    }

    @FunctionalInterface
    interface ThreadBody {
        void run(Tcb self);
    }
}
