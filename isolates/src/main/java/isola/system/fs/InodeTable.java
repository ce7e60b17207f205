package isola.system.fs;

import isola.sdk.BlockDevice;
import isola.sdk.Errno;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The inode table: inodes decoded from their blocks with their extent chains, stored back
 * whole, made and freed. The table's blocks and the extent blocks are metadata of the
 * {@link RunningTransaction}; inode numbers come from the {@link Allocator}.
 */
final class InodeTable {
    private final BlockDevice device;
    private final Superblock sb;
    private final RunningTransaction transaction;
    private final Allocator allocator;
    private int nextGeneration = (int) System.nanoTime();

    InodeTable(BlockDevice device, Superblock sb, RunningTransaction transaction, Allocator allocator) {
        this.device = device;
        this.sb = sb;
        this.transaction = transaction;
        this.allocator = allocator;
    }

    /**
     * Checks every allocated inode's checksum: the table's blocks that the inode bitmap says hold
     * any, read in runs of up to 255 (a mostly empty disk reads little).
     */
    void load() {
        int per = 255;
        byte[] run = new byte[per * Disk.BLOCK];
        for (long blk = sb.inodeTableStart(); blk < sb.dataStart(); ) {
            if (!allocator.inodeTableBlockUsed(blk)) {
                blk++;
                continue;
            }
            int n = 1;
            while (n < per && blk + n < sb.dataStart() && allocator.inodeTableBlockUsed(blk + n)) {
                n++;
            }
            device.read(blk, n, MemorySegment.ofArray(run), 0);
            for (int k = 0; k < n; k++) {
                if (Disk.zero(run, k * Disk.BLOCK, Disk.BLOCK)) {
                    continue; // sixteen free inodes: nothing to check, nothing worth caching
                }
                byte[] b = Arrays.copyOfRange(run, k * Disk.BLOCK, (k + 1) * Disk.BLOCK);
                transaction.keep(blk + k, b);
                for (int s = 0; s < Superblock.INODES_PER_BLOCK; s++) {
                    int ino = (int) ((blk + k - sb.inodeTableStart()) * Superblock.INODES_PER_BLOCK + s + 1);
                    Inode.decode(ino, b, s * Superblock.INODE_SIZE, blk + k);
                }
            }
            blk += n;
        }
    }

    /** Inode {@code ino}, which something on disk names: a free one is damage. */
    Inode get(int ino) {
        if (ino < 1 || ino > sb.inodes()) {
            throw FsException.corrupt("inode number " + ino + " is outside 1.." + sb.inodes());
        }
        long blk = sb.inodeBlock(ino);
        Inode i = Inode.decode(ino, transaction.cached(blk), sb.inodeOffset(ino), blk);
        if (i.free()) {
            throw FsException.corrupt("inode " + ino + " (inode table block " + blk + ") is referenced but free");
        }
        i.readChain(sb, blk, b -> extentBlock(b, ino));
        return i;
    }

    /** The inode of an open file: it must still be the file it was. */
    Inode open(FileSystem.Handle h) {
        if (h == null || h.inode() < 1 || h.inode() > sb.inodes()) {
            throw new FsException(Errno.EBADF, "no such open file: " + h);
        }
        long blk = sb.inodeBlock(h.inode());
        Inode i = Inode.decode(h.inode(), transaction.cached(blk), sb.inodeOffset(h.inode()), blk);
        if (i.free() || i.generation != h.generation()) {
            throw new FsException(Errno.ESTALE, "inode " + h.inode() + " was removed since it was opened"
                    + " (or its creation was lost to a restart before a sync)");
        }
        i.readChain(sb, blk, b -> extentBlock(b, i.ino));
        return i;
    }

    private byte[] extentBlock(long blk, int owner) {
        return transaction.checked(blk, (k, b) -> {
            String problem = Inode.extentBlockProblem(k, b, owner);
            return problem == null ? null : "extent block " + k + " of inode " + owner + ": " + problem;
        });
    }

    /** Writes the inode and its extent chain back. */
    void store(Inode i) {
        int need = i.chainBlocks();
        List<Long> chain = i.chain;
        while (chain.size() > need) {
            long blk = chain.remove(chain.size() - 1);
            allocator.freeMetadataBlock(blk);
        }
        while (chain.size() < need) {
            long blk = allocator.allocateMetadataBlock(chain.isEmpty() ? allocator.hint() : chain.get(chain.size() - 1) + 1);
            transaction.fresh(blk);
            chain.add(blk);
        }
        i.firstChain = chain.isEmpty() ? 0 : chain.get(0);
        int e = Inode.INLINE_EXTENTS;
        byte[] image = new byte[Disk.BLOCK];
        for (int k = 0; k < chain.size(); k++) {
            long blk = chain.get(k);
            int n = Math.min(Inode.EXTENTS_PER_BLOCK, i.extentCount - e);
            Arrays.fill(image, (byte) 0);
            Disk.i32(image, 0, Disk.MAGIC_EXTENTS);
            Disk.i32(image, 4, n);
            Disk.i32(image, 8, k + 1 < chain.size() ? (int) (long) chain.get(k + 1) : 0);
            Disk.i32(image, 12, i.ino);
            for (int x = 0; x < n; x++) {
                i.putExtent(image, 16 + 12 * x, e++);
            }
            byte[] cur = transaction.cached(blk);
            if (!Arrays.equals(cur, 0, Disk.TAIL, image, 0, Disk.TAIL)) {
                System.arraycopy(image, 0, transaction.modify(blk), 0, Disk.TAIL);
            }
        }
        long blk = sb.inodeBlock(i.ino);
        transaction.cached(blk);
        i.encode(transaction.modify(blk), sb.inodeOffset(i.ino));
    }

    /** A new inode, not yet stored: a number allocated, a new generation, the times now. */
    Inode create(int mode, int parent) {
        int ino = allocator.allocateInode();
        Inode i = new Inode(ino);
        i.mode = mode;
        i.parent = parent;
        i.generation = nextGeneration++;
        i.atime = i.mtime = i.ctime = Inode.now();
        i.chain = new ArrayList<>();
        return i;
    }

    /** Frees an inode whose data is gone: its extent blocks, and its number. */
    void free(Inode i) {
        for (long blk : new ArrayList<>(i.chain)) {
            allocator.freeMetadataBlock(blk);
        }
        i.chain.clear();
        i.extentCount = 0;
        i.mode = 0;
        store(i);
        allocator.freeInode(i.ino);
    }
}
