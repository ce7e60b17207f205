package isola.kernel;

import static isola.kernel.Status.*;

/**
 * Notifications (seL4's {@code notification.c}): a word of pending bits that a signal ORs into
 * and a wait takes and clears. Signals come from threads, interrupts and the kernel log.
 */
final class Signals {
    private final Kernel k;
    private final Scheduling sched;

    Signals(Kernel k) {
        this.k = k;
        this.sched = k.sched;
    }

    /** ORs the capability's badge (1 if unbadged) into the notification, waking a waiter. */
    @LockHeld
    int signal(Tcb self, int slot) {
        Cap c = k.caps.lookup(self, slot, ObjectType.NOTIFICATION, Rights.SEND);
        if (c == null) {
            return self.error;
        }
        signal((Notification) c.object, c.badge == 0 ? 1 : c.badge);
        return OK;
    }

    /** Signals {@code bits} to {@code n}: the first waiter takes them all. */
    @LockHeld
    void signal(Notification n, long bits) {
        assert k.lockHeld();
        n.word |= bits;
        while (!n.waiters.isEmpty()) {
            Tcb w = n.waiters.pollFirst();
            if (Utcb.claimAny(w.utcb)) {
                Utcb.setBadge(w.utcb, n.word);
                n.word = 0;
                sched.wakeClaimed(w, OK);
                return;
            }
        }
    }

    /** Waits for a signal; the pending bits arrive in the badge register and are cleared. */
    @LockHeld
    int await(Tcb self, int slot, long timeout) {
        Cap c = k.caps.lookup(self, slot, ObjectType.NOTIFICATION, Rights.RECV);
        if (c == null) {
            return self.error;
        }
        Notification n = (Notification) c.object;
        if (n.word != 0 || timeout == Kernel.POLL) {
            Utcb.setBadge(self.utcb, n.word);
            n.word = 0;
            return OK;
        }
        sched.block(self, Tcb.BLOCKED_WAIT, n, slot, timeout, Utcb.WAIT_OTHER, 0);
        n.waiters.addByPriority(self);
        return Kernel.BLOCKED;
    }
}
