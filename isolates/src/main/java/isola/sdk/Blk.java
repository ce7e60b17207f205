package isola.sdk;

import isola.kernel.Status;
import isola.kernel.Tag;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;

/**
 * The block driver's protocol, and its client: a {@link BlockDevice} whose requests travel in a
 * region of shared frames, as a virtio queue's do. The client owns the region (one 2 MiB frame)
 * and hands it to the driver once ({@link #ATTACH}), with a notification for completions; the
 * driver answers with its doorbell notification and the disk's size. From then on no message
 * is sent: the client writes a descriptor and, for a write, the data into the region, then
 * rings the doorbell; the driver performs the requests in order and signals the completion
 * notification, as a disk controller raises its interrupt.
 *
 * <p>The region: a control page, then {@link #STAGING_BLOCKS} blocks of data. The control page
 * holds the count of requests submitted (written by the client only) and completed (by the
 * driver only), the first error, and a ring of {@link #SLOTS} descriptors
 * ({@code op u32, count u32, block u64, data offset u64}). Each side publishes its count with
 * a release fence after the data it covers, and reads the other's with an acquire fence before
 * reading that data. Requests complete in order, so a flush is a barrier: when it completes,
 * every write before it is durable.
 */
public final class Blk {
    private Blk() {}

    /** Caps: the region's frame and the completion notification. Reply: MR0 the disk's blocks; cap: the doorbell. */
    public static final int ATTACH = 1;
    /**
     * The machine's disk, a device the manifest grants to the block driver ({@code grants =
     * disk0}); the driver takes it with {@link ServerContext#device}.
     */
    public static final String DISK = "disk0";
    /**
     * MR0 an index (1..{@link #MAX_BUFFERS}), one capability: a 2 MiB frame the driver maps as
     * buffer {@code index}, which descriptors may name instead of the region: the disk then
     * reads into it directly (the fs server registers its clients' buffers this way, so a read
     * goes from the disk to the client with no copy on the way).
     */
    public static final int ADD_BUFFER = 2;
    public static final int MAX_BUFFERS = 32;
    public static final long BUFFER_SIZE = 2L << 20;

    public static final int READ = 1;
    public static final int WRITE = 2;
    public static final int FLUSH = 3;

    public static final long REGION_SIZE = 2L << 20;
    public static final int SLOTS = 64;
    public static final long SUBMITTED = 0;
    public static final long COMPLETED = 8;
    /** The id (count) of the first request that failed, 0 if none; its message follows. */
    public static final long FAILED = 16;
    public static final long MESSAGE_LENGTH = 24;
    public static final long MESSAGE = 32;
    public static final int MESSAGE_MAX = 1024;
    public static final long RING = MESSAGE + MESSAGE_MAX;
    /** A descriptor: {@code op u32, count u32, block u64, data offset u64, buffer u32} (0: the region). */
    public static final int DESCRIPTOR = 32;
    public static final long STAGING = BlockDevice.BLOCK_SIZE;
    public static final int STAGING_BLOCKS = (int) ((REGION_SIZE - STAGING) / BlockDevice.BLOCK_SIZE);
    /** The largest request: half the staging area, so two are in flight. */
    public static final int MAX_REQUEST = 255;
    /** How long a client waits for a completion before it calls the disk dead. */
    public static final long COMPLETION_TIMEOUT_NS = 10_000_000_000L;

    /** The address of descriptor {@code id}'s slot. */
    public static long descriptor(long regionVa, long id) {
        return regionVa + RING + (id % SLOTS) * DESCRIPTOR;
    }

    /**
     * Attaches a region to the driver behind {@code blk}: {@code frameSlot} is the region's frame,
     * already mapped at {@code regionVa}; {@code completionSlot} a notification this domain
     * waits on; the driver's doorbell lands in {@code doorbellSlot}.
     */
    public static Device attach(Sys sys, int blk, int frameSlot, long regionVa, int completionSlot, int doorbellSlot) {
        sys.mr(0, 0);
        sys.capSlot(0, frameSlot).capSlot(1, completionSlot);
        sys.receiveWindow(doorbellSlot);
        try {
            Replies.check(sys, sys.callRetrying(blk, Tag.of(ATTACH, 1, 2), Sys.RESTART_ATTEMPTS), "blk attach");
        } finally {
            sys.receiveWindow(-1);
        }
        if (sys.capsReceived() != 1) {
            throw new IsolaException(Status.E_INVALID_ARG, "blk attach: the driver sent no doorbell");
        }
        long blocks = sys.mr(0);
        return new Device(sys, blk, regionVa, doorbellSlot, completionSlot, blocks);
    }

    /**
     * The client's side of an attached region. Used by one thread at a time (its owner
     * serializes), through that thread's system calls: {@link #bind} it to the thread first.
     */
    public static final class Device implements BlockDevice {
        private Sys sys;
        private VirtualMemory memory;
        private final long region;
        private final int doorbell;
        private final int completion;
        private final long blocks;
        /** The staging blocks each in-flight request holds, and the requests submitted. */
        private final StagingRing staging;
        /** Registered buffers' host addresses, by index (0: none), to recognise a segment over one. */
        private final long[] buffers = new long[MAX_BUFFERS + 1];
        private final int blk;

        Device(Sys sys, int blk, long region, int doorbell, int completion, long blocks) {
            this.sys = sys;
            this.blk = blk;
            this.memory = sys.memory();
            this.region = region;
            this.doorbell = doorbell;
            this.completion = completion;
            this.blocks = blocks;
            // The driver's counts may be ahead of zero if this region was attached before.
            long submitted = memory.getLong(region + SUBMITTED);
            this.staging = new StagingRing(STAGING_BLOCKS, SLOTS, submitted);
            if (memory.getLong(region + COMPLETED) != submitted) {
                throw new IsolaException(Status.E_INVALID_ARG, "blk: the region has requests in flight");
            }
        }

        @Override
        public long blocks() {
            return blocks;
        }

        /**
         * Makes the calling thread's {@code sys} the one requests go through: a passive server's
         * calls run on its clients' threads, one at a time under the server's lock.
         */
        public void bind(Sys sys) {
            if (this.sys != sys) {
                this.sys = sys;
                this.memory = sys.memory();
            }
        }

        /**
         * Registers the 2 MiB frame in {@code frameSlot} as buffer {@code index} with the driver;
         * {@code hostAddress} is where this process sees it, so that reads into a segment over it
         * go straight there. False if the driver refused it (reads then go through the region).
         */
        public boolean addBuffer(int index, int frameSlot, long hostAddress) {
            if (index < 1 || index > MAX_BUFFERS) {
                return false;
            }
            buffers[index] = 0;
            sys.mr(0, index);
            sys.capSlot(0, frameSlot);
            int st = sys.callRetrying(blk, Tag.of(ADD_BUFFER, 1, 1), Sys.RESTART_ATTEMPTS);
            if (st != Status.OK || sys.label() != Replies.OK) {
                return false;
            }
            buffers[index] = hostAddress;
            return true;
        }

        /** The registered buffer that holds {@code bytes} at {@code address}, or 0. */
        private int bufferOf(long address, long bytes) {
            for (int i = 1; i <= MAX_BUFFERS; i++) {
                long base = buffers[i];
                if (base != 0 && address >= base && address + bytes <= base + BUFFER_SIZE) {
                    return i;
                }
            }
            return 0;
        }

        @Override
        public void read(long block, int count, MemorySegment dst, long offset) {
            BlockDevice.checkRange("blk", blocks, block, count, dst, offset);
            int buffer = dst.isNative() ? bufferOf(dst.address() + offset, (long) count << BLOCK_SHIFT) : 0;
            if (buffer != 0) {
                // Straight into the registered buffer: no staging, no copy.
                long at = dst.address() + offset - buffers[buffer];
                long last = 0;
                while (count > 0) {
                    int n = Math.min(count, MAX_REQUEST);
                    last = submit(READ, block, n, at, buffer);
                    block += n;
                    at += (long) n << BLOCK_SHIFT;
                    count -= n;
                }
                await(last);
                return;
            }
            while (count > 0) {
                int n = Math.min(count, MAX_REQUEST);
                int stage = stage(n);
                long id = submit(READ, block, n, STAGING + ((long) stage << BLOCK_SHIFT), 0);
                await(id);
                long bytes = (long) n << BLOCK_SHIFT;
                long from = offset;
                memory.readInPlace(stagingVa(stage), bytes, (run, at) -> MemorySegment.copy(run, 0, dst, from + at, run.byteSize()));
                block += n;
                offset += bytes;
                count -= n;
            }
        }

        @Override
        public void write(long block, int count, MemorySegment src, long offset) {
            BlockDevice.checkRange("blk", blocks, block, count, src, offset);
            while (count > 0) {
                int n = Math.min(count, MAX_REQUEST);
                int stage = stage(n);
                long bytes = (long) n << BLOCK_SHIFT;
                long from = offset;
                memory.writeInPlace(stagingVa(stage), bytes, (run, at) -> MemorySegment.copy(src, from + at, run, 0, run.byteSize()));
                submit(WRITE, block, n, STAGING + ((long) stage << BLOCK_SHIFT), 0);
                block += n;
                offset += bytes;
                count -= n;
            }
        }

        /** Waits for every request so far; a write that failed since the last flush fails the flush. */
        @Override
        public void flush() {
            await(submit(FLUSH, 0, 0, STAGING, 0));
        }

        @Override
        public void close() {
            if (staging.nextId() > 0) {
                await(staging.nextId());
            }
        }

        private long stagingVa(int stage) {
            return region + STAGING + ((long) stage << BLOCK_SHIFT);
        }

        /** Reserves {@code n} contiguous staging blocks, waiting for completions while there is no room. */
        private int stage(int n) {
            while (true) {
                staging.completed(completed());
                int at = staging.reserve(n);
                if (at >= 0) {
                    return at;
                }
                await(staging.freed() + 1);
            }
        }

        /** Submits a request on data at {@code offset} of {@code buffer} (0: the region); returns its count. */
        private long submit(int op, long block, int count, long offset, int buffer) {
            // Its slot must be free in the staging ring's books, not only completed by the driver:
            // otherwise the share of the slot's last request is overwritten before it is freed,
            // the ring hands out blocks still in flight, and a queued write goes to the disk with
            // another request's data (a host kill found file data in the inode table).
            while (!staging.slotFree()) {
                await(staging.freed() + 1);
                staging.completed(completed());
            }
            long id = staging.nextId();
            long d = descriptor(region, id);
            memory.putInt(d, op);
            memory.putInt(d + 4, count);
            memory.putLong(d + 8, block);
            memory.putLong(d + 16, offset);
            memory.putInt(d + 24, buffer);
            staging.submitted();
            VarHandle.releaseFence();
            memory.putLong(region + SUBMITTED, id + 1);
            sys.check(sys.signal(doorbell), "blk: ring the doorbell");
            return id + 1;
        }

        private long completed() {
            long c = memory.getLong(region + COMPLETED);
            VarHandle.acquireFence();
            return c;
        }

        /** Waits until request count {@code id} has completed, then reports any failure. */
        private void await(long id) {
            long deadline = System.nanoTime() + COMPLETION_TIMEOUT_NS;
            while (completed() < id) {
                long left = deadline - System.nanoTime();
                int st = left <= 0 ? Status.E_TIMEOUT : sys.await(completion, left);
                if (st == Status.E_TIMEOUT && completed() < id) {
                    throw new UncheckedIOException(new IOException("blk: request " + id + " did not complete within "
                            + COMPLETION_TIMEOUT_NS / 1_000_000_000L + " s (is the block driver running?)"));
                }
                if (st != Status.OK && st != Status.E_TIMEOUT) {
                    sys.check(st, "blk: wait for a completion");
                }
            }
            long failed = memory.getLong(region + FAILED);
            if (failed != 0 && failed <= id) {
                int len = (int) Math.min(MESSAGE_MAX, Math.max(0, memory.getLong(region + MESSAGE_LENGTH)));
                byte[] m = new byte[len];
                memory.read(region + MESSAGE, m, 0, len);
                throw new UncheckedIOException(new IOException("blk request " + failed + ": "
                        + new String(m, StandardCharsets.UTF_8)));
            }
        }

        @Override
        public String toString() {
            return "blk device (" + blocks + " blocks)";
        }
    }
}
