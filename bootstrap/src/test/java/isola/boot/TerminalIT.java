package isola.boot;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./isola boot} on a terminal, as a user meets it: in a pseudo-terminal (tmux), the shell
 * edits lines with JLine: Tab completes a command, Up recalls the last one, history goes to
 * {@code ~/.isola_history}, and JLine says nothing on the terminal about how it opened it. An
 * integration test, after package, as {@link LauncherIT}; skipped (saying why) without tmux.
 */
public class TerminalIT {
    /** Bounds of the waits: the boot to its first prompt, and each key's effect. */
    public static final Duration BOOT = Duration.ofSeconds(120), KEY = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    @BeforeAll
    static void findRoot() {
        LauncherIT.findRoot();
        String why = TerminalSession.unavailable();
        assumeTrue(why == null, "the terminal test needs tmux: " + why);
    }

    @Test
    void theShellCompletesWithTabAndRecallsWithUp() throws Exception {
        Path home = Files.createDirectories(tmp.resolve("home"));
        editingSession(LauncherIT.root, List.of("./isola", "boot", "--disk", tmp.resolve("disk.img").toString()),
                Map.of("ISOLA_NO_BUILD", "1", "JAVA_HOME", System.getProperty("java.home"), "HOME", home.toString()), tmp);
        List<String> history = Files.readAllLines(home.resolve(".isola_history"));
        assertTrue(history.stream().anyMatch(l -> l.endsWith("echo recall me")), "the history file has the command: " + history);
    }

    /**
     * The scenario on a terminal running {@code command} (a boot into the shell) in {@code dir}:
     * {@code he} and Tab shows {@code help}; a command runs; Up brings it back and Enter runs it
     * again; after {@code kill console}, Tab still completes and the next line typed runs;
     * {@code shutdown} exits 0. Shared with the native executable's test.
     */
    public static void editingSession(Path dir, List<String> command, Map<String, String> env, Path scratch) throws Exception {
        try (TerminalSession t = TerminalSession.start(dir, env, command, scratch)) {
            t.await(s -> s.stream().anyMatch(l -> l.equals("isola>")), "the shell's prompt", BOOT);
            t.send("he", "Tab");
            t.await(s -> TerminalSession.lastLineOf(s).equals("isola> help"), "Tab to complete 'he' to 'help'", KEY);
            t.send("Enter");
            t.await(s -> s.stream().anyMatch(l -> l.contains("list the commands")), "help's output", KEY);

            t.send("echo recall me", "Enter");
            t.await(s -> s.stream().filter(l -> l.equals("recall me")).count() == 1, "echo's output", KEY);
            t.await(s -> TerminalSession.lastLineOf(s).equals("isola>"), "the next prompt", KEY);
            t.send("Up");
            t.await(s -> TerminalSession.lastLineOf(s).equals("isola> echo recall me"), "Up to recall the last command", KEY);
            t.send("Enter");
            t.await(s -> s.stream().filter(l -> l.equals("recall me")).count() == 2, "the recalled command to run", KEY);

            // The console driver restarts; the terminal, its line editor and completions are the device's and stay.
            t.send("kill console", "Enter");
            t.await(s -> s.stream().anyMatch(l -> l.startsWith("killed console; restarted")), "kill console", KEY);
            t.await(s -> TerminalSession.lastLineOf(s).equals("isola>"), "the prompt after the kill", KEY);
            t.send("ec", "Tab");
            t.await(s -> TerminalSession.lastLineOf(s).equals("isola> echo"), "Tab to complete 'ec' after the restart", KEY);
            t.send("typed after the kill", "Enter"); // after the completed "echo "
            t.await(s -> s.stream().anyMatch(l -> l.equals("typed after the kill")), "the line typed after the kill to run", KEY);

            t.send("shutdown", "Enter");
            assertEquals(0, t.awaitExit(KEY), "shutdown exits 0");
            List<String> screen = t.screen();
            assertFalse(screen.stream().anyMatch(l -> l.contains("dumb terminal") || l.contains("org.jline")),
                    "JLine's log stays off the terminal:\n" + String.join("\n", screen));
        }
    }
}
