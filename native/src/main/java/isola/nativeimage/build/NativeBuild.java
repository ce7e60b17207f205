package isola.nativeimage.build;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.module.ModuleFinder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Builds Isola's native executable from Maven Central artifacts alone (./isola native): runs the
 * Native Image builder jars on this JDK with the options in {@code native/native-image.options},
 * then links the relocatable object it writes with gcc against the C helpers in
 * {@code native/src/main/c} and the JDK's shared libraries, and checks that the result runs.
 *
 * <p>Output, in {@code native/target/bin/}: {@code isola} and the shared libraries it loads
 * from its own directory (the JDK's libjava, libnio, libnet, libzip and a libjvm made here).
 * A build whose inputs (options, C sources, image class path, builder jars) did not change since
 * the last one is skipped, and its stamp ({@code native-inputs.sha256}, their digest) touched: the
 * launcher finds the executable current while no input file is newer than the stamp, without
 * starting this. {@code --force} builds anyway; {@code --check} only says whether a build is due.
 */
@Command(name = "native", mixinStandardHelpOptions = true,
        description = "Build Isola's native executable (native/target/bin/isola) with GraalVM Native Image.")
public final class NativeBuild implements Callable<Integer> {
    /** The image's entry point. */
    static final String MAIN_CLASS = "isola.nativeimage.NativeMain";
    static final String NAME = "isola";
    /**
     * The JDK libraries the image always loads (SVM calls them like built-in libraries, through
     * the JNI_OnLoad_&lt;lib&gt; the linker generates); the linker adds any other JDK library that defines a
     * JNI function the image calls.
     */
    static final List<String> JDK_LIBRARIES = List.of("java", "nio", "net", "zip");

    @CommandLine.Mixin
    BuildFlags flags;

    public static void main(String[] args) {
        System.exit(new CommandLine(new NativeBuild()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Path project = flags.project.toAbsolutePath().normalize();
        Path nativeDir = project.resolve("native");
        Path target = nativeDir.resolve("target");
        Path out = target.resolve("bin");
        ImageBuilder builder = new ImageBuilder(project, nativeDir, NAME, MAIN_CLASS,
                nativeDir.resolve("native-image.options"), out, target, flags.timeoutMinutes);
        try {
            Path executable = out.resolve(NAME);
            Path stamp = target.resolve("native-inputs.sha256");
            String digest = builder.digest(List.of(builder.clib()));
            boolean upToDate = Files.isExecutable(executable) && upToDate(stamp, digest);
            if (flags.check) {
                return check(project, executable, upToDate, "isola native");
            }
            if (!flags.force && upToDate) {
                System.out.println("isola native: " + project.relativize(executable) + " is up to date");
                checkRuns(executable);
                return 0;
            }
            Files.deleteIfExists(stamp);
            Files.deleteIfExists(executable); // a failed build leaves no stale executable behind
            long t0 = System.nanoTime();
            Path object = flags.relink ? builder.lastObject()
                    : builder.build(LibraryMetadata.options(builder.imageClassPath()));
            long t1 = System.nanoTime();
            new Linker(ImageBuilder.javaHome(), builder.clib(), target.resolve("link"), out).link(object, executable);
            long t2 = System.nanoTime();
            checkRuns(executable);
            if (!flags.relink) { // a relinked object may be from other inputs: the next build builds
                Files.writeString(stamp, digest + "\n");
            }
            System.out.printf("isola native: built %s (builder %d s, link %d s)%n", project.relativize(executable),
                    TimeUnit.NANOSECONDS.toSeconds(t1 - t0), TimeUnit.NANOSECONDS.toSeconds(t2 - t1));
            return 0;
        } catch (BuildException e) {
            System.err.println("isola native: " + e.getMessage());
            return 1;
        }
    }

    /**
     * True if {@code stamp} holds {@code digest}: the output was built from these inputs. Then the
     * stamp's modification time is set to now, so the launcher's cheap check (no input file newer
     * than the stamp) finds the output up to date without asking again.
     */
    public static boolean upToDate(Path stamp, String digest) throws IOException {
        if (!Files.exists(stamp) || !Files.readString(stamp).strip().equals(digest)) {
            return false;
        }
        Files.setLastModifiedTime(stamp, java.nio.file.attribute.FileTime.from(java.time.Instant.now()));
        return true;
    }

    /** {@code --check}: 0 if {@code output} is up to date, else 1 with why on stderr; builds nothing. */
    public static int check(Path project, Path output, boolean upToDate, String who) {
        String name = project.relativize(output).toString();
        if (upToDate) {
            System.out.println(who + ": " + name + " is up to date");
            return 0;
        }
        System.err.println(who + ": " + name + (Files.exists(output) ? " is out of date: its inputs changed since it was built"
                : " is missing") + " (--check builds nothing)");
        return 1;
    }

    /** Runs {@code executable --version}: the image starts, its C helpers link and it exits 0. */
    static void checkRuns(Path executable) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(executable.toString(), "--version").redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new BuildException(executable + " --version did not exit within 30 s");
        }
        if (p.exitValue() != 0 || !output.contains("Isola")) {
            throw new BuildException(executable + " --version failed (exit " + p.exitValue() + "):\n" + output);
        }
        System.out.println("isola native: " + executable.getFileName() + " runs: " + output.strip());
    }

    public static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p); // a symbolic link is deleted, never followed
            }
        }
    }

    /** The build cannot go on; the message says why and names the file or tool. */
    public static final class BuildException extends RuntimeException {
        public BuildException(String message) {
            super(message);
        }
    }
}
