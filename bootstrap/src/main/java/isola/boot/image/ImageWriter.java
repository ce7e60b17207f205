package isola.boot.image;

import isola.kernel.initrd.InitrdPath;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveOutputStream;
import org.apache.commons.compress.archivers.cpio.CpioConstants;

/**
 * Writes RAM disk images: cpio "newc" archives that the kernel's {@link isola.kernel.initrd.Initrd}
 * reads. Output is reproducible, a function of the entries alone: mtime, uid and gid are 0, every
 * file has mode {@code 0100644} and one link, inode numbers count up from 1 in entry order, and
 * the archive ends with the {@code TRAILER!!!} entry, zero-padded to 512 bytes as GNU cpio does.
 *
 * <p>Only regular files are written; their parent directories are implied, as the kernel's reader
 * and {@code cpio -id} both allow. Paths must pass {@link InitrdPath#problem}, the rule the kernel
 * applies at boot, so the build cannot produce an image the kernel refuses for its names.
 */
public final class ImageWriter {
    private static final int FILE_MODE = 0100644;

    /** One file to put in an image: its path inside the image and its contents. */
    public record ImageEntry(String path, byte[] data) {
        public ImageEntry {
            Objects.requireNonNull(path, "path");
            Objects.requireNonNull(data, "data");
        }
    }

    private ImageWriter() {}

    /** Writes the image for {@code entries}, in order, to {@code out}, replacing it. */
    public static void write(Path out, List<ImageEntry> entries) throws IOException {
        Files.write(out, toBytes(entries));
    }

    /** Returns the image for {@code entries}, in order. */
    public static byte[] toBytes(List<ImageEntry> entries) {
        checkPaths(entries);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (CpioArchiveOutputStream cpio = new CpioArchiveOutputStream(
                bytes, CpioConstants.FORMAT_NEW, CpioConstants.BLOCK_SIZE, "UTF-8")) {
            long inode = 1;
            for (ImageEntry e : entries) {
                CpioArchiveEntry header = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, e.path(), e.data().length);
                header.setMode(FILE_MODE);
                header.setTime(0);
                header.setUID(0);
                header.setGID(0);
                header.setNumberOfLinks(1);
                // Set explicitly: Commons Compress invents its own inode numbers for entries left at 0.
                header.setInode(inode++);
                cpio.putArchiveEntry(header);
                cpio.write(e.data());
                cpio.closeArchiveEntry();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("writing an image to memory failed", e);
        }
        return bytes.toByteArray();
    }

    /** Refuses, before anything is written, what the kernel would refuse at boot. */
    private static void checkPaths(List<ImageEntry> entries) {
        Set<String> paths = new HashSet<>();
        for (int i = 0; i < entries.size(); i++) {
            String path = entries.get(i).path();
            String problem = InitrdPath.problem(path);
            if (problem != null) throw new IllegalArgumentException(describe(i, path) + problem);
            if (!paths.add(path)) throw new IllegalArgumentException(describe(i, path) + "duplicate path");
        }
        for (int i = 0; i < entries.size(); i++) {
            String path = entries.get(i).path();
            String ancestor = InitrdPath.fileAncestor(path, paths::contains); // every entry is a file
            if (ancestor != null) throw new IllegalArgumentException(describe(i, path) + "parent \"" + ancestor + "\" is a file");
        }
    }

    private static String describe(int index, String path) {
        return "image entry " + index + " \"" + path + "\": ";
    }
}
