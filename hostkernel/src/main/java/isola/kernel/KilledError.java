package isola.kernel;

/**
 * Thrown by the server SDK when a system call returns E_KILLED: it unwinds the thread's code so
 * the machine can end the thread. It is not a fault. Preallocated and stackless, so unwinding
 * allocates nothing.
 */
public final class KilledError extends Error {
    public static final KilledError INSTANCE = new KilledError();

    private KilledError() {
        super("thread's domain was killed", null, false, false);
    }
}
