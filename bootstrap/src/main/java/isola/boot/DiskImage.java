package isola.boot;

import isola.device.HostDisk;
import isola.system.fs.FileSystem;
import isola.system.fs.FsException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

/** Disk image files on the host: made (mkfs) and opened as the machine's disk. */
public final class DiskImage {
    private DiskImage() {}

    public static final long DEFAULT_SIZE = 64L << 20;
    public static final long MIN_SIZE = FileSystem.MIN_DISK_BYTES;
    public static final long MAX_SIZE = FileSystem.MAX_DISK_BYTES;

    /**
     * Makes {@code image} a file of {@code bytes} (sparse where the host allows) holding an empty
     * file system. Throws naming the file and the problem if the size is not whole 4 KiB blocks
     * from 1 MiB to 16 TiB, or the file cannot be written.
     */
    public static void mkfs(Path image, long bytes) throws IOException {
        if (bytes < MIN_SIZE || bytes > MAX_SIZE || bytes % 4096 != 0) {
            throw new IOException("disk image " + image + ": size " + bytes + " bytes; it must be whole 4 KiB blocks from "
                    + MIN_SIZE / (1 << 20) + " MiB to " + MAX_SIZE / (1L << 40) + " TiB");
        }
        if (Files.isDirectory(image)) {
            throw new IOException("disk image " + image + " is a directory");
        }
        Path parent = image.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(0); // drop the old contents: a fresh file system starts from zeros
            f.setLength(bytes);
        }
        try (HostDisk d = HostDisk.open(image, false)) {
            FileSystem.format(d);
        } catch (FsException | java.io.UncheckedIOException e) {
            throw new IOException("disk image " + image + ": " + e.getMessage(), e);
        }
    }

    /**
     * The disk image {@code image}, made with an empty file system of {@link #DEFAULT_SIZE} if
     * there is no such file yet ({@code created} says so to the user).
     */
    public static HostDisk openOrCreate(Path image, java.util.function.Consumer<String> created) throws IOException {
        if (!Files.exists(image)) {
            mkfs(image, DEFAULT_SIZE);
            created.accept("made the disk image " + image + " (" + DEFAULT_SIZE / (1 << 20) + " MiB, an empty file system)");
        }
        return HostDisk.open(image, false);
    }
}
