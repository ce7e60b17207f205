package isola.sdk;

import static org.junit.jupiter.api.Assertions.*;

import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.KernelConfig;
import isola.kernel.Rights;
import isola.kernel.Status;
import isola.kernel.Tcb;
import isola.kernel.machine.ConcurrentMachine;
import isola.kernel.machine.HostedMachine;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two domains move data through frames both map, with a notification each way: the consumer
 * sees exactly what the producer wrote, at its own address, without a copy through the kernel;
 * its read-only mapping refuses writes.
 */
class SharedBufferTest {
    /** Slots: two page tables from TABLES on, the frame, the two notifications. */
    static final int TABLES = 0, FRAME = 2, READY = 3, DONE = 4;
    static final long PRODUCER_VA = 0x0000_0010_0000_0000L, CONSUMER_VA = 0x0000_0020_0040_0000L;
    final ConcurrentMachine machine = HostedMachine.concurrent(KernelConfig.DEFAULT);
    final Kernel k = machine.kernel();

    @AfterEach
    void close() {
        machine.close();
    }

    /** Links the two tables a 2 MiB page at {@code va} needs, and maps the frame in FRAME there. */
    static void map2M(Sys sys, long va, long flags) {
        sys.check(sys.linkTables(Sys.SELF, va, Sys.PAGE_2M, TABLES), "tables");
        sys.check(sys.map(Sys.SELF, FRAME, va, flags), "map");
    }

    @Test
    void aProducerAndAConsumerShareFramesAndSignal() throws Exception {
        Domain producer = k.createDomain("producer", 16, 16);
        Domain consumer = k.createDomain("consumer", 16, 16);
        k.setFrameQuota(producer, 1024);
        k.setFrameQuota(consumer, 8);
        k.installCap(producer, READY, k.createNotification(producer), Rights.ALL, 0);
        k.installCap(producer, DONE, k.createNotification(producer), Rights.ALL, 0);
        k.grantCap(producer, READY, consumer, READY, Rights.ALL, 0);
        k.grantCap(producer, DONE, consumer, DONE, Rights.ALL, 0);
        Tcb pt = k.createThread(producer, "producer", 10);
        machine.attach(pt);
        Sys ps = Sys.of(k, pt);
        ps.check(ps.frameAlloc(FRAME, Sys.PAGE_2M), "frame");
        map2M(ps, PRODUCER_VA, Sys.MAP_WRITE | Sys.MAP_USER);
        k.grantCap(producer, FRAME, consumer, FRAME, Rights.RECV, 0); // it may map it read-only only

        int rounds = 8;
        AtomicReference<Throwable> failed = new AtomicReference<>();
        long[] sums = new long[rounds];
        Tcb ct = k.createThread(consumer, "consumer", 10);
        Thread jt = machine.spawn(ct, () -> {
            try {
                Sys cs = Sys.of(k, ct);
                map2M(cs, CONSUMER_VA, Sys.MAP_USER);
                SharedBuffer in = new SharedBuffer(cs, CONSUMER_VA, Sys.PAGE_2M, READY);
                for (int r = 0; r < rounds; r++) {
                    in.awaitReady();
                    byte[] got = new byte[(int) Sys.PAGE_2M];
                    in.read(0, got, 0, got.length);
                    long sum = 0;
                    for (byte b : got) {
                        sum += b;
                    }
                    sums[r] = sum + in.getLong(8);
                    IsolaException ro = assertThrows(IsolaException.class, () -> in.putLong(0, 1));
                    assertEquals(Status.E_NO_RIGHTS, ro.status(), ro.getMessage());
                    cs.check(cs.signal(DONE), "done");
                }
            } catch (Throwable t) {
                failed.set(t);
            }
        });
        SharedBuffer out = new SharedBuffer(ps, PRODUCER_VA, Sys.PAGE_2M, READY);
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            pt.runner = Thread.currentThread(); // the hang guard's thread makes the producer's calls
            for (int r = 0; r < rounds; r++) {
                byte[] data = new byte[(int) Sys.PAGE_2M];
                java.util.Arrays.fill(data, (byte) (r + 1));
                out.write(0, data, 0, data.length);
                out.putLong(8, 1000L * r); // overwrites bytes 8..15
                out.publish();
                ps.check(ps.await(DONE), "wait for the consumer");
            }
            jt.join();
        });
        if (failed.get() != null) {
            throw new AssertionError("consumer failed", failed.get());
        }
        for (int r = 0; r < rounds; r++) {
            // every byte r + 1, but bytes 8..15 the long 1000 r; plus that long read as a long
            long expected = (long) (r + 1) * (Sys.PAGE_2M - 8) + sumOfLongBytes(1000L * r) + 1000L * r;
            assertEquals(expected, sums[r], "round " + r + ": the consumer saw what was published");
        }
        IsolaException outside = assertThrows(IsolaException.class, () -> out.getLong(Sys.PAGE_2M));
        assertTrue(outside.getMessage().contains("outside"), outside.getMessage());
    }

    /** The sum of a little-endian long's bytes, as signed bytes. */
    static long sumOfLongBytes(long v) {
        long s = 0;
        for (int i = 0; i < 8; i++) {
            s += (byte) (v >>> (8 * i));
        }
        return s;
    }
}
