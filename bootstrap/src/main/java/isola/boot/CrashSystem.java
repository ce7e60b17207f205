package isola.boot;

import isola.boot.image.DefaultImage;
import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.Status;
import isola.kernel.Tag;
import isola.kernel.Tcb;
import isola.sdk.Log;
import isola.sdk.Names;
import isola.sdk.Replies;
import isola.sdk.Sys;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * What the crash-to-serving benchmarks measure on (JMH's {@code bench boot} in the {@code vm}
 * tier, the native executable's {@code bench} in the native tier): the default system booted
 * in-process ({@link Boot#start}) from the default image, with the
 * {@code names} and {@code log} servers restarted on every crash without backoff, and a host-side
 * client domain holding a {@code names} capability in slot {@link #NAMES} and a {@code log}
 * capability in slot {@link #LOG}; the benchmark driver's JVM thread is its kernel thread. The
 * console's stdin is a pipe kept open (the shell waits on it) and its output is discarded.
 */
public final class CrashSystem implements AutoCloseable {
    static final int NAMES = 0;
    static final int LOG = 1;
    static final long NAMES_BADGE = 0xBE_0001;
    static final long LOG_BADGE = 0xBE_0002;
    /** Slot of its {@code proc} capability, through which {@link #close} shuts the system down. */
    static final int PROC = 2;
    static final long PROC_BADGE = 0xBE_0003;
    /** The services a fully booted (or fully recovered) names server lists, sorted. */
    public static final List<String> BOOT_SERVICES = List.of("blk", "console", "fs", "fs-attach", "log", "names", "proc", "supervisor");
    /** Servers the benchmarks crash: restarted on every crash, without backoff. */
    static final List<String> CRASHED = List.of("names", "log");
    /**
     * Longest a recovery may take before the benchmark fails. Calls wait without a timeout, as
     * clients' calls do (only those take the IPC fast path); JMH's own timeout bounds a hang.
     */
    static final long RECOVERY_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(10);
    private static final long BOOT_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(30);
    /** Result of one attempt when the server answered, but not everything (names lost registrations). */
    public static final int INCOMPLETE = 1;
    /**
     * How long a benchmark pauses after each crash, unmeasured, so that each crash hits a system
     * at rest: the supervisor's follow-up work is done, init has prepared the server's next
     * incarnation ({@code Standby.DELAY_MS} of init's after the restart, then a few milliseconds of
     * work), and klogd and the host log have caught up.
     */
    public static final long SETTLE_MS = 200;

    public final Boot boot;
    public final Kernel kernel;
    public final Tcb tcb;
    public final Sys sys;
    private final OutputStream keepOpen;
    private final Path image;
    private final String[] listing = new String[BOOT_SERVICES.size() + 1];

    /**
     * Boots the default image, built from this JVM's classes, with every server in the
     * {@code vm} tier, and waits until names lists every boot service and log takes a write.
     */
    public CrashSystem() throws IOException, InterruptedException {
        this(null, isola.tier.vm.VmTier::new);
    }

    /**
     * As {@link #CrashSystem()}, but boots {@code from} (an image with the default servers; null:
     * the default image, built here), its manifest changed as {@link #manifest} says, with every
     * server in a domain of the tier {@code tier} makes. The native executable passes the image
     * the build made, since it has no class files to pack jars from.
     */
    public CrashSystem(Path from, java.util.function.Function<isola.kernel.machine.HostedMachine, isola.tier.IsolationTier> tier)
            throws IOException, InterruptedException {
        image = Files.createTempFile("isola-bench-", ".img");
        if (from == null) {
            DefaultImage.build(image, manifest(DefaultImage.defaultManifest()));
        } else {
            DefaultImage.rewriteManifest(from, image, CrashSystem::manifest);
        }
        PipedOutputStream pipe = new PipedOutputStream();
        keepOpen = pipe;
        Boot b;
        try {
            b = Boot.start(image, new PipedInputStream(pipe), new PrintStream(OutputStream.nullOutputStream()), false,
                    isola.kernel.KernelConfig.DEFAULT, tier);
        } catch (RuntimeException e) {
            Files.deleteIfExists(image);
            throw e;
        }
        boot = b;
        kernel = b.machine().kernel();
        boolean ok = false;
        try {
            b.awaitBooted();
            Domain client = kernel.createDomain("bench-client", 16, 16);
            b.init().grantService("names", client, NAMES, NAMES_BADGE);
            b.init().grantService("log", client, LOG, LOG_BADGE);
            b.init().grantService("proc", client, PROC, PROC_BADGE);
            tcb = kernel.createThread(client, "bench", 100);
            b.machine().attach(tcb);
            sys = Sys.of(kernel, tcb);
            awaitUp();
            ok = true;
        } finally {
            if (!ok) {
                close();
            }
        }
    }

    /**
     * The default manifest with {@code restart = on-crash}, {@code max-restarts = 1000} and
     * {@code backoff = 0ms} for every server in {@link #CRASHED} (replacing any restart keys the
     * section had).
     */
    public static String manifest(String defaults) {
        return DefaultImage.restartAlways(defaults, CRASHED);
    }

    private void awaitUp() throws InterruptedException {
        long end = System.nanoTime() + BOOT_TIMEOUT_NS;
        int names;
        int log = Status.E_INVALID_ARG;
        while ((names = listNames()) != Status.OK || (log = writeLog()) != Status.OK) {
            if (System.nanoTime() > end) {
                throw new IllegalStateException("the system is not up after " + BOOT_TIMEOUT_NS / 1_000_000
                        + " ms: names list " + status(names) + ", log write " + status(log));
            }
            Thread.sleep(1);
        }
    }

    /** Rebinds the kernel thread to the calling JVM thread (JMH may move the benchmark between threads). */
    public void rebindToCurrentThread() {
        Thread me = Thread.currentThread();
        if (tcb.runner != me) {
            tcb.runner = me;
        }
    }

    /** The current incarnation's domain of {@code server}. */
    public Domain domainOf(String server) {
        return boot.init().serverDomain(server);
    }

    /** Crashes {@code server} and returns once its new incarnation serves; the number of attempts. */
    public int crashAndAwaitServing(String server) {
        Domain old = domainOf(server);
        kernel.injectFault(old, "bench crash");
        return awaitServing(server, old);
    }

    /**
     * Calls {@code server} until a call succeeds completely (names: lists every boot service;
     * log: takes a write) and the server's domain is no longer {@code old} (null: any). A call
     * that the restart interrupts (E_RESTARTED, E_SERVER_FAULT), or a names listing not complete
     * yet, is retried at once; any other failure throws. Returns the number of attempts.
     */
    public int awaitServing(String server, Domain old) {
        boolean names = server.equals("names");
        long start = System.nanoTime();
        for (int attempt = 1;; attempt++) {
            int st = names ? listNames() : writeLog();
            if (st == Status.OK && domainOf(server) != old) {
                return attempt;
            }
            if (st != Status.OK && st != INCOMPLETE && st != Status.E_RESTARTED && st != Status.E_SERVER_FAULT) {
                throw new IllegalStateException(server + ": " + sys.describe(st, names ? "list names" : "log write")
                        + " (attempt " + attempt + ")");
            }
            if (System.nanoTime() - start > RECOVERY_TIMEOUT_NS) {
                throw new IllegalStateException(server + " does not serve again " + RECOVERY_TIMEOUT_NS / 1_000_000
                        + " ms after its crash; last attempt: " + status(st));
            }
        }
    }

    /**
     * One listing of names, page by page (one call per name): OK if it lists exactly
     * {@link #BOOT_SERVICES}, {@link #INCOMPLETE} if it lists fewer (a restarted names server
     * that lost its state would), else the failing call's status.
     */
    public int listNames() {
        long cursor = 0;
        int n = 0;
        while (cursor >= 0) {
            sys.mr(0, cursor);
            int st = sys.call(NAMES, Tag.of(Names.LIST, 1), Sys.FOREVER);
            if (st != Status.OK) {
                return st;
            }
            if (sys.label() != Replies.OK) {
                throw new IllegalStateException("names list: error reply " + Status.name((int) sys.mr(0)) + ": "
                        + sys.string(1));
            }
            cursor = sys.mr(0);
            String name = sys.string(1);
            if (name != null) {
                if (n == listing.length) {
                    throw new IllegalStateException("names lists more than " + BOOT_SERVICES);
                }
                listing[n++] = name;
            }
        }
        if (n < BOOT_SERVICES.size()) {
            return INCOMPLETE;
        }
        for (int i = 0; i < n; i++) {
            if (!listing[i].equals(BOOT_SERVICES.get(i))) {
                throw new IllegalStateException("names lists " + List.of(listing).subList(0, n) + ", want "
                        + BOOT_SERVICES);
            }
        }
        return Status.OK;
    }

    /** One debug-level log write (kept in the log's ring; below the host log's level). */
    public int writeLog() {
        sys.mr(0, Log.DEBUG);
        int len = sys.putString(1, "bench");
        int st = sys.call(LOG, Tag.of(Log.WRITE, len), Sys.FOREVER);
        if (st == Status.OK && sys.label() != Replies.OK) {
            throw new IllegalStateException("log write: error reply " + Status.name((int) sys.mr(0)) + ": "
                    + sys.string(1));
        }
        return st;
    }

    private static String status(int st) {
        return st == INCOMPLETE ? "incomplete listing" : Status.name(st);
    }

    /**
     * Shuts the system down as the shell's {@code shutdown} does (a {@code proc} call, so it does
     * not wait for the shell to see the end of its input), waits a
     * little for it, and closes it.
     */
    @Override
    public void close() {
        try {
            keepOpen.close();
            if (sys != null) {
                rebindToCurrentThread();
                try {
                    isola.sdk.Proc.shutdown(sys, PROC, 0);
                } catch (isola.sdk.IsolaException e) {
                    System.err.println("isola bench: " + e.getMessage());
                }
            }
            if (boot != null) {
                try {
                    CompletableFuture.supplyAsync(boot::awaitExit).get(10, TimeUnit.SECONDS);
                } catch (TimeoutException e) {
                    System.err.println("isola bench: the in-process system did not shut down within 10 s; closing it");
                } catch (Exception e) {
                    System.err.println("isola bench: the in-process system ended with " + e);
                }
                boot.close();
            }
        } catch (IOException e) {
            // closing a pipe does not fail
        } finally {
            try {
                Files.deleteIfExists(image);
            } catch (IOException e) {
                System.err.println("isola bench: cannot delete " + image + ": " + e);
            }
        }
    }
}
