package isola.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@code --load N}: N busy OS processes ({@link BusyLoop}, each a JVM with one thread that never
 * stops computing) that compete with the benchmark for the host's CPUs for the whole run. They
 * are separate processes, not threads of the harness, because the question is how IPC behaves
 * when the host's scheduler hands the cores to someone else; threads in the benchmark's own
 * JVM would also share its safepoints and GC.
 *
 * <p>They are ended by {@link #close}, by a shutdown hook if the harness is interrupted, and,
 * should the harness die without running either, by the end of their standard input.
 */
final class LoadProcesses implements AutoCloseable {
    /** How long a child may take to start its busy thread (a JVM start on a loaded host). */
    static final long START_TIMEOUT_SECONDS = 60;

    private final List<Process> processes = new ArrayList<>();
    private final Thread hook = new Thread(this::destroyAll, "bench-load-cleanup");

    private LoadProcesses() {}

    /**
     * Starts {@code n} busy processes and returns once each says it is busy. On any failure the
     * ones already started are ended before the exception leaves.
     */
    static LoadProcesses start(int n) throws IOException {
        LoadProcesses load = new LoadProcesses();
        Runtime.getRuntime().addShutdownHook(load.hook);
        try {
            for (int i = 0; i < n; i++) {
                load.processes.add(startOne());
            }
            for (Process p : load.processes) {
                awaitReady(p);
            }
        } catch (IOException | RuntimeException | Error e) {
            load.close();
            throw e;
        }
        return load;
    }

    private static Process startOne() throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // A small heap and the C1 compiler only: the child is one loop, and its JVM should not
        // add more start-up work to the host than it must.
        ProcessBuilder pb = new ProcessBuilder(java, "-Xmx32m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), BusyLoop.class.getName());
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        return pb.start();
    }

    private static void awaitReady(Process p) throws IOException {
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
            try {
                return r.readLine();
            } catch (IOException e) {
                return null;
            }
        });
        String got;
        try {
            got = line.get(START_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new IOException("--load: busy process " + p.pid() + " did not start within "
                    + START_TIMEOUT_SECONDS + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("--load: interrupted while starting busy process " + p.pid());
        } catch (ExecutionException e) {
            throw new IOException("--load: busy process " + p.pid() + ": " + e.getCause(), e.getCause());
        }
        if (!BusyLoop.READY.equals(got)) {
            String status = p.isAlive() ? "is running" : "exited with status " + p.exitValue();
            throw new IOException("--load: busy process " + p.pid() + " " + status + " and printed '" + got
                    + "' instead of '" + BusyLoop.READY + "'");
        }
    }

    /** The processes' ids, in start order. */
    List<Long> pids() {
        return processes.stream().map(Process::pid).toList();
    }

    /** True while every process is still running (a load that died mid-run is not the load asked for). */
    boolean allAlive() {
        return processes.stream().allMatch(Process::isAlive);
    }

    /** Ends every process and waits for each to be gone. */
    @Override
    public void close() {
        destroyAll();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or will: it does the same
        }
    }

    private void destroyAll() {
        for (Process p : processes) {
            p.destroyForcibly();
        }
        for (Process p : processes) {
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
