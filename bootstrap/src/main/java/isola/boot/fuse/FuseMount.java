package isola.boot.fuse;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeoutException;
import java.util.function.IntSupplier;
import org.cryptomator.jfuse.api.DirFiller;
import org.cryptomator.jfuse.api.Errno;
import org.cryptomator.jfuse.api.FileInfo;
import org.cryptomator.jfuse.api.Fuse;
import org.cryptomator.jfuse.api.FuseBuilder;
import org.cryptomator.jfuse.api.FuseConfig;
import org.cryptomator.jfuse.api.FuseConnInfo;
import org.cryptomator.jfuse.api.FuseMountFailedException;
import org.cryptomator.jfuse.api.FuseOperations;
import org.cryptomator.jfuse.api.Stat;
import org.cryptomator.jfuse.api.Statvfs;
import org.cryptomator.jfuse.api.TimeSpec;

/**
 * Mounts a {@link MountedFs} at a directory through libfuse3, by way of jfuse (Panama bindings; Linux x86_64 only).
 * <p>
 * libfuse runs its multi-threaded loop, so the {@link MountedFs} is called concurrently. The mount ends either by
 * {@link #close()} or from outside ({@code umount DIR}, {@code fusermount3 -u DIR}); in both cases the bridge then
 * releases libfuse, calls {@link MountedFs#sync()} once, and {@link #awaitUnmounted()} returns.
 * <p>
 * Needs {@code --enable-native-access=ALL-UNNAMED} (or the module holding this class and jfuse). libfuse3 is looked
 * up as {@code libfuse3.so.3} in the usual library directories; system property {@value #LIBRARY_PROPERTY} overrides.
 */
public final class FuseMount implements AutoCloseable {

    /** System property naming the libfuse3 shared object to load, e.g. {@code /usr/lib64/libfuse3.so.3}. */
    public static final String LIBRARY_PROPERTY = "isola.fuse.library";

    private static final Logger LOG = LogManager.getLogger(FuseMount.class);
    private static final List<String> LIBRARY_DIRS = List.of("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu",
            "/usr/lib64", "/lib64", "/usr/local/lib", "/usr/lib", "/lib");
    private static final String SUBTYPE = "isola"; // mount type shows as fuse.isola

    private final MountedFs fs;
    private final Path dir;
    private final Fuse fuse;
    private final long mountId;
    private final Object lifecycle = new Object();
    private final CountDownLatch unmounted = new CountDownLatch(1);
    private boolean closed; // guarded by lifecycle

    private FuseMount(MountedFs fs, Path dir, Fuse fuse, long mountId) {
        this.fs = fs;
        this.dir = dir;
        this.fuse = fuse;
        this.mountId = mountId;
    }

    /**
     * Mounts {@code fs} at the existing directory {@code dir} and returns once the mount answers requests.
     *
     * @param fsName the source shown by {@code df} and {@code mount}; must not contain ',', '\\' or whitespace
     */
    public static FuseMount mount(MountedFs fs, Path dir, String fsName) throws IOException {
        if (fsName.isEmpty() || fsName.matches(".*[,\\s\\\\].*")) {
            throw new IllegalArgumentException("fsName must be non-empty, without ',', '\\' or whitespace: " + fsName);
        }
        Path mountPoint = dir.toRealPath();
        if (!Files.isDirectory(mountPoint)) throw new NotDirectoryException(mountPoint.toString());

        FuseBuilder builder = Fuse.builder();
        builder.setLibraryPath(findLibFuse());
        Fuse fuse = builder.build(new Ops(fs, builder.errno(), Libc.geteuid(), Libc.getegid()));
        // default_permissions: the kernel checks mode bits against the uid/gid we report (no access() op needed).
        String opts = "fsname=" + fsName + ",subtype=" + SUBTYPE + ",default_permissions";
        try {
            fuse.mount("isola-fuse", mountPoint, "-o", opts);
        } catch (FuseMountFailedException | RuntimeException e) {
            try {
                fuse.close();
            } catch (TimeoutException | RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw new IOException("cannot mount " + fsName + " at " + mountPoint + ": " + e.getMessage(), e);
        }
        long mountId;
        try {
            mountId = MountTable.idOf(mountPoint);
        } catch (IOException | RuntimeException e) {
            mountId = -1; // fall back to "any FUSE mount at mountPoint"
            LOG.warn("cannot read the mount table", e);
        }
        FuseMount mount = new FuseMount(fs, mountPoint, fuse, mountId);
        Thread.ofPlatform().daemon().name("isola-fuse-watch " + mountPoint).start(mount::watch);
        return mount;
    }

    /** The (real) path of the mount point. */
    public Path mountPoint() {
        return dir;
    }

    /** Whether the file system is still mounted and served. */
    public boolean isMounted() {
        return unmounted.getCount() > 0;
    }

    /** Blocks until the mount has ended, by {@link #close()} or from outside, and the file system has been synced. */
    public void awaitUnmounted() throws InterruptedException {
        unmounted.await();
    }

    /**
     * Unmounts (a plain, non-lazy unmount, so no process is left holding a detached tree), releases libfuse, then calls
     * {@link MountedFs#sync()}. Idempotent.
     *
     * @throws IOException if the mount is busy (it then stays mounted and close may be retried), or if sync failed
     */
    @Override
    public void close() throws IOException {
        synchronized (lifecycle) {
            if (closed) return;
            if (MountTable.contains(mountId, dir)) unmountGracefully();
            closed = true;
            release();
        }
    }

    /** Called by the watcher when the mount vanished from the mount table. */
    private void unmountedFromOutside() {
        synchronized (lifecycle) {
            if (closed) return;
            LOG.info("{} was unmounted from outside", dir);
            closed = true;
            try {
                release();
            } catch (IOException e) {
                LOG.error("cleanup after unmount of " + dir + " failed", e);
            }
        }
    }

    /** Stops the loop and frees libfuse (jfuse's close), then syncs; the kernel side is already gone or lazily going. */
    private void release() throws IOException {
        try {
            fuse.close();
        } catch (TimeoutException e) {
            throw new IOException("libfuse loop of " + dir + " did not stop", e);
        } finally {
            try {
                int rc = fs.sync();
                if (rc < 0) throw new IOException("sync after unmounting " + dir + " failed: errno " + -rc);
            } finally {
                unmounted.countDown();
            }
        }
    }

    /**
     * jfuse's own unmount is lazy (MNT_DETACH): with a busy mount point its loop would outlive its 10 s wait and jfuse
     * would free the callbacks under running requests. So unmount for real first, and refuse if busy.
     */
    private void unmountGracefully() throws IOException {
        if (Libc.geteuid() == 0) {
            int errno = Libc.umount(dir.toString());
            if (errno == 0 || errno == Libc.EINVAL) return; // EINVAL: no longer a mount point
            throw new IOException("cannot unmount " + dir + ": " + (errno == Libc.EBUSY ? "busy" : "errno " + errno));
        }
        Process p;
        try {
            p = new ProcessBuilder("fusermount3", "-u", dir.toString()).redirectErrorStream(true).start();
        } catch (IOException noFusermount) {
            LOG.warn("fusermount3 not found; falling back to a lazy unmount of {}", dir);
            return;
        }
        try {
            String out = new String(p.getInputStream().readAllBytes()).trim();
            if (p.waitFor() != 0 && MountTable.contains(mountId, dir)) {
                throw new IOException("cannot unmount " + dir + ": " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while unmounting " + dir, e);
        }
    }

    /** Watches the mount table so an unmount from outside ends this mount too (releases libfuse, syncs). */
    private void watch() {
        try (MountTable table = MountTable.open()) {
            while (true) {
                synchronized (lifecycle) {
                    if (closed) return;
                }
                if (!MountTable.contains(mountId, dir)) {
                    unmountedFromOutside();
                    return;
                }
                table.awaitChange(1000); // the timeout is only a safety net; changes wake us at once
            }
        } catch (Throwable t) {
            LOG.error("watching the mount table for " + dir + " failed", t);
        }
    }

    private static String findLibFuse() {
        String configured = System.getProperty(LIBRARY_PROPERTY);
        if (configured != null && !configured.isBlank()) return configured;
        for (String d : LIBRARY_DIRS) {
            Path p = Path.of(d, "libfuse3.so.3");
            if (Files.exists(p)) return p.toString();
        }
        return null; // jfuse then tries System.loadLibrary("fuse3"), i.e. libfuse3.so on java.library.path
    }

    // -------------------------------------------------------------------------------------------------------------
    // The FUSE operations: a thin translation to MountedFs. Ops not listed in supportedOperations() are left unbound,
    // and libfuse answers them with ENOSYS (symlink, readlink, link, mknod, xattrs, lock, ...).

    private static final class Ops implements FuseOperations {
        // Linux values with no constant in jfuse's Errno / API; the bridge is Linux-only (jfuse-linux-amd64).
        private static final int EPERM = 1;
        private static final int RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2;
        private static final int PERMISSION_BITS = 07777;

        private final MountedFs fs;
        private final Errno errno;
        private final int uid, gid;

        Ops(MountedFs fs, Errno errno, int uid, int gid) {
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

    // -------------------------------------------------------------------------------------------------------------

    /**
     * jfuse's Stat, Statvfs and FuseConfig have no setters for st_ino, st_blocks, f_files, f_ffree and use_ino (which
     * libfuse 3 takes only from fuse_config, not from -o). Its Linux implementations are records over the native
     * struct, so when jfuse is on the class path (or its package is opened to us) we write those fields at their
     * x86_64 offsets (as in jfuse's jextract'ed layouts; use_ino has been at 64 since libfuse 3.0). Otherwise they stay
     * 0: libfuse then numbers inodes itself, and du / df -i show zeros.
     */
    private static final class StructFields {
        private static final long ST_INO = 8, ST_BLOCKS = 64, STAT_SIZE = 144;
        private static final long F_FILES = 40, F_FFREE = 48, F_FAVAIL = 56, STATVFS_SIZE = 112;
        private static final long USE_INO = 64, CONFIG_SIZE = 68;
        private static final MethodHandle STAT = segmentAccessor("org.cryptomator.jfuse.linux.amd64.StatImpl");
        private static final MethodHandle STATVFS = segmentAccessor("org.cryptomator.jfuse.linux.amd64.StatvfsImpl");
        private static final MethodHandle CONFIG = segmentAccessor("org.cryptomator.jfuse.linux.amd64.FuseConfigImpl");

        /** Only together: inode numbers in stat are ignored without use_ino, and use_ino without them would be all 0. */
        static void useInodeNumbers(FuseConfig cfg) {
            MemorySegment s = STAT == null ? null : segment(CONFIG, cfg, CONFIG_SIZE);
            if (s != null) s.set(JAVA_INT, USE_INO, 1);
        }

        private static MethodHandle segmentAccessor(String className) {
            try {
                Class<?> c = Class.forName(className, false, Fuse.class.getClassLoader());
                var accessor = c.getDeclaredMethod("segment");
                accessor.setAccessible(true);
                return MethodHandles.lookup().unreflect(accessor).asType(MethodType.methodType(MemorySegment.class, Object.class));
            } catch (ReflectiveOperationException | RuntimeException e) {
                LOG.warn("no access to " + className + ": inode numbers, block and file counts"
                        + " are not reported (put jfuse on the class path or open its package)", e);
                return null;
            }
        }

        static void setInodeAndBlocks(Stat stat, long inode, long blocks512) {
            MemorySegment s = segment(STAT, stat, STAT_SIZE);
            if (s == null) return;
            s.set(JAVA_LONG, ST_INO, inode);
            s.set(JAVA_LONG, ST_BLOCKS, blocks512);
        }

        static void setFileCounts(Statvfs statvfs, long files, long freeFiles) {
            MemorySegment s = segment(STATVFS, statvfs, STATVFS_SIZE);
            if (s == null) return;
            s.set(JAVA_LONG, F_FILES, files);
            s.set(JAVA_LONG, F_FFREE, freeFiles);
            s.set(JAVA_LONG, F_FAVAIL, freeFiles);
        }

        private static MemorySegment segment(MethodHandle accessor, Object struct, long size) {
            if (accessor == null || !accessor.type().parameterType(0).isInstance(struct)) return null;
            try {
                MemorySegment s = (MemorySegment) accessor.invokeExact(struct);
                return s.byteSize() >= size ? s : s.reinterpret(size);
            } catch (Throwable wrongType) { // a Stat that is not jfuse's StatImpl, e.g. in a unit test
                return null;
            }
        }
    }

    /** The few libc calls jfuse does not offer: effective ids, a plain umount, and poll for mount table changes. */
    private static final class Libc {
        static final int EINVAL = 22, EBUSY = 16;
        private static final int O_RDONLY = 0, O_CLOEXEC = 02000000, POLLERR = 0x8, POLLPRI = 0x2;
        private static final Linker LINKER = Linker.nativeLinker();
        private static final StructLayout ERRNO_STATE = Linker.Option.captureStateLayout();
        private static final VarHandle ERRNO = ERRNO_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
        private static final MethodHandle GETEUID = fn("geteuid", FunctionDescriptor.of(JAVA_INT));
        private static final MethodHandle GETEGID = fn("getegid", FunctionDescriptor.of(JAVA_INT));
        private static final MethodHandle UMOUNT2 = fn("umount2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT),
                Linker.Option.captureCallState("errno"));
        private static final MethodHandle OPEN = fn("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
                Linker.Option.firstVariadicArg(2));
        private static final MethodHandle POLL = fn("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
        private static final MethodHandle CLOSE = fn("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));

        private static MethodHandle fn(String name, FunctionDescriptor desc, Linker.Option... options) {
            return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), desc, options);
        }

        static int geteuid() {
            try {
                return (int) GETEUID.invokeExact();
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        }

        static int getegid() {
            try {
                return (int) GETEGID.invokeExact();
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        }

        /** umount2(path, 0); returns 0 or the errno. */
        static int umount(String path) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment state = arena.allocate(ERRNO_STATE);
                int rc = (int) UMOUNT2.invokeExact(state, arena.allocateFrom(path), 0);
                return rc == 0 ? 0 : (int) ERRNO.get(state, 0L);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        }

        static int open(String path) throws IOException {
            try (Arena arena = Arena.ofConfined()) {
                int fd = (int) OPEN.invokeExact(arena.allocateFrom(path), O_RDONLY | O_CLOEXEC, 0);
                if (fd < 0) throw new IOException("cannot open " + path);
                return fd;
            } catch (IOException e) {
                throw e;
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        }

        /** Waits for POLLPRI/POLLERR on fd, which /proc/self/mountinfo raises on every mount table change. */
        static int pollPriority(int fd, int timeoutMs) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment pollfd = arena.allocate(8, 4); // struct pollfd { int fd; short events; short revents; }
                pollfd.set(JAVA_INT, 0, fd);
                pollfd.set(JAVA_SHORT, 4, (short) (POLLPRI | POLLERR));
                return (int) POLL.invokeExact(pollfd, 1L, timeoutMs);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        }

        static void close(int fd) {
            try {
                int unused = (int) CLOSE.invokeExact(fd);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        }
    }

    /** Our view of /proc/self/mountinfo: find our mount's id, tell whether it is still there, wait for changes. */
    private static final class MountTable implements AutoCloseable {
        private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");
        private final int fd;

        private MountTable(int fd) {
            this.fd = fd;
        }

        /** Opens a change watch; changes after this call wake {@link #awaitChange}. */
        static MountTable open() throws IOException {
            return new MountTable(Libc.open(MOUNTINFO.toString()));
        }

        void awaitChange(int timeoutMs) throws InterruptedException {
            if (Libc.pollPriority(fd, timeoutMs) < 0) Thread.sleep(timeoutMs); // poll failed (EINTR...): don't spin
        }

        @Override
        public void close() {
            Libc.close(fd);
        }

        /** The id of the topmost FUSE mount at {@code dir}, or -1 if none is found. */
        static long idOf(Path dir) throws IOException {
            long id = -1;
            for (String[] m : entries()) {
                if (m[1].equals(dir.toString()) && m[2].startsWith("fuse")) id = Long.parseLong(m[0]);
            }
            return id;
        }

        /** Whether the mount {@code id} (any FUSE mount if -1) is still at {@code dir}. */
        static boolean contains(long id, Path dir) throws IOException {
            for (String[] m : entries()) {
                if (m[1].equals(dir.toString()) && (id < 0 ? m[2].startsWith("fuse") : Long.parseLong(m[0]) == id)) {
                    return true;
                }
            }
            return false;
        }

        /** Per mount: {id, mount point, fs type}. Format: proc(5), fields separated by ' ', optional ones until "-". */
        private static List<String[]> entries() throws IOException {
            List<String[]> result = new ArrayList<>();
            for (String line : Files.readAllLines(MOUNTINFO)) {
                String[] f = line.split(" ");
                int sep = List.of(f).indexOf("-");
                if (f.length < 5 || sep < 0 || sep + 1 >= f.length) continue;
                result.add(new String[] {f[0], unescape(f[4]), f[sep + 1]});
            }
            return result;
        }

        /** mountinfo writes space, tab, newline and backslash as \ooo octal escapes. */
        private static String unescape(String s) {
            if (s.indexOf('\\') < 0) return s;
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (c == '\\' && i + 3 < s.length() && s.substring(i + 1, i + 4).matches("[0-7]{3}")) {
                    b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                    i += 3;
                } else {
                    b.append(c);
                }
            }
            return b.toString();
        }
    }
}
