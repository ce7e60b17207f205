package isola.sdk;

import isola.kernel.Kernel;
import isola.kernel.KilledError;
import isola.kernel.Status;
import isola.kernel.Tag;
import isola.kernel.Tcb;
import isola.kernel.Utcb;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A kernel thread's view of the kernel: its message registers, read and written in place in
 * unmanaged memory, and its system calls. One per thread; a passive server's handler gets the
 * caller's, since it runs on the caller's thread (inside the server's domain, so capability
 * slots name the server's capabilities).
 *
 * <p>System calls return a status ({@link Status#OK} or a negative error) and never allocate;
 * {@link #check} turns an error into an {@link IsolaException} whose message names the input.
 * A call that finds the thread's own domain killed throws {@link KilledError} to unwind it.
 */
public final class Sys {
    /** Block until done. */
    public static final long FOREVER = Kernel.FOREVER;

    private final Kernel kernel;
    private final Tcb tcb;
    private final MemorySegment utcb;

    private Sys(Kernel kernel, Tcb tcb) {
        this.kernel = kernel;
        this.tcb = tcb;
        this.utcb = tcb.utcb();
    }

    /** The Sys of {@code tcb}, created on first use. Host side (machine, tiers, tests) only. */
    public static Sys of(Kernel kernel, Tcb tcb) {
        Object s = tcb.sdk;
        if (s instanceof Sys sys && sys.tcb == tcb && sys.utcb == tcb.utcb()) {
            return sys;
        }
        Sys sys = new Sys(kernel, tcb);
        tcb.sdk = sys;
        return sys;
    }

    /** A message tag: what {@link Handler#handle} returns and what the raw calls take. */
    public static long tag(int label, int length) {
        return Tag.of(label, length);
    }

    public static long tag(int label, int length, int caps) {
        return Tag.of(label, length, caps);
    }

    // ---- message registers ----

    public long mr(int i) {
        return Utcb.mr(utcb, Objects.checkIndex(i, Utcb.MESSAGE_REGISTERS));
    }

    public Sys mr(int i, long value) {
        Utcb.setMr(utcb, Objects.checkIndex(i, Utcb.MESSAGE_REGISTERS), value);
        return this;
    }

    /** Label of the message last received or replied. */
    public int label() {
        return Tag.label(Utcb.tag(utcb));
    }

    /** Number of message registers in the message last received or replied. */
    public int length() {
        return Tag.length(Utcb.tag(utcb));
    }

    /** Number of capabilities that arrived with the last message. */
    public int capsReceived() {
        return Tag.caps(Utcb.tag(utcb));
    }

    /** Badge of the capability the last message came through; the bits of the last wait. */
    public long badge() {
        return Utcb.badge(utcb);
    }

    /** Slot of the i-th capability to send; after a receive, where the i-th one landed. */
    public int capSlot(int i) {
        return Utcb.capSlot(utcb, Objects.checkIndex(i, Utcb.MAX_CAPS));
    }

    public Sys capSlot(int i, int slot) {
        Utcb.setCapSlot(utcb, Objects.checkIndex(i, Utcb.MAX_CAPS), slot);
        return this;
    }

    /** First slot where received capabilities go; -1 (the default) accepts none. */
    public Sys receiveWindow(int slot) {
        Utcb.setRecvWindow(utcb, slot);
        return this;
    }

    // ---- IPC ----

    public int call(int slot, int label, int length) {
        return unwind(kernel.call(tcb, slot, Tag.of(label, length), FOREVER));
    }

    /** Call with a raw tag (e.g. carrying capabilities) and a timeout in nanoseconds. */
    public int call(int slot, long tag, long timeoutNs) {
        return unwind(kernel.call(tcb, slot, tag, timeoutNs));
    }

    public int send(int slot, int label, int length) {
        return unwind(kernel.send(tcb, slot, Tag.of(label, length), FOREVER));
    }

    public int send(int slot, long tag, long timeoutNs) {
        return unwind(kernel.send(tcb, slot, tag, timeoutNs));
    }

    /** Non-blocking send: E_WOULD_BLOCK unless a receiver is waiting. */
    public int trySend(int slot, long tag) {
        return unwind(kernel.send(tcb, slot, tag, Kernel.POLL));
    }

    public int recv(int slot) {
        return unwind(kernel.recv(tcb, slot, FOREVER));
    }

    public int recv(int slot, long timeoutNs) {
        return unwind(kernel.recv(tcb, slot, timeoutNs));
    }

    /** Non-blocking receive: E_WOULD_BLOCK unless a sender is waiting. */
    public int tryRecv(int slot) {
        return unwind(kernel.recv(tcb, slot, Kernel.POLL));
    }

    public int reply(long tag) {
        return unwind(kernel.reply(tcb, tag));
    }

    /** Replies through a reply capability saved with {@link #saveReply}; the slot is emptied. */
    public int replyTo(int slot, long tag) {
        return unwind(kernel.replyTo(tcb, slot, tag));
    }

    public int replyRecv(int slot, long tag) {
        return unwind(kernel.replyRecv(tcb, slot, tag, FOREVER));
    }

    public int replyRecv(int slot, long tag, long timeoutNs) {
        return unwind(kernel.replyRecv(tcb, slot, tag, timeoutNs));
    }

    public int saveReply(int slot) {
        return unwind(kernel.saveReply(tcb, slot));
    }

    // ---- notifications, scheduling ----

    public int signal(int slot) {
        return unwind(kernel.signal(tcb, slot));
    }

    /** Waits for a signal; the bits are then in {@link #badge()}. */
    public int await(int slot) {
        return unwind(kernel.await(tcb, slot, FOREVER));
    }

    public int await(int slot, long timeoutNs) {
        return unwind(kernel.await(tcb, slot, timeoutNs));
    }

    /** The pending bits (0 if none) in {@link #badge()}, without blocking. */
    public int poll(int slot) {
        return unwind(kernel.poll(tcb, slot));
    }

    public int yield() {
        return unwind(kernel.yield(tcb));
    }

    // ---- capabilities ----

    public int copy(int src, int dst) {
        return unwind(kernel.capCopy(tcb, src, dst));
    }

    /** Derives a capability with fewer rights ({@code -1}: the same) and a badge (0: the same). */
    public int mint(int src, int dst, int rights, long badge) {
        return unwind(kernel.capMint(tcb, src, dst, rights, badge));
    }

    public int move(int src, int dst) {
        return unwind(kernel.capMove(tcb, src, dst));
    }

    public int delete(int slot) {
        return unwind(kernel.capDelete(tcb, slot));
    }

    public int revoke(int slot) {
        return unwind(kernel.capRevoke(tcb, slot));
    }

    public int createEndpoint(int dst) {
        return unwind(kernel.createEndpoint(tcb, dst));
    }

    public int createNotification(int dst) {
        return unwind(kernel.createNotification(tcb, dst));
    }

    /** Kills the domain named by the DOMAIN capability in {@code slot} (CONTROL right). */
    public int kill(int slot) {
        return unwind(kernel.domainKill(tcb, slot));
    }

    /** Serves the endpoint in {@code slot} (RECV right) with this thread's domain, actively. */
    public int serve(int slot) {
        return unwind(kernel.serve(tcb, slot, null));
    }

    /** Serves the endpoint in {@code slot} passively: calls run {@code handler} on the caller's thread. */
    public int servePassive(int slot, Handler handler) {
        return unwind(kernel.serve(tcb, slot, caller -> handler.handle((Sys) caller.sdk)));
    }

    // ---- errors ----

    /** Throws an {@link IsolaException} naming the input if {@code status} is an error. */
    public int check(int status, String operation) {
        if (status < 0) {
            throw new IsolaException(status, describe(status, operation));
        }
        return status;
    }

    /** A message for the last error of this thread, naming the offending input. */
    public String describe(int status, String operation) {
        return Status.describe(status, operation + " in " + tcb.currentDomain().name(), tcb.errorArg());
    }

    /** The name of this thread's current domain (the server's, inside a passive call). */
    public String domainName() {
        return tcb.currentDomain().name();
    }

    public String threadName() {
        return tcb.name();
    }

    private static int unwind(int status) {
        if (status == Status.E_KILLED) {
            throw KilledError.INSTANCE;
        }
        return status;
    }
}
