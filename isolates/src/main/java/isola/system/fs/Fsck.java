package isola.system.fs;

import isola.sdk.BlockDevice;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks a file system without changing it: the superblock, the journal, the bitmaps' and inode
 * table's checksums, every inode's extents and extent blocks, every directory block, that each
 * block has at most one owner and each allocated inode exactly the links it counts, and that the
 * bitmaps say what is in use. Committed transactions still in the journal are applied to what
 * it reads (in memory), so it judges the disk as mount would leave it. Each problem is named by
 * block or inode.
 */
public final class Fsck {
    /** What the check found. */
    public record Report(List<String> problems, List<String> notes, long files, long directories, long usedBlocks,
            long dataBlocks) {
        public boolean clean() {
            return problems.isEmpty();
        }
    }

    private final BlockDevice device;
    private final List<String> problems = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();
    private final Map<Long, byte[]> journaled = new HashMap<>();
    private Superblock sb;
    /** Who owns each block: 0 free, -1 metadata region, else an inode number. */
    private int[] owner;
    private long files;
    private long directories;

    private Fsck(BlockDevice device) {
        this.device = device;
    }

    public static Report check(BlockDevice device) {
        return new Fsck(device).run();
    }

    private Report run() {
        byte[] b0 = read(0);
        try {
            sb = Superblock.decode(b0, device.blocks());
        } catch (FsException e) {
            problems.add(e.getMessage());
            return report();
        }
        try {
            List<Journal.Transaction> ts = new Journal(device, sb).scan();
            for (Journal.Transaction t : ts) {
                for (int i = 0; i < t.targets().length; i++) {
                    journaled.put(t.targets()[i], t.contents()[i]);
                }
            }
            if (!ts.isEmpty()) {
                notes.add("journal: " + ts.size() + " committed transaction(s) since its last checkpoint; mount replays them");
            }
        } catch (FsException e) {
            problems.add(e.getMessage());
        }
        if (sb.blocks() > Integer.MAX_VALUE) {
            problems.add("the disk has " + sb.blocks() + " blocks; this fsck checks up to " + Integer.MAX_VALUE);
            return report();
        }
        owner = new int[(int) sb.blocks()];
        for (long b = 0; b < sb.dataStart(); b++) {
            owner[(int) b] = -1;
        }
        byte[][] blockBitmap = bitmaps(sb.blockBitmapStart(), sb.blockBitmapBlocks(), "block bitmap");
        byte[][] inodeBitmap = bitmaps(sb.inodeBitmapStart(), sb.inodeBitmapBlocks(), "inode bitmap");
        Inode[] inodes = inodes(inodeBitmap);
        int[] links = new int[sb.inodes() + 1];
        int[] subdirectories = new int[sb.inodes() + 1];
        int[] parentOf = new int[sb.inodes() + 1];
        walk(inodes, links, subdirectories, parentOf);
        for (int ino = 1; ino <= sb.inodes(); ino++) {
            Inode i = inodes[ino];
            if (i == null) {
                continue;
            }
            if (links[ino] == 0 && ino != Disk.ROOT) {
                problems.add("inode " + ino + ": allocated but in no directory");
                continue;
            }
            if (i.isDirectory()) {
                int expected = 2 + subdirectories[ino];
                if (i.nlink != expected) {
                    problems.add("inode " + ino + " (directory): link count " + i.nlink + ", but it has "
                            + subdirectories[ino] + " subdirectories (expected " + expected + ")");
                }
                if (ino != Disk.ROOT && i.parent != parentOf[ino]) {
                    problems.add("inode " + ino + " (directory): its parent field says " + i.parent
                            + ", but it is listed in directory " + parentOf[ino]);
                }
            } else if (i.nlink != links[ino]) {
                problems.add("inode " + ino + ": link count " + i.nlink + ", but " + links[ino] + " directory entries name it");
            }
        }
        long used = 0;
        if (blockBitmap != null) {
            for (long b = 0; b < sb.blocks(); b++) {
                boolean marked = Allocator.bit(blockBitmap[(int) (b / Superblock.BITS_PER_BLOCK)], (int) (b % Superblock.BITS_PER_BLOCK));
                boolean owned = owner[(int) b] != 0;
                if (owned && !marked) {
                    problems.add("block " + b + " (" + sb.region(b) + (owner[(int) b] > 0 ? ", inode " + owner[(int) b] : "")
                            + ") is in use but marked free in the block bitmap");
                } else if (marked && !owned) {
                    problems.add("block " + b + " is marked in use in the block bitmap but belongs to no inode");
                }
                if (owned && b >= sb.dataStart()) {
                    used++;
                }
            }
        }
        return new Report(List.copyOf(problems), List.copyOf(notes), files, directories, used,
                sb.blocks() - sb.dataStart());
    }

    private Report report() {
        return new Report(List.copyOf(problems), List.copyOf(notes), 0, 0, 0, 0);
    }

    private byte[] read(long block) {
        byte[] j = journaled.get(block);
        if (j != null) {
            return j.clone();
        }
        byte[] b = new byte[Disk.BLOCK];
        device.read(block, 1, MemorySegment.ofArray(b), 0);
        return b;
    }

    private byte[][] bitmaps(long start, int count, String what) {
        byte[][] out = new byte[count][];
        boolean ok = true;
        for (int i = 0; i < count; i++) {
            out[i] = read(start + i);
            if (!Disk.sealed(start + i, out[i])) {
                problems.add(what + " (block " + (start + i) + "): checksum mismatch");
                ok = false;
            }
        }
        return ok ? out : null;
    }

    private Inode[] inodes(byte[][] inodeBitmap) {
        Inode[] inodes = new Inode[sb.inodes() + 1];
        for (long blk = sb.inodeTableStart(); blk < sb.dataStart(); blk++) {
            byte[] b = read(blk);
            for (int s = 0; s < Superblock.INODES_PER_BLOCK; s++) {
                int ino = (int) ((blk - sb.inodeTableStart()) * Superblock.INODES_PER_BLOCK + s + 1);
                Inode i;
                try {
                    i = Inode.decode(ino, b, s * Superblock.INODE_SIZE, blk);
                } catch (FsException e) {
                    problems.add(e.getMessage());
                    continue;
                }
                boolean marked = inodeBitmap != null
                        && Allocator.bit(inodeBitmap[(ino - 1) / Superblock.BITS_PER_BLOCK], (ino - 1) % Superblock.BITS_PER_BLOCK);
                if (i.free()) {
                    if (marked) {
                        problems.add("inode " + ino + ": marked in use in the inode bitmap but free");
                    }
                    continue;
                }
                if (inodeBitmap != null && !marked) {
                    problems.add("inode " + ino + " (inode table block " + blk + "): in use but marked free in the inode bitmap");
                }
                if (readExtents(i, blk)) {
                    inodes[ino] = i;
                }
            }
        }
        if (inodes[Disk.ROOT] == null || !inodes[Disk.ROOT].isDirectory()) {
            problems.add("inode 1 (inode table block " + sb.inodeBlock(Disk.ROOT) + "): the root directory is missing or damaged");
        }
        return inodes;
    }

    /** Reads the extent chain and claims every block; false if the inode is beyond use. */
    private boolean readExtents(Inode i, long itableBlock) {
        try {
            i.readChain(sb, itableBlock, blk -> extentBlock(blk, i.ino));
        } catch (FsException e) {
            problems.add(e.getMessage());
            return false;
        }
        for (long blk : i.chain) {
            if (!claim(blk, i.ino)) {
                return false;
            }
        }
        long end = 0;
        for (int k = 0; k < i.extentCount; k++) {
            for (long x = 0; x < i.length(k); x++) {
                if (!claim(i.physical(k) + x, i.ino)) {
                    return false;
                }
            }
            end = i.start(k) + i.length(k);
        }
        if (i.isFile() && end > (i.size + Disk.BLOCK - 1) >>> Disk.SHIFT) {
            problems.add("inode " + i.ino + ": blocks are mapped past its size of " + i.size + " bytes");
        }
        if (i.isDirectory() && i.size != end << Disk.SHIFT) {
            problems.add("inode " + i.ino + " (directory): size " + i.size + " does not match its " + end + " blocks");
        }
        return true;
    }

    private byte[] extentBlock(long blk, int owner) {
        byte[] b = read(blk);
        String problem = Inode.extentBlockProblem(blk, b, owner);
        if (problem != null) {
            throw FsException.corrupt("extent block " + blk + " of inode " + owner + ": " + problem);
        }
        return b;
    }

    private boolean claim(long block, int ino) {
        int prev = owner[(int) block];
        if (prev != 0) {
            problems.add("block " + block + " belongs to inode " + ino + " and to "
                    + (prev < 0 ? "the " + sb.region(block) : "inode " + prev));
            return false;
        }
        owner[(int) block] = ino;
        return true;
    }

    /** Walks the tree from the root, checking directory blocks and counting links. */
    private void walk(Inode[] inodes, int[] links, int[] subdirectories, int[] parentOf) {
        if (inodes[Disk.ROOT] == null) {
            return;
        }
        boolean[] visited = new boolean[sb.inodes() + 1];
        ArrayDeque<Integer> todo = new ArrayDeque<>();
        todo.add(Disk.ROOT);
        visited[Disk.ROOT] = true;
        directories++;
        while (!todo.isEmpty()) {
            Inode dir = inodes[todo.poll()];
            for (int e = 0; e < dir.extentCount; e++) {
                for (long k = 0; k < dir.length(e); k++) {
                    long blk = dir.physical(e) + k;
                    byte[] b = read(blk);
                    String problem = Directory.problem(blk, b, dir.ino, sb.inodes());
                    if (problem != null) {
                        problems.add("directory block " + blk + " of inode " + dir.ino + ": " + problem);
                        continue;
                    }
                    for (int at = 0; at < Directory.END; at += Directory.recordLength(b, at)) {
                        int ino = Directory.ino(b, at);
                        if (ino == 0) {
                            continue;
                        }
                        String name = Directory.name(b, at);
                        Inode child = inodes[ino];
                        if (child == null) {
                            problems.add("directory block " + blk + " of inode " + dir.ino + ": \"" + name
                                    + "\" names inode " + ino + ", which is free or damaged");
                            continue;
                        }
                        boolean isDir = Directory.type(b, at) == Directory.TYPE_DIRECTORY;
                        if (isDir != child.isDirectory()) {
                            problems.add("directory block " + blk + " of inode " + dir.ino + ": \"" + name
                                    + "\" has the wrong type for inode " + ino);
                        }
                        links[ino]++;
                        if (child.isDirectory()) {
                            subdirectories[dir.ino]++;
                            if (visited[ino]) {
                                problems.add("directory inode " + ino + " is listed twice (again as \"" + name
                                        + "\" in directory " + dir.ino + ")");
                                continue;
                            }
                            visited[ino] = true;
                            parentOf[ino] = dir.ino;
                            directories++;
                            todo.add(ino);
                        } else if (links[ino] == 1) {
                            files++;
                        }
                    }
                }
            }
        }
    }
}
