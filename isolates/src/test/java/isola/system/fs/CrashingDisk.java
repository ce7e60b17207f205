package isola.system.fs;

import isola.sdk.BlockDevice;
import java.lang.foreign.MemorySegment;

/**
 * A disk that dies at a chosen moment: its {@code n}-th write or flush, and everything after it,
 * throws {@link Crash}, as if the process that issued it had been killed right there. Writes
 * before it reached the host file (as a killed process's writes reach the page cache), so
 * what the next mount finds is exactly the disk at the moment of the kill.
 */
final class CrashingDisk implements BlockDevice {
    /** The kill. An Error, so that nothing in the file system mistakes it for an I/O failure it could handle. */
    static final class Crash extends Error {
        Crash() {
            super("killed", null, false, false);
        }
    }

    private final BlockDevice disk;
    private long left;
    private long operations;

    CrashingDisk(BlockDevice disk, long crashAt) {
        this.disk = disk;
        this.left = crashAt;
    }

    /** Writes and flushes issued so far. */
    long operations() {
        return operations;
    }

    boolean crashed() {
        return left <= 0;
    }

    private void tick() {
        operations++;
        if (--left <= 0) {
            left = 0;
            throw new Crash();
        }
    }

    @Override
    public long blocks() {
        return disk.blocks();
    }

    @Override
    public void read(long block, int count, MemorySegment dst, long offset) {
        if (left <= 0) {
            throw new Crash();
        }
        disk.read(block, count, dst, offset);
    }

    @Override
    public void write(long block, int count, MemorySegment src, long offset) {
        tick();
        disk.write(block, count, src, offset);
    }

    @Override
    public void flush() {
        tick();
        disk.flush();
    }

    @Override
    public void close() {}
}
