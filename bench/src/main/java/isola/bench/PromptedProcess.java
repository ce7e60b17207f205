package isola.bench;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A child process driven like a user at a shell: stdin and stdout are pipes, the first prompt on
 * stdout means it is ready, {@code shutdown} ends it. Used by {@link BootBench} for
 * {@code ./isola boot} and for its JVM-start baseline ({@link PromptMain}).
 *
 * <p>Isola's console, with stdin not a terminal, prints the prompt before it waits for a line
 * (and echoes the line once read), so the first prompt appears as soon as the shell asks for
 * its first command.
 */
final class PromptedProcess {
    static final String PROMPT = "isola> ";
    private static final int TAIL = 16 * 1024;

    private final Process process;
    private final List<String> command;
    private final Tail stderr = new Tail();
    private final Tail stdout = new Tail();
    private final Thread stderrDrain;
    private Thread stdoutDrain;

    private PromptedProcess(Process process, List<String> command) {
        this.process = process;
        this.command = command;
        stderrDrain = drain(process.getErrorStream(), stderr, "stderr");
    }

    /**
     * Starts {@code command} in {@code dir}, with {@code env} added to this process's
     * environment, and returns once {@link #PROMPT} appeared on its
     * stdout; the time this takes is a start-up as a user sees it. If the prompt does not come
     * within {@code timeoutMs} (or the process ends first), the process is destroyed and this
     * throws, with the end of its output.
     */
    static PromptedProcess start(List<String> command, Path dir, Map<String, String> env, long timeoutMs)
            throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        PromptedProcess c = new PromptedProcess(p, command);
        boolean ok = false;
        try {
            c.awaitPrompt(timeoutMs);
            ok = true;
            return c;
        } finally {
            if (!ok) {
                c.destroy();
            }
        }
    }

    /** Reads stdout until the prompt; a watchdog destroys the process if it takes too long. */
    private void awaitPrompt(long timeoutMs) throws IOException {
        Thread watchdog = Thread.ofPlatform().daemon().name("bench-prompt-watchdog").unstarted(() -> {
            try {
                Thread.sleep(timeoutMs);
                process.destroyForcibly();
            } catch (InterruptedException done) {
                // the prompt came
            }
        });
        watchdog.start();
        try {
            InputStream out = process.getInputStream();
            int found = indexOfPrompt(out, stdout);
            if (found < 0) {
                boolean timedOut = !watchdog.isAlive();
                throw new IOException(describe(timedOut
                        ? "no prompt '" + PROMPT + "' within " + timeoutMs + " ms"
                        : "ended before printing the prompt '" + PROMPT + "'"));
            }
        } finally {
            watchdog.interrupt();
        }
        stdoutDrain = drain(process.getInputStream(), stdout, "stdout");
    }

    /**
     * Reads {@code in} until {@link #PROMPT} has been read (returns how many bytes were read in
     * all) or the stream ends (-1). Everything read is also kept in {@code seen}.
     */
    static int indexOfPrompt(InputStream in, Tail seen) throws IOException {
        byte[] want = PROMPT.getBytes(StandardCharsets.UTF_8);
        int matched = 0;
        int total = 0;
        byte[] buf = new byte[4096];
        for (;;) {
            int n = in.read(buf);
            if (n < 0) {
                return -1;
            }
            seen.write(buf, 0, n);
            for (int i = 0; i < n; i++) {
                total++;
                byte b = buf[i];
                // The prompt has no repeated prefix, so a mismatch restarts the match at this byte.
                matched = b == want[matched] ? matched + 1 : b == want[0] ? 1 : 0;
                if (matched == want.length) {
                    // Bytes after the prompt in this read stay in the tail; nothing needs them.
                    return total;
                }
            }
        }
    }

    /**
     * Sends {@code shutdown} and waits up to {@code timeoutMs} for the process to exit; a
     * process that does not exit is destroyed. Throws unless it exited with status 0.
     */
    void shutdown(long timeoutMs) throws IOException, InterruptedException {
        try {
            OutputStream in = process.getOutputStream();
            in.write("shutdown\n".getBytes(StandardCharsets.UTF_8));
            in.close();
        } catch (IOException e) {
            // it may already have exited; its status says how
        }
        if (!process.waitFor(timeoutMs, TimeUnit.MILLISECONDS)) {
            destroy();
            throw new IOException(describe("did not exit within " + timeoutMs + " ms of 'shutdown'; destroyed"));
        }
        joinDrains();
        int status = process.exitValue();
        if (status != 0) {
            throw new IOException(describe("exited with status " + status + " after 'shutdown'"));
        }
    }

    void destroy() {
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
            joinDrains();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void joinDrains() throws InterruptedException {
        if (!process.isAlive()) {
            stderrDrain.join(5_000);
            if (stdoutDrain != null) {
                stdoutDrain.join(5_000);
            }
        }
    }

    String describe(String problem) {
        return String.join(" ", command) + ": " + problem + "\n--- stdout (end) ---\n" + stdout
                + "\n--- stderr (end) ---\n" + stderr;
    }

    private static Thread drain(InputStream in, Tail into, String what) {
        return Thread.ofPlatform().daemon().name("bench-drain-" + what).start(() -> {
            byte[] buf = new byte[4096];
            try (in) {
                for (int n; (n = in.read(buf)) >= 0; ) {
                    into.write(buf, 0, n);
                }
            } catch (IOException e) {
                // the process is gone
            }
        });
    }

    /** The last {@link #TAIL} bytes written to it. */
    static final class Tail {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        synchronized void write(byte[] b, int off, int len) {
            bytes.write(b, off, len);
            if (bytes.size() > 2 * TAIL) {
                byte[] all = bytes.toByteArray();
                bytes.reset();
                bytes.write(all, all.length - TAIL, TAIL);
            }
        }

        @Override
        public synchronized String toString() {
            byte[] all = bytes.toByteArray();
            int from = Math.max(0, all.length - TAIL);
            return new String(all, from, all.length - from, StandardCharsets.UTF_8);
        }
    }
}
