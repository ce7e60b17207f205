package isola.kernel;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A reply object: the one-shot right to answer a caller. Every thread has an implicit one,
 * bound when it receives a call; {@code saveReply} moves it into a slot so a server can answer
 * later from any thread.
 */
public final class Reply extends KernelObject {
    static final VarHandle CALLER;

    static {
        try {
            CALLER = MethodHandles.lookup().findVarHandle(Reply.class, "caller", Tcb.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The caller waiting for this reply; published with release after {@link #callerGen}. */
    Tcb caller;
    /** Generation of the caller's wait, so a stale reply can never wake a later wait. */
    long callerGen;
    /** The thread whose implicit reply object this is; null once saved into a slot. */
    Tcb thread;

    Reply(int id) {
        super(ObjectType.REPLY, id);
    }

    void bind(Tcb caller, long gen) {
        callerGen = gen;
        CALLER.setRelease(this, caller);
    }

    Tcb caller() {
        return (Tcb) CALLER.getAcquire(this);
    }
}
