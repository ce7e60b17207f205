package isola.drivers.blk;

import isola.kernel.Status;
import isola.sdk.ActiveLoop;
import isola.kernel.Tag;
import isola.sdk.Blk;
import isola.sdk.BlockDevice;
import isola.sdk.Keep;
import isola.sdk.Kept;
import isola.sdk.Replies;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;
import isola.sdk.VirtualMemory;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;

/**
 * The block driver: the machine's disk ({@link Blk#DISK}, a device its manifest entry grants it) served through a region of
 * shared frames ({@link Blk}). One thread answers {@link Blk#ATTACH}; another, the queue's,
 * waits on the doorbell and performs the requests in order, reading and writing the region's
 * frames in place (the host's {@code pread}/{@code pwrite} move the bytes straight between the
 * disk and the frames), then publishes the completed count and signals the client's
 * completion notification.
 *
 * <p>What it was attached to (the region's frame, the completion notification) and its doorbell
 * are kept by init across its restarts, so a restarted driver picks up the ring where the
 * crashed one left it: the client sees a delay, not an error. A request in flight at the crash
 * is performed again, which is harmless for reads, writes and flushes alike.
 */
public final class BlkServer implements Server {
    public static final String DISK = Blk.DISK;
    static final long REGION_VA = 0x0000_0040_0000_0000L;
    static final int DOORBELL = 128;
    static final int REGION = 129;
    static final int COMPLETION = 130;
    /** Where an attaching client's capabilities arrive (two slots). */
    static final int RECEIVED = 132;
    static final int TABLES = 136; // and up, for linkTables
    static final String KEPT_DOORBELL = "doorbell";
    static final String KEPT_REGION = "region";
    static final String KEPT_COMPLETION = "completion";
    static final String KEPT_BUFFER = "buffer/";
    /** Registered buffers' frames, index i in slot BUFFERS + i, mapped at BUFFERS_VA + i * 2 MiB. */
    static final int BUFFERS = 160;
    static final int BUFFER_TABLES = 200;
    static final long BUFFERS_VA = 0x0000_0080_0000_0000L;

    private BlockDevice disk;
    private int keep;
    private boolean attached;
    private boolean tablesLinked;

    @Override
    public void start(ServerContext ctx) throws java.io.IOException {
        Kept kept = ctx.kept();
        disk = ctx.device(DISK); // granted by the manifest; no server can open a disk itself
        Sys sys = ctx.sys();
        keep = ctx.keep();
        Integer door = kept.caps().get(KEPT_DOORBELL);
        if (door != null) {
            sys.check(sys.move(door, DOORBELL), "blk: take the kept doorbell");
        } else {
            sys.check(sys.createNotification(DOORBELL), "blk: create the doorbell");
            Keep.putCap(sys, keep, KEPT_DOORBELL, DOORBELL);
        }
        Integer region = kept.caps().get(KEPT_REGION);
        Integer completion = kept.caps().get(KEPT_COMPLETION);
        if (region != null && completion != null) {
            sys.check(sys.move(region, REGION), "blk: take the kept region");
            sys.check(sys.move(completion, COMPLETION), "blk: take the kept completion notification");
            map(sys);
        }
        sys.check(sys.linkTables(Sys.SELF, BUFFERS_VA, Sys.PAGE_2M, BUFFER_TABLES), "blk: page tables for buffers");
        for (var e : kept.caps().entrySet()) { // no lambdas on the restart path: see Server
            if (e.getKey().startsWith(KEPT_BUFFER)) {
                int index = Integer.parseInt(e.getKey().substring(KEPT_BUFFER.length()));
                sys.check(sys.move(e.getValue(), BUFFERS + index), "blk: take a kept buffer");
                mapBuffer(sys, index);
            }
        }
        ctx.spawn("blk-queue", 180, this::serveQueue);
        // The window takes an attaching client's two capabilities.
        ActiveLoop.run(sys, ctx.endpoint("blk"), () -> RECEIVED, this::handle);
    }

    private long handle(Sys sys) {
        try {
            return request(sys);
        } finally {
            for (int i = 0; i < 2; i++) {
                sys.delete(RECEIVED + i); // whatever the request brought and did not use
            }
        }
    }

    private long request(Sys sys) {
        if (sys.label() == Blk.ADD_BUFFER) {
            return addBuffer(sys);
        }
        if (sys.label() != Blk.ATTACH) {
            return Replies.error(sys, Status.E_INVALID_ARG, "blk: unknown request " + sys.label());
        }
        if (sys.capsReceived() != 2) {
            return Replies.error(sys, Status.E_INVALID_ARG, "blk attach: send the region's frame and a notification ("
                    + sys.capsReceived() + " capabilities came)");
        }
        synchronized (this) {
            if (attached) {
                sys.unmap(Sys.SELF, REGION_VA, Blk.REGION_SIZE);
                sys.delete(REGION);
                sys.delete(COMPLETION);
                attached = false;
            }
            sys.check(sys.move(sys.capSlot(0), REGION), "blk attach: take the region");
            sys.check(sys.move(sys.capSlot(1), COMPLETION), "blk attach: take the completion notification");
            int st = map(sys);
            if (st != Status.OK) {
                sys.delete(REGION);
                sys.delete(COMPLETION);
                return Replies.error(sys, st, sys.describe(st, "blk attach: map the region"));
            }
            Keep.putCap(sys, keep, KEPT_REGION, REGION);
            Keep.putCap(sys, keep, KEPT_COMPLETION, COMPLETION);
        }
        sys.mr(0, disk.blocks());
        sys.capSlot(0, DOORBELL);
        return Tag.of(Replies.OK, 1, 1);
    }

    /** Buffers mapped, by index. */
    private final boolean[] buffers = new boolean[Blk.MAX_BUFFERS + 1];

    private long addBuffer(Sys sys) {
        long index = sys.mr(0);
        if (index < 1 || index > Blk.MAX_BUFFERS || sys.capsReceived() != 1) {
            return Replies.error(sys, Status.E_INVALID_ARG, "blk add buffer: index " + index + " (1.." + Blk.MAX_BUFFERS
                    + ") and one frame, " + sys.capsReceived() + " capabilities came");
        }
        int i = (int) index;
        synchronized (this) {
            if (buffers[i]) {
                sys.unmap(Sys.SELF, BUFFERS_VA + i * Blk.BUFFER_SIZE, Blk.BUFFER_SIZE);
                buffers[i] = false;
            }
            sys.delete(BUFFERS + i);
            sys.check(sys.move(sys.capSlot(0), BUFFERS + i), "blk add buffer: take the frame");
            int st = mapBuffer(sys, i);
            if (st != Status.OK) {
                sys.delete(BUFFERS + i);
                return Replies.error(sys, st, sys.describe(st, "blk add buffer: map it (a 2 MiB frame?)"));
            }
            Keep.putCap(sys, keep, KEPT_BUFFER + i, BUFFERS + i);
        }
        return Replies.ok(0);
    }

    private int mapBuffer(Sys sys, int i) {
        int st = sys.map(Sys.SELF, BUFFERS + i, BUFFERS_VA + i * Blk.BUFFER_SIZE, Sys.MAP_WRITE | Sys.MAP_USER | Sys.MAP_NO_EXEC);
        buffers[i] = st == Status.OK;
        return st;
    }

    /** Maps the region's frame; returns the status of the mapping. */
    private int map(Sys sys) {
        if (!tablesLinked) {
            sys.check(sys.linkTables(Sys.SELF, REGION_VA, Sys.PAGE_2M, TABLES), "blk: page tables for the region");
            tablesLinked = true;
        }
        int st = sys.map(Sys.SELF, REGION, REGION_VA, Sys.MAP_WRITE | Sys.MAP_USER | Sys.MAP_NO_EXEC);
        attached = st == Status.OK;
        return st;
    }

    /** The queue's thread: requests from the consumed count up to the submitted one, in order. */
    private void serveQueue(Sys sys) {
        VirtualMemory memory = sys.memory();
        for (;;) {
            // Drain first: a restarted driver finds requests its predecessor took the doorbell for.
            synchronized (this) {
                if (attached) {
                    drain(sys, memory);
                }
            }
            sys.await(DOORBELL);
        }
    }

    private void drain(Sys sys, VirtualMemory memory) {
        long done = memory.getLong(REGION_VA + Blk.COMPLETED);
        for (;;) {
            long submitted = memory.getLong(REGION_VA + Blk.SUBMITTED);
            VarHandle.acquireFence();
            if (done >= submitted) {
                return;
            }
            if (submitted - done > Blk.SLOTS) {
                fail(memory, done + 1, "the client submitted " + (submitted - done) + " requests into a ring of " + Blk.SLOTS);
                done = submitted;
            } else {
                perform(memory, done);
                done++;
            }
            VarHandle.releaseFence();
            memory.putLong(REGION_VA + Blk.COMPLETED, done);
            sys.signal(COMPLETION);
        }
    }

    private void perform(VirtualMemory memory, long id) {
        long d = Blk.descriptor(REGION_VA, id);
        int op = memory.getInt(d);
        int count = memory.getInt(d + 4);
        long block = memory.getLong(d + 8);
        long offset = memory.getLong(d + 16);
        int buffer = memory.getInt(d + 24);
        try {
            if (op == Blk.FLUSH) {
                disk.flush();
                return;
            }
            long bytes = (long) count << BlockDevice.BLOCK_SHIFT;
            boolean inRegion = buffer == 0 && offset >= Blk.STAGING && offset <= Blk.REGION_SIZE - bytes;
            boolean inBuffer = buffer > 0 && buffer <= Blk.MAX_BUFFERS && buffers[buffer] && offset >= 0
                    && offset <= Blk.BUFFER_SIZE - bytes;
            if ((op != Blk.READ && op != Blk.WRITE) || count <= 0 || count > Blk.MAX_REQUEST || !(inRegion || inBuffer)) {
                fail(memory, id + 1, "request " + (id + 1) + ": op " + op + ", " + count + " blocks at offset "
                        + offset + " of buffer " + buffer + " is not a valid request");
                return;
            }
            long va = buffer == 0 ? REGION_VA + offset : BUFFERS_VA + buffer * Blk.BUFFER_SIZE + offset;
            if (block < 0 || block > disk.blocks() - count) {
                fail(memory, id + 1, "request " + (id + 1) + ": blocks " + block + ".." + (block + count - 1)
                        + " are outside the disk of " + disk.blocks() + " blocks");
                return;
            }
            if (op == Blk.READ) {
                memory.writeInPlace(va, bytes, (run, at) -> disk.read(block + (at >> 12), (int) (run.byteSize() >> 12), run, 0));
            } else {
                memory.readInPlace(va, bytes, (run, at) -> disk.write(block + (at >> 12), (int) (run.byteSize() >> 12), run, 0));
            }
        } catch (RuntimeException e) {
            fail(memory, id + 1, e.getMessage());
        }
    }

    /** Records the first failure in the region, where the client reads it at its next wait. */
    private static void fail(VirtualMemory memory, long id, String message) {
        if (memory.getLong(REGION_VA + Blk.FAILED) != 0) {
            return;
        }
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        int len = Math.min(m.length, Blk.MESSAGE_MAX);
        memory.write(REGION_VA + Blk.MESSAGE, m, 0, len);
        memory.putLong(REGION_VA + Blk.MESSAGE_LENGTH, len);
        memory.putLong(REGION_VA + Blk.FAILED, id);
    }
}
