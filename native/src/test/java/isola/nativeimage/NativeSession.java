package isola.nativeimage;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The executable running with a pipe on stdin, fed commands one batch at a time: after each
 * batch an {@code echo} of a fresh marker, whose output says the batch has run (the shell
 * runs piped commands in order). Its descriptors are read from /proc while it runs.
 */
final class NativeSession implements AutoCloseable {
    private final Process process;
    private final java.io.Writer in;
    private final StringBuffer out = new StringBuffer();
    private final Thread reader;
    private int markers;

    NativeSession(String... args) throws IOException {
        assertTrue(Files.isExecutable(NativeExecutableIT.EXECUTABLE), NativeExecutableIT.EXECUTABLE + " was not built");
        List<String> cmd = new ArrayList<>(List.of(NativeExecutableIT.EXECUTABLE.toString()));
        cmd.addAll(List.of(args));
        process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        in = new java.io.OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        reader = Thread.ofPlatform().daemon().start(() -> {
            try (var r = new java.io.InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)) {
                char[] buf = new char[4096];
                for (int n; (n = r.read(buf)) > 0; ) {
                    out.append(buf, 0, n);
                }
            } catch (IOException e) {
                out.append("\n[reading the output failed: ").append(e).append(']');
            }
        });
    }

    /** Runs {@code commands} and waits until they have (a minute at most: else it is a hang, and fails). */
    void run(String... commands) throws IOException, InterruptedException {
        String marker = "batch-done-" + (++markers);
        for (String c : commands) {
            in.write(c + "\n");
        }
        boolean last = commands[commands.length - 1].equals("shutdown");
        if (!last) {
            in.write("echo " + marker + "\n");
        }
        in.flush();
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
        while (!last && !out.toString().contains("\n" + marker + "\n")) {
            assertTrue(process.isAlive(), "the executable ended before " + String.join(", ", commands) + " ran:\n" + out);
            assertTrue(System.nanoTime() < deadline, String.join(", ", commands) + " did not finish in a minute:\n" + out);
            Thread.sleep(20);
        }
    }

    /** How many of the process's descriptors are open on {@code file}. */
    long descriptorsOf(Path file) throws IOException {
        Path target = Files.exists(file) ? file.toRealPath() : file.toAbsolutePath().normalize(); // not made yet: none open
        try (var fds = Files.list(Path.of("/proc", Long.toString(process.pid()), "fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).equals(target);
                } catch (IOException e) {
                    return false; // closed while listed
                }
            }).count();
        }
    }

    /** How many descriptors the process has open. */
    long descriptors() throws IOException {
        try (var fds = Files.list(Path.of("/proc", Long.toString(process.pid()), "fd"))) {
            return fds.count();
        }
    }

    /** Each descriptor and what it is open on, for a failure's message. */
    String fdListing() throws IOException {
        StringBuilder b = new StringBuilder();
        try (var fds = Files.list(Path.of("/proc", Long.toString(process.pid()), "fd"))) {
            for (Path fd : fds.sorted().toList()) {
                try {
                    b.append(fd.getFileName()).append(" -> ").append(Files.readSymbolicLink(fd)).append('\n');
                } catch (IOException e) {
                    // closed while listed
                }
            }
        }
        return b.toString();
    }

    /**
     * Waits until the number of descriptors open on {@code file} is {@code wanted} (30 s at
     * most, then answers it as it is); for opening and closing done on other threads.
     */
    long awaitDescriptorsOf(Path file, java.util.function.LongPredicate wanted) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        long n;
        while (!wanted.test(n = descriptorsOf(file)) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        return n;
    }

    String output() {
        return out.toString();
    }

    /** Waits for the process to end (two minutes at most) and answers its status. */
    int exit() throws InterruptedException, IOException {
        in.close();
        assertTrue(process.waitFor(2, TimeUnit.MINUTES), "the executable did not end:\n" + out);
        reader.join();
        return process.exitValue();
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }
}
