package isola.kernel;

import static isola.kernel.Status.*;
import static org.junit.jupiter.api.Assertions.*;

import isola.kernel.machine.DeterministicMachine;
import isola.kernel.machine.HostedMachine;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntSupplier;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Semantics and bad inputs of every capability operation, through real system calls made by
 * kernel threads on the deterministic machine, and through the boot API. Every failing call is
 * checked to leave the capability spaces, the derivation tree, the objects' reference counts and
 * the quotas exactly as they were, and to record an error argument that names the bad input.
 */
class CapabilityTest {
    private static final long NO_CAPS_TAG = Tag.of(0, 0);

    private DeterministicMachine m;
    private Kernel k;
    private final List<Throwable> failures = new ArrayList<>();
    private final Map<Tcb, Thread> spawned = new IdentityHashMap<>();

    @BeforeEach
    void boot() {
        m = HostedMachine.deterministic(KernelConfig.DEFAULT.withTrace(4096));
        k = m.kernel();
    }

    @AfterEach
    void shutdown() {
        m.close();
    }

    // =====================================================================================
    // harness
    // =====================================================================================

    interface Body {
        void run(Tcb t) throws Throwable;
    }

    /** Spawns a kernel thread in {@code d}; a failure in its body is recorded, not a fault. */
    private Tcb spawn(Domain d, String name, Body body) {
        Tcb t = k.createThread(d, name, 10);
        spawned.put(t, m.spawn(t, () -> {
            try {
                body.run(t);
            } catch (Throwable e) {
                synchronized (failures) {
                    failures.add(e);
                }
            }
        }));
        return t;
    }

    /** Runs the spawned threads; rethrows the first failure; {@code blocked} must stay blocked. */
    private void runAll(int blocked) {
        m.run();
        // run() can return while an exited thread's runner has not yet counted itself out; wait
        // for the runners of exited threads, then count again.
        for (Map.Entry<Tcb, Thread> e : spawned.entrySet()) {
            if (e.getKey().state() == Tcb.DEAD) {
                try {
                    e.getValue().join(10_000);
                } catch (InterruptedException ex) {
                    throw new AssertionError(ex);
                }
            }
        }
        int left = m.run();
        synchronized (failures) {
            if (!failures.isEmpty()) {
                AssertionError e = new AssertionError("a kernel thread failed", failures.get(0));
                for (int i = 1; i < failures.size(); i++) {
                    e.addSuppressed(failures.get(i));
                }
                throw e;
            }
        }
        assertEquals(blocked, left, "threads left blocked\n" + String.join("\n", k.trace().lines()));
    }

    private void run(Domain d, Body body) {
        spawn(d, "driver", body);
        runAll(0);
    }

    private static String slotName(CapSlot s) {
        return s == null ? null : s.cspace.domain.name() + "[" + s.index + "]";
    }

    /**
     * Everything a capability operation may change: per slot the capability (identity, object,
     * rights, badge) and all four derivation links; per domain its state and quota use; per
     * object named by a capability its reference count and liveness.
     */
    private static List<Object> snapshot(Domain... ds) {
        List<Object> out = new ArrayList<>();
        Map<KernelObject, Boolean> objects = new IdentityHashMap<>();
        for (Domain d : ds) {
            out.add(Arrays.asList(d.name(), d.state(), d.used(), d.quota()));
            for (int i = 0; i < d.cspace().size(); i++) {
                CapSlot s = d.cspace().slot(i);
                Cap c = s.cap();
                boolean real = c != null && !c.isRevoked();
                out.add(Arrays.asList(slotName(s), c, real ? c.object : null, real ? c.rights : 0,
                        real ? c.badge : 0, slotName(s.parent()), slotName(s.firstChild),
                        slotName(s.nextSibling), slotName(s.prevSibling)));
                if (real) {
                    objects.put(c.object, true);
                }
            }
        }
        for (KernelObject o : objects.keySet()) {
            out.add(Arrays.asList(o, o.capCount, o.isLive()));
        }
        return out;
    }

    /** True if {@code msg} (from {@link Status#describe}) names the offending input {@code arg}. */
    static boolean names(String msg, int status, long arg) {
        String what = switch (status) {
            case E_NO_MEMORY -> "\\(" + ObjectType.name((int) arg) + "\\)";
            case E_INVALID_ARG -> "invalid argument " + arg + "(?![0-9])";
            default -> "slot " + arg + "(?![0-9])";
        };
        return Pattern.compile(what).matcher(msg).find();
    }

    /**
     * Makes a failing system call as {@code t}: checks the status, the recorded error argument,
     * the message built from it, and that nothing in {@code ds} changed.
     */
    private static void fails(Tcb t, int status, long arg, String op, IntSupplier call, Domain... ds) {
        List<Object> before = snapshot(ds);
        int st = call.getAsInt();
        assertEquals(Status.name(status), Status.name(st), op);
        assertEquals(arg, t.errorArg(), op + ": error argument");
        String msg = Status.describe(st, op, t.errorArg());
        assertTrue(names(msg, status, arg), op + ": message does not name " + arg + ": " + msg);
        assertTrue(msg.startsWith(op + ": " + Status.name(status)), msg);
        assertEquals(before, snapshot(ds), op + " failed but changed kernel state");
    }

    private static void ok(String op, int st) {
        assertEquals(Status.name(OK), Status.name(st), op);
    }

    /** A boot-API call that must throw {@code status}, name {@code fragment} and change nothing. */
    private static void bootFails(int status, String fragment, Executable call, Domain... ds) {
        List<Object> before = snapshot(ds);
        KernelException e = assertThrows(KernelException.class, call);
        assertEquals(Status.name(status), Status.name(e.status()), e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "message does not name " + fragment + ": " + e.getMessage());
        assertEquals(before, snapshot(ds), "failed boot call changed kernel state: " + e.getMessage());
    }

    private Domain domain(String name, int slots, int quota) {
        return k.createDomain(name, slots, quota);
    }

    /** A domain with an endpoint (ALL rights) in slot 0 and a notification (ALL) in slot 1. */
    private Domain domainWithObjects(String name) {
        Domain d = domain(name, 16, 8);
        k.installCap(d, 0, k.createEndpoint(d), Rights.ALL, 0);
        k.installCap(d, 1, k.createNotification(d), Rights.ALL, 0);
        return d;
    }

    private static Cap cap(Domain d, int i) {
        return d.cspace().slot(i).cap();
    }

    private static CapSlot slot(Domain d, int i) {
        return d.cspace().slot(i);
    }

    // =====================================================================================
    // copy, mint, move
    // =====================================================================================

    @Test
    void copyKeepsRightsAndBadgeAndBecomesAChildOfItsSource() {
        Domain d = domain("a", 16, 8);
        Endpoint ep = k.createEndpoint(d);
        k.installCap(d, 0, ep, Rights.SEND | Rights.RECV | Rights.GRANT, 9);
        run(d, t -> {
            ok("copy 0->3", k.capCopy(t, 0, 3));
            ok("copy 3->4", k.capCopy(t, 3, 4));
            ok("copy 0->5", k.capCopy(t, 0, 5));
            for (int i : new int[] {3, 4, 5}) {
                Cap c = cap(d, i);
                assertSame(ep, c.object, "slot " + i);
                assertEquals(ObjectType.ENDPOINT, c.type);
                assertEquals(Rights.SEND | Rights.RECV | Rights.GRANT, c.rights, "slot " + i);
                assertEquals(9, c.badge, "slot " + i);
            }
            assertNotSame(cap(d, 0), cap(d, 3), "a copy is a new capability");
            assertNull(slot(d, 0).parent(), "an installed capability is a root");
            assertSame(slot(d, 0), slot(d, 3).parent());
            assertSame(slot(d, 3), slot(d, 4).parent());
            assertSame(slot(d, 0), slot(d, 5).parent());
            assertEquals(4, ep.capCount);
            assertEquals(1, d.used(), "copies are not charged to the quota");
            // The copy is a working capability to the same endpoint.
            fails(t, E_WOULD_BLOCK, 4, "send", () -> k.send(t, 4, NO_CAPS_TAG, Kernel.POLL), d);
        });
    }

    @Test
    void mintDerivesFewerRightsAndABadge() {
        Domain d = domainWithObjects("a");
        Notification n = (Notification) cap(d, 1).object;
        run(d, t -> {
            ok("mint", k.capMint(t, 0, 2, Rights.SEND, 42));
            Cap c = cap(d, 2);
            assertSame(cap(d, 0).object, c.object);
            assertEquals(Rights.SEND, c.rights);
            assertEquals(42, c.badge);
            assertSame(slot(d, 0), slot(d, 2).parent());

            ok("mint keeping everything", k.capMint(t, 2, 3, -1, 0));
            assertEquals(Rights.SEND, cap(d, 3).rights);
            assertEquals(42, cap(d, 3).badge, "badge 0 keeps the source's badge");
            assertSame(slot(d, 2), slot(d, 3).parent());

            ok("mint with the same badge", k.capMint(t, 2, 4, Rights.SEND, 42));
            assertEquals(42, cap(d, 4).badge);
            ok("mint with no rights", k.capMint(t, 2, 5, 0, 0));
            assertEquals(0, cap(d, 5).rights);
            ok("mint from unbadged keeps no badge", k.capMint(t, 0, 6, Rights.RECV | Rights.GRANT, 0));
            assertEquals(0, cap(d, 6).badge);
            assertEquals(Rights.RECV | Rights.GRANT, cap(d, 6).rights);

            // The badge is what the holder's operations carry: a signal ORs it into the word.
            ok("mint notification", k.capMint(t, 1, 7, Rights.SEND, 0b100));
            ok("signal", k.signal(t, 7));
            assertEquals(0b100, n.pending());
            ok("poll", k.poll(t, 1));
            assertEquals(0b100, Utcb.badge(t.utcb()));
            // And the missing right is enforced on the minted capability.
            fails(t, E_NO_RIGHTS, 7, "wait", () -> k.poll(t, 7), d);
        });
    }

    @Test
    void mintCannotWidenRights() {
        Domain d = domainWithObjects("a");
        run(d, t -> {
            ok("mint", k.capMint(t, 0, 2, Rights.SEND, 0));
            fails(t, E_INVALID_ARG, Rights.SEND | Rights.RECV, "mint",
                    () -> k.capMint(t, 2, 3, Rights.SEND | Rights.RECV, 0), d);
            fails(t, E_INVALID_ARG, Rights.ALL, "mint", () -> k.capMint(t, 2, 3, Rights.ALL, 5), d);
            fails(t, E_INVALID_ARG, 16, "mint", () -> k.capMint(t, 0, 3, 16, 0), d);
            fails(t, E_INVALID_ARG, -2, "mint", () -> k.capMint(t, 0, 3, -2, 0), d);
            fails(t, E_INVALID_ARG, Integer.MIN_VALUE, "mint",
                    () -> k.capMint(t, 0, 3, Integer.MIN_VALUE, 0), d);
            // The bad rights are reported even though the destination is also bad.
            fails(t, E_INVALID_ARG, Rights.RECV, "mint", () -> k.capMint(t, 2, 1, Rights.RECV, 0), d);
        });
    }

    @Test
    void aBadgedCapabilityCannotBeRebadged() {
        Domain d = domainWithObjects("a");
        run(d, t -> {
            ok("mint", k.capMint(t, 0, 2, Rights.SEND | Rights.GRANT, 42));
            fails(t, E_ILLEGAL_OPERATION, 2, "mint", () -> k.capMint(t, 2, 3, -1, 7), d);
            fails(t, E_ILLEGAL_OPERATION, 2, "mint", () -> k.capMint(t, 2, 3, Rights.SEND, -42), d);
            ok("copy", k.capCopy(t, 2, 3));
            fails(t, E_ILLEGAL_OPERATION, 3, "mint", () -> k.capMint(t, 3, 4, -1, 1), d);
            ok("same badge", k.capMint(t, 3, 4, -1, 42));
        });
    }

    @Test
    void mintOrCopyOfAReplyCapabilityIsRefused() {
        Domain sd = domainWithObjects("server");
        Domain cd = domain("client", 8, 0);
        k.grantCap(sd, 0, cd, 0, Rights.SEND, 3);
        spawn(sd, "srv", t -> {
            ok("recv", k.recv(t, 0, Kernel.FOREVER));
            ok("saveReply", k.saveReply(t, 5));
            assertEquals(ObjectType.REPLY, cap(sd, 5).type);
            fails(t, E_ILLEGAL_OPERATION, 5, "copy", () -> k.capCopy(t, 5, 6), sd, cd);
            fails(t, E_ILLEGAL_OPERATION, 5, "mint", () -> k.capMint(t, 5, 6, Rights.SEND, 0), sd, cd);
            // It can be moved (the answer can come from elsewhere), then answered once.
            ok("move", k.capMove(t, 5, 6));
            assertNull(cap(sd, 5));
            ok("replyTo", k.replyTo(t, 6, NO_CAPS_TAG));
            assertNull(cap(sd, 6), "a reply capability is one-shot");
        });
        int[] got = new int[1];
        spawn(cd, "cli", t -> got[0] = k.call(t, 0, NO_CAPS_TAG, Kernel.FOREVER));
        runAll(0);
        assertEquals(OK, got[0]);
    }

    @Test
    void moveKeepsTheDerivationPosition() {
        Domain d = domainWithObjects("a");
        Domain e = domain("b", 8, 0);
        k.grantCap(d, 0, e, 0, Rights.SEND, 0);
        run(d, t -> {
            ok("copy 0->2", k.capCopy(t, 0, 2));
            ok("mint 2->3", k.capMint(t, 2, 3, Rights.SEND, 5));
            ok("copy 2->4", k.capCopy(t, 2, 4));
            Cap moved = cap(d, 2);
            ok("move 2->9", k.capMove(t, 2, 9));
            assertNull(cap(d, 2), "the source is empty after a move");
            assertNull(slot(d, 2).parent());
            assertNull(slot(d, 2).firstChild);
            assertSame(moved, cap(d, 9), "a move keeps the capability itself");
            assertSame(slot(d, 0), slot(d, 9).parent(), "the moved capability keeps its parent");
            assertSame(slot(d, 9), slot(d, 3).parent(), "its children follow it");
            assertSame(slot(d, 9), slot(d, 4).parent());
            assertEquals(5, cap(d, 0).object.capCount, "a move does not add a reference");

            // Moving the root keeps the tree under the new slot.
            ok("move 0->12", k.capMove(t, 0, 12));
            assertNull(slot(d, 12).parent());
            assertSame(slot(d, 12), slot(d, 9).parent());
            assertSame(slot(d, 12), slot(e, 0).parent(), "a child in another domain follows too");

            // Revoking the (moved) parent still reaches the moved capability and its children.
            ok("revoke 12", k.capRevoke(t, 12));
            for (int i : new int[] {3, 4, 9}) {
                assertTrue(cap(d, i).isRevoked(), "slot " + i + " after revoke");
            }
            assertTrue(cap(e, 0).isRevoked());
            assertFalse(slot(d, 12).hasChildren());
            assertEquals(1, cap(d, 12).object.capCount);
        });
    }

    @Test
    void moveIntoItselfOrAnOccupiedSlotFails() {
        Domain d = domainWithObjects("a");
        run(d, t -> {
            fails(t, E_SLOT_OCCUPIED, 0, "move", () -> k.capMove(t, 0, 0), d);
            fails(t, E_SLOT_OCCUPIED, 1, "move", () -> k.capMove(t, 0, 1), d);
            fails(t, E_SLOT_OCCUPIED, 0, "copy", () -> k.capCopy(t, 0, 0), d);
        });
    }

    // =====================================================================================
    // bad slots, types, rights
    // =====================================================================================

    @Test
    void emptySlotsAreReportedAsEmpty() {
        Domain d = domainWithObjects("a");
        Domain victim = domain("victim", 4, 0);
        k.installCap(d, 2, victim, Rights.ALL, 0);
        run(d, t -> {
            fails(t, E_EMPTY_SLOT, 5, "delete", () -> k.capDelete(t, 5), d);
            fails(t, E_EMPTY_SLOT, 5, "copy", () -> k.capCopy(t, 5, 6), d);
            fails(t, E_EMPTY_SLOT, 5, "mint", () -> k.capMint(t, 5, 6, Rights.SEND, 1), d);
            fails(t, E_EMPTY_SLOT, 5, "move", () -> k.capMove(t, 5, 6), d);
            fails(t, E_EMPTY_SLOT, 5, "revoke", () -> k.capRevoke(t, 5), d);
            fails(t, E_EMPTY_SLOT, 5, "send", () -> k.send(t, 5, NO_CAPS_TAG, Kernel.POLL), d);
            fails(t, E_EMPTY_SLOT, 5, "recv", () -> k.recv(t, 5, Kernel.POLL), d);
            fails(t, E_EMPTY_SLOT, 5, "signal", () -> k.signal(t, 5), d);
            fails(t, E_EMPTY_SLOT, 5, "wait", () -> k.poll(t, 5), d);
            fails(t, E_EMPTY_SLOT, 5, "kill", () -> k.domainKill(t, 5), d, victim);
            // The source is checked before the destination.
            fails(t, E_EMPTY_SLOT, 5, "copy", () -> k.capCopy(t, 5, 0), d);
            fails(t, E_EMPTY_SLOT, 5, "move", () -> k.capMove(t, 5, -1), d);
        });
    }

    @Test
    void slotsOutsideTheCapabilitySpaceAreInvalid() {
        Domain d = domainWithObjects("a");
        Domain victim = domain("victim", 4, 0);
        k.installCap(d, 2, victim, Rights.ALL, 0);
        int size = d.cspace().size();
        run(d, t -> {
            for (int bad : new int[] {-1, size, size + 1, -1000, Integer.MIN_VALUE, Integer.MAX_VALUE}) {
                fails(t, E_INVALID_SLOT, bad, "copy src", () -> k.capCopy(t, bad, 5), d);
                fails(t, E_INVALID_SLOT, bad, "copy dst", () -> k.capCopy(t, 0, bad), d);
                fails(t, E_INVALID_SLOT, bad, "mint src", () -> k.capMint(t, bad, 5, Rights.SEND, 1), d);
                fails(t, E_INVALID_SLOT, bad, "mint dst", () -> k.capMint(t, 0, bad, Rights.SEND, 1), d);
                fails(t, E_INVALID_SLOT, bad, "move src", () -> k.capMove(t, bad, 5), d);
                fails(t, E_INVALID_SLOT, bad, "move dst", () -> k.capMove(t, 0, bad), d);
                fails(t, E_INVALID_SLOT, bad, "delete", () -> k.capDelete(t, bad), d);
                fails(t, E_INVALID_SLOT, bad, "revoke", () -> k.capRevoke(t, bad), d);
                fails(t, E_INVALID_SLOT, bad, "createEndpoint", () -> k.createEndpoint(t, bad), d);
                fails(t, E_INVALID_SLOT, bad, "createNotification", () -> k.createNotification(t, bad), d);
                fails(t, E_INVALID_SLOT, bad, "send", () -> k.send(t, bad, NO_CAPS_TAG, Kernel.POLL), d);
                fails(t, E_INVALID_SLOT, bad, "signal", () -> k.signal(t, bad), d);
                fails(t, E_INVALID_SLOT, bad, "kill", () -> k.domainKill(t, bad), d, victim);
            }
        });
    }

    @Test
    void anOccupiedDestinationIsRefused() {
        Domain d = domainWithObjects("a");
        run(d, t -> {
            ok("copy", k.capCopy(t, 0, 2));
            fails(t, E_SLOT_OCCUPIED, 1, "copy", () -> k.capCopy(t, 0, 1), d);
            fails(t, E_SLOT_OCCUPIED, 2, "mint", () -> k.capMint(t, 0, 2, Rights.SEND, 3), d);
            fails(t, E_SLOT_OCCUPIED, 1, "move", () -> k.capMove(t, 2, 1), d);
            fails(t, E_SLOT_OCCUPIED, 0, "createEndpoint", () -> k.createEndpoint(t, 0), d);
            fails(t, E_SLOT_OCCUPIED, 2, "createNotification", () -> k.createNotification(t, 2), d);
            assertEquals(2, d.used(), "a refused create charges nothing");
        });
    }

    @Test
    void theWrongObjectTypeIsRefused() {
        Domain d = domainWithObjects("a");
        Domain victim = domain("victim", 4, 0);
        k.installCap(d, 2, victim, Rights.ALL, 0);
        run(d, t -> {
            fails(t, E_WRONG_TYPE, 0, "signal", () -> k.signal(t, 0), d);
            fails(t, E_WRONG_TYPE, 0, "wait", () -> k.poll(t, 0), d);
            fails(t, E_WRONG_TYPE, 1, "send", () -> k.send(t, 1, NO_CAPS_TAG, Kernel.POLL), d);
            fails(t, E_WRONG_TYPE, 1, "recv", () -> k.recv(t, 1, Kernel.POLL), d);
            fails(t, E_WRONG_TYPE, 1, "call", () -> k.call(t, 1, NO_CAPS_TAG, Kernel.FOREVER), d);
            fails(t, E_WRONG_TYPE, 0, "kill", () -> k.domainKill(t, 0), d, victim);
            fails(t, E_WRONG_TYPE, 2, "signal", () -> k.signal(t, 2), d, victim);
            assertEquals(Domain.RUNNING, victim.state());
        });
    }

    @Test
    void aMissingRightIsRefused() {
        Domain d = domainWithObjects("a");
        Domain victim = domain("victim", 4, 0);
        k.installCap(d, 2, victim, Rights.SEND | Rights.RECV | Rights.GRANT, 0);
        run(d, t -> {
            ok("mint recv-only", k.capMint(t, 0, 3, Rights.RECV, 0));
            ok("mint send-only", k.capMint(t, 0, 4, Rights.SEND, 0));
            ok("mint notification send-only", k.capMint(t, 1, 5, Rights.SEND, 0));
            ok("mint notification recv-only", k.capMint(t, 1, 6, Rights.RECV, 0));
            fails(t, E_NO_RIGHTS, 3, "send", () -> k.send(t, 3, NO_CAPS_TAG, Kernel.POLL), d);
            fails(t, E_NO_RIGHTS, 3, "call", () -> k.call(t, 3, NO_CAPS_TAG, Kernel.FOREVER), d);
            fails(t, E_NO_RIGHTS, 4, "recv", () -> k.recv(t, 4, Kernel.POLL), d);
            fails(t, E_NO_RIGHTS, 6, "signal", () -> k.signal(t, 6), d);
            fails(t, E_NO_RIGHTS, 5, "wait", () -> k.poll(t, 5), d);
            fails(t, E_NO_RIGHTS, 2, "kill", () -> k.domainKill(t, 2), d, victim);
            // Sending a capability needs GRANT on the endpoint capability sent through.
            Utcb.setCapSlot(t.utcb(), 0, 1);
            fails(t, E_NO_RIGHTS, 4, "send", () -> k.send(t, 4, Tag.of(0, 0, 1), Kernel.POLL), d);
            assertEquals(Domain.RUNNING, victim.state());
            // The right is checked on the capability, not the object: the original still works.
            fails(t, E_WOULD_BLOCK, 0, "send", () -> k.send(t, 0, NO_CAPS_TAG, Kernel.POLL), d);
        });
    }

    // =====================================================================================
    // delete, revoke
    // =====================================================================================

    @Test
    void deleteMovesChildrenUpToTheDeletedCapabilitysParent() {
        Domain d = domainWithObjects("a");
        Domain e = domain("b", 8, 0);
        run(d, t -> {
            ok("copy 0->2", k.capCopy(t, 0, 2));
            ok("copy 2->3", k.capCopy(t, 2, 3));
            ok("copy 2->4", k.capCopy(t, 2, 4));
            k.grantCap(d, 2, e, 0, Rights.SEND, 8);
            ok("copy 3->5", k.capCopy(t, 3, 5));
            ok("delete 2", k.capDelete(t, 2));
            assertNull(cap(d, 2));
            assertNull(slot(d, 2).parent());
            assertFalse(slot(d, 2).hasChildren());
            assertSame(slot(d, 0), slot(d, 3).parent());
            assertSame(slot(d, 0), slot(d, 4).parent());
            assertSame(slot(d, 0), slot(e, 0).parent());
            assertSame(slot(d, 3), slot(d, 5).parent(), "grandchildren stay under their parent");
            ok("delete 0", k.capDelete(t, 0));
            for (CapSlot s : new CapSlot[] {slot(d, 3), slot(d, 4), slot(e, 0)}) {
                assertNull(s.parent(), slotName(s) + " becomes a root");
            }
            // The roots left are independent: revoking one does not reach the others.
            ok("revoke 3", k.capRevoke(t, 3));
            assertTrue(cap(d, 5).isRevoked());
            assertFalse(cap(d, 4).isRevoked());
            assertFalse(cap(e, 0).isRevoked());
            assertTrue(cap(d, 4).object.isLive());
            assertEquals(3, cap(d, 4).object.capCount);
        });
    }

    @Test
    void revokedCapabilitiesReadRevokedAndTheirSlotsCanBeReused() {
        Domain d = domainWithObjects("a");
        Domain e = domain("b", 8, 0);
        Domain f = domain("c", 8, 0);
        Endpoint ep = (Endpoint) cap(d, 0).object;
        run(d, t -> {
            ok("copy 0->2", k.capCopy(t, 0, 2));
            ok("mint 2->3", k.capMint(t, 2, 3, Rights.SEND, 4));
            ok("copy 0->4", k.capCopy(t, 0, 4));
            ok("copy 0->8", k.capCopy(t, 0, 8));
            ok("copy 0->9", k.capCopy(t, 0, 9));
            k.grantCap(d, 3, e, 0, Rights.SEND, 0);
            k.grantCap(e, 0, f, 5, Rights.SEND, 0);
            ok("mint notification 1->7", k.capMint(t, 1, 7, Rights.SEND, 2));
            Cap root = cap(d, 0);
            assertEquals(8, ep.capCount);

            // Revoking a middle node revokes only its subtree.
            ok("revoke 2", k.capRevoke(t, 2));
            assertFalse(cap(d, 2).isRevoked(), "revoke keeps the capability itself");
            assertTrue(cap(d, 3).isRevoked());
            assertTrue(cap(e, 0).isRevoked());
            assertTrue(cap(f, 5).isRevoked());
            assertFalse(cap(d, 4).isRevoked());
            assertEquals(5, ep.capCount);

            ok("revoke 0", k.capRevoke(t, 0));
            assertSame(root, cap(d, 0));
            assertFalse(slot(d, 0).hasChildren());
            assertTrue(cap(d, 2).isRevoked());
            assertTrue(cap(d, 4).isRevoked());
            for (CapSlot s : new CapSlot[] {slot(d, 2), slot(d, 3), slot(d, 4), slot(d, 8), slot(d, 9),
                    slot(e, 0), slot(f, 5)}) {
                assertNull(s.parent(), slotName(s));
                assertFalse(s.hasChildren(), slotName(s));
            }
            assertEquals(1, ep.capCount);
            assertTrue(ep.isLive(), "the revoker's own capability keeps the object");
            assertFalse(cap(d, 7).isRevoked(), "other objects' trees are untouched");

            // A revoked capability reads E_REVOKED, an empty slot E_EMPTY_SLOT.
            fails(t, E_REVOKED, 3, "copy", () -> k.capCopy(t, 3, 10), d, e, f);
            fails(t, E_EMPTY_SLOT, 10, "copy", () -> k.capCopy(t, 10, 11), d, e, f);
            fails(t, E_REVOKED, 3, "mint", () -> k.capMint(t, 3, 10, Rights.SEND, 0), d, e, f);
            fails(t, E_REVOKED, 3, "move", () -> k.capMove(t, 3, 10), d, e, f);
            fails(t, E_REVOKED, 3, "revoke", () -> k.capRevoke(t, 3), d, e, f);
            fails(t, E_REVOKED, 3, "send", () -> k.send(t, 3, NO_CAPS_TAG, Kernel.POLL), d, e, f);
            fails(t, E_REVOKED, 4, "recv", () -> k.recv(t, 4, Kernel.POLL), d, e, f);
            fails(t, E_REVOKED, 2, "signal", () -> k.signal(t, 2), d, e, f);
            fails(t, E_REVOKED, 2, "kill", () -> k.domainKill(t, 2), d, e, f);
            Utcb.setCapSlot(t.utcb(), 0, 3);
            fails(t, E_REVOKED, 3, "send", () -> k.send(t, 0, Tag.of(0, 0, 1), Kernel.POLL), d, e, f);

            // A revoked slot is a valid destination for every operation that fills a slot.
            ok("copy into revoked", k.capCopy(t, 0, 2));
            assertSame(slot(d, 0), slot(d, 2).parent());
            assertEquals(Rights.ALL, cap(d, 2).rights);
            ok("mint into revoked", k.capMint(t, 1, 3, Rights.SEND, 6));
            assertSame(slot(d, 1), slot(d, 3).parent());
            assertEquals(6, cap(d, 3).badge);
            ok("move into revoked", k.capMove(t, 2, 4));
            assertSame(slot(d, 0), slot(d, 4).parent());
            assertNull(cap(d, 2));
            ok("create into revoked", k.createEndpoint(t, 8));
            assertNotSame(ep, cap(d, 8).object);
            assertNull(slot(d, 8).parent());
            assertEquals(3, d.used());

            // And it can be deleted, after which it is an ordinary empty slot.
            ok("delete revoked", k.capDelete(t, 9));
            assertNull(cap(d, 9));
            fails(t, E_EMPTY_SLOT, 9, "delete", () -> k.capDelete(t, 9), d, e, f);
            fails(t, E_EMPTY_SLOT, 9, "copy", () -> k.capCopy(t, 9, 10), d, e, f);
        });
        // The boot API also accepts a revoked slot as its destination.
        assertTrue(cap(f, 5).isRevoked());
        k.grantCap(d, 0, f, 5, Rights.RECV, 0);
        assertSame(slot(d, 0), slot(f, 5).parent());
        assertEquals(Rights.RECV, cap(f, 5).rights);
    }

    @Test
    void revokeDoesNotDestroyAnObjectTheRevokerStillHolds() {
        Domain d = domainWithObjects("a");
        Domain e = domain("b", 8, 0);
        Notification n = (Notification) cap(d, 1).object;
        k.grantCap(d, 1, e, 0, Rights.RECV, 0);
        int[] waited = {99};
        Tcb waiter = spawn(e, "waiter", t -> waited[0] = k.await(t, 0, Kernel.FOREVER));
        spawn(d, "revoker", t -> {
            assertEquals(Tcb.BLOCKED_WAIT, waiter.state());
            ok("revoke", k.capRevoke(t, 1));
            assertTrue(cap(e, 0).isRevoked());
            assertTrue(n.isLive());
            assertEquals(Tcb.BLOCKED_WAIT, waiter.state(), "the waiter keeps waiting on the live object");
            ok("signal", k.signal(t, 1));
        });
        runAll(0);
        assertEquals(OK, waited[0]);
    }

    // =====================================================================================
    // create, quota, destruction
    // =====================================================================================

    @Test
    void createChargesTheQuotaAndFailsWhenItIsExhausted() {
        Domain d = domain("a", 16, 2);
        Domain other = domain("b", 4, 1);
        run(d, t -> {
            ok("createEndpoint", k.createEndpoint(t, 3));
            Cap c = cap(d, 3);
            assertEquals(ObjectType.ENDPOINT, c.type);
            assertEquals(Rights.ALL, c.rights);
            assertEquals(0, c.badge);
            assertNull(slot(d, 3).parent());
            assertSame(d, c.object.owner);
            assertEquals(1, c.object.capCount);
            ok("createNotification", k.createNotification(t, 4));
            assertEquals(ObjectType.NOTIFICATION, cap(d, 4).type);
            assertEquals(2, d.used());

            fails(t, E_NO_MEMORY, ObjectType.ENDPOINT, "createEndpoint", () -> k.createEndpoint(t, 5), d, other);
            fails(t, E_NO_MEMORY, ObjectType.NOTIFICATION, "createNotification",
                    () -> k.createNotification(t, 5), d, other);
            // Copies are free.
            for (int i = 5; i < 10; i++) {
                ok("copy", k.capCopy(t, 3, i));
            }
            assertEquals(2, d.used());
            // Deleting every capability to the endpoint destroys it and gives the quota back.
            Endpoint ep = (Endpoint) cap(d, 3).object;
            for (int i = 9; i >= 5; i--) {
                ok("delete copy", k.capDelete(t, i));
                assertTrue(ep.isLive());
            }
            assertEquals(2, d.used());
            ok("delete last", k.capDelete(t, 3));
            assertFalse(ep.isLive());
            assertEquals(1, d.used());
            ok("createEndpoint again", k.createEndpoint(t, 5));
            assertEquals(2, d.used());
            assertEquals(0, other.used(), "another domain's quota is separate");
        });
        // The boot API reports the same exhaustion.
        bootFails(E_NO_MEMORY, "quota 2", () -> k.createEndpoint(d), d, other);
        bootFails(E_NO_MEMORY, "quota 2", () -> k.createNotification(d), d, other);
    }

    @Test
    void deletingTheLastCapabilityDestroysTheObjectAndFailsItsWaiters() {
        Domain d = domainWithObjects("a");
        Endpoint ep = (Endpoint) cap(d, 0).object;
        Notification n = (Notification) cap(d, 1).object;
        Map<String, Integer> got = new HashMap<>();
        Tcb receiver = spawn(d, "receiver", t -> {
            int st = k.recv(t, 0, Kernel.FOREVER);
            got.put("recv", st);
            assertEquals("recv: E_DELETED: the object behind slot 0 was deleted while waiting",
                    Status.describe(st, "recv", t.errorArg()));
        });
        Tcb waiter = spawn(d, "waiter", t -> {
            int st = k.await(t, 1, Kernel.FOREVER);
            got.put("wait", st);
            assertEquals(1, t.errorArg());
        });
        spawn(d, "deleter", t -> {
            assertEquals(Tcb.BLOCKED_RECV, receiver.state());
            assertEquals(Tcb.BLOCKED_WAIT, waiter.state());
            ok("copy", k.capCopy(t, 0, 2));
            ok("delete original", k.capDelete(t, 0));
            assertTrue(ep.isLive(), "a copy remains");
            assertEquals(Tcb.BLOCKED_RECV, receiver.state(), "the receiver still waits");
            assertEquals(2, d.used());
            ok("delete last", k.capDelete(t, 2));
            assertFalse(ep.isLive());
            assertEquals(1, d.used(), "the endpoint's quota is given back");
            ok("delete notification", k.capDelete(t, 1));
            assertFalse(n.isLive());
            assertEquals(0, d.used());
        });
        runAll(0);
        assertEquals(Map.of("recv", E_DELETED, "wait", E_DELETED), got);
    }

    @Test
    void aBlockedSenderIsFailedWhenTheEndpointIsDestroyed() {
        Domain d = domainWithObjects("a");
        Domain e = domain("b", 8, 0);
        k.grantCap(d, 0, e, 3, Rights.SEND, 5);
        int[] got = {99};
        Tcb sender = spawn(e, "sender", t -> got[0] = k.send(t, 3, NO_CAPS_TAG, Kernel.FOREVER));
        spawn(d, "owner", t -> {
            assertEquals(Tcb.BLOCKED_SEND, sender.state());
            ok("delete", k.capDelete(t, 0));
            assertTrue(cap(e, 3).object.isLive(), "b's capability keeps the endpoint");
            assertNull(slot(e, 3).parent());
            assertEquals(Tcb.BLOCKED_SEND, sender.state());
        });
        Endpoint ep = (Endpoint) cap(d, 0).object;
        spawn(e, "b-deleter", t -> {
            ok("delete in b", k.capDelete(t, 3));
            assertFalse(ep.isLive());
        });
        runAll(0);
        assertEquals(E_DELETED, got[0]);
        assertEquals(3, sender.errorArg());
    }

    // =====================================================================================
    // domainKill
    // =====================================================================================

    @Test
    void domainKillDeletesTheVictimsCapabilitiesAndReparentsTheirChildren() {
        Domain d = domain("killer", 16, 8);
        Domain v = domain("victim", 8, 8);
        Domain w = domain("witness", 8, 8);
        Endpoint epV = k.createEndpoint(v);
        k.installCap(v, 0, epV, Rights.ALL, 0);
        k.grantCap(v, 0, d, 3, Rights.SEND, 11);
        Notification nD = k.createNotification(d);
        k.installCap(d, 1, nD, Rights.ALL, 0);
        k.grantCap(d, 1, v, 1, Rights.ALL, 0);
        k.grantCap(v, 1, v, 2, Rights.SEND, 0);
        k.grantCap(v, 2, w, 0, Rights.SEND, 0);
        k.installCap(d, 2, v, Rights.ALL, 0);
        int[] victimStatus = {99};
        Tcb vt = spawn(v, "victim-thread", t -> victimStatus[0] = k.recv(t, 0, Kernel.FOREVER));
        spawn(d, "killer", t -> {
            assertEquals(Tcb.BLOCKED_RECV, vt.state());
            ok("mint without control", k.capMint(t, 2, 4, Rights.SEND | Rights.RECV | Rights.GRANT, 0));
            fails(t, E_NO_RIGHTS, 4, "kill", () -> k.domainKill(t, 4), d, v, w);
            fails(t, E_WRONG_TYPE, 3, "kill", () -> k.domainKill(t, 3), d, v, w);
            ok("kill", k.domainKill(t, 2));
            assertEquals(Domain.DEAD, v.state());
            for (int i = 0; i < v.cspace().size(); i++) {
                assertNull(cap(v, i), "victim slot " + i);
                assertNull(slot(v, i).parent());
                assertFalse(slot(v, i).hasChildren());
            }
            assertNull(slot(d, 3).parent(), "a child of a victim's root becomes a root");
            assertSame(epV, cap(d, 3).object);
            assertTrue(epV.isLive(), "the killer's capability keeps the endpoint");
            assertEquals(1, epV.capCount);
            assertSame(slot(d, 1), slot(w, 0).parent(), "a grandchild moves up past two deleted levels");
            assertEquals(2, nD.capCount);
            assertSame(slot(w, 0), slot(d, 1).firstChild, "d[1] has exactly one child");
            assertNull(slot(w, 0).nextSibling);
            // Killing a dead domain changes nothing.
            List<Object> before = snapshot(d, v, w);
            ok("kill again", k.domainKill(t, 2));
            assertEquals(before, snapshot(d, v, w));
            // Revoking the killer's notification reaches the witness through the re-parented link.
            ok("revoke", k.capRevoke(t, 1));
            assertTrue(cap(w, 0).isRevoked());
        });
        runAll(0);
        assertEquals(E_KILLED, victimStatus[0]);
    }

    // =====================================================================================
    // boot API: installCap, grantCap
    // =====================================================================================

    @Test
    void installCapMakesARootAndRefusesBadInput() {
        Domain d = domain("a", 8, 4);
        Endpoint ep = k.createEndpoint(d);
        k.installCap(d, 0, ep, Rights.SEND | Rights.RECV, 77);
        Cap c = cap(d, 0);
        assertSame(ep, c.object);
        assertEquals(Rights.SEND | Rights.RECV, c.rights);
        assertEquals(77, c.badge);
        assertNull(slot(d, 0).parent());
        assertEquals(1, ep.capCount);
        // A second original capability to the same object is an independent root.
        k.installCap(d, 1, ep, Rights.ALL, 0);
        assertNull(slot(d, 1).parent());
        assertEquals(2, ep.capCount);

        bootFails(E_INVALID_SLOT, "slot -1 ", () -> k.installCap(d, -1, ep, Rights.ALL, 0), d);
        bootFails(E_INVALID_SLOT, "slot 8 ", () -> k.installCap(d, 8, ep, Rights.ALL, 0), d);
        bootFails(E_SLOT_OCCUPIED, "slot 1 ", () -> k.installCap(d, 1, ep, Rights.ALL, 0), d);
        bootFails(E_INVALID_ARG, "rights 16", () -> k.installCap(d, 2, ep, 16, 0), d);
        bootFails(E_INVALID_ARG, "rights -1", () -> k.installCap(d, 2, ep, -1, 0), d);
        Endpoint unused = k.endpoints.get(k.endpoints.capacity() - 1);
        assertFalse(unused.isLive());
        bootFails(E_DELETED, unused.toString(), () -> k.installCap(d, 2, unused, Rights.ALL, 0), d);
    }

    @Test
    void grantCapDerivesAChildInAnotherDomain() {
        Domain a = domainWithObjects("a");
        Domain b = domain("b", 8, 0);
        Cap src = cap(a, 0);
        k.grantCap(a, 0, b, 2, Rights.SEND | Rights.GRANT, 0);
        assertSame(src.object, cap(b, 2).object);
        assertEquals(Rights.SEND | Rights.GRANT, cap(b, 2).rights);
        assertEquals(0, cap(b, 2).badge);
        assertSame(slot(a, 0), slot(b, 2).parent());
        k.grantCap(b, 2, b, 3, Rights.SEND, 5);
        assertEquals(5, cap(b, 3).badge);
        assertSame(slot(b, 2), slot(b, 3).parent());
        k.grantCap(b, 3, a, 4, Rights.SEND, 0);
        assertEquals(5, cap(a, 4).badge, "badge 0 keeps the source's badge");
        k.grantCap(b, 3, a, 5, 0, 5);
        assertEquals(5, cap(a, 5).badge, "the same badge is allowed");
        assertEquals(5, src.object.capCount);
    }

    @Test
    void grantCapRefusesBadInputAndNamesIt() {
        Domain a = domainWithObjects("a");
        Domain b = domain("b", 8, 0);
        k.grantCap(a, 0, b, 0, Rights.SEND, 9);
        k.grantCap(a, 0, b, 1, Rights.SEND, 0);
        run(a, t -> {
            ok("copy", k.capCopy(t, 0, 3));
            ok("copy", k.capCopy(t, 3, 4));
            ok("revoke", k.capRevoke(t, 3));
        });
        assertTrue(cap(a, 4).isRevoked());
        bootFails(E_EMPTY_SLOT, "slot 7 ", () -> k.grantCap(a, 7, b, 5, Rights.SEND, 0), a, b);
        bootFails(E_INVALID_ARG, "-r--", () -> k.grantCap(b, 1, a, 5, Rights.RECV, 0), a, b);
        bootFails(E_INVALID_ARG, "s-gc", () -> k.grantCap(b, 1, a, 5, Rights.ALL & ~Rights.RECV, 0), a, b);
        bootFails(E_SLOT_OCCUPIED, "slot 1 ", () -> k.grantCap(a, 0, b, 1, Rights.SEND, 0), a, b);
        bootFails(E_SLOT_OCCUPIED, "slot 0 ", () -> k.grantCap(a, 0, a, 0, Rights.SEND, 0), a, b);
        // Distinct statuses for distinct faults, as the system calls report them.
        bootFails(E_REVOKED, "slot 4 ", () -> k.grantCap(a, 4, b, 5, Rights.SEND, 0), a, b);
        bootFails(E_INVALID_SLOT, "slot -1 ", () -> k.grantCap(a, -1, b, 5, Rights.SEND, 0), a, b);
        bootFails(E_INVALID_SLOT, "slot 16 ", () -> k.grantCap(a, 16, b, 5, Rights.SEND, 0), a, b);
        bootFails(E_INVALID_SLOT, "slot 8 ", () -> k.grantCap(a, 0, b, 8, Rights.SEND, 0), a, b);
        bootFails(E_INVALID_SLOT, "slot -3 ", () -> k.grantCap(a, 0, b, -3, Rights.SEND, 0), a, b);
        // A badged capability keeps its badge, as with mint.
        bootFails(E_ILLEGAL_OPERATION, "slot 0 ", () -> k.grantCap(b, 0, a, 5, Rights.SEND, 10), a, b);
    }

    @Test
    void grantCapOfAReplyCapabilityIsRefused() {
        Domain sd = domainWithObjects("server");
        Domain cd = domain("client", 8, 0);
        k.grantCap(sd, 0, cd, 0, Rights.SEND, 3);
        spawn(sd, "srv", t -> {
            ok("recv", k.recv(t, 0, Kernel.FOREVER));
            ok("saveReply", k.saveReply(t, 5));
        });
        int[] got = {99};
        Tcb client = spawn(cd, "cli", t -> got[0] = k.call(t, 0, NO_CAPS_TAG, Kernel.FOREVER));
        runAll(1);
        assertEquals(Tcb.BLOCKED_REPLY, client.state());
        assertEquals(ObjectType.REPLY, cap(sd, 5).type);
        bootFails(E_ILLEGAL_OPERATION, "slot 5 ", () -> k.grantCap(sd, 5, cd, 4, Rights.SEND, 0), sd, cd);
    }

    // =====================================================================================
    // status codes, rights, tags
    // =====================================================================================

    @Test
    void statusCodesAreDistinctAndNamed() throws Exception {
        Map<Integer, String> seen = new HashMap<>();
        for (Field f : Status.class.getDeclaredFields()) {
            if (f.getType() != int.class || !Modifier.isStatic(f.getModifiers())
                    || !Modifier.isPublic(f.getModifiers())) {
                continue;
            }
            int code = f.getInt(null);
            String prev = seen.put(code, f.getName());
            assertNull(prev, f.getName() + " and " + prev + " share the code " + code);
            assertEquals(f.getName(), Status.name(code), "name of " + code);
            if (code != OK) {
                assertTrue(code < 0, f.getName() + " must be negative");
                String msg = Status.describe(code, "op", 12345);
                assertTrue(msg.startsWith("op: " + f.getName() + ": "), msg);
                assertFalse(msg.endsWith("unknown status"), msg);
            }
        }
        assertEquals(25, seen.size(), "OK and 24 errors");
        assertEquals("OK", Status.name(OK));
        assertTrue(Status.name(-1000).contains("-1000"));
        assertTrue(Status.name(5).contains("5"));
    }

    @Test
    void rightsRoundTripThroughTheirText() {
        Map<String, Integer> seen = new HashMap<>();
        for (int r = 0; r <= Rights.ALL; r++) {
            String s = Rights.toString(r);
            assertEquals(4, s.length(), s);
            int parsed = (s.charAt(0) == 's' ? Rights.SEND : 0) | (s.charAt(1) == 'r' ? Rights.RECV : 0)
                    | (s.charAt(2) == 'g' ? Rights.GRANT : 0) | (s.charAt(3) == 'c' ? Rights.CONTROL : 0);
            assertEquals(r, parsed, s);
            assertNull(seen.put(s, r), s);
            for (int need = 0; need <= Rights.ALL; need++) {
                assertEquals((r & need) == need, Rights.has(r, need), r + " has " + need);
            }
        }
        assertEquals("srgc", Rights.toString(Rights.ALL));
        assertEquals("----", Rights.toString(0));
        assertEquals(Rights.SEND | Rights.RECV | Rights.GRANT | Rights.CONTROL, Rights.ALL);
        assertEquals(4, Integer.bitCount(Rights.ALL), "the four rights are distinct bits");
    }

    @Test
    void tagsRoundTrip() {
        int[] labels = {0, 1, 0xFA, 0x7FFF_FFFF, -1, Integer.MIN_VALUE, 123456789};
        for (int label : labels) {
            for (int len = 0; len <= 255; len += 17) {
                long t2 = Tag.of(label, len);
                assertEquals(label, Tag.label(t2));
                assertEquals(len, Tag.length(t2));
                assertEquals(0, Tag.caps(t2));
                for (int caps = 0; caps <= 255; caps += 51) {
                    long t = Tag.of(label, len, caps);
                    assertEquals(label, Tag.label(t), "label of " + Long.toHexString(t));
                    assertEquals(len, Tag.length(t));
                    assertEquals(caps, Tag.caps(t));
                    for (int c2 : new int[] {0, 1, 3, 255}) {
                        long w = Tag.withCaps(t, c2);
                        assertEquals(label, Tag.label(w));
                        assertEquals(len, Tag.length(w));
                        assertEquals(c2, Tag.caps(w));
                    }
                }
            }
        }
        assertEquals(Tag.of(5, 3, 0), Tag.of(5, 3));
        assertEquals(0xFAL << 32 | 2 << 8 | 4, Tag.of(0xFA, 4, 2));
    }
}
