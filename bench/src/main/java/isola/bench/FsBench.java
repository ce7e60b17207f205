package isola.bench;

import isola.boot.Boot;
import isola.boot.DiskImage;
import isola.boot.fuse.FsClients;
import isola.boot.image.DefaultImage;
import isola.kernel.Domain;
import isola.sdk.Fs;
import isola.device.HostDisk;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The file system server against the host's file system, the same workloads in the same run,
 * single-shot (one workload per iteration). Isola runs booted in-process (the default image:
 * block driver and fs server in their own domains) on a 64 MiB disk image; a host-side client
 * calls the fs server through its 2 MiB shared buffer, as the shell and FUSE do. The host's
 * workloads run on the same host file system, in the directory that holds the image.
 * <ul>
 *   <li>{@link #seqWrite}: a 32 MiB file written in 1 MiB pieces, then fsync; baseline
 *       {@link #hostSeqWrite}, with FileChannel. {@link #seqWriteBuffered} and
 *       {@link #hostSeqWriteBuffered}: the same without the fsync (what the page cache takes).
 *   <li>{@link #seqRead}: the 32 MiB file read back in 1 MiB pieces into memory the reader owns:
 *       the client's shared buffer, where it reads them in place; baseline {@link #hostSeqRead}, into
 *       a direct ByteBuffer (the kernel's one copy from its page cache). Both serve from a cache:
 *       the host's page cache, the fs server's buffer cache. {@link #seqReadToHeap} and
 *       {@link #hostSeqReadToHeap}: the same, each side then copying into a Java array.
 *   <li>{@link #smallFiles}: 100 new files of 4 KiB, each created, written and fsync'd; baseline
 *       {@link #hostSmallFiles}.
 *   <li>{@link #crashToServing}: a fault injected into the fs server with committed
 *       transactions in its journal, until a client's stat is answered by the next incarnation,
 *       which mounted the disk and replayed the journal first.
 * </ul>
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
    "-Xms1g", "-Xmx1g"})
// A workload is a few dozen calls, and the servers' code needs thousands to be compiled: the
// short workloads warm up longer.
@Warmup(iterations = 40)
@Measurement(iterations = 20)
@Threads(1)
public class FsBench {
    static final int FILE_BYTES = 32 << 20;
    static final int PIECE = 1 << 20;
    static final int SMALL_FILES = 100;
    static final int SMALL_BYTES = 4096;
    static final long DISK_BYTES = 64L << 20;
    /** Unmeasured pause after a crash, so the next one finds the server's next incarnation prepared. */
    static final long SETTLE_MS = 200;

    /** The booted system, its disk, and a client; the host's directory for the baselines. */
    @State(Scope.Benchmark)
    public static class Sys {
        Path dir;
        Path image;
        PipedOutputStream keepOpen;
        Boot boot;
        Fs.Client fs;
        final byte[] data = new byte[PIECE];
        final ByteBuffer direct = ByteBuffer.allocateDirect(PIECE);
        /** What the in-place reader does with each run it is handed: notes its last byte. */
        long touched;
        final isola.sdk.VirtualMemory.Run touch = (run, at) -> touched += run.get(java.lang.foreign.ValueLayout.JAVA_BYTE, run.byteSize() - 1);
        int round;

        @Setup(Level.Trial)
        public void boot() throws Exception {
            dir = Files.createDirectories(Path.of("target", "bench", "fs").toAbsolutePath());
            image = dir.resolve("isola-bench.img");
            DiskImage.mkfs(image, DISK_BYTES);
            Path bootImage = dir.resolve("boot.img");
            // Restarted at once on every crash, however often.
            DefaultImage.build(bootImage, DefaultImage.defaultManifest()
                    .replace("provides = fs, fs-attach\n", "provides = fs, fs-attach\nmax-restarts = 1000\nbackoff = 0ms\n"));
            keepOpen = new PipedOutputStream();
            boot = Boot.start(bootImage, HostDisk.open(image, false), new PipedInputStream(keepOpen),
                    new PrintStream(new ByteArrayOutputStream()), false).awaitBooted();
            Domain client = boot.machine().kernel().createDomain("bench", 64, 16);
            boot.machine().kernel().setFrameQuota(client, 4096);
            fs = FsClients.newClient(boot, client, 0, "bench");
            new Random(1).nextBytes(data);
            fs.mkdir("/bench", 0755);
            writeFile(this, "/bench/seq", true);
            try (FileChannel c = FileChannel.open(dir.resolve("host-seq"), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                hostWrite(c, data, true);
            }
        }

        @TearDown(Level.Trial)
        public void shutdown() throws IOException {
            keepOpen.close();
            boot.awaitExit();
            boot.close(); // and the disk
            Files.deleteIfExists(dir.resolve("host-seq"));
        }

        /** After each iteration of the small-file workloads: their files go (unmeasured). */
        @TearDown(Level.Iteration)
        public void removeSmallFiles() throws IOException {
            for (Fs.Entry e : fs.list("/bench")) {
                if (e.name().startsWith("small-")) {
                    fs.unlink("/bench/" + e.name());
                }
            }
            try (var s = Files.list(dir)) {
                for (Path p : s.filter(p -> p.getFileName().toString().startsWith("host-small-")).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    static long writeFile(Sys s, String path, boolean fsync) {
        long h = s.fs.open(path, Fs.CREATE | Fs.TRUNCATE_FLAG, 0644);
        for (int at = 0; at < FILE_BYTES; at += PIECE) {
            s.fs.write(h, at, s.data, 0, PIECE);
        }
        if (fsync) {
            s.fs.fsync(h);
        }
        return h;
    }

    static void hostWrite(FileChannel c, byte[] data, boolean fsync) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(data);
        for (int at = 0; at < FILE_BYTES; at += PIECE) {
            b.clear();
            while (b.hasRemaining()) {
                c.write(b, at + b.position());
            }
        }
        if (fsync) {
            c.force(false);
        }
    }

    @Benchmark
    @Warmup(iterations = 60)
    public long seqWrite(Sys s) {
        return writeFile(s, "/bench/seq", true);
    }

    @Benchmark
    @Warmup(iterations = 60)
    public long hostSeqWrite(Sys s) throws IOException {
        try (FileChannel c = FileChannel.open(s.dir.resolve("host-seq"), StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            hostWrite(c, s.data, true);
            return c.size();
        }
    }

    @Benchmark
    @Warmup(iterations = 60)
    public long seqWriteBuffered(Sys s) {
        return writeFile(s, "/bench/seq", false);
    }

    @Benchmark
    @Warmup(iterations = 60)
    public long hostSeqWriteBuffered(Sys s) throws IOException {
        try (FileChannel c = FileChannel.open(s.dir.resolve("host-seq"), StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            hostWrite(c, s.data, false);
            return c.size();
        }
    }

    /** Into memory the client owns, in place: its shared buffer (as read(2) fills a buffer the caller owns). */
    @Benchmark
    @Warmup(iterations = 300)
    public long seqRead(Sys s) {
        long h = s.fs.open("/bench/seq", 0, 0);
        long sum = 0;
        for (int at = 0; at < FILE_BYTES; at += PIECE) {
            sum += s.fs.readInPlace(h, at, PIECE, s.touch);
        }
        return sum + s.touched;
    }

    /** Into a direct buffer: the kernel's one copy, from its page cache to memory the caller owns. */
    @Benchmark
    @Warmup(iterations = 300)
    public long hostSeqRead(Sys s) throws IOException {
        try (FileChannel c = FileChannel.open(s.dir.resolve("host-seq"), StandardOpenOption.READ)) {
            return hostRead(c, s.direct);
        }
    }

    /** The same, then into a Java array (the client copies from its buffer). */
    @Benchmark
    @Warmup(iterations = 300)
    public long seqReadToHeap(Sys s) {
        long h = s.fs.open("/bench/seq", 0, 0);
        long sum = 0;
        for (int at = 0; at < FILE_BYTES; at += PIECE) {
            sum += s.fs.read(h, at, s.data, 0, PIECE);
        }
        return sum;
    }

    /** Into a heap ByteBuffer (the JDK reads into a direct buffer of its own and copies). */
    @Benchmark
    @Warmup(iterations = 300)
    public long hostSeqReadToHeap(Sys s) throws IOException {
        try (FileChannel c = FileChannel.open(s.dir.resolve("host-seq"), StandardOpenOption.READ)) {
            return hostRead(c, ByteBuffer.wrap(s.data));
        }
    }

    static long hostRead(FileChannel c, ByteBuffer b) throws IOException {
        long sum = 0;
        for (int at = 0; at < FILE_BYTES; at += PIECE) {
            b.clear();
            while (b.hasRemaining()) {
                int n = c.read(b, at + b.position());
                if (n < 0) {
                    break;
                }
                sum += n;
            }
        }
        return sum;
    }

    @Benchmark
    public long smallFiles(Sys s) {
        int r = s.round++;
        for (int i = 0; i < SMALL_FILES; i++) {
            long h = s.fs.open("/bench/small-" + r + "-" + i, Fs.CREATE | Fs.EXCLUSIVE, 0644);
            s.fs.write(h, 0, s.data, 0, SMALL_BYTES);
            s.fs.fsync(h);
        }
        return r;
    }

    @Benchmark
    public long hostSmallFiles(Sys s) throws IOException {
        int r = s.round++;
        ByteBuffer b = ByteBuffer.wrap(s.data, 0, SMALL_BYTES);
        for (int i = 0; i < SMALL_FILES; i++) {
            try (FileChannel c = FileChannel.open(s.dir.resolve("host-small-" + r + "-" + i), StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE)) {
                b.clear();
                while (b.hasRemaining()) {
                    c.write(b);
                }
                c.force(false);
            }
        }
        return r;
    }

    /** Before each crash (unmeasured): the system at rest, with committed transactions in the journal. */
    @State(Scope.Benchmark)
    public static class Crash {
        @Setup(Level.Invocation)
        public void prepare(Sys s) throws InterruptedException {
            Thread.sleep(SETTLE_MS);
            for (int i = 0; i < 20; i++) {
                long h = s.fs.open("/bench/journaled-" + i, Fs.CREATE | Fs.TRUNCATE_FLAG, 0644);
                s.fs.write(h, 0, s.data, 0, 1000);
            }
            s.fs.sync();
        }
    }

    @Benchmark
    @Warmup(iterations = 10)
    public long crashToServing(Sys s, Crash c) {
        Domain fsDomain = s.boot.init().serverDomain("fs");
        s.boot.machine().kernel().injectFault(fsDomain, "bench: crash of fs");
        // The client's next call finds the new incarnation: it attaches its buffer again and asks.
        return s.fs.stat("/bench/journaled-19").size();
    }
}
