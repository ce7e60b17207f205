package isola.system.fs;

import isola.sdk.BlockDevice;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The fs server's buffer cache: recently read blocks, in its own memory, in front of the block
 * driver, so that reading what was read before is one copy from here to the client (as the
 * host's page cache serves the host's reads) rather than a round trip through the driver. It
 * holds aligned chunks of {@link #CHUNK} blocks, each with a mask of the blocks it has, so a
 * sequential read is a few large copies. Reads fill it; writes go through to the disk at once
 * and update the blocks it has (without adding chunks: journal writes would only push file
 * data out), so it never holds a block the disk does not. Least recently used chunks go
 * first. Used under the file system's lock.
 */
final class BlockCache implements BlockDevice {
    static final int CHUNK = 64;
    private static final int CHUNK_SHIFT = 6;

    /** A chunk: its blocks' bytes, and bit i set if block i of it is held. */
    private static final class Chunk {
        final MemorySegment data = MemorySegment.ofArray(new byte[CHUNK * BLOCK_SIZE]);
        long held;
    }

    private final BlockDevice disk;
    private final LinkedHashMap<Long, Chunk> chunks;

    BlockCache(BlockDevice disk, int capacityBlocks) {
        this.disk = disk;
        int capacity = Math.max(1, capacityBlocks / CHUNK);
        this.chunks = new LinkedHashMap<>(capacity * 2, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Long, Chunk> eldest) {
                return size() > capacity;
            }
        };
    }

    @Override
    public long blocks() {
        return disk.blocks();
    }

    /** Bits {@code from}..{@code to - 1} of a chunk's mask. */
    private static long mask(int from, int to) {
        return (to - from == 64 ? -1L : ((1L << (to - from)) - 1)) << from;
    }

    @Override
    public void read(long block, int count, MemorySegment dst, long offset) {
        if (held(block, count)) {
            copy(block, count, dst, offset, false, false);
            return;
        }
        disk.read(block, count, dst, offset);
        copy(block, count, dst, offset, true, true);
    }

    @Override
    public void write(long block, int count, MemorySegment src, long offset) {
        try {
            disk.write(block, count, src, offset);
        } catch (RuntimeException | Error e) {
            // Some of it may be on its way to the disk (submitted before the calling thread
            // unwound, or failed): what the chunks hold of these blocks may no longer be the disk's.
            drop(block, count);
            throw e;
        }
        copy(block, count, src, offset, true, false);
    }

    /** Forgets blocks {@code block}..{@code block + count - 1}. */
    private void drop(long block, int count) {
        long end = block + count;
        for (long b = block; b < end; ) {
            Chunk c = chunks.get(b >>> CHUNK_SHIFT);
            int from = (int) (b & (CHUNK - 1));
            int to = (int) Math.min(CHUNK, from + (end - b));
            if (c != null) {
                c.held &= ~mask(from, to);
            }
            b += to - from;
        }
    }

    private boolean held(long block, int count) {
        long end = block + count;
        for (long b = block; b < end; ) {
            Chunk c = chunks.get(b >>> CHUNK_SHIFT);
            int from = (int) (b & (CHUNK - 1));
            int to = (int) Math.min(CHUNK, from + (end - b));
            if (c == null || (c.held & mask(from, to)) != mask(from, to)) {
                return false;
            }
            b += to - from;
        }
        return true;
    }

    /**
     * Copies between the chunks and {@code buf}, a chunk's run at a time: into the chunks if
     * {@code in} (making missing chunks if {@code add}), else out of them.
     */
    private void copy(long block, int count, MemorySegment buf, long offset, boolean in, boolean add) {
        long end = block + count;
        for (long b = block; b < end; ) {
            long key = b >>> CHUNK_SHIFT;
            int from = (int) (b & (CHUNK - 1));
            int to = (int) Math.min(CHUNK, from + (end - b));
            long at = offset + ((b - block) << BLOCK_SHIFT);
            long bytes = (long) (to - from) << BLOCK_SHIFT;
            Chunk c = chunks.get(key);
            if (in) {
                if (c == null && add) {
                    c = new Chunk();
                    chunks.put(key, c);
                }
                if (c != null) {
                    MemorySegment.copy(buf, at, c.data, (long) from << BLOCK_SHIFT, bytes);
                    c.held |= mask(from, to);
                }
            } else {
                MemorySegment.copy(c.data, (long) from << BLOCK_SHIFT, buf, at, bytes);
            }
            b += to - from;
        }
    }

    @Override
    public void flush() {
        disk.flush();
    }

    @Override
    public void close() {
        disk.close();
    }

    @Override
    public String toString() {
        return disk.toString();
    }
}
