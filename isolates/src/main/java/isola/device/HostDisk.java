package isola.device;

import isola.sdk.BlockDevice;
import isola.sdk.Errno;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The hosted machine's disk: a host file of whole 4 KiB blocks, reached through Panama with
 * {@code pread}, {@code pwrite} and {@code fdatasync} on one file descriptor, as a disk
 * controller would be reached through its registers. Transfers go straight between the file and
 * the caller's memory (heap segments included: the calls are critical, so the JVM neither copies
 * nor moves the buffer while the kernel reads or writes it). The host opens one: the boot that
 * owns the machine plugs it in ({@code Init.attach}), and init hands it only to the servers the
 * manifest grants it; mkfs and fsck open their own. No server can open one itself: this package
 * is hidden from every server's class loader.
 *
 * <p>The native executable has no Panama (the builder on Maven Central lacks its support):
 * there {@link #openFile} is substituted with one that makes the same calls through Native
 * Image's own C interface (isola.nativeimage.disk.FdFile).
 */
public final class HostDisk implements BlockDevice {
    /** An open host file: positioned reads and writes of whole buffers, and a data sync. */
    public interface HostFile {
        /** Bytes read into {@code buf} (up to its size) at {@code position}; 0 at the end; negative on an I/O error. */
        long read(MemorySegment buf, long position);

        /** Bytes written from {@code buf} at {@code position}; negative on an I/O error. */
        long write(MemorySegment buf, long position);

        /** Makes the file's data durable, or throws naming the failure. */
        void sync() throws IOException;

        void close();
    }

    /** Opens the host file; the native image substitutes this (see the class comment). */
    static HostFile openFile(Path path, boolean readOnly) throws IOException {
        return Panama.open(path, readOnly);
    }

    /** The Panama calls, in a holder of their own: its handles are made only where it is used. */
    private static final class Panama implements HostFile {
        private static final Linker LINKER = Linker.nativeLinker();
        private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
        private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
        private static final MethodHandle OPEN = downcall("open", FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT), false);
        private static final MethodHandle PREAD = downcall("pread", FunctionDescriptor.of(ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG), true);
        private static final MethodHandle PWRITE = downcall("pwrite", FunctionDescriptor.of(ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG), true);
        private static final MethodHandle FDATASYNC = downcall("fdatasync", FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.JAVA_INT), false);
        private static final MethodHandle CLOSE = downcall("close", FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.JAVA_INT), false);
        private static final int O_RDONLY = 0;
        private static final int O_RDWR = 2;
        private static final int O_CLOEXEC = 0x80000;
        private static final int EINTR = 4;

        private final Path path;
        private final int fd;

        private Panama(Path path, int fd) {
            this.path = path;
            this.fd = fd;
        }

        private static MethodHandle downcall(String name, FunctionDescriptor fd, boolean critical) {
            MemorySegment symbol = LINKER.defaultLookup().find(name)
                    .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
            return critical
                    ? LINKER.downcallHandle(symbol, fd, Linker.Option.critical(true))
                    : LINKER.downcallHandle(symbol, fd, Linker.Option.captureCallState("errno"));
        }

        static HostFile open(Path path, boolean readOnly) throws IOException {
            int fd;
            int errno;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment state = arena.allocate(CALL_STATE);
                fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path.toString()), (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC, 0);
                errno = (int) ERRNO.get(state, 0L);
            } catch (Throwable t) {
                throw new IOException("disk image " + path + ": open failed", t);
            }
            if (fd < 0) {
                throw new IOException("disk image " + path + ": open failed, " + Errno.name(errno));
            }
            return new Panama(path, fd);
        }

        @Override
        public long read(MemorySegment buf, long position) {
            try {
                return (long) PREAD.invokeExact(fd, buf, buf.byteSize(), position);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        @Override
        public long write(MemorySegment buf, long position) {
            try {
                return (long) PWRITE.invokeExact(fd, buf, buf.byteSize(), position);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        @Override
        public void sync() throws IOException {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment state = arena.allocate(CALL_STATE);
                int rc;
                do {
                    rc = (int) FDATASYNC.invokeExact(state, fd);
                } while (rc != 0 && (int) ERRNO.get(state, 0L) == EINTR);
                if (rc != 0) {
                    throw new IOException("disk image " + path + ": fdatasync failed, " + Errno.name((int) ERRNO.get(state, 0L)));
                }
            } catch (IOException e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        @Override
        public void close() {
            try (Arena arena = Arena.ofConfined()) {
                int rc = (int) CLOSE.invokeExact(arena.allocate(CALL_STATE), fd);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }
    }

    private final Path path;
    private final long blocks;
    private final boolean readOnly;
    private volatile HostFile file;

    private HostDisk(Path path, HostFile file, long blocks, boolean readOnly) {
        this.path = path;
        this.file = file;
        this.blocks = blocks;
        this.readOnly = readOnly;
    }

    /**
     * Opens the disk image {@code path}; its size must be a whole number of blocks. Throws
     * {@link IOException} naming the file if it is missing, unreadable or of another size.
     */
    public static HostDisk open(Path path, boolean readOnly) throws IOException {
        if (!Files.isRegularFile(path)) {
            throw new IOException("disk image " + path + ": no such file");
        }
        long size = Files.size(path);
        if (size == 0 || size % BLOCK_SIZE != 0) {
            throw new IOException("disk image " + path + ": its size, " + size
                    + " bytes, is not a positive multiple of the " + BLOCK_SIZE + "-byte block");
        }
        return new HostDisk(path, openFile(path, readOnly), size / BLOCK_SIZE, readOnly);
    }

    /**
     * This disk as a driver holds it: every operation but {@link BlockDevice#close}, which is its
     * owner's (the boot it was plugged into: the device outlives the driver incarnations that serve it).
     */
    public BlockDevice forDriver() {
        HostDisk disk = this;
        return new BlockDevice() {
            @Override
            public long blocks() {
                return disk.blocks();
            }

            @Override
            public void read(long block, int count, MemorySegment dst, long offset) {
                disk.read(block, count, dst, offset);
            }

            @Override
            public void write(long block, int count, MemorySegment src, long offset) {
                disk.write(block, count, src, offset);
            }

            @Override
            public void flush() {
                disk.flush();
            }

            @Override
            public void close() {
                // the owner's: Boot.close closes it
            }

            @Override
            public String toString() {
                return disk.toString();
            }
        };
    }

    public Path path() {
        return path;
    }

    @Override
    public long blocks() {
        return blocks;
    }

    @Override
    public void read(long block, int count, MemorySegment dst, long offset) {
        BlockDevice.checkRange(path.toString(), blocks, block, count, dst, offset);
        transfer(false, block, count, dst, offset);
    }

    @Override
    public void write(long block, int count, MemorySegment src, long offset) {
        BlockDevice.checkRange(path.toString(), blocks, block, count, src, offset);
        if (readOnly) {
            throw new UncheckedIOException(new IOException("disk image " + path + " is open read-only: write of block " + block));
        }
        transfer(true, block, count, src, offset);
    }

    private void transfer(boolean write, long block, int count, MemorySegment buffer, long offset) {
        long want = (long) count << BLOCK_SHIFT;
        long done = 0;
        HostFile f = liveFile();
        while (done < want) {
            MemorySegment part = buffer.asSlice(offset + done, want - done);
            long position = (block << BLOCK_SHIFT) + done;
            long n = write ? f.write(part, position) : f.read(part, position);
            if (n <= 0) {
                // A short or failed transfer of a file that has the disk's size is an I/O
                // error either way, named by block.
                throw new UncheckedIOException(new IOException("disk image " + path + ": " + (write ? "write" : "read")
                        + " of block " + (block + (done >> BLOCK_SHIFT)) + " failed (" + (n == 0 ? "end of file" : "I/O error") + ")"));
            }
            done += n;
        }
    }

    @Override
    public void flush() {
        try {
            liveFile().sync();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private HostFile liveFile() {
        HostFile f = this.file;
        if (f == null) {
            throw new IllegalStateException("disk image " + path + " is closed");
        }
        return f;
    }

    @Override
    public synchronized void close() {
        HostFile f = this.file;
        if (f != null) {
            this.file = null;
            f.close();
        }
    }

    @Override
    public String toString() {
        return "disk " + path + " (" + blocks + " blocks)";
    }
}
