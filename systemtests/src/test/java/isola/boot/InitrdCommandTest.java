package isola.boot;

import static org.junit.jupiter.api.Assertions.*;

import isola.boot.image.DefaultImage;
import isola.boot.testservers.slow.SlowServer;
import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.Status;
import isola.kernel.Tag;
import isola.kernel.Tcb;
import isola.kernel.initrd.Initrd;
import isola.sdk.Replies;
import isola.sdk.Sys;
import isola.tier.vm.ServerJars;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code initrd} (./isola initrd): an image with a server of one's own boots and the server
 * serves; every bad input is refused naming it, and no image is written.
 */
class InitrdCommandTest {
    static final int SLOT = 5;

    @TempDir
    Path dir;

    /** The default manifest plus the slow test server, from {@code jar}. */
    static String manifestWithSlow(String jar) throws Exception {
        return DefaultImage.defaultManifest() + "\n[server slow]\njar = " + jar + "\nprovides = slow\ngrants = log\n";
    }

    record Run(int status, String out, String err) {
        @Override
        public String toString() {
            return "exit " + status + "\n--- stdout:\n" + out + "--- stderr:\n" + err;
        }
    }

    static Run initrd(String... args) {
        PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            List<String> a = new ArrayList<>(List.of("initrd"));
            a.addAll(List.of(args));
            int status = new CommandLine(new Main()).execute(a.toArray(String[]::new));
            return new Run(status, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    /** Boots {@code image}, calls the slow server's INC with 41 from a client domain, and shuts down. */
    static void bootsAndTheSlowServerAnswers(Path image) throws Exception {
        PipedOutputStream keepOpen = new PipedOutputStream();
        try (Boot b = Boot.start(image, new PipedInputStream(keepOpen), new PrintStream(new ByteArrayOutputStream()), false)) {
            assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
                b.awaitBooted();
                Kernel k = b.machine().kernel();
                Domain client = k.createDomain("client", 16, 16);
                b.init().grantService(SlowServer.SERVICE, client, SLOT, 0);
                Tcb t = k.createThread(client, "test", 100);
                b.machine().attach(t);
                Sys sys = Sys.of(k, t);
                sys.mr(0, 41);
                int st = sys.callRetrying(SLOT, Tag.of(SlowServer.INC, 1), Sys.RESTART_ATTEMPTS);
                assertEquals(Status.OK, st, sys.describe(st, "inc"));
                assertEquals(Replies.OK, sys.label());
                assertEquals(42, sys.mr(0), "the server of one's own answers");
            });
            keepOpen.close();
            assertEquals(0, (int) assertTimeoutPreemptively(BootTest.HANG_GUARD, b::awaitExit));
        }
    }

    static List<String> files(Path image) throws Exception {
        return Initrd.parse(image.toString(), Files.readAllBytes(image)).entries().stream()
                .filter(Initrd.Entry::isFile).map(Initrd.Entry::path).toList();
    }

    @Test
    void aJarGivenWithJarGoesInTheImageAndItsServerRuns() throws Exception {
        Path jar = ServerJars.pack(SlowServer.class, dir.resolve("build/slow.jar"));
        Path manifest = Files.writeString(dir.resolve("my.manifest"), manifestWithSlow("slow.jar"));
        Path out = dir.resolve("out/my.img");
        Run r = initrd("--manifest", manifest.toString(), "--jar", jar.toString(), "--out", out.toString());
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("slow.jar (--jar " + jar + ")"), r.toString());
        assertTrue(r.out().contains("log.jar (the project's LogServer)"), r.toString());
        List<String> files = files(out);
        assertEquals("boot.manifest", files.get(0), files.toString());
        assertTrue(files.contains("slow.jar") && files.contains("shell.jar"), files.toString());
        assertFalse(files.contains("pager.jar"), "only the jars the manifest names go in: " + files);
        bootsAndTheSlowServerAnswers(out);
    }

    @Test
    void aJarBesideTheManifestIsTakenFromThereAndRelativePathsAreTheCallers() throws Exception {
        Path project = Files.createDirectories(dir.resolve("project"));
        ServerJars.pack(SlowServer.class, project.resolve("servers/slow.jar"));
        Files.writeString(project.resolve("my.manifest"), manifestWithSlow("servers/slow.jar"));
        String before = System.getProperty("isola.caller.dir");
        System.setProperty("isola.caller.dir", project.toString()); // as the launcher says where it was run
        Run r;
        try {
            r = initrd("--manifest", "my.manifest", "--out", "my.img");
        } finally {
            if (before == null) {
                System.clearProperty("isola.caller.dir");
            } else {
                System.setProperty("isola.caller.dir", before);
            }
        }
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("servers/slow.jar (beside the manifest: " + project.resolve("servers/slow.jar") + ")"),
                r.toString());
        Path out = project.resolve("my.img");
        assertTrue(files(out).contains("servers/slow.jar"), files(out).toString());
        bootsAndTheSlowServerAnswers(out);
    }

    @Test
    void aJarGivenWithJarReplacesTheProjectsJarOfThatName() throws Exception {
        Path log = ServerJars.pack(isola.system.log.LogServer.class, dir.resolve("mine/log.jar"));
        Path slow = ServerJars.pack(SlowServer.class, dir.resolve("mine/slow.jar"));
        Path m = Files.writeString(dir.resolve("m.manifest"), manifestWithSlow("slow.jar"));
        Path out = dir.resolve("replaced.img");
        Run r = initrd("--manifest", m.toString(), "--jar", log.toString(), "--jar", slow.toString(), "--out", out.toString());
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("log.jar (--jar " + log + ")"), r.toString());
        bootsAndTheSlowServerAnswers(out);
    }

    @Test
    void withoutAManifestItWritesTheDefaultImage() throws Exception {
        Path out = dir.resolve("default.img");
        Run r = initrd("--out", out.toString());
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("boot.manifest (the built-in manifest)"), r.toString());
        assertTrue(files(out).containsAll(List.of("log.jar", "names.jar", "console.jar", "blk.jar", "fs.jar", "shell.jar")),
                files(out).toString());
        BootTest.Run b = BootTest.boot(out, "echo from initrd\n");
        assertEquals(0, b.status(), b.out());
        assertTrue(b.out().contains("from initrd"), b.out());
    }

    // ---- errors: each names the input, and nothing is written ----

    Run refused(String... args) {
        Run r = initrd(args);
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().startsWith("isola initrd: "), r.toString());
        assertFalse(Files.exists(dir.resolve("out.img")), "no image is written:\n" + r);
        return r;
    }

    String out() {
        return dir.resolve("out.img").toString();
    }

    @Test
    void aJarTheManifestNamesThatIsNowhereIsNamedWithItsLineAndWhereJarsComeFrom() throws Exception {
        Path m = Files.writeString(dir.resolve("my.manifest"), manifestWithSlow("slow.jar"));
        int line = (int) Files.readAllLines(m).indexOf("jar = slow.jar") + 1;
        Run r = refused("--manifest", m.toString(), "--out", out());
        assertTrue(r.err().contains(m + ":" + line + ": jar 'slow.jar' of server 'slow' is not in the boot image"), r.toString());
        assertTrue(r.err().contains("--jar") && r.err().contains(dir.resolve("slow.jar").toString()), r.toString());
    }

    @Test
    void aMissingJarFileIsNamed() throws Exception {
        Path m = Files.writeString(dir.resolve("my.manifest"), manifestWithSlow("slow.jar"));
        Path missing = dir.resolve("nowhere/slow.jar");
        Run r = refused("--manifest", m.toString(), "--jar", missing.toString(), "--out", out());
        assertTrue(r.err().contains("--jar " + missing + ": no such file"), r.toString());
    }

    @Test
    void aMissingManifestIsNamed() {
        Path m = dir.resolve("absent.manifest");
        Run r = refused("--manifest", m.toString(), "--out", out());
        assertTrue(r.err().contains("--manifest " + m + ": no such file"), r.toString());
    }

    static Path jarNaming(Path p, String serverClass, Class<?> holding) throws Exception {
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (serverClass != null) {
            mf.getMainAttributes().put(new Attributes.Name("Isola-Server"), serverClass);
        }
        Files.createDirectories(p.getParent());
        try (OutputStream o = Files.newOutputStream(p); JarOutputStream j = new JarOutputStream(o, mf)) {
            if (holding != null) {
                String entry = holding.getName().replace('.', '/') + ".class";
                j.putNextEntry(new java.util.jar.JarEntry(entry));
                try (var in = holding.getClassLoader().getResourceAsStream(entry)) {
                    j.write(in.readAllBytes());
                }
                j.closeEntry();
            }
        }
        return p;
    }

    /** Not a server: a class of this test, which does not implement isola.sdk.Server. */
    public static final class NotAServer {}

    @Test
    void aJarThatIsNotAServerIsNamedWithWhatIsWrong() throws Exception {
        Path m = Files.writeString(dir.resolve("my.manifest"), manifestWithSlow("slow.jar"));
        Object[][] cases = {
            {jarNaming(dir.resolve("a/slow.jar"), null, SlowServer.class), "manifest has no Isola-Server attribute"},
            {jarNaming(dir.resolve("b/slow.jar"), "demo.Absent", SlowServer.class), "Isola-Server class demo.Absent not found"},
            {jarNaming(dir.resolve("c/slow.jar"), NotAServer.class.getName(), NotAServer.class),
                "does not implement isola.sdk.Server"},
            {Files.writeString(Files.createDirectories(dir.resolve("d")).resolve("slow.jar"), "not a jar"), "not a readable jar"},
        };
        for (Object[] c : cases) {
            Path jar = (Path) c[0];
            Run r = refused("--manifest", m.toString(), "--jar", jar.toString(), "--out", out());
            assertTrue(r.err().contains("--jar " + jar + ": ") && r.err().contains((String) c[1]), r.toString());
        }
    }

    @Test
    void aJarBesideTheManifestThatIsNotAServerIsNamedWithTheManifestLine() throws Exception {
        Path m = Files.writeString(dir.resolve("my.manifest"), manifestWithSlow("slow.jar"));
        jarNaming(dir.resolve("slow.jar"), null, SlowServer.class);
        int header = (int) Files.readAllLines(m).indexOf("[server slow]") + 1;
        Run r = refused("--manifest", m.toString(), "--out", out());
        assertTrue(r.err().contains(m + ":" + header + ": [server slow] jar = slow.jar: " + dir.resolve("slow.jar")
                + ": manifest has no Isola-Server attribute"), r.toString());
    }

    @Test
    void aJarGivenThatTheManifestDoesNotNameIsRefused() throws Exception {
        Path m = Files.writeString(dir.resolve("my.manifest"), manifestWithSlow("slow.jar"));
        Path slow = ServerJars.pack(SlowServer.class, dir.resolve("x/slow.jar"));
        Path extra = ServerJars.pack(SlowServer.class, dir.resolve("x/slo.jar"));
        Run r = refused("--manifest", m.toString(), "--jar", slow.toString(), "--jar", extra.toString(), "--out", out());
        assertTrue(r.err().contains("--jar " + extra + ": " + m + " names no server with jar = slo.jar"), r.toString());
    }

    @Test
    void twoJarsOfOneNameAreRefusedNamingBoth() throws Exception {
        Path m = Files.writeString(dir.resolve("my.manifest"), manifestWithSlow("slow.jar"));
        Path a = ServerJars.pack(SlowServer.class, dir.resolve("a/slow.jar"));
        Path b = ServerJars.pack(SlowServer.class, dir.resolve("b/slow.jar"));
        Run r = refused("--manifest", m.toString(), "--jar", a.toString(), "--jar", b.toString(), "--out", out());
        assertTrue(r.err().contains("--jar " + a + " and --jar " + b + " would both be slow.jar"), r.toString());
    }

    /**
     * A manifest boot would refuse is refused with boot's own words: the same problem at the
     * same line, the initrd naming the manifest file, boot the image's manifest.
     */
    @Test
    void aManifestBootWouldRejectIsRejectedAsBootRejectsIt() throws Exception {
        String good = DefaultImage.defaultManifest();
        String[] bad = {
            good.replace("priority = 150", "priorty = 150"),
            good.replace("grants   = log\n\n[server console]", "grants   = log, nosuch\n\n[server console]"),
            good.replace("provides = log\n", "provides = log\ngrants = names\n"),
            good.replace("max-restarts = 3", "max-restarts = lots"),
            good + "\n[server log]\njar = log.jar\n",
            "# nothing\n",
        };
        for (String text : bad) {
            Path img = DefaultImage.build(Files.createTempFile(dir, "unchecked", ".img"), text); // writes what it is given
            Boot.BootException boot = assertThrows(Boot.BootException.class,
                    () -> Boot.start(img, new ByteArrayInputStream(new byte[0]), System.out, false));
            String bootsProblem = boot.getMessage().substring((img + ":boot.manifest:").length());
            assertTrue(boot.getMessage().startsWith(img + ":boot.manifest:"), boot.getMessage());

            Path m = Files.writeString(dir.resolve("bad.manifest"), text);
            Run r = refused("--manifest", m.toString(), "--out", out());
            assertEquals("isola initrd: " + m + ":" + bootsProblem, r.err().strip(), "the same line and problem as boot's");
        }
    }

    @Test
    void theVmTierRefusingAServerAtBootNamesTheImageTheManifestLineAndTheJarInTheImage() throws Exception {
        // An image made without the initrd command's checks, holding a jar that is not a server.
        String manifest = manifestWithSlow("slow.jar");
        Path notServer = jarNaming(dir.resolve("j/slow.jar"), null, SlowServer.class);
        List<isola.boot.image.ImageWriter.ImageEntry> entries = new ArrayList<>();
        entries.add(new isola.boot.image.ImageWriter.ImageEntry("boot.manifest", manifest.getBytes(StandardCharsets.UTF_8)));
        Path base = DefaultImage.build(dir.resolve("base.img"), DefaultImage.defaultManifest());
        for (Initrd.Entry e : Initrd.parse("base", Files.readAllBytes(base)).entries()) {
            if (e.isFile() && !e.path().equals("boot.manifest")) {
                entries.add(new isola.boot.image.ImageWriter.ImageEntry(e.path(), e.data()));
            }
        }
        entries.add(new isola.boot.image.ImageWriter.ImageEntry("slow.jar", Files.readAllBytes(notServer)));
        Path img = dir.resolve("handmade.img");
        isola.boot.image.ImageWriter.write(img, entries);
        int header = manifest.lines().toList().indexOf("[server slow]") + 1;
        PipedOutputStream keepOpen = new PipedOutputStream();
        try (Boot b = Boot.start(img, new PipedInputStream(keepOpen), new PrintStream(new ByteArrayOutputStream()), false)) {
            Boot.BootException e = assertThrows(Boot.BootException.class,
                    () -> assertTimeoutPreemptively(BootTest.HANG_GUARD, b::awaitBooted));
            assertTrue(e.getMessage().contains(img + ":boot.manifest:" + header + ": [server slow] cannot start: slow.jar: "
                    + "manifest has no Isola-Server attribute"), e.getMessage());
            assertFalse(e.getMessage().contains("isola-ramdisk"), "not the host file init unpacked it to: " + e.getMessage());
            keepOpen.close();
        }
    }
}
