package isola.boot;

import static org.junit.jupiter.api.Assertions.*;

import isola.boot.image.DefaultImage;
import isola.boot.testservers.paged.PagedServer;
import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.Status;
import isola.kernel.Tag;
import isola.kernel.Tcb;
import isola.sdk.Replies;
import isola.sdk.Sys;
import java.io.ByteArrayOutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A server named with {@code pager = pager} in the manifest gets its memory from the demand-zero
 * pager, which init starts first and gives the client's domain; both may crash and restart.
 */
class PagerTest {
    static final int PAGED = 0;

    @TempDir
    Path dir;

    @Test
    void aManifestPagerServesItsClientAcrossBothTheirRestarts() throws Exception {
        withClient("", "", (b, k, sys) -> {
            put(sys, 0, 11);
            put(sys, 7, 77);
            assertEquals(11, get(sys, 0));
            assertEquals(77, get(sys, 7));
            assertEquals(0, get(sys, 3), "an untouched page reads zero");
            Domain pagerDomain = b.init().serverDomain("pager");
            assertEquals(3 + 3, pagerDomain.framesUsed(), "three tables and three pages, paid by the pager");

            KeptStateTest.crash(b, "paged"); // a new incarnation: a fresh address space, paged in anew
            assertEquals(0, get(sys, 7), "a restarted server's memory starts empty");
            assertEquals(3 + 1, b.init().serverDomain("pager").framesUsed(),
                    "the pager freed what the dead incarnation held; three tables and one page now");
            put(sys, 7, 70);
            KeptStateTest.crash(b, "pager"); // its frames go with it: the client's pages fault in anew
            assertEquals(0, get(sys, 7));
            put(sys, 9, 99);
            assertEquals(99, get(sys, 9));
        });
    }

    /**
     * A client that will not come back (restart = never) does not leave its pages with the pager
     * for good: the supervisor tells the pager to free them, and the pager loses its capability
     * to the dead domain.
     */
    @Test
    void aClientLeftDeadHasItsPagesFreedByThePager() throws Exception {
        withClient("memory = 64K\n", "restart = never\n", (b, k, sys) -> {
            put(sys, 0, 11);
            put(sys, 5, 55);
            Domain pagerDomain = b.init().serverDomain("pager");
            assertEquals(3 + 2, pagerDomain.framesUsed());
            assertEquals(16, pagerDomain.frameQuota(), "memory = 64K in its manifest section");
            for (int page = 1; page <= 11; page++) {
                put(sys, page == 5 ? 12 : page, page); // 16 frames: three tables and thirteen pages
            }
            sys.mr(0, 100);
            sys.mr(1, 1);
            assertEquals(Status.OK, sys.call(PAGED, Tag.of(PagedServer.PUT, 2), Sys.FOREVER));
            assertEquals(Replies.ERROR, sys.label(), "the pager is out of quota: the client's access fails");
            assertTrue(sys.string(1).contains("E_NOT_MAPPED"), sys.string(1));
            assertEquals(16, pagerDomain.framesUsed());
            int clientSlot = 32; // init's first pager client slot
            assertNotNull(pagerDomain.cspace().get(clientSlot), "the pager holds the client's domain");

            Domain paged = b.init().serverDomain("paged");
            k.injectFault(paged, "test crash");
            long end = System.nanoTime() + 30_000_000_000L;
            while ((pagerDomain.framesUsed() > 0 || pagerDomain.cspace().get(clientSlot) != null) && System.nanoTime() < end) {
                Thread.sleep(1);
            }
            assertEquals(Domain.DEAD, paged.state(), "restart = never");
            assertEquals(0, pagerDomain.framesUsed(), "the pager freed the dead client's tables and pages");
            assertNull(pagerDomain.cspace().get(clientSlot), "and let go of its domain");
            sys.mr(0, 0);
            assertEquals(Status.E_DEAD_DOMAIN, sys.call(PAGED, Tag.of(PagedServer.GET, 1), Sys.FOREVER));
        });
    }

    interface ClientBody {
        void run(Boot b, Kernel k, Sys sys) throws Exception;
    }

    /**
     * Boots the default image plus a pager and the paged test server, with their sections'
     * extra keys, and runs {@code body} on a client thread holding {@code paged} in slot PAGED.
     */
    void withClient(String pagerKeys, String pagedKeys, ClientBody body) throws Exception {
        String manifest = DefaultImage.defaultManifest() + "\n[server pager]\njar = pager.jar\nprovides = pager\n" + pagerKeys
                + "\n[server paged]\njar = paged.jar\nprovides = paged\npager = pager\n" + pagedKeys;
        Path image = DefaultImage.build(dir.resolve("paged.img"), manifest, Map.of("paged.jar", PagedServer.class));
        PipedOutputStream keepOpen = new PipedOutputStream();
        Boot b = Boot.start(image, new PipedInputStream(keepOpen), new PrintStream(new ByteArrayOutputStream()), false)
                .awaitBooted();
        try {
            assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
                Kernel k = b.machine().kernel();
                Domain client = k.createDomain("client", 16, 16);
                b.init().grantService("paged", client, PAGED, 0);
                Tcb t = k.createThread(client, "test", 100);
                b.machine().attach(t);
                body.run(b, k, Sys.of(k, t));
            });
        } finally {
            keepOpen.close();
            assertEquals(0, b.awaitExit());
            b.close();
        }
    }

    static void put(Sys sys, long page, long value) {
        sys.mr(0, page);
        sys.mr(1, value);
        int st = sys.callRetrying(PAGED, Tag.of(PagedServer.PUT, 2), Sys.RESTART_ATTEMPTS);
        assertEquals(Status.OK, st, sys.describe(st, "put"));
        assertEquals(Replies.OK, sys.label(), "put " + page + ": " + sys.string(1));
    }

    static long get(Sys sys, long page) {
        sys.mr(0, page);
        int st = sys.callRetrying(PAGED, Tag.of(PagedServer.GET, 1), Sys.RESTART_ATTEMPTS);
        assertEquals(Status.OK, st, sys.describe(st, "get"));
        assertEquals(Replies.OK, sys.label(), "get " + page + ": " + sys.string(1));
        return sys.mr(0);
    }
}
