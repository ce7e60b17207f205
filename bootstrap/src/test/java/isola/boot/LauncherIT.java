package isola.boot;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Boots through the launcher, as a user does: {@code ./isola boot} from the repository root in a
 * subprocess, with commands on stdin (a pipe, not a terminal). An integration test (failsafe,
 * after {@code package}): the launcher runs the built jar, {@code classpath.txt} and
 * {@code isola.img}. {@code ISOLA_NO_BUILD=1} keeps it from starting a nested build; if the
 * system is stale, the run fails with the launcher's message saying what is stale. Run by
 * {@code ./mvnw verify} (skipped if surefire is made to run it, e.g. with {@code -Dtest=...}).
 */
class LauncherIT {
    /** Bound of one launcher run: a hung boot is destroyed and fails the test. */
    static final Duration LIMIT = Duration.ofSeconds(120);

    static Path root;

    @TempDir
    Path tmp;

    @BeforeAll
    static void findRoot() {
        // Surefire runs *IT classes too when told to with -Dtest=PATTERN, but before package
        // (the launcher would find the system missing or stale): only failsafe runs them.
        assumeTrue(Boolean.getBoolean("isola.failsafe"),
                "LauncherIT runs in the integration-test phase: ./mvnw verify (failsafe sets isola.failsafe)");
        Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        while (p != null && !(Files.isRegularFile(p.resolve("isola")) && Files.isRegularFile(p.resolve("pom.xml")))) {
            p = p.getParent();
        }
        assertNotNull(p, "no directory with the isola launcher and pom.xml above " + System.getProperty("user.dir"));
        root = p;
        assertTrue(Files.isExecutable(root.resolve("isola")), root.resolve("isola") + " is not executable");
    }

    record Run(int status, String out, String err) {
        @Override
        public String toString() {
            return "exit " + status + "\n--- stdout:\n" + out + "--- stderr:\n" + err;
        }
    }

    /** {@code ./isola boot ARGS} with {@code stdin} piped in; stdout and stderr captured. */
    Run boot(String stdin, String... args) throws Exception {
        return launch(root.resolve("isola"), stdin, args);
    }

    Run launch(Path launcher, String stdin, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("boot"));
        cmd.addAll(List.of(args));
        return command(launcher, stdin, cmd.toArray(String[]::new));
    }

    /** {@code LAUNCHER COMMAND ARGS} (e.g. {@code qemu}) with {@code stdin} piped in, ISOLA_NO_BUILD=1. */
    Run command(Path launcher, String stdin, String... commandAndArgs) throws Exception {
        return command(root, launcher, stdin, commandAndArgs);
    }

    /** As {@link #command(Path, String, String...)}, run in the directory {@code cwd}. */
    Run command(Path cwd, Path launcher, String stdin, String... commandAndArgs) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(launcher.toString()));
        cmd.addAll(List.of(commandAndArgs));
        List<String> args = cmd.subList(1, cmd.size());
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Path err = Files.createTempFile(tmp, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("ISOLA_NO_BUILD", "1");
        // The JDK running the tests is a JDK 25 (the build's); the launcher takes it unless told otherwise.
        pb.environment().putIfAbsent("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        try (OutputStream in = p.getOutputStream()) {
            in.write(stdin.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            // The launcher exited before reading its input (e.g. a bad image): its status tells.
        }
        if (!p.waitFor(LIMIT.toSeconds(), TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
            fail("./isola " + String.join(" ", args) + " did not exit within " + LIMIT + "; destroyed it\n"
                    + new Run(-1, Files.readString(out), Files.readString(err)));
        }
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    @Test
    void scriptedSessionRunsEachCommandAndShutsDownWithStatusZero() throws Exception {
        Run r = boot("ps\nnames\necho via launcher\nshutdown\n");
        assertEquals(0, r.status(), r.toString());
        String o = r.out();
        for (String c : List.of("ps", "names", "echo via launcher", "shutdown")) {
            assertTrue(o.lines().anyMatch(l -> l.equals("isola> " + c)), "the prompt and the command '" + c + "':\n" + r);
        }
        assertTrue(o.lines().anyMatch(l -> l.equals("via launcher")), r.toString());
        for (String d : List.of("init", "supervisor", "log", "names", "console", "shell")) {
            assertTrue(o.lines().anyMatch(l -> l.matches("\\s*\\d+\\s+" + d + "\\s+running.*")), "ps lists " + d + ":\n" + r);
        }
        for (String n : List.of("console", "log", "names", "proc", "supervisor")) {
            assertTrue(o.lines().anyMatch(l -> l.equals(n)), "names lists " + n + ":\n" + r);
        }
    }

    @Test
    void failingCommandPrintsUsageAndExitsNonZero() throws Exception {
        Run r = boot("frobnicate\necho after\n");
        assertEquals(1, r.status(), "a command failed (2 would be the launcher's own failure):\n" + r);
        assertTrue(r.out().contains("unknown command 'frobnicate'; usage:"), r.toString());
        assertTrue(r.out().lines().anyMatch(l -> l.equals("after")), "the next command still runs:\n" + r);
    }

    @Test
    void missingImageExitsTwoNamingTheImage() throws Exception {
        Run r = boot("ps\n", "--image", "/nonexistent.img");
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains("/nonexistent.img"), "stderr names the image:\n" + r);
        assertFalse(r.out().contains("isola> "), "no shell started:\n" + r);
    }

    @Test
    void memorySizeIsSetAtBootAndABadOneIsRefusedByName() throws Exception {
        Run r = boot("mem\n", "--mem", "64M");
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("frames: 16384 total (64 MiB)"), r.toString());
        for (String bad : List.of("3M", "5G", "64", "1.5G")) {
            Run b = boot("mem\n", "--mem", bad);
            assertEquals(2, b.status(), b.toString());
            assertTrue(b.err().contains("'" + bad + "'"), "stderr names the size:\n" + b);
            assertFalse(b.out().contains("isola> "), "no shell started:\n" + b);
        }
    }

    @Test
    void endOfInputWithoutShutdownExitsZero() throws Exception {
        Run r = boot("echo no shutdown\n");
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().lines().anyMatch(l -> l.equals("no shutdown")), r.toString());
    }

    @Test
    void initrdAndBootImageTakeRelativePathsFromWhereTheLauncherRan() throws Exception {
        Path work = Files.createDirectories(tmp.resolve("work"));
        Files.writeString(work.resolve("my.manifest"), isola.boot.image.DefaultImage.defaultManifest());
        Run made = command(work, root.resolve("isola"), "", "initrd", "--manifest", "my.manifest", "--out", "my.img");
        assertEquals(0, made.status(), made.toString());
        assertTrue(Files.isRegularFile(work.resolve("my.img")), "the image is where the user ran ./isola:\n" + made);
        Run r = command(work, root.resolve("isola"), "echo from my image\n", "boot", "--image", "my.img");
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().lines().anyMatch(l -> l.equals("from my image")), r.toString());

        Run bad = command(work, root.resolve("isola"), "", "initrd", "--manifest", "my.manifest", "--jar", "no.jar", "--out", "x.img");
        assertEquals(2, bad.status(), bad.toString());
        assertTrue(bad.err().contains("--jar " + work.resolve("no.jar") + ": no such file"), bad.toString());
    }

    // ---- ISOLA_NO_BUILD on a system that is not built: the launcher copied to a scratch tree ----

    /** A copy of the launcher in a scratch directory (it works in its own directory). */
    Path scratchLauncher() throws IOException {
        Path l = Files.copy(root.resolve("isola"), tmp.resolve("isola"));
        Files.setPosixFilePermissions(l, Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
                PosixFilePermission.OWNER_EXECUTE));
        return l;
    }

    @Test
    void noBuildRefusesAMissingSystemNamingWhatIsMissing() throws Exception {
        Run r = launch(scratchLauncher(), "shutdown\n");
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains("bootstrap/target/bootstrap-0.1.0-SNAPSHOT.jar is missing"), r.toString());
        assertTrue(r.err().contains("./isola build"), r.toString());
    }

    /** Empty files dated an hour ago under the scratch tree: stamps and outputs of a build that is not stale. */
    void built(String... files) throws IOException {
        Instant built = Instant.now().minusSeconds(3600);
        for (String f : files) {
            Path p = tmp.resolve(f);
            Files.createDirectories(p.getParent());
            if (!Files.exists(p)) {
                Files.createFile(p);
            }
            Files.setLastModifiedTime(p, FileTime.from(built));
        }
    }

    static final String[] HOSTED = {"bootstrap/target/bootstrap-0.1.0-SNAPSHOT.jar", "bootstrap/target/isola.img",
            "bootstrap/target/classpath.txt"};
    static final String[] NATIVE = {"native/target/native-0.1.0-SNAPSHOT.jar", "native/target/imagecp.txt",
            "native/target/graal/svm-25.0.1.jar"};
    static final String[] BAREMETAL = {"baremetal/target/baremetal-0.1.0-SNAPSHOT.jar", "baremetal/target/imagecp.txt",
            "baremetal/build/target/baremetal-build-0.1.0-SNAPSHOT.jar"};

    String[] all(String[]... parts) {
        return java.util.Arrays.stream(parts).flatMap(java.util.Arrays::stream).toArray(String[]::new);
    }

    @Test
    void noBuildRefusesBootNativeWithoutTheExecutableNamingIt() throws Exception {
        Path launcher = scratchLauncher();
        built(all(HOSTED, NATIVE));
        Run r = launch(launcher, "shutdown\n", "--native");
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains("native/target/bin/isola is missing"), r.toString());
        assertTrue(r.err().contains("./isola native"), r.toString());
    }

    @Test
    void noBuildRefusesBootNativeWithStaleModulesNamingTheNewerSource() throws Exception {
        Path launcher = scratchLauncher();
        built(all(HOSTED, NATIVE));
        Path src = Files.createDirectories(tmp.resolve("native/src/main/java"));
        Files.writeString(src.resolve("Changed.java"), "class Changed {}\n");
        Run r = launch(launcher, "shutdown\n", "--native");
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains("native/src/main/java/Changed.java is newer than native/target/native-0.1.0-SNAPSHOT.jar"),
                r.toString());
        assertTrue(r.err().contains("./isola build"), r.toString());
    }

    @Test
    void noBuildRefusesBootNativeWithoutTheDefaultImage() throws Exception {
        Path launcher = scratchLauncher();
        built(all(NATIVE));
        Run r = launch(launcher, "shutdown\n", "--native");
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains("bootstrap/target/bootstrap-0.1.0-SNAPSHOT.jar is missing"), r.toString());
    }

    @Test
    void noBuildRefusesQemuWithoutTheKernelImageNamingIt() throws Exception {
        Path launcher = scratchLauncher();
        built(all(HOSTED, NATIVE, BAREMETAL));
        Run r = command(launcher, "", "qemu");
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains("baremetal/target/image/isola-kernel.elf is missing"), r.toString());
        assertTrue(r.err().contains("./isola image"), r.toString());
    }

    @Test
    void noBuildRefusesQemuWithStaleBareMetalSourcesNamingTheNewerOne() throws Exception {
        Path launcher = scratchLauncher();
        built(all(HOSTED, NATIVE, BAREMETAL));
        Path src = Files.createDirectories(tmp.resolve("baremetal/src/main/java"));
        Files.writeString(src.resolve("Changed.java"), "class Changed {}\n");
        Run r = command(launcher, "", "qemu");
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains("baremetal/src/main/java/Changed.java is newer than baremetal/target/baremetal-0.1.0-SNAPSHOT.jar"),
                r.toString());
        assertTrue(r.err().contains("./isola build"), r.toString());
    }

    @Test
    void noBuildRefusesAKernelImageOlderThanItsBootStubNamingTheFile() throws Exception {
        Path launcher = scratchLauncher();
        built(all(HOSTED, NATIVE, BAREMETAL, new String[] {"baremetal/target/image/isola-kernel.elf",
                "baremetal/target/image-inputs.sha256"}));
        Path c = Files.createDirectories(tmp.resolve("baremetal/src/main/c"));
        Files.writeString(c.resolve("boot.S"), "# changed\n");
        Run r = command(launcher, "", "qemu");
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains("baremetal/src/main/c/boot.S is newer than baremetal/target/image-inputs.sha256"), r.toString());
        assertTrue(r.err().contains("./isola image"), r.toString());
    }

    @Test
    void noBuildRefusesANativeExecutableOlderThanItsCNamingTheFile() throws Exception {
        Path launcher = scratchLauncher();
        built(all(HOSTED, NATIVE, new String[] {"native/target/bin/isola", "native/target/native-inputs.sha256"}));
        Path c = Files.createDirectories(tmp.resolve("native/src/main/c"));
        Files.writeString(c.resolve("isola.c"), "/* changed */\n");
        // The launcher asks NativeBuild --check, which cannot run from the scratch tree's empty jars:
        // the boot is refused either way, naming the newer file.
        Run r = launch(launcher, "shutdown\n", "--native");
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains("native/src/main/c/isola.c is newer than native/target/native-inputs.sha256"), r.toString());
        assertFalse(r.out().contains("isola> "), "nothing booted:\n" + r);
    }

    @Test
    void noBuildRefusesAStaleSystemNamingTheNewerSource() throws Exception {
        Path launcher = scratchLauncher();
        Path target = Files.createDirectories(tmp.resolve("bootstrap/target"));
        Instant built = Instant.now().minusSeconds(3600);
        for (String f : List.of("bootstrap-0.1.0-SNAPSHOT.jar", "isola.img", "classpath.txt")) {
            Files.setLastModifiedTime(Files.createFile(target.resolve(f)), FileTime.from(built));
        }
        Path src = Files.createDirectories(tmp.resolve("hostkernel/src/main/java"));
        Files.writeString(src.resolve("Changed.java"), "class Changed {}\n");
        Run r = launch(launcher, "shutdown\n");
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains("hostkernel/src/main/java/Changed.java is newer than"), r.toString());
        assertTrue(r.err().contains("./isola build"), r.toString());
        assertFalse(Files.exists(tmp.resolve("target")), "nothing was built or booted:\n" + r);
    }
}
