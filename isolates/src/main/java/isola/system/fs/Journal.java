package isola.system.fs;

import isola.sdk.BlockDevice;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The write-ahead journal: a region of the disk where every metadata change is written, whole
 * blocks at a time, before any of it is written in place (physical block journaling, as ext3's
 * JBD). Its first block is the journal superblock, which says with which sequence number the
 * log starts; transactions follow from the region's second block, each a descriptor (the home
 * block numbers), the blocks' new contents, and a commit block whose checksum covers all of them.
 *
 * <p>A commit writes the descriptor and contents, flushes, writes the commit block and flushes
 * again: once {@link #commit} returns, the transaction survives any crash. Replay at mount
 * writes every complete transaction in place, in order, and stops at the first incomplete one
 * (a crash during its commit). The log is linear: when a transaction does not fit, the blocks
 * written in place are flushed and the log starts over at the region's second block with the
 * next sequence number, which the journal superblock records. Sequence numbers only grow, so a
 * stale transaction from before a restart can never pass for a current one, and a complete
 * transaction found after an incomplete one can only mean damage.
 */
final class Journal {
    /** Home block numbers one descriptor holds. */
    static final int MAX_BLOCKS = (Disk.TAIL - 16) / 4;

    /** A complete transaction found in the log: where it is, and what it writes where. */
    record Transaction(long sequence, long position, long[] targets, byte[][] contents) {}

    private final BlockDevice device;
    private final Superblock sb;
    private long sequence;
    /** The next free block of the region, relative to its start. */
    private long position = 1;

    Journal(BlockDevice device, Superblock sb) {
        this.device = device;
        this.sb = sb;
    }

    /** Blocks one transaction may change: what a descriptor holds and the region fits. */
    int maxTransactionBlocks() {
        return Math.min(MAX_BLOCKS, sb.journalBlocks() - 3);
    }

    /** Writes an empty journal that starts at sequence 1 (mkfs). */
    void format() {
        sequence = 1;
        position = 1;
        writeSuperblock();
    }

    /**
     * Reads the journal superblock and the complete transactions after it, without changing
     * anything. Throws naming the block if the journal superblock is damaged, or if a complete
     * transaction follows an incomplete one.
     */
    List<Transaction> scan() {
        // The whole region in one pass of large reads: mount time is recovery time.
        log = new byte[sb.journalBlocks() * Disk.BLOCK];
        for (int at = 0; at < sb.journalBlocks(); at += READ_RUN) {
            int n = Math.min(READ_RUN, sb.journalBlocks() - at);
            device.read(sb.journalStart() + at, n, MemorySegment.ofArray(log), (long) at * Disk.BLOCK);
        }
        try {
            return scanLog();
        } finally {
            log = null;
        }
    }

    /** Blocks one read of the journal region takes. */
    private static final int READ_RUN = 255;
    /** The journal region while {@link #scan} reads it. */
    private byte[] log;

    private List<Transaction> scanLog() {
        byte[] jsb = readBlock(sb.journalStart());
        String where = "journal superblock (block " + sb.journalStart() + ")";
        if (Disk.i32(jsb, 0) != Disk.MAGIC_JOURNAL) {
            throw FsException.corrupt(where + ": bad magic " + Disk.hex(Disk.u32(jsb, 0)));
        }
        if (!Disk.sealed(sb.journalStart(), jsb)) {
            throw FsException.corrupt(where + ": checksum mismatch");
        }
        long seq = Disk.i64(jsb, 8);
        if (seq <= 0) {
            throw FsException.corrupt(where + ": sequence " + seq);
        }
        List<Transaction> found = new ArrayList<>();
        long pos = 1;
        while (true) {
            Transaction t = readTransaction(pos, seq);
            if (t == null) {
                break;
            }
            found.add(t);
            pos += t.targets.length + 2;
            seq++;
        }
        // Nothing the log holds beyond the end may carry a current sequence number.
        for (long p = pos + 1; p < sb.journalBlocks(); p++) {
            byte[] b = readBlock(sb.journalStart() + p);
            if (Disk.i32(b, 0) == Disk.MAGIC_DESCRIPTOR && Disk.sealed(sb.journalStart() + p, b) && Disk.i64(b, 8) >= seq) {
                throw FsException.corrupt("journal block " + (sb.journalStart() + pos) + ": transaction " + seq
                        + " is damaged, but transaction " + Disk.i64(b, 8) + " at block " + (sb.journalStart() + p)
                        + " was committed after it");
            }
        }
        nextSequence = seq;
        return found;
    }

    /** The sequence number the log's end expects, after {@link #scan}. */
    private long nextSequence;

    /**
     * Mount: writes every complete transaction in place, flushes, and starts a fresh log whose
     * sequence is past anything the region holds. Returns how many transactions were replayed.
     */
    int replay() {
        List<Transaction> ts = scan();
        for (Transaction t : ts) {
            for (int i = 0; i < t.targets.length; i++) {
                device.write(t.targets[i], 1, MemorySegment.ofArray(t.contents[i]), 0);
            }
        }
        if (!ts.isEmpty()) {
            device.flush();
        }
        // Past the incomplete transaction too, whose blocks may still lie in the log.
        sequence = nextSequence + 1;
        position = 1;
        writeSuperblock();
        device.flush();
        return ts.size();
    }

    private Transaction readTransaction(long pos, long seq) {
        if (pos + 2 > sb.journalBlocks()) {
            return null;
        }
        long at = sb.journalStart() + pos;
        byte[] d = readBlock(at);
        if (Disk.i32(d, 0) != Disk.MAGIC_DESCRIPTOR || !Disk.sealed(at, d) || Disk.i64(d, 8) != seq) {
            return null;
        }
        int count = Disk.i32(d, 4);
        if (count <= 0 || count > MAX_BLOCKS || pos + count + 2 > sb.journalBlocks()) {
            throw FsException.corrupt("journal descriptor (block " + at + "): " + count + " blocks do not fit the journal");
        }
        byte[] run = Arrays.copyOfRange(log, (int) (pos + 1) * Disk.BLOCK, (int) (pos + 1 + count) * Disk.BLOCK);
        byte[] c = readBlock(at + 1 + count);
        CRC32C crc = new CRC32C();
        crc.update(d);
        crc.update(run);
        if (Disk.i32(c, 0) != Disk.MAGIC_COMMIT || !Disk.sealed(at + 1 + count, c) || Disk.i64(c, 8) != seq
                || Disk.i32(c, 4) != count || Disk.i32(c, 16) != (int) crc.getValue()) {
            return null; // the crash came during this commit
        }
        long[] targets = new long[count];
        byte[][] contents = new byte[count][];
        for (int i = 0; i < count; i++) {
            targets[i] = Disk.u32(d, 16 + 4 * i);
            if (targets[i] < sb.inodeBitmapStart() || targets[i] >= sb.blocks()) {
                throw FsException.corrupt("journal descriptor (block " + at + "): transaction " + seq
                        + " writes block " + targets[i] + ", which is not a metadata or data block");
            }
            contents[i] = Arrays.copyOfRange(run, i * Disk.BLOCK, (i + 1) * Disk.BLOCK);
        }
        return new Transaction(seq, pos, targets, contents);
    }

    /**
     * Makes {@code blocks} (home block number to sealed contents, in order) durable as one
     * transaction. The caller writes them in place afterwards.
     */
    void commit(Map<Long, byte[]> blocks) {
        int count = blocks.size();
        if (count == 0) {
            return;
        }
        if (count > maxTransactionBlocks()) {
            throw new IllegalStateException("a transaction of " + count + " blocks; the journal takes " + maxTransactionBlocks());
        }
        if (willRestart(count)) {
            restart();
        }
        long at = sb.journalStart() + position;
        byte[] run = new byte[(count + 1) * Disk.BLOCK];
        Disk.i32(run, 0, Disk.MAGIC_DESCRIPTOR);
        Disk.i32(run, 4, count);
        Disk.i64(run, 8, sequence);
        int i = 0;
        for (var e : blocks.entrySet()) {
            Disk.i32(run, 16 + 4 * i, (int) (long) e.getKey());
            System.arraycopy(e.getValue(), 0, run, (i + 1) * Disk.BLOCK, Disk.BLOCK);
            i++;
        }
        byte[] descriptor = Arrays.copyOf(run, Disk.BLOCK);
        Disk.seal(at, descriptor);
        System.arraycopy(descriptor, 0, run, 0, Disk.BLOCK);
        CRC32C crc = new CRC32C();
        crc.update(run);
        byte[] c = new byte[Disk.BLOCK];
        Disk.i32(c, 0, Disk.MAGIC_COMMIT);
        Disk.i32(c, 4, count);
        Disk.i64(c, 8, sequence);
        Disk.i32(c, 16, (int) crc.getValue());
        Disk.seal(at + 1 + count, c);
        device.write(at, count + 1, MemorySegment.ofArray(run), 0);
        device.flush();
        device.write(at + 1 + count, 1, MemorySegment.ofArray(c), 0);
        device.flush();
        position += count + 2;
        sequence++;
    }

    /** True if a transaction of {@code count} blocks would restart the log first. */
    boolean willRestart(int count) {
        return restartPending || position + count + 2 > sb.journalBlocks();
    }

    /**
     * Empties the log: the blocks earlier transactions wrote in place are flushed first, so the
     * log no longer needs them.
     */
    void restart() {
        // A restart interrupted midway (the calling thread unwound mid-request: its domain was
        // killed, this server's was not) may or may not have put its superblock on disk, so the
        // next commit restarts again: writing at the region's start under the old superblock,
        // or at the old position under the new one, would make the mount find a transaction of
        // a current sequence after a "damaged" one and refuse the disk.
        restartPending = true;
        device.flush();
        writeSuperblock();
        device.flush();
        position = 1;
        restartPending = false;
    }

    /** A {@link #restart} began and did not finish. */
    private boolean restartPending;

    private void writeSuperblock() {
        byte[] b = new byte[Disk.BLOCK];
        Disk.i32(b, 0, Disk.MAGIC_JOURNAL);
        Disk.i32(b, 4, sb.journalBlocks());
        Disk.i64(b, 8, sequence);
        Disk.seal(sb.journalStart(), b);
        device.write(sb.journalStart(), 1, MemorySegment.ofArray(b), 0);
    }

    /** A block of the journal region, from the copy {@link #scan} read. */
    private byte[] readBlock(long block) {
        int at = (int) (block - sb.journalStart()) * Disk.BLOCK;
        return Arrays.copyOfRange(log, at, at + Disk.BLOCK);
    }
}
