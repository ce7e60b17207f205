package isola.sdk;

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
 * nor moves the buffer while the kernel reads or writes it). Only the block driver, and the
 * host's own tools (mkfs, fsck), should open one.
 */
public final class HostDisk implements BlockDevice {
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
    private final long blocks;
    private final boolean readOnly;
    private volatile int fd;

    private HostDisk(Path path, int fd, long blocks, boolean readOnly) {
        this.path = path;
        this.fd = fd;
        this.blocks = blocks;
        this.readOnly = readOnly;
    }

    private static MethodHandle downcall(String name, FunctionDescriptor fd, boolean critical) {
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return critical
                ? LINKER.downcallHandle(symbol, fd, Linker.Option.critical(true))
                : LINKER.downcallHandle(symbol, fd, Linker.Option.captureCallState("errno"));
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
        int fd;
        MemorySegment state = Arena.ofAuto().allocate(CALL_STATE);
        try (Arena arena = Arena.ofConfined()) {
            fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path.toString()), (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC, 0);
        } catch (Throwable t) {
            throw new IOException("disk image " + path + ": open failed", t);
        }
        if (fd < 0) {
            throw new IOException("disk image " + path + ": open failed, " + Errno.name((int) ERRNO.get(state, 0L)));
        }
        return new HostDisk(path, fd, size / BLOCK_SIZE, readOnly);
    }

    private static final java.util.Map<String, HostDisk> ATTACHED = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Attaches {@code disk} to the machine as {@code name} (the launcher does, as it plugs in
     * the console): the device outlives any driver incarnation that serves it.
     */
    public static void attach(String name, HostDisk disk) {
        ATTACHED.put(name, disk);
    }

    /** Detaches and closes the disk {@code name}, if one is attached. */
    public static void detach(String name) {
        HostDisk d = ATTACHED.remove(name);
        if (d != null) {
            d.close();
        }
    }

    /** The disk attached as {@code name}, or null. */
    public static HostDisk attached(String name) {
        return ATTACHED.get(name);
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
        transfer(PREAD, "read", block, count, dst, offset);
    }

    @Override
    public void write(long block, int count, MemorySegment src, long offset) {
        BlockDevice.checkRange(path.toString(), blocks, block, count, src, offset);
        if (readOnly) {
            throw new UncheckedIOException(new IOException("disk image " + path + " is open read-only: write of block " + block));
        }
        transfer(PWRITE, "write", block, count, src, offset);
    }

    private void transfer(MethodHandle call, String what, long block, int count, MemorySegment buffer, long offset) {
        long want = (long) count << BLOCK_SHIFT;
        long done = 0;
        int fd = liveFd();
        while (done < want) {
            long n;
            try {
                n = (long) call.invokeExact(fd, buffer.asSlice(offset + done, want - done), want - done,
                        (block << BLOCK_SHIFT) + done);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
            if (n <= 0) {
                // A critical call cannot capture errno; a short or failed transfer of a file that
                // has the disk's size is an I/O error either way, named by block.
                throw new UncheckedIOException(new IOException("disk image " + path + ": " + what + " of block "
                        + (block + (done >> BLOCK_SHIFT)) + " failed (" + (n == 0 ? "end of file" : "I/O error") + ")"));
            }
            done += n;
        }
    }

    @Override
    public void flush() {
        int fd = liveFd();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc;
            do {
                rc = (int) FDATASYNC.invokeExact(state, fd);
            } while (rc != 0 && (int) ERRNO.get(state, 0L) == EINTR);
            if (rc != 0) {
                throw new UncheckedIOException(new IOException("disk image " + path + ": fdatasync failed, "
                        + Errno.name((int) ERRNO.get(state, 0L))));
            }
        } catch (UncheckedIOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private int liveFd() {
        int fd = this.fd;
        if (fd < 0) {
            throw new IllegalStateException("disk image " + path + " is closed");
        }
        return fd;
    }

    @Override
    public synchronized void close() {
        int fd = this.fd;
        if (fd >= 0) {
            this.fd = -1;
            try (Arena arena = Arena.ofConfined()) {
                int rc = (int) CLOSE.invokeExact(arena.allocate(CALL_STATE), fd);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }
    }

    @Override
    public String toString() {
        return "disk " + path + " (" + blocks + " blocks)";
    }
}
