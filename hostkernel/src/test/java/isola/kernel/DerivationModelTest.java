package isola.kernel;

import static isola.kernel.Status.*;
import static org.junit.jupiter.api.Assertions.*;

import isola.kernel.machine.DeterministicMachine;
import isola.kernel.machine.HostedMachine;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random copy/mint/move/delete/revoke/create (system calls, each made by a thread of the domain
 * whose capability space it acts on) and grantCap/installCap (boot API, across domains) against a
 * reference model of the capability spaces and the derivation tree. After every operation the
 * status and error argument must be what the model predicts, and every slot (object identity,
 * rights, badge, revoked), every derivation link (parent, and each child list walked in both
 * directions), every object's reference count and liveness and every domain's quota use must
 * match the model. Reproducible: the seed fixes the operations and the deterministic machine
 * fixes the interleaving.
 */
class DerivationModelTest {
    static final int OPS = 2000;
    static final int[] SIZES = {10, 8, 6};
    static final int[] QUOTAS = {5, 4, 3};

    static final int COPY = 0, MINT = 1, MOVE = 2, DELETE = 3, REVOKE = 4, CREATE_EP = 5,
            CREATE_NTFN = 6, GRANT = 7, INSTALL = 8;
    static final String[] OP_NAMES = {"copy", "mint", "move", "delete", "revoke", "createEndpoint",
        "createNotification", "grant", "install"};
    /** Relative weights of the operations. */
    static final int[] WEIGHTS = {14, 15, 10, 16, 12, 5, 4, 14, 6};

    /** Statuses seen per operation over all seeds, printed at the end as a coverage summary. */
    static final Map<String, Integer> COVERAGE = new TreeMap<>();

    static LongStream seeds() {
        return LongStream.rangeClosed(1, 20);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void kernelMatchesTheReferenceModel(long seed) {
        new Run(seed).go();
    }

    @AfterAll
    static void printCoverage() {
        StringBuilder sb = new StringBuilder("DerivationModelTest coverage (op status: count)\n");
        COVERAGE.forEach((key, n) -> sb.append("  ").append(key).append(": ").append(n).append('\n'));
        System.out.print(sb);
    }

    // =====================================================================================
    // the reference model
    // =====================================================================================

    static final class MObj {
        final KernelObject k;
        final int type;
        /** Domain index charged for it, or -1. */
        final int owner;
        int caps;
        boolean live = true;

        MObj(KernelObject k, int type, int owner) {
            this.k = k;
            this.type = type;
            this.owner = owner;
        }

        boolean destroyable() {
            return type == ObjectType.ENDPOINT || type == ObjectType.NOTIFICATION;
        }
    }

    static final class MSlot {
        final int dom;
        final int idx;
        MObj obj;
        int rights;
        long badge;
        MSlot parent;
        boolean revoked;

        MSlot(int dom, int idx) {
            this.dom = dom;
            this.idx = idx;
        }

        boolean holds() {
            return obj != null;
        }

        boolean free() {
            return obj == null;
        }

        void set(MObj o, int r, long b, MSlot p) {
            obj = o;
            rights = r;
            badge = b;
            parent = p;
            revoked = false;
        }

        void clear(boolean revoke) {
            obj = null;
            rights = 0;
            badge = 0;
            parent = null;
            revoked = revoke;
        }

        @Override
        public String toString() {
            return "d" + dom + "[" + idx + "]";
        }
    }

    record Expect(int status, long arg) {
        static final Expect OK_ = new Expect(OK, 0);
    }

    // =====================================================================================
    // one seed's run
    // =====================================================================================

    static final class Run {
        final long seed;
        final Random rnd;
        final DeterministicMachine m;
        final Kernel k;
        final Domain[] doms = new Domain[SIZES.length];
        final Tcb[] threads = new Tcb[SIZES.length];
        final MSlot[][] ms = new MSlot[SIZES.length][];
        final int[] used = new int[SIZES.length];
        final List<MObj> objects = new ArrayList<>();
        final List<MObj> dead = new ArrayList<>();
        final List<MObj> destroyedNow = new ArrayList<>();
        final Deque<String> history = new ArrayDeque<>();
        final int[][] statusCounts = new int[OP_NAMES.length][32];

        // Shared between the domains' threads; only the running kernel thread touches them.
        int opNo;
        int pendingOp = -1;
        int pendingActor;
        boolean done;
        Throwable failure;
        String current = "";

        Run(long seed) {
            this.seed = seed;
            this.rnd = new Random(seed);
            this.m = HostedMachine.deterministic(KernelConfig.DEFAULT.withTrace(1024));
            this.k = m.kernel();
        }

        void go() {
            try {
                goUnchecked();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }

        void goUnchecked() throws InterruptedException {
            try {
                bootSystem();
                verify();
                Thread[] runners = new Thread[doms.length];
                for (int i = 0; i < doms.length; i++) {
                    int di = i;
                    threads[i] = k.createThread(doms[i], "t" + i, 10);
                    runners[i] = m.spawn(threads[i], () -> body(threads[di], di));
                }
                m.run();
                // run() can return while an exited thread's runner has not yet counted itself
                // out; wait for those runners, then count again.
                for (Thread r : runners) {
                    r.join(10_000);
                }
                int blocked = m.run();
                if (failure != null) {
                    if (failure instanceof AssertionError ae) {
                        throw ae;
                    }
                    throw new AssertionError(prefix() + failure, failure);
                }
                if (blocked != 0) {
                    StringBuilder sb = new StringBuilder();
                    for (Tcb t : threads) {
                        sb.append(' ').append(t).append('=').append(Tcb.stateName(t.state()));
                    }
                    fail("seed " + seed + ": " + blocked + " threads left blocked after " + opNo + " operations:" + sb
                            + "\n" + String.join("\n", k.trace().lines().subList(Math.max(0, k.trace().size() - 30), k.trace().size())));
                }
                assertEquals(OPS, opNo, "seed " + seed + ": operations run");
                verify();
                checkCoverage();
            } finally {
                m.close();
            }
        }

        void bootSystem() {
            for (int d = 0; d < doms.length; d++) {
                doms[d] = k.createDomain("dom" + d, SIZES[d], QUOTAS[d]);
                ms[d] = new MSlot[SIZES[d]];
                for (int i = 0; i < SIZES[d]; i++) {
                    ms[d][i] = new MSlot(d, i);
                }
            }
            for (int d = 0; d < doms.length; d++) {
                MObj ep = newObject(k.createEndpoint(doms[d]), d);
                MObj n = newObject(k.createNotification(doms[d]), d);
                install(d, 0, ep, Rights.ALL, 0);
                install(d, 1, n, Rights.ALL, 0);
            }
            // Non-destroyable objects: domain capabilities.
            install(0, 2, newObject(doms[2], -1), Rights.ALL, 0);
            install(1, 2, newObject(doms[0], -1), Rights.SEND | Rights.CONTROL, 3);
        }

        MObj newObject(KernelObject o, int owner) {
            for (MObj x : objects) {
                if (x.k == o) {
                    throw new AssertionError(prefix() + o + " handed out while still live");
                }
            }
            MObj x = new MObj(o, o.type, owner);
            objects.add(x);
            if (owner >= 0 && x.destroyable()) {
                used[owner]++;
            }
            return x;
        }

        void install(int d, int i, MObj o, int rights, long badge) {
            k.installCap(doms[d], i, o.k, rights, badge);
            ms[d][i].set(o, rights, badge, null);
            o.caps++;
        }

        String prefix() {
            return "seed " + seed + " op " + opNo + " (" + current + "): ";
        }

        AssertionError failure(String what) {
            return new AssertionError(prefix() + what + "\nlast operations:\n  " + String.join("\n  ", history)
                    + "\nmodel:\n" + dumpModel());
        }

        String dumpModel() {
            StringBuilder sb = new StringBuilder();
            for (int d = 0; d < doms.length; d++) {
                sb.append("  d").append(d).append(" used=").append(used[d]).append(':');
                for (MSlot s : ms[d]) {
                    sb.append(' ').append(s.idx).append('=');
                    if (s.revoked) {
                        sb.append("R");
                    } else if (s.free()) {
                        sb.append('-');
                    } else {
                        sb.append(s.obj.k).append('/').append(Rights.toString(s.rights)).append('/')
                                .append(s.badge).append("<").append(s.parent);
                    }
                }
                sb.append('\n');
            }
            return sb.toString();
        }

        // ---- the threads -------------------------------------------------------------------

        void body(Tcb t, int di) {
            try {
                while (!done) {
                    if (pendingOp < 0) {
                        pendingOp = pickOp();
                        pendingActor = pendingOp == GRANT || pendingOp == INSTALL ? -1 : rnd.nextInt(doms.length);
                    }
                    if (pendingActor >= 0 && pendingActor != di) {
                        k.yield(t); // the domain whose space the operation acts on runs it
                        continue;
                    }
                    assertSame(doms[di], t.currentDomain());
                    step(t, di, pendingOp);
                    pendingOp = -1;
                    if (++opNo >= OPS) {
                        done = true;
                    }
                }
            } catch (Throwable e) {
                if (failure == null) {
                    failure = e;
                }
                done = true;
            }
        }

        int pickOp() {
            int total = 0;
            for (int w : WEIGHTS) {
                total += w;
            }
            int r = rnd.nextInt(total);
            for (int op = 0; op < WEIGHTS.length; op++) {
                r -= WEIGHTS[op];
                if (r < 0) {
                    return op;
                }
            }
            throw new IllegalStateException();
        }

        // ---- argument generation -----------------------------------------------------------

        int outOfRange(int d) {
            int[] bad = {-1, SIZES[d], SIZES[d] + 1, -1000, Integer.MIN_VALUE, Integer.MAX_VALUE};
            return bad[rnd.nextInt(bad.length)];
        }

        int randomWhere(int d, java.util.function.Predicate<MSlot> p) {
            List<Integer> c = new ArrayList<>();
            for (MSlot s : ms[d]) {
                if (p.test(s)) {
                    c.add(s.idx);
                }
            }
            return c.isEmpty() ? rnd.nextInt(SIZES[d]) : c.get(rnd.nextInt(c.size()));
        }

        int pickSrc(int d) {
            int r = rnd.nextInt(100);
            if (r < 68) {
                return randomWhere(d, MSlot::holds);
            } else if (r < 84) {
                return randomWhere(d, s -> s.revoked);
            } else if (r < 90) {
                return randomWhere(d, s -> s.free() && !s.revoked);
            } else if (r < 95) {
                return outOfRange(d);
            }
            return rnd.nextInt(SIZES[d]);
        }

        int pickDst(int d) {
            int r = rnd.nextInt(100);
            if (r < 45) {
                return randomWhere(d, MSlot::free);
            } else if (r < 65) {
                return randomWhere(d, s -> s.revoked);
            } else if (r < 93) {
                return rnd.nextInt(SIZES[d]);
            }
            return outOfRange(d);
        }

        int pickRights(MSlot src, boolean allowKeep) {
            int srcRights = src != null && src.holds() ? src.rights : Rights.ALL;
            int r = rnd.nextInt(100);
            if (allowKeep && r < 35) {
                return -1;
            } else if (r < 80) {
                return rnd.nextInt(16) & srcRights;
            } else if (r < 95) {
                return rnd.nextInt(16);
            }
            int[] odd = {-2, 16, 31, Integer.MIN_VALUE, -1};
            return odd[rnd.nextInt(odd.length)];
        }

        long pickBadge(MSlot src) {
            int r = rnd.nextInt(100);
            if (r < 55) {
                return 0;
            } else if (r < 72 && src != null && src.holds() && src.badge != 0) {
                return src.badge;
            }
            return 1 + rnd.nextInt(3);
        }

        MSlot at(int d, int i) {
            return i >= 0 && i < SIZES[d] ? ms[d][i] : null;
        }

        // ---- operations --------------------------------------------------------------------

        void step(Tcb t, int d, int op) {
            destroyedNow.clear();
            Expect e;
            int st;
            switch (op) {
                case COPY, MINT -> {
                    int src = pickSrc(d);
                    int dst = pickDst(d);
                    MSlot s = at(d, src);
                    int rights = op == COPY ? -1 : pickRights(s, true);
                    long badge = op == COPY ? 0 : pickBadge(s);
                    begin(op == COPY ? "d" + d + " copy " + src + " -> " + dst
                            : "d" + d + " mint " + src + " -> " + dst + " rights " + rights + " badge " + badge);
                    e = predictMint(d, src, dst, rights, badge);
                    st = op == COPY ? k.capCopy(t, src, dst) : k.capMint(t, src, dst, rights, badge);
                    checkSyscall(t, op, e, st);
                    if (st == OK) {
                        MSlot ds = at(d, dst);
                        ds.set(s.obj, rights == -1 ? s.rights : rights, badge != 0 ? badge : s.badge, s);
                        s.obj.caps++;
                    }
                }
                case MOVE -> {
                    int src = pickSrc(d);
                    int dst = pickDst(d);
                    begin("d" + d + " move " + src + " -> " + dst);
                    e = predictMove(d, src, dst);
                    st = k.capMove(t, src, dst);
                    checkSyscall(t, op, e, st);
                    if (st == OK) {
                        MSlot s = at(d, src);
                        MSlot ds = at(d, dst);
                        ds.set(s.obj, s.rights, s.badge, s.parent);
                        for (MSlot x : allSlots()) {
                            if (x.parent == s) {
                                x.parent = ds;
                            }
                        }
                        s.clear(false);
                    }
                }
                case DELETE -> {
                    int slot = rnd.nextInt(100) < 85 ? pickSrc(d) : pickDst(d);
                    begin("d" + d + " delete " + slot);
                    MSlot s = at(d, slot);
                    e = s == null ? new Expect(E_INVALID_SLOT, slot)
                            : s.free() && !s.revoked ? new Expect(E_EMPTY_SLOT, slot)
                            : Expect.OK_;
                    st = k.capDelete(t, slot);
                    checkSyscall(t, op, e, st);
                    if (st == OK) {
                        if (s.revoked) {
                            s.clear(false);
                        } else {
                            for (MSlot x : allSlots()) {
                                if (x.parent == s) {
                                    x.parent = s.parent;
                                }
                            }
                            MObj o = s.obj;
                            s.clear(false);
                            release(o);
                        }
                    }
                }
                case REVOKE -> {
                    int slot = pickSrc(d);
                    begin("d" + d + " revoke " + slot);
                    MSlot s = at(d, slot);
                    e = sourceCheck(s, slot);
                    st = k.capRevoke(t, slot);
                    checkSyscall(t, op, e, st);
                    if (st == OK) {
                        for (MSlot x : descendants(s)) {
                            MObj o = x.obj;
                            x.clear(true);
                            release(o);
                        }
                    }
                }
                case CREATE_EP, CREATE_NTFN -> {
                    int type = op == CREATE_EP ? ObjectType.ENDPOINT : ObjectType.NOTIFICATION;
                    int dst = pickDst(d);
                    begin("d" + d + " " + OP_NAMES[op] + " -> " + dst);
                    MSlot ds = at(d, dst);
                    e = ds == null ? new Expect(E_INVALID_SLOT, dst)
                            : ds.holds() ? new Expect(E_SLOT_OCCUPIED, dst)
                            : used[d] >= QUOTAS[d] ? new Expect(E_NO_MEMORY, type)
                            : Expect.OK_;
                    st = op == CREATE_EP ? k.createEndpoint(t, dst) : k.createNotification(t, dst);
                    checkSyscall(t, op, e, st);
                    if (st == OK) {
                        Cap c = doms[d].cspace().get(dst);
                        if (c == null || c.isRevoked()) {
                            throw failure("create succeeded but left " + c + " in slot " + dst);
                        }
                        if (c.object.owner != doms[d]) {
                            throw failure("created " + c.object + " is charged to " + c.object.owner);
                        }
                        MObj o = newObject(c.object, d);
                        ds.set(o, Rights.ALL, 0, null);
                        o.caps++;
                    }
                }
                case GRANT -> grant();
                case INSTALL -> installOp();
                default -> throw new IllegalStateException();
            }
            verify();
        }

        void begin(String what) {
            current = what;
            history.addLast(opNo + ": " + what);
            if (history.size() > 12) {
                history.removeFirst();
            }
        }

        Expect sourceCheck(MSlot s, int slot) {
            if (s == null) {
                return new Expect(E_INVALID_SLOT, slot);
            } else if (s.revoked) {
                return new Expect(E_REVOKED, slot);
            } else if (s.free()) {
                return new Expect(E_EMPTY_SLOT, slot);
            }
            return Expect.OK_;
        }

        Expect destCheck(MSlot ds, int slot) {
            if (ds == null) {
                return new Expect(E_INVALID_SLOT, slot);
            } else if (ds.holds()) {
                return new Expect(E_SLOT_OCCUPIED, slot);
            }
            return Expect.OK_;
        }

        Expect predictMint(int d, int src, int dst, int rights, long badge) {
            MSlot s = at(d, src);
            Expect e = sourceCheck(s, src);
            if (e.status() != OK) {
                return e;
            }
            int newRights = rights == -1 ? s.rights : rights;
            if ((newRights & ~s.rights) != 0) {
                return new Expect(E_INVALID_ARG, rights);
            }
            if (badge != 0 && s.badge != 0 && badge != s.badge) {
                return new Expect(E_ILLEGAL_OPERATION, src);
            }
            return destCheck(at(d, dst), dst);
        }

        Expect predictMove(int d, int src, int dst) {
            Expect e = sourceCheck(at(d, src), src);
            return e.status() != OK ? e : destCheck(at(d, dst), dst);
        }

        void grant() {
            int fd = rnd.nextInt(doms.length);
            int td = rnd.nextInt(doms.length);
            int fs = pickSrc(fd);
            int ts = pickDst(td);
            MSlot s = at(fd, fs);
            int rights = pickRights(s, false);
            long badge = pickBadge(s);
            begin("grant d" + fd + "[" + fs + "] -> d" + td + "[" + ts + "] rights " + rights + " badge " + badge);
            Expect e = sourceCheck(s, fs);
            if (e.status() == OK && (rights & ~s.rights) != 0) {
                e = new Expect(E_INVALID_ARG, rights);
            } else if (e.status() == OK && badge != 0 && s.badge != 0 && badge != s.badge) {
                e = new Expect(E_ILLEGAL_OPERATION, fs);
            } else if (e.status() == OK) {
                e = destCheck(at(td, ts), ts);
            }
            int st = OK;
            String msg = null;
            try {
                k.grantCap(doms[fd], fs, doms[td], ts, rights, badge);
            } catch (KernelException ex) {
                st = ex.status();
                msg = ex.getMessage();
            }
            checkBoot(GRANT, e, st, msg, e.status() == E_INVALID_ARG ? "rights " + Rights.toString(rights)
                    : "slot " + e.arg() + " ");
            if (st == OK) {
                at(td, ts).set(s.obj, rights, badge != 0 ? badge : s.badge, s);
                s.obj.caps++;
            }
        }

        void installOp() {
            int d = rnd.nextInt(doms.length);
            int slot = pickDst(d);
            MSlot ds = at(d, slot);
            int rights = rnd.nextInt(100) < 90 ? rnd.nextInt(16) : (rnd.nextBoolean() ? 16 : -1);
            long badge = rnd.nextInt(100) < 70 ? 0 : 1 + rnd.nextInt(3);
            Expect e = destCheck(ds, slot);
            MObj o;
            KernelObject ko;
            int r = rnd.nextInt(100);
            if (e.status() == OK && r < 15 && !dead.isEmpty()) {
                // A destroyed object whose kernel object has not been reused since.
                MObj x = dead.get(rnd.nextInt(dead.size()));
                boolean reused = false;
                for (MObj y : objects) {
                    reused |= y.k == x.k;
                }
                o = null;
                ko = x.k;
                if (!reused) {
                    e = new Expect(E_DELETED, 0);
                } else {
                    o = objects.stream().filter(y -> y.k == x.k).findFirst().orElseThrow();
                }
            } else if (e.status() == OK && (rights & ~Rights.ALL) == 0 && r < 55) {
                // A fresh object from the boot API, charged to a random domain.
                int owner = rnd.nextInt(doms.length);
                boolean ep = rnd.nextBoolean();
                if (used[owner] >= QUOTAS[owner]) {
                    begin("boot create " + (ep ? "endpoint" : "notification") + " for d" + owner);
                    int st = OK;
                    try {
                        if (ep) {
                            k.createEndpoint(doms[owner]);
                        } else {
                            k.createNotification(doms[owner]);
                        }
                    } catch (KernelException ex) {
                        st = ex.status();
                    }
                    count(INSTALL, st);
                    if (st != E_NO_MEMORY) {
                        throw failure("boot create beyond quota " + QUOTAS[owner] + " gave " + Status.name(st));
                    }
                    return;
                }
                o = newObject(ep ? k.createEndpoint(doms[owner]) : k.createNotification(doms[owner]), owner);
                ko = o.k;
            } else {
                o = objects.get(rnd.nextInt(objects.size()));
                ko = o.k;
            }
            if (e.status() == OK && (rights & ~Rights.ALL) != 0) {
                e = new Expect(E_INVALID_ARG, rights);
            }
            begin("install " + ko + " -> d" + d + "[" + slot + "] rights " + rights + " badge " + badge);
            int st = OK;
            String msg = null;
            try {
                k.installCap(doms[d], slot, ko, rights, badge);
            } catch (KernelException ex) {
                st = ex.status();
                msg = ex.getMessage();
            }
            checkBoot(INSTALL, e, st, msg, e.status() == E_INVALID_ARG ? "rights " + rights
                    : e.status() == E_DELETED ? ko.toString() : "slot " + e.arg() + " ");
            if (st == OK) {
                ds.set(o, rights, badge, null);
                o.caps++;
            }
        }

        List<MSlot> allSlots() {
            List<MSlot> all = new ArrayList<>();
            for (MSlot[] row : ms) {
                all.addAll(List.of(row));
            }
            return all;
        }

        List<MSlot> descendants(MSlot root) {
            List<MSlot> out = new ArrayList<>();
            Set<MSlot> in = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
            in.add(root);
            boolean grew = true;
            while (grew) {
                grew = false;
                for (MSlot x : allSlots()) {
                    if (x.parent != null && in.contains(x.parent) && in.add(x)) {
                        out.add(x);
                        grew = true;
                    }
                }
            }
            return out;
        }

        void release(MObj o) {
            o.caps--;
            if (o.caps == 0 && o.destroyable()) {
                o.live = false;
                objects.remove(o);
                dead.add(o);
                destroyedNow.add(o);
                if (o.owner >= 0) {
                    used[o.owner]--;
                }
            }
        }

        // ---- checks ------------------------------------------------------------------------

        void count(int op, int st) {
            statusCounts[op][-st]++;
        }

        void checkSyscall(Tcb t, int op, Expect e, int st) {
            count(op, st);
            if (st != e.status()) {
                throw failure("status " + Status.name(st) + ", model expects " + Status.name(e.status())
                        + " (arg " + e.arg() + ")");
            }
            if (st != OK) {
                if (t.errorArg() != e.arg()) {
                    throw failure(Status.name(st) + " with error argument " + t.errorArg() + ", expected " + e.arg());
                }
                String msg = Status.describe(st, OP_NAMES[op], t.errorArg());
                if (!CapabilityTest.names(msg, st, e.arg())) {
                    throw failure("message does not name " + e.arg() + ": " + msg);
                }
            }
        }

        void checkBoot(int op, Expect e, int st, String msg, String fragment) {
            count(op, st);
            if (st != e.status()) {
                throw failure("status " + Status.name(st) + " (" + msg + "), model expects "
                        + Status.name(e.status()) + " (arg " + e.arg() + ")");
            }
            if (st != OK && !msg.contains(fragment)) {
                throw failure("message does not name '" + fragment + "': " + msg);
            }
        }

        CapSlot kslot(MSlot s) {
            return s == null ? null : doms[s.dom].cspace().slot(s.idx);
        }

        /** Compares every slot, link, object and quota with the model. */
        void verify() {
            Map<CapSlot, MSlot> back = new IdentityHashMap<>();
            for (MSlot s : allSlots()) {
                back.put(kslot(s), s);
            }
            int total = back.size();
            for (MSlot s : allSlots()) {
                CapSlot ks = kslot(s);
                Cap c = ks.cap();
                if (s.revoked) {
                    if (c == null || !c.isRevoked()) {
                        throw failure(s + " should be revoked but holds " + c);
                    }
                } else if (s.free()) {
                    if (c != null) {
                        throw failure(s + " should be empty but holds " + c);
                    }
                } else {
                    if (c == null || c.isRevoked() || c.object != s.obj.k || c.type != s.obj.type
                            || c.rights != s.rights || c.badge != s.badge) {
                        throw failure(s + " holds " + c + ", model: " + s.obj.k + " "
                                + Rights.toString(s.rights) + " badge=" + s.badge);
                    }
                }
                if (ks.parent() != kslot(s.parent)) {
                    throw failure(s + " has parent " + back.get(ks.parent()) + ", model: " + s.parent);
                }
                // The child list, walked forwards with back links checked, is exactly the model's.
                List<MSlot> kids = new ArrayList<>();
                CapSlot prev = null;
                int n = 0;
                for (CapSlot c2 = ks.firstChild; c2 != null; prev = c2, c2 = c2.nextSibling) {
                    if (++n > total) {
                        throw failure("child list of " + s + " has a cycle");
                    }
                    MSlot mc = back.get(c2);
                    if (mc == null) {
                        throw failure("child of " + s + " is not a slot of any domain");
                    }
                    if (c2.parent() != ks) {
                        throw failure(mc + " is in the child list of " + s + " but its parent is "
                                + back.get(c2.parent()));
                    }
                    if (c2.prevSibling != prev) {
                        throw failure(mc + " has prevSibling " + back.get(c2.prevSibling) + ", expected "
                                + back.get(prev));
                    }
                    kids.add(mc);
                }
                List<MSlot> modelKids = new ArrayList<>();
                for (MSlot x : allSlots()) {
                    if (x.parent == s) {
                        modelKids.add(x);
                    }
                }
                if (kids.size() != modelKids.size() || !kids.containsAll(modelKids)) {
                    throw failure(s + " has children " + kids + ", model: " + modelKids);
                }
                if (s.free() && (ks.firstChild != null || ks.nextSibling != null || ks.prevSibling != null
                        || ks.parent() != null)) {
                    throw failure("empty or revoked " + s + " still has derivation links");
                }
                if (s.parent == null && ks.prevSibling != null) {
                    throw failure("root " + s + " has a previous sibling");
                }
            }
            for (MObj o : objects) {
                if (!o.k.isLive()) {
                    throw failure(o.k + " should be live (" + o.caps + " capabilities)");
                }
                if (o.k.capCount != o.caps) {
                    throw failure(o.k + " has capCount " + o.k.capCount + ", model: " + o.caps);
                }
            }
            for (MObj o : destroyedNow) {
                if (o.k.isLive()) {
                    throw failure(o.k + " should have been destroyed with its last capability");
                }
            }
            for (int d = 0; d < doms.length; d++) {
                if (doms[d].used() != used[d]) {
                    throw failure("d" + d + " uses " + doms[d].used() + " of its quota, model: " + used[d]);
                }
                if (doms[d].state() != Domain.RUNNING) {
                    throw failure("d" + d + " is " + Domain.stateName(doms[d].state()));
                }
            }
        }

        /** Each seed must exercise every operation's success and its main errors. */
        void checkCoverage() {
            synchronized (COVERAGE) {
                for (int op = 0; op < OP_NAMES.length; op++) {
                    for (int i = 0; i < 32; i++) {
                        if (statusCounts[op][i] > 0) {
                            COVERAGE.merge(OP_NAMES[op] + " " + Status.name(-i), statusCounts[op][i], Integer::sum);
                        }
                    }
                }
            }
            int[][] required = {
                {COPY, OK}, {COPY, E_REVOKED}, {COPY, E_SLOT_OCCUPIED}, {COPY, E_INVALID_SLOT},
                {MINT, OK}, {MINT, E_INVALID_ARG}, {MINT, E_ILLEGAL_OPERATION},
                {MOVE, OK}, {MOVE, E_REVOKED},
                {DELETE, OK}, {DELETE, E_EMPTY_SLOT},
                {REVOKE, OK}, {REVOKE, E_REVOKED},
                {GRANT, OK}, {INSTALL, OK},
            };
            for (int[] r : required) {
                assertTrue(statusCounts[r[0]][-r[1]] > 0,
                        "seed " + seed + " never saw " + OP_NAMES[r[0]] + " return " + Status.name(r[1]));
            }
            int okCreates = statusCounts[CREATE_EP][0] + statusCounts[CREATE_NTFN][0];
            int noMemory = statusCounts[CREATE_EP][-E_NO_MEMORY] + statusCounts[CREATE_NTFN][-E_NO_MEMORY];
            assertTrue(okCreates > 0 && noMemory > 0, "seed " + seed + ": creates ok " + okCreates
                    + ", out of quota " + noMemory);
        }
    }
}
