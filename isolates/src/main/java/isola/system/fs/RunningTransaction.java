package isola.system.fs;

import isola.sdk.BlockDevice;
import isola.sdk.Errno;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The file system's metadata blocks as it works on them: every one read or written so far, the
 * running transaction (the blocks changed since the last commit, which {@link #commit} writes
 * through the {@link Journal} and then in place), and the running operation's undo log, which
 * {@link #rollback} restores so that a failed operation leaves nothing half-changed.
 *
 * <p>It also holds back blocks that are free in the bitmap but must not be reused yet: those the
 * running transaction freed (until it commits: a crash would revive their old owner), and the
 * metadata blocks freed since the journal last restarted (their old images are in the journal,
 * and a replay would write them over whatever the block holds by then).
 */
final class RunningTransaction {
    /** What is wrong with a block just read from the device, as a whole message; null if nothing. */
    interface Check {
        String problem(long blk, byte[] b);
    }

    /** The undo log's mark of a block the operation allocated: it had no contents before. */
    private static final byte[] ABSENT = new byte[0];

    private final BlockDevice device;
    private final Superblock sb;
    private final Journal journal;

    /** Every metadata block read or written so far, checked when read. */
    private final Map<Long, byte[]> cache = new HashMap<>();
    /** The running transaction: blocks changed since the last commit, in the order first changed. */
    private final LinkedHashMap<Long, byte[]> dirty = new LinkedHashMap<>();
    /** The running operation's undo log: each block's contents before the operation first changed it. */
    private final Map<Long, byte[]> undo = new HashMap<>();
    /** Bitmap blocks as the last commit left them: a block free there and now is free to reuse. */
    private final Map<Long, byte[]> committedBitmaps = new HashMap<>();
    /** Journaled data-region blocks freed since the journal last restarted: not for file data yet. */
    private final Set<Long> quarantine = new HashSet<>();
    private final List<Long> quarantinedByOp = new ArrayList<>();
    /** Blocks freed by the running transaction, which cannot be reused before it commits. */
    private long freedUncommitted;
    private long freedAtOperationStart;
    private long commits;

    RunningTransaction(BlockDevice device, Superblock sb, Journal journal) {
        this.device = device;
        this.sb = sb;
        this.journal = journal;
    }

    /** Reads one block of {@code device}; a device error is {@code EIO} naming the block. */
    static void read(BlockDevice device, long block, byte[] into) {
        try {
            device.read(block, 1, MemorySegment.ofArray(into), 0);
        } catch (RuntimeException e) {
            throw new FsException(Errno.EIO, "read of block " + block + " failed: " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- blocks

    /** Block {@code blk}, read the first time and kept; not checked (inodes carry their own checksums). */
    byte[] cached(long blk) {
        byte[] b = cache.get(blk);
        if (b == null) {
            b = new byte[Disk.BLOCK];
            read(device, blk, b);
            cache.put(blk, b);
        }
        return b;
    }

    /**
     * Block {@code blk}, checked by {@code check} when it is read: a block that fails is not kept,
     * and is {@code EUCLEAN}. A block changed since it was read is sealed again only at commit.
     */
    byte[] checked(long blk, Check check) {
        byte[] b = cache.get(blk);
        if (b == null) {
            b = cached(blk);
            String problem = check.problem(blk, b);
            if (problem != null) {
                cache.remove(blk);
                throw FsException.corrupt(problem);
            }
        }
        return b;
    }

    /** A block the caller read from the device itself (the mount reads the inode table in runs), kept. */
    void keep(long blk, byte[] b) {
        cache.put(blk, b);
    }

    /** A block about to change: remembered for undo, and joined to the running transaction. */
    byte[] modify(long blk) {
        byte[] b = cache.get(blk);
        if (b == null) {
            throw new IllegalStateException("block " + blk + " is modified before it is read");
        }
        if (!undo.containsKey(blk)) {
            boolean wasDirty = dirty.containsKey(blk);
            // A copy one byte longer marks a block that was clean before the operation.
            undo.put(blk, wasDirty ? b.clone() : Arrays.copyOf(b, Disk.BLOCK + 1));
            if (!wasDirty && blk >= sb.blockBitmapStart() && blk < sb.inodeTableStart()) {
                committedBitmaps.put(blk, b.clone());
            }
        }
        dirty.put(blk, b);
        return b;
    }

    /** A newly allocated metadata block, zeroed, in the running transaction. */
    byte[] fresh(long blk) {
        byte[] b = new byte[Disk.BLOCK];
        cache.put(blk, b);
        undo.putIfAbsent(blk, ABSENT);
        dirty.put(blk, b);
        return b;
    }

    /**
     * A metadata block just freed: out of the cache and the transaction (its contents in the undo
     * log), and held back until the journal restarts.
     */
    void released(long blk) {
        if (cache.containsKey(blk)) {
            modify(blk);
            cache.remove(blk);
            dirty.remove(blk);
        }
        if (quarantine.add(blk)) {
            quarantinedByOp.add(blk);
        }
    }

    /** Data blocks just freed: held back until the transaction commits. */
    void freed(long blocks) {
        freedUncommitted += blocks;
    }

    /** Bitmap block {@code blk} as the last commit left it, or null if it has not changed since. */
    byte[] committedBitmap(long blk) {
        return committedBitmaps.get(blk);
    }

    boolean quarantined(long blk) {
        return quarantine.contains(blk);
    }

    /** Blocks free in the bitmap that are held back: freed uncommitted, or quarantined. */
    long heldBack() {
        return freedUncommitted + quarantine.size();
    }

    // ---------------------------------------------------------------- operations and commits

    boolean isEmpty() {
        return dirty.isEmpty();
    }

    /** Whether the running transaction is past half of what one commit takes (so it is committed before the next operation). */
    boolean halfFull() {
        return dirty.size() > journal.maxTransactionBlocks() / 2;
    }

    /** Whether the running operation has changed nothing yet (so a commit now holds none of it). */
    boolean unchangedByOperation() {
        return undo.isEmpty();
    }

    void beginOperation() {
        freedAtOperationStart = freedUncommitted;
    }

    /** The operation is done: it must fit one commit; its undo log is dropped. */
    void endOperation() {
        if (dirty.size() > journal.maxTransactionBlocks()) {
            throw new FsException(Errno.EFBIG, "the operation changes " + dirty.size()
                    + " metadata blocks; one transaction takes " + journal.maxTransactionBlocks());
        }
        undo.clear();
        quarantinedByOp.clear();
    }

    /** Restores every block the running operation touched, as it was before. */
    void rollback() {
        for (var u : undo.entrySet()) {
            long blk = u.getKey();
            byte[] before = u.getValue();
            if (before == ABSENT) {
                cache.remove(blk);
                dirty.remove(blk);
                committedBitmaps.remove(blk);
                continue;
            }
            byte[] b = cache.computeIfAbsent(blk, k -> new byte[Disk.BLOCK]); // a freed block comes back
            System.arraycopy(before, 0, b, 0, Disk.BLOCK);
            if (before.length == Disk.BLOCK + 1) { // it was clean before the operation
                dirty.remove(blk);
                committedBitmaps.remove(blk);
            } else {
                dirty.put(blk, b);
            }
        }
        undo.clear();
        quarantine.removeAll(quarantinedByOp);
        quarantinedByOp.clear();
        freedUncommitted = freedAtOperationStart;
    }

    /** Commits the running transaction through the journal, then writes it in place; with nothing in it, flushes file data. */
    void commit() {
        if (dirty.isEmpty()) {
            device.flush(); // file data written in place
            return;
        }
        for (var e : dirty.entrySet()) {
            long blk = e.getKey();
            if (blk < sb.inodeTableStart() || blk >= sb.dataStart()) {
                Disk.seal(blk, e.getValue());
            }
        }
        boolean restarting = journal.willRestart(dirty.size());
        journal.commit(dirty);
        if (restarting) {
            quarantine.clear(); // the journal no longer holds old images of these blocks
        }
        for (var e : dirty.entrySet()) {
            device.write(e.getKey(), 1, MemorySegment.ofArray(e.getValue()), 0);
        }
        dirty.clear();
        committedBitmaps.clear();
        freedUncommitted = 0;
        commits++;
    }

    /** Empties the journal (everything committed is in place), which frees the quarantine. */
    void restartJournal() {
        journal.restart();
        quarantine.clear();
    }

    /** Transactions committed since the mount. */
    long commits() {
        return commits;
    }
}
