package isola.boot;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A command run in a pseudo-terminal, driven as a user at a keyboard: tmux runs it in a detached
 * session of a fixed size (on a tmux server of its own, without the user's configuration), keys
 * go in with {@code send-keys} and the screen comes out with {@code capture-pane}. Every wait
 * polls the screen until a deadline, then fails showing what the screen held.
 */
public final class TerminalSession implements AutoCloseable {
    private final String socket;
    private final Path status;

    private TerminalSession(String socket, Path status) {
        this.socket = socket;
        this.status = status;
    }

    /** Why no session can be started here (tmux is not installed), or null if one can. */
    public static String unavailable() {
        try {
            Process p = new ProcessBuilder("tmux", "-V").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0 ? null : "tmux -V failed";
        } catch (IOException e) {
            return "tmux is not installed (apt-get install tmux): " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    /**
     * Starts {@code command} in {@code dir} with {@code env} in a 120×40 terminal; its exit status
     * goes to a file in {@code scratch}, and the pane stays (a sleep) so its last screen can be read.
     */
    public static TerminalSession start(Path dir, Map<String, String> env, List<String> command, Path scratch)
            throws IOException, InterruptedException {
        String socket = "isola-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        Path status = scratch.resolve("status-" + socket);
        StringBuilder line = new StringBuilder("cd ").append(quote(dir.toString())).append(" && env");
        env.forEach((k, v) -> line.append(' ').append(k).append('=').append(quote(v)));
        for (String c : command) {
            line.append(' ').append(quote(c));
        }
        line.append("; echo $? > ").append(quote(status.toString())).append("; sleep 600");
        TerminalSession s = new TerminalSession(socket, status);
        s.tmux("new-session", "-d", "-s", "main", "-x", "120", "-y", "40", line.toString());
        return s;
    }

    private static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    private String tmux(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("tmux", "-L", socket, "-f", "/dev/null"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(String.join(" ", cmd) + " did not finish within 30 s");
        }
        if (p.exitValue() != 0) {
            fail(String.join(" ", cmd) + " failed (exit " + p.exitValue() + "): " + out);
        }
        return out;
    }

    /** Keys, as tmux names them ("Tab", "Up", "Enter", "C-u"); other strings are typed as text. */
    public void send(String... keys) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("send-keys", "-t", "main"));
        args.addAll(List.of(keys));
        tmux(args.toArray(String[]::new));
    }

    /** The screen, and what scrolled off it, one line a row (wrapped rows joined), trailing blanks stripped. */
    public List<String> screen() throws IOException, InterruptedException {
        return tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "main").lines().map(String::stripTrailing).toList();
    }

    /** The last line of {@code screen} that is not blank: where the cursor is, after a prompt. */
    public static String lastLineOf(List<String> screen) {
        for (int i = screen.size() - 1; i >= 0; i--) {
            if (!screen.get(i).isBlank()) {
                return screen.get(i);
            }
        }
        return "";
    }

    /** Waits until the screen satisfies {@code test}; fails after {@code limit} naming {@code what} and showing the screen. */
    public void await(Predicate<List<String>> test, String what, Duration limit) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        for (;;) {
            List<String> s = screen();
            if (test.test(s)) {
                return;
            }
            if (System.nanoTime() > deadline) {
                fail("waited " + limit.toSeconds() + " s for " + what + "; the terminal shows:\n" + String.join("\n", s));
            }
            Thread.sleep(50);
        }
    }

    /** Waits until the command has exited; returns its status. */
    public int awaitExit(Duration limit) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!Files.exists(status) || Files.readString(status).isBlank()) {
            if (System.nanoTime() > deadline) {
                fail("waited " + limit.toSeconds() + " s for the command to exit; the terminal shows:\n"
                        + String.join("\n", screen()));
            }
            Thread.sleep(50);
        }
        return Integer.parseInt(Files.readString(status).strip());
    }

    /** Ends the session and its tmux server (and with them the command, if it still runs). */
    @Override
    public void close() throws IOException, InterruptedException {
        new ProcessBuilder("tmux", "-L", socket, "kill-server").redirectErrorStream(true).start().waitFor(30, TimeUnit.SECONDS);
    }
}
