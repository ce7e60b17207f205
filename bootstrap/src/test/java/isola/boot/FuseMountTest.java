package isola.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import isola.device.HostDisk;
import isola.system.fs.FileSystem;
import isola.system.fs.Fsck;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code ./isola mount}: the file system served to the host through FUSE (/dev/fuse, libfuse3),
 * with the host's own tools on the mounted tree: ls, cp -r, diff -r, tar, git init/add/commit.
 * Unmounting syncs: the image is clean for fsck and holds what was written.
 */
class FuseMountTest {
    @TempDir
    Path tmp;

    private static String run(Path dir, String... command) throws Exception {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", command) + " hangs");
        assertEquals(0, p.exitValue(), String.join(" ", command) + ":\n" + out);
        return out;
    }

    private static boolean mounted(Path dir) throws IOException {
        String real = dir.toRealPath().toString();
        return Files.readAllLines(Path.of("/proc/self/mounts")).stream().anyMatch(l -> l.split(" ")[1].equals(real));
    }

    @Test
    void hostToolsWorkOnTheMountedTreeAndUnmountSyncs() throws Exception {
        Path image = tmp.resolve("fs.img");
        DiskImage.mkfs(image, 64L << 20);
        Path dir = Files.createDirectory(tmp.resolve("mnt"));
        CompletableFuture<Integer> mount = CompletableFuture.supplyAsync(
                () -> new CommandLine(new DiskCommands.Mount()).execute(image.toString(), dir.toString()));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!mounted(dir)) {
            assertTrue(System.nanoTime() < deadline && !mount.isDone(), "the mount did not come up: " + (mount.isDone() ? mount.get() : ""));
            Thread.sleep(20);
        }
        try {
            Path source = Path.of(System.getProperty("user.dir")).resolve("src");
            run(dir, "cp", "-r", source.toString(), "copy");
            run(dir, "diff", "-r", source.toString(), "copy");
            run(tmp, "tar", "cf", "tree.tar", "-C", dir.toString(), "copy");
            run(dir, "mkdir", "untarred");
            run(dir, "tar", "xf", tmp.resolve("tree.tar").toString(), "-C", "untarred");
            run(dir, "diff", "-r", source.toString(), "untarred/copy");
            String ls = run(dir, "ls", "-la");
            assertTrue(ls.contains("copy") && ls.contains("untarred"), ls);
            Path repo = Files.createDirectory(dir.resolve("repo"));
            Files.writeString(repo.resolve("README"), "isola on fuse\n");
            run(repo, "git", "init", "-q");
            run(repo, "git", "add", ".");
            run(repo, "git", "-c", "user.name=isola", "-c", "user.email=isola@example.org", "-c", "core.fsync=all",
                    "commit", "-q", "-m", "first commit on isola");
            assertEquals("", run(repo, "git", "status", "--porcelain"));
            assertTrue(run(repo, "git", "log", "--oneline").contains("first commit on isola"));
            run(repo, "git", "fsck", "--strict");
        } finally {
            run(tmp, "umount", dir.toString());
        }
        assertEquals(0, mount.get(60, TimeUnit.SECONDS));
        try (HostDisk d = HostDisk.open(image, false)) {
            assertEquals(List.of(), Fsck.check(d).problems());
            try (FileSystem fs = FileSystem.mount(d)) {
                FileSystem.Handle h = fs.open("/repo/README", false, false, false, 0);
                byte[] b = new byte[14];
                assertEquals(14, fs.read(h, 0, MemorySegment.ofArray(b), 0, 14));
                assertEquals("isola on fuse\n", new String(b, StandardCharsets.UTF_8));
            }
        }
    }
}
