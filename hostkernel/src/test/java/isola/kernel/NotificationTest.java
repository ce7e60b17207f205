package isola.kernel;

import static isola.kernel.KernelRig.badge;
import static isola.kernel.Status.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Notifications: signal, wait, poll; bits, badges and waiters' order. */
class NotificationTest {
    static final int NOTE = 0;
    static final int SLEEP = 1;
    static final int PLAIN = 2; // unbadged SEND
    static final int B2 = 3; // badge 2
    static final int B8 = 4; // badge 8
    static final int B40 = 5; // badge 0x40

    KernelRig rig;
    Kernel k;
    Domain owner;
    Domain sig;
    Notification n;

    @BeforeEach
    void setUp() {
        rig = KernelRig.deterministic();
        k = rig.k;
        owner = rig.domain("owner");
        sig = rig.domain("signaller");
        n = rig.notification(owner, NOTE);
        rig.notification(owner, SLEEP);
        rig.notification(sig, SLEEP);
        rig.grant(owner, NOTE, sig, PLAIN, Rights.SEND, 0);
        rig.grant(owner, NOTE, sig, B2, Rights.SEND, 2);
        rig.grant(owner, NOTE, sig, B8, Rights.SEND, 8);
        rig.grant(owner, NOTE, sig, B40, Rights.SEND, 0x40);
    }

    @AfterEach
    void tearDown() {
        rig.close();
    }

    /** Signals OR their badges (1 when unbadged) into the word; a wait takes and clears them. */
    @Test
    void signalsAccumulateAndWaitClears() {
        long[] got = new long[6];
        int[] st = new int[6];
        rig.spawn(sig, "sig", 10, t -> {
            assertEquals(OK, k.signal(t, B2));
            assertEquals(OK, k.signal(t, B8));
            assertEquals(OK, k.signal(t, B8)); // idempotent bit
            assertEquals(OK, k.signal(t, PLAIN));
            assertEquals(0b1011, n.word);
        });
        rig.spawn(owner, "own", 5, t -> {
            st[0] = k.await(t, NOTE, Kernel.FOREVER); // bits pending: returns at once
            got[0] = badge(t);
            st[1] = k.poll(t, NOTE); // cleared by the wait
            got[1] = badge(t);
            st[2] = k.await(t, NOTE, Kernel.POLL);
            got[2] = badge(t);
        });
        rig.runAll();
        assertEquals(OK, st[0]);
        assertEquals(0b1011, got[0]);
        assertEquals(OK, st[1]);
        assertEquals(0, got[1], "poll with nothing pending returns no bits");
        assertEquals(OK, st[2]);
        assertEquals(0, got[2]);
        assertEquals(0, n.word);
    }

    /** poll returns pending bits and clears them, without blocking either way. */
    @Test
    void pollDoesNotBlock() {
        long[] got = new long[4];
        rig.spawn(owner, "own", 10, t -> {
            assertEquals(OK, k.poll(t, NOTE));
            got[0] = badge(t);
            assertEquals(OK, k.signal(t, NOTE)); // the owner's own capability is unbadged
            assertEquals(OK, k.poll(t, NOTE));
            got[1] = badge(t);
            assertEquals(OK, k.poll(t, NOTE));
            got[2] = badge(t);
            got[3] = rig.now();
        });
        rig.runAll();
        assertEquals(0, got[0]);
        assertEquals(1, got[1]);
        assertEquals(0, got[2]);
        assertEquals(4 * Kernel.ENTRY_COST_NS, got[3], "no time passed but the four entries");
    }

    /** A blocked waiter is woken by a signal and gets exactly that signal's bits. */
    @Test
    void waiterWokenBySignal() {
        long[] got = new long[4];
        int[] st = new int[2];
        rig.spawn(owner, "own", 10, t -> {
            st[0] = k.await(t, NOTE, Kernel.FOREVER);
            got[0] = badge(t);
            got[1] = rig.now();
            st[1] = k.await(t, NOTE, Kernel.FOREVER);
            got[2] = badge(t);
        });
        rig.spawn(sig, "sig", 10, t -> {
            rig.sleep(t, SLEEP, 30_000);
            got[3] = rig.now();
            assertEquals(OK, k.signal(t, B40));
            rig.sleep(t, SLEEP, 30_000);
            assertEquals(OK, k.signal(t, B2));
            assertEquals(OK, k.signal(t, B8)); // the owner is not waiting yet: this stays pending
        });
        rig.runAll();
        assertEquals(OK, st[0]);
        assertEquals(0x40, got[0]);
        assertTrue(got[1] > got[3], "woken only after the signal");
        assertEquals(OK, st[1]);
        assertEquals(2, got[2], "a waiter takes the word at the signal that wakes it");
        assertEquals(8, n.word, "the later signal stays pending");
    }

    /** Waiters are woken one per signal, highest priority first, FIFO among equals. */
    @Test
    void waitersWokenByPriorityThenFifo() {
        String[] names = {"w3", "w7a", "w5", "w7b"};
        int[] prios = {3, 7, 5, 7};
        for (int i = 0; i < names.length; i++) {
            int idx = i;
            rig.spawn(owner, names[i], prios[i], t -> {
                rig.sleep(t, SLEEP, 1_000L * (idx + 1) * 10);
                assertEquals(OK, k.await(t, NOTE, Kernel.FOREVER));
                rig.log.add(names[idx] + ":" + badge(t));
            });
        }
        rig.spawn(sig, "sig", 1, t -> {
            rig.sleep(t, SLEEP, 1_000_000);
            assertEquals(OK, k.signal(t, B2));
            assertEquals(OK, k.signal(t, B8));
            assertEquals(OK, k.signal(t, B40));
            assertEquals(OK, k.signal(t, PLAIN));
        });
        rig.runAll();
        assertEquals(List.of("w7a:2", "w7b:8", "w5:64", "w3:1"), rig.log);
    }

    /** A signal needs SEND, a wait RECV; a notification is not an endpoint. */
    @Test
    void rightsAndTypes() {
        Domain ep = rig.domain("eps");
        rig.endpoint(ep, 0);
        rig.grant(ep, 0, sig, 9, Rights.SEND, 0);
        int[] st = new int[4];
        rig.spawn(sig, "sig", 10, t -> {
            st[0] = k.await(t, PLAIN, Kernel.POLL); // SEND only
            st[1] = k.signal(t, 9); // an endpoint
            st[2] = k.send(t, PLAIN, Tag.of(0, 0), Kernel.POLL); // a notification
            st[3] = k.signal(t, 20); // empty
        });
        rig.runAll();
        assertEquals(E_NO_RIGHTS, st[0]);
        assertEquals(E_WRONG_TYPE, st[1]);
        assertEquals(E_WRONG_TYPE, st[2]);
        assertEquals(E_EMPTY_SLOT, st[3]);
        assertEquals(0, n.word, "failed operations signal nothing");
    }

    /** Deleting the last capability to a notification wakes its waiters with E_DELETED. */
    @Test
    void deletingNotificationWakesWaiters() {
        Domain d = rig.domain("d");
        rig.notification(d, 0);
        rig.notification(d, SLEEP);
        int[] st = {99};
        rig.spawn(d, "waiter", 10, t -> st[0] = k.await(t, 0, Kernel.FOREVER));
        rig.spawn(d, "deleter", 5, t -> assertEquals(OK, k.capDelete(t, 0)));
        rig.runAll();
        assertEquals(E_DELETED, st[0]);
    }

    /** Signals on the concurrent machine wake a blocked waiter with the right bits. */
    @Test
    void concurrentSignalAndWait() throws Exception {
        rig.close();
        KernelRig c = KernelRig.concurrent();
        rig = c;
        Domain o = c.domain("o");
        Domain s = c.domain("s");
        Notification note = c.notification(o, 0);
        c.grant(o, 0, s, 0, Rights.SEND, 4);
        long[] got = new long[200];
        int rounds = got.length;
        Tcb ack = c.thread(s, "pinger", 10);
        Notification back = c.notification(s, 1);
        c.grant(s, 1, o, 1, Rights.SEND, 0);
        c.spawn(o, "waiter", 10, t -> {
            for (int i = 0; i < rounds; i++) {
                assertEquals(OK, c.k.await(t, 0, Kernel.FOREVER));
                got[i] = badge(t);
                assertEquals(OK, c.k.signal(t, 1));
            }
        });
        c.machine.attach(ack);
        for (int i = 0; i < rounds; i++) {
            assertEquals(OK, c.k.signal(ack, 0));
            assertEquals(OK, c.k.await(ack, 1, 5_000_000_000L));
        }
        assertTrue(c.machine.awaitRunners(30_000));
        c.check();
        for (int i = 0; i < rounds; i++) {
            assertEquals(4, got[i], "round " + i);
        }
        assertEquals(0, note.word);
        assertEquals(0, back.word);
    }
}
