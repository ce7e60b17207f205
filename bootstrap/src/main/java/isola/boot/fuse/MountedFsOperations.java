package isola.boot.fuse;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.function.IntSupplier;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.cryptomator.jfuse.api.DirFiller;
import org.cryptomator.jfuse.api.Errno;
import org.cryptomator.jfuse.api.FileInfo;
import org.cryptomator.jfuse.api.FuseConfig;
import org.cryptomator.jfuse.api.FuseConnInfo;
import org.cryptomator.jfuse.api.FuseOperations;
import org.cryptomator.jfuse.api.Stat;
import org.cryptomator.jfuse.api.Statvfs;
import org.cryptomator.jfuse.api.TimeSpec;

/**
 * The FUSE operations: a thin translation of libfuse's requests, as jfuse hands them up, to
 * {@link MountedFs}, whose Linux errnos become jfuse's. Ops not listed in
 * {@link #supportedOperations()} are left unbound, and libfuse answers them with ENOSYS (symlink,
 * readlink, link, mknod, xattrs, lock, ...). libfuse's loop is multi-threaded, so these run
 * concurrently. Everything is reported as owned by the mounting user.
 */
final class MountedFsOperations implements FuseOperations {
    private static final Logger LOG = LogManager.getLogger(MountedFsOperations.class);

    // Linux values with no constant in jfuse's Errno / API; the bridge is Linux-only (jfuse-linux-amd64).
    private static final int EPERM = 1;
    private static final int RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2;
    private static final int PERMISSION_BITS = 07777;

    private final MountedFs fs;
    private final Errno errno;
    private final int uid, gid;

    MountedFsOperations(MountedFs fs, Errno errno, int uid, int gid) {
        this.fs = fs;
        this.errno = errno;
        this.uid = uid;
        this.gid = gid;
    }

    @Override
    public Errno errno() {
        return errno;
    }

    @Override
    public Set<Operation> supportedOperations() {
        return EnumSet.of(Operation.INIT, Operation.GET_ATTR, Operation.READ_DIR, Operation.MKDIR, Operation.RMDIR, Operation.UNLINK,
                Operation.RENAME, Operation.TRUNCATE, Operation.CREATE, Operation.OPEN, Operation.READ, Operation.WRITE,
                Operation.FSYNC, Operation.FSYNCDIR, Operation.RELEASE, Operation.STATFS, Operation.CHMOD, Operation.CHOWN,
                Operation.UTIMENS);
    }

    /**
     * Runs one operation: an exception escaping a Panama upcall would kill the JVM, so it becomes EIO here; and
     * MountedFs errnos become jfuse's.
     */
    private int guard(String op, String path, IntSupplier body) {
        try {
            return toFuse(body.getAsInt());
        } catch (Throwable t) {
            LOG.error(op + " " + path + " failed", t);
            return -errno.eio();
        }
    }

    private int toFuse(int rc) {
        if (rc >= 0) return rc;
        return -switch (-rc) {
            case 2 -> errno.enoent();
            case 5 -> errno.eio();
            case 9 -> errno.ebadf();
            case 12 -> errno.enomem();
            case 13 -> errno.eacces();
            case 17 -> errno.eexist();
            case 20 -> errno.enotdir();
            case 21 -> errno.eisdir();
            case 22 -> errno.einval();
            case 30 -> errno.erofs();
            case 34 -> errno.erange();
            case 36 -> errno.enametoolong();
            case 38 -> errno.enosys();
            case 39 -> errno.enotempty();
            case 95 -> errno.enotsup();
            default -> -rc; // e.g. ENOSPC, EPERM: jfuse has no constant; MountedFs already speaks Linux numbers
        };
    }

    @Override
    public void init(FuseConnInfo conn, FuseConfig cfg) {
        if (cfg != null) StructFields.useInodeNumbers(cfg); // st_ino from MountedFs instead of libfuse's own numbering
    }

    @Override
    public int getattr(String path, Stat stat, FileInfo fi) {
        return guard("getattr", path, () -> {
            var st = new MountedFs.Stat();
            int rc = fs.stat(path, st);
            if (rc >= 0) fill(stat, st);
            return rc;
        });
    }

    private void fill(Stat out, MountedFs.Stat st) {
        out.setMode(st.mode);
        out.setNLink((short) Math.min(st.nlink, Short.MAX_VALUE));
        out.setSize(st.size);
        out.setUid(uid);
        out.setGid(gid);
        out.aTime().set(instant(st.atimeNs));
        out.mTime().set(instant(st.mtimeNs));
        out.cTime().set(instant(st.ctimeNs));
        StructFields.setInodeAndBlocks(out, st.inode, st.blocks512);
    }

    @Override
    public int readdir(String path, DirFiller filler, long offset, FileInfo fi, int flags) {
        return guard("readdir", path, () -> {
            List<String> names = new ArrayList<>();
            int rc = fs.list(path, names);
            if (rc < 0) return rc;
            // Every entry gets its stat: with use_ino libfuse takes d_ino from it, and readdir(3) hides d_ino 0.
            // With "plus" the attributes go to the kernel too, saving a LOOKUP per entry (ls -l).
            // Offset 0 everywhere: libfuse buffers the whole listing and pages it to the kernel itself.
            int plus = (flags & FUSE_READDIR_PLUS) != 0 ? DirFiller.FUSE_FILL_DIR_PLUS : 0;
            var self = new MountedFs.Stat();
            rc = fs.stat(path, self);
            if (rc < 0) return rc;
            var parent = new MountedFs.Stat();
            if (path.equals("/") || fs.stat(path.substring(0, Math.max(1, path.lastIndexOf('/'))), parent) < 0) {
                parent = self;
            }
            MountedFs.Stat up = parent;
            filler.fill(".", s -> fill(s, self), 0, 0);
            filler.fill("..", s -> fill(s, up), 0, 0);
            String prefix = path.endsWith("/") ? path : path + "/";
            for (String name : names) {
                var st = new MountedFs.Stat();
                if (fs.stat(prefix + name, st) < 0) continue; // removed meanwhile
                if (filler.fill(name, s -> fill(s, st), 0, plus) != 0) break;
            }
            return 0;
        });
    }

    @Override
    public int mkdir(String path, int mode) {
        return guard("mkdir", path, () -> fs.mkdir(path, mode & PERMISSION_BITS));
    }

    @Override
    public int rmdir(String path) {
        return guard("rmdir", path, () -> fs.rmdir(path));
    }

    @Override
    public int unlink(String path) {
        return guard("unlink", path, () -> fs.unlink(path));
    }

    @Override
    public int rename(String from, String to, int flags) {
        return guard("rename", from, () -> {
            if ((flags & RENAME_EXCHANGE) != 0) return -errno.einval(); // MountedFs cannot swap atomically
            if ((flags & RENAME_NOREPLACE) != 0) {
                // Check, then rename: only racy against concurrent writers on this same mount.
                int rc = fs.stat(to, new MountedFs.Stat());
                if (rc >= 0) return -errno.eexist();
                if (rc != -2) return rc;
            }
            return fs.rename(from, to);
        });
    }

    @Override
    public int truncate(String path, long size, FileInfo fi) {
        return guard("truncate", path, () -> fs.truncate(path, size));
    }

    @Override
    public int create(String path, int mode, FileInfo fi) {
        return guard("create", path, () -> open(path, true, mode & PERMISSION_BITS, fi));
    }

    @Override
    public int open(String path, FileInfo fi) {
        return guard("open", path, () -> open(path, false, 0, fi));
    }

    private int open(String path, boolean create, int mode, FileInfo fi) {
        Set<StandardOpenOption> flags = fi.getOpenFlags();
        boolean exclusive = flags.contains(StandardOpenOption.CREATE_NEW);
        create |= exclusive || flags.contains(StandardOpenOption.CREATE);
        long handle = fs.open(path, create, exclusive, flags.contains(StandardOpenOption.TRUNCATE_EXISTING), mode);
        if (handle < 0) return (int) handle;
        fi.setFh(handle);
        return 0;
    }

    @Override
    public int read(String path, ByteBuffer buf, long size, long offset, FileInfo fi) {
        return guard("read", path, () ->
                fs.read(fi.getFh(), offset, MemorySegment.ofBuffer(buf), (int) Math.min(size, buf.remaining())));
    }

    @Override
    public int write(String path, ByteBuffer buf, long size, long offset, FileInfo fi) {
        return guard("write", path, () -> {
            long at = offset;
            if (fi.getOpenFlags().contains(StandardOpenOption.APPEND)) {
                // Without writeback caching O_APPEND is ours to honour: write at the file's current end.
                var st = new MountedFs.Stat();
                int rc = fs.stat(path, st);
                if (rc < 0) return rc;
                at = st.size;
            }
            return fs.write(fi.getFh(), at, MemorySegment.ofBuffer(buf), (int) Math.min(size, buf.remaining()));
        });
    }

    @Override
    public int fsync(String path, int datasync, FileInfo fi) {
        return guard("fsync", path, () -> fs.fsync(fi.getFh()));
    }

    @Override
    public int fsyncdir(String path, int datasync, FileInfo fi) {
        return guard("fsyncdir", path, fs::sync); // MountedFs has no per-directory sync; a full sync is the safe superset
    }

    @Override
    public int release(String path, FileInfo fi) {
        return guard("release", path, () -> fs.close(fi.getFh()));
    }

    @Override
    public int statfs(String path, Statvfs out) {
        return guard("statfs", path, () -> {
            var s = new MountedFs.StatFs();
            int rc = fs.statfs(s);
            if (rc < 0) return rc;
            out.setBsize(s.blockSize);
            out.setFrsize(s.blockSize);
            out.setBlocks(s.blocks);
            out.setBfree(s.freeBlocks);
            out.setBavail(s.freeBlocks);
            out.setNameMax(s.nameMax);
            StructFields.setFileCounts(out, s.files, s.freeFiles);
            return 0;
        });
    }

    @Override
    public int chmod(String path, int mode, FileInfo fi) {
        return guard("chmod", path, () -> fs.chmod(path, mode & PERMISSION_BITS));
    }

    /** Everything is owned by the mounting user: accept a chown that changes nothing (tar, cp -p do those). */
    @Override
    public int chown(String path, int newUid, int newGid, FileInfo fi) {
        return guard("chown", path, () -> {
            int rc = fs.stat(path, new MountedFs.Stat());
            if (rc < 0) return rc;
            return (newUid == -1 || newUid == uid) && (newGid == -1 || newGid == gid) ? 0 : -EPERM;
        });
    }

    @Override
    public int utimens(String path, TimeSpec atime, TimeSpec mtime, FileInfo fi) {
        return guard("utimens", path, () -> {
            long now = nanos(Instant.now());
            long a = atime.isUtimeOmit() ? Long.MIN_VALUE : atime.isUtimeNow() ? now : nanos(atime.get());
            long m = mtime.isUtimeOmit() ? Long.MIN_VALUE : mtime.isUtimeNow() ? now : nanos(mtime.get());
            if (a == Long.MIN_VALUE || m == Long.MIN_VALUE) { // UTIME_OMIT: keep the current value
                var st = new MountedFs.Stat();
                int rc = fs.stat(path, st);
                if (rc < 0) return rc;
                if (a == Long.MIN_VALUE) a = st.atimeNs;
                if (m == Long.MIN_VALUE) m = st.mtimeNs;
            }
            return fs.utimens(path, a, m);
        });
    }

    private static Instant instant(long ns) {
        return Instant.ofEpochSecond(Math.floorDiv(ns, 1_000_000_000L), Math.floorMod(ns, 1_000_000_000L));
    }

    private static long nanos(Instant t) {
        try {
            return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
        } catch (ArithmeticException outOfRange) { // beyond ~1678..2262: clamp (MIN_VALUE is taken for "omit")
            return t.getEpochSecond() < 0 ? Long.MIN_VALUE + 1 : Long.MAX_VALUE;
        }
    }
}
