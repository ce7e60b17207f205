package isola.system.fs;

/**
 * Block 0: what the disk holds and where. The regions follow each other in this order: the
 * superblock, the journal, the inode bitmap, the block bitmap, the inode table, then data.
 * {@link #layout} computes them for mkfs; {@link #decode} checks every field against the others,
 * so a damaged superblock is refused with the field named before anything else is read.
 */
record Superblock(long blocks, int inodes, long journalStart, int journalBlocks, long inodeBitmapStart,
        int inodeBitmapBlocks, long blockBitmapStart, int blockBitmapBlocks, long inodeTableStart,
        int inodeTableBlocks, long dataStart, long uuidHigh, long uuidLow, long createdNs) {

    /** Bits a bitmap block holds: all of it but its sealed tail, in whole bytes. */
    static final int BITS_PER_BLOCK = (Disk.TAIL - 4) * 8;
    static final int INODE_SIZE = 256;
    static final int INODES_PER_BLOCK = Disk.BLOCK / INODE_SIZE;
    /** The smallest disk mkfs accepts: 1 MiB. */
    static final long MIN_BLOCKS = 256;
    /** Block numbers are 32 bits on disk: 16 TiB at most. */
    static final long MAX_BLOCKS = 1L << 32;

    /** The layout mkfs gives a disk of {@code blocks}: an inode per 8 KiB, a journal of 1/64 (256 KiB..64 MiB). */
    static Superblock layout(long blocks, long uuidHigh, long uuidLow, long createdNs) {
        if (blocks < MIN_BLOCKS || blocks > MAX_BLOCKS) {
            throw new FsException(isola.sdk.Errno.EINVAL, "a disk of " + blocks + " blocks: the size must be "
                    + MIN_BLOCKS + " to " + MAX_BLOCKS + " blocks of 4 KiB (1 MiB to 16 TiB)");
        }
        int inodes = (int) Math.min(Math.max(64, blocks / 2), Integer.MAX_VALUE - INODES_PER_BLOCK);
        inodes = (inodes + INODES_PER_BLOCK - 1) / INODES_PER_BLOCK * INODES_PER_BLOCK;
        int journal = (int) Math.min(Math.max(64, blocks / 64), 16384);
        int ibm = ceilDiv(inodes, BITS_PER_BLOCK);
        int bbm = (int) ceilDiv(blocks, BITS_PER_BLOCK);
        int itable = inodes / INODES_PER_BLOCK;
        long journalStart = 1;
        long ibmStart = journalStart + journal;
        long bbmStart = ibmStart + ibm;
        long itStart = bbmStart + bbm;
        long data = itStart + itable;
        return new Superblock(blocks, inodes, journalStart, journal, ibmStart, ibm, bbmStart, bbm, itStart, itable,
                data, uuidHigh, uuidLow, createdNs);
    }

    private static int ceilDiv(long a, long b) {
        return (int) ((a + b - 1) / b);
    }

    byte[] encode() {
        byte[] b = new byte[Disk.BLOCK];
        Disk.i64(b, 0, Disk.MAGIC_SUPER);
        Disk.i32(b, 8, Disk.VERSION);
        Disk.i32(b, 12, Disk.BLOCK);
        Disk.i64(b, 16, blocks);
        Disk.i32(b, 24, inodes);
        Disk.i32(b, 28, (int) journalStart);
        Disk.i32(b, 32, journalBlocks);
        Disk.i32(b, 36, (int) inodeBitmapStart);
        Disk.i32(b, 40, inodeBitmapBlocks);
        Disk.i32(b, 44, (int) blockBitmapStart);
        Disk.i32(b, 48, blockBitmapBlocks);
        Disk.i32(b, 52, (int) inodeTableStart);
        Disk.i32(b, 56, inodeTableBlocks);
        Disk.i32(b, 60, (int) dataStart);
        Disk.i64(b, 64, uuidHigh);
        Disk.i64(b, 72, uuidLow);
        Disk.i64(b, 80, createdNs);
        Disk.seal(0, b);
        return b;
    }

    /** Decodes block 0 of a disk of {@code deviceBlocks}, or throws naming what is wrong with it. */
    static Superblock decode(byte[] b, long deviceBlocks) {
        String where = "superblock (block 0)";
        if (Disk.i64(b, 0) != Disk.MAGIC_SUPER) {
            throw FsException.corrupt(where + ": no Isola file system here (magic " + Disk.hex(Disk.i64(b, 0))
                    + ", expected " + Disk.hex(Disk.MAGIC_SUPER) + "); run mkfs first");
        }
        if (!Disk.sealed(0, b)) {
            throw FsException.corrupt(where + ": checksum mismatch");
        }
        if (Disk.i32(b, 8) != Disk.VERSION || Disk.i32(b, 12) != Disk.BLOCK) {
            throw FsException.corrupt(where + ": version " + Disk.i32(b, 8) + ", block size " + Disk.i32(b, 12)
                    + " (this is version " + Disk.VERSION + " with " + Disk.BLOCK + "-byte blocks)");
        }
        Superblock s = new Superblock(Disk.i64(b, 16), Disk.i32(b, 24), Disk.u32(b, 28), Disk.i32(b, 32), Disk.u32(b, 36),
                Disk.i32(b, 40), Disk.u32(b, 44), Disk.i32(b, 48), Disk.u32(b, 52), Disk.i32(b, 56), Disk.u32(b, 60),
                Disk.i64(b, 64), Disk.i64(b, 72), Disk.i64(b, 80));
        if (s.blocks != deviceBlocks) {
            throw FsException.corrupt(where + ": blocks = " + s.blocks + ", but the disk has " + deviceBlocks);
        }
        Superblock expected;
        try {
            expected = layout(s.blocks, s.uuidHigh, s.uuidLow, s.createdNs);
        } catch (FsException e) {
            throw FsException.corrupt(where + ": " + e.getMessage());
        }
        // The layout is a function of the size; any field that disagrees is damage.
        String field = s.inodes != expected.inodes ? "inodes = " + s.inodes
                : s.journalStart != expected.journalStart ? "journal start = " + s.journalStart
                : s.journalBlocks != expected.journalBlocks ? "journal blocks = " + s.journalBlocks
                : s.inodeBitmapStart != expected.inodeBitmapStart ? "inode bitmap start = " + s.inodeBitmapStart
                : s.inodeBitmapBlocks != expected.inodeBitmapBlocks ? "inode bitmap blocks = " + s.inodeBitmapBlocks
                : s.blockBitmapStart != expected.blockBitmapStart ? "block bitmap start = " + s.blockBitmapStart
                : s.blockBitmapBlocks != expected.blockBitmapBlocks ? "block bitmap blocks = " + s.blockBitmapBlocks
                : s.inodeTableStart != expected.inodeTableStart ? "inode table start = " + s.inodeTableStart
                : s.inodeTableBlocks != expected.inodeTableBlocks ? "inode table blocks = " + s.inodeTableBlocks
                : s.dataStart != expected.dataStart ? "data start = " + s.dataStart : null;
        if (field != null) {
            throw FsException.corrupt(where + ": " + field + " does not fit a disk of " + s.blocks + " blocks");
        }
        return s;
    }

    /** The inode table block holding inode {@code ino}, and its offset there. */
    long inodeBlock(int ino) {
        return inodeTableStart + (ino - 1) / INODES_PER_BLOCK;
    }

    int inodeOffset(int ino) {
        return (ino - 1) % INODES_PER_BLOCK * INODE_SIZE;
    }

    /** Which region block {@code b} is in, for messages. */
    String region(long b) {
        if (b == 0) {
            return "superblock";
        } else if (b < inodeBitmapStart) {
            return "journal";
        } else if (b < blockBitmapStart) {
            return "inode bitmap";
        } else if (b < inodeTableStart) {
            return "block bitmap";
        } else if (b < dataStart) {
            return "inode table";
        }
        return "data";
    }
}
