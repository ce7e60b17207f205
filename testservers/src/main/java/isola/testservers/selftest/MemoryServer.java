package isola.testservers.selftest;

import isola.sdk.Handler;
import isola.sdk.IsolaException;
import isola.sdk.Replies;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;
import isola.sdk.VirtualMemory;

/**
 * A passive server whose memory comes from its pager: the self-test's check that
 * {@link VirtualMemory} works in a server's isolate. {@link #PUT} stores MR1 at page MR0 of its
 * heap and {@link #GET} answers the word there (a fresh page faults in, zeroed); {@link #FILL}
 * writes MR2 bytes of value MR3 from byte MR1 of page MR0 through zero-copy views (pages are
 * faulted in first), reads them back with a copy and answers their sum. A failed access is an
 * error reply with its status and message.
 */
public final class MemoryServer implements Server, Handler {
    public static final String SERVICE = "memory";
    public static final int PUT = 1, GET = 2, FILL = 3;
    public static final long HEAP = 0x0000_0050_0000_0000L;

    @Override
    public void start(ServerContext ctx) {
        ctx.servePassive(ctx.endpoint(SERVICE), this);
    }

    @Override
    public long handle(Sys sys) {
        VirtualMemory memory = sys.memory();
        long at = HEAP + sys.mr(0) * 4096;
        try {
            switch (sys.label()) {
                case PUT -> memory.putLong(at, sys.mr(1));
                case GET -> sys.mr(0, memory.getLong(at));
                case FILL -> {
                    long from = at + sys.mr(1);
                    int length = (int) sys.mr(2);
                    byte value = (byte) sys.mr(3);
                    memory.writeInPlace(from, length, (run, offset) -> run.fill(value));
                    byte[] back = new byte[length];
                    memory.read(from, back, 0, length);
                    long sum = 0;
                    for (byte b : back) {
                        sum += b;
                    }
                    sys.mr(0, sum);
                }
                default -> throw new IllegalArgumentException("label " + sys.label());
            }
            return Replies.ok(1);
        } catch (IsolaException e) {
            return Replies.error(sys, e.status(), e.getMessage());
        }
    }
}
