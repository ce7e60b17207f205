package isola.kernel;

import static isola.kernel.KernelRig.badge;
import static isola.kernel.KernelRig.mr;
import static isola.kernel.KernelRig.setMr;
import static isola.kernel.KernelRig.tag;
import static isola.kernel.Status.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Synchronous IPC on the deterministic machine: send, recv, call, reply and their errors. */
class IpcTest {
    static final int EP = 0;
    static final int SLEEP = 1;
    static final long BADGE = 7;

    KernelRig rig;
    Kernel k;
    Domain server;
    Domain client;
    Endpoint ep;

    @BeforeEach
    void setUp() {
        rig = KernelRig.deterministic();
        k = rig.k;
        server = rig.domain("server");
        client = rig.domain("client");
        ep = rig.endpoint(server, EP);
        rig.notification(server, SLEEP);
        rig.notification(client, SLEEP);
        rig.grant(server, EP, client, EP, Rights.SEND, BADGE);
    }

    @AfterEach
    void tearDown() {
        rig.close();
    }

    /**
     * A one-way message arrives with the sender's registers, the badge of the capability it came
     * through and its tag; registers past the length are not touched. Both orders: the receiver
     * waiting first (takes a waiting receiver) and the sender waiting first (a queued sender).
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void sendRecvCopiesRegistersBadgeAndTag(boolean receiverFirst) {
        long[] got = new long[8];
        AtomicInteger sendStatus = new AtomicInteger(99);
        Runnable receiver = () -> rig.spawn(server, "rcv", 10, t -> {
            setMr(t, 5, -1);
            got[0] = k.recv(t, EP, Kernel.FOREVER);
            got[1] = tag(t);
            got[2] = badge(t);
            for (int i = 0; i < 5; i++) {
                got[3 + i] = mr(t, i);
            }
            assertEquals(-1, mr(t, 5), "register past the message length was overwritten");
        });
        Runnable sender = () -> rig.spawn(client, "snd", 10, t -> {
            for (int i = 0; i < 6; i++) {
                setMr(t, i, 10 + i);
            }
            sendStatus.set(k.send(t, EP, Tag.of(0x1234, 5), Kernel.FOREVER));
        });
        if (receiverFirst) {
            receiver.run();
            sender.run();
        } else {
            sender.run();
            receiver.run();
        }
        rig.runAll();
        assertEquals(OK, sendStatus.get());
        assertEquals(OK, got[0]);
        assertEquals(0x1234, Tag.label(got[1]));
        assertEquals(5, Tag.length(got[1]));
        assertEquals(0, Tag.caps(got[1]));
        assertEquals(BADGE, got[2]);
        for (int i = 0; i < 5; i++) {
            assertEquals(10 + i, got[3 + i], "MR" + i);
        }
    }

    /** A full 64-register message (the bulk copy path) arrives intact, both orders. */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void fullLengthMessage(boolean receiverFirst) {
        long[] got = new long[Utcb.MESSAGE_REGISTERS];
        Runnable receiver = () -> rig.spawn(server, "rcv", 10, t -> {
            assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
            assertEquals(Utcb.MESSAGE_REGISTERS, Tag.length(tag(t)));
            for (int i = 0; i < got.length; i++) {
                got[i] = mr(t, i);
            }
        });
        Runnable sender = () -> rig.spawn(client, "snd", 10, t -> {
            for (int i = 0; i < Utcb.MESSAGE_REGISTERS; i++) {
                setMr(t, i, 1000L * i + 3);
            }
            assertEquals(OK, k.send(t, EP, Tag.of(1, Utcb.MESSAGE_REGISTERS), Kernel.FOREVER));
        });
        if (receiverFirst) {
            receiver.run();
            sender.run();
        } else {
            sender.run();
            receiver.run();
        }
        rig.runAll();
        for (int i = 0; i < got.length; i++) {
            assertEquals(1000L * i + 3, got[i], "MR" + i);
        }
    }

    @Test
    void callAndReply() {
        long[] got = new long[6];
        rig.spawn(server, "srv", 10, t -> {
            assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
            assertEquals(BADGE, badge(t));
            assertEquals(3, Tag.label(tag(t)));
            setMr(t, 0, mr(t, 0) + mr(t, 1));
            setMr(t, 1, 77);
            assertEquals(OK, k.reply(t, Tag.of(5, 2)));
            // The caller has been answered: there is nobody left to reply to.
            got[5] = k.reply(t, Tag.of(6, 0));
        });
        rig.spawn(client, "cli", 10, t -> {
            setMr(t, 0, 40);
            setMr(t, 1, 2);
            got[0] = k.call(t, EP, Tag.of(3, 2), Kernel.FOREVER);
            got[1] = tag(t);
            got[2] = mr(t, 0);
            got[3] = mr(t, 1);
            got[4] = badge(t);
        });
        rig.runAll();
        assertEquals(OK, got[0]);
        assertEquals(5, Tag.label(got[1]));
        assertEquals(2, Tag.length(got[1]));
        assertEquals(42, got[2]);
        assertEquals(77, got[3]);
        assertEquals(0, got[4], "a reply carries no badge");
        assertEquals(E_NO_REPLY, got[5]);
    }

    /**
     * replyRecv with no caller bound only receives; with a caller bound it answers that caller
     * and receives the next message in the same entry. One-way messages leave no caller bound.
     */
    @Test
    void replyRecvWithAndWithoutBoundCaller() {
        List<Long> served = new ArrayList<>();
        List<Long> answers = new ArrayList<>();
        rig.spawn(server, "srv", 10, t -> {
            assertNull(t.reply.caller());
            long reply = 0;
            for (int i = 0; i < 4; i++) {
                assertEquals(OK, k.replyRecv(t, EP, reply, Kernel.FOREVER));
                served.add(mr(t, 0));
                setMr(t, 0, mr(t, 0) * 2);
                reply = Tag.of(0, 1);
            }
            // The last message was a one-way send: no caller is bound, so this only receives,
            // and with nobody sending a poll says so.
            assertNull(t.reply.caller());
            assertEquals(E_WOULD_BLOCK, k.replyRecv(t, EP, reply, Kernel.POLL));
        });
        rig.spawn(client, "cli", 10, t -> {
            for (int i = 1; i <= 3; i++) {
                setMr(t, 0, i);
                assertEquals(OK, k.call(t, EP, Tag.of(1, 1), Kernel.FOREVER));
                answers.add(mr(t, 0));
            }
            setMr(t, 0, 100);
            assertEquals(OK, k.send(t, EP, Tag.of(2, 1), Kernel.FOREVER));
        });
        rig.runAll();
        assertEquals(List.of(1L, 2L, 3L, 100L), served);
        assertEquals(List.of(2L, 4L, 6L), answers);
    }

    @Test
    void nonBlockingSendAndRecv() {
        int[] got = new int[6];
        rig.spawn(client, "cli", 10, t -> {
            got[0] = k.send(t, EP, Tag.of(1, 0), Kernel.POLL);
            assertEquals(EP, t.errorArg());
            got[1] = k.call(t, EP, Tag.of(1, 0), Kernel.POLL);
            rig.sleep(t, SLEEP, 10_000); // now the server waits in recv
            setMr(t, 0, 5);
            got[2] = k.send(t, EP, Tag.of(1, 1), Kernel.POLL);
            // the server then sleeps and polls; this sender queues meanwhile
            setMr(t, 0, 6);
            got[3] = k.send(t, EP, Tag.of(1, 1), Kernel.FOREVER);
        });
        rig.spawn(server, "srv", 10, t -> {
            got[4] = k.recv(t, EP, Kernel.POLL);
            assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
            assertEquals(5, mr(t, 0));
            rig.sleep(t, SLEEP, 10_000);
            got[5] = k.recv(t, EP, Kernel.POLL);
            assertEquals(6, mr(t, 0));
        });
        rig.runAll();
        assertEquals(E_WOULD_BLOCK, got[0]);
        assertEquals(E_WOULD_BLOCK, got[1]);
        assertEquals(OK, got[2], "a receiver was waiting");
        assertEquals(OK, got[3]);
        assertEquals(E_WOULD_BLOCK, got[4]);
        assertEquals(OK, got[5], "a sender was queued");
        assertEquals(0, ep.queuedSenders());
    }

    @Test
    void replyWithoutCaller() {
        int[] got = new int[2];
        rig.spawn(server, "srv", 10, t -> {
            got[0] = k.reply(t, Tag.of(0, 0));
            assertEquals(OK, k.recv(t, EP, Kernel.FOREVER)); // a one-way send binds no caller
            got[1] = k.reply(t, Tag.of(0, 0));
        });
        rig.spawn(client, "cli", 10, t -> assertEquals(OK, k.send(t, EP, Tag.of(1, 0), Kernel.FOREVER)));
        rig.runAll();
        assertEquals(E_NO_REPLY, got[0]);
        assertEquals(E_NO_REPLY, got[1]);
    }

    /** Length 65 is refused before anything moves: the receiver still waits and gets the next message. */
    @Test
    void messageTooLong() {
        long[] got = new long[8];
        rig.spawn(server, "srv", 10, t -> {
            assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
            got[0] = tag(t);
            got[1] = mr(t, 0);
            got[5] = t.reply.caller() == null ? 0 : 1;
            setMr(t, 0, 31);
            got[2] = k.reply(t, Tag.of(9, 65));
            got[3] = t.errorArg();
            assertEquals(OK, k.reply(t, Tag.of(8, 1)), "the caller still waits after a refused reply");
        });
        rig.spawn(client, "cli", 10, t -> {
            setMr(t, 0, 111);
            got[4] = k.send(t, EP, Tag.of(7, 65), Kernel.FOREVER);
            assertEquals(65, t.errorArg());
            assertEquals(E_MSG_TOO_LONG, k.call(t, EP, Tag.of(7, 65), Kernel.FOREVER));
            setMr(t, 0, 222);
            assertEquals(OK, k.call(t, EP, Tag.of(2, 1), Kernel.FOREVER));
            got[6] = tag(t);
            got[7] = mr(t, 0);
        });
        rig.runAll();
        assertEquals(E_MSG_TOO_LONG, got[4]);
        assertEquals(2, Tag.label(got[0]), "the receiver got the too-long message");
        assertEquals(222, got[1]);
        assertEquals(1, got[5]);
        assertEquals(E_MSG_TOO_LONG, got[2]);
        assertEquals(65, got[3]);
        assertEquals(8, Tag.label(got[6]));
        assertEquals(31, got[7]);
    }

    /**
     * A server saves the reply capability, serves another caller, then answers the first from
     * the saved capability, which is used up.
     */
    @Test
    void saveReplyAndReplyLater() {
        Domain client2 = rig.domain("client2");
        rig.grant(server, EP, client2, EP, Rights.SEND, 8);
        int[] st = new int[8];
        long[] answers = new long[2];
        rig.spawn(server, "srv", 10, t -> {
            st[0] = k.saveReply(t, 5); // nothing to save yet
            assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
            assertEquals(BADGE, badge(t));
            st[1] = k.saveReply(t, 0); // slot 0 is occupied
            assertEquals(OK, k.saveReply(t, 5));
            Cap saved = server.cspace().get(5);
            assertNotNull(saved);
            assertEquals(ObjectType.REPLY, saved.type);
            st[2] = k.reply(t, Tag.of(0, 0)); // the implicit reply object is fresh: no caller
            // serve the second client meanwhile
            assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
            assertEquals(8, badge(t));
            setMr(t, 0, 2000);
            assertEquals(OK, k.reply(t, Tag.of(0, 1)));
            // now answer the first
            setMr(t, 0, 1000);
            st[3] = k.replyTo(t, 5, Tag.of(4, 1));
            st[4] = server.cspace().get(5) == null ? 1 : 0;
            st[5] = k.replyTo(t, 5, Tag.of(4, 1));
        });
        rig.spawn(client, "c1", 10, t -> {
            assertEquals(OK, k.call(t, EP, Tag.of(1, 0), Kernel.FOREVER));
            assertEquals(4, Tag.label(tag(t)));
            answers[0] = mr(t, 0);
        });
        rig.spawn(client2, "c2", 10, t -> {
            assertEquals(OK, k.call(t, EP, Tag.of(1, 0), Kernel.FOREVER));
            answers[1] = mr(t, 0);
        });
        rig.runAll();
        assertEquals(E_NO_REPLY, st[0]);
        assertEquals(E_SLOT_OCCUPIED, st[1]);
        assertEquals(E_NO_REPLY, st[2]);
        assertEquals(OK, st[3]);
        assertEquals(1, st[4], "the reply capability is deleted once used");
        assertEquals(E_EMPTY_SLOT, st[5]);
        assertEquals(1000, answers[0]);
        assertEquals(2000, answers[1]);
    }

    /** Deleting a saved reply capability unanswered tells the caller its reply was deleted. */
    @Test
    void deletingSavedReplyFailsCaller() {
        AtomicInteger callStatus = new AtomicInteger(99);
        rig.spawn(server, "srv", 10, t -> {
            assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
            assertEquals(OK, k.saveReply(t, 5));
            assertEquals(OK, k.capDelete(t, 5));
        });
        rig.spawn(client, "cli", 10, t -> callStatus.set(k.call(t, EP, Tag.of(1, 0), Kernel.FOREVER)));
        rig.runAll();
        assertEquals(E_DELETED, callStatus.get());
    }

    /**
     * Capability transfer: refused without GRANT on the sending capability (nothing moves, the
     * receiver keeps waiting); with GRANT the capability lands in the receiver's window as a
     * child of the sender's, usable there, and the sender's revoke removes it.
     */
    @Test
    void capabilityTransfer() {
        Notification n = rig.notification(client, 3); // the capability to send
        rig.grant(server, EP, client, 2, Rights.SEND | Rights.GRANT, 9);
        int[] st = new int[10];
        long[] got = new long[4];
        rig.spawn(server, "srv", 10, t -> {
            Utcb.setRecvWindow(t.utcb(), 10);
            assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
            got[0] = tag(t);
            got[1] = badge(t);
            got[2] = Utcb.capSlot(t.utcb(), 0);
            got[3] = mr(t, 0);
            st[0] = k.signal(t, 10); // the received capability works here
            assertEquals(OK, k.reply(t, Tag.of(0, 0)));
            // second request: after the client's revoke
            assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
            st[1] = k.signal(t, 10);
            assertEquals(OK, k.reply(t, Tag.of(0, 0)));
        });
        rig.spawn(client, "cli", 10, t -> {
            Utcb.setCapSlot(t.utcb(), 0, 3);
            setMr(t, 0, 1);
            st[2] = k.call(t, EP, Tag.of(1, 1, 1), Kernel.FOREVER); // slot 0: no GRANT
            st[3] = (int) t.errorArg();
            assertNull(server.cspace().get(10), "nothing was transferred");
            assertFalse(client.cspace().slot(3).hasChildren());
            Utcb.setCapSlot(t.utcb(), 0, 3);
            setMr(t, 0, 2);
            st[4] = k.call(t, 2, Tag.of(1, 1, 1), Kernel.FOREVER);
            st[5] = k.poll(t, 3);
            got[3] = got[3] * 1000 + badge(t); // bit 1: the server signalled unbadged
            assertEquals(OK, k.capRevoke(t, 3));
            assertEquals(OK, k.call(t, 2, Tag.of(1, 0), Kernel.FOREVER));
            assertNotNull(client.cspace().get(3), "revoke keeps the revoker's own capability");
        });
        rig.runAll();
        assertEquals(E_NO_RIGHTS, st[2]);
        assertEquals(0, st[3], "the error names the sending slot");
        assertEquals(OK, st[4]);
        assertEquals(1, Tag.caps(got[0]));
        assertEquals(1, Tag.label(got[0]));
        assertEquals(9, got[1]);
        assertEquals(10, got[2], "where the capability landed");
        assertEquals(2001, got[3], "the first message never arrived; the signal did");
        assertEquals(OK, st[0]);
        assertEquals(OK, st[5]);
        assertEquals(E_REVOKED, st[1], "the transferred capability is gone after the sender's revoke");
        assertTrue(server.cspace().get(10).isRevoked());
    }

    /** Where the received capability sits in the derivation tree: a child of the sender's slot. */
    @Test
    void transferredCapabilityIsChildOfSendersCapability() {
        Notification n = rig.notification(client, 3);
        rig.grant(server, EP, client, 2, Rights.SEND | Rights.GRANT, 9);
        rig.spawn(server, "srv", 10, t -> {
            Utcb.setRecvWindow(t.utcb(), 12);
            assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
            assertEquals(1, Tag.caps(tag(t)));
        });
        rig.spawn(client, "cli", 10, t -> {
            Utcb.setCapSlot(t.utcb(), 0, 3);
            assertEquals(OK, k.send(t, 2, Tag.of(1, 0, 1), Kernel.FOREVER));
        });
        rig.runAll();
        CapSlot received = server.cspace().slot(12);
        assertSame(n, received.cap().object);
        assertSame(client.cspace().slot(3), received.parent());
    }

    /** A receiver with no receive window gets the message but no capabilities. */
    @Test
    void receiverWithoutWindowGetsNoCaps() {
        rig.notification(client, 3);
        rig.grant(server, EP, client, 2, Rights.SEND | Rights.GRANT, 9);
        long[] got = new long[3];
        AtomicInteger sendStatus = new AtomicInteger(99);
        rig.spawn(server, "srv", 10, t -> {
            assertEquals(Utcb.NO_WINDOW, Utcb.recvWindow(t.utcb()));
            assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
            got[0] = tag(t);
            got[1] = mr(t, 0);
            got[2] = badge(t);
        });
        rig.spawn(client, "cli", 10, t -> {
            Utcb.setCapSlot(t.utcb(), 0, 3);
            setMr(t, 0, 55);
            sendStatus.set(k.send(t, 2, Tag.of(4, 1, 1), Kernel.FOREVER));
        });
        rig.runAll();
        assertEquals(OK, sendStatus.get());
        assertEquals(0, Tag.caps(got[0]));
        assertEquals(4, Tag.label(got[0]));
        assertEquals(55, got[1]);
        assertEquals(9, got[2]);
        for (int i = 0; i < server.cspace().size(); i++) {
            if (i != EP && i != SLEEP) {
                assertNull(server.cspace().get(i), "slot " + i);
            }
        }
        assertFalse(client.cspace().slot(3).hasChildren());
        assertNotNull(client.cspace().get(3), "the sender keeps its capability");
    }

    @Test
    void callToDeadServer() {
        k.bindServer(ep, server);
        k.killDomainNow(server);
        int[] st = new int[2];
        rig.spawn(client, "cli", 10, t -> {
            st[0] = k.call(t, EP, Tag.of(1, 0), Kernel.FOREVER);
            st[1] = k.send(t, EP, Tag.of(1, 0), Kernel.FOREVER);
        });
        rig.runAll();
        assertEquals(E_DEAD_DOMAIN, st[0]);
        assertEquals(E_DEAD_DOMAIN, st[1]);
        assertEquals(Domain.DEAD, server.state());
    }

    /**
     * Callers queued on the endpoint when its server dies, and the caller the server was
     * serving, get E_DEAD_DOMAIN; the server's own thread unwinds with E_KILLED. The kill comes
     * from a thread of a third domain.
     */
    @Test
    void callersQueuedWhenServerDiesGetDeadDomain() {
        k.bindServer(ep, server);
        Domain other = rig.domain("other");
        rig.notification(other, SLEEP);
        int[] st = new int[5];
        rig.spawn(server, "srv", 10, t -> {
            assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
            // busy "forever" with the first caller
            st[0] = k.await(t, SLEEP, Kernel.FOREVER);
        });
        for (int i = 0; i < 3; i++) {
            int idx = i;
            rig.spawn(client, "c" + i, 10, t -> st[1 + idx] = k.call(t, EP, Tag.of(1, 0), Kernel.FOREVER));
        }
        rig.spawn(other, "killer", 5, t -> {
            rig.sleep(t, SLEEP, 50_000);
            assertEquals(2, ep.queuedSenders());
            k.killDomainNow(server);
            assertEquals(0, ep.queuedSenders());
            st[4] = k.call(t, SLEEP, Tag.of(0, 0), Kernel.POLL); // still runs normally
        });
        rig.runAll();
        assertEquals(E_KILLED, st[0]);
        assertEquals(E_DEAD_DOMAIN, st[1], "the caller being served");
        assertEquals(E_DEAD_DOMAIN, st[2], "a queued caller");
        assertEquals(E_DEAD_DOMAIN, st[3], "a queued caller");
        assertEquals(E_WRONG_TYPE, st[4]);
        assertEquals(0, server.threadCount());
    }

    /**
     * The same, with the kill injected from outside while the machine is idle (everything
     * blocked): a second run lets the woken threads finish.
     */
    @Test
    void killWhileMachineIdleWakesQueuedCallers() {
        k.bindServer(ep, server);
        int[] st = {99, 99};
        rig.spawn(client, "c0", 10, t -> st[0] = k.call(t, EP, Tag.of(1, 0), Kernel.FOREVER));
        rig.spawn(client, "c1", 10, t -> st[1] = k.call(t, EP, Tag.of(1, 0), Kernel.FOREVER));
        assertEquals(2, rig.det().run(), "both callers block: nobody serves the endpoint");
        k.killDomainNow(server);
        rig.runAll();
        assertEquals(E_DEAD_DOMAIN, st[0]);
        assertEquals(E_DEAD_DOMAIN, st[1]);
    }

    /**
     * Killing the caller's domain while it waits: the waiting caller and a queued sender unwind
     * with E_KILLED, the queued message is withdrawn, and the server's reply to the dead caller
     * is dropped without error.
     */
    @Test
    void killingCallersDomain() {
        Domain other = rig.domain("other");
        rig.notification(other, SLEEP);
        int[] st = {99, 99, 99, 99, 99};
        rig.spawn(server, "srv", 10, t -> {
            assertEquals(OK, k.recv(t, EP, Kernel.FOREVER));
            rig.sleep(t, SLEEP, 100_000); // the kill happens meanwhile
            assertEquals(0, ep.queuedSenders(), "the killed domain's queued sender is gone");
            st[0] = k.reply(t, Tag.of(0, 0));
            st[1] = k.recv(t, EP, Kernel.POLL);
        });
        rig.spawn(client, "caller", 10, t -> st[2] = k.call(t, EP, Tag.of(1, 0), Kernel.FOREVER));
        rig.spawn(client, "sender", 10, t -> st[3] = k.send(t, EP, Tag.of(2, 0), Kernel.FOREVER));
        rig.spawn(other, "killer", 10, t -> {
            rig.sleep(t, SLEEP, 50_000);
            assertEquals(1, ep.queuedSenders());
            k.killDomainNow(client);
            assertEquals(0, ep.queuedSenders());
            st[4] = k.poll(t, SLEEP);
        });
        rig.runAll();
        assertEquals(OK, st[0], "a reply to a caller that died is not the replier's error");
        assertEquals(E_WOULD_BLOCK, st[1], "the dead sender's message was withdrawn");
        assertEquals(E_KILLED, st[2]);
        assertEquals(E_KILLED, st[3]);
        assertEquals(OK, st[4]);
        assertEquals(Domain.DEAD, client.state());
        assertEquals(Domain.RUNNING, server.state());
    }

    /** Errors name the offending input and leave the call's effects out. */
    @Test
    void lookupErrors() {
        int[] st = new int[6];
        rig.spawn(client, "cli", 10, t -> {
            st[0] = k.call(t, 99, Tag.of(1, 0), Kernel.FOREVER);
            st[1] = k.call(t, 20, Tag.of(1, 0), Kernel.FOREVER);
            st[2] = k.call(t, SLEEP, Tag.of(1, 0), Kernel.FOREVER);
            st[3] = k.recv(t, EP, Kernel.POLL); // SEND only
            st[4] = (int) t.errorArg();
        });
        rig.runAll();
        assertEquals(E_INVALID_SLOT, st[0]);
        assertEquals(E_EMPTY_SLOT, st[1]);
        assertEquals(E_WRONG_TYPE, st[2]);
        assertEquals(E_NO_RIGHTS, st[3]);
        assertEquals(EP, st[4]);
    }
}
