package isola.system.fs;

import java.time.Instant;
import java.util.Arrays;

/**
 * An inode as the file system works on it: decoded from its 256 bytes in the inode table, with
 * its extents (runs of blocks: logical start, physical start, length) read from the inode and
 * the chain of extent blocks after it. Changed, it is {@linkplain InodeTable#store stored} back
 * whole. The layout:
 *
 * <pre>
 *   0 mode u32   4 nlink u32   8 size u64   16 atime  24 mtime  32 ctime (ns, i64)
 *  40 generation u32   44 parent u32 (a directory's "..")   48 extent count u32
 *  52 first extent block u32   56..248 sixteen extents of 12 bytes   248 flags   252 CRC32C
 * </pre>
 */
final class Inode {
    static final int S_IFMT = 0170000;
    static final int S_IFDIR = 0040000;
    static final int S_IFREG = 0100000;
    static final int INLINE_EXTENTS = 16;
    /** Extents an extent block holds after its 16-byte header, before its sealed tail. */
    static final int EXTENTS_PER_BLOCK = (Disk.TAIL - 4 - 16) / 12;

    final int ino;
    int mode;
    int nlink;
    long size;
    long atime;
    long mtime;
    long ctime;
    int generation;
    int parent;
    int flags;
    long firstChain;
    /** The extent blocks, in chain order, as read or last stored. */
    java.util.List<Long> chain = new java.util.ArrayList<>();
    /** Extents as triples (logical, physical, length), sorted by logical block, never overlapping. */
    long[] extents = new long[0];
    int extentCount;

    Inode(int ino) {
        this.ino = ino;
    }

    /** The time stamps' clock: nanoseconds since the epoch. */
    static long now() {
        Instant t = Instant.now();
        return t.getEpochSecond() * 1_000_000_000L + t.getNano();
    }

    /** Its contents changed: the modification and change times are now. */
    void touch() {
        mtime = ctime = now();
    }

    boolean isDirectory() {
        return (mode & S_IFMT) == S_IFDIR;
    }

    boolean isFile() {
        return (mode & S_IFMT) == S_IFREG;
    }

    boolean free() {
        return mode == 0;
    }

    /** Blocks the file's extents hold. */
    long allocatedBlocks() {
        long n = 0;
        for (int i = 0; i < extentCount; i++) {
            n += extents[3 * i + 2];
        }
        return n;
    }

    /** The logical block after the last mapped one. */
    long endBlock() {
        return extentCount == 0 ? 0 : extents[3 * (extentCount - 1)] + extents[3 * (extentCount - 1) + 2];
    }

    /** The extent that maps {@code logical}, or -1-(where one would go) if it is a hole. */
    int find(long logical) {
        int lo = 0;
        int hi = extentCount - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            long start = extents[3 * mid];
            if (logical < start) {
                hi = mid - 1;
            } else if (logical >= start + extents[3 * mid + 2]) {
                lo = mid + 1;
            } else {
                return mid;
            }
        }
        return -1 - lo;
    }

    long start(int e) {
        return extents[3 * e];
    }

    long physical(int e) {
        return extents[3 * e + 1];
    }

    long length(int e) {
        return extents[3 * e + 2];
    }

    /** Maps {@code length} blocks from {@code logical} (a hole) to {@code physical}, merging with a neighbour. */
    void map(long logical, long physical, long length) {
        int at = find(logical);
        if (at >= 0) {
            throw new IllegalStateException("inode " + ino + ": block " + logical + " is mapped already");
        }
        at = -1 - at;
        if (at > 0) {
            int p = at - 1;
            if (start(p) + length(p) == logical && physical(p) + length(p) == physical) {
                extents[3 * p + 2] += length;
                return;
            }
        }
        if (extents.length < 3 * (extentCount + 1)) {
            extents = Arrays.copyOf(extents, Math.max(24, extents.length * 2));
        }
        System.arraycopy(extents, 3 * at, extents, 3 * at + 3, 3 * (extentCount - at));
        extents[3 * at] = logical;
        extents[3 * at + 1] = physical;
        extents[3 * at + 2] = length;
        extentCount++;
    }

    /**
     * Unmaps every block from {@code logical} on, and returns the runs it held as
     * (physical, length) pairs, for the caller to free.
     */
    long[] unmapFrom(long logical) {
        long[] freed = new long[0];
        int n = 0;
        int keep = extentCount;
        for (int e = extentCount - 1; e >= 0; e--) {
            long s = start(e);
            long len = length(e);
            if (s + len <= logical) {
                break;
            }
            long cut = Math.max(logical, s);
            long drop = s + len - cut;
            if (freed.length < 2 * (n + 1)) {
                freed = Arrays.copyOf(freed, Math.max(8, freed.length * 2));
            }
            freed[2 * n] = physical(e) + (cut - s);
            freed[2 * n + 1] = drop;
            n++;
            if (cut == s) {
                keep = e;
            } else {
                extents[3 * e + 2] = cut - s;
            }
        }
        extentCount = keep;
        return Arrays.copyOf(freed, 2 * n);
    }

    /**
     * Reads the extents past the inline ones from the chain of extent blocks, then checks every
     * extent against the data region of {@code sb} and against the order; throws EUCLEAN naming
     * the extent block or the extent. {@code read} gives a block already checked as one of this
     * inode's extent blocks ({@link #extentBlockProblem}). The file system and fsck both read
     * inodes this way.
     */
    void readChain(Superblock sb, long itableBlock, java.util.function.LongFunction<byte[]> read) {
        long next = firstChain;
        int e = INLINE_EXTENTS;
        java.util.List<Long> blocks = new java.util.ArrayList<>();
        while (e < extentCount) {
            if (next < sb.dataStart() || next >= sb.blocks() || blocks.contains(next)) {
                throw FsException.corrupt("inode " + ino + ": extent block " + next + " is outside the data region or repeats");
            }
            blocks.add(next);
            byte[] b = read.apply(next);
            int n = Disk.i32(b, 4);
            if (n <= 0 || n > EXTENTS_PER_BLOCK || e + n > extentCount) {
                throw FsException.corrupt("extent block " + next + " of inode " + ino + ": holds " + n + " extents");
            }
            for (int k = 0; k < n; k++) {
                getExtent(b, 16 + 12 * k, e++);
            }
            next = Disk.u32(b, 8);
        }
        chain = blocks;
        long end = 0;
        for (int k = 0; k < extentCount; k++) {
            long p = physical(k);
            long len = length(k);
            if (len <= 0 || p < sb.dataStart() || p + len > sb.blocks() || start(k) < end) {
                throw FsException.corrupt("inode " + ino + " (inode table block " + itableBlock + "): extent " + k
                        + " (logical " + start(k) + ", block " + p + ", " + len + " blocks) is outside the data region"
                        + " or out of order");
            }
            end = start(k) + len;
        }
    }

    /** What is wrong with {@code b} as extent block {@code blk} of inode {@code owner}, or null. */
    static String extentBlockProblem(long blk, byte[] b, int owner) {
        if (!Disk.sealed(blk, b)) {
            return "checksum mismatch";
        }
        return Disk.i32(b, 0) != Disk.MAGIC_EXTENTS || Disk.i32(b, 12) != owner ? "not an extent block of this inode" : null;
    }

    /** Extent blocks the extents need beyond the inline ones. */
    int chainBlocks() {
        return chainBlocksFor(extentCount);
    }

    static int chainBlocksFor(int extents) {
        return extents <= INLINE_EXTENTS ? 0 : (extents - INLINE_EXTENTS + EXTENTS_PER_BLOCK - 1) / EXTENTS_PER_BLOCK;
    }

    /** Encodes the inode's fields and inline extents at {@code at} in {@code b}, and seals it. */
    void encode(byte[] b, int at) {
        Arrays.fill(b, at, at + Superblock.INODE_SIZE, (byte) 0);
        if (mode == 0) {
            return; // a free inode is all zeros
        }
        Disk.i32(b, at, mode);
        Disk.i32(b, at + 4, nlink);
        Disk.i64(b, at + 8, size);
        Disk.i64(b, at + 16, atime);
        Disk.i64(b, at + 24, mtime);
        Disk.i64(b, at + 32, ctime);
        Disk.i32(b, at + 40, generation);
        Disk.i32(b, at + 44, parent);
        Disk.i32(b, at + 48, extentCount);
        Disk.i32(b, at + 52, (int) firstChain);
        for (int e = 0; e < Math.min(extentCount, INLINE_EXTENTS); e++) {
            putExtent(b, at + 56 + 12 * e, e);
        }
        Disk.i32(b, at + 248, flags);
        Disk.i32(b, at + 252, Disk.checksum(ino, b, at, 252));
    }

    void putExtent(byte[] b, int at, int e) {
        Disk.i32(b, at, (int) start(e));
        Disk.i32(b, at + 4, (int) physical(e));
        Disk.i32(b, at + 8, (int) length(e));
    }

    void getExtent(byte[] b, int at, int e) {
        extents[3 * e] = Disk.u32(b, at);
        extents[3 * e + 1] = Disk.u32(b, at + 4);
        extents[3 * e + 2] = Disk.u32(b, at + 8);
    }

    /**
     * Decodes inode {@code ino} from {@code b} at {@code at} (extents beyond the inline ones are
     * left for the caller to read from the chain). Throws naming the inode and its block if its
     * checksum fails.
     */
    static Inode decode(int ino, byte[] b, int at, long block) {
        Inode i = new Inode(ino);
        if (Disk.zero(b, at, Superblock.INODE_SIZE)) {
            return i;
        }
        if (Disk.i32(b, at + 252) != Disk.checksum(ino, b, at, 252)) {
            throw FsException.corrupt("inode " + ino + " (inode table block " + block + "): checksum mismatch");
        }
        i.mode = Disk.i32(b, at);
        i.nlink = Disk.i32(b, at + 4);
        i.size = Disk.i64(b, at + 8);
        i.atime = Disk.i64(b, at + 16);
        i.mtime = Disk.i64(b, at + 24);
        i.ctime = Disk.i64(b, at + 32);
        i.generation = Disk.i32(b, at + 40);
        i.parent = Disk.i32(b, at + 44);
        i.extentCount = Disk.i32(b, at + 48);
        i.firstChain = Disk.u32(b, at + 52);
        i.flags = Disk.i32(b, at + 248);
        if (i.mode == 0 || (!i.isDirectory() && !i.isFile()) || i.size < 0 || i.extentCount < 0
                || (i.extentCount > INLINE_EXTENTS) != (i.firstChain != 0)) {
            throw FsException.corrupt("inode " + ino + " (inode table block " + block + "): mode " + Integer.toOctalString(i.mode)
                    + ", size " + i.size + ", " + i.extentCount + " extents, extent block " + i.firstChain + " do not agree");
        }
        i.extents = new long[3 * Math.max(8, i.extentCount)];
        for (int e = 0; e < Math.min(i.extentCount, INLINE_EXTENTS); e++) {
            i.getExtent(b, at + 56 + 12 * e, e);
        }
        return i;
    }
}
