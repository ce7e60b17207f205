package isola.boot.image;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.*;

import isola.kernel.initrd.Initrd;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link DefaultImage#rewriteManifest}: a new manifest, every other entry as it was; bad input named. */
class RewriteManifestTest {
    @TempDir Path tmp;

    @Test
    void replacesTheManifestAndKeepsEveryJar() throws IOException {
        Path from = DefaultImage.build(tmp.resolve("from.img"), DefaultImage.defaultManifest());
        Path out = DefaultImage.rewriteManifest(from, tmp.resolve("out.img"), m -> m + "\n# changed\n");
        Initrd before = Initrd.parse("from", Files.readAllBytes(from));
        Initrd after = Initrd.parse("out", Files.readAllBytes(out));
        assertEquals(DefaultImage.defaultManifest() + "\n# changed\n", new String(after.read(DefaultImage.MANIFEST), UTF_8));
        List<String> jars = before.entries().stream().map(Initrd.Entry::path).filter(p -> p.endsWith(".jar")).toList();
        assertFalse(jars.isEmpty());
        for (String jar : jars) {
            assertArrayEquals(before.read(jar), after.read(jar), jar);
        }
    }

    @Test
    void notAnImageIsAnErrorNamingTheFileAndWritesNothing() throws IOException {
        Path junk = Files.writeString(tmp.resolve("junk.img"), "not a cpio archive");
        Path out = tmp.resolve("out.img");
        IOException e = assertThrows(IOException.class, () -> DefaultImage.rewriteManifest(junk, out, m -> m));
        assertTrue(e.getMessage().contains("junk.img") && e.getMessage().contains("not a boot image"), e.getMessage());
        assertFalse(Files.exists(out));
    }

    @Test
    void anImageWithoutAManifestIsAnError() throws IOException {
        Path bare = tmp.resolve("bare.img");
        ImageWriter.write(bare, List.of(new ImageWriter.ImageEntry("a.jar", new byte[] {1, 2, 3})));
        IOException e = assertThrows(IOException.class, () -> DefaultImage.rewriteManifest(bare, tmp.resolve("out.img"), m -> m));
        assertTrue(e.getMessage().contains("bare.img") && e.getMessage().contains(DefaultImage.MANIFEST), e.getMessage());
    }
}
