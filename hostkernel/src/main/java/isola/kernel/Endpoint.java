package isola.kernel;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A synchronous IPC endpoint.
 *
 * <p>Two fields are read by the fast path without the kernel lock. {@link #fastReceiver} is the
 * thread that last received here with no timeout; it stays bound ("sticky") while it serves, and
 * it is <em>available</em> exactly when its wake word says it waits to receive on this endpoint,
 * so a client claims it with one CAS on the receiver's own UTCB line and the endpoint itself is
 * not written per message. {@link #hasSenders} tells a re-arming receiver that senders queued
 * under the lock, so it takes the slow path and serves them in priority order. The queues change
 * only under the lock.
 */
public final class Endpoint extends KernelObject {
    static final VarHandle FAST_RECEIVER;

    static {
        try {
            FAST_RECEIVER = MethodHandles.lookup().findVarHandle(Endpoint.class, "fastReceiver", Tcb.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    volatile Tcb fastReceiver;
    volatile boolean hasSenders;
    final TcbQueue senders = new TcbQueue();
    final TcbQueue receivers = new TcbQueue();
    /** The domain that serves this endpoint: calls fail with E_DEAD_DOMAIN once it dies. */
    Domain server;
    /**
     * Non-null for a passive server: the handler runs on the caller's thread. Written under the
     * lock, read by a passive call without it, once: see {@link Passive}.
     */
    Passive passive;

    /**
     * A passive server's domain and handler entry, bound together and read with one load. A
     * call that read the domain and the entry separately could pair a restarted server's new
     * domain with its dead incarnation's entry (or with none, between the rebind and the new
     * bind): the dead entry refuses the call, and the fault would be charged to the new
     * incarnation, which the supervisor would then restart for nothing.
     */
    record Passive(Domain server, PassiveEntry entry) {}

    Endpoint(int id) {
        super(ObjectType.ENDPOINT, id);
    }

    public Domain server() {
        return server;
    }

    public boolean isPassive() {
        return passive != null;
    }

    public int queuedSenders() {
        return senders.size;
    }

    public int waitingReceivers() {
        Tcb r = fastReceiver;
        boolean fastWaiting = r != null && Utcb.isReceiving(Utcb.wakeWord(r.utcb));
        return receivers.size + (fastWaiting ? 1 : 0);
    }

    /** Lock held: the senders queue changed. */
    void sendersChanged() {
        boolean any = !senders.isEmpty();
        if (hasSenders != any) {
            hasSenders = any;
        }
    }
}
