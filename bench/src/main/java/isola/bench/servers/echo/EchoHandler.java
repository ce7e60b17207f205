package isola.bench.servers.echo;

import isola.sdk.Handler;
import isola.sdk.Sys;

/**
 * The benchmark servers' work: reads MR0 and replies MR0 + 1 in one register. The same work as
 * the plain Java baseline ({@code IpcBench.javaInterfaceCall}), so the difference is the IPC.
 */
public final class EchoHandler implements Handler {
    /** Reply tag: label 0, one message register. */
    static final long REPLY = Sys.tag(0, 1);

    @Override
    public long handle(Sys sys) {
        sys.mr(0, sys.mr(0) + 1);
        return REPLY;
    }
}
