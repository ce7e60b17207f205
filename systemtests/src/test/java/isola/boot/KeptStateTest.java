package isola.boot;

import static org.junit.jupiter.api.Assertions.*;

import isola.boot.image.DefaultImage;
import isola.kernel.Domain;
import isola.kernel.Endpoint;
import isola.kernel.Kernel;
import isola.kernel.Rights;
import isola.kernel.Status;
import isola.kernel.Tag;
import isola.kernel.Tcb;
import isola.sdk.IsolaException;
import isola.sdk.Keep;
import isola.sdk.Log;
import isola.sdk.Names;
import isola.sdk.Sys;
import java.io.ByteArrayOutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A restarted server loses nothing it acknowledged: names keeps every registration and minted
 * prefix with init before it answers, and log's ring lives in its kept memory. Also the
 * keeper's answers to bad requests.
 */
class KeptStateTest {
    static final int NAMES = 0, LOG = 1, KEEP = 2, OWN = 3, PREFIXED = 4, LOOKED_UP = 5, SUPERVISOR = 6;

    @TempDir
    static Path dir;
    static Path image;

    PipedOutputStream keepOpen;
    Boot b;
    Kernel k;
    Sys sys;

    @BeforeAll
    static void buildImage() throws Exception {
        image = DefaultImage.build(dir.resolve("isola.img"), DefaultImage.defaultManifest());
    }

    /** Boots, and attaches a host-side client with init's unbadged names capability and a log one. */
    @BeforeEach
    void boot() throws Exception {
        keepOpen = new PipedOutputStream();
        b = Boot.start(image, new PipedInputStream(keepOpen), new PrintStream(new ByteArrayOutputStream()), false).awaitBooted();
        k = b.machine().kernel();
        Domain client = k.createDomain("client", 16, 16);
        b.init().grantService("names", client, NAMES, 0);
        b.init().grantService("log", client, LOG, 0);
        b.init().grantKeep("names", client, KEEP);
        Endpoint own = k.createEndpoint(client);
        k.installCap(client, OWN, own, Rights.ALL, 0);
        this.client = client;
    }

    Domain client;

    /** The client's thread: the JVM thread calling this (the hang guard's) makes its system calls. */
    void attach() throws InterruptedException {
        Tcb t = k.createThread(client, "test", 100);
        b.machine().attach(t);
        sys = Sys.of(k, t);
        BootTest.awaitNames(sys);
    }

    @AfterEach
    void shutdown() throws Exception {
        keepOpen.close();
        assertEquals(0, b.awaitExit());
        b.close();
    }

    void crash(String server) throws InterruptedException {
        crash(b, server);
    }

    /** Crashes {@code server} and waits (bounded) until its next incarnation runs. */
    static void crash(Boot b, String server) throws InterruptedException {
        Domain before = b.init().serverDomain(server);
        int restarts = b.init().restarts(server);
        b.machine().kernel().injectFault(before, "test crash");
        long end = System.nanoTime() + 30_000_000_000L;
        while (b.init().restarts(server) == restarts && System.nanoTime() < end) {
            Thread.sleep(1);
        }
        assertEquals(restarts + 1, b.init().restarts(server), server + " was restarted");
        assertNotSame(before, b.init().serverDomain(server));
    }

    @Test
    void namesKeepsRegistrationsAndPrefixesAcrossRestarts() throws Exception {
        assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
            attach();
            Names.register(sys, NAMES, "test/own", OWN);
            Names.mintPrefix(sys, NAMES, "app/", PREFIXED);
            crash("names");

            assertTrue(Names.list(sys, NAMES).contains("test/own"), "the registration survived");
            Names.lookup(sys, NAMES, "test/own", LOOKED_UP);
            Names.register(sys, PREFIXED, "app/svc", OWN); // the minted prefix still holds
            IsolaException outside = assertThrows(IsolaException.class, () -> Names.register(sys, PREFIXED, "other", OWN));
            assertEquals(Status.E_NO_RIGHTS, outside.status(), outside.getMessage());

            Names.unregister(sys, NAMES, "test/own");
            crash("names");
            List<String> names = Names.list(sys, NAMES);
            assertFalse(names.contains("test/own"), "the unregistration survived too: " + names);
            assertTrue(names.containsAll(List.of("app/svc", "console", "log", "names", "proc", "supervisor")), names.toString());
            assertTrue(b.init().kept("names").keySet().stream().anyMatch(key -> key.startsWith(Names.KEPT_NAME + "app/svc@")),
                    "kept with its owner: " + b.init().kept("names").keySet());
        });
    }

    /**
     * A name's owner (the names capability that registered it) may register it again, also
     * after a restart of names; anyone else, even with a prefix that covers the name, is told
     * it is taken, and a name given up can be taken by another owner.
     */
    @Test
    void registeringAgainSucceedsForTheOwnerOnly() throws Exception {
        assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
            attach();
            Names.register(sys, NAMES, "test/own", OWN);
            Names.register(sys, NAMES, "test/own", OWN); // the owner again: not a conflict
            Names.mintPrefix(sys, NAMES, "test/", PREFIXED); // another owner, allowed test/...
            assertTaken(PREFIXED, "test/own");
            Names.register(sys, PREFIXED, "test/theirs", OWN);
            Names.register(sys, PREFIXED, "test/theirs", OWN);
            assertTaken(NAMES, "test/theirs");

            crash("names");
            Names.register(sys, NAMES, "test/own", OWN);
            Names.register(sys, PREFIXED, "test/theirs", OWN);
            assertTaken(PREFIXED, "test/own");
            assertTaken(NAMES, "test/theirs");

            Names.unregister(sys, PREFIXED, "test/theirs");
            Names.register(sys, NAMES, "test/theirs", OWN); // given up: anyone may take it
            crash("names");
            Names.register(sys, NAMES, "test/theirs", OWN);
            assertTaken(PREFIXED, "test/theirs");
            Names.lookup(sys, NAMES, "test/theirs", LOOKED_UP);
            List<String> names = Names.list(sys, NAMES);
            assertEquals(1, names.stream().filter("test/own"::equals).count(), names.toString());
            assertEquals(1, names.stream().filter("test/theirs"::equals).count(), names.toString());
        });
    }

    void assertTaken(int through, String name) {
        IsolaException e = assertThrows(IsolaException.class, () -> Names.register(sys, through, name, OWN));
        assertEquals(Status.E_SLOT_OCCUPIED, e.status(), e.getMessage());
        assertTrue(e.getMessage().contains("'" + name + "' is already registered"), e.getMessage());
    }

    /**
     * The acknowledgement of a registration is lost: names has kept it when it is killed for a
     * restart, before it answers, so the caller gets E_RESTARTED and {@code callRetrying} sends
     * the same registration to the next incarnation, which has it already; it must succeed. The
     * window is held open through init's lock, which the keeper takes to keep anything: the
     * keeper has the request and waits while names is killed, then keeps it and answers the dead.
     */
    @Test
    void aRegistrationWhoseAnswerWasLostSucceedsWhenRetried() throws Exception {
        b.init().grantService(isola.sdk.Proc.SUPERVISOR, client, SUPERVISOR, 0);
        Domain init = k.liveDomains().stream().filter(d -> d.name().equals("init")).findFirst().orElseThrow();
        Tcb keeper = k.threadsOf(init).stream().filter(t -> t.name().equals("keeper")).findFirst().orElseThrow();
        Tcb registrar = k.createThread(client, "registrar", 100);
        ExecutorService a = Executors.newSingleThreadExecutor(r -> new Thread(r, "registrar"));
        try {
            assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
                attach();
                Sys rs = a.submit(() -> {
                    b.machine().attach(registrar);
                    return Sys.of(k, registrar);
                }).get();
                Domain names = b.init().serverDomain("names");
                String name = null;
                String trying = null;
                Future<?> registered = null;
                // Another server's keep (the block driver's, as the file system attaches) may
                // hold the keeper first: it is let through, and if the registration got through
                // meanwhile (answered), the next name is tried.
                for (int tries = 0; name == null; tries++) {
                    assertTrue(tries < 10, "the keeper never held a registration of names");
                    synchronized (b.init()) {
                        if (registered == null || registered.isDone()) {
                            if (registered != null) {
                                registered.get(); // answered: a failure is the test's failure
                            }
                            String next = "test/lost" + tries;
                            registered = a.submit(() -> {
                                Names.register(rs, NAMES, next, OWN);
                                return null;
                            });
                            trying = next;
                        }
                        // Until the keeper has a request and waits for init's lock, or the
                        // registration was answered: its keep may have slipped through while
                        // the lock was free, and then no request will come to hold.
                        while (((Thread) keeper.runner).getState() != Thread.State.BLOCKED && !registered.isDone()) {
                            Thread.sleep(1);
                        }
                        if (((Thread) keeper.runner).getState() == Thread.State.BLOCKED
                                && (Names.KEPT_NAME + trying).equals(Sys.of(k, keeper).string(0))) {
                            k.killForRestart(names);
                            name = trying;
                        }
                    }
                    while (name == null && ((Thread) keeper.runner).getState() == Thread.State.BLOCKED) {
                        Thread.sleep(1); // the other request goes through
                    }
                }
                String kept = Names.KEPT_NAME + name;
                long end = System.nanoTime() + 30_000_000_000L;
                while (!b.init().kept("names").containsKey(kept) && System.nanoTime() < end) {
                    Thread.sleep(1);
                }
                assertTrue(b.init().kept("names").containsKey(kept),
                        "the dead incarnation's registration was kept: " + b.init().kept("names").keySet());
                assertFalse(registered.isDone(), "its caller was told E_RESTARTED, and waits to retry");
                isola.sdk.Proc.restart(sys, SUPERVISOR, "names");
                registered.get(); // the retry, served by the next incarnation
                assertNotSame(names, b.init().serverDomain("names"));
                assertTrue(rs.interruptedCalls() > 0, "the registration was retried");
                Names.lookup(sys, NAMES, name, LOOKED_UP);
                Names.mintPrefix(sys, NAMES, "test/", PREFIXED);
                assertTaken(PREFIXED, name);
            });
        } finally {
            a.shutdownNow();
        }
    }

    @Test
    void logRingSurvivesRestarts() throws Exception {
        assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
            attach();
            Log.write(sys, LOG, Log.WARN, "written before the crash");
            crash("log");
            Log.write(sys, LOG, Log.INFO, "written after the crash");
            // The supervisor logs the crash after the restart it reports, so it may come later.
            List<String> dmesg = awaitDmesg(List.of("log crashed"));
            String all = String.join("\n", dmesg);
            assertTrue(all.contains("init: started 6 servers"), "boot records survive:\n" + all);
            int before = indexOf(dmesg, "written before the crash");
            int after = indexOf(dmesg, "written after the crash");
            assertTrue(before >= 0 && after > before, "both records, in order:\n" + all);
            assertTrue(dmesg.get(before).contains("warn"), dmesg.get(before));
            assertTrue(all.contains("log crashed"), "the supervisor's record of the crash:\n" + all);
        });
    }

    /** klogd drains the kernel's log into dmesg, as the source "kernel". */
    @Test
    void dmesgHasTheKernelsLifecycleRecords() throws Exception {
        assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
            attach();
            int old = b.init().serverDomain("names").id();
            crash("names");
            int fresh = b.init().serverDomain("names").id();
            List<String> want = List.of("domain " + old + " (names) faulted in thread", "(injected: test crash)",
                    "domain " + old + " (names) killed, to be restarted", "domain " + fresh + " (names) created",
                    "now served by domain " + fresh + " (names)");
            String all = String.join("\n", awaitDmesg(want));
            for (String w : want) {
                assertTrue(all.contains(w), "dmesg has '" + w + "':\n" + all);
            }
            assertTrue(all.lines().anyMatch(l -> l.matches(".*\\] kernel +info +\\[.* ms\\] domain 0 \\(init\\) created")), all);
        });
    }

    /**
     * dmesg once it holds every text of {@code want} (records written asynchronously, by klogd or
     * after the event they report), or after 30 s, for the caller's assertions to report.
     */
    List<String> awaitDmesg(List<String> want) throws InterruptedException {
        long end = System.nanoTime() + 30_000_000_000L;
        for (;;) {
            List<String> dmesg = Log.read(sys, LOG);
            String all = String.join("\n", dmesg);
            if (want.stream().allMatch(all::contains) || System.nanoTime() > end) {
                return dmesg;
            }
            Thread.sleep(1);
        }
    }

    static int indexOf(List<String> lines, String text) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).contains(text)) {
                return i;
            }
        }
        return -1;
    }

    @Test
    void keeperRejectsBadRequestsAndKeepsNothingOfThem() throws Exception {
        assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
            attach();
            var before = b.init().kept("names");
            IsolaException e = assertThrows(IsolaException.class, () -> Keep.remove(sys, KEEP, "no/such/key"));
            assertEquals(Status.E_EMPTY_SLOT, e.status());
            assertTrue(e.getMessage().contains("no/such/key"), e.getMessage());
            e = assertThrows(IsolaException.class, () -> Keep.put(sys, KEEP, "x".repeat(Keep.MAX_KEY + 1), "v"));
            assertEquals(Status.E_INVALID_ARG, e.status());
            assertTrue(e.getMessage().contains("bad key"), e.getMessage());
            e = assertThrows(IsolaException.class, () -> Keep.put(sys, KEEP, "", "v"));
            assertTrue(e.getMessage().contains("bad key"), e.getMessage());
            // PUT_CAP without a capability
            int len = sys.putString(0, "name/nocap");
            int st = sys.call(KEEP, Tag.of(Keep.PUT_CAP, len), Sys.FOREVER);
            e = assertThrows(IsolaException.class, () -> isola.sdk.Replies.check(sys, st, "put cap"));
            assertTrue(e.getMessage().contains("exactly one capability"), e.getMessage());
            // an unknown request
            len = sys.putString(0, "k");
            int st2 = sys.call(KEEP, Tag.of(9, len), Sys.FOREVER);
            e = assertThrows(IsolaException.class, () -> isola.sdk.Replies.check(sys, st2, "unknown"));
            assertTrue(e.getMessage().contains("unknown request 9"), e.getMessage());
            assertEquals(before, b.init().kept("names"), "nothing changed");

            Keep.put(sys, KEEP, "note", "kept text");
            assertEquals("kept text", b.init().kept("names").get("note"));
            Keep.remove(sys, KEEP, "note");
            assertEquals(before, b.init().kept("names"));
        });
    }
}
