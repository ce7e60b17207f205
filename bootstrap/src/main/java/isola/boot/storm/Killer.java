package isola.boot.storm;

import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.KernelException;
import isola.init.Init;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The storm's host-side killer: a thread that crashes servers at random moments while the shell
 * runs commands, as a fault would (the kernel's injected fault, which the supervisor sees like
 * any other). Its moves, chosen by its own seeded generator: one server; two or three back to
 * back; the block driver or fs server while a file command is in flight (a driver mid-request);
 * the console while the shell waits at the prompt (a read in progress); a server and then log at
 * once (log while the supervisor logs the first restart).
 */
final class Killer implements Runnable {
    static final List<String> SERVERS = List.of("names", "log", "console", "blk", "fs", "shell");

    private final Init init;
    private final Kernel kernel;
    private final Random random;
    private final int meanGapMs;
    private final Supplier<String> inFlight;
    private final BooleanSupplier idle;
    private volatile boolean stop;
    private final Map<String, Integer> kills = new TreeMap<>();
    /** Each kill, when (seconds from the start) and during which command, for a failure's report. */
    private final List<String> events = new java.util.ArrayList<>();
    private final long started;
    private int refused;
    /** Kills of the shell and of the console so far: the driver tells a command cut short, or its output doubled, by them. */
    final AtomicLong shellKills = new AtomicLong(), consoleKills = new AtomicLong();

    /**
     * @param inFlight the command the shell runs now, or null
     * @param idle whether the system waits at the prompt
     */
    Killer(Init init, Kernel kernel, long seed, int meanGapMs, Supplier<String> inFlight, BooleanSupplier idle,
            long started) {
        this.started = started;
        this.init = init;
        this.kernel = kernel;
        this.random = new Random(seed);
        this.meanGapMs = meanGapMs;
        this.inFlight = inFlight;
        this.idle = idle;
    }

    void stop() {
        stop = true;
    }

    @Override
    public void run() {
        while (!stop) {
            sleep(random.nextInt(2 * meanGapMs) + 1);
            if (stop) {
                return;
            }
            switch (random.nextInt(10)) {
                case 5 -> {
                    int n = 2 + random.nextInt(2);
                    for (int i = 0; i < n; i++) {
                        kill(any());
                    }
                }
                case 6, 7 -> {
                    String target = random.nextBoolean() ? "blk" : "fs";
                    if (await(() -> isFileCommand(inFlight.get()))) {
                        kill(target);
                    }
                }
                case 8 -> {
                    if (await(idle)) {
                        kill("console");
                    }
                }
                case 9 -> {
                    kill(any());
                    kill("log");
                }
                default -> kill(any());
            }
        }
    }

    private String any() {
        return SERVERS.get(random.nextInt(SERVERS.size()));
    }

    private static boolean isFileCommand(String command) {
        if (command == null) {
            return false;
        }
        String w = command.split(" ", 3)[1]; // "#N command ..."
        return List.of("write", "cat", "sync", "ls", "df", "rm").contains(w);
    }

    /** Waits up to a second for {@code condition}; false if it did not come (the kill is skipped). */
    private boolean await(BooleanSupplier condition) {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        while (!stop && System.nanoTime() < end) {
            if (condition.getAsBoolean()) {
                return true;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(100_000); // not a spin: the two cores run the system
        }
        return false;
    }

    private void kill(String server) {
        Domain d = init.serverDomain(server);
        if (d == null) {
            refused++;
            return;
        }
        // Counted before the kill and after it (odd while one is under way), so that a command
        // that started while a kill was under way is known to have met it too.
        AtomicLong counter = server.equals("shell") ? shellKills : server.equals("console") ? consoleKills : null;
        if (counter != null) {
            counter.incrementAndGet();
        }
        try {
            injectFault(d);
            synchronized (kills) {
                kills.merge(server, 1, Integer::sum);
                events.add(String.format("%.3f kill %s during %s", (System.nanoTime() - started) / 1e9, server, inFlight.get()));
            }
        } catch (KernelException e) {
            refused++; // it is down already (being restarted): nothing to kill
        } finally {
            if (counter != null) {
                counter.incrementAndGet();
            }
        }
    }

    private void injectFault(Domain d) {
        kernel.injectFault(d, "fault storm");
    }

    /** Kills so far, by server. */
    Map<String, Integer> kills() {
        synchronized (kills) {
            return new TreeMap<>(kills);
        }
    }

    List<String> events() {
        synchronized (kills) {
            return List.copyOf(events);
        }
    }

    int refused() {
        return refused;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
