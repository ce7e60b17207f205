package isola.system.fs;

import isola.sdk.BlockDevice;
import isola.sdk.Errno;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.function.Supplier;

/**
 * Isola's file system on a {@link BlockDevice}: a superblock, a write-ahead {@link Journal},
 * inode and block bitmaps, an inode table, and data; files are extents of blocks, directories
 * are files of {@link Directory} blocks, and every metadata block is checksummed.
 *
 * <p><b>Consistency.</b> Every operation is atomic: its guards run first, and if anything fails
 * after them, every metadata block it touched is restored (nothing is half-changed). Its metadata
 * joins the running transaction, kept in memory; {@link #sync} (and {@link #fsync}, which is the
 * same: one journal for the whole disk) commits it through the journal and then writes it in
 * place. File data is written in place at once, before the transaction that makes it reachable
 * commits (ordered mode, as ext4's default), so a committed transaction never points at data
 * that is not on disk. Two rules keep acknowledged data safe across a crash: a block freed by
 * the running transaction is not reused until that transaction commits (a crash would revive
 * its old owner), and a directory or extent block that went through the journal is not reused
 * for file data until the journal restarts (replaying its old image would overwrite the data).
 *
 * <p>Paths are absolute; names are 1..255 bytes of UTF-8 without NUL or '/'. Errors are
 * {@link FsException}s with a POSIX errno and a message naming the path. Damaged metadata is
 * {@code EUCLEAN} naming the block; a failed device write leaves the file system refusing
 * everything with {@code EIO} until it is mounted again, which replays the journal. Access
 * times are not kept up to date on reads (as with {@code noatime}). Thread-safe: every
 * operation holds the file system's lock.
 *
 * <p>The parts, each of its own concern: the {@link RunningTransaction} (the metadata blocks,
 * the transaction and the operation's undo log), the {@link Allocator} (the bitmaps), the
 * {@link InodeTable}, {@link FileData} (a file's bytes) and the {@link Namespace} (paths and
 * directories). This class is the face the server and the tools use: it runs each operation
 * in one frame, which rolls every part back if the operation fails.
 */
public final class FileSystem implements AutoCloseable {
    /** A file's attributes, as {@code stat(2)} reports them. */
    public record Stat(long inode, int mode, int nlink, long size, long blocks512, long atimeNs, long mtimeNs, long ctimeNs) {
        public boolean directory() {
            return (mode & Inode.S_IFMT) == Inode.S_IFDIR;
        }
    }

    /** A directory entry. */
    public record Entry(String name, int inode, boolean directory) {}

    /** What {@code statfs(2)} reports. */
    public record Usage(long blockSize, long blocks, long freeBlocks, long inodes, long freeInodes, int nameMax) {}

    /** An open file: its inode and the generation it had when opened, so a reused inode is not mistaken for it. */
    public record Handle(int inode, int generation) {}

    public static final int NAME_MAX = Disk.NAME_MAX;
    public static final int S_IFDIR = Inode.S_IFDIR;
    public static final int S_IFREG = Inode.S_IFREG;
    /** Files are at most 2^32 - 1 blocks (block numbers in extents are 32 bits). */
    public static final long MAX_FILE_SIZE = ((1L << 32) - 1) << Disk.SHIFT;
    /** The smallest and the largest disk {@link #format} takes, in bytes. */
    public static final long MIN_DISK_BYTES = Superblock.MIN_BLOCKS << Disk.SHIFT;
    public static final long MAX_DISK_BYTES = Superblock.MAX_BLOCKS << Disk.SHIFT;

    private final Superblock sb;
    private final int replayed;
    private final RunningTransaction transaction;
    private final Allocator allocator;
    private final InodeTable inodes;
    private final FileData data;
    private final Namespace namespace;

    private String failure;
    private boolean closed;

    private FileSystem(BlockDevice device, Superblock sb, Journal journal, int replayed) {
        this.sb = sb;
        this.replayed = replayed;
        this.transaction = new RunningTransaction(device, sb, journal);
        this.allocator = new Allocator(sb, transaction);
        this.inodes = new InodeTable(device, sb, transaction, allocator);
        this.data = new FileData(device, allocator, inodes);
        this.namespace = new Namespace(sb, transaction, allocator, inodes, data);
    }

    // ---------------------------------------------------------------- mkfs and mount

    /** Writes an empty file system over the whole of {@code device} (mkfs): the root directory and nothing else. */
    public static void format(BlockDevice device) {
        java.util.UUID uuid = java.util.UUID.randomUUID();
        Superblock sb = Superblock.layout(device.blocks(), uuid.getMostSignificantBits(), uuid.getLeastSignificantBits(), Inode.now());
        byte[] zero = new byte[64 * Disk.BLOCK];
        // Every metadata region starts zeroed (bitmaps all free, inodes all free).
        for (long b = sb.inodeBitmapStart(); b < sb.dataStart(); b += 64) {
            int n = (int) Math.min(64, sb.dataStart() - b);
            device.write(b, n, MemorySegment.ofArray(zero), 0);
        }
        // The bitmaps' blocks need their checksums; the metadata regions are in use, as is block 0.
        for (int i = 0; i < sb.blockBitmapBlocks(); i++) {
            byte[] b = new byte[Disk.BLOCK];
            long first = (long) i * Superblock.BITS_PER_BLOCK;
            for (long blk = first; blk < Math.min(first + Superblock.BITS_PER_BLOCK, sb.blocks()); blk++) {
                if (blk < sb.dataStart() + 1) { // + the root directory's first block
                    Allocator.setBit(b, (int) (blk - first), true);
                }
            }
            // Bits past the end of the disk are set, so they are never allocated.
            for (long blk = sb.blocks(); blk < first + Superblock.BITS_PER_BLOCK; blk++) {
                Allocator.setBit(b, (int) (blk - first), true);
            }
            Disk.seal(sb.blockBitmapStart() + i, b);
            device.write(sb.blockBitmapStart() + i, 1, MemorySegment.ofArray(b), 0);
        }
        for (int i = 0; i < sb.inodeBitmapBlocks(); i++) {
            byte[] b = new byte[Disk.BLOCK];
            long first = (long) i * Superblock.BITS_PER_BLOCK;
            for (long ino = first; ino < first + Superblock.BITS_PER_BLOCK; ino++) {
                // Bit k is inode k + 1; inode 1 is the root; bits past the last inode are set.
                if (ino == 0 || ino >= sb.inodes()) {
                    Allocator.setBit(b, (int) (ino - first), true);
                }
            }
            Disk.seal(sb.inodeBitmapStart() + i, b);
            device.write(sb.inodeBitmapStart() + i, 1, MemorySegment.ofArray(b), 0);
        }
        long rootBlock = sb.dataStart();
        byte[] dir = new byte[Disk.BLOCK];
        Directory.init(dir, Disk.ROOT);
        Disk.seal(rootBlock, dir);
        device.write(rootBlock, 1, MemorySegment.ofArray(dir), 0);
        Inode root = new Inode(Disk.ROOT);
        long t = Inode.now();
        root.mode = Inode.S_IFDIR | 0755;
        root.nlink = 2;
        root.size = Disk.BLOCK;
        root.atime = root.mtime = root.ctime = t;
        root.parent = Disk.ROOT;
        root.generation = 1;
        root.map(0, rootBlock, 1);
        byte[] itable = new byte[Disk.BLOCK];
        root.encode(itable, sb.inodeOffset(Disk.ROOT));
        device.write(sb.inodeBlock(Disk.ROOT), 1, MemorySegment.ofArray(itable), 0);
        new Journal(device, sb).format();
        device.flush();
        // The superblock last: until it is written, the disk is not a file system.
        device.write(0, 1, MemorySegment.ofArray(sb.encode()), 0);
        device.flush();
    }

    /**
     * Mounts the file system on {@code device}: checks the superblock, replays the journal, and
     * checks the bitmaps, the inode table and the root directory. Refuses a damaged disk with an
     * {@code EUCLEAN} {@link FsException} that names the block.
     */
    public static FileSystem mount(BlockDevice device) {
        try {
            byte[] b0 = new byte[Disk.BLOCK];
            RunningTransaction.read(device, 0, b0);
            Superblock sb = Superblock.decode(b0, device.blocks());
            Journal journal = new Journal(device, sb);
            int replayed = journal.replay();
            FileSystem fs = new FileSystem(device, sb, journal, replayed);
            fs.allocator.load();
            fs.inodes.load();
            fs.namespace.checkRoot();
            return fs;
        } catch (FsException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new FsException(Errno.EIO, "mount of " + device + ": " + e.getMessage(), e);
        }
    }

    /** Transactions the mount replayed from the journal. */
    public int replayed() {
        return replayed;
    }

    /** Transactions committed since the mount. */
    public synchronized long commits() {
        return transaction.commits();
    }

    // ---------------------------------------------------------------- operations

    public synchronized Stat stat(String path) {
        return op(() -> stat(inodes.get(namespace.resolve(path))));
    }

    public synchronized Stat stat(Handle h) {
        return op(() -> stat(inodes.open(h)));
    }

    private static Stat stat(Inode i) {
        return new Stat(i.ino, i.mode, i.nlink, i.size, i.allocatedBlocks() * (Disk.BLOCK / 512), i.atime, i.mtime, i.ctime);
    }

    public synchronized List<Entry> list(String path) {
        return op(() -> namespace.list(path));
    }

    public synchronized void mkdir(String path, int mode) {
        op(() -> namespace.mkdir(path, mode));
    }

    public synchronized void rmdir(String path) {
        op(() -> namespace.rmdir(path));
    }

    public synchronized void unlink(String path) {
        op(() -> namespace.unlink(path));
    }

    /**
     * Renames {@code from} to {@code to} atomically: if {@code to} exists (a file, or an empty
     * directory when {@code from} is a directory) it is replaced in the same transaction, so a
     * crash leaves either the old or the new name, never neither.
     */
    public synchronized void rename(String from, String to) {
        op(() -> namespace.rename(from, to));
    }

    /**
     * Opens {@code path} as a regular file: with {@code create} a missing file is made (mode
     * {@code mode}); with {@code exclusive} as well, an existing one is {@code EEXIST}; with
     * {@code truncate} its data is dropped.
     */
    public synchronized Handle open(String path, boolean create, boolean exclusive, boolean truncate, int mode) {
        return op(() -> namespace.open(path, create, exclusive, truncate, mode));
    }

    /** Opens a directory for listing by handle (FUSE's opendir); the handle checks it still exists. */
    public synchronized Handle openDirectory(String path) {
        return op(() -> namespace.openDirectory(path));
    }

    /** Reads up to {@code length} bytes at {@code offset} into {@code dst} from {@code at}; returns how many (0 at the end). */
    public synchronized int read(Handle h, long offset, MemorySegment dst, long at, int length) {
        return op(() -> data.read(inodes.open(h), offset, dst, at, length));
    }

    /** Writes {@code length} bytes of {@code src} from {@code at} at {@code offset}; all of them or, on ENOSPC, none. */
    public synchronized int write(Handle h, long offset, MemorySegment src, long at, int length) {
        return op(() -> data.write(inodes.open(h), offset, src, at, length));
    }

    public synchronized void truncate(String path, long size) {
        op(() -> data.truncate(inodes.get(namespace.resolve(path)), size, path));
    }

    public synchronized void truncate(Handle h, long size) {
        op(() -> data.truncate(inodes.open(h), size, "inode " + h.inode()));
    }

    public synchronized void chmod(String path, int mode) {
        op(() -> {
            Inode i = inodes.get(namespace.resolve(path));
            i.mode = (i.mode & Inode.S_IFMT) | (mode & 07777);
            i.ctime = Inode.now();
            inodes.store(i);
        });
    }

    /** Sets the access and modification times (nanoseconds since the epoch); a negative value leaves one as it is. */
    public synchronized void setTimes(String path, long atimeNs, long mtimeNs) {
        op(() -> {
            Inode i = inodes.get(namespace.resolve(path));
            if (atimeNs >= 0) {
                i.atime = atimeNs;
            }
            if (mtimeNs >= 0) {
                i.mtime = mtimeNs;
            }
            i.ctime = Inode.now();
            inodes.store(i);
        });
    }

    public synchronized Usage usage() {
        checkUsable();
        return new Usage(Disk.BLOCK, sb.blocks() - sb.dataStart(), allocator.available(), sb.inodes(), allocator.freeInodes(), NAME_MAX);
    }

    /**
     * Makes everything done so far durable: file data and the running transaction. Returns once
     * the journal's commit is on disk.
     */
    public synchronized void sync() {
        checkUsable();
        try {
            transaction.commit();
        } catch (RuntimeException e) {
            throw fail("commit", e);
        }
    }

    /** {@link #sync}, for one file: the journal is shared, so this commits everything. */
    public synchronized void fsync(Handle h) {
        op(() -> inodes.open(h));
        sync();
    }

    /** Commits if the running transaction holds anything (the server's periodic commit). */
    public synchronized boolean commitIfDirty() {
        if (transaction.isEmpty() || failure != null || closed) {
            return false;
        }
        sync();
        return true;
    }

    /**
     * Syncs and empties the journal (everything is in place, so the next mount replays
     * nothing), then stops serving. The device stays open: it is the caller's.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        if (failure == null) {
            sync();
            try {
                transaction.restartJournal();
            } catch (RuntimeException e) {
                throw fail("unmount", e);
            }
        }
        closed = true;
    }

    // ---------------------------------------------------------------- the operation frame

    private void op(Runnable body) {
        op(() -> {
            body.run();
            return null;
        });
    }

    private <T> T op(Supplier<T> body) {
        checkUsable();
        if (transaction.halfFull()) {
            sync(); // keep the running transaction well inside what one commit takes
        }
        transaction.beginOperation();
        allocator.beginOperation();
        try {
            T result = body.get();
            transaction.endOperation();
            return result;
        } catch (RuntimeException | Error e) {
            // Restore every block the operation touched: nothing is half-changed. An Error too:
            // a passive call runs on its caller's thread, and when the caller's domain is killed
            // mid-operation its next system call (a block request's wait) unwinds it with
            // KilledError; this server lives on, and its next commit must not make the half-done
            // operation (blocks allocated and mapped, the size not yet set) durable.
            transaction.rollback();
            allocator.rollback();
            if (e instanceof Error err) {
                throw err; // not the disk's: the thread is going; the file system is as before the operation
            }
            if (e instanceof FsException fe) {
                throw fe;
            }
            if (e instanceof isola.sdk.IsolaException) {
                throw e; // the kernel's, not the disk's: this server's domain is going (killed, or its client gone)
            }
            throw fail("operation", (RuntimeException) e);
        }
    }

    private void checkUsable() {
        if (closed) {
            throw new FsException(Errno.EIO, "the file system is unmounted");
        }
        if (failure != null) {
            throw new FsException(Errno.EIO, "the file system stopped after " + failure + "; mount it again to recover");
        }
    }

    /** A device error (or a bug) mid-operation: stop, so nothing more is built on an unknown state. */
    private FsException fail(String what, RuntimeException e) {
        if (e instanceof FsException fe && fe.errno() != Errno.EIO) {
            return fe;
        }
        failure = what + " failed: " + e;
        return new FsException(Errno.EIO, failure, e);
    }
}
