package isola.kernel;

import static isola.kernel.KernelRig.badge;
import static isola.kernel.KernelRig.mr;
import static isola.kernel.KernelRig.setMr;
import static isola.kernel.KernelRig.tag;
import static isola.kernel.Status.*;
import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Fault containment: an uncaught exception in a server thread or a passive handler fails the
 * call it was serving, marks the domain faulted, is reported to the domain's fault endpoint as a
 * message, and the supervisor's reply resumes or kills the domain. Nothing else stops.
 */
class FaultTest {
    static final int EP = 0;
    static final int SLEEP = 1;
    static final int GO = 2;
    static final int FAULT_EP = 3;
    static final long FAULT_BADGE = 77;
    static final long BOOM = -666;

    KernelRig rig;

    @AfterEach
    void tearDown() {
        if (rig != null) {
            rig.close();
        }
    }

    /** Serves {@code mr0 + 1}; throws on {@link #BOOM}. Counts how often the body (re)starts. */
    static KernelRig.ThreadBody faultyServer(Kernel k, AtomicInteger runs) {
        return t -> {
            runs.incrementAndGet();
            long reply = 0;
            while (k.replyRecv(t, EP, reply, Kernel.FOREVER) == OK) {
                if (mr(t, 0) == BOOM) {
                    throw new IllegalStateException("boom in " + t.name());
                }
                setMr(t, 0, mr(t, 0) + 1);
                reply = Tag.of(0, 1);
            }
        };
    }

    @Test
    void threadFaultReportedResumedThenKilled() {
        rig = KernelRig.deterministic();
        Kernel k = rig.k;
        Domain sup = rig.domain("sup");
        Domain srv = rig.domain("srv");
        Domain cli = rig.domain("cli");
        Domain echo = rig.domain("echo");
        Domain by = rig.domain("bystander");
        Endpoint faultEp = rig.endpoint(sup, FAULT_EP);
        rig.notification(sup, SLEEP);
        rig.notification(sup, GO);
        Endpoint service = rig.endpoint(srv, EP);
        rig.notification(srv, SLEEP);
        k.bindServer(service, srv);
        k.setFaultEndpoint(srv, faultEp, FAULT_BADGE);
        rig.grant(srv, EP, cli, EP, Rights.SEND, 5);
        rig.notification(cli, SLEEP);
        rig.grant(sup, GO, cli, GO, Rights.RECV, 0);
        Endpoint echoEp = rig.endpoint(echo, EP);
        k.bindServer(echoEp, echo);
        rig.grant(echo, EP, by, EP, Rights.SEND, 0);
        rig.notification(by, SLEEP);

        AtomicInteger runs = new AtomicInteger();
        Tcb server = rig.spawn(srv, "server", 10, faultyServer(k, runs));
        int[] helper = {99};
        rig.spawn(srv, "helper", 10, t -> helper[0] = k.await(t, SLEEP, Kernel.FOREVER));

        List<long[]> faults = new ArrayList<>();
        long[] window = new long[2];
        int[] stateAtFault = new int[2];
        rig.spawn(sup, "supervisor", 20, t -> {
            for (int i = 0; i < 2; i++) {
                assertEquals(OK, k.recv(t, FAULT_EP, Kernel.FOREVER));
                faults.add(new long[] {tag(t), badge(t), mr(t, 0), mr(t, 1), mr(t, 2), mr(t, 3)});
                stateAtFault[i] = srv.state();
                if (i == 0) {
                    window[0] = rig.now();
                    rig.sleep(t, SLEEP, 100_000); // the faulted domain stays down a while
                    window[1] = rig.now();
                    assertEquals(OK, k.reply(t, Tag.of(Domain.FAULT_RESUME, 0)));
                } else {
                    assertEquals(OK, k.reply(t, Tag.of(Domain.FAULT_KILL, 0)));
                }
                assertEquals(OK, k.signal(t, GO));
            }
        });

        int[] st = new int[8];
        long[] vals = new long[2];
        long[] heldUntil = new long[1];
        long[] heldAnswer = new long[1];
        rig.spawn(cli, "client", 5, t -> {
            setMr(t, 0, 1);
            st[0] = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
            vals[0] = mr(t, 0);
            setMr(t, 0, BOOM);
            st[1] = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
            setMr(t, 0, 6);
            st[2] = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER); // faulted: waits for the resume
            heldUntil[0] = rig.now();
            heldAnswer[0] = mr(t, 0);
            assertEquals(OK, k.await(t, GO, Kernel.FOREVER)); // resumed
            setMr(t, 0, 2);
            st[3] = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
            vals[1] = mr(t, 0);
            setMr(t, 0, BOOM);
            st[4] = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
            assertEquals(OK, k.await(t, GO, Kernel.FOREVER)); // killed
            st[5] = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
            st[6] = k.send(t, EP, Tag.of(1, 1), Kernel.POLL);
        });

        List<Long> byOk = new ArrayList<>();
        rig.spawn(echo, "echo", 5, t -> {
            long reply = 0;
            for (int i = 0; i < 40; i++) {
                assertEquals(OK, k.replyRecv(t, EP, reply, Kernel.FOREVER));
                reply = Tag.of(0, 1);
            }
            assertEquals(OK, k.reply(t, reply));
        });
        rig.spawn(by, "bystander", 5, t -> {
            for (int i = 0; i < 40; i++) {
                setMr(t, 0, i);
                assertEquals(OK, k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER), "bystander call " + i);
                assertEquals(i, mr(t, 0));
                byOk.add(rig.now());
                rig.sleep(t, SLEEP, 10_000);
            }
        });

        rig.runAll();

        assertEquals(OK, st[0]);
        assertEquals(2, vals[0]);
        assertEquals(E_SERVER_FAULT, st[1], "the caller being served when the server faulted");
        assertEquals(OK, st[2], "a call to a faulted domain with a fault handler waits for its decision");
        assertEquals(7, heldAnswer[0]);
        assertTrue(heldUntil[0] >= window[1], "held until the resume");
        assertEquals(OK, st[3], "served again after the resume");
        assertEquals(3, vals[1]);
        assertEquals(E_SERVER_FAULT, st[4]);
        assertEquals(E_DEAD_DOMAIN, st[5], "killed by the supervisor");
        assertEquals(E_DEAD_DOMAIN, st[6]);

        assertEquals(2, faults.size());
        for (int i = 0; i < 2; i++) {
            long[] f = faults.get(i);
            assertEquals(Domain.FAULT_LABEL, Tag.label(f[0]));
            assertEquals(4, Tag.length(f[0]));
            assertEquals(FAULT_BADGE, f[1]);
            assertEquals(Domain.FAULT_THREAD, f[2]);
            assertEquals(server.id(), f[3], "MR1: the faulting thread");
            assertEquals(srv.id(), f[4], "MR2: its domain");
            assertEquals(i + 1, f[5], "MR3: the domain's fault count");
            assertEquals(Domain.FAULTED, stateAtFault[i]);
        }
        assertEquals(2, runs.get(), "the body restarted once, after the resume");
        assertEquals(E_KILLED, helper[0], "the domain's other thread ends with it");
        assertEquals(Domain.DEAD, srv.state());
        assertEquals(0, srv.threadCount());
        assertEquals(2, srv.faultCount());
        assertInstanceOf(IllegalStateException.class, srv.lastFault());

        assertEquals(40, byOk.size());
        assertTrue(byOk.stream().filter(x -> x > window[0] && x < window[1]).count() >= 5,
                "the bystander kept running while the server was down");
        assertEquals(Domain.RUNNING, echo.state());
        assertEquals(Domain.RUNNING, sup.state());
        assertEquals(Domain.RUNNING, cli.state());
    }

    /**
     * Two threads of a domain fault while its supervisor is busy: one fault message queues on
     * the fault endpoint (the second fault only counts), and the one RESUME restarts both.
     */
    @Test
    void secondFaultWhileReportPendingIsCoalesced() {
        rig = KernelRig.deterministic();
        Kernel k = rig.k;
        Domain sup = rig.domain("sup");
        Domain srv = rig.domain("srv");
        Endpoint faultEp = rig.endpoint(sup, FAULT_EP);
        rig.notification(sup, SLEEP);
        rig.notification(srv, SLEEP);
        k.setFaultEndpoint(srv, faultEp, 1);
        AtomicInteger runsA = new AtomicInteger();
        AtomicInteger runsB = new AtomicInteger();
        rig.spawn(srv, "a", 10, t -> {
            if (runsA.incrementAndGet() == 1) {
                throw new IllegalStateException("a");
            }
        });
        rig.spawn(srv, "b", 10, t -> {
            if (runsB.incrementAndGet() == 1) {
                rig.sleep(t, SLEEP, 5_000);
                throw new IllegalStateException("b");
            }
        });
        long[] got = new long[4];
        rig.spawn(sup, "supervisor", 20, t -> {
            rig.sleep(t, SLEEP, 50_000); // busy: the report queues
            got[0] = faultEp.queuedSenders();
            assertEquals(OK, k.recv(t, FAULT_EP, Kernel.FOREVER));
            got[1] = mr(t, 3);
            got[2] = srv.faultCount();
            assertEquals(OK, k.reply(t, Tag.of(Domain.FAULT_RESUME, 0)));
            got[3] = k.recv(t, FAULT_EP, Kernel.POLL); // no second report
        });
        rig.runAll();
        assertEquals(1, got[0]);
        assertEquals(1, got[1], "the report is of the first fault");
        assertEquals(2, got[2]);
        assertEquals(E_WOULD_BLOCK, got[3]);
        assertEquals(2, runsA.get());
        assertEquals(2, runsB.get());
        assertEquals(Domain.RUNNING, srv.state());
    }

    /** A thread that faults with no fault endpoint waits; resumeDomain restarts it. */
    @Test
    void faultWithoutHandlerWaitsForResume() {
        rig = KernelRig.deterministic();
        Kernel k = rig.k;
        Domain d = rig.domain("d");
        rig.notification(d, SLEEP);
        AtomicInteger runs = new AtomicInteger();
        rig.spawn(d, "t", 10, t -> {
            if (runs.incrementAndGet() == 1) {
                throw new IllegalStateException("first run fails");
            }
            assertEquals(OK, k.poll(t, SLEEP));
        });
        assertEquals(1, rig.det().run(), "the faulted thread waits");
        assertEquals(Domain.FAULTED, d.state());
        assertEquals(1, runs.get());
        k.resumeDomain(d);
        rig.runAll();
        assertEquals(2, runs.get());
        assertEquals(Domain.RUNNING, d.state());
    }

    /**
     * A passive handler that throws: the caller gets E_SERVER_FAULT (back in its own domain),
     * the domain is faulted and refuses calls until resumeDomain restores it.
     */
    @Test
    void passiveHandlerFault() {
        rig = KernelRig.deterministic();
        passiveHandlerFault(rig);
    }

    @Test
    void passiveHandlerFaultConcurrent() {
        rig = KernelRig.concurrent();
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> passiveHandlerFault(rig));
    }

    private static void passiveHandlerFault(KernelRig rig) {
        Kernel k = rig.k;
        Domain p = rig.domain("passive");
        Domain c = rig.domain("client");
        Endpoint ep = rig.endpoint(p, EP);
        List<Domain> inside = new ArrayList<>();
        k.bindPassive(ep, p, caller -> {
            inside.add(caller.currentDomain());
            long x = Utcb.mr(caller.utcb(), 0);
            if (x == BOOM) {
                throw new IllegalStateException("handler boom");
            }
            Utcb.setMr(caller.utcb(), 0, x * 2);
            return Tag.of(3, 1);
        });
        rig.grant(p, EP, c, EP, Rights.SEND, 0);
        int[] st = new int[6];
        long[] vals = new long[2];
        int[] states = new int[2];
        Domain[] after = new Domain[1];
        KernelRig.ThreadBody body = t -> {
            setMr(t, 0, 21);
            st[0] = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
            vals[0] = mr(t, 0);
            setMr(t, 0, BOOM);
            st[1] = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
            after[0] = t.currentDomain();
            states[0] = p.state();
            setMr(t, 0, 5);
            st[2] = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
            st[3] = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
            k.resumeDomain(p);
            states[1] = p.state();
            setMr(t, 0, 5);
            st[4] = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
            vals[1] = mr(t, 0);
            st[5] = Tag.label(tag(t));
        };
        if (rig.machine.uniprocessor()) {
            rig.spawn(c, "client", 10, body);
            rig.runAll();
        } else {
            Tcb t = rig.thread(c, "client", 10);
            rig.machine.attach(t);
            body.run(t);
        }
        assertEquals(OK, st[0]);
        assertEquals(42, vals[0]);
        assertEquals(E_SERVER_FAULT, st[1]);
        assertSame(c, after[0], "the caller is back in its own domain after the fault");
        assertEquals(Domain.FAULTED, states[0]);
        assertEquals(E_DEAD_DOMAIN, st[2]);
        assertEquals(E_DEAD_DOMAIN, st[3]);
        assertEquals(Domain.RUNNING, states[1]);
        assertEquals(OK, st[4]);
        assertEquals(10, vals[1]);
        assertEquals(3, st[5]);
        assertEquals(1, p.faultCount());
        assertEquals("handler boom", p.lastFault().getMessage());
        assertEquals(3, inside.size(), "the handler ran for the calls that were let in only");
        for (Domain d : inside) {
            assertSame(p, d, "the handler runs in the server's domain");
        }
    }

    /** A passive handler's fault is reported to the fault endpoint; the supervisor's reply resumes it. */
    @Test
    void passiveFaultReportedToSupervisor() {
        rig = KernelRig.deterministic();
        Kernel k = rig.k;
        Domain sup = rig.domain("sup");
        Domain p = rig.domain("passive");
        Domain c = rig.domain("client");
        Endpoint faultEp = rig.endpoint(sup, FAULT_EP);
        rig.notification(sup, GO);
        rig.grant(sup, GO, c, GO, Rights.RECV, 0);
        Endpoint ep = rig.endpoint(p, EP);
        k.bindPassive(ep, p, caller -> {
            if (Utcb.mr(caller.utcb(), 0) == BOOM) {
                throw new IllegalStateException("handler boom");
            }
            return Tag.of(0, 0);
        });
        k.setFaultEndpoint(p, faultEp, 12);
        rig.grant(p, EP, c, EP, Rights.SEND, 0);
        long[] f = new long[6];
        rig.spawn(sup, "supervisor", 20, t -> {
            assertEquals(OK, k.recv(t, FAULT_EP, Kernel.FOREVER));
            f[0] = tag(t);
            f[1] = badge(t);
            f[2] = mr(t, 0);
            f[3] = mr(t, 1);
            f[4] = mr(t, 2);
            assertEquals(OK, k.reply(t, Tag.of(Domain.FAULT_RESUME, 0)));
            assertEquals(OK, k.signal(t, GO));
        });
        int[] st = new int[3];
        Tcb client = rig.spawn(c, "client", 10, t -> {
            setMr(t, 0, BOOM);
            st[0] = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
            assertEquals(OK, k.await(t, GO, Kernel.FOREVER));
            setMr(t, 0, 1);
            st[1] = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
            // one-way messages and capabilities cannot go to a passive server
            st[2] = k.send(t, EP, Tag.of(1, 1), Kernel.FOREVER);
        });
        rig.runAll();
        assertEquals(E_SERVER_FAULT, st[0]);
        assertEquals(OK, st[1]);
        assertEquals(E_ILLEGAL_OPERATION, st[2]);
        assertEquals(Domain.FAULT_LABEL, Tag.label(f[0]));
        assertEquals(12, f[1]);
        assertEquals(Domain.FAULT_HANDLER, f[2]);
        assertEquals(client.id(), f[3], "MR1: the thread that ran the handler");
        assertEquals(p.id(), f[4]);
        assertEquals(Domain.RUNNING, p.state());
    }

    /**
     * The active-server scenario on the concurrent machine: the client's fast-path call fails
     * with E_SERVER_FAULT, the supervisor's RESUME restarts the body, its KILL ends the domain.
     */
    @Test
    void threadFaultConcurrent() {
        rig = KernelRig.concurrent();
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            Kernel k = rig.k;
            Domain sup = rig.domain("sup");
            Domain srv = rig.domain("srv");
            Domain cli = rig.domain("cli");
            Endpoint faultEp = rig.endpoint(sup, FAULT_EP);
            Endpoint service = rig.endpoint(srv, EP);
            k.bindServer(service, srv);
            k.setFaultEndpoint(srv, faultEp, FAULT_BADGE);
            rig.grant(srv, EP, cli, EP, Rights.SEND, 5);
            AtomicInteger runs = new AtomicInteger();
            rig.spawn(srv, "server", 10, faultyServer(k, runs));
            List<long[]> faults = java.util.Collections.synchronizedList(new ArrayList<>());
            AtomicInteger answer = new AtomicInteger(Domain.FAULT_RESUME);
            rig.spawn(sup, "supervisor", 10, t -> {
                long reply = 0;
                while (k.replyRecv(t, FAULT_EP, reply, Kernel.FOREVER) == OK) {
                    faults.add(new long[] {tag(t), badge(t), mr(t, 0), mr(t, 2)});
                    reply = Tag.of(answer.get(), 0);
                }
            });
            Tcb t = rig.thread(cli, "client", 10);
            rig.machine.attach(t);
            for (int i = 0; i < 1000; i++) {
                setMr(t, 0, i);
                assertEquals(OK, k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER));
                assertEquals(i + 1, mr(t, 0));
            }
            setMr(t, 0, BOOM);
            assertEquals(E_SERVER_FAULT, k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER));
            while (runs.get() < 2) {
                Thread.sleep(1);
            }
            for (int i = 0; i < 1000; i++) {
                setMr(t, 0, i);
                int r = k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER);
                assertEquals(OK, r, "call " + i + " after the resume: " + Status.name(r));
                assertEquals(i + 1, mr(t, 0));
            }
            answer.set(Domain.FAULT_KILL);
            setMr(t, 0, BOOM);
            assertEquals(E_SERVER_FAULT, k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER));
            while (srv.state() != Domain.DEAD) {
                Thread.sleep(1);
            }
            assertEquals(E_DEAD_DOMAIN, k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER));
            // the supervisor's domain still works: ends only when killed
            k.killDomainNow(sup);
            assertTrue(rig.machine.awaitRunners(30_000));
            rig.check();
            assertEquals(2, runs.get());
            assertEquals(2, faults.size());
            for (long[] f : faults) {
                assertEquals(Domain.FAULT_LABEL, Tag.label(f[0]));
                assertEquals(FAULT_BADGE, f[1]);
                assertEquals(Domain.FAULT_THREAD, f[2]);
                assertEquals(srv.id(), f[3]);
            }
        });
    }

    /**
     * An injected crash stops the whole domain before its supervisor acts: a thread running
     * when the crash came makes no call after it (a shell killed at its prompt used to take the
     * next line typed, run it, and die in it when the supervisor came), and waits, as a blocked
     * one does, until the domain is killed; then both unwind with E_KILLED. Until then the
     * domain is faulted and no thread of it has left.
     */
    @Test
    void anInjectedCrashStopsEveryThreadOfTheDomainUntilItIsKilled() {
        rig = KernelRig.concurrent();
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            Kernel k = rig.k;
            Domain sup = rig.domain("sup");
            Domain srv = rig.domain("srv");
            Domain echo = rig.domain("echo");
            Endpoint faultEp = rig.endpoint(sup, FAULT_EP);
            rig.servedEndpoint(srv, EP);
            k.setFaultEndpoint(srv, faultEp, FAULT_BADGE);
            rig.servedEndpoint(echo, EP);
            rig.grant(echo, EP, srv, GO, Rights.SEND, 0);
            AtomicInteger echoed = new AtomicInteger();
            rig.spawn(echo, "echo", 10, t -> {
                long reply = 0;
                while (k.replyRecv(t, EP, reply, Kernel.FOREVER) == OK) {
                    echoed.incrementAndGet();
                    reply = Tag.of(0, 0);
                }
            });
            CompletableFuture<Integer> received = new CompletableFuture<>();
            CompletableFuture<Integer> called = new CompletableFuture<>();
            AtomicBoolean go = new AtomicBoolean();
            CountDownLatch running = new CountDownLatch(1);
            Tcb waiter = rig.spawn(srv, "waiter", 10, t -> received.complete(k.recv(t, EP, Kernel.FOREVER)));
            Tcb worker = rig.spawn(srv, "worker", 10, t -> {
                assertEquals(OK, k.call(t, GO, Tag.of(1, 0), Kernel.FOREVER)); // before the crash: served
                running.countDown();
                while (!go.get()) {
                    Thread.onSpinWait(); // in its own code, no kernel entry, when the crash comes
                }
                called.complete(k.call(t, GO, Tag.of(1, 0), Kernel.FOREVER));
            });
            running.await();
            while (waiter.state() != Tcb.BLOCKED_RECV) {
                Thread.onSpinWait();
            }
            k.injectFault(srv, "test");
            go.set(true);
            while (worker.state() != Tcb.FAULTED) {
                Thread.onSpinWait(); // stopped at its call's kernel entry
            }
            assertEquals(1, echoed.get(), "only the call made before the crash was served");
            assertFalse(called.isDone(), "the stopped thread does not leave before its domain is killed");
            assertFalse(received.isDone(), "nor does the blocked one");
            assertEquals(Domain.FAULTED, srv.state(), "left for the supervisor");
            k.killForRestart(srv);
            assertEquals(E_KILLED, received.get(10, TimeUnit.SECONDS));
            assertEquals(E_KILLED, called.get(10, TimeUnit.SECONDS));
            assertEquals(1, echoed.get(), "the stopped call never went out");
            rig.check();
        });
    }

    /**
     * A crash stops its domain's threads for good, so it cannot be resumed: resumeDomain refuses
     * and leaves it faulted; a RESUME answer to its fault message kills it, and its blocked
     * thread leaves with E_KILLED instead of waiting for ever.
     */
    @Test
    void anInjectedCrashCannotBeResumed() {
        rig = KernelRig.concurrent();
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            Kernel k = rig.k;
            Domain sup = rig.domain("sup");
            Domain srv = rig.domain("srv");
            Endpoint faultEp = rig.endpoint(sup, FAULT_EP);
            rig.servedEndpoint(srv, EP);
            k.setFaultEndpoint(srv, faultEp, FAULT_BADGE);
            CompletableFuture<Integer> received = new CompletableFuture<>();
            Tcb waiter = rig.spawn(srv, "waiter", 10, t -> received.complete(k.recv(t, EP, Kernel.FOREVER)));
            while (waiter.state() != Tcb.BLOCKED_RECV) {
                Thread.onSpinWait();
            }
            k.injectFault(srv, "test");
            KernelException refused = assertThrows(KernelException.class, () -> k.resumeDomain(srv));
            assertEquals(E_ILLEGAL_OPERATION, refused.status());
            assertTrue(refused.getMessage().contains("resumeDomain srv: it was crashed"), refused.getMessage());
            assertEquals(Domain.FAULTED, srv.state(), "left as it was");
            Tcb s = rig.thread(sup, "sup", 10);
            rig.machine.attach(s);
            assertEquals(OK, k.recv(s, FAULT_EP, Kernel.FOREVER));
            assertEquals(Domain.FAULT_INJECTED, mr(s, 0));
            assertEquals(OK, k.reply(s, Tag.of(Domain.FAULT_RESUME, 0)));
            assertEquals(E_KILLED, received.get(10, TimeUnit.SECONDS));
            assertEquals(Domain.DEAD, srv.state(), "resuming a crash killed it");
            rig.check();
        });
    }
}
