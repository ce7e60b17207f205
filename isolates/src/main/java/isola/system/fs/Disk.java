package isola.system.fs;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The on-disk format's shared vocabulary: block size, magic numbers, little-endian field access
 * on block buffers, and the metadata checksum. Every metadata block (superblock, journal blocks,
 * bitmaps, extent and directory blocks) ends in a CRC32C of its block number followed by its
 * first 4092 bytes, so a block written to the wrong place fails its check as surely as a damaged
 * one. Inodes carry their own checksum, seeded by the inode number.
 */
final class Disk {
    private Disk() {}

    static final int BLOCK = 4096;
    static final int SHIFT = 12;
    /** Where a sealed block's checksum lives; the bytes before it are what it covers. */
    static final int TAIL = BLOCK - 4;

    static final long MAGIC_SUPER = 0x3153_4641_4C4F_5349L; // "ISOLAFS1"
    static final int MAGIC_JOURNAL = 0x4C4E_524A;            // "JRNL"
    static final int MAGIC_DESCRIPTOR = 0x4353_4544;         // "DESC"
    static final int MAGIC_COMMIT = 0x544D_4D43;             // "CMMT"
    static final int MAGIC_EXTENTS = 0x5458_4545;            // "EEXT"
    static final int MAGIC_DIRECTORY = 0x5249_4444;          // "DDIR"

    static final int VERSION = 1;
    static final int ROOT = 1;
    static final int NAME_MAX = 255;

    private static final VarHandle I32 = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle I64 = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle I16 = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);

    static int i32(byte[] b, int at) {
        return (int) I32.get(b, at);
    }

    static long u32(byte[] b, int at) {
        return Integer.toUnsignedLong((int) I32.get(b, at));
    }

    static void i32(byte[] b, int at, int v) {
        I32.set(b, at, v);
    }

    static long i64(byte[] b, int at) {
        return (long) I64.get(b, at);
    }

    static void i64(byte[] b, int at, long v) {
        I64.set(b, at, v);
    }

    static int u16(byte[] b, int at) {
        return Short.toUnsignedInt((short) I16.get(b, at));
    }

    static void u16(byte[] b, int at, int v) {
        I16.set(b, at, (short) v);
    }

    static int checksum(long seed, byte[] b, int from, int length) {
        CRC32C crc = new CRC32C();
        byte[] s = new byte[8];
        i64(s, 0, seed);
        crc.update(s);
        crc.update(b, from, length);
        return (int) crc.getValue();
    }

    /** Stamps the checksum of {@code block}'s buffer into its tail. */
    static void seal(long block, byte[] b) {
        i32(b, TAIL, checksum(block, b, 0, TAIL));
    }

    /** True if {@code b}'s tail holds the checksum of its contents as block {@code block}. */
    static boolean sealed(long block, byte[] b) {
        return i32(b, TAIL) == checksum(block, b, 0, TAIL);
    }

    private static final byte[] ZEROS = new byte[BLOCK];

    /**
     * True if {@code length} bytes of {@code b} from {@code at} are zero. Through the JDK's
     * (intrinsic, and already compiled) comparison: a restarted server's own code is cold.
     */
    static boolean zero(byte[] b, int at, int length) {
        return java.util.Arrays.mismatch(b, at, at + length, ZEROS, 0, length) < 0;
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}
