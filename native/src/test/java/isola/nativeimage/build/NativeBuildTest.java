package isola.nativeimage.build;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A build that cannot start says what is missing, names it, and builds nothing; {@code --check}
 * says whether a build is due and builds nothing; an up-to-date output's stamp is refreshed.
 */
class NativeBuildTest {
    private static String run(Path project, int expectedExit, String... more) {
        PrintStream err = System.err, out = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream to = new PrintStream(buf, true, StandardCharsets.UTF_8);
        System.setErr(to);
        System.setOut(to);
        try {
            List<String> args = new ArrayList<>(List.of("--project", project.toString()));
            args.addAll(List.of(more));
            int exit = new CommandLine(new NativeBuild()).execute(args.toArray(String[]::new));
            assertEquals(expectedExit, exit, buf.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(err);
            System.setOut(out);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    /**
     * A project with every input of a build (empty builder jars, a module jar, options, C) and an
     * executable that answers --version, but no stamp: what a build would find.
     */
    private static Path fakeProject(Path project) throws Exception {
        Path target = Files.createDirectories(project.resolve("native/target"));
        Path graal = Files.createDirectories(target.resolve("graal"));
        Files.writeString(graal.resolve("svm-25.0.1.jar"), "");
        Files.writeString(graal.resolve("compiler-25.0.1.jar"), "");
        Files.writeString(target.resolve("imagecp.txt"), "");
        try (var jar = new java.util.jar.JarOutputStream(Files.newOutputStream(target.resolve("native-0.1.0-SNAPSHOT.jar")))) {
            jar.putNextEntry(new java.util.jar.JarEntry("A.class"));
            jar.write(new byte[] {1, 2, 3});
            jar.closeEntry();
        }
        Files.writeString(project.resolve("native/native-image.options"), "image: -O1\n");
        Files.writeString(Files.createDirectories(project.resolve("native/src/main/c")).resolve("x.c"), "int x;\n");
        Path exe = Files.createDirectories(target.resolve("bin")).resolve("isola");
        Files.writeString(exe, "#!/bin/sh\necho Isola fake\n");
        exe.toFile().setExecutable(true);
        return project;
    }

    /** Writes the stamp a build of the project's present inputs writes, dated an hour ago. */
    private static Path stampAsBuilt(Path project) throws Exception {
        ImageBuilder b = new ImageBuilder(project, project.resolve("native"), NativeBuild.NAME, NativeBuild.MAIN_CLASS,
                project.resolve("native/native-image.options"), project.resolve("native/target/bin"),
                project.resolve("native/target"), 1);
        Path stamp = project.resolve("native/target/native-inputs.sha256");
        Files.writeString(stamp, b.digest(List.of(b.clib())) + "\n");
        Files.setLastModifiedTime(stamp, FileTime.from(Instant.now().minusSeconds(3600)));
        return stamp;
    }

    @Test
    void checkSaysAnExecutableWithNoStampIsOutOfDateAndBuildsNothing(@TempDir Path project) throws Exception {
        fakeProject(project);
        String out = run(project, 1, "--check");
        assertTrue(out.contains("native/target/bin/isola is out of date"), out);
        assertFalse(Files.exists(project.resolve("native/target/builder-tmp")), "the builder did not run:\n" + out);
        assertTrue(Files.exists(project.resolve("native/target/bin/isola")), "the executable is left alone");
    }

    @Test
    void checkSaysAMissingExecutableIsMissing(@TempDir Path project) throws Exception {
        fakeProject(project);
        stampAsBuilt(project);
        Files.delete(project.resolve("native/target/bin/isola"));
        String out = run(project, 1, "--check");
        assertTrue(out.contains("native/target/bin/isola is missing"), out);
    }

    @Test
    void anUpToDateExecutableRefreshesItsStampSoTheLauncherNeedNotAskAgain(@TempDir Path project) throws Exception {
        fakeProject(project);
        Path stamp = stampAsBuilt(project);
        FileTime before = Files.getLastModifiedTime(stamp);
        String out = run(project, 0, "--check");
        assertTrue(out.contains("native/target/bin/isola is up to date"), out);
        assertTrue(Files.getLastModifiedTime(stamp).compareTo(before) > 0, "the stamp was touched");

        Files.setLastModifiedTime(stamp, before);
        out = run(project, 0); // a plain run: up to date, so it only checks that the executable runs
        assertTrue(out.contains("is up to date") && out.contains("isola runs: Isola fake"), out);
        assertTrue(Files.getLastModifiedTime(stamp).compareTo(before) > 0, "the stamp was touched");
    }

    @Test
    void checkFindsAChangedInputAndLeavesTheStampAsItWas(@TempDir Path project) throws Exception {
        fakeProject(project);
        Path stamp = stampAsBuilt(project);
        FileTime before = Files.getLastModifiedTime(stamp);
        Files.writeString(project.resolve("native/src/main/c/x.c"), "int y;\n");
        String out = run(project, 1, "--check");
        assertTrue(out.contains("is out of date"), out);
        assertEquals(before, Files.getLastModifiedTime(stamp), "a stale stamp is not refreshed");
    }

    @Test
    void withoutTheBuilderJarsItNamesTheirDirectory(@TempDir Path project) throws Exception {
        Files.createDirectories(project.resolve("native/target"));
        String out = run(project, 1);
        assertTrue(out.contains(project.resolve("native/target/graal") + " is missing"), out);
        assertTrue(!Files.exists(project.resolve("native/target/bin")), "nothing built");
    }

    @Test
    void withoutTheImageClassPathItSaysSo(@TempDir Path project) throws Exception {
        Path graal = Files.createDirectories(project.resolve("native/target/graal"));
        Files.writeString(graal.resolve("svm-25.0.1.jar"), "");
        String out = run(project, 1);
        assertTrue(out.contains("imagecp.txt is missing"), out);
    }

    @Test
    void withoutTheBuilderItselfItSaysWhichJarIsMissing(@TempDir Path project) throws Exception {
        Path graal = Files.createDirectories(project.resolve("native/target/graal"));
        Files.writeString(graal.resolve("compiler-25.0.1.jar"), "");
        String out = run(project, 1);
        assertTrue(out.contains("has no svm-*.jar"), out);
    }
}
