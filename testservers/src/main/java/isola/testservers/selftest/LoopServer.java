package isola.testservers.selftest;

import isola.sdk.Handler;
import isola.sdk.Keep;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;

/**
 * A server whose first incarnation loops for ever, without a system call, in a call it makes to
 * itself (a second thread of its domain calls its active worker), and whose later ones answer
 * MR0 + 1, told apart by what init keeps for it. With a manifest {@code deadline}, the booted test
 * of the watchdog in the native tier uses it: the supervisor's watchdog must kill it, the isolate's
 * teardown must stop the loop (the vm tier cannot), and the restart must serve.
 */
public final class LoopServer implements Server, Handler {
    public static final String SERVICE = "loop";
    static final String KEPT_LOOPED = "looped";

    /** Written by the loop, so that the compiler keeps it. */
    private static volatile long spins;

    @Override
    public void start(ServerContext context) {
        int endpoint = context.endpoint(SERVICE);
        if (context.kept().values().containsKey(KEPT_LOOPED)) {
            context.serveActive(endpoint, this, 1, 120);
            return;
        }
        Keep.put(context.sys(), context.keep(), KEPT_LOOPED, "yes"); // before looping: the next incarnation serves
        context.serveActive(endpoint, LoopServer::loop, 1, 120);
        context.spawn("caller", 100, sys -> sys.call(endpoint, Sys.tag(0, 0), Sys.FOREVER));
    }

    private static long loop(Sys sys) {
        for (;;) {
            spins++; // no system call: only the watchdog's kill and the isolate's runaway stop end it
        }
    }

    @Override
    public long handle(Sys sys) {
        sys.mr(0, sys.mr(0) + 1);
        return Sys.tag(0, 1);
    }
}
