package isola.boot;

import isola.device.HostDisk;
import isola.system.fs.FileSystem;
import isola.system.fs.FsException;
import isola.system.fs.Fsck;
import isola.init.manifest.ByteSize;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The host's tools for disk images: mkfs and fsck. */
final class DiskCommands {
    private DiskCommands() {}

    /**
     * A path the user gave: a relative one is taken from the directory they ran {@code ./isola}
     * in (which changes into the repository), as {@code -Disola.caller.dir} says, or the
     * environment's {@code ISOLA_CALLER_DIR}, which the launcher exports (the native executable
     * gets no system properties from it).
     */
    static Path users(Path p) {
        String dir = System.getProperty("isola.caller.dir");
        if (dir == null) {
            dir = System.getenv("ISOLA_CALLER_DIR");
        }
        return p.isAbsolute() || dir == null || dir.isEmpty() ? p : Path.of(dir).resolve(p).normalize();
    }

    @Command(name = "mkfs", mixinStandardHelpOptions = true,
            description = "Make IMAGE an empty Isola file system (the file is created or overwritten).")
    static final class Mkfs implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "IMAGE", description = "the disk image file")
        Path image;

        @Option(names = "--size", paramLabel = "SIZE", converter = DiskSize.class,
                description = "its size with unit K, M or G, from 1M to 16384G (default: the file's size, or 64M for a new file)")
        Long size;

        @Option(names = "--force", description = "overwrite an image that holds an Isola file system already")
        boolean force;

        @Override
        public Integer call() {
            image = users(image);
            try {
                long bytes = size != null ? size : Files.exists(image) ? Files.size(image) : DiskImage.DEFAULT_SIZE;
                if (!force && Files.isRegularFile(image) && holdsFileSystem(image)) {
                    System.err.println("isola mkfs: " + image + " already holds an Isola file system; --force overwrites it");
                    return 1;
                }
                DiskImage.mkfs(image, bytes);
                try (HostDisk d = HostDisk.open(image, false); FileSystem fs = FileSystem.mount(d)) {
                    FileSystem.Usage u = fs.usage();
                    System.out.println(image + ": " + bytes / 1024 + " KiB, " + u.freeBlocks() + " free blocks of 4 KiB, "
                            + u.inodes() + " inodes");
                }
                return 0;
            } catch (IOException | FsException e) {
                System.err.println("isola mkfs: " + e.getMessage());
                return 1;
            }
        }

        private static boolean holdsFileSystem(Path image) {
            try (HostDisk d = HostDisk.open(image, true)) {
                return Fsck.check(d).problems().stream().noneMatch(p -> p.contains("no Isola file system here"));
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }
    }

    @Command(name = "fsck", mixinStandardHelpOptions = true,
            description = "Check IMAGE's file system without changing it: checksums, structure, block ownership, link "
                    + "counts and bitmaps. Prints each problem, naming its block or inode. Exit 0 if clean, 1 if not, "
                    + "2 if the image cannot be read.")
    static final class FsckCommand implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "IMAGE", description = "the disk image file")
        Path image;

        @Override
        public Integer call() {
            image = users(image);
            Fsck.Report r;
            try (HostDisk d = HostDisk.open(image, true)) {
                r = Fsck.check(d);
            } catch (IOException | RuntimeException e) {
                System.err.println("isola fsck: " + e.getMessage());
                return 2;
            }
            for (String n : r.notes()) {
                System.out.println(image + ": note: " + n);
            }
            for (String p : r.problems()) {
                System.out.println(image + ": " + p);
            }
            if (r.clean()) {
                System.out.println(image + ": clean, " + r.files() + " files, " + r.directories() + " directories, "
                        + r.usedBlocks() + "/" + r.dataBlocks() + " data blocks in use");
                return 0;
            }
            System.out.println(image + ": " + r.problems().size() + " problem" + (r.problems().size() == 1 ? "" : "s"));
            return 1;
        }
    }

    @Command(name = "mount", mixinStandardHelpOptions = true,
            description = "Serve IMAGE's file system to the host at DIR through FUSE: Isola boots with its block driver "
                    + "and fs server on IMAGE, and the host's calls become fs clients' calls. Runs until DIR is unmounted "
                    + "(umount DIR) or it is stopped (Ctrl-C); unmounting syncs.")
    static final class Mount implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "IMAGE", description = "the disk image file")
        Path image;

        @Parameters(index = "1", paramLabel = "DIR", description = "an existing directory to mount it on")
        Path dir;

        private final Object stopping = new Object();
        private isola.boot.fuse.FuseMount mount;
        private Boot boot;

        @Override
        public Integer call() throws Exception {
            image = users(image);
            dir = users(dir);
            if (!Files.isDirectory(dir)) {
                System.err.println("isola mount: " + dir + " is not a directory");
                return 2;
            }
            // The host checks the disk first, so a damaged one is refused here, naming the block.
            try (HostDisk d = HostDisk.open(image, false); FileSystem fs = FileSystem.mount(d)) {
                fs.usage();
            } catch (IOException e) {
                System.err.println("isola mount: " + e.getMessage());
                return 1;
            } catch (FsException e) {
                System.err.println("isola mount: " + image + ": " + e.getMessage() + " (./isola fsck " + image + " names every problem)");
                return 1;
            }
            Path bootImage = Files.createTempFile("isola-mount", ".img");
            try {
                isola.boot.image.DefaultImage.build(bootImage, MANIFEST);
                boot = Boot.start(bootImage, HostDisk.open(image, false), java.io.InputStream.nullInputStream(), System.out,
                        false).awaitBooted();
                String name = "isola:" + image.getFileName().toString().replaceAll("[,\\s\\\\]", "_");
                mount = isola.boot.fuse.FuseMount.mount(new isola.boot.fuse.FsClients(boot), dir, name);
                Runtime.getRuntime().addShutdownHook(new Thread(this::stop, "isola-mount-stop"));
                System.err.println("isola mount: " + image + " is mounted at " + mount.mountPoint()
                        + "; umount " + mount.mountPoint() + " (or Ctrl-C) unmounts it");
                mount.awaitUnmounted();
                stop();
                System.err.println("isola mount: " + image + " unmounted and synced");
                return 0;
            } catch (IOException e) {
                System.err.println("isola mount: " + e.getMessage());
                stop();
                return 1;
            } finally {
                Files.deleteIfExists(bootImage);
            }
        }

        /** Unmounts (syncing) if still mounted, then stops the system. Once. */
        private void stop() {
            synchronized (stopping) {
                try {
                    if (mount != null && mount.isMounted()) {
                        mount.close();
                    }
                } catch (IOException e) {
                    System.err.println("isola mount: " + e.getMessage());
                }
                if (boot != null) {
                    boot.close(); // and the disk
                    boot = null;
                }
            }
        }

        /** The system a mount boots: the log, the block driver and the fs server. */
        static final String MANIFEST = """
                [server log]
                jar      = log.jar
                priority = 200
                provides = log

                [server blk]
                jar      = blk.jar
                priority = 190
                provides = blk
                grants   = disk0

                [server fs]
                jar      = fs.jar
                priority = 160
                provides = fs, fs-attach
                grants   = blk, log
                memory   = 32M
                """;
    }

    static final class DiskSize implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            long bytes = ByteSize.parse(value, "KMG");
            if (bytes < 0) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not a size; expected a whole number with unit K, M or G, e.g. 64M");
            }
            if (bytes < DiskImage.MIN_SIZE || bytes > DiskImage.MAX_SIZE || bytes % 4096 != 0) {
                throw new CommandLine.TypeConversionException("disk size '" + value + "' must be whole 4K blocks from 1M to 16384G");
            }
            return bytes;
        }
    }
}
