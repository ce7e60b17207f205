package isola.sdk;

import java.lang.foreign.MemorySegment;

/**
 * A disk of 4 KiB blocks. Reads and writes move whole blocks between the disk and a buffer
 * (any memory segment); {@link #flush} is a barrier: it returns once every write that
 * returned before it is durable, and no write issued after it is reordered before it. A failed
 * transfer throws {@link IsolaException} naming the block.
 */
public interface BlockDevice extends AutoCloseable {
    int BLOCK_SIZE = 4096;
    int BLOCK_SHIFT = 12;

    /** The disk's size in blocks. */
    long blocks();

    /** Reads {@code count} blocks from {@code block} into {@code dst} at {@code offset}. */
    void read(long block, int count, MemorySegment dst, long offset);

    /** Writes {@code count} blocks from {@code src} at {@code offset} to the disk from {@code block}. */
    void write(long block, int count, MemorySegment src, long offset);

    /** Makes every completed write durable (a write barrier). */
    void flush();

    @Override
    void close();

    /** Checks that {@code count} blocks from {@code block} lie on a disk of {@code blocks}. */
    static void checkRange(String device, long blocks, long block, int count, MemorySegment buffer, long offset) {
        if (count < 0 || block < 0 || block > blocks - count) {
            throw new IsolaException(isola.kernel.Status.E_INVALID_ARG, device + ": blocks " + block + ".."
                    + (block + count - 1) + " are outside the disk of " + blocks + " blocks");
        }
        if (offset < 0 || offset > buffer.byteSize() - ((long) count << BLOCK_SHIFT)) {
            throw new IsolaException(isola.kernel.Status.E_INVALID_ARG, device + ": a buffer of " + buffer.byteSize()
                    + " bytes cannot hold " + count + " blocks at offset " + offset);
        }
    }
}
