package isola.bench.servers.sink;

import isola.kernel.Tag;
import isola.sdk.Handler;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;
import isola.sdk.VirtualMemory;

/**
 * The receiving end of the bulk-transfer benchmark, served actively on its own thread; it ends
 * up holding the 64 MiB it is sent, and answers each call with the last word it received.
 * Label {@link #REGISTERS}: the message registers are the data; it copies them into its 64 MiB
 * buffer. Label {@link #SHARED}: chunk MR0 is ready in the shared frames (in slots from
 * {@link #FRAMES}, 2 MiB each, mapped read-only from {@link #VA} on first use, tables from this
 * domain's quota); the chunk stays where it is, and the server checks its first and last word.
 */
public final class SinkServer implements Server, Handler {
    public static final int SLOT = 0;
    /** The shared frames' slots, from here. */
    public static final int FRAMES = 1;
    public static final int SHARED = 1;
    public static final int REGISTERS = 2;
    public static final long VA = 0x0000_0030_0000_0000L;
    /** A chunk: one shared frame, a 2 MiB page. */
    public static final int CHUNK = 2 << 20;
    public static final int CHUNKS = 32;
    /** Its two page tables' slots, from here. */
    private static final int TABLES = FRAMES + CHUNKS;

    /** Where the data sent through registers goes: 64 MiB. */
    private final long[] held = new long[CHUNKS * CHUNK / 8];
    private int at;
    private boolean mapped;

    @Override
    public void start(ServerContext context) {
        context.serveActive(SLOT, this, 1, 100);
    }

    @Override
    public long handle(Sys sys) {
        long last;
        if (sys.label() == REGISTERS) {
            int n = sys.length();
            for (int i = 0; i < n; i++) {
                held[at + i] = sys.mr(i);
            }
            at += n;
            last = held[at - 1];
            if (at + 64 > held.length) {
                at = 0;
            }
        } else {
            if (!mapped) {
                map(sys);
            }
            long chunk = sys.mr(0);
            if (chunk < 0 || chunk >= CHUNKS) {
                return Tag.of(1, 0);
            }
            VirtualMemory memory = sys.memory();
            long base = VA + chunk * CHUNK;
            if (memory.getLong(base) == 0) {
                return Tag.of(2, 0); // the source never sends a zero first word
            }
            last = memory.getLong(base + CHUNK - 8);
        }
        sys.mr(0, last);
        return Tag.of(0, 1);
    }

    private void map(Sys sys) {
        sys.check(sys.linkTables(Sys.SELF, VA, Sys.PAGE_2M, TABLES), "sink: tables");
        for (int i = 0; i < CHUNKS; i++) {
            sys.check(sys.map(Sys.SELF, FRAMES + i, VA + (long) i * CHUNK, Sys.MAP_USER | Sys.MAP_NO_EXEC),
                    "sink: map a shared frame");
        }
        mapped = true;
    }
}
