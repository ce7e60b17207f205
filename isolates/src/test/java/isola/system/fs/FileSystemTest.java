package isola.system.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import isola.sdk.Errno;
import isola.device.HostDisk;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** POSIX semantics of each operation, on a real image through the host disk. */
class FileSystemTest {
    @TempDir
    Path tmp;
    Path image;
    HostDisk disk;
    FileSystem fs;

    @BeforeEach
    void mount() throws Exception {
        image = Images.formatted(tmp, "fs.img", 8 << 20);
        disk = HostDisk.open(image, false);
        fs = FileSystem.mount(disk);
    }

    /** After every test: unmount, and fsck must find nothing wrong. */
    @AfterEach
    void unmountAndCheck() {
        fs.close();
        assertEquals(List.of(), Fsck.check(disk).problems());
        disk.close();
    }

    private void remount() throws Exception {
        fs.close();
        disk.close();
        disk = HostDisk.open(image, false);
        fs = FileSystem.mount(disk);
    }

    static int errno(Runnable r) {
        return assertThrows(FsException.class, r::run).errno();
    }

    private void write(String path, String text) {
        FileSystem.Handle h = fs.open(path, true, false, true, 0644);
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        assertEquals(b.length, fs.write(h, 0, MemorySegment.ofArray(b), 0, b.length));
    }

    private String read(String path) {
        FileSystem.Handle h = fs.open(path, false, false, false, 0);
        long size = fs.stat(path).size();
        byte[] b = new byte[(int) size];
        assertEquals(size, fs.read(h, 0, MemorySegment.ofArray(b), 0, b.length));
        return new String(b, StandardCharsets.UTF_8);
    }

    private List<String> names(String dir) {
        return fs.list(dir).stream().map(FileSystem.Entry::name).sorted().toList();
    }

    @Test
    void emptyRootAfterMkfs() {
        assertEquals(List.of(), fs.list("/"));
        FileSystem.Stat s = fs.stat("/");
        assertTrue(s.directory());
        assertEquals(2, s.nlink());
    }

    @Test
    void createWriteReadAndPersist() throws Exception {
        write("/hello.txt", "hello, world\n");
        fs.mkdir("/etc", 0755);
        write("/etc/motd", "welcome");
        assertEquals("hello, world\n", read("/hello.txt"));
        remount();
        assertEquals("hello, world\n", read("/hello.txt"));
        assertEquals("welcome", read("/etc/motd"));
        assertEquals(List.of("etc", "hello.txt"), names("/"));
        assertEquals(3, fs.stat("/").nlink());
    }

    @Test
    void largeFileRoundTripsAcrossBlocksAndRemount() throws Exception {
        byte[] data = new byte[3 * 1024 * 1024 + 123];
        new Random(7).nextBytes(data);
        FileSystem.Handle h = fs.open("/big", true, true, false, 0644);
        // Unaligned pieces, to exercise partial blocks at both ends.
        int at = 0;
        Random r = new Random(1);
        while (at < data.length) {
            int n = Math.min(data.length - at, 1 + r.nextInt(200_000));
            fs.write(h, at, MemorySegment.ofArray(data), at, n);
            at += n;
        }
        remount();
        h = fs.open("/big", false, false, false, 0);
        byte[] back = new byte[data.length];
        assertEquals(data.length, fs.read(h, 0, MemorySegment.ofArray(back), 0, back.length));
        assertArrayEquals(data, back);
        assertEquals(0, fs.read(h, data.length, MemorySegment.ofArray(back), 0, 10));
    }

    @Test
    void sparseWritesReadZerosInTheHoles() {
        FileSystem.Handle h = fs.open("/sparse", true, true, false, 0644);
        byte[] x = {1, 2, 3};
        fs.write(h, 100_000, MemorySegment.ofArray(x), 0, 3);
        assertEquals(100_003, fs.stat("/sparse").size());
        byte[] back = new byte[100_003];
        fs.read(h, 0, MemorySegment.ofArray(back), 0, back.length);
        for (int i = 0; i < 100_000; i++) {
            assertEquals(0, back[i], "byte " + i);
        }
        assertEquals(3, back[100_002]);
        assertTrue(fs.stat("/sparse").blocks512() <= 16, "only the written block is allocated");
    }

    @Test
    void manyExtentsGoIntoExtentBlocksAndSurviveARemount() throws Exception {
        // Every other block: each written block is an extent of its own, far past the 16 inline.
        FileSystem.Handle h = fs.open("/holes", true, true, false, 0644);
        byte[] block = new byte[4096];
        for (int i = 0; i < 400; i++) {
            java.util.Arrays.fill(block, (byte) i);
            fs.write(h, 2L * i * 4096, MemorySegment.ofArray(block), 0, block.length);
        }
        remount();
        h = fs.open("/holes", false, false, false, 0);
        byte[] back = new byte[4096];
        for (int i = 0; i < 400; i++) {
            fs.read(h, 2L * i * 4096, MemorySegment.ofArray(back), 0, back.length);
            assertEquals((byte) i, back[4095], "block " + 2 * i);
            if (i < 399) { // the last block written is the file's last
                assertEquals(4096, fs.read(h, (2L * i + 1) * 4096, MemorySegment.ofArray(back), 0, back.length));
                assertEquals(0, back[0], "hole " + (2 * i + 1));
            }
        }
        fs.truncate("/holes", 4096 * 3); // back to inline extents: the extent blocks are freed
        assertEquals(8 * 2, fs.stat("/holes").blocks512());
    }

    @Test
    void truncateShrinksAndGrowsWithZeros() {
        write("/t", "abcdefghij");
        fs.truncate("/t", 4);
        assertEquals("abcd", read("/t"));
        fs.truncate("/t", 8);
        assertEquals("abcd\0\0\0\0", read("/t"));
        assertEquals(Errno.EINVAL, errno(() -> fs.truncate("/t", -1)));
        fs.mkdir("/d", 0755);
        assertEquals(Errno.EISDIR, errno(() -> fs.truncate("/d", 0)));
    }

    @Test
    void openFlags() {
        assertEquals(Errno.ENOENT, errno(() -> fs.open("/missing", false, false, false, 0)));
        assertEquals(Errno.EISDIR, errno(() -> fs.open("/", false, false, false, 0)), "the root is a directory, not a file");
        assertEquals(Errno.EISDIR, errno(() -> fs.open("/.", true, false, false, 0644)));
        assertEquals(Errno.ENOENT, errno(() -> fs.open("/nodir/..", false, false, false, 0)));
        write("/f", "data");
        assertEquals(Errno.EEXIST, errno(() -> fs.open("/f", true, true, false, 0644)));
        fs.open("/f", true, false, false, 0644); // create without exclusive opens the existing file
        assertEquals("data", read("/f"));
        fs.open("/f", false, false, true, 0);
        assertEquals(0, fs.stat("/f").size());
        fs.mkdir("/d", 0755);
        assertEquals(Errno.EISDIR, errno(() -> fs.open("/d", false, false, false, 0)));
        assertEquals(Errno.ENOTDIR, errno(() -> fs.open("/f/x", true, false, false, 0644)));
        assertEquals(Errno.ENOENT, errno(() -> fs.open("/nodir/x", true, false, false, 0644)));
    }

    @Test
    void mkdirRmdirAndTheirErrors() {
        fs.mkdir("/a", 0755);
        fs.mkdir("/a/b", 0700);
        assertEquals(Errno.EEXIST, errno(() -> fs.mkdir("/a", 0755)));
        assertEquals(Errno.ENOTEMPTY, errno(() -> fs.rmdir("/a")));
        assertEquals(3, fs.stat("/a").nlink());
        write("/a/f", "x");
        assertEquals(Errno.ENOTDIR, errno(() -> fs.rmdir("/a/f")));
        assertEquals(Errno.ENOENT, errno(() -> fs.rmdir("/a/none")));
        assertEquals(Errno.EINVAL, errno(() -> fs.rmdir("/")));
        fs.rmdir("/a/b");
        fs.unlink("/a/f");
        fs.rmdir("/a");
        assertEquals(List.of(), names("/"));
        assertEquals(2, fs.stat("/").nlink());
    }

    @Test
    void unlinkAndStaleHandles() {
        write("/f", "data");
        FileSystem.Handle h = fs.open("/f", false, false, false, 0);
        fs.unlink("/f");
        assertEquals(Errno.ENOENT, errno(() -> fs.stat("/f")));
        assertEquals(Errno.ENOENT, errno(() -> fs.unlink("/f")));
        assertEquals(Errno.ESTALE, errno(() -> fs.read(h, 0, MemorySegment.ofArray(new byte[4]), 0, 4)));
        write("/g", "other"); // may reuse the inode number: the generation tells them apart
        assertEquals(Errno.ESTALE, errno(() -> fs.write(h, 0, MemorySegment.ofArray(new byte[4]), 0, 4)));
        FileSystem.Handle bogus = new FileSystem.Handle(1 << 30, 0);
        assertEquals(Errno.EBADF, errno(() -> fs.read(bogus, 0, MemorySegment.ofArray(new byte[4]), 0, 4)));
        fs.mkdir("/d", 0755);
        assertEquals(Errno.EISDIR, errno(() -> fs.unlink("/d")));
    }

    @Test
    void renameMovesAndReplacesAtomically() throws Exception {
        write("/a", "new");
        write("/b", "old");
        fs.rename("/a", "/b");
        assertEquals(List.of("b"), names("/"));
        assertEquals("new", read("/b"));
        fs.mkdir("/d1", 0755);
        fs.mkdir("/d2", 0755);
        fs.mkdir("/d1/sub", 0755);
        write("/d1/sub/f", "deep");
        fs.rename("/d1/sub", "/d2/sub");
        assertEquals("deep", read("/d2/sub/f"));
        assertEquals(2, fs.stat("/d1").nlink());
        assertEquals(3, fs.stat("/d2").nlink());
        assertEquals("deep", read("/d2/sub/../sub/f"));
        // A directory over an empty directory; not over a non-empty one; never into itself.
        fs.mkdir("/d1/empty", 0755);
        fs.rename("/d2/sub", "/d1/empty");
        assertEquals(List.of("empty"), names("/d1"));
        assertEquals("deep", read("/d1/empty/f"));
        assertEquals(3, fs.stat("/d1").nlink());
        assertEquals(2, fs.stat("/d2").nlink());
        fs.mkdir("/d2/x", 0755);
        write("/d2/x/y", "y");
        assertEquals(Errno.ENOTEMPTY, errno(() -> fs.rename("/d1/empty", "/d2/x")));
        assertEquals(Errno.EINVAL, errno(() -> fs.rename("/d1", "/d1/empty/inner")));
        assertEquals(Errno.EISDIR, errno(() -> fs.rename("/b", "/d2/x")));
        assertEquals(Errno.ENOTDIR, errno(() -> fs.rename("/d2/x", "/b")));
        assertEquals(Errno.ENOENT, errno(() -> fs.rename("/none", "/b")));
        fs.rename("/b", "/b"); // the same file: nothing happens
        assertEquals("new", read("/b"));
        remount();
        assertEquals(List.of("b", "d1", "d2"), names("/"));
        assertEquals("deep", read("/d1/empty/f"));
    }

    @Test
    void badNames() {
        assertEquals(Errno.EINVAL, errno(() -> fs.open("/a\0b", true, false, false, 0644)));
        assertEquals(Errno.EINVAL, errno(() -> fs.mkdir("relative", 0755)));
        assertEquals(Errno.EINVAL, errno(() -> fs.mkdir("/..", 0755)));
        String longName = "/" + "n".repeat(256);
        assertEquals(Errno.ENAMETOOLONG, errno(() -> fs.open(longName, true, false, false, 0644)));
        write("/" + "n".repeat(255), "max");
        assertEquals("max", read("/" + "n".repeat(255)));
        write("/ünïcødé", "utf-8");
        assertTrue(names("/").contains("ünïcødé"));
        assertEquals(Errno.ENOENT, errno(() -> fs.mkdir("/no/such/parent", 0755)));
    }

    @Test
    void manyEntriesSpanDirectoryBlocks() throws Exception {
        fs.mkdir("/many", 0755);
        for (int i = 0; i < 600; i++) {
            write("/many/file-with-a-longish-name-" + i, Integer.toString(i));
        }
        assertTrue(fs.stat("/many").size() > 4096);
        for (int i = 0; i < 600; i += 2) {
            fs.unlink("/many/file-with-a-longish-name-" + i);
        }
        remount();
        assertEquals(300, fs.list("/many").size());
        assertEquals("599", read("/many/file-with-a-longish-name-599"));
    }

    @Test
    void fullDiskIsEnospcAndLosesNothing() throws Exception {
        write("/keep", "precious");
        fs.sync();
        long before = fs.usage().freeBlocks();
        FileSystem.Handle h = fs.open("/fill", true, true, false, 0644);
        byte[] mb = new byte[1 << 20];
        java.util.Arrays.fill(mb, (byte) 7);
        long at = 0;
        int failure = 0;
        while (failure == 0) {
            try {
                at += fs.write(h, at, MemorySegment.ofArray(mb), 0, mb.length);
            } catch (FsException e) {
                failure = e.errno();
            }
        }
        assertEquals(Errno.ENOSPC, failure);
        assertEquals(at, fs.stat("/fill").size(), "a refused write changes nothing");
        assertTrue(fs.usage().freeBlocks() < 256);
        assertEquals(Errno.ENOSPC, errno(() -> {
            for (int i = 0; i < 10_000; i++) {
                write("/small-" + i, "x".repeat(4096));
            }
        }));
        assertEquals("precious", read("/keep"));
        fs.unlink("/fill");
        for (FileSystem.Entry e : fs.list("/")) {
            if (e.name().startsWith("small-")) {
                fs.unlink("/" + e.name());
            }
        }
        fs.sync();
        assertEquals(before, fs.usage().freeBlocks(), "every block comes back");
        remount();
        assertEquals(before, fs.usage().freeBlocks());
        assertEquals("precious", read("/keep"));
    }

    @Test
    void modesAndTimes() {
        write("/f", "x");
        fs.chmod("/f", 0600);
        assertEquals(FileSystem.S_IFREG | 0600, fs.stat("/f").mode());
        fs.setTimes("/f", 1_000_000_000L, 2_000_000_000L);
        assertEquals(1_000_000_000L, fs.stat("/f").atimeNs());
        assertEquals(2_000_000_000L, fs.stat("/f").mtimeNs());
        assertEquals(FileSystem.S_IFDIR | 0755, fs.stat("/").mode());
    }
}
