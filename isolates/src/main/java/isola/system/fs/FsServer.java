package isola.system.fs;

import isola.kernel.Status;
import isola.sdk.ActiveLoop;
import isola.sdk.Blk;
import isola.sdk.Errno;
import isola.sdk.Fs;
import isola.sdk.Handler;
import isola.sdk.Log;
import isola.sdk.Replies;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;
import isola.sdk.VirtualMemory;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The file system server: {@link FileSystem} on the block driver ({@link Blk}), served to
 * clients through their shared buffers ({@link Fs}). At start it gives the driver a region of
 * its own frames for the request queue and mounts the disk (replaying the journal). Its
 * operations are served passively: a call runs this code on the caller's thread inside this
 * domain, one caller at a time under the server's lock, so reading cached data is one copy
 * into the client's buffer with no thread hand-off (the block driver's requests go through the
 * caller's thread too). The start thread serves the second endpoint, where clients attach
 * their buffers (a passive endpoint takes no capabilities). A clock thread calls in once a
 * second to commit the running transaction, so what clients did without fsync is on disk
 * within about a second.
 *
 * <p>A crash loses nothing fsync acknowledged: the next incarnation replays the journal. Its
 * clients' calls in flight fail with E_RESTARTED and are sent again; their buffers are unknown
 * to it, so it answers {@link Fs#NOT_ATTACHED} and they attach again. A disk that cannot be
 * mounted (damaged metadata) does not make the server crash over and over: it stays up and
 * answers every request with the reason, naming the block, until it is restarted on a
 * repaired disk.
 */
public final class FsServer implements Server, Handler {
    static final long REGION_VA = 0x0000_0040_0000_0000L;
    static final long CLIENTS_VA = 0x0000_0080_0000_0000L;
    static final int REGION = 128;
    static final int COMPLETION = 129;
    static final int DOORBELL = 130;
    static final int REGION_TABLES = 131;
    static final int CLIENT_TABLES = 136;
    /** A notification nobody signals: the commit clock's timed wait (a kill ends it at once). */
    static final int CLOCK = 139;
    /** Clients' buffer frames: one slot each, from here to the end of the capability space. */
    static final int FIRST_CLIENT = 144;
    static final long COMMIT_INTERVAL_NS = 1_000_000_000L;
    /** The buffer cache: 64 MiB of the most recently read blocks. */
    static final int CACHE_BLOCKS = 16384;

    /** The thread being served (a caller's, passively, or the start thread's): set under {@link #lock}. */
    private Sys sys;
    private VirtualMemory memory;
    private Sys startSys;
    /** One request at a time: the file system, the device binding and the client table. */
    private final Object lock = new Object();
    private int log;
    private FileSystem fs;
    private Blk.Device device;
    private String unmounted;
    private int clientSlots;
    /** A client's badge to its buffer's slot. */
    private final Map<Long, Integer> clients = new HashMap<>();
    private final java.util.BitSet usedSlots = new java.util.BitSet();
    private long lastCommit = System.nanoTime();

    @Override
    public void start(ServerContext ctx) {
        sys = ctx.sys();
        memory = sys.memory();
        startSys = sys;
        log = ctx.service("log");
        int blk = ctx.service("blk");
        clientSlots = Math.max(0, sys.slotCount() - FIRST_CLIENT);
        long t0 = System.nanoTime();
        sys.check(sys.linkTables(Sys.SELF, REGION_VA, Sys.PAGE_2M, REGION_TABLES), "fs: page tables for the block queue");
        sys.check(sys.frameAlloc(REGION, Blk.REGION_SIZE), "fs: the block queue's frame");
        sys.check(sys.map(Sys.SELF, REGION, REGION_VA, Sys.MAP_WRITE | Sys.MAP_USER | Sys.MAP_NO_EXEC), "fs: map the block queue");
        sys.check(sys.createNotification(COMPLETION), "fs: the completion notification");
        sys.check(sys.linkTables(Sys.SELF, CLIENTS_VA, Sys.PAGE_2M, CLIENT_TABLES), "fs: page tables for client buffers");
        device = Blk.attach(sys, blk, REGION, REGION_VA, COMPLETION, DOORBELL);
        try {
            fs = FileSystem.mount(new BlockCache(device, CACHE_BLOCKS));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            FileSystem.Usage u = fs.usage();
            Log.info(sys, log, "fs: mounted " + device.blocks() * 4 / 1024 + " MiB at / in " + ms + " ms ("
                    + fs.replayed() + " journal transactions replayed; " + u.freeBlocks() * 4 / 1024 + " MiB free)");
        } catch (FsException e) {
            unmounted = e.getMessage();
            Log.write(sys, log, Log.ERROR, "fs: cannot mount the disk: " + unmounted + " (run ./isola fsck on the image)");
        }
        // Before the endpoint is served: from then on the field sys is a caller's (see enter).
        startSys.check(startSys.createNotification(CLOCK), "fs: the commit clock's notification");
        int endpoint = ctx.endpoint("fs");
        ctx.servePassive(endpoint, this);
        // The clock of the periodic commit: a thread that calls the endpoint once a second. It
        // waits in the kernel, not in Thread.sleep, so a kill of this server ends the wait: a
        // sleeping JVM thread outlived its dead domain, which ps showed as a runaway.
        ctx.spawn("fs-clock", 100, clock -> {
            for (;;) {
                clock.await(CLOCK, COMMIT_INTERVAL_NS);
                clock.call(endpoint, TICK, 0);
            }
        });
        ActiveLoop.run(startSys, ctx.endpoint(Fs.ATTACH_SERVICE), this::freeSlot, this::handleAttach);
    }

    /** The label of the commit clock's call. */
    static final int TICK = 0x7F;

    /**
     * A request on the attach endpoint, served on the start thread; its receive window (a free
     * client slot) takes the client's buffer frame. Only this thread changes the slots in use.
     */
    private long handleAttach(Sys caller) {
        synchronized (lock) {
            enter(caller);
            return caller.label() == Fs.ATTACH ? attach()
                    : Replies.error(caller, Errno.ENOSYS, "fs attach endpoint: unknown request " + caller.label());
        }
    }

    /** Serves on {@code caller}'s thread: the device's requests and buffer accesses go through it. */
    private void enter(Sys caller) {
        sys = caller;
        memory = caller.memory();
        if (device != null) {
            device.bind(caller);
        }
    }

    /** A passive call: runs on the caller's thread, one at a time. */
    @Override
    public long handle(Sys caller) {
        synchronized (lock) {
            enter(caller);
            return handle();
        }
    }

    /** Commits the running transaction if the last commit is a second old. */
    private void commitIfDue() {
        if (fs != null && System.nanoTime() - lastCommit >= COMMIT_INTERVAL_NS) {
            lastCommit = System.nanoTime();
            try {
                fs.commitIfDirty();
            } catch (FsException e) {
                Log.write(sys, log, Log.ERROR, "fs: periodic commit: " + e.getMessage());
            }
        }
    }

    private int freeSlot() {
        int i = usedSlots.nextClearBit(0);
        return i < clientSlots ? FIRST_CLIENT + i : -1;
    }

    private long handle() {
        int label = sys.label();
        try {
            if (label == TICK) {
                commitIfDue();
                return Replies.ok(0);
            }
            Integer slot = clients.get(sys.badge());
            if (slot == null) {
                return Replies.error(sys, Fs.NOT_ATTACHED, "fs: attach a buffer first");
            }
            if (fs == null) {
                return Replies.error(sys, Errno.EUCLEAN, "fs: the disk is not mounted: " + unmounted);
            }
            long buf = CLIENTS_VA + (long) (slot - FIRST_CLIENT) * Fs.BUFFER_SIZE;
            return switch (label) {
                case Fs.STAT -> stat(fs.stat(path(buf, 0, 0)));
                case Fs.FSTAT -> stat(fs.stat(handle(sys.mr(0))));
                case Fs.CLOSE -> {
                    fs.stat(handle(sys.mr(0)));
                    yield Replies.ok(0);
                }
                case Fs.LIST -> list(buf);
                case Fs.MKDIR -> {
                    fs.mkdir(path(buf, 0, 0), (int) sys.mr(1));
                    yield Replies.ok(0);
                }
                case Fs.RMDIR -> {
                    fs.rmdir(path(buf, 0, 0));
                    yield Replies.ok(0);
                }
                case Fs.UNLINK -> {
                    fs.unlink(path(buf, 0, 0));
                    yield Replies.ok(0);
                }
                case Fs.RENAME -> {
                    String from = path(buf, 0, 0);
                    String to = path(buf, sys.mr(0), 1);
                    fs.rename(from, to);
                    yield Replies.ok(0);
                }
                case Fs.OPEN -> open(buf);
                case Fs.READ -> read(buf);
                case Fs.WRITE -> write(buf);
                case Fs.TRUNCATE -> {
                    if (sys.mr(0) < 0) {
                        fs.truncate(handle(sys.mr(2)), sys.mr(1));
                    } else {
                        fs.truncate(path(buf, 0, 0), sys.mr(1));
                    }
                    yield Replies.ok(0);
                }
                case Fs.FSYNC -> {
                    fs.fsync(handle(sys.mr(0)));
                    lastCommit = System.nanoTime();
                    yield Replies.ok(0);
                }
                case Fs.SYNC -> {
                    fs.sync();
                    lastCommit = System.nanoTime();
                    yield Replies.ok(0);
                }
                case Fs.STATFS -> {
                    FileSystem.Usage u = fs.usage();
                    sys.mr(0, u.blockSize()).mr(1, u.blocks()).mr(2, u.freeBlocks()).mr(3, u.inodes()).mr(4, u.freeInodes())
                            .mr(5, u.nameMax());
                    yield Replies.ok(6);
                }
                case Fs.CHMOD -> {
                    fs.chmod(path(buf, 0, 0), (int) sys.mr(1));
                    yield Replies.ok(0);
                }
                case Fs.UTIMENS -> {
                    fs.setTimes(path(buf, 0, 0), sys.mr(1), sys.mr(2));
                    yield Replies.ok(0);
                }
                default -> Replies.error(sys, Errno.ENOSYS, "fs: unknown request " + label);
            };
        } catch (FsException e) {
            return Replies.error(sys, e.errno(), e.getMessage());
        }
        // A kernel error (IsolaException) is not the client's: it propagates, a fault of this
        // server, so the caller's call fails with E_SERVER_FAULT and is retried.
    }

    /** Takes the client's buffer frame and maps it; a client attaching again replaces its old one. */
    private long attach() {
        if (sys.capsReceived() != 1) {
            return Replies.error(sys, Errno.EINVAL, "fs attach: send one capability, the buffer's frame ("
                    + sys.capsReceived() + " came)");
        }
        int slot = sys.capSlot(0);
        long badge = sys.badge();
        Integer old = clients.remove(badge);
        if (old != null) {
            sys.unmap(Sys.SELF, bufferVa(old), Fs.BUFFER_SIZE);
            sys.delete(old);
            usedSlots.clear(old - FIRST_CLIENT);
        }
        int st = sys.map(Sys.SELF, slot, bufferVa(slot), Sys.MAP_WRITE | Sys.MAP_USER | Sys.MAP_NO_EXEC);
        if (st != Status.OK) {
            sys.delete(slot);
            return Replies.error(sys, st, sys.describe(st, "fs attach: map the buffer (a 2 MiB frame?)"));
        }
        clients.put(badge, slot);
        usedSlots.set(slot - FIRST_CLIENT);
        if (device != null) {
            // The driver maps the buffer too, and reads for this client land in it directly.
            long[] host = {0};
            memory.readInPlace(bufferVa(slot), 1, (run, at) -> host[0] = run.address());
            device.addBuffer(slot - FIRST_CLIENT + 1, slot, host[0]);
        }
        return Replies.ok(0);
    }

    private static long bufferVa(int slot) {
        return CLIENTS_VA + (long) (slot - FIRST_CLIENT) * Fs.BUFFER_SIZE;
    }

    /** The path in the buffer at {@code at}, its length in MR{@code lengthRegister}. */
    private String path(long buf, long at, int lengthRegister) {
        long len = sys.mr(lengthRegister);
        if (len < 0 || len > Fs.PATH_MAX || at < 0 || at + len > Fs.BUFFER_SIZE) {
            throw new FsException(len > Fs.PATH_MAX ? Errno.ENAMETOOLONG : Errno.EINVAL,
                    "a path of " + len + " bytes (at most " + Fs.PATH_MAX + ")");
        }
        byte[] b = new byte[(int) len];
        memory.read(buf + at, b, 0, b.length);
        return new String(b, StandardCharsets.UTF_8);
    }

    private static FileSystem.Handle handle(long h) {
        return new FileSystem.Handle((int) (h >>> 32), (int) h);
    }

    private long stat(FileSystem.Stat s) {
        return Fs.statReply(sys, s.inode(), s.mode(), s.nlink(), s.size(), s.blocks512(), s.atimeNs(), s.mtimeNs(), s.ctimeNs());
    }

    private long open(long buf) {
        String path = path(buf, 0, 0);
        int flags = (int) sys.mr(1);
        FileSystem.Handle h = fs.open(path, (flags & Fs.CREATE) != 0, (flags & Fs.EXCLUSIVE) != 0,
                (flags & Fs.TRUNCATE_FLAG) != 0, (int) sys.mr(2));
        sys.mr(0, ((long) h.inode() << 32) | (h.generation() & 0xffff_ffffL));
        return Replies.ok(1);
    }

    /** Entries from index MR1 on, as many as fit the buffer: {@code ino u32, directory u8, name length u8, name}, 4-aligned. */
    private long list(long buf) {
        String path = path(buf, 0, 0);
        long from = sys.mr(1);
        List<FileSystem.Entry> entries = fs.list(path);
        byte[] out = new byte[(int) Math.min(Fs.BUFFER_SIZE, 64 * 1024)];
        int at = 0;
        int n = 0;
        long i = Math.max(0, from);
        for (; i < entries.size(); i++) {
            FileSystem.Entry e = entries.get((int) i);
            byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
            int size = (6 + name.length + 3) & ~3;
            if (at + size > out.length) {
                break;
            }
            Disk.i32(out, at, e.inode());
            out[at + 4] = (byte) (e.directory() ? 1 : 0);
            out[at + 5] = (byte) name.length;
            System.arraycopy(name, 0, out, at + 6, name.length);
            at += size;
            n++;
        }
        memory.write(buf, out, 0, at);
        sys.mr(0, n).mr(1, i < entries.size() ? i : -1);
        return Replies.ok(2);
    }

    private long read(long buf) {
        FileSystem.Handle h = handle(sys.mr(0));
        long offset = sys.mr(1);
        long length = sys.mr(2);
        if (length < 0 || length > Fs.BUFFER_SIZE) {
            throw new FsException(Errno.EINVAL, "read of " + length + " bytes (the buffer holds " + Fs.BUFFER_SIZE + ")");
        }
        int[] got = {0};
        if (length > 0) {
            // Straight from the disk into the client's buffer.
            memory.writeInPlace(buf, length, (run, at) -> {
                if (got[0] == at) {
                    got[0] += fs.read(h, offset + at, run, 0, (int) run.byteSize());
                }
            });
        }
        sys.mr(0, got[0]);
        return Replies.ok(1);
    }

    private long write(long buf) {
        FileSystem.Handle h = handle(sys.mr(0));
        long offset = sys.mr(1);
        long length = sys.mr(2);
        if (length < 0 || length > Fs.BUFFER_SIZE) {
            throw new FsException(Errno.EINVAL, "write of " + length + " bytes (the buffer holds " + Fs.BUFFER_SIZE + ")");
        }
        long[] done = {0};
        if (length > 0) {
            memory.readInPlace(buf, length, (run, at) -> done[0] += fs.write(h, offset + at, run, 0, (int) run.byteSize()));
        }
        sys.mr(0, done[0]);
        return Replies.ok(1);
    }
}
