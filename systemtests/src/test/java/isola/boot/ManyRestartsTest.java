package isola.boot;

import static org.junit.jupiter.api.Assertions.*;

import isola.boot.image.DefaultImage;
import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.KernelException;
import isola.kernel.Status;
import isola.kernel.Tcb;
import isola.sdk.IsolaException;
import isola.sdk.Log;
import isola.sdk.Names;
import isola.sdk.Proc;
import isola.sdk.Sys;
import java.io.ByteArrayOutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Restarts without end: a server restarted more times than the kernel has domains keeps
 * serving, because each dead incarnation's domain is reclaimed once its threads have unwound and
 * its endpoint serves the next one; and a restart that finds no domain free leaves the server
 * dead, its callers told so, instead of hanging them.
 */
class ManyRestartsTest {
    static final int NAMES = 0, LOG = 1, SUPERVISOR = 2;

    @TempDir
    Path dir;
    PipedOutputStream keepOpen;
    Boot b;
    Kernel k;

    /** Boots with names restarted on every crash, without backoff. */
    @BeforeEach
    void boot() throws Exception {
        String manifest = DefaultImage.defaultManifest().replace("[server names]\n",
                "[server names]\nrestart = on-crash\nmax-restarts = 1000\nbackoff = 0ms\n");
        assertNotEquals(DefaultImage.defaultManifest(), manifest, "the names section was found");
        Path image = DefaultImage.build(dir.resolve("isola.img"), manifest);
        keepOpen = new PipedOutputStream();
        b = Boot.start(image, new PipedInputStream(keepOpen), new PrintStream(new ByteArrayOutputStream()), false)
                .awaitBooted();
        k = b.machine().kernel();
    }

    @AfterEach
    void shutdown() throws Exception {
        keepOpen.close();
        assertEquals(0, b.awaitExit());
        b.close();
    }

    /** A client with names, log and supervisor capabilities, its thread the calling JVM thread. */
    Sys client() throws InterruptedException {
        Domain client = k.createDomain("client", 16, 16);
        b.init().grantService("names", client, NAMES, 0);
        b.init().grantService("log", client, LOG, 0);
        b.init().grantService("supervisor", client, SUPERVISOR, 0);
        Tcb t = k.createThread(client, "test", 100);
        b.machine().attach(t);
        Sys sys = Sys.of(k, t);
        BootTest.awaitNames(sys);
        return sys;
    }

    @Test
    void namesSurvivesMoreRestartsThanThereAreDomains() throws Exception {
        assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
            Sys sys = client();
            int crashes = k.domainCapacity() + 20;
            for (int i = 0; i < crashes; i++) {
                Domain before = b.init().serverDomain("names");
                k.injectFault(before, "crash " + i);
                // The call waits through the restart and is answered by the next incarnation.
                List<String> names = Names.list(sys, NAMES);
                assertTrue(names.contains("names"), "after crash " + i + ": " + names);
                assertNotSame(before, b.init().serverDomain("names"), "crash " + i + " restarted it");
            }
            assertEquals(crashes, b.init().restarts("names"));
            assertTrue(k.domainsInUse() < 32, k.domainsInUse() + " domains are live after " + crashes + " restarts");
        });
    }

    @Test
    void aRestartWithNoDomainFreeLeavesTheServerDeadAndItsCallersToldSo() throws Exception {
        assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
            Sys sys = client();
            List<Domain> filler = new ArrayList<>();
            KernelException full = null;
            while (full == null) {
                try {
                    filler.add(k.createDomain("filler", 1, 0));
                } catch (KernelException e) {
                    full = e;
                }
            }
            assertEquals(Status.E_NO_MEMORY, full.status(), full.getMessage());

            k.injectFault(b.init().serverDomain("names"), "crash with no domain free");
            IsolaException dead = assertThrows(IsolaException.class, () -> Names.list(sys, NAMES));
            assertEquals(Status.E_DEAD_DOMAIN, dead.status(), dead.getMessage());

            for (Domain d : filler) {
                k.killDomainNow(d); // nothing refers to them: their ids are free again at once
            }
            String restarted = Proc.restart(sys, SUPERVISOR, "names");
            assertTrue(restarted.startsWith("restarted names"), restarted);
            assertTrue(Names.list(sys, NAMES).contains("names"), "names serves again, whole");
            // The supervisor logs the failure after it has told the callers: wait for it.
            String dmesg = "";
            for (long end = System.nanoTime() + 30_000_000_000L; !dmesg.contains("restart failed") && System.nanoTime() < end; ) {
                dmesg = String.join("\n", Log.read(sys, LOG));
            }
            assertTrue(dmesg.contains("names crashed (") && dmesg.contains("restart failed, left dead")
                    && dmesg.contains("all " + k.domainCapacity() + " domains are in use"), dmesg);
        });
    }
}
