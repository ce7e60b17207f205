package isola.kernel;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A synchronous IPC endpoint. Its {@link #state} word is the one piece of endpoint state the
 * fast path touches without the kernel lock:
 * <ul>
 *   <li>{@code null}: nobody waits;
 *   <li>a {@link Tcb}: exactly that receiver waits, with no timeout ("fast-armed");
 *   <li>{@link #SENDERS}: senders wait in {@link #senders} (lock);
 *   <li>{@link #RECEIVERS}: receivers wait in {@link #receivers} (lock).
 * </ul>
 * The fast path only moves {@code null <-> Tcb}; the queued states are entered and left under
 * the lock, so a locked path that sees a queued state knows it is stable.
 */
public final class Endpoint extends KernelObject {
    static final Object SENDERS = new Object();
    static final Object RECEIVERS = new Object();
    static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Endpoint.class, "state", Object.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    volatile Object state;
    final TcbQueue senders = new TcbQueue();
    final TcbQueue receivers = new TcbQueue();
    /** The domain that serves this endpoint: calls fail with E_DEAD_DOMAIN once it dies. */
    Domain server;
    /** Non-null for a passive server: the handler runs on the caller's thread. */
    PassiveEntry passive;

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

    public int queuedReceivers() {
        Object s = state;
        return receivers.size + (s instanceof Tcb ? 1 : 0);
    }
}
