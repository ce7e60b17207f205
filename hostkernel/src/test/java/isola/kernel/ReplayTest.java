package isola.kernel;

import static isola.kernel.KernelRig.badge;
import static isola.kernel.KernelRig.mr;
import static isola.kernel.KernelRig.setMr;
import static isola.kernel.Status.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Deterministic replay: the same system run twice on fresh deterministic machines gives the
 * same kernel trace, event for event; a different input gives a different one.
 */
class ReplayTest {
    static final int EP = 0;
    static final int SLEEP = 1;
    static final int FAULTS = 2;
    static final int LOG = 3;
    static final int TICK = 4;
    static final long BOOM = -1;

    record Run(List<String> trace, long dropped, List<String> log, int blocked, long endTime) {}

    /**
     * A supervisor, a server that faults once and is resumed, a log server taking one-way
     * messages with receive timeouts, three clients at two priorities calling with and without
     * timeouts, a ticker signalling a notification and a waiter on it with timeouts, and two
     * equal-priority workers sharing the processor in small slices.
     */
    static Run scenario(int clientPriority) {
        KernelRig rig = KernelRig.deterministic();
        try {
            Kernel k = rig.k;
            Domain sup = rig.domain("sup");
            Domain srv = rig.domain("srv");
            Domain logd = rig.domain("log");
            Domain cli = rig.domain("cli");
            Domain misc = rig.domain("misc");
            for (Domain d : List.of(sup, srv, logd, cli, misc)) {
                rig.notification(d, SLEEP);
            }
            Endpoint faultEp = rig.endpoint(sup, FAULTS);
            Endpoint service = rig.endpoint(srv, EP);
            k.bindServer(service, srv);
            k.setFaultEndpoint(srv, faultEp, 5);
            rig.endpoint(logd, LOG);
            rig.notification(misc, TICK);
            for (int i = 0; i < 3; i++) {
                rig.grant(srv, EP, cli, 10 + i, Rights.SEND, 100 + i);
            }
            rig.grant(logd, LOG, cli, LOG, Rights.SEND, 0);
            List<String> log = rig.log;

            rig.spawn(sup, "supervisor", 30, t -> {
                long reply = 0;
                while (k.replyRecv(t, FAULTS, reply, Kernel.FOREVER) == OK) {
                    log.add("fault " + mr(t, 0) + " t" + mr(t, 1) + " n" + mr(t, 3) + " @" + rig.now());
                    rig.sleep(t, SLEEP, 15_000);
                    reply = Tag.of(Domain.FAULT_RESUME, 0);
                }
            });
            rig.spawn(srv, "server", 15, t -> {
                log.add("server start @" + rig.now());
                long reply = 0;
                while (k.replyRecv(t, EP, reply, Kernel.FOREVER) == OK) {
                    if (mr(t, 0) == BOOM) {
                        throw new IllegalStateException("boom");
                    }
                    setMr(t, 0, mr(t, 0) * 3 + badge(t));
                    reply = Tag.of(0, 1);
                    if (mr(t, 0) % 4 == 0) {
                        rig.sleep(t, SLEEP, 2_500); // slow request: callers queue meanwhile
                    }
                }
            });
            rig.spawn(logd, "logger", 8, t -> {
                int timeouts = 0;
                for (int got = 0; got < 12; ) {
                    int r = k.recv(t, LOG, 20_000);
                    if (r == OK) {
                        got++;
                        log.add("log " + mr(t, 0) + " @" + rig.now());
                    } else {
                        assertEquals(E_TIMEOUT, r);
                        timeouts++;
                    }
                }
                log.add("logger timeouts " + timeouts);
            });
            int[] prios = {5, 10, clientPriority};
            for (int c = 0; c < 3; c++) {
                int id = c;
                rig.spawn(cli, "client" + c, prios[c], t -> {
                    for (int i = 0; i < 8; i++) {
                        setMr(t, 0, id == 1 && i == 3 ? BOOM : i + 10L * id);
                        long timeout = (i + id) % 3 == 0 ? 4_000 : Kernel.FOREVER;
                        int r = k.call(t, 10 + id, Tag.of(1, 1), timeout);
                        log.add("c" + id + " " + i + " " + Status.name(r) + " " + (r == OK ? mr(t, 0) : -1)
                                + " @" + rig.now());
                        if (i % 2 == 0) {
                            setMr(t, 0, id * 100 + i);
                            k.send(t, LOG, Tag.of(2, 1), Kernel.FOREVER);
                        }
                        rig.sleep(t, SLEEP, 3_000L * (id + 1));
                    }
                });
            }
            rig.spawn(misc, "ticker", 12, t -> {
                for (int i = 0; i < 20; i++) {
                    rig.sleep(t, SLEEP, 7_000);
                    assertEquals(OK, k.signal(t, TICK));
                }
            });
            rig.spawn(misc, "waiter", 6, t -> {
                for (int i = 0; i < 25; i++) {
                    int r = k.await(t, TICK, 10_000);
                    log.add("wait " + Status.name(r) + " " + badge(t) + " @" + rig.now());
                }
            });
            for (String name : List.of("rrA", "rrB")) {
                Tcb w = rig.thread(misc, name, 4);
                k.setTimeslice(w, 3_000);
                rig.machine.spawn(w, () -> {
                    for (int i = 0; i < 30; i++) {
                        log.add(name + " " + i);
                        k.poll(w, TICK);
                        if (i % 10 == 9) {
                            k.yield(w);
                        }
                    }
                });
            }
            int blocked = rig.det().run();
            rig.check();
            return new Run(k.trace().lines(), k.trace().dropped(), new ArrayList<>(log), blocked, rig.now());
        } finally {
            rig.close();
        }
    }

    @Test
    void sameInputsGiveSameTrace() {
        Run a = scenario(10);
        Run b = scenario(10);
        assertEquals(0, a.dropped(), "the trace buffer overflowed");
        assertTrue(a.trace().size() > 500, "trace too short: " + a.trace().size());
        assertEquals(2, a.blocked(), "the supervisor and the server wait forever at the end");
        assertTrue(a.log().stream().anyMatch(s -> s.startsWith("fault ")), "the scenario faulted");
        assertTrue(a.log().stream().anyMatch(s -> s.contains("E_TIMEOUT")), "a call timed out");
        assertTrue(a.log().stream().anyMatch(s -> s.startsWith("wait OK")));
        assertEquals(2, a.log().stream().filter(s -> s.startsWith("server start")).count());
        assertTrue(a.trace().stream().anyMatch(s -> s.contains(" fault d")));
        assertEquals(a.trace(), b.trace());
        assertEquals(a.log(), b.log());
        assertEquals(a.endTime(), b.endTime());
    }

    @Test
    void differentPriorityGivesDifferentTrace() {
        Run a = scenario(10);
        Run c = scenario(11);
        assertEquals(0, c.dropped());
        assertNotEquals(a.trace(), c.trace());
        assertEquals(c.trace(), scenario(11).trace());
    }
}
