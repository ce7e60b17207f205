package isola.kernel;

import static org.junit.jupiter.api.Assertions.*;

import isola.kernel.machine.ConcurrentMachine;
import isola.kernel.machine.DeterministicMachine;
import isola.kernel.machine.HostedMachine;
import org.junit.jupiter.api.Test;

class SmokeTest {
    @Test
    void deterministicCallReply() {
        DeterministicMachine m = HostedMachine.deterministic(KernelConfig.DEFAULT.withTrace(1000));
        Kernel k = m.kernel();
        Domain sd = k.createDomain("server", 16, 16);
        Domain cd = k.createDomain("client", 16, 16);
        Endpoint ep = k.createEndpoint(sd);
        k.installCap(sd, 0, ep, Rights.ALL, 0);
        k.grantCap(sd, 0, cd, 0, Rights.SEND, 7);
        Tcb st = k.createThread(sd, "srv", 10);
        Tcb ct = k.createThread(cd, "cli", 10);
        long[] got = new long[3];
        m.spawn(st, () -> {
            int r = k.replyRecv(st, 0, 0, Kernel.FOREVER);
            assertEquals(Status.OK, r);
            got[0] = Utcb.badge(st.utcb());
            Utcb.setMr(st.utcb(), 0, Utcb.mr(st.utcb(), 0) + 1);
            k.reply(st, Tag.of(0, 1));
        });
        m.spawn(ct, () -> {
            Utcb.setMr(ct.utcb(), 0, 41);
            got[1] = k.call(ct, 0, Tag.of(1, 1), Kernel.FOREVER);
            got[2] = Utcb.mr(ct.utcb(), 0);
        });
        assertEquals(0, m.run());
        assertEquals(7, got[0]);
        assertEquals(0, got[1]);
        assertEquals(42, got[2]);
        assertFalse(k.trace().lines().isEmpty());
    }

    @Test
    void concurrentFastPath() throws Exception {
        ConcurrentMachine m = HostedMachine.concurrent(KernelConfig.DEFAULT);
        Kernel k = m.kernel();
        Domain sd = k.createDomain("server", 16, 16);
        Domain cd = k.createDomain("client", 16, 16);
        Endpoint ep = k.createEndpoint(sd);
        k.installCap(sd, 0, ep, Rights.ALL, 0);
        k.grantCap(sd, 0, cd, 0, Rights.SEND, 7);
        Tcb st = k.createThread(sd, "srv", 10);
        Tcb ct = k.createThread(cd, "cli", 10);
        m.spawn(st, () -> {
            long tag = 0;
            for (;;) {
                int r = k.replyRecv(st, 0, tag, Kernel.FOREVER);
                if (r != 0) return;
                Utcb.setMr(st.utcb(), 0, Utcb.mr(st.utcb(), 0) + 1);
                tag = Tag.of(0, 1);
            }
        });
        m.attach(ct);
        long v = 0;
        int n = 20_000;
        for (int i = 0; i < n; i++) {
            Utcb.setMr(ct.utcb(), 0, v);
            assertEquals(0, k.call(ct, 0, Tag.of(1, 1), Kernel.FOREVER));
            v = Utcb.mr(ct.utcb(), 0);
        }
        assertEquals(n, v, "every call was answered once, in order");
        m.close();
    }
}
