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
import isola.kernel.Tcb;
import isola.sdk.Blk;
import isola.device.HostDisk;
import isola.sdk.IsolaException;
import isola.sdk.Sys;
import isola.sdk.VirtualMemory;
import java.io.ByteArrayOutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The block driver on its own, through its protocol: a client's region of shared frames,
 * requests of every size (the staging ring wraps, at its very end too), the data on the host
 * file afterwards, flushes, and bad requests, which fail naming the request and the blocks.
 */
class BlkDriverTest {
    static final int BLK = 0, FRAME = 1, COMPLETION = 2, DOORBELL = 3, TABLES = 4;
    static final long VA = 0x0000_0050_0000_0000L;

    @TempDir
    Path dir;

    static final String MANIFEST = """
            [server log]
            jar      = log.jar
            priority = 200
            provides = log

            [server blk]
            jar      = blk.jar
            priority = 190
            provides = blk
            grants   = disk0
            """;

    @Test
    void requestsThroughTheRing() throws Exception {
        Path image = dir.resolve("disk.img");
        try (var f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(4L << 20); // 1024 blocks, no file system: the driver does not care
        }
        PipedOutputStream keepOpen = new PipedOutputStream();
        try (Boot boot = Boot.start(DefaultImage.build(dir.resolve("boot.img"), MANIFEST), HostDisk.open(image, false),
                new PipedInputStream(keepOpen), new PrintStream(new ByteArrayOutputStream()), false).awaitBooted()) {
            assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
                Kernel k = boot.machine().kernel();
                Domain client = k.createDomain("client", 16, 16);
                k.setFrameQuota(client, 1024);
                boot.init().grantService("blk", client, BLK, 0xB1);
                Tcb t = k.createThread(client, "test", 100);
                boot.machine().attach(t);
                Sys sys = Sys.of(k, t);
                sys.check(sys.linkTables(Sys.SELF, VA, Sys.PAGE_2M, TABLES), "tables");
                sys.check(sys.frameAlloc(FRAME, Blk.REGION_SIZE), "frame");
                sys.check(sys.map(Sys.SELF, FRAME, VA, Sys.MAP_WRITE | Sys.MAP_USER | Sys.MAP_NO_EXEC), "map");
                sys.check(sys.createNotification(COMPLETION), "notification");
                Blk.Device disk = Blk.attach(sys, BLK, FRAME, VA, COMPLETION, DOORBELL);
                assertEquals(1024, disk.blocks());

                // Requests of many sizes, so the staging ring wraps, once exactly at its end.
                byte[] data = new byte[1024 * 4096];
                new Random(9).nextBytes(data);
                int[] sizes = {255, 255, 1, 1, 88, 200, 3, 221};
                int at = 0;
                for (int i = 0; at < 1024; i++) {
                    int n = Math.min(sizes[i % sizes.length], 1024 - at);
                    disk.write(at, n, MemorySegment.ofArray(data), (long) at * 4096);
                    at += n;
                }
                disk.flush();
                byte[] back = new byte[data.length];
                for (int b = 0; b < 1024; b += 100) {
                    int n = Math.min(100, 1024 - b);
                    disk.read(b, n, MemorySegment.ofArray(back), (long) b * 4096);
                }
                assertArrayEquals(data, back, "read back through the driver");
                try (HostDisk host = HostDisk.open(image, true)) {
                    byte[] onDisk = new byte[data.length];
                    host.read(0, 1024, MemorySegment.ofArray(onDisk), 0);
                    assertArrayEquals(data, onDisk, "on the host file");
                }

                // The client refuses a range off the disk before it reaches the ring.
                IsolaException range = assertThrows(IsolaException.class,
                        () -> disk.write(1023, 2, MemorySegment.ofArray(data), 0));
                assertEquals(Status.E_INVALID_ARG, range.status());
                assertTrue(range.getMessage().contains("blocks 1023..1024"), range.getMessage());

                // A descriptor the driver must refuse, written into the ring by hand.
                VirtualMemory m = sys.memory();
                long id = m.getLong(VA + Blk.SUBMITTED);
                long d = Blk.descriptor(VA, id);
                m.putInt(d, Blk.READ);
                m.putInt(d + 4, 4);
                m.putLong(d + 8, 1022); // past the end
                m.putLong(d + 16, Blk.STAGING);
                m.putInt(d + 24, 0);
                m.putLong(VA + Blk.SUBMITTED, id + 1);
                sys.check(sys.signal(DOORBELL), "doorbell");
                while (m.getLong(VA + Blk.COMPLETED) < id + 1) {
                    sys.await(COMPLETION, 1_000_000_000L);
                }
                assertEquals(id + 1, m.getLong(VA + Blk.FAILED));
                byte[] message = new byte[(int) m.getLong(VA + Blk.MESSAGE_LENGTH)];
                m.read(VA + Blk.MESSAGE, message, 0, message.length);
                String text = new String(message, java.nio.charset.StandardCharsets.UTF_8);
                assertTrue(text.contains("blocks 1022..1025 are outside the disk of 1024 blocks"), text);
                // and the next wait of the client reports it, naming the request
                UncheckedIOException failed = assertThrows(UncheckedIOException.class, disk::flush);
                assertTrue(failed.getMessage().contains("blk request " + (id + 1)), failed.getMessage());
            });
            keepOpen.close();
        }
    }
}
