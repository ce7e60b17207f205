package isola.boot.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeoutException;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.cryptomator.jfuse.api.Fuse;
import org.cryptomator.jfuse.api.FuseBuilder;
import org.cryptomator.jfuse.api.FuseMountFailedException;

/**
 * Mounts a {@link MountedFs} at a directory through libfuse3, by way of jfuse (Panama bindings; Linux x86_64 only).
 * <p>
 * libfuse runs its multi-threaded loop, so the {@link MountedFs} is called concurrently. The mount ends either by
 * {@link #close()} or from outside ({@code umount DIR}, {@code fusermount3 -u DIR}); in both cases the bridge then
 * releases libfuse, calls {@link MountedFs#sync()} once, and {@link #awaitUnmounted()} returns.
 * <p>
 * Needs {@code --enable-native-access=ALL-UNNAMED} (or the module holding this class and jfuse). libfuse3 is looked
 * up as {@code libfuse3.so.3} in the usual library directories; system property {@value #LIBRARY_PROPERTY} overrides.
 * <p>
 * This class is the mount's life: mount, unmount, and the watch for an unmount from outside. The requests are
 * {@link MountedFsOperations}'; the native glue is {@link Libc} (the calls jfuse lacks), {@link StructFields} (the
 * struct fields jfuse cannot set) and {@link MountTable} ({@code /proc/self/mountinfo}).
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
        Fuse fuse = builder.build(new MountedFsOperations(fs, builder.errno(), Libc.geteuid(), Libc.getegid()));
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
}
