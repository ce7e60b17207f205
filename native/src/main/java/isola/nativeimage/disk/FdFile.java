package isola.nativeimage.disk;

import isola.sdk.Errno;
import isola.device.HostDisk;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import org.graalvm.nativeimage.UnmanagedMemory;
import org.graalvm.nativeimage.c.function.CFunction;
import org.graalvm.nativeimage.c.type.CCharPointer;
import org.graalvm.nativeimage.c.type.CTypeConversion;
import org.graalvm.word.Pointer;
import org.graalvm.word.WordFactory;

/**
 * A host file on one descriptor, through the C in {@code native/src/main/c/isola.c} (each call
 * answers -errno on failure). Listed in {@link HostFiles} while open, so that the isolate's
 * teardown can close it if its server never does (a crashed block driver does not).
 */
final class FdFile implements HostDisk.HostFile {
    private final Path path;
    private final int fd;
    private boolean closed;

    private FdFile(Path path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    static FdFile open(Path path, boolean readOnly) throws IOException {
        int fd;
        try (CTypeConversion.CCharPointerHolder p = CTypeConversion.toCString(path.toString())) {
            fd = isola_disk_open(p.get(), readOnly ? 1 : 0);
        }
        if (fd < 0) {
            throw new IOException("disk image " + path + ": open failed, " + Errno.name(-fd));
        }
        if (!HostFiles.opened(fd)) {
            HostFiles.isola_disk_close(fd);
            throw new IOException("disk image " + path + ": this isolate has " + HostFiles.MAX + " host files open already");
        }
        return new FdFile(path, fd);
    }

    @Override
    public long read(MemorySegment buf, long position) {
        if (buf.isNative()) {
            return isola_disk_pread(fd, buf.address(), buf.byteSize(), position);
        }
        // A heap segment has no fixed address to hand the kernel: read into native memory and
        // copy (only the host's own tools pass heap buffers; the driver's are frames).
        long size = buf.byteSize();
        Pointer bounce = UnmanagedMemory.malloc(WordFactory.unsigned(Math.max(1, size)));
        try {
            long n = isola_disk_pread(fd, bounce.rawValue(), size, position);
            if (n > 0) {
                MemorySegment.copy(MemorySegment.ofAddress(bounce.rawValue()).reinterpret(n), 0, buf, 0, n);
            }
            return n;
        } finally {
            UnmanagedMemory.free(bounce);
        }
    }

    @Override
    public long write(MemorySegment buf, long position) {
        if (buf.isNative()) {
            return isola_disk_pwrite(fd, buf.address(), buf.byteSize(), position);
        }
        long size = buf.byteSize();
        Pointer bounce = UnmanagedMemory.malloc(WordFactory.unsigned(Math.max(1, size)));
        try {
            MemorySegment.copy(buf, 0, MemorySegment.ofAddress(bounce.rawValue()).reinterpret(size), 0, size);
            return isola_disk_pwrite(fd, bounce.rawValue(), size, position);
        } finally {
            UnmanagedMemory.free(bounce);
        }
    }

    @Override
    public void sync() throws IOException {
        int rc = isola_disk_sync(fd);
        if (rc != 0) {
            throw new IOException("disk image " + path + ": fdatasync failed, " + Errno.name(-rc));
        }
    }

    /** Closes the descriptor (HostDisk calls it once, under its lock). */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        HostFiles.closed(fd);
        int rc = HostFiles.isola_disk_close(fd);
        if (rc != 0) {
            throw new UncheckedIOException(new IOException("disk image " + path + ": close failed, " + Errno.name(-rc)));
        }
    }

    @CFunction
    static native int isola_disk_open(CCharPointer path, int readOnly);

    @CFunction
    private static native long isola_disk_pread(int fd, long buf, long count, long offset);

    @CFunction
    private static native long isola_disk_pwrite(int fd, long buf, long count, long offset);

    @CFunction
    private static native int isola_disk_sync(int fd);
}
