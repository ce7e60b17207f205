package isola.system.fs;

import isola.device.HostDisk;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;

/** Disk images for the tests: real files, reached through the real host disk. */
final class Images {
    private Images() {}

    static Path create(Path dir, String name, long bytes) throws IOException {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(bytes);
        }
        return p;
    }

    /** A freshly formatted image of {@code bytes}. */
    static Path formatted(Path dir, String name, long bytes) throws IOException {
        Path p = create(dir, name, bytes);
        try (HostDisk d = HostDisk.open(p, false)) {
            FileSystem.format(d);
        }
        return p;
    }
}
