package isola.nativeimage.build;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** A build that cannot start says what is missing, names it, and builds nothing. */
class NativeBuildTest {
    private static String run(Path project, int expectedExit) {
        PrintStream err = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            int exit = new CommandLine(new NativeBuild()).execute("--project", project.toString());
            assertEquals(expectedExit, exit, buf.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(err);
        }
        return buf.toString(StandardCharsets.UTF_8);
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
