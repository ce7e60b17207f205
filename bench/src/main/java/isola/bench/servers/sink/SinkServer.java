package isola.bench.servers.sink;

import isola.kernel.Status;
import isola.kernel.Tag;
import isola.sdk.Handler;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;

/**
 * The receiving end of the bulk-transfer benchmark, served actively on its own thread. Label
 * {@link #SHARED}: MR0 bytes are ready at the start of the shared frame (in slot {@link #FRAME},
 * mapped read-only at {@link #VA} on first use, tables from this domain's quota); it copies them
 * into a private buffer. Label {@link #REGISTERS}: the message registers are the data; it
 * copies them into a private buffer. Either way it answers with the last word it received, so
 * the sender can check that the data arrived.
 */
public final class SinkServer implements Server, Handler {
    public static final int SLOT = 0;
    public static final int FRAME = 1;
    public static final int SHARED = 1;
    public static final int REGISTERS = 2;
    public static final long VA = 0x0000_0030_0000_0000L;
    /** The shared frame's size: a 2 MiB page. */
    public static final int CHUNK = 2 << 20;
    /** Its two page tables' slots, from here. */
    private static final int TABLES = 2;

    private final byte[] bytes = new byte[CHUNK];
    private final long[] words = new long[64 * 1024];
    private int at;
    private boolean mapped;

    @Override
    public void start(ServerContext context) {
        context.serveActive(SLOT, this, 1, 100);
    }

    @Override
    public long handle(Sys sys) {
        if (sys.label() == REGISTERS) {
            int n = sys.length();
            for (int i = 0; i < n; i++) {
                words[at++] = sys.mr(i);
            }
            if (at + 64 > words.length) {
                at = 0;
            }
            sys.mr(0, words[(at == 0 ? words.length : at) - 1]);
            return Tag.of(0, 1);
        }
        if (!mapped) {
            map(sys);
        }
        int n = (int) Math.min(sys.mr(0), CHUNK);
        sys.memory().read(VA, bytes, 0, n);
        sys.mr(0, n >= 8 ? java.nio.ByteBuffer.wrap(bytes, n - 8, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong() : 0);
        return Tag.of(0, 1);
    }

    private void map(Sys sys) {
        sys.check(sys.linkTables(Sys.SELF, VA, Sys.PAGE_2M, TABLES), "sink: tables");
        sys.check(sys.map(Sys.SELF, FRAME, VA, Sys.MAP_USER | Sys.MAP_NO_EXEC), "sink: map the shared frame");
        mapped = true;
    }
}
