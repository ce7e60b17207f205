package isola.sdk;

import isola.kernel.Status;
import isola.kernel.Tag;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The file system service's protocol, and its client. Each client shares one 2 MiB frame with
 * the server ({@link #ATTACH}), its buffer: paths, file data and listings travel there, and the
 * message registers carry only lengths, offsets, handles and attributes. A handle names a file
 * by inode and generation, so it stays valid across a restart of the server (as an NFS file
 * handle does); there is nothing to close on the server.
 *
 * <p>Replies follow {@link Replies}: an error has a POSIX errno ({@link Errno}, positive) or a
 * kernel status (negative) in MR0 and a message naming the path from MR1. The client turns one
 * into an {@link Error}. A call the server had taken when it crashed fails with E_RESTARTED and
 * is sent again; a server that does not know the client's buffer (a new incarnation) answers
 * {@link #NOT_ATTACHED}, and the client attaches it again and repeats the call.
 */
public final class Fs {
    private Fs() {}

    /**
     * One capability: the client's buffer frame (2 MiB). Sent to the server's second endpoint,
     * {@link #ATTACH_SERVICE}: the operations' endpoint is passive (a call runs the server's code
     * on the caller's thread), and a passive endpoint takes no capabilities.
     */
    public static final int ATTACH = 1;
    /** The service of the fs server's attach endpoint (its operations' is "fs"). */
    public static final String ATTACH_SERVICE = "fs-attach";
    /** MR0 path length. Reply: the {@link Stat} in MR0..7. */
    public static final int STAT = 2;
    /** MR0 path length, MR1 the index of the first entry. Reply: MR0 entries in the buffer, MR1 the next index or -1. */
    public static final int LIST = 3;
    /** MR0 path length, MR1 mode. */
    public static final int MKDIR = 4;
    public static final int RMDIR = 5;
    public static final int UNLINK = 6;
    /** MR0 the first path's length, MR1 the second's; the second follows the first in the buffer. */
    public static final int RENAME = 7;
    /** MR0 path length, MR1 flags ({@link #CREATE}, {@link #EXCLUSIVE}, {@link #TRUNCATE}), MR2 mode. Reply: MR0 the handle. */
    public static final int OPEN = 8;
    /** MR0 handle, MR1 offset, MR2 length. Reply: MR0 bytes read, at the buffer's start. */
    public static final int READ = 9;
    /** MR0 handle, MR1 offset, MR2 length of the data at the buffer's start. Reply: MR0 bytes written. */
    public static final int WRITE = 10;
    /** MR0 path length (or -1 and MR2 a handle), MR1 the size. */
    public static final int TRUNCATE = 11;
    /** MR0 handle. */
    public static final int FSYNC = 12;
    /** Reply: block size, blocks, free blocks, inodes, free inodes, name max in MR0..5. */
    public static final int STATFS = 13;
    /** MR0 path length, MR1 mode. */
    public static final int CHMOD = 14;
    /** MR0 path length, MR1 atime, MR2 mtime (ns; -1 leaves one as it is). */
    public static final int UTIMENS = 15;
    public static final int SYNC = 16;
    /** MR0 handle. Reply: as {@link #STAT}. */
    public static final int FSTAT = 17;
    /**
     * MR0 handle: the client is done with it. Handles hold nothing on the server, so this only
     * checks it (EBADF for a handle that never was, ESTALE for a file that is gone).
     */
    public static final int CLOSE = 18;

    public static final int CREATE = 1;
    public static final int EXCLUSIVE = 2;
    public static final int TRUNCATE_FLAG = 4;

    /** The error a server answers to a client whose buffer it does not know. */
    public static final int NOT_ATTACHED = Status.E_NOT_MAPPED;

    public static final long BUFFER_SIZE = 2L << 20;
    public static final int PATH_MAX = 4096;
    public static final int S_IFDIR = 0040000;
    public static final int S_IFREG = 0100000;

    public record Stat(long inode, int mode, int nlink, long size, long blocks512, long atimeNs, long mtimeNs, long ctimeNs) {
        public boolean directory() {
            return (mode & 0170000) == S_IFDIR;
        }
    }

    public record Entry(String name, long inode, boolean directory) {}

    public record Usage(long blockSize, long blocks, long freeBlocks, long inodes, long freeInodes, int nameMax) {}

    /** A failed file system call: a POSIX errno (positive) or a kernel status (negative), and a message. */
    public static final class Error extends IsolaException {
        public Error(int code, String message) {
            super(code, message);
        }

        /** The errno, or 0 if the failure was the kernel's (see {@link #status}). */
        public int errno() {
            return status() > 0 ? status() : 0;
        }

        /** As a negative errno, for FUSE and C callers: kernel failures become EIO. */
        public int negativeErrno() {
            return status() > 0 ? -status() : -Errno.EIO;
        }
    }

    /** Writes a stat reply. */
    public static long statReply(Sys sys, long inode, int mode, int nlink, long size, long blocks512, long atime, long mtime, long ctime) {
        sys.mr(0, inode).mr(1, mode).mr(2, nlink).mr(3, size).mr(4, blocks512).mr(5, atime).mr(6, mtime).mr(7, ctime);
        return Replies.ok(8);
    }

    /**
     * A client of the file system: its buffer frame (in slot {@code frameSlot}, mapped at
     * {@code bufferVa}) and the capability to call the server. Serialized: one call at a time.
     */
    public static final class Client {
        private final Sys sys;
        private final int fs;
        private final int attachSlot;
        private final int frameSlot;
        private final long va;
        private final VirtualMemory memory;
        /** The client changed something since its last successful sync. */
        private boolean unsynced;
        /** The server restarted while changes were unsynced: they may be lost, and the next sync says so. */
        private boolean mayHaveLost;
        /**
         * This client attached its buffer. A new client attaches before its first call, even if
         * the server answers without: the server knows buffers by the client's badge, which a
         * restarted client keeps, so it would still read the dead incarnation's buffer (the fault
         * storm saw paths read from an old frame's bytes after a restart of the shell).
         */
        private boolean attached;
        /** Restarts of the server found while this client had unsynced changes: each may have lost them. */
        private long losses;
        /**
         * The handles this client opened, each with {@link #losses} when it was opened. A write
         * or truncate through a handle opened before a loss is refused with ESTALE: what the
         * client did before it (as a rule the open's own truncation) may be gone, and the write
         * would land on the file as it was before them, making contents that no sequence of the
         * client's operations produces (the fault storm read a new line over an old file's tail,
         * the open's truncation lost to a restart). Open it again, on the file as it is now.
         */
        private final java.util.Map<Long, Long> opened = new java.util.HashMap<>();

        /**
         * Restarts of the server so far that may have lost this client's unsynced changes: a
         * caller that combines several calls (a listing and a stat of each entry) compares it
         * before and after to know whether they saw one file system.
         */
        public long losses() {
            return losses;
        }

        /** {@code fs} and {@code attach}: the slots of the capabilities to the server's two endpoints. */
        public Client(Sys sys, int fs, int attach, int frameSlot, long bufferVa) {
            this.sys = sys;
            this.fs = fs;
            this.attachSlot = attach;
            this.frameSlot = frameSlot;
            this.va = bufferVa;
            this.memory = sys.memory();
        }

        /**
         * Allocates a buffer frame in {@code frameSlot}, page tables from {@code firstTableSlot},
         * maps it at {@code bufferVa} (2 MiB aligned), and returns the client of the server
         * behind {@code fs} and {@code attach}.
         */
        public static Client create(Sys sys, int fs, int attach, int frameSlot, int firstTableSlot, long bufferVa) {
            sys.check(sys.linkTables(Sys.SELF, bufferVa, Sys.PAGE_2M, firstTableSlot), "fs client: page tables");
            sys.check(sys.frameAlloc(frameSlot, BUFFER_SIZE), "fs client: buffer frame");
            sys.check(sys.map(Sys.SELF, frameSlot, bufferVa, Sys.MAP_WRITE | Sys.MAP_USER | Sys.MAP_NO_EXEC), "fs client: map the buffer");
            return new Client(sys, fs, attach, frameSlot, bufferVa);
        }

        /** The system-call interface this client calls through (its thread's). */
        public Sys sys() {
            return sys;
        }

        public synchronized Stat stat(String path) {
            path(path);
            call(STAT, "stat " + path, 1);
            return stat();
        }

        public synchronized Stat stat(long handle) {
            sys.mr(0, handle);
            call(FSTAT, "fstat", 1);
            return stat();
        }

        private Stat stat() {
            return new Stat(sys.mr(0), (int) sys.mr(1), (int) sys.mr(2), sys.mr(3), sys.mr(4), sys.mr(5), sys.mr(6), sys.mr(7));
        }

        public synchronized List<Entry> list(String path) {
            List<Entry> out = new ArrayList<>();
            long from = 0;
            while (from >= 0) {
                int len = putPath(0, path);
                sys.mr(0, len).mr(1, from);
                call(LIST, "ls " + path, 2);
                int n = (int) sys.mr(0);
                from = sys.mr(1);
                long at = 0;
                for (int i = 0; i < n; i++) {
                    long ino = Integer.toUnsignedLong(memory.getInt(va + at));
                    int kind = readByte(at + 4);
                    int nameLen = readByte(at + 5);
                    byte[] name = new byte[nameLen];
                    memory.read(va + at + 6, name, 0, nameLen);
                    out.add(new Entry(new String(name, StandardCharsets.UTF_8), ino, kind == 1));
                    at = (at + 6 + nameLen + 3) & ~3L;
                }
            }
            return out;
        }

        private int readByte(long at) {
            byte[] b = new byte[1];
            memory.read(va + at, b, 0, 1);
            return b[0] & 0xff;
        }

        public synchronized void mkdir(String path, int mode) {
            sys.mr(1, mode);
            path(path);
            call(MKDIR, "mkdir " + path, 2);
        }

        public synchronized void rmdir(String path) {
            path(path);
            call(RMDIR, "rmdir " + path, 1);
        }

        public synchronized void unlink(String path) {
            path(path);
            call(UNLINK, "rm " + path, 1);
        }

        public synchronized void rename(String from, String to) {
            int a = putPath(0, from);
            int b = putPath(a, to);
            sys.mr(0, a).mr(1, b);
            call(RENAME, "mv " + from + " " + to, 2);
        }

        /** Opens (flags: {@link #CREATE}, {@link #EXCLUSIVE}, {@link #TRUNCATE_FLAG}) and returns the file's handle. */
        public synchronized long open(String path, int flags, int mode) {
            sys.mr(1, flags).mr(2, mode);
            path(path);
            call(OPEN, "open " + path, 3);
            long h = sys.mr(0);
            opened.put(h, losses);
            return h;
        }

        /** Reads up to {@code length} bytes at {@code offset} into {@code dst} from {@code at}; returns how many (0 at the end). */
        public synchronized int read(long handle, long offset, MemorySegment dst, long at, int length) {
            int done = 0;
            while (done < length) {
                int n = (int) Math.min(length - done, BUFFER_SIZE);
                sys.mr(0, handle).mr(1, offset + done).mr(2, n);
                call(READ, "read", 3);
                int got = (int) sys.mr(0);
                long to = at + done;
                if (got > 0) {
                    memory.readInPlace(va, got, (run, o) -> MemorySegment.copy(run, 0, dst, to + o, run.byteSize()));
                }
                done += got;
                if (got < n) {
                    break;
                }
            }
            return done;
        }

        /**
         * Reads up to {@code length} bytes (at most {@link #BUFFER_SIZE}) at {@code offset} into
         * this client's buffer, and hands them to {@code visitor} where they are, with no copy:
         * read-only segments, valid only during the call. Returns how many bytes were read.
         */
        public synchronized int readInPlace(long handle, long offset, int length, VirtualMemory.Run visitor) {
            if (length < 0 || length > BUFFER_SIZE) {
                throw new Error(Errno.EINVAL, "read in place of " + length + " bytes (the buffer holds " + BUFFER_SIZE + ")");
            }
            sys.mr(0, handle).mr(1, offset).mr(2, length);
            call(READ, "read", 3);
            int got = (int) sys.mr(0);
            if (got > 0) {
                memory.readInPlace(va, got, visitor);
            }
            return got;
        }

        public int read(long handle, long offset, byte[] dst, int at, int length) {
            return read(handle, offset, MemorySegment.ofArray(dst), at, length);
        }

        /** Writes {@code length} bytes of {@code src} from {@code at} to the file at {@code offset}. */
        public synchronized int write(long handle, long offset, MemorySegment src, long at, int length) {
            int done = 0;
            while (done < length) {
                int n = (int) Math.min(length - done, BUFFER_SIZE);
                long from = at + done;
                memory.writeInPlace(va, n, (run, o) -> MemorySegment.copy(src, from + o, run, 0, run.byteSize()));
                sys.mr(0, handle).mr(1, offset + done).mr(2, n);
                call(WRITE, "write", 3, handle);
                done += (int) sys.mr(0);
            }
            return done;
        }

        public int write(long handle, long offset, byte[] src, int at, int length) {
            return write(handle, offset, MemorySegment.ofArray(src), at, length);
        }

        public synchronized void truncate(String path, long size) {
            sys.mr(1, size);
            path(path);
            call(TRUNCATE, "truncate " + path, 2);
        }

        public synchronized void truncate(long handle, long size) {
            sys.mr(0, -1).mr(1, size).mr(2, handle);
            call(TRUNCATE, "truncate", 3, handle);
        }

        /** Done with {@code handle}; see {@link Fs#CLOSE}. */
        public synchronized void close(long handle) {
            opened.remove(handle);
            sys.mr(0, handle);
            call(CLOSE, "close", 1);
        }

        /** Returns once the file's data and everything before it is durable. */
        public synchronized void fsync(long handle) {
            sys.mr(0, handle);
            call(FSYNC, "fsync", 1);
        }

        public synchronized void sync() {
            call(SYNC, "sync", 0);
        }

        public synchronized Usage usage() {
            call(STATFS, "df", 0);
            return new Usage(sys.mr(0), sys.mr(1), sys.mr(2), sys.mr(3), sys.mr(4), (int) sys.mr(5));
        }

        public synchronized void chmod(String path, int mode) {
            sys.mr(1, mode);
            path(path);
            call(CHMOD, "chmod " + path, 2);
        }

        public synchronized void setTimes(String path, long atimeNs, long mtimeNs) {
            sys.mr(1, atimeNs).mr(2, mtimeNs);
            path(path);
            call(UTIMENS, "touch " + path, 3);
        }

        /** Puts {@code path} in the buffer at {@code at}; returns its length in bytes. */
        private int putPath(int at, String path) {
            byte[] b = path.getBytes(StandardCharsets.UTF_8);
            if (b.length > PATH_MAX) {
                throw new Error(Errno.ENAMETOOLONG, "path of " + b.length + " bytes (at most " + PATH_MAX + "): "
                        + path.substring(0, 40) + "...");
            }
            memory.write(va + at, b, 0, b.length);
            return b.length;
        }

        /** Puts the path at the buffer's start and its length in MR0. */
        private void path(String path) {
            sys.mr(0, putPath(0, path));
        }

        /**
         * Calls the server; on a new incarnation that does not know the buffer, attaches it
         * and calls again. The registers are saved first, since a reply overwrites them.
         */
        private void call(int label, String what, int length) {
            call(label, what, length, 0);
        }

        /** {@link #call}, for a change through {@code handle} (0: none), which must not predate a loss. */
        private void call(int label, String what, int length, long handle) {
            checkNotStale(handle, what);
            long[] saved = new long[length];
            for (int i = 0; i < length; i++) {
                saved[i] = sys.mr(i);
            }
            if (!attached) {
                attach();
            }
            for (int attempt = 0; ; attempt++) {
                for (int i = 0; i < length; i++) {
                    sys.mr(i, saved[i]);
                }
                long interrupted = sys.interruptedCalls();
                int st = sys.callRetrying(fs, Tag.of(label, length), Sys.RESTART_ATTEMPTS);
                if (sys.interruptedCalls() != interrupted) {
                    serverRestarted();
                }
                if (st != Status.OK) {
                    throw new Error(st, sys.describe(st, what));
                }
                if (sys.label() != Replies.ERROR) {
                    succeeded(label, saved);
                    return;
                }
                int code = (int) sys.mr(0);
                if (code == NOT_ATTACHED && attempt < 3) {
                    serverRestarted(); // a new incarnation: it knows no buffer
                    checkNotStale(handle, what);
                    attach();
                    continue;
                }
                String m = sys.string(1);
                throw new Error(code, m == null ? what + ": " + (code > 0 ? Errno.name(code) : Status.name(code)) : m);
            }
        }

        private void serverRestarted() {
            if (unsynced) {
                mayHaveLost = true;
                losses++;
                unsynced = false; // this loss is counted; what follows is the next incarnation's
            }
        }

        private void checkNotStale(long handle, String what) {
            Long at = handle == 0 ? null : opened.get(handle);
            if (at != null && at != losses) {
                throw new Error(Errno.ESTALE, what + ": the file system server restarted since this file was opened, "
                        + "and may have lost what was done before (open it again)");
            }
        }

        /**
         * Tracks what is unsynced. A sync that succeeds after the server lost unsynced changes
         * fails once with EIO, as Linux's fsync reports a failed writeback once: the caller
         * must not believe that what it wrote before the restart is durable.
         */
        private void succeeded(int label, long[] request) {
            switch (label) {
                case MKDIR, RMDIR, UNLINK, RENAME, WRITE, TRUNCATE, CHMOD, UTIMENS -> unsynced = true;
                case OPEN -> unsynced |= (request[1] & (CREATE | TRUNCATE_FLAG)) != 0;
                case FSYNC, SYNC -> {
                    boolean lost = mayHaveLost;
                    unsynced = false;
                    mayHaveLost = false;
                    if (lost) {
                        throw new Error(Errno.EIO, "the file system server restarted since the last sync: changes "
                                + "made before the restart may be lost (everything is durable now)");
                    }
                }
                default -> { }
            }
        }

        private void attach() {
            sys.capSlot(0, frameSlot);
            int st = sys.callRetrying(attachSlot, Tag.of(ATTACH, 0, 1), Sys.RESTART_ATTEMPTS);
            if (st != Status.OK) {
                throw new Error(st, sys.describe(st, "fs: attach the buffer"));
            }
            if (sys.label() == Replies.ERROR) {
                String m = sys.string(1);
                throw new Error((int) sys.mr(0), "fs: attach the buffer: " + m);
            }
            attached = true;
        }
    }
}
