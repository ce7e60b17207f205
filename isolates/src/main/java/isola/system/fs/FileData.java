package isola.system.fs;

import isola.sdk.BlockDevice;
import isola.sdk.Errno;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A regular file's bytes: read, written and cut short on the device, a run of contiguous blocks
 * at a time. Data goes in place at once (ordered mode: before the transaction that maps it
 * commits); only the file's extents and size are metadata. A hole reads as zeros, and a block
 * a write only partly covers is zeroed first, so no stale bytes are ever read back.
 */
final class FileData {
    private final BlockDevice device;
    private final Allocator allocator;
    private final InodeTable inodes;

    /** One block, for the partial first and last blocks of a transfer. */
    private final byte[] stage = new byte[Disk.BLOCK];
    private final MemorySegment stageSegment = MemorySegment.ofArray(stage);

    FileData(BlockDevice device, Allocator allocator, InodeTable inodes) {
        this.device = device;
        this.allocator = allocator;
        this.inodes = inodes;
    }

    /** Reads up to {@code length} bytes at {@code offset} into {@code dst} from {@code at}; returns how many (0 at the end). */
    int read(Inode f, long offset, MemorySegment dst, long at, int length) {
        checkTransfer(f, "read", offset, dst, at, length);
        if (offset >= f.size) {
            return 0;
        }
        int n = (int) Math.min(length, f.size - offset);
        transfer(f, offset, dst, at, n, false);
        return n;
    }

    /** Writes {@code length} bytes of {@code src} from {@code at} at {@code offset}; all of them or, on ENOSPC, none. */
    int write(Inode f, long offset, MemorySegment src, long at, int length) {
        checkTransfer(f, "write", offset, src, at, length);
        if (offset + length > FileSystem.MAX_FILE_SIZE) {
            throw new FsException(Errno.EFBIG, "write of " + length + " bytes at offset " + offset
                    + ": files end at " + FileSystem.MAX_FILE_SIZE + " bytes");
        }
        if (length == 0) {
            return 0;
        }
        long first = offset >>> Disk.SHIFT;
        long last = (offset + length - 1) >>> Disk.SHIFT;
        String what = "write of " + length + " bytes to inode " + f.ino;
        allocator.ensureAvailable(holes(f, first, last), what);
        // Every block is allocated (holes, extent blocks) before any data moves: running out
        // of space rolls the metadata back and leaves the file's bytes as they were.
        fill(f, first, last);
        inodes.store(f);
        if (offset > f.size) {
            zeroTail(f, f.size); // stale bytes past the old end must read as zeros
        }
        transfer(f, offset, src, at, length, true);
        if (offset + length > f.size) {
            f.size = offset + length;
        }
        f.touch();
        inodes.store(f);
        return length;
    }

    private static void checkTransfer(Inode f, String op, long offset, MemorySegment buf, long at, int length) {
        if (f.isDirectory()) {
            throw new FsException(Errno.EISDIR, "inode " + f.ino + ": is a directory");
        }
        if (offset < 0 || length < 0 || at < 0 || at > buf.byteSize() - length) {
            throw new FsException(Errno.EINVAL, op + " of " + length + " bytes at offset " + offset);
        }
    }

    /** Sets a regular file's size ({@code truncate(2)}); {@code what} names it in errors. */
    void truncate(Inode f, long size, String what) {
        if (f.isDirectory()) {
            throw new FsException(Errno.EISDIR, what + ": is a directory");
        }
        if (size < 0 || size > FileSystem.MAX_FILE_SIZE) {
            throw new FsException(Errno.EINVAL, what + ": size " + size);
        }
        resize(f, size);
        f.touch();
        inodes.store(f);
    }

    /** Sets the file's size, freeing the blocks past a new, smaller end (not stored: the caller stores it). */
    void resize(Inode f, long size) {
        if (size < f.size) {
            zeroTail(f, size);
            long keep = (size + Disk.BLOCK - 1) >>> Disk.SHIFT;
            long[] freed = f.unmapFrom(keep);
            for (int k = 0; k < freed.length; k += 2) {
                allocator.freeRun(freed[k], freed[k + 1]);
            }
        } else if (size > f.size) {
            zeroTail(f, f.size);
        }
        f.size = size;
    }

    /** Blocks of [first, last] that are holes. */
    private static long holes(Inode f, long first, long last) {
        long mapped = 0;
        for (int e = 0; e < f.extentCount; e++) {
            long s = Math.max(first, f.start(e));
            long t = Math.min(last + 1, f.start(e) + f.length(e));
            if (t > s) {
                mapped += t - s;
            }
        }
        return last - first + 1 - mapped;
    }

    /** Maps every hole of [first, last] to new blocks, as few runs as the free space allows. */
    private void fill(Inode f, long first, long last) {
        long b = first;
        while (b <= last) {
            int e = f.find(b);
            if (e >= 0) {
                b = f.start(e) + f.length(e);
                continue;
            }
            int next = -1 - e;
            long holeEnd = next < f.extentCount ? Math.min(last + 1, f.start(next)) : last + 1;
            long goal = e == -1 || next == 0 ? allocator.hint() : f.physical(next - 1) + f.length(next - 1);
            long[] run = allocator.allocateRun(goal, holeEnd - b);
            f.map(b, run[0], run[1]);
            zeroNewBlocks(b, run[0], run[1], first, last);
            b += run[1];
        }
    }

    /**
     * New blocks the write will not cover entirely must not show stale data: the partial first
     * and last blocks of the write are zeroed here, before the data lands on them.
     */
    private void zeroNewBlocks(long logical, long physical, long length, long first, long last) {
        Arrays.fill(stage, (byte) 0);
        for (long k = 0; k < length; k++) {
            long l = logical + k;
            if (l == first || l == last) {
                device.write(physical + k, 1, stageSegment, 0);
            }
        }
    }

    /** Moves bytes between the file's blocks and {@code buf}, a run of contiguous blocks at a time. */
    private void transfer(Inode f, long offset, MemorySegment buf, long at, int length, boolean write) {
        long done = 0;
        while (done < length) {
            long pos = offset + done;
            long logical = pos >>> Disk.SHIFT;
            int within = (int) (pos & (Disk.BLOCK - 1));
            int e = f.find(logical);
            long left = length - done;
            if (e < 0) { // a hole reads as zeros; writes never meet one (fill ran first)
                long holeEnd = -1 - e < f.extentCount ? f.start(-1 - e) << Disk.SHIFT : Long.MAX_VALUE;
                long n = Math.min(left, holeEnd - pos);
                buf.asSlice(at + done, n).fill((byte) 0);
                done += n;
                continue;
            }
            long phys = f.physical(e) + (logical - f.start(e));
            long runBlocks = f.start(e) + f.length(e) - logical;
            if (within == 0 && left >= Disk.BLOCK) {
                int blocks = (int) Math.min(runBlocks, Math.min(left >>> Disk.SHIFT, 1 << 16));
                if (write) {
                    device.write(phys, blocks, buf, at + done);
                } else {
                    device.read(phys, blocks, buf, at + done);
                }
                done += (long) blocks << Disk.SHIFT;
            } else {
                int n = (int) Math.min(left, Disk.BLOCK - within);
                device.read(phys, 1, stageSegment, 0);
                if (write) {
                    MemorySegment.copy(buf, at + done, stageSegment, within, n);
                    device.write(phys, 1, stageSegment, 0);
                } else {
                    MemorySegment.copy(stageSegment, within, buf, at + done, n);
                }
                done += n;
            }
        }
    }

    /** Zeroes the file's bytes from {@code from} to the end of that block, on disk. */
    private void zeroTail(Inode f, long from) {
        int within = (int) (from & (Disk.BLOCK - 1));
        int e = f.find(from >>> Disk.SHIFT);
        if (within == 0 || e < 0) {
            return;
        }
        long phys = f.physical(e) + ((from >>> Disk.SHIFT) - f.start(e));
        device.read(phys, 1, stageSegment, 0);
        Arrays.fill(stage, within, Disk.BLOCK, (byte) 0);
        device.write(phys, 1, stageSegment, 0);
    }
}
