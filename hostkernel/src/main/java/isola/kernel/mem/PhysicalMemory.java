package isola.kernel.mem;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The machine's physical RAM, addressed by physical address. Hosted, it is one shared-memory
 * file in {@code /dev/shm} mapped through Panama and unlinked at once (so it goes when the
 * kernel does, like a memfd); process-tier servers will map the frames their page tables name
 * from the same file. On bare metal the same accessors cover real RAM.
 *
 * <p>Accessors take physical addresses and check them against the size: a wrong address is an
 * exception, never a stray write.
 */
public final class PhysicalMemory {
    public static final long FRAME = 4096;
    public static final int FRAME_SHIFT = 12;
    /** Default size of hosted RAM. */
    public static final long DEFAULT_SIZE = 256L << 20;


    private final MemorySegment ram;
    private final long size;

    private PhysicalMemory(MemorySegment ram) {
        this.ram = ram;
        this.size = ram.byteSize();
    }

    /**
     * Hosted RAM of {@code size} bytes (a positive multiple of 4 KiB) in a shared-memory file.
     * The file's contents start zeroed.
     */
    public static PhysicalMemory hosted(long size) {
        if (size <= 0 || (size & (FRAME - 1)) != 0) {
            throw new IllegalArgumentException("physical memory size " + size
                    + " must be a positive multiple of " + FRAME + " bytes");
        }
        Path dir = Path.of("/dev/shm");
        Arena arena = Arena.ofAuto(); // unmapped once unreachable: no kernel outlives its RAM
        try {
            Path file = Files.createTempFile(Files.isDirectory(dir) ? dir : Path.of(System.getProperty("java.io.tmpdir")),
                    "isola-ram-", ".bin");
            try (FileChannel fc = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                fc.truncate(0);
                MemorySegment ram = fc.map(FileChannel.MapMode.READ_WRITE, 0, size, arena);
                return new PhysicalMemory(ram);
            } finally {
                Files.deleteIfExists(file); // the mapping stays; the name goes
            }
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException("cannot create " + size + " bytes of hosted physical memory in "
                    + dir + ": " + e.getMessage(), e);
        }
    }

    /** Physical memory over an existing segment (tests, bare metal). */
    public static PhysicalMemory of(MemorySegment ram) {
        if ((ram.byteSize() & (FRAME - 1)) != 0 || ram.byteSize() == 0) {
            throw new IllegalArgumentException("physical memory of " + ram.byteSize() + " bytes is not whole frames");
        }
        return new PhysicalMemory(ram);
    }

    public long size() {
        return size;
    }

    public long frames() {
        return size >>> FRAME_SHIFT;
    }

    public long read64(long pa) {
        return Words.get(ram, pa);
    }

    public void write64(long pa, long value) {
        Words.set(ram, pa, value);
    }

    public long read64Acquire(long pa) {
        return Words.getAcquire(ram, pa);
    }

    public void write64Release(long pa, long value) {
        Words.setRelease(ram, pa, value);
    }

    /** Atomically replaces the word at {@code pa}, returning what it was. */
    public long getAndSet64(long pa, long value) {
        return Words.getAndSet(ram, pa, value);
    }

    /** Atomically replaces {@code expected} at {@code pa} (the MMU's accessed and dirty bits). */
    public boolean cas64(long pa, long expected, long value) {
        return Words.compareAndSet(ram, pa, expected, value);
    }

    /** Zeroes a frame-aligned range. */
    public void zero(long pa, long bytes) {
        ram.asSlice(pa, bytes).fill((byte) 0);
    }

    /** A view of {@code bytes} at {@code pa} (bounds-checked against RAM). */
    public MemorySegment slice(long pa, long bytes) {
        return ram.asSlice(pa, bytes);
    }
}
