package isola.system.fs;

import isola.sdk.BlockDevice;
import isola.sdk.Errno;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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

    private static final byte[] ABSENT = new byte[0];

    private final BlockDevice device;
    private final Superblock sb;
    private final Journal journal;
    private final int replayed;

    /** Every metadata block read or written so far, checked when read. */
    private final Map<Long, byte[]> cache = new HashMap<>();
    /** The running transaction: blocks changed since the last commit, in the order first changed. */
    private final LinkedHashMap<Long, byte[]> dirty = new LinkedHashMap<>();
    /** The running operation's undo log: each block's contents before the operation first changed it. */
    private final Map<Long, byte[]> undo = new HashMap<>();
    /** Bitmap blocks as the last commit left them: a block free there and now is free to reuse. */
    private final Map<Long, byte[]> committedBitmaps = new HashMap<>();
    /** Journaled data-region blocks freed since the journal last restarted: not for file data yet. */
    private final Set<Long> quarantine = new HashSet<>();
    private final List<Long> quarantinedByOp = new ArrayList<>();

    private long freeBlocks;
    private long freeInodes;
    /** Blocks freed by the running transaction, which cannot be reused before it commits. */
    private long freedUncommitted;
    private long blockHint;
    private int inodeHint = 1;
    private int nextGeneration = (int) System.nanoTime();
    private String failure;
    private boolean closed;
    private long commits;

    private final byte[] stage = new byte[Disk.BLOCK];
    private final MemorySegment stageSegment = MemorySegment.ofArray(stage);

    private FileSystem(BlockDevice device, Superblock sb, Journal journal, int replayed) {
        this.device = device;
        this.sb = sb;
        this.journal = journal;
        this.replayed = replayed;
    }

    // ---------------------------------------------------------------- mkfs and mount

    /** Writes an empty file system over the whole of {@code device} (mkfs): the root directory and nothing else. */
    public static void format(BlockDevice device) {
        java.util.UUID uuid = java.util.UUID.randomUUID();
        Superblock sb = Superblock.layout(device.blocks(), uuid.getMostSignificantBits(), uuid.getLeastSignificantBits(), now());
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
                    setBit(b, (int) (blk - first), true);
                }
            }
            // Bits past the end of the disk are set, so they are never allocated.
            for (long blk = sb.blocks(); blk < first + Superblock.BITS_PER_BLOCK; blk++) {
                setBit(b, (int) (blk - first), true);
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
                    setBit(b, (int) (ino - first), true);
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
        long t = now();
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
            read(device, 0, b0);
            Superblock sb = Superblock.decode(b0, device.blocks());
            Journal journal = new Journal(device, sb);
            int replayed = journal.replay();
            FileSystem fs = new FileSystem(device, sb, journal, replayed);
            fs.load();
            return fs;
        } catch (FsException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new FsException(Errno.EIO, "mount of " + device + ": " + e.getMessage(), e);
        }
    }

    private static void read(BlockDevice device, long block, byte[] into) {
        try {
            device.read(block, 1, MemorySegment.ofArray(into), 0);
        } catch (RuntimeException e) {
            throw new FsException(Errno.EIO, "read of block " + block + " failed: " + e.getMessage(), e);
        }
    }

    /** Reads and checks the bitmaps and inode table, counts what is free, and checks the root. */
    private void load() {
        freeBlocks = 0;
        for (int i = 0; i < sb.blockBitmapBlocks(); i++) {
            byte[] b = bitmap(sb.blockBitmapStart() + i);
            freeBlocks += Superblock.BITS_PER_BLOCK - popcount(b);
        }
        freeInodes = 0;
        for (int i = 0; i < sb.inodeBitmapBlocks(); i++) {
            byte[] b = bitmap(sb.inodeBitmapStart() + i);
            freeInodes += Superblock.BITS_PER_BLOCK - popcount(b);
        }
        for (long blk = 0; blk < sb.dataStart(); blk++) {
            if (!blockUsed(blk)) {
                throw FsException.corrupt("block bitmap (block " + bitmapBlockOf(blk) + "): metadata block " + blk
                        + " (" + sb.region(blk) + ") is marked free");
            }
        }
        // Every allocated inode must pass its checksum: the inode table's blocks that the inode
        // bitmap says hold any, read in runs of up to 255 (a mostly empty disk reads little).
        int per = 255;
        byte[] run = new byte[per * Disk.BLOCK];
        for (long blk = sb.inodeTableStart(); blk < sb.dataStart(); ) {
            if (!inodeBlockUsed(blk)) {
                blk++;
                continue;
            }
            int n = 1;
            while (n < per && blk + n < sb.dataStart() && inodeBlockUsed(blk + n)) {
                n++;
            }
            device.read(blk, n, MemorySegment.ofArray(run), 0);
            for (int k = 0; k < n; k++) {
                if (Disk.zero(run, k * Disk.BLOCK, Disk.BLOCK)) {
                    continue; // sixteen free inodes: nothing to check, nothing worth caching
                }
                byte[] b = Arrays.copyOfRange(run, k * Disk.BLOCK, (k + 1) * Disk.BLOCK);
                cache.put(blk + k, b);
                for (int s = 0; s < Superblock.INODES_PER_BLOCK; s++) {
                    int ino = (int) ((blk + k - sb.inodeTableStart()) * Superblock.INODES_PER_BLOCK + s + 1);
                    Inode.decode(ino, b, s * Superblock.INODE_SIZE, blk + k);
                }
            }
            blk += n;
        }
        Inode root = inode(Disk.ROOT);
        if (!root.isDirectory()) {
            throw FsException.corrupt("inode 1 (inode table block " + sb.inodeBlock(Disk.ROOT) + "): the root is not a directory");
        }
        for (int e = 0; e < root.extentCount; e++) {
            for (long k = 0; k < root.length(e); k++) {
                directoryBlock(root, root.physical(e) + k);
            }
        }
        blockHint = sb.dataStart();
    }

    /** True if the inode bitmap says any of inode table block {@code blk}'s sixteen inodes is in use. */
    private boolean inodeBlockUsed(long blk) {
        long first = (blk - sb.inodeTableStart()) * Superblock.INODES_PER_BLOCK; // bit of its first inode
        byte[] bm = bitmap(sb.inodeBitmapStart() + first / Superblock.BITS_PER_BLOCK);
        return Disk.u16(bm, (int) (first % Superblock.BITS_PER_BLOCK) >>> 3) != 0; // 16 bits, byte-aligned
    }

    /** Transactions the mount replayed from the journal. */
    public int replayed() {
        return replayed;
    }

    /** Transactions committed since the mount. */
    public synchronized long commits() {
        return commits;
    }

    // ---------------------------------------------------------------- operations

    public synchronized Stat stat(String path) {
        return op(() -> stat(inode(resolve(path))));
    }

    public synchronized Stat stat(Handle h) {
        return op(() -> stat(open(h)));
    }

    private static Stat stat(Inode i) {
        return new Stat(i.ino, i.mode, i.nlink, i.size, i.allocatedBlocks() * (Disk.BLOCK / 512), i.atime, i.mtime, i.ctime);
    }

    public synchronized List<Entry> list(String path) {
        return op(() -> {
            Inode dir = directory(resolve(path), path);
            List<Entry> out = new ArrayList<>();
            forEachBlock(dir, (blk, b) -> {
                for (int at = 0; at < Directory.END; at += Directory.recordLength(b, at)) {
                    if (Directory.ino(b, at) != 0) {
                        out.add(new Entry(Directory.name(b, at), Directory.ino(b, at),
                                Directory.type(b, at) == Directory.TYPE_DIRECTORY));
                    }
                }
                return false;
            });
            return out;
        });
    }

    public synchronized void mkdir(String path, int mode) {
        op(() -> {
            Parent p = parent(path);
            if (lookup(p.dir, p.name) != 0) {
                throw new FsException(Errno.EEXIST, path + ": exists");
            }
            reserveForNewEntry(p.dir, 1);
            Inode d = newInode(Inode.S_IFDIR | (mode & 07777), p.dir.ino);
            d.nlink = 2;
            long blk = allocateMetadataBlock(blockHint);
            byte[] b = fresh(blk);
            Directory.init(b, d.ino);
            d.map(0, blk, 1);
            d.size = Disk.BLOCK;
            store(d);
            addEntry(p.dir, p.name, d.ino, Directory.TYPE_DIRECTORY);
            p.dir.nlink++;
            touch(p.dir);
            store(p.dir);
            return null;
        });
    }

    public synchronized void rmdir(String path) {
        op(() -> {
            Parent p = parent(path);
            int ino = lookup(p.dir, p.name);
            if (ino == 0) {
                throw new FsException(Errno.ENOENT, path + ": no such directory");
            }
            Inode d = inode(ino);
            if (!d.isDirectory()) {
                throw new FsException(Errno.ENOTDIR, path + ": not a directory");
            }
            if (!emptyDirectory(d)) {
                throw new FsException(Errno.ENOTEMPTY, path + ": directory not empty");
            }
            removeEntry(p.dir, p.name);
            p.dir.nlink--;
            touch(p.dir);
            store(p.dir);
            release(d);
            return null;
        });
    }

    public synchronized void unlink(String path) {
        op(() -> {
            Parent p = parent(path);
            int ino = lookup(p.dir, p.name);
            if (ino == 0) {
                throw new FsException(Errno.ENOENT, path + ": no such file");
            }
            Inode f = inode(ino);
            if (f.isDirectory()) {
                throw new FsException(Errno.EISDIR, path + ": is a directory (use rmdir)");
            }
            removeEntry(p.dir, p.name);
            touch(p.dir);
            store(p.dir);
            release(f);
            return null;
        });
    }

    /**
     * Renames {@code from} to {@code to} atomically: if {@code to} exists (a file, or an empty
     * directory when {@code from} is a directory) it is replaced in the same transaction, so a
     * crash leaves either the old or the new name, never neither.
     */
    public synchronized void rename(String from, String to) {
        op(() -> {
            Parent src = parent(from);
            Parent dst = parent(to);
            int ino = lookup(src.dir, src.name);
            if (ino == 0) {
                throw new FsException(Errno.ENOENT, from + ": no such file or directory");
            }
            Inode moving = inode(ino);
            if (moving.isDirectory()) {
                // A directory may not move under itself.
                for (int up = dst.dir.ino; ; up = inode(up).parent) {
                    if (up == ino) {
                        throw new FsException(Errno.EINVAL, to + ": inside " + from + ", which is being moved");
                    }
                    if (up == Disk.ROOT) {
                        break;
                    }
                }
            }
            int existing = lookup(dst.dir, dst.name);
            if (existing == ino) {
                return null; // the same file: POSIX says do nothing
            }
            Inode victim = null;
            if (existing != 0) {
                victim = inode(existing);
                if (moving.isDirectory() && !victim.isDirectory()) {
                    throw new FsException(Errno.ENOTDIR, to + ": not a directory");
                }
                if (!moving.isDirectory() && victim.isDirectory()) {
                    throw new FsException(Errno.EISDIR, to + ": is a directory");
                }
                if (victim.isDirectory() && !emptyDirectory(victim)) {
                    throw new FsException(Errno.ENOTEMPTY, to + ": directory not empty");
                }
            } else {
                reserveForNewEntry(dst.dir, 0);
            }
            int type = moving.isDirectory() ? Directory.TYPE_DIRECTORY : Directory.TYPE_FILE;
            if (victim != null) {
                retargetEntry(dst.dir, dst.name, ino, type);
            } else {
                addEntry(dst.dir, dst.name, ino, type);
            }
            // The source may share a block with the destination: remove it after the insert.
            Inode srcDir = src.dir.ino == dst.dir.ino ? dst.dir : src.dir;
            removeEntry(srcDir, src.name);
            if (moving.isDirectory() && src.dir.ino != dst.dir.ino) {
                srcDir.nlink--;
                if (victim == null) {
                    dst.dir.nlink++;
                }
                moving.parent = dst.dir.ino;
            } else if (moving.isDirectory() && victim != null) {
                dst.dir.nlink--; // the replaced directory's ".." link is gone
            }
            moving.ctime = now();
            store(moving);
            touch(srcDir);
            store(srcDir);
            if (dst.dir != srcDir) {
                touch(dst.dir);
                store(dst.dir);
            }
            if (victim != null) {
                release(victim);
            }
            return null;
        });
    }

    /**
     * Opens {@code path} as a regular file: with {@code create} a missing file is made (mode
     * {@code mode}); with {@code exclusive} as well, an existing one is {@code EEXIST}; with
     * {@code truncate} its data is dropped.
     */
    public synchronized Handle open(String path, boolean create, boolean exclusive, boolean truncate, int mode) {
        return op(() -> {
            if (namesDirectoryItself(path)) { // "/", "/a/.": no entry to open as a file, but a directory
                directory(resolve(path), path);
                throw new FsException(Errno.EISDIR, path + ": is a directory");
            }
            Parent p = parent(path);
            int ino = lookup(p.dir, p.name);
            Inode f;
            if (ino == 0) {
                if (!create) {
                    throw new FsException(Errno.ENOENT, path + ": no such file");
                }
                reserveForNewEntry(p.dir, 0);
                f = newInode(Inode.S_IFREG | (mode & 07777), p.dir.ino);
                f.nlink = 1;
                store(f);
                addEntry(p.dir, p.name, f.ino, Directory.TYPE_FILE);
                touch(p.dir);
                store(p.dir);
            } else {
                if (create && exclusive) {
                    throw new FsException(Errno.EEXIST, path + ": exists");
                }
                f = inode(ino);
                if (f.isDirectory()) {
                    throw new FsException(Errno.EISDIR, path + ": is a directory");
                }
                if (truncate && f.size > 0) {
                    resize(f, 0);
                    f.mtime = f.ctime = now();
                    store(f);
                }
            }
            return new Handle(f.ino, f.generation);
        });
    }

    /** Opens a directory for listing by handle (FUSE's opendir); the handle checks it still exists. */
    public synchronized Handle openDirectory(String path) {
        return op(() -> {
            Inode d = directory(resolve(path), path);
            return new Handle(d.ino, d.generation);
        });
    }

    /** Reads up to {@code length} bytes at {@code offset} into {@code dst} from {@code at}; returns how many (0 at the end). */
    public synchronized int read(Handle h, long offset, MemorySegment dst, long at, int length) {
        return op(() -> {
            Inode f = open(h);
            if (f.isDirectory()) {
                throw new FsException(Errno.EISDIR, "inode " + f.ino + ": is a directory");
            }
            if (offset < 0 || length < 0 || at < 0 || at > dst.byteSize() - length) {
                throw new FsException(Errno.EINVAL, "read of " + length + " bytes at offset " + offset);
            }
            if (offset >= f.size) {
                return 0;
            }
            int n = (int) Math.min(length, f.size - offset);
            transfer(f, offset, dst, at, n, false);
            return n;
        });
    }

    /** Writes {@code length} bytes of {@code src} from {@code at} at {@code offset}; all of them or, on ENOSPC, none. */
    public synchronized int write(Handle h, long offset, MemorySegment src, long at, int length) {
        return op(() -> {
            Inode f = open(h);
            if (f.isDirectory()) {
                throw new FsException(Errno.EISDIR, "inode " + f.ino + ": is a directory");
            }
            if (offset < 0 || length < 0 || at < 0 || at > src.byteSize() - length) {
                throw new FsException(Errno.EINVAL, "write of " + length + " bytes at offset " + offset);
            }
            if (offset + length > MAX_FILE_SIZE) {
                throw new FsException(Errno.EFBIG, "write of " + length + " bytes at offset " + offset
                        + ": files end at " + MAX_FILE_SIZE + " bytes");
            }
            if (length == 0) {
                return 0;
            }
            long first = offset >>> Disk.SHIFT;
            long last = (offset + length - 1) >>> Disk.SHIFT;
            String what = "write of " + length + " bytes to inode " + f.ino;
            ensureAvailable(holes(f, first, last), what);
            // Every block is allocated (holes, extent blocks) before any data moves: running out
            // of space rolls the metadata back and leaves the file's bytes as they were.
            fill(f, first, last);
            store(f);
            if (offset > f.size) {
                zeroTail(f, f.size); // stale bytes past the old end must read as zeros
            }
            transfer(f, offset, src, at, length, true);
            if (offset + length > f.size) {
                f.size = offset + length;
            }
            f.mtime = f.ctime = now();
            store(f);
            return length;
        });
    }

    public synchronized void truncate(String path, long size) {
        op(() -> {
            Inode f = inode(resolve(path));
            truncate(f, size, path);
            return null;
        });
    }

    public synchronized void truncate(Handle h, long size) {
        op(() -> {
            truncate(open(h), size, "inode " + h.inode());
            return null;
        });
    }

    private void truncate(Inode f, long size, String what) {
        if (f.isDirectory()) {
            throw new FsException(Errno.EISDIR, what + ": is a directory");
        }
        if (size < 0 || size > MAX_FILE_SIZE) {
            throw new FsException(Errno.EINVAL, what + ": size " + size);
        }
        resize(f, size);
        f.mtime = f.ctime = now();
        store(f);
    }

    public synchronized void chmod(String path, int mode) {
        op(() -> {
            Inode i = inode(resolve(path));
            i.mode = (i.mode & Inode.S_IFMT) | (mode & 07777);
            i.ctime = now();
            store(i);
            return null;
        });
    }

    /** Sets the access and modification times (nanoseconds since the epoch); a negative value leaves one as it is. */
    public synchronized void setTimes(String path, long atimeNs, long mtimeNs) {
        op(() -> {
            Inode i = inode(resolve(path));
            if (atimeNs >= 0) {
                i.atime = atimeNs;
            }
            if (mtimeNs >= 0) {
                i.mtime = mtimeNs;
            }
            i.ctime = now();
            store(i);
            return null;
        });
    }

    public synchronized Usage usage() {
        checkUsable();
        return new Usage(Disk.BLOCK, sb.blocks() - sb.dataStart(), available(), sb.inodes(), freeInodes, NAME_MAX);
    }

    /**
     * Makes everything done so far durable: file data and the running transaction. Returns once
     * the journal's commit is on disk.
     */
    public synchronized void sync() {
        checkUsable();
        try {
            commit();
        } catch (RuntimeException e) {
            throw fail("commit", e);
        }
    }

    /** {@link #sync}, for one file: the journal is shared, so this commits everything. */
    public synchronized void fsync(Handle h) {
        op(() -> open(h));
        sync();
    }

    /** Commits if the running transaction holds anything (the server's periodic commit). */
    public synchronized boolean commitIfDirty() {
        if (dirty.isEmpty() || failure != null || closed) {
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
                journal.restart();
            } catch (RuntimeException e) {
                throw fail("unmount", e);
            }
        }
        closed = true;
    }

    // ---------------------------------------------------------------- the operation frame

    private <T> T op(Supplier<T> body) {
        checkUsable();
        if (dirty.size() > journal.maxTransactionBlocks() / 2) {
            sync(); // keep the running transaction well inside what one commit takes
        }
        long free = freeBlocks;
        long freeI = freeInodes;
        long freed = freedUncommitted;
        long hint = blockHint;
        try {
            T result = body.get();
            if (dirty.size() > journal.maxTransactionBlocks()) {
                throw new FsException(Errno.EFBIG, "the operation changes " + dirty.size()
                        + " metadata blocks; one transaction takes " + journal.maxTransactionBlocks());
            }
            undo.clear();
            quarantinedByOp.clear();
            return result;
        } catch (RuntimeException | Error e) {
            // Restore every block the operation touched: nothing is half-changed. An Error too:
            // a passive call runs on its caller's thread, and when the caller's domain is killed
            // mid-operation its next system call (a block request's wait) unwinds it with
            // KilledError; this server lives on, and its next commit must not make the half-done
            // operation (blocks allocated and mapped, the size not yet set) durable.
            for (var u : undo.entrySet()) {
                long blk = u.getKey();
                byte[] before = u.getValue();
                if (before == ABSENT) {
                    cache.remove(blk);
                    dirty.remove(blk);
                    committedBitmaps.remove(blk);
                    continue;
                }
                byte[] b = cache.computeIfAbsent(blk, k -> new byte[Disk.BLOCK]); // a freed block comes back
                System.arraycopy(before, 0, b, 0, Disk.BLOCK);
                if (before.length == Disk.BLOCK + 1) { // it was clean before the operation
                    dirty.remove(blk);
                    committedBitmaps.remove(blk);
                } else {
                    dirty.put(blk, b);
                }
            }
            undo.clear();
            quarantine.removeAll(quarantinedByOp);
            quarantinedByOp.clear();
            freeBlocks = free;
            freeInodes = freeI;
            freedUncommitted = freed;
            blockHint = hint;
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

    // ---------------------------------------------------------------- metadata blocks

    private byte[] cached(long blk) {
        byte[] b = cache.get(blk);
        if (b == null) {
            b = new byte[Disk.BLOCK];
            read(device, blk, b);
            cache.put(blk, b);
        }
        return b;
    }

    private byte[] bitmap(long blk) {
        boolean fresh = !cache.containsKey(blk);
        byte[] b = cached(blk);
        if (fresh && !Disk.sealed(blk, b)) {
            cache.remove(blk);
            throw FsException.corrupt(sb.region(blk) + " (block " + blk + "): checksum mismatch");
        }
        return b;
    }

    /** A block about to change: remembered for undo, and joined to the running transaction. */
    private byte[] modify(long blk) {
        byte[] b = cache.get(blk);
        if (b == null) {
            throw new IllegalStateException("block " + blk + " is modified before it is read");
        }
        if (!undo.containsKey(blk)) {
            boolean wasDirty = dirty.containsKey(blk);
            // A copy one byte longer marks a block that was clean before the operation.
            undo.put(blk, wasDirty ? b.clone() : Arrays.copyOf(b, Disk.BLOCK + 1));
            if (!wasDirty && blk >= sb.blockBitmapStart() && blk < sb.inodeTableStart()) {
                committedBitmaps.put(blk, b.clone());
            }
        }
        dirty.put(blk, b);
        return b;
    }

    /** A newly allocated metadata block, zeroed, in the running transaction. */
    private byte[] fresh(long blk) {
        byte[] b = new byte[Disk.BLOCK];
        cache.put(blk, b);
        undo.putIfAbsent(blk, ABSENT);
        dirty.put(blk, b);
        return b;
    }

    private void commit() {
        if (dirty.isEmpty()) {
            device.flush(); // file data written in place
            return;
        }
        for (var e : dirty.entrySet()) {
            long blk = e.getKey();
            if (blk < sb.inodeTableStart() || blk >= sb.dataStart()) {
                Disk.seal(blk, e.getValue());
            }
        }
        boolean restarting = journal.willRestart(dirty.size());
        journal.commit(dirty);
        if (restarting) {
            quarantine.clear(); // the journal no longer holds old images of these blocks
        }
        for (var e : dirty.entrySet()) {
            device.write(e.getKey(), 1, MemorySegment.ofArray(e.getValue()), 0);
        }
        dirty.clear();
        committedBitmaps.clear();
        freedUncommitted = 0;
        commits++;
    }

    // ---------------------------------------------------------------- inodes

    private Inode inode(int ino) {
        if (ino < 1 || ino > sb.inodes()) {
            throw FsException.corrupt("inode number " + ino + " is outside 1.." + sb.inodes());
        }
        long blk = sb.inodeBlock(ino);
        Inode i = Inode.decode(ino, cached(blk), sb.inodeOffset(ino), blk);
        if (i.free()) {
            throw FsException.corrupt("inode " + ino + " (inode table block " + blk + ") is referenced but free");
        }
        i.readChain(sb, blk, b -> extentBlock(b, ino));
        return i;
    }

    private byte[] extentBlock(long blk, int owner) {
        boolean fresh = !cache.containsKey(blk);
        byte[] b = cached(blk);
        // Checked when read: a block changed since then is sealed again only at commit.
        String problem = fresh ? Inode.extentBlockProblem(blk, b, owner) : null;
        if (problem != null) {
            cache.remove(blk);
            throw FsException.corrupt("extent block " + blk + " of inode " + owner + ": " + problem);
        }
        return b;
    }

    /** Writes the inode and its extent chain back. */
    private void store(Inode i) {
        int need = i.chainBlocks();
        List<Long> chain = i.chain;
        while (chain.size() > need) {
            long blk = chain.remove(chain.size() - 1);
            freeMetadataBlock(blk);
        }
        while (chain.size() < need) {
            long blk = allocateMetadataBlock(chain.isEmpty() ? blockHint : chain.get(chain.size() - 1) + 1);
            fresh(blk);
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
            byte[] cur = cache.get(blk);
            if (!Arrays.equals(cur, 0, Disk.TAIL, image, 0, Disk.TAIL)) {
                System.arraycopy(image, 0, modify(blk), 0, Disk.TAIL);
            }
        }
        long blk = sb.inodeBlock(i.ino);
        cached(blk);
        i.encode(modify(blk), sb.inodeOffset(i.ino));
    }

    private Inode newInode(int mode, int parent) {
        if (freeInodes == 0) {
            throw new FsException(Errno.ENOSPC, "no free inodes (" + sb.inodes() + " in all)");
        }
        int ino = findFree(sb.inodeBitmapStart(), sb.inodeBitmapBlocks(), inodeHint - 1) + 1;
        if (ino <= 0) {
            throw new FsException(Errno.ENOSPC, "no free inodes (" + sb.inodes() + " in all)");
        }
        setUsed(sb.inodeBitmapStart(), ino - 1, true);
        freeInodes--;
        inodeHint = ino;
        Inode i = new Inode(ino);
        i.mode = mode;
        i.parent = parent;
        i.generation = nextGeneration++;
        i.atime = i.mtime = i.ctime = now();
        i.chain = new ArrayList<>();
        return i;
    }

    /** Frees an inode whose last name is gone: its blocks, its extent blocks, and its number. */
    private void release(Inode i) {
        if (i.isFile() && i.nlink > 1) {
            i.nlink--;
            i.ctime = now();
            store(i);
            return;
        }
        if (i.isDirectory()) {
            for (int e = 0; e < i.extentCount; e++) {
                for (long k = 0; k < i.length(e); k++) {
                    freeMetadataBlock(i.physical(e) + k);
                }
            }
            i.extentCount = 0;
        } else {
            resize(i, 0);
        }
        for (long blk : new ArrayList<>(i.chain)) {
            freeMetadataBlock(blk);
        }
        i.chain.clear();
        i.extentCount = 0;
        i.mode = 0;
        store(i);
        setUsed(sb.inodeBitmapStart(), i.ino - 1, false);
        freeInodes++;
    }

    /** Opens a handle: its inode must still be the file it was. */
    private Inode open(Handle h) {
        if (h == null || h.inode() < 1 || h.inode() > sb.inodes()) {
            throw new FsException(Errno.EBADF, "no such open file: " + h);
        }
        long blk = sb.inodeBlock(h.inode());
        Inode i = Inode.decode(h.inode(), cached(blk), sb.inodeOffset(h.inode()), blk);
        if (i.free() || i.generation != h.generation()) {
            throw new FsException(Errno.ESTALE, "inode " + h.inode() + " was removed since it was opened"
                    + " (or its creation was lost to a restart before a sync)");
        }
        i.readChain(sb, blk, b -> extentBlock(b, i.ino));
        return i;
    }

    private static void touch(Inode dir) {
        dir.mtime = dir.ctime = now();
    }

    private static long now() {
        Instant t = Instant.now();
        return t.getEpochSecond() * 1_000_000_000L + t.getNano();
    }

    // ---------------------------------------------------------------- paths and directories

    private record Parent(Inode dir, byte[] name) {}

    private int resolve(String path) {
        checkPath(path);
        int ino = Disk.ROOT;
        int from = 1;
        while (from < path.length()) {
            int slash = path.indexOf('/', from);
            int end = slash < 0 ? path.length() : slash;
            if (end > from) {
                String name = path.substring(from, end);
                Inode dir = directory(ino, path.substring(0, from));
                if (name.equals(".")) {
                    // stays
                } else if (name.equals("..")) {
                    ino = dir.parent;
                } else {
                    ino = lookup(dir, nameBytes(name, path));
                    if (ino == 0) {
                        throw new FsException(Errno.ENOENT, path + ": no such file or directory");
                    }
                }
            }
            from = end + 1;
        }
        return ino;
    }

    /** Whether {@code path}'s last component is none, "." or "..": it names a directory, not an entry in one. */
    private static boolean namesDirectoryItself(String path) {
        checkPath(path);
        String name = lastComponent(stripSlashes(path));
        return name.isEmpty() || name.equals(".") || name.equals("..");
    }

    private static String stripSlashes(String path) {
        String p = path;
        while (p.length() > 1 && p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        return p;
    }

    private static String lastComponent(String stripped) {
        return stripped.substring(stripped.lastIndexOf('/') + 1);
    }

    /** The directory that holds {@code path}'s last component, and that component. */
    private Parent parent(String path) {
        checkPath(path);
        String p = stripSlashes(path);
        int slash = p.lastIndexOf('/');
        String name = lastComponent(p);
        if (namesDirectoryItself(path)) {
            throw new FsException(Errno.EINVAL, path + ": names no entry that can be made, moved or removed");
        }
        byte[] bytes = nameBytes(name, path);
        String dirPath = slash == 0 ? "/" : p.substring(0, slash);
        return new Parent(directory(resolve(dirPath), dirPath), bytes);
    }

    private static void checkPath(String path) {
        if (path == null || path.isEmpty() || path.charAt(0) != '/') {
            throw new FsException(Errno.EINVAL, "path \"" + path + "\" is not absolute");
        }
        if (path.indexOf('\0') >= 0) {
            throw new FsException(Errno.EINVAL, "path \"" + path.replace("\0", "\\0") + "\" contains a NUL byte");
        }
    }

    private static byte[] nameBytes(String name, String path) {
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        if (b.length > NAME_MAX) {
            throw new FsException(Errno.ENAMETOOLONG, path + ": the name \"" + name.substring(0, 16) + "...\" is "
                    + b.length + " bytes; names are at most " + NAME_MAX);
        }
        return b;
    }

    private Inode directory(int ino, String path) {
        Inode d = inode(ino);
        if (!d.isDirectory()) {
            throw new FsException(Errno.ENOTDIR, path + ": not a directory");
        }
        return d;
    }

    private byte[] directoryBlock(Inode dir, long blk) {
        boolean fresh = !cache.containsKey(blk);
        byte[] b = cached(blk);
        if (fresh) {
            String problem = Directory.problem(blk, b, dir.ino, sb.inodes());
            if (problem != null) {
                cache.remove(blk);
                throw FsException.corrupt("directory block " + blk + " of inode " + dir.ino + ": " + problem);
            }
        }
        return b;
    }

    private interface BlockVisitor {
        /** Returns true to stop. */
        boolean visit(long blk, byte[] b);
    }

    private void forEachBlock(Inode dir, BlockVisitor v) {
        for (int e = 0; e < dir.extentCount; e++) {
            for (long k = 0; k < dir.length(e); k++) {
                long blk = dir.physical(e) + k;
                if (v.visit(blk, directoryBlock(dir, blk))) {
                    return;
                }
            }
        }
    }

    /** The inode {@code name} names in {@code dir}, or 0. */
    private int lookup(Inode dir, byte[] name) {
        int[] found = {0};
        forEachBlock(dir, (blk, b) -> {
            int at = Directory.find(b, name);
            if (at >= 0) {
                found[0] = Directory.ino(b, at);
                return true;
            }
            return false;
        });
        return found[0];
    }

    private boolean emptyDirectory(Inode dir) {
        boolean[] empty = {true};
        forEachBlock(dir, (blk, b) -> {
            empty[0] = Directory.empty(b);
            return !empty[0];
        });
        return empty[0];
    }

    /** The guard for adding an entry (and {@code blocks} more): room in {@code dir}, or a block for it. */
    private void reserveForNewEntry(Inode dir, int blocks) {
        ensureAvailable(blocks + 1 + (Inode.chainBlocksFor(dir.extentCount + 1) - dir.chainBlocks()),
                "a new entry in directory inode " + dir.ino);
        if (blocks > 0 && freeInodes == 0) {
            throw new FsException(Errno.ENOSPC, "no free inodes (" + sb.inodes() + " in all)");
        }
    }

    private void addEntry(Inode dir, byte[] name, int ino, int type) {
        long[] target = {-1};
        forEachBlock(dir, (blk, b) -> {
            if (Directory.fits(b, name.length)) {
                target[0] = blk;
                return true;
            }
            return false;
        });
        if (target[0] < 0) {
            long blk = allocateMetadataBlock(dir.extentCount == 0 ? blockHint : dir.physical(dir.extentCount - 1) + 1);
            Directory.init(fresh(blk), dir.ino);
            dir.map(dir.size >>> Disk.SHIFT, blk, 1);
            dir.size += Disk.BLOCK;
            target[0] = blk;
        }
        Directory.insert(modify(target[0]), name, ino, type);
    }

    private void removeEntry(Inode dir, byte[] name) {
        forEachBlock(dir, (blk, b) -> {
            int at = Directory.find(b, name);
            if (at >= 0) {
                Directory.remove(modify(blk), at);
                return true;
            }
            return false;
        });
    }

    private void retargetEntry(Inode dir, byte[] name, int ino, int type) {
        forEachBlock(dir, (blk, b) -> {
            int at = Directory.find(b, name);
            if (at >= 0) {
                Directory.retarget(modify(blk), at, ino, type);
                return true;
            }
            return false;
        });
    }

    // ---------------------------------------------------------------- file data

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
            long goal = e == -1 || next == 0 ? blockHint : f.physical(next - 1) + f.length(next - 1);
            long[] run = allocateRun(goal, holeEnd - b, true);
            f.map(b, run[0], run[1]);
            zeroNewBlocks(f, b, run[0], run[1], first, last);
            b += run[1];
        }
    }

    /**
     * New blocks the write will not cover entirely must not show stale data: the partial first
     * and last blocks of the write are zeroed here, before the data lands on them.
     */
    private void zeroNewBlocks(Inode f, long logical, long physical, long length, long first, long last) {
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

    /** Sets the file's size, freeing the blocks past a new, smaller end. */
    private void resize(Inode f, long size) {
        if (size < f.size) {
            zeroTail(f, size);
            long keep = (size + Disk.BLOCK - 1) >>> Disk.SHIFT;
            long[] freed = f.unmapFrom(keep);
            for (int k = 0; k < freed.length; k += 2) {
                freeRun(freed[k], freed[k + 1]);
            }
        } else if (size > f.size) {
            zeroTail(f, f.size);
        }
        f.size = size;
    }

    // ---------------------------------------------------------------- allocation

    private long available() {
        return freeBlocks - freedUncommitted - quarantine.size();
    }

    /** The guard for {@code blocks} new blocks: commits first if the space is only held back by the running transaction. */
    private void ensureAvailable(long blocks, String what) {
        if (available() >= blocks) {
            return;
        }
        if (freeBlocks >= blocks && undo.isEmpty()) {
            commit();
            journal.restart();
            quarantine.clear();
            if (available() >= blocks) {
                return;
            }
        }
        throw new FsException(Errno.ENOSPC, what + ": needs " + blocks + " blocks, " + Math.max(0, available()) + " are free");
    }

    private long allocateMetadataBlock(long goal) {
        return allocateRun(goal, 1, false)[0];
    }

    /** Allocates up to {@code want} contiguous free blocks near {@code goal}: {start, length}. */
    private long[] allocateRun(long goal, long want, boolean forData) {
        if (goal < sb.dataStart() || goal >= sb.blocks()) {
            goal = sb.dataStart();
        }
        long start = -1;
        for (int pass = 0; pass < 2 && start < 0; pass++) {
            long from = pass == 0 ? goal : sb.dataStart();
            long to = pass == 0 ? sb.blocks() : goal;
            for (long b = from; b < to; b++) {
                if (allocatable(b, forData)) {
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
        while (len < want && start + len < sb.blocks() && allocatable(start + len, forData)) {
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

    private boolean allocatable(long b, boolean forData) {
        if (blockUsed(b)) {
            return false;
        }
        byte[] committed = committedBitmaps.get(sb.blockBitmapStart() + b / Superblock.BITS_PER_BLOCK);
        if (committed != null && bit(committed, (int) (b % Superblock.BITS_PER_BLOCK))) {
            return false; // freed by the running transaction
        }
        return !quarantine.contains(b);
    }

    private void freeRun(long start, long length) {
        for (long k = 0; k < length; k++) {
            setUsed(sb.blockBitmapStart(), start + k, false);
        }
        freeBlocks += length;
        freedUncommitted += length;
    }

    private void freeMetadataBlock(long blk) {
        freeRun(blk, 1);
        if (cache.containsKey(blk)) {
            modify(blk); // for the undo log; then out of the cache and the transaction
            cache.remove(blk);
            dirty.remove(blk);
        }
        if (quarantine.add(blk)) {
            quarantinedByOp.add(blk);
        }
        freedUncommitted--; // counted by the quarantine instead
    }

    private boolean blockUsed(long b) {
        return bit(bitmap(bitmapBlockOf(b)), (int) (b % Superblock.BITS_PER_BLOCK));
    }

    private long bitmapBlockOf(long b) {
        return sb.blockBitmapStart() + b / Superblock.BITS_PER_BLOCK;
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
        setBit(modify(blk), (int) (k % Superblock.BITS_PER_BLOCK), used);
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
