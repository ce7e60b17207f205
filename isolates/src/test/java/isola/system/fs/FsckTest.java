package isola.system.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import isola.sdk.Errno;
import isola.device.HostDisk;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** fsck on clean and deliberately damaged images, and mount refusing the damaged ones by block. */
class FsckTest {
    @TempDir
    Path tmp;
    Path image;
    Superblock sb;

    @BeforeEach
    void populate() throws Exception {
        image = Images.formatted(tmp, "fs.img", 4 << 20);
        try (HostDisk d = HostDisk.open(image, false); FileSystem fs = FileSystem.mount(d)) {
            fs.mkdir("/dir", 0755);
            for (int i = 0; i < 5; i++) {
                FileSystem.Handle h = fs.open("/dir/f" + i, true, true, false, 0644);
                byte[] b = ("file " + i).repeat(2000).getBytes(StandardCharsets.UTF_8);
                fs.write(h, 0, MemorySegment.ofArray(b), 0, b.length);
            }
            fs.sync();
        }
        try (HostDisk d = HostDisk.open(image, true)) {
            byte[] b = new byte[4096];
            d.read(0, 1, MemorySegment.ofArray(b), 0);
            sb = Superblock.decode(b, d.blocks());
        }
    }

    private Fsck.Report fsck() throws Exception {
        try (HostDisk d = HostDisk.open(image, true)) {
            return Fsck.check(d);
        }
    }

    private String mountError() throws Exception {
        try (HostDisk d = HostDisk.open(image, false)) {
            FsException e = assertThrows(FsException.class, () -> FileSystem.mount(d).close());
            assertEquals(Errno.EUCLEAN, e.errno());
            return e.getMessage();
        }
    }

    /** Flips one byte of block {@code block} at {@code offset}. */
    private void damage(long block, int offset) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            long at = block * 4096 + offset;
            f.seek(at);
            int v = f.read();
            f.seek(at);
            f.write(v ^ 0x5a);
        }
    }

    private long blockOf(String path) throws Exception {
        try (HostDisk d = HostDisk.open(image, false)) {
            FileSystem fs = FileSystem.mount(d);
            int ino = (int) fs.stat(path).inode();
            fs.close();
            byte[] b = new byte[4096];
            d.read(sb.inodeBlock(ino), 1, MemorySegment.ofArray(b), 0);
            Inode i = Inode.decode(ino, b, sb.inodeOffset(ino), sb.inodeBlock(ino));
            return i.physical(0);
        }
    }

    @Test
    void aCleanImagePasses() throws Exception {
        Fsck.Report r = fsck();
        assertEquals(List.of(), r.problems());
        assertEquals(5, r.files());
        assertEquals(2, r.directories());
        assertTrue(r.usedBlocks() >= 5 * 3 + 2);
    }

    @Test
    void damagedSuperblock() throws Exception {
        damage(0, 20);
        Fsck.Report r = fsck();
        assertEquals(1, r.problems().size());
        assertTrue(r.problems().get(0).contains("superblock (block 0)"), r.problems().toString());
        assertTrue(mountError().contains("superblock (block 0)"));
    }

    @Test
    void notAFileSystem() throws Exception {
        Path blank = Images.create(tmp, "blank.img", 1 << 20);
        try (HostDisk d = HostDisk.open(blank, false)) {
            FsException e = assertThrows(FsException.class, () -> FileSystem.mount(d));
            assertTrue(e.getMessage().contains("run mkfs first"), e.getMessage());
        }
    }

    @Test
    void damagedJournalSuperblock() throws Exception {
        damage(sb.journalStart(), 9);
        String expected = "journal superblock (block " + sb.journalStart() + ")";
        assertTrue(fsck().problems().get(0).contains(expected), fsck().problems().toString());
        assertTrue(mountError().contains(expected));
    }

    @Test
    void damagedInode() throws Exception {
        // Inode 2 is /dir, made first.
        damage(sb.inodeBlock(2), sb.inodeOffset(2) + 8);
        Fsck.Report r = fsck();
        assertTrue(r.problems().stream().anyMatch(p -> p.contains("inode 2 (inode table block " + sb.inodeBlock(2) + "): checksum")),
                r.problems().toString());
        assertTrue(mountError().contains("inode 2 (inode table block " + sb.inodeBlock(2) + ")"));
    }

    @Test
    void damagedDirectoryBlock() throws Exception {
        long blk = blockOf("/dir");
        damage(blk, 10);
        Fsck.Report r = fsck();
        assertTrue(r.problems().stream().anyMatch(p -> p.contains("directory block " + blk + " of inode 2: checksum mismatch")),
                r.problems().toString());
        // Mount checks the root only; the damaged directory is refused when it is reached, by block.
        try (HostDisk d = HostDisk.open(image, false); FileSystem fs = FileSystem.mount(d)) {
            FsException e = assertThrows(FsException.class, () -> fs.list("/dir"));
            assertEquals(Errno.EUCLEAN, e.errno());
            assertTrue(e.getMessage().contains("directory block " + blk), e.getMessage());
            assertEquals(List.of("dir"), fs.list("/").stream().map(FileSystem.Entry::name).toList());
        }
    }

    @Test
    void damagedRootDirectoryIsRefusedAtMount() throws Exception {
        long blk = blockOf("/");
        damage(blk, 3);
        assertTrue(mountError().contains("directory block " + blk + " of inode 1"));
    }

    @Test
    void damagedBitmap() throws Exception {
        damage(sb.blockBitmapStart(), 100);
        String expected = "block bitmap (block " + sb.blockBitmapStart() + "): checksum mismatch";
        assertTrue(fsck().problems().contains(expected), fsck().problems().toString());
        assertTrue(mountError().contains(expected));
    }

    @Test
    void leakedAndDoublyOwnedBlocksAreNamed() throws Exception {
        // Mark a free data block used, resealing the bitmap: a consistent checksum, a wrong count.
        try (HostDisk d = HostDisk.open(image, false)) {
            byte[] b = new byte[4096];
            d.read(sb.blockBitmapStart(), 1, MemorySegment.ofArray(b), 0);
            long leak = sb.blocks() - 10;
            Allocator.setBit(b, (int) leak, true);
            Disk.seal(sb.blockBitmapStart(), b);
            d.write(sb.blockBitmapStart(), 1, MemorySegment.ofArray(b), 0);
            Fsck.Report r = fsck();
            assertEquals(List.of("block " + leak + " is marked in use in the block bitmap but belongs to no inode"), r.problems());
        }
    }
}
