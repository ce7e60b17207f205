package isola.system.fs;

import isola.sdk.Errno;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The tree of names: paths resolved through directories, and entries made, renamed and removed.
 * A directory is a file of {@link Directory} blocks, all of them metadata of the
 * {@link RunningTransaction}, checked when first read. An inode whose last name goes is freed
 * with it, its data included.
 *
 * <p>Paths are absolute; names are 1..255 bytes of UTF-8 without NUL or '/'. "." and ".." are
 * resolved, but name no entry that can be made, moved or removed.
 */
final class Namespace {
    /** The directory that holds a path's last component, and that component. */
    private record Parent(Inode dir, byte[] name) {}

    private interface BlockVisitor {
        /** Returns true to stop. */
        boolean visit(long blk, byte[] b);
    }

    private final Superblock sb;
    private final RunningTransaction transaction;
    private final Allocator allocator;
    private final InodeTable inodes;
    private final FileData data;

    Namespace(Superblock sb, RunningTransaction transaction, Allocator allocator, InodeTable inodes, FileData data) {
        this.sb = sb;
        this.transaction = transaction;
        this.allocator = allocator;
        this.inodes = inodes;
        this.data = data;
    }

    /** Checks the root is a directory and its blocks are sound (at mount). */
    void checkRoot() {
        Inode root = inodes.get(Disk.ROOT);
        if (!root.isDirectory()) {
            throw FsException.corrupt("inode 1 (inode table block " + sb.inodeBlock(Disk.ROOT) + "): the root is not a directory");
        }
        forEachBlock(root, (blk, b) -> false);
    }

    // ---------------------------------------------------------------- operations

    List<FileSystem.Entry> list(String path) {
        Inode dir = directory(resolve(path), path);
        List<FileSystem.Entry> out = new ArrayList<>();
        forEachBlock(dir, (blk, b) -> {
            for (int at = 0; at < Directory.END; at += Directory.recordLength(b, at)) {
                if (Directory.ino(b, at) != 0) {
                    out.add(new FileSystem.Entry(Directory.name(b, at), Directory.ino(b, at),
                            Directory.type(b, at) == Directory.TYPE_DIRECTORY));
                }
            }
            return false;
        });
        return out;
    }

    void mkdir(String path, int mode) {
        Parent p = parent(path);
        if (lookup(p.dir, p.name) != 0) {
            throw new FsException(Errno.EEXIST, path + ": exists");
        }
        reserveForNewEntry(p.dir, 1);
        Inode d = inodes.create(Inode.S_IFDIR | (mode & 07777), p.dir.ino);
        d.nlink = 2;
        long blk = allocator.allocateMetadataBlock(allocator.hint());
        byte[] b = transaction.fresh(blk);
        Directory.init(b, d.ino);
        d.map(0, blk, 1);
        d.size = Disk.BLOCK;
        inodes.store(d);
        addEntry(p.dir, p.name, d.ino, Directory.TYPE_DIRECTORY);
        p.dir.nlink++;
        p.dir.touch();
        inodes.store(p.dir);
    }

    void rmdir(String path) {
        Parent p = parent(path);
        Inode d = named(p, path, "directory");
        if (!d.isDirectory()) {
            throw new FsException(Errno.ENOTDIR, path + ": not a directory");
        }
        if (!emptyDirectory(d)) {
            throw new FsException(Errno.ENOTEMPTY, path + ": directory not empty");
        }
        removeEntry(p.dir, p.name);
        p.dir.nlink--;
        p.dir.touch();
        inodes.store(p.dir);
        release(d);
    }

    void unlink(String path) {
        Parent p = parent(path);
        Inode f = named(p, path, "file");
        if (f.isDirectory()) {
            throw new FsException(Errno.EISDIR, path + ": is a directory (use rmdir)");
        }
        removeEntry(p.dir, p.name);
        p.dir.touch();
        inodes.store(p.dir);
        release(f);
    }

    /** {@link FileSystem#rename}: {@code to}, if it exists, is replaced in the same operation. */
    void rename(String from, String to) {
        Parent src = parent(from);
        Parent dst = parent(to);
        Inode moving = named(src, from, "file or directory");
        int ino = moving.ino;
        if (moving.isDirectory()) {
            // A directory may not move under itself.
            for (int up = dst.dir.ino; ; up = inodes.get(up).parent) {
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
            return; // the same file: POSIX says do nothing
        }
        Inode victim = null;
        if (existing != 0) {
            victim = inodes.get(existing);
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
        moving.ctime = Inode.now();
        inodes.store(moving);
        srcDir.touch();
        inodes.store(srcDir);
        if (dst.dir != srcDir) {
            dst.dir.touch();
            inodes.store(dst.dir);
        }
        if (victim != null) {
            release(victim);
        }
    }

    /** {@link FileSystem#open(String, boolean, boolean, boolean, int)}. */
    FileSystem.Handle open(String path, boolean create, boolean exclusive, boolean truncate, int mode) {
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
            f = inodes.create(Inode.S_IFREG | (mode & 07777), p.dir.ino);
            f.nlink = 1;
            inodes.store(f);
            addEntry(p.dir, p.name, f.ino, Directory.TYPE_FILE);
            p.dir.touch();
            inodes.store(p.dir);
        } else {
            if (create && exclusive) {
                throw new FsException(Errno.EEXIST, path + ": exists");
            }
            f = inodes.get(ino);
            if (f.isDirectory()) {
                throw new FsException(Errno.EISDIR, path + ": is a directory");
            }
            if (truncate && f.size > 0) {
                data.resize(f, 0);
                f.touch();
                inodes.store(f);
            }
        }
        return new FileSystem.Handle(f.ino, f.generation);
    }

    FileSystem.Handle openDirectory(String path) {
        Inode d = directory(resolve(path), path);
        return new FileSystem.Handle(d.ino, d.generation);
    }

    /** Drops a name of {@code i}; with its last name, frees it: its blocks, its extent blocks, and its number. */
    private void release(Inode i) {
        if (i.isFile() && i.nlink > 1) {
            i.nlink--;
            i.ctime = Inode.now();
            inodes.store(i);
            return;
        }
        if (i.isDirectory()) {
            for (int e = 0; e < i.extentCount; e++) {
                for (long k = 0; k < i.length(e); k++) {
                    allocator.freeMetadataBlock(i.physical(e) + k);
                }
            }
            i.extentCount = 0;
        } else {
            data.resize(i, 0);
        }
        inodes.free(i);
    }

    // ---------------------------------------------------------------- paths

    /** The inode {@code path} names. */
    int resolve(String path) {
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
        if (b.length > Disk.NAME_MAX) {
            throw new FsException(Errno.ENAMETOOLONG, path + ": the name \"" + name.substring(0, 16) + "...\" is "
                    + b.length + " bytes; names are at most " + Disk.NAME_MAX);
        }
        return b;
    }

    // ---------------------------------------------------------------- directories

    private Inode directory(int ino, String path) {
        Inode d = inodes.get(ino);
        if (!d.isDirectory()) {
            throw new FsException(Errno.ENOTDIR, path + ": not a directory");
        }
        return d;
    }

    private byte[] directoryBlock(Inode dir, long blk) {
        return transaction.checked(blk, (k, b) -> {
            String problem = Directory.problem(k, b, dir.ino, sb.inodes());
            return problem == null ? null : "directory block " + k + " of inode " + dir.ino + ": " + problem;
        });
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

    /** The inode {@code p} names; {@code ENOENT}, "no such " + {@code what}, if none. */
    private Inode named(Parent p, String path, String what) {
        int ino = lookup(p.dir, p.name);
        if (ino == 0) {
            throw new FsException(Errno.ENOENT, path + ": no such " + what);
        }
        return inodes.get(ino);
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
        allocator.ensureAvailable(blocks + 1 + (Inode.chainBlocksFor(dir.extentCount + 1) - dir.chainBlocks()),
                "a new entry in directory inode " + dir.ino);
        if (blocks > 0) {
            allocator.ensureInodeAvailable();
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
            long blk = allocator.allocateMetadataBlock(dir.extentCount == 0 ? allocator.hint() : dir.physical(dir.extentCount - 1) + 1);
            Directory.init(transaction.fresh(blk), dir.ino);
            dir.map(dir.size >>> Disk.SHIFT, blk, 1);
            dir.size += Disk.BLOCK;
            target[0] = blk;
        }
        Directory.insert(transaction.modify(target[0]), name, ino, type);
    }

    private void removeEntry(Inode dir, byte[] name) {
        forEachBlock(dir, (blk, b) -> {
            int at = Directory.find(b, name);
            if (at >= 0) {
                Directory.remove(transaction.modify(blk), at);
                return true;
            }
            return false;
        });
    }

    private void retargetEntry(Inode dir, byte[] name, int ino, int type) {
        forEachBlock(dir, (blk, b) -> {
            int at = Directory.find(b, name);
            if (at >= 0) {
                Directory.retarget(transaction.modify(blk), at, ino, type);
                return true;
            }
            return false;
        });
    }
}
