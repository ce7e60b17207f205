package isola.system.fs;

import isola.sdk.Errno;

/**
 * Allocates blocks and inode numbers from the block and inode bitmaps, and counts what is free.
 * The bitmaps are metadata blocks of the {@link RunningTransaction}, so an allocation is undone
 * with the operation that made it. A block is handed out only if it is free in the bitmap now
 * and as the last commit left it, and the transaction does not hold it back. Runs are looked
 * for from a goal (after the last allocation, or after the extent being extended), so a file
 * written in order gets few extents.
 */
final class Allocator {
    private final Superblock sb;
    private final RunningTransaction transaction;
    /** A bitmap block's check when read: its checksum. */
    private final RunningTransaction.Check sealed = this::checksumProblem;

    private long freeBlocks;
    private long freeInodes;
    private long blockHint;
    private int inodeHint = 1;
    /** The counts and the hint as the running operation found them, for its rollback. */
    private long freeBlocksAtStart;
    private long freeInodesAtStart;
    private long blockHintAtStart;

    Allocator(Superblock sb, RunningTransaction transaction) {
        this.sb = sb;
        this.transaction = transaction;
    }

    /** Reads and checks the bitmaps, counts what is free, and checks every metadata block is marked used. */
    void load() {
        freeBlocks = countFree(sb.blockBitmapStart(), sb.blockBitmapBlocks());
        freeInodes = countFree(sb.inodeBitmapStart(), sb.inodeBitmapBlocks());
        for (long blk = 0; blk < sb.dataStart(); blk++) {
            if (!blockUsed(blk)) {
                throw FsException.corrupt("block bitmap (block " + bitmapBlockOf(blk) + "): metadata block " + blk
                        + " (" + sb.region(blk) + ") is marked free");
            }
        }
        blockHint = sb.dataStart();
    }

    private long countFree(long regionStart, int regionBlocks) {
        long free = 0;
        for (int i = 0; i < regionBlocks; i++) {
            free += Superblock.BITS_PER_BLOCK - popcount(bitmap(regionStart + i));
        }
        return free;
    }

    void beginOperation() {
        freeBlocksAtStart = freeBlocks;
        freeInodesAtStart = freeInodes;
        blockHintAtStart = blockHint;
    }

    void rollback() {
        freeBlocks = freeBlocksAtStart;
        freeInodes = freeInodesAtStart;
        blockHint = blockHintAtStart;
    }

    // ---------------------------------------------------------------- inodes

    long freeInodes() {
        return freeInodes;
    }

    /** The guard for a new inode. */
    void ensureInodeAvailable() {
        if (freeInodes == 0) {
            throw noFreeInodes();
        }
    }

    /** Allocates an inode number, the first free one from after the last allocated. */
    int allocateInode() {
        ensureInodeAvailable();
        int ino = findFree(sb.inodeBitmapStart(), sb.inodeBitmapBlocks(), inodeHint - 1) + 1;
        if (ino <= 0) {
            throw noFreeInodes();
        }
        setUsed(sb.inodeBitmapStart(), ino - 1, true);
        freeInodes--;
        inodeHint = ino;
        return ino;
    }

    void freeInode(int ino) {
        setUsed(sb.inodeBitmapStart(), ino - 1, false);
        freeInodes++;
    }

    private FsException noFreeInodes() {
        return new FsException(Errno.ENOSPC, "no free inodes (" + sb.inodes() + " in all)");
    }

    /** True if the inode bitmap says any of inode table block {@code blk}'s sixteen inodes is in use. */
    boolean inodeTableBlockUsed(long blk) {
        long first = (blk - sb.inodeTableStart()) * Superblock.INODES_PER_BLOCK; // bit of its first inode
        byte[] bm = bitmap(sb.inodeBitmapStart() + first / Superblock.BITS_PER_BLOCK);
        return Disk.u16(bm, (int) (first % Superblock.BITS_PER_BLOCK) >>> 3) != 0; // 16 bits, byte-aligned
    }

    // ---------------------------------------------------------------- blocks

    /** Free blocks that can be allocated now. */
    long available() {
        return freeBlocks - transaction.heldBack();
    }

    /** Where an allocation with no better goal looks first: after the last one. */
    long hint() {
        return blockHint;
    }

    /** The guard for {@code blocks} new blocks: commits first if the space is only held back by the running transaction. */
    void ensureAvailable(long blocks, String what) {
        if (available() >= blocks) {
            return;
        }
        if (freeBlocks >= blocks && transaction.unchangedByOperation()) {
            transaction.commit();
            transaction.restartJournal();
            if (available() >= blocks) {
                return;
            }
        }
        throw new FsException(Errno.ENOSPC, what + ": needs " + blocks + " blocks, " + Math.max(0, available()) + " are free");
    }

    long allocateMetadataBlock(long goal) {
        return allocateRun(goal, 1)[0];
    }

    /** Allocates up to {@code want} contiguous free blocks near {@code goal}: {start, length}. */
    long[] allocateRun(long goal, long want) {
        if (goal < sb.dataStart() || goal >= sb.blocks()) {
            goal = sb.dataStart();
        }
        long start = -1;
        for (int pass = 0; pass < 2 && start < 0; pass++) {
            long from = pass == 0 ? goal : sb.dataStart();
            long to = pass == 0 ? sb.blocks() : goal;
            for (long b = from; b < to; b++) {
                if (allocatable(b)) {
                    start = b;
                    break;
                }
                if ((b & 63) == 63 || b == from) {
                    b = skipFull(b, to);
                }
            }
        }
        if (start < 0) {
            throw new FsException(Errno.ENOSPC, "no free block");
        }
        long len = 1;
        while (len < want && start + len < sb.blocks() && allocatable(start + len)) {
            len++;
        }
        for (long k = 0; k < len; k++) {
            setUsed(sb.blockBitmapStart(), start + k, true);
        }
        freeBlocks -= len;
        blockHint = start + len;
        return new long[] {start, len};
    }

    /** From {@code b}, skips whole 64-block words of the bitmap that are full; returns the block before the next candidate. */
    private long skipFull(long b, long to) {
        long next = (b | 63) + 1;
        while (next + 64 <= to) {
            byte[] bm = bitmap(sb.blockBitmapStart() + next / Superblock.BITS_PER_BLOCK);
            int bit = (int) (next % Superblock.BITS_PER_BLOCK);
            if (bit + 64 > Superblock.BITS_PER_BLOCK || Disk.i64(bm, bit >>> 3) != -1L) {
                break;
            }
            next += 64;
        }
        return next - 1;
    }

    private boolean allocatable(long b) {
        if (blockUsed(b)) {
            return false;
        }
        byte[] committed = transaction.committedBitmap(sb.blockBitmapStart() + b / Superblock.BITS_PER_BLOCK);
        if (committed != null && bit(committed, (int) (b % Superblock.BITS_PER_BLOCK))) {
            return false; // freed by the running transaction
        }
        return !transaction.quarantined(b);
    }

    /** Frees a run of file data blocks: reusable once the running transaction commits. */
    void freeRun(long start, long length) {
        markFree(start, length);
        transaction.freed(length);
    }

    /** Frees a directory or extent block: reusable once the journal restarts. */
    void freeMetadataBlock(long blk) {
        markFree(blk, 1);
        transaction.released(blk);
    }

    private void markFree(long start, long length) {
        for (long k = 0; k < length; k++) {
            setUsed(sb.blockBitmapStart(), start + k, false);
        }
        freeBlocks += length;
    }

    private boolean blockUsed(long b) {
        return bit(bitmap(bitmapBlockOf(b)), (int) (b % Superblock.BITS_PER_BLOCK));
    }

    private long bitmapBlockOf(long b) {
        return sb.blockBitmapStart() + b / Superblock.BITS_PER_BLOCK;
    }

    // ---------------------------------------------------------------- bitmaps

    private byte[] bitmap(long blk) {
        return transaction.checked(blk, sealed);
    }

    private String checksumProblem(long blk, byte[] b) {
        return Disk.sealed(blk, b) ? null : sb.region(blk) + " (block " + blk + "): checksum mismatch";
    }

    /** First clear bit at or after {@code from} in a bitmap region, wrapping once; -1 if none. */
    private int findFree(long regionStart, int regionBlocks, long from) {
        long total = (long) regionBlocks * Superblock.BITS_PER_BLOCK;
        for (long n = 0; n < total; n++) {
            long k = (from + n) % total;
            byte[] b = bitmap(regionStart + k / Superblock.BITS_PER_BLOCK);
            if (!bit(b, (int) (k % Superblock.BITS_PER_BLOCK))) {
                return (int) k;
            }
        }
        return -1;
    }

    private void setUsed(long regionStart, long k, boolean used) {
        long blk = regionStart + k / Superblock.BITS_PER_BLOCK;
        bitmap(blk);
        setBit(transaction.modify(blk), (int) (k % Superblock.BITS_PER_BLOCK), used);
    }

    static boolean bit(byte[] b, int k) {
        return (b[k >>> 3] & (1 << (k & 7))) != 0;
    }

    static void setBit(byte[] b, int k, boolean v) {
        if (v) {
            b[k >>> 3] |= (byte) (1 << (k & 7));
        } else {
            b[k >>> 3] &= (byte) ~(1 << (k & 7));
        }
    }

    static int popcount(byte[] b) {
        int n = 0;
        for (int at = 0; at < Superblock.BITS_PER_BLOCK / 8; at += 8) {
            n += Long.bitCount(Disk.i64(b, at));
        }
        return n;
    }
}
