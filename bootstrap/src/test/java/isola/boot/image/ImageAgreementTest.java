package isola.boot.image;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.*;

import isola.boot.image.ImageWriter.ImageEntry;
import isola.kernel.initrd.Initrd;
import isola.kernel.initrd.InitrdException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveInputStream;
import org.apache.commons.compress.archivers.cpio.CpioArchiveOutputStream;
import org.apache.commons.compress.archivers.cpio.CpioConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The three cpio implementations in play agree on the same archives: our kernel reader
 * ({@link Initrd}), Commons Compress (behind {@link ImageWriter}) and GNU cpio, which is what
 * people will use to inspect or build images by hand.
 */
class ImageAgreementTest {
    static final int MIB = 1 << 20;

    @TempDir Path tmp;

    // ---- (a) what ImageWriter writes, everyone reads the same

    static List<ImageEntry> sampleEntries() {
        return List.of(
                new ImageEntry("boot/kernel.cfg", "console=ttyS0\n".getBytes(UTF_8)),
                new ImageEntry("names.jar", random(1000, 1)),
                new ImageEntry("empty", new byte[0]),
                new ImageEntry("odd/size/three", new byte[] {1, 2, 3}),
                new ImageEntry(".hidden", "x".getBytes(UTF_8)),
                new ImageEntry("big.bin", random(MIB, 2)));
    }

    @Test
    void writerIsReproducible() throws IOException {
        byte[] image = ImageWriter.toBytes(sampleEntries());
        assertArrayEquals(image, ImageWriter.toBytes(sampleEntries()));
        Path out = tmp.resolve("boot.img");
        ImageWriter.write(out, sampleEntries());
        assertArrayEquals(image, Files.readAllBytes(out));
        assertEquals(0, image.length % 512, "padded to 512-byte blocks like GNU cpio");
    }

    @Test
    void ourReaderReadsWriterOutput() {
        Initrd rd = Initrd.parse("boot.img", ImageWriter.toBytes(sampleEntries()));
        assertSameFiles(expected(sampleEntries()), contents(rd));
        for (Initrd.Entry e : rd.entries()) assertEquals(0100644, e.mode(), e.path());
    }

    @Test
    void commonsCompressReadsWriterOutput() throws IOException {
        byte[] image = ImageWriter.toBytes(sampleEntries());
        Map<String, byte[]> got = new LinkedHashMap<>();
        try (CpioArchiveInputStream in = new CpioArchiveInputStream(new ByteArrayInputStream(image), "UTF-8")) {
            long inode = 1;
            for (CpioArchiveEntry e; (e = in.getNextEntry()) != null; ) {
                assertEquals(CpioConstants.FORMAT_NEW, e.getFormat());
                assertEquals(0100644, e.getMode(), e.getName());
                assertEquals(0, e.getTime());
                assertEquals(0, e.getUID());
                assertEquals(0, e.getGID());
                assertEquals(1, e.getNumberOfLinks());
                assertEquals(inode++, e.getInode());
                got.put(e.getName(), in.readAllBytes());
            }
        }
        assertSameFiles(expected(sampleEntries()), got);
    }

    @Test
    void gnuCpioListsAndExtractsWriterOutput() throws IOException {
        Path image = tmp.resolve("boot.img");
        ImageWriter.write(image, sampleEntries());

        Path listing = tmp.resolve("listing.txt");
        gnuCpio(tmp, image, listing, "-i", "--list", "--quiet");
        assertEquals(List.copyOf(expected(sampleEntries()).keySet()), Files.readAllLines(listing, UTF_8));

        Path into = Files.createDirectory(tmp.resolve("extracted"));
        gnuCpio(into, image, tmp.resolve("extract.out"), "-idm", "--no-absolute-filenames", "--quiet");
        assertSameFiles(new TreeMap<>(expected(sampleEntries())), new TreeMap<>(treeContents(into)));
    }

    // ---- (b) what GNU cpio writes, our reader reads the same

    @Test
    void ourReaderReadsGnuNewc() throws IOException {
        Path tree = sampleTree();
        Initrd rd = Initrd.parse("gnu.newc", gnuArchive(tree, "newc"));
        assertSameFiles(treeContents(tree), contents(rd));
        assertEquals(treeDirectories(tree), rd.entries().stream().filter(Initrd.Entry::isDirectory).map(Initrd.Entry::path).toList());
    }

    // ---- (c) GNU's crc variant: checksums verified

    @Test
    void ourReaderVerifiesGnuCrcChecksums() throws IOException {
        Path tree = sampleTree();
        byte[] image = gnuArchive(tree, "crc");
        assertEquals("070702", new String(image, 0, 6, UTF_8));
        Initrd rd = Initrd.parse("gnu.crc", image);
        assertSameFiles(treeContents(tree), contents(rd));

        for (String victim : List.of("big.bin", "etc/odd.txt")) {
            Initrd.Entry e = rd.find(victim);
            byte[] corrupt = image.clone();
            corrupt[e.offset() + e.size() / 2] ^= 0x10;
            InitrdException x = assertThrows(InitrdException.class, () -> Initrd.parse("gnu.crc", corrupt));
            assertTrue(x.getMessage().startsWith("gnu.crc: entry "), x.getMessage());
            assertTrue(x.getMessage().contains("\"" + victim + "\""), x.getMessage());
            assertTrue(x.getMessage().contains("checksum mismatch"), x.getMessage());
        }
    }

    // ---- writer and reader refuse the same names

    @Test
    void writerAndReaderRejectTheSameNames() throws IOException {
        for (String bad : List.of("/abs", "../up", "a/../b", "a//b", "a/", "a/./b", "a\\b", "")) {
            IllegalArgumentException w = assertThrows(IllegalArgumentException.class,
                    () -> ImageWriter.toBytes(List.of(new ImageEntry("ok", new byte[0]), new ImageEntry(bad, new byte[1]))));
            assertTrue(w.getMessage().startsWith("image entry 1 \"" + bad + "\": "), w.getMessage());
            String problem = w.getMessage().substring(w.getMessage().indexOf("\": ") + 3);

            // The same name in an archive Commons Compress writes without complaint; the kernel refuses it alike.
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (CpioArchiveOutputStream cpio = new CpioArchiveOutputStream(out, CpioConstants.FORMAT_NEW)) {
                CpioArchiveEntry e = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, bad, 1);
                e.setMode(0100644);
                cpio.putArchiveEntry(e);
                cpio.write(7);
                cpio.closeArchiveEntry();
            }
            InitrdException r = assertThrows(InitrdException.class, () -> Initrd.parse("bad.img", out.toByteArray()));
            assertTrue(r.getMessage().startsWith("bad.img: entry 0 "), r.getMessage());
            assertTrue(r.getMessage().endsWith("bad name: " + problem), r.getMessage() + " vs " + problem);
        }
    }

    @Test
    void writerRejectsDuplicatesAndFileParents() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ImageWriter.toBytes(
                List.of(new ImageEntry("a", new byte[0]), new ImageEntry("a", new byte[0]))));
        assertEquals("image entry 1 \"a\": duplicate path", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ImageWriter.toBytes(
                List.of(new ImageEntry("a/b/c", new byte[0]), new ImageEntry("a/b", new byte[0]))));
        assertEquals("image entry 0 \"a/b/c\": parent \"a/b\" is a file", e.getMessage());
    }

    // ---- helpers

    static byte[] random(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    static Map<String, byte[]> expected(List<ImageEntry> entries) {
        Map<String, byte[]> m = new LinkedHashMap<>();
        for (ImageEntry e : entries) m.put(e.path(), e.data());
        return m;
    }

    /** Files of an image in archive order (directories left out). */
    static Map<String, byte[]> contents(Initrd rd) {
        Map<String, byte[]> m = new LinkedHashMap<>();
        for (Initrd.Entry e : rd.entries()) if (e.isFile()) m.put(e.path(), rd.read(e.path()));
        return m;
    }

    /** Same paths in the same order, and each file's bytes equal. */
    static void assertSameFiles(Map<String, byte[]> expected, Map<String, byte[]> actual) {
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(actual.keySet()));
        expected.forEach((path, data) -> assertArrayEquals(data, actual.get(path), path));
    }

    /** Nested directories, an empty directory, an empty file, odd sizes and a 1 MiB file. */
    Path sampleTree() throws IOException {
        Path tree = Files.createDirectory(tmp.resolve("tree"));
        Files.createDirectories(tree.resolve("etc/deep/er/est"));
        Files.createDirectories(tree.resolve("empty-dir"));
        Files.write(tree.resolve("etc/empty"), new byte[0]);
        Files.write(tree.resolve("etc/odd.txt"), "hello".getBytes(UTF_8));
        Files.write(tree.resolve("etc/deep/er/est/leaf"), "leaf\n".getBytes(UTF_8));
        Files.write(tree.resolve("top.bin"), random(4097, 3));
        Files.write(tree.resolve("big.bin"), random(MIB, 4));
        return tree;
    }

    /** Relative paths under {@code tree}, parents first, sorted; {@code "."} excluded. */
    static List<String> walk(Path tree) throws IOException {
        try (Stream<Path> s = Files.walk(tree)) {
            return s.filter(p -> !p.equals(tree)).map(p -> tree.relativize(p).toString().replace(File.separatorChar, '/')).sorted().toList();
        }
    }

    static Map<String, byte[]> treeContents(Path tree) throws IOException {
        Map<String, byte[]> m = new LinkedHashMap<>();
        for (String p : walk(tree)) if (Files.isRegularFile(tree.resolve(p))) m.put(p, Files.readAllBytes(tree.resolve(p)));
        return m;
    }

    static List<String> treeDirectories(Path tree) throws IOException {
        return walk(tree).stream().filter(p -> Files.isDirectory(tree.resolve(p))).toList();
    }

    /**
     * Archives {@code tree} with {@code cpio -o -H format}, fed names the way {@code find .} prints
     * them; GNU cpio strips the {@code ./} but keeps {@code .}, the root, as the first entry.
     */
    byte[] gnuArchive(Path tree, String format) throws IOException {
        List<String> names = new ArrayList<>(List.of("."));
        for (String p : walk(tree)) names.add("./" + p);
        Path list = tmp.resolve(format + ".list");
        Files.write(list, names, UTF_8);
        Path archive = tmp.resolve("gnu." + format);
        gnuCpio(tree, list, archive, "-o", "-H", format, "--quiet");
        return Files.readAllBytes(archive);
    }

    /** Runs GNU cpio in {@code dir} with files as stdin and stdout; fails on error or after a minute. */
    void gnuCpio(Path dir, Path stdin, Path stdout, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(gnuCpioExecutable().toString()));
        command.addAll(List.of(args));
        Path stderr = Files.createTempFile(tmp, "cpio", ".err");
        Process p = new ProcessBuilder(command).directory(dir.toFile())
                .redirectInput(stdin.toFile()).redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).start();
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail(command + " did not finish within 60 s");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            fail("interrupted while running " + command);
        }
        assertEquals(0, p.exitValue(), () -> command + " failed: " + readQuietly(stderr));
    }

    static String readQuietly(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "(stderr unreadable: " + e + ")";
        }
    }

    /** GNU cpio is a hard requirement of this test: missing, it fails rather than skipping silently. */
    static Path gnuCpioExecutable() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (dir.isEmpty()) continue;
            Path candidate = Path.of(dir, "cpio");
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) return candidate;
        }
        return fail("GNU cpio is not on the PATH (" + System.getenv("PATH") + "); "
                + "install the Debian package `cpio` (sudo apt-get install cpio)");
    }
}
