package isola.kernel;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The kernel log: lifecycle events as records a reader drains by sequence number. */
class KernelLogTest {
    KernelRig rig;

    @AfterEach
    void tearDown() {
        if (rig != null) {
            rig.close();
        }
    }

    List<String> drain(Kernel k, long from) {
        List<String> out = new ArrayList<>();
        for (long n = Math.max(from, k.log().first()); n < k.log().written(); n++) {
            out.add(k.log().record(n));
        }
        return out;
    }

    @Test
    void recordsDomainLifecycleAndWakesItsReader() {
        rig = KernelRig.deterministic();
        Kernel k = rig.k;
        Domain reader = rig.domain("reader");
        Notification n = rig.notification(reader, 0);
        k.log().setReader(n);
        long start = k.log().written();
        Domain srv = rig.domain("srv");
        Domain next = rig.domain("srv2");
        Endpoint faults = rig.endpoint(reader, 1);
        Endpoint svc = rig.endpoint(srv, 0);
        k.grantCap(srv, 0, reader, 2, Rights.ALL, 0); // the endpoint outlives srv, as init's do
        k.rebindEndpoint(svc, srv); // srv serves it
        k.setFaultEndpoint(srv, faults, 1);
        k.injectFault(srv, "test");
        k.killForRestart(srv);
        k.rebindEndpoint(svc, next);
        k.abandonRestart(srv);
        Domain reuse = rig.domain("reuse");
        List<String> lines = drain(k, start);
        String all = String.join("\n", lines);
        assertEquals(9, lines.size(), all);
        assertTrue(lines.get(0).endsWith("domain " + srv.id() + " (srv) created"), all);
        assertTrue(lines.get(3).contains("(srv) faulted in thread"), all);
        assertTrue(lines.get(3).contains("injected: test"), all);
        assertTrue(lines.get(4).endsWith("(srv) killed, to be restarted"), all);
        assertTrue(lines.get(5).endsWith("endpoint " + svc.id() + " now served by domain " + next.id() + " (srv2)"), all);
        // Its endpoint rebound and no thread left: srv's id is free, and reused at once.
        assertTrue(lines.get(6).endsWith("domain " + srv.id() + " (srv) reclaimed: its id is free"), all);
        assertTrue(lines.get(7).endsWith("(srv): restart abandoned"), all);
        assertEquals(srv.id(), reuse.id());
        assertTrue(lines.get(8).endsWith("domain " + srv.id() + " (reuse) created"), all);
        assertEquals("srv", srv.name(), "a reclaimed domain is retired, not reused");
        assertEquals(Domain.DEAD, srv.state());
        assertTrue(lines.get(0).matches("\\[\\d+\\.\\d{3} ms\\] .*"), lines.get(0));
        int[] st = new int[1];
        long[] bits = new long[1];
        rig.spawn(reader, "klogd", 5, t -> {
            st[0] = k.await(t, 0, Kernel.POLL);
            bits[0] = KernelRig.badge(t);
        });
        rig.runAll();
        assertEquals(Status.OK, st[0]);
        assertEquals(1, bits[0], "the reader's notification was signalled");
        assertNull(k.log().record(k.log().written()), "not written yet");
    }

    @Test
    void oldRecordsAreOverwritten() {
        rig = KernelRig.deterministic();
        Kernel k = rig.k;
        Domain d = rig.domain("d");
        Endpoint ep = rig.endpoint(d, 0);
        for (int i = 0; i < KernelLog.CAPACITY + 10; i++) {
            k.rebindEndpoint(ep, d);
        }
        assertEquals(k.log().written() - KernelLog.CAPACITY, k.log().first());
        assertNull(k.log().record(k.log().first() - 1), "overwritten");
        assertNotNull(k.log().record(k.log().first()));
        assertEquals(KernelLog.CAPACITY, drain(k, 0).size());
    }
}
