package isola.nativeimage.tier;

import isola.sdk.Handler;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;
import java.util.ArrayList;
import java.util.List;

/**
 * A passive server that fails on request, to show what an isolate contains: label ECHO answers
 * MR0 + 1; THROW throws; OOM allocates until its isolate's heap is exhausted; RECURSE recurses
 * until its stack overflows; SPIN loops for ever without a system call (only a kill of its
 * isolate ends it: see RunawayStop). The containment tests and the crash benchmark use it.
 */
public final class CrashServer implements Server, Handler {
    public static final String SERVICE = "crash";
    public static final int ECHO = 0, THROW = 1, OOM = 2, RECURSE = 3, SPIN = 4;

    /** Keeps what OOM allocates reachable until the isolate is gone. */
    private final List<long[]> hoard = new ArrayList<>();
    /** Read on every turn of SPIN's loop (volatile: the loop is not a counted one the compiler may reshape). */
    private volatile boolean spinning;

    @Override
    public void start(ServerContext context) {
        context.servePassive(context.endpoint(SERVICE), this);
    }

    @Override
    public long handle(Sys sys) {
        switch (sys.label()) {
            case THROW -> throw new IllegalStateException("crash requested");
            case OOM -> {
                for (;;) {
                    hoard.add(new long[1 << 20]);
                }
            }
            case RECURSE -> sys.mr(0, depth(0));
            case SPIN -> {
                spinning = true;
                while (spinning) {
                    Thread.onSpinWait();
                }
            }
            default -> sys.mr(0, sys.mr(0) + 1);
        }
        return Sys.tag(0, 1);
    }

    private static long depth(long n) {
        return depth(n + 1) + 1;
    }
}
