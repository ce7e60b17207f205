package isola.nativeimage.disk;

import org.graalvm.nativeimage.c.function.CFunction;

/**
 * The host file descriptors this isolate holds open ({@link FdFile}s: disk images). GraalVM's
 * isolate teardown frees the isolate's heap and threads, not the process's descriptors, so
 * the native tier closes what a server isolate left open when it tears it down
 * ({@link #closeAll}): otherwise every restart of the block driver, which opens the disk image
 * in its own isolate, would leave one more descriptor of it open in the process.
 *
 * <p>Initialized at image build time (NativeFeature): the table is in the image heap, of
 * which every isolate has its own writable copy, so each isolate has its own table and
 * closing it needs no class initialization and no allocation, even in an isolate whose heap
 * is exhausted.
 */
public final class HostFiles {
    private HostFiles() {}

    /** The most host files one isolate may hold open at once (a driver holds one per disk). */
    static final int MAX = 16;
    private static final int[] open = new int[MAX];
    private static int count;

    /** Lists {@code fd}; false if the table is full (the caller closes it and fails). */
    static synchronized boolean opened(int fd) {
        if (count == MAX) {
            return false;
        }
        open[count++] = fd;
        return true;
    }

    /** Unlists {@code fd}, which its file is closing. */
    static synchronized void closed(int fd) {
        for (int i = 0; i < count; i++) {
            if (open[i] == fd) {
                open[i] = open[--count];
                return;
            }
        }
    }

    /**
     * Closes every descriptor still listed; returns how many, or -1 - that number if a close
     * failed. Runs in the isolate's teardown, when no other thread is inside it: so without
     * the lock (a monitor may need heap) and without allocating.
     */
    public static int closeAll() {
        int n = count;
        boolean failed = false;
        for (int i = 0; i < n; i++) {
            failed |= isola_disk_close(open[i]) != 0;
        }
        count = 0;
        return failed ? -1 - n : n;
    }

    /** Here rather than in FdFile: closeAll must not need any class initialized at run time. */
    @CFunction
    static native int isola_disk_close(int fd);
}
