package isola.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import isola.boot.image.DefaultImage;
import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.Status;
import isola.kernel.Tag;
import isola.sdk.Errno;
import isola.sdk.Fs;
import isola.device.HostDisk;
import isola.sdk.Log;
import isola.sdk.Sys;
import isola.system.fs.Fsck;
import java.io.ByteArrayOutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fs server and the block driver in the booted default system, through the protocol a
 * client uses: POSIX errors, bad requests, the fs server killed at random moments of a random
 * workload (nothing fsync acknowledged is lost, and a client is told when unsynced changes may
 * have been), the block driver killed under load (the queue resumes), and a damaged disk (the
 * server stays up and names the block, no crash loop).
 */
class FsServerTest {
    /** The client's fs capability (client 0 of FsClients.newClient) and its log one. */
    static final int FS = 0;
    static final int LOG = 8;

    @TempDir
    static Path dir;
    static Path image;

    Path disk;
    /** What the shell exits with: 1 if its sync at shutdown must fail (the disk is not mounted). */
    int exitStatus;
    PipedOutputStream keepOpen;
    Boot boot;
    Kernel k;
    Sys sys;
    Fs.Client fs;

    @BeforeAll
    static void buildImage() throws Exception {
        // The fs server and the driver are restarted on every crash, at once, however often.
        String manifest = DefaultImage.defaultManifest()
                .replace("provides = blk\n", "provides = blk\nmax-restarts = 1000\nbackoff = 0ms\n")
                .replace("provides = fs, fs-attach\n", "provides = fs, fs-attach\nmax-restarts = 1000\nbackoff = 0ms\n");
        image = DefaultImage.build(dir.resolve("isola.img"), manifest);
    }

    /** Boots with {@code disk} as disk0 and attaches a host-side fs client. */
    void boot(Path disk) throws Exception {
        this.disk = disk;
        keepOpen = new PipedOutputStream();
        boot = Boot.start(image, HostDisk.open(disk, false), new PipedInputStream(keepOpen),
                new PrintStream(new ByteArrayOutputStream()), false).awaitBooted();
        k = boot.machine().kernel();
        Domain client = k.createDomain("client", 64, 16);
        k.setFrameQuota(client, 4096);
        fs = isola.boot.fuse.FsClients.newClient(boot, client, 0, "test");
        boot.init().grantService("log", client, LOG, 0xF6);
        sys = fs.sys();
    }

    Path freshDisk(String name) throws Exception {
        Path p = dir.resolve(name);
        DiskImage.mkfs(p, 16L << 20);
        return p;
    }

    @AfterEach
    void shutdown() throws Exception {
        if (boot != null) {
            keepOpen.close();
            assertEquals(exitStatus, boot.awaitExit(), "the shell's exit status (its sync at shutdown)");
            boot.close(); // and the disk
            boot = null;
        }
    }

    static int errno(Runnable r) {
        return assertThrows(Fs.Error.class, r::run).errno();
    }

    private void put(String path, byte[] data) {
        long h = fs.open(path, Fs.CREATE | Fs.TRUNCATE_FLAG, 0644);
        assertEquals(data.length, fs.write(h, 0, data, 0, data.length));
    }

    private byte[] get(String path) {
        long h = fs.open(path, 0, 0);
        byte[] b = new byte[(int) fs.stat(h).size()];
        assertEquals(b.length, fs.read(h, 0, b, 0, b.length));
        return b;
    }

    @Test
    void operationsAndTheirErrorsThroughTheServer() throws Exception {
        assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
            boot(freshDisk("ops.img"));
            byte[] big = new byte[5 << 20]; // more than one buffer: the client splits it
            new Random(3).nextBytes(big);
            fs.mkdir("/d", 0755);
            put("/d/big", big);
            assertArrayEquals(big, get("/d/big"));
            put("/d/small", "hi".getBytes(StandardCharsets.UTF_8));
            fs.rename("/d/small", "/d/renamed");
            assertEquals(List.of("big", "renamed"), fs.list("/d").stream().map(Fs.Entry::name).sorted().toList());
            assertEquals(Errno.ENOENT, errno(() -> fs.stat("/nope")));
            assertEquals(Errno.EEXIST, errno(() -> fs.mkdir("/d", 0755)));
            assertEquals(Errno.ENOTEMPTY, errno(() -> fs.rmdir("/d")));
            assertEquals(Errno.EISDIR, errno(() -> fs.unlink("/d")));
            assertEquals(Errno.ENOTDIR, errno(() -> fs.mkdir("/d/big/x", 0755)));
            assertEquals(Errno.ENAMETOOLONG, errno(() -> fs.mkdir("/" + "x".repeat(300), 0755)));
            assertEquals(Errno.ENAMETOOLONG, errno(() -> fs.stat("/" + "a/".repeat(3000))));
            assertEquals(Errno.EINVAL, errno(() -> fs.mkdir("/a\0b", 0755)));
            assertEquals(Errno.EBADF, errno(() -> fs.read(0x7777_0000_0001L, 0, new byte[1], 0, 1)));
            long h = fs.open("/d/renamed", 0, 0);
            fs.unlink("/d/renamed");
            assertEquals(Errno.ESTALE, errno(() -> fs.read(h, 0, new byte[1], 0, 1)));
            assertEquals(Errno.ESTALE, errno(() -> fs.close(h)));
            assertEquals(Errno.EBADF, errno(() -> fs.close(0)));
            fs.close(fs.open("/d/big", 0, 0));
            // A request the protocol does not know, and a read longer than the buffer.
            sys.mr(0, 0);
            assertEquals(Status.OK, sys.call(FS, Tag.of(99, 1), Sys.FOREVER));
            assertEquals(Errno.ENOSYS, (int) sys.mr(0));
            long hb = fs.open("/d/big", 0, 0);
            sys.mr(0, hb).mr(1, 0).mr(2, Fs.BUFFER_SIZE + 1);
            assertEquals(Status.OK, sys.call(FS, Tag.of(Fs.READ, 3), Sys.FOREVER));
            assertEquals(Errno.EINVAL, (int) sys.mr(0));
            Fs.Usage u = fs.usage();
            assertTrue(u.freeBlocks() < u.blocks() && u.freeInodes() < u.inodes(), u.toString());
            fs.sync();
        });
        assertFsckClean();
    }

    private void assertFsckClean() throws Exception {
        try (HostDisk d = HostDisk.open(disk, true)) {
            assertEquals(List.of(), Fsck.check(d).problems());
        }
    }

    /**
     * A random workload while another thread kills the fs server at random moments. After each
     * successful sync the model is what the disk must hold; a sync that reports EIO (the server
     * restarted with unsynced changes) sends the model back to what the server now has. In the
     * end every file synced and not changed since must be there, byte for byte.
     */
    @Test
    void killingTheServerAtRandomLosesNothingSynced() throws Exception {
        assertTimeoutPreemptively(BootTest.HANG_GUARD.multipliedBy(3), () -> {
            boot(freshDisk("kill.img"));
            Random r = new Random(Long.getLong("isola.crash.seed", 7));
            Map<String, byte[]> model = new TreeMap<>();
            Map<String, byte[]> synced = new TreeMap<>();
            Thread killer = new Thread(() -> {
                Random kr = new Random(11);
                try {
                    for (int i = 0; i < 12; i++) {
                        Thread.sleep(20 + kr.nextInt(120));
                        Domain d = boot.init().serverDomain("fs");
                        if (d != null && d.state() == Domain.RUNNING) {
                            k.injectFault(d, "test kill " + i);
                        }
                    }
                } catch (InterruptedException e) {
                    // done
                }
            }, "killer");
            killer.start();
            int lostReports = 0;
            Set<String> touched = new HashSet<>(); // changed since the last successful sync
            int restartsAtSync = 0;
            for (int step = 0; step < 1500; step++) {
                String path = "/f" + r.nextInt(30);
                int op = r.nextInt(10);
                try {
                    if (op < 5) {
                        byte[] data = new byte[r.nextInt(3) == 0 ? r.nextInt(300_000) : r.nextInt(5000)];
                        r.nextBytes(data);
                        touched.add(path);
                        put(path, data);
                        model.put(path, data);
                    } else if (op < 7 && model.containsKey(path)) {
                        touched.add(path);
                        fs.unlink(path);
                        model.remove(path);
                    } else if (op < 8 && model.containsKey(path)) {
                        String to = "/f" + r.nextInt(30);
                        touched.add(path);
                        touched.add(to);
                        fs.rename(path, to);
                        model.put(to, model.remove(path));
                    } else if (sync(synced, touched)) {
                        synced = new TreeMap<>(model);
                        assertEquals(synced.keySet(), read().keySet(), "after a successful sync at step " + step);
                        restartsAtSync = boot.init().restarts("fs");
                    } else {
                        lostReports++;
                        synced = read();
                        model = new TreeMap<>(synced);
                        restartsAtSync = boot.init().restarts("fs");
                    }
                } catch (Fs.Error e) {
                    // A restart lost an unsynced creation under the client's feet (the next sync says
                    // so); nothing else may fail.
                    assertTrue((e.errno() == Errno.ESTALE || e.errno() == Errno.ENOENT)
                            && boot.init().restarts("fs") != restartsAtSync, e.getMessage());
                }
                if (!killer.isAlive() && step > 300) {
                    break;
                }
            }
            killer.join();
            if (!sync(synced, touched)) {
                model = read();
            }
            Map<String, byte[]> found = read();
            assertEquals(model.keySet(), found.keySet());
            for (var e : model.entrySet()) {
                assertArrayEquals(e.getValue(), found.get(e.getKey()), e.getKey());
            }
            assertTrue(boot.init().restarts("fs") >= 3, "the server was killed: " + boot.init().restarts("fs"));
            Log.info(sys, LOG, "fs kill test: " + boot.init().restarts("fs") + " restarts, " + lostReports + " lost reports");
        });
        assertFsckClean();
    }

    /**
     * Syncs. True if it succeeded: the model is durable. False if the server reported that
     * unsynced changes may have been lost to a restart: then every file synced before and not
     * touched since must still be there, byte for byte. Clears {@code touched} either way.
     */
    private boolean sync(Map<String, byte[]> synced, Set<String> touched) {
        try {
            fs.sync();
            touched.clear();
            return true;
        } catch (Fs.Error e) {
            assertEquals(Errno.EIO, e.errno(), e.getMessage());
        }
        Map<String, byte[]> now = read();
        for (var e : synced.entrySet()) {
            if (!touched.contains(e.getKey())) {
                assertArrayEquals(e.getValue(), now.get(e.getKey()), e.getKey() + " was synced and not touched since");
            }
        }
        touched.clear();
        return false;
    }

    private Map<String, byte[]> read() {
        Map<String, byte[]> out = new TreeMap<>();
        for (Fs.Entry e : fs.list("/")) {
            out.put("/" + e.name(), get("/" + e.name()));
        }
        return out;
    }

    /**
     * A write through a handle opened before a restart that lost the open's truncation is
     * refused (ESTALE), not applied to the file as it was before: that made a new line over the
     * old contents' tail, which no sequence of the client's operations produces.
     */
    @Test
    void aWriteThroughAHandleWhoseTruncationARestartLostIsStale() throws Exception {
        assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
            boot(freshDisk("stale.img"));
            byte[] old = "an old line, longer than the new one, synced\n".getBytes(StandardCharsets.UTF_8);
            byte[] fresh = "a new line\n".getBytes(StandardCharsets.UTF_8);
            put("/t", old);
            fs.sync();
            long h = fs.open("/t", Fs.CREATE | Fs.TRUNCATE_FLAG, 0644); // truncated, unsynced
            int restarts = boot.init().restarts("fs");
            k.injectFault(boot.init().serverDomain("fs"), "test kill after the open");
            while (boot.init().restarts("fs") == restarts || boot.init().serverDomain("fs").state() != Domain.RUNNING) {
                Thread.sleep(1);
            }
            assertEquals(Errno.ESTALE, errno(() -> fs.write(h, 0, fresh, 0, fresh.length)));
            byte[] now = get("/t"); // the truncation lost (or made durable by the clock's commit just before the kill)
            assertTrue(java.util.Arrays.equals(old, now) || now.length == 0, new String(now, StandardCharsets.UTF_8));
            put("/t", fresh); // opened again, on the file as it is now
            assertArrayEquals(fresh, get("/t"));
            assertEquals(Errno.EIO, errno(() -> fs.sync())); // the lost truncation, reported once
            fs.sync();
        });
    }

    /** The block driver killed while the fs server writes: its queue resumes where it stopped. */
    @Test
    void killingTheBlockDriverDelaysButLosesNothing() throws Exception {
        assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
            boot(freshDisk("blk.img"));
            Map<String, byte[]> model = new HashMap<>();
            Random r = new Random(5);
            for (int i = 0; i < 60; i++) {
                if (i % 10 == 5) {
                    // the last kill's restart may still wait out its backoff: kill the next incarnation
                    while (boot.init().serverDomain("blk").state() != isola.kernel.Domain.RUNNING) {
                        Thread.sleep(1);
                    }
                    k.injectFault(boot.init().serverDomain("blk"), "test kill of blk");
                }
                byte[] data = new byte[r.nextInt(200_000)];
                r.nextBytes(data);
                put("/g" + i, data);
                model.put("/g" + i, data);
            }
            fs.sync();
            for (var e : model.entrySet()) {
                assertArrayEquals(e.getValue(), get(e.getKey()));
            }
            assertTrue(boot.init().restarts("blk") >= 5);
            assertEquals(0, boot.init().restarts("fs"), "the fs server never noticed");
        });
        assertFsckClean();
    }

    /** A damaged superblock: the server stays up, every request names the block, and it is not restarted. */
    @Test
    void aDamagedDiskIsRefusedWithoutACrashLoop() throws Exception {
        Path bad = freshDisk("bad.img");
        try (RandomAccessFile f = new RandomAccessFile(bad.toFile(), "rw")) {
            f.seek(40);
            f.write(0x5a);
        }
        assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
            boot(bad);
            Fs.Error e = assertThrows(Fs.Error.class, () -> fs.list("/"));
            assertEquals(Errno.EUCLEAN, e.errno());
            assertTrue(e.getMessage().contains("superblock (block 0): checksum mismatch"), e.getMessage());
            Thread.sleep(200);
            assertEquals(0, boot.init().restarts("fs"));
            exitStatus = 1;
        });
    }
}
