package isola.system.fs;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The format of a directory block: entries packed from its start, each
 * {@code inode u32, record length u16, name length u8, type u8, name}, with record lengths
 * (multiples of 4) that chain exactly to byte 4088; there the owning directory's inode number,
 * then the sealed checksum. An entry with inode 0 is free space. Removing an entry gives its
 * space to the entry before it, as in ext2.
 */
final class Directory {
    private Directory() {}

    static final int END = Disk.TAIL - 4;
    static final int HEADER = 8;
    static final int TYPE_FILE = 1;
    static final int TYPE_DIRECTORY = 2;

    static int needed(int nameLength) {
        return (HEADER + nameLength + 3) & ~3;
    }

    /** An empty block of directory {@code owner}. */
    static void init(byte[] b, int owner) {
        Arrays.fill(b, (byte) 0);
        Disk.u16(b, 4, END);
        Disk.i32(b, END, owner);
    }

    static int ino(byte[] b, int at) {
        return Disk.i32(b, at);
    }

    static int recordLength(byte[] b, int at) {
        return Disk.u16(b, at + 4);
    }

    static int nameLength(byte[] b, int at) {
        return b[at + 6] & 0xff;
    }

    static int type(byte[] b, int at) {
        return b[at + 7];
    }

    static String name(byte[] b, int at) {
        return new String(b, at + HEADER, nameLength(b, at), StandardCharsets.UTF_8);
    }

    /** The offset of the live entry named {@code name}, or -1. */
    static int find(byte[] b, byte[] name) {
        for (int at = 0; at < END; at += recordLength(b, at)) {
            if (ino(b, at) != 0 && nameLength(b, at) == name.length
                    && Arrays.equals(b, at + HEADER, at + HEADER + name.length, name, 0, name.length)) {
                return at;
            }
        }
        return -1;
    }

    /** True if the block has no live entry. */
    static boolean empty(byte[] b) {
        for (int at = 0; at < END; at += recordLength(b, at)) {
            if (ino(b, at) != 0) {
                return false;
            }
        }
        return true;
    }

    /** True if an entry of a name of {@code nameLength} bytes fits. */
    static boolean fits(byte[] b, int nameLength) {
        return slot(b, needed(nameLength)) >= 0;
    }

    private static int slot(byte[] b, int need) {
        for (int at = 0; at < END; at += recordLength(b, at)) {
            int rec = recordLength(b, at);
            int used = ino(b, at) == 0 ? 0 : needed(nameLength(b, at));
            if (rec - used >= need) {
                return at;
            }
        }
        return -1;
    }

    /** Adds the entry; the caller checked {@link #fits}. */
    static void insert(byte[] b, byte[] name, int ino, int type) {
        int need = needed(name.length);
        int at = slot(b, need);
        if (at < 0) {
            throw new IllegalStateException("no room in the directory block");
        }
        int rec = recordLength(b, at);
        if (ino(b, at) != 0) {
            int used = needed(nameLength(b, at));
            Disk.u16(b, at + 4, used);
            at += used;
            rec -= used;
        }
        Disk.i32(b, at, ino);
        Disk.u16(b, at + 4, rec);
        b[at + 6] = (byte) name.length;
        b[at + 7] = (byte) type;
        System.arraycopy(name, 0, b, at + HEADER, name.length);
    }

    /** Removes the entry at {@code at}. */
    static void remove(byte[] b, int at) {
        int prev = -1;
        for (int p = 0; p < at; p += recordLength(b, p)) {
            prev = p;
        }
        if (prev >= 0) {
            Disk.u16(b, prev + 4, recordLength(b, prev) + recordLength(b, at));
            Arrays.fill(b, at, at + HEADER + nameLength(b, at), (byte) 0);
        } else {
            Disk.i32(b, at, 0);
            b[at + 6] = 0;
            b[at + 7] = 0;
        }
    }

    /** Points the entry at {@code at} to {@code ino} of {@code type}. */
    static void retarget(byte[] b, int at, int ino, int type) {
        Disk.i32(b, at, ino);
        b[at + 7] = (byte) type;
    }

    /**
     * What is wrong with this block of directory {@code owner}, or null: the checksum, the owner,
     * and every record (length, name, inode number up to {@code inodes}).
     */
    static String problem(long block, byte[] b, int owner, int inodes) {
        if (!Disk.sealed(block, b)) {
            return "checksum mismatch";
        }
        if (Disk.i32(b, END) != owner) {
            return "belongs to directory inode " + Disk.i32(b, END) + ", not " + owner;
        }
        int at = 0;
        while (at < END) {
            int rec = recordLength(b, at);
            int ino = ino(b, at);
            int len = nameLength(b, at);
            if (rec < HEADER || (rec & 3) != 0 || at + rec > END) {
                return "entry at offset " + at + " has record length " + rec;
            }
            if (ino != 0) {
                if (ino < 0 || ino > inodes) {
                    return "entry at offset " + at + " names inode " + Integer.toUnsignedString(ino) + " of " + inodes;
                }
                if (len == 0 || needed(len) > rec) {
                    return "entry at offset " + at + " has a name of " + len + " bytes in a record of " + rec;
                }
                int t = type(b, at);
                if (t != TYPE_FILE && t != TYPE_DIRECTORY) {
                    return "entry at offset " + at + " has type " + t;
                }
                for (int k = 0; k < len; k++) {
                    byte c = b[at + HEADER + k];
                    if (c == 0 || c == '/') {
                        return "entry at offset " + at + " has a name with a NUL or '/'";
                    }
                }
                String n = name(b, at);
                if (n.equals(".") || n.equals("..")) {
                    return "entry at offset " + at + " is named \"" + n + "\"";
                }
            }
            at += rec;
        }
        return null;
    }
}
