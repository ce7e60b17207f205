package isola.kernel.initrd;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class InitrdTest {
    static final int FILE = 0100644, DIR = 040755;

    /** Builds cpio newc/crc archives by hand, so tests can write every field, right or wrong. */
    static final class Cpio {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        int ino = 1;

        Cpio file(String name, String data) {
            return entry("070701", name, FILE, 1, data.getBytes(UTF_8), 0);
        }

        Cpio dir(String name) {
            return entry("070701", name, DIR, 2, new byte[0], 0);
        }

        Cpio entry(String magic, String name, int mode, int nlink, byte[] data, long check) {
            header(magic, mode, nlink, data.length, name.getBytes(UTF_8).length + 1, check);
            raw(name.getBytes(UTF_8)).raw(new byte[] {0}).pad();
            return raw(data).pad();
        }

        Cpio header(String magic, int mode, int nlink, long fileSize, long nameSize, long check) {
            StringBuilder h = new StringBuilder(magic);
            for (long f : new long[] {ino++, mode, 0, 0, nlink, 0, fileSize, 0, 0, 0, 0, nameSize, check}) {
                h.append(String.format("%08x", f));
            }
            return raw(h.toString().getBytes(UTF_8));
        }

        Cpio trailer() {
            return entry("070701", "TRAILER!!!", 0, 1, new byte[0], 0);
        }

        Cpio raw(byte[] b) {
            out.writeBytes(b);
            return this;
        }

        Cpio pad() {
            while (out.size() % 4 != 0) out.write(0);
            return this;
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }

    static long sum(byte[] data) {
        long s = 0;
        for (byte b : data) s += b & 0xff;
        return s;
    }

    /** Asserts parsing fails and the message names the image, the entry and each given fragment. */
    static void assertFails(byte[] image, String... fragments) {
        InitrdException e = assertThrows(InitrdException.class, () -> Initrd.parse("boot.img", image));
        assertTrue(e.getMessage().startsWith("boot.img: "), e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), () -> "\"" + f + "\" not in: " + e.getMessage());
    }

    @Test
    void goodArchiveParsesExactly() {
        byte[] image = new Cpio().dir("etc").file("etc/motd", "hello").file("empty", "").file("./names.jar", "PK!")
                .trailer().bytes();
        Initrd rd = Initrd.parse("boot.img", image);
        List<Initrd.Entry> es = rd.entries();
        assertEquals(List.of("etc", "etc/motd", "empty", "names.jar"), es.stream().map(Initrd.Entry::path).toList());
        assertEquals(List.of(DIR, FILE, FILE, FILE), es.stream().map(Initrd.Entry::mode).toList());
        assertEquals(List.of(0, 5, 0, 3), es.stream().map(Initrd.Entry::size).toList());
        assertTrue(es.get(0).isDirectory() && !es.get(0).isFile());
        assertTrue(es.get(1).isFile() && !es.get(1).isDirectory());
        // Header 110 + "etc\0" = 114, padded to 116; then 116 + 110 + "etc/motd\0" = 235, padded to 236.
        assertEquals(236, es.get(1).offset());
        assertEquals("hello", new String(Arrays.copyOfRange(image, es.get(1).offset(), es.get(1).offset() + 5), UTF_8));
        assertArrayEquals("hello".getBytes(UTF_8), rd.read("etc/motd"));
        assertArrayEquals(new byte[0], rd.read("empty"));
        assertArrayEquals("PK!".getBytes(UTF_8), rd.find("names.jar").data());
        assertNull(rd.find("./names.jar"));
        assertNull(rd.find("nope"));
        assertEquals(0, es.get(0).data().length);
        assertThrows(UnsupportedOperationException.class, () -> es.remove(0));
        byte[] copy = rd.read("etc/motd");
        copy[0] = 'J';
        assertArrayEquals("hello".getBytes(UTF_8), rd.read("etc/motd"), "read must hand out a copy");
    }

    @Test
    void readNamesImageAndPath() {
        Initrd rd = Initrd.parse("boot.img", new Cpio().dir("etc").trailer().bytes());
        InitrdException e = assertThrows(InitrdException.class, () -> rd.read("etc/passwd"));
        assertEquals("boot.img: no file \"etc/passwd\" in the image", e.getMessage());
        e = assertThrows(InitrdException.class, () -> rd.read("etc"));
        assertEquals("boot.img: \"etc\" is a directory, not a file", e.getMessage());
    }

    @Test
    void rootDotDirectoryIsNotListed() {
        Initrd rd = Initrd.parse("boot.img", new Cpio().dir(".").dir("./bin").file("./bin/sh", "#!").trailer().bytes());
        assertEquals(List.of("bin", "bin/sh"), rd.entries().stream().map(Initrd.Entry::path).toList());
    }

    @Test
    void onlyTrailerIsAnEmptyArchive() {
        assertTrue(Initrd.parse("boot.img", new Cpio().trailer().bytes()).entries().isEmpty());
    }

    @Test
    void exactMessageFormat() {
        Cpio c = new Cpio().file("a", "x").file("b", "y").file("c", "z");
        int at = c.out.size();
        c.header("070701", FILE, 1, 0x9999, "names.jar".length() + 1, 0).raw("names.jar\0".getBytes(UTF_8));
        byte[] image = c.bytes();
        InitrdException e = assertThrows(InitrdException.class, () -> Initrd.parse("boot.img", image));
        assertEquals("boot.img: entry 3 \"names.jar\" at offset 0x" + Integer.toHexString(at)
                + ": file size 0x9999 runs past the end of the image (" + image.length + " bytes)", e.getMessage());
    }

    @Test
    void emptyImage() {
        assertFails(new byte[0], "empty image");
    }

    @Test
    void truncatedHeader() {
        byte[] whole = new Cpio().file("a", "x").trailer().bytes();
        assertFails(Arrays.copyOf(whole, 50), "entry 0 at offset 0x0", "truncated header: 50 of 110 bytes");
        byte[] cutInSecond = Arrays.copyOf(whole, 116 + 60);
        assertFails(cutInSecond, "entry 1 at offset 0x74", "truncated header: 60 of 110");
    }

    @Test
    void wrongMagicShowsWhatWasFound() {
        byte[] image = new Cpio().file("a", "x").trailer().bytes();
        image[5] = '7';
        assertFails(image, "entry 0 at offset 0x0", "bad magic \"070707\"", "odc");
        byte[] zip = Arrays.copyOf("PK\3\4garbage".getBytes(UTF_8), 200);
        assertFails(zip, "bad magic \"PK\\x03\\x04ga\"");
    }

    @Test
    void nonHexHeaderField() {
        byte[] image = new Cpio().file("a", "x").trailer().bytes();
        image[6 + 8 * 6 + 3] = 'g'; // c_filesize of entry 0
        assertFails(image, "entry 0 at offset 0x0", "c_filesize", "not 8 hex digits", "\"000g0001\"");
    }

    @Test
    void nameSizeZero() {
        byte[] image = new Cpio().header("070701", FILE, 1, 0, 0, 0).raw(new byte[8]).trailer().bytes();
        assertFails(image, "entry 0 at offset 0x0", "name size is 0");
    }

    @Test
    void nameNotNulTerminated() {
        byte[] image = new Cpio().file("ok", "").header("070701", FILE, 1, 0, 4, 0).raw("abcd".getBytes(UTF_8))
                .trailer().bytes();
        assertFails(image, "entry 1 at offset 0x74", "not NUL-terminated");
    }

    @Test
    void nameWithEmbeddedNul() {
        byte[] image = new Cpio().header("070701", FILE, 1, 0, 4, 0).raw("a\0b\0".getBytes(UTF_8)).pad().trailer().bytes();
        assertFails(image, "entry 0 at offset 0x0", "NUL byte at offset 0x6f");
    }

    @Test
    void nameNotUtf8() {
        byte[] image = new Cpio().header("070701", FILE, 1, 0, 3, 0).raw(new byte[] {'a', (byte) 0xff, 0}).pad()
                .trailer().bytes();
        assertFails(image, "entry 0 at offset 0x0", "not valid UTF-8", "\"a\\xff\"");
    }

    @Test
    void nameRunsPastEnd() {
        byte[] image = new Cpio().header("070701", FILE, 1, 0, 0x500, 0).raw("short\0".getBytes(UTF_8)).bytes();
        assertFails(image, "entry 0 at offset 0x0", "name size 0x500 runs past the end of the image (" + image.length + " bytes)");
    }

    @Test
    void dataRunsPastEnd() {
        byte[] image = new Cpio().file("ok", "").header("070701", FILE, 1, 0x9999, 6, 0).raw("k.bin\0".getBytes(UTF_8))
                .raw(new byte[100]).bytes();
        assertFails(image, "entry 1 \"k.bin\" at offset 0x74", "file size 0x9999 runs past the end of the image");
    }

    @Test
    void missingTrailer() {
        assertFails(new Cpio().file("a", "x").bytes(), "entry 1 at offset 0x74", "missing TRAILER!!!");
        byte[] zeroPadded = Arrays.copyOf(new Cpio().file("a", "x").bytes(), 512);
        assertFails(zeroPadded, "entry 1 at offset 0x74", "missing TRAILER!!!", "zero padding");
    }

    @Test
    void trailerWithData() {
        byte[] image = new Cpio().entry("070701", "TRAILER!!!", 0, 1, new byte[] {1}, 0).bytes();
        assertFails(image, "entry 0 \"TRAILER!!!\"", "trailer has file size 0x1");
    }

    @Test
    void zeroPaddingAfterTrailerIsAccepted() {
        byte[] image = Arrays.copyOf(new Cpio().file("a", "x").trailer().bytes(), 512);
        assertArrayEquals(new byte[] {'x'}, Initrd.parse("boot.img", image).read("a"));
    }

    @Test
    void garbageAfterTrailerIsRejected() {
        byte[] image = Arrays.copyOf(new Cpio().file("a", "x").trailer().bytes(), 512);
        image[400] = 'G';
        assertFails(image, "entry 1 \"TRAILER!!!\" at offset 0x74", "non-zero byte 0x47 at offset 0x190", "only zero padding");
    }

    @Test
    void nonZeroPaddingIsRejected() {
        byte[] image = new Cpio().file("a", "x").trailer().bytes();
        image[113] = 7; // the pad after the 1-byte data, which ends at 112 + 1
        assertFails(image, "entry 0 \"a\"", "non-zero byte 0x7 at offset 0x71 in the padding after the data");
    }

    @Test
    void namesThatEscapeTheArchive() {
        String[][] cases = {
            {"/etc/passwd", "absolute path"},
            {"../up", "\"..\" path component"},
            {"a/../../up", "\"..\" path component"},
            {"a/..", "\"..\" path component"},
            {"a//b", "empty path component"},
            {"a/", "empty path component"},
            {"a/./b", "\".\" path component"},
            {"a\\b", "backslash"},
            {"./", "empty path"},
            {"tab\there", "control character 0x9"},
        };
        for (String[] c : cases) {
            byte[] image = new Cpio().file("fine", "").file(c[0], "x").trailer().bytes();
            assertFails(image, "entry 1 \"" + c[0].replace("\t", "\\x09").replace("\\b", "\\x5cb") + "\"", "bad name: " + c[1]);
            assertTrue(InitrdPath.problem(InitrdPath.normalize(c[0])).startsWith(c[1]), c[0]);
        }
    }

    @Test
    void pathValidatorAcceptsNormalPaths() {
        for (String ok : List.of("a", "a/b/c", "..a", "a..", ".hidden", "a/.b", "names.jar", "übung/ß")) {
            assertNull(InitrdPath.problem(ok), ok);
        }
    }

    @Test
    void duplicatePaths() {
        byte[] image = new Cpio().file("a", "1").file("b", "2").file("./a", "3").trailer().bytes();
        assertFails(image, "entry 2 \"./a\"", "duplicate path \"a\"; entry 0 has it too");
    }

    @Test
    void fileUsedAsParent() {
        byte[] image = new Cpio().file("a/b", "1").file("a", "2").trailer().bytes();
        assertFails(image, "entry 0 \"a/b\"", "parent \"a\" is a file (entry 1)");
    }

    @Test
    void unsupportedTypesAreNamed() {
        Object[][] cases = {
            {0120777, "symbolic link (mode 0120777)"},
            {0020644, "character device"},
            {0060644, "block device"},
            {0010644, "FIFO"},
            {0140755, "socket"},
            {0000644, "unknown file type 0"},
        };
        for (Object[] c : cases) {
            byte[] image = new Cpio().entry("070701", "dev/thing", (int) c[0], 1, "target".getBytes(UTF_8), 0).trailer().bytes();
            assertFails(image, "entry 0 \"dev/thing\"", (String) c[1], "not supported");
        }
    }

    @Test
    void directoryWithDataIsRejected() {
        byte[] image = new Cpio().entry("070701", "d", DIR, 2, "x".getBytes(UTF_8), 0).trailer().bytes();
        assertFails(image, "entry 0 \"d\"", "directory has file size 0x1");
    }

    @Test
    void hardLinksAreRejected() {
        byte[] image = new Cpio().entry("070701", "a", FILE, 2, "x".getBytes(UTF_8), 0).trailer().bytes();
        assertFails(image, "entry 0 \"a\"", "hard link (c_nlink 2)");
    }

    @Test
    void crcChecksumsAreVerified() {
        byte[] data = "checksummed\u00ff".getBytes(UTF_8);
        byte[] good = new Cpio().entry("070702", "a", FILE, 1, data, sum(data)).trailer().bytes();
        assertArrayEquals(data, Initrd.parse("boot.img", good).read("a"));

        byte[] bad = new Cpio().file("first", "").entry("070702", "a", FILE, 1, data, sum(data) + 1).trailer().bytes();
        assertFails(bad, "entry 1 \"a\"", "checksum mismatch: header says 0x" + Long.toHexString(sum(data) + 1),
                "data sums to 0x" + Long.toHexString(sum(data)));
    }

    @Test
    void newcCheckFieldIsIgnored() {
        // cpio(5): the newc check field is always zero when written and ignored when read.
        byte[] image = new Cpio().entry("070701", "a", FILE, 1, "x".getBytes(UTF_8), 12345).trailer().bytes();
        assertArrayEquals(new byte[] {'x'}, Initrd.parse("boot.img", image).read("a"));
    }
}
