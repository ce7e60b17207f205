package isola.kernel;

import static isola.kernel.Status.*;

/**
 * Interrupts: lines raised by the machine's devices, delivered highest priority first as a
 * signal to the notification bound to the line's handler, and the handler capability's calls
 * (issue, bind, acknowledge, mask, priority). The line state is {@link InterruptController}'s.
 */
final class IrqCalls {
    /** Line changes {@link #change} makes. */
    static final int ACK = 0, MASK = 1, UNMASK = 2, PRIORITY = 3;

    private final Kernel k;
    private final InterruptController irqs;

    IrqCalls(Kernel k) {
        this.k = k;
        this.irqs = k.irqs;
    }

    /** Throws, naming {@code op}, unless {@code line} is in {@code lowest}..{@link Kernel#IRQ_LINES}-1. */
    static void checkLine(String op, int line, int lowest) {
        if (line < lowest || line >= Kernel.IRQ_LINES) {
            throw new KernelException(E_INVALID_ARG, op + ": line " + line + " is outside " + lowest + ".."
                    + (Kernel.IRQ_LINES - 1));
        }
    }

    /** See {@link Kernel#raiseIrqs}: lines already checked. */
    @LockHeld
    void raise(int[] lines) {
        for (int line : lines) {
            irqs.pending[line] = true;
        }
        deliver();
        k.sched.rescheduleIfUni(); // a woken driver of higher priority runs now
    }

    /** Delivers pending lines, highest priority first. */
    @LockHeld
    void deliver() {
        assert k.lockHeld();
        int line;
        while ((line = irqs.next()) >= 0) {
            irqs.pending[line] = false;
            irqs.inService[line] = true;
            irqs.delivered[line]++;
            k.trace(Trace.IRQ, line, InterruptController.FIRST_IRQ_VECTOR + line);
            IrqHandler h = irqs.handler[line];
            if (h != null && h.notification != null && h.notification.live) {
                k.signals.signal(h.notification, h.bits);
            }
        }
    }

    /** See {@link Kernel#irqIssue}. */
    @LockHeld
    int issue(Tcb self, int controlSlot, int line, int dst) {
        Capabilities caps = k.caps;
        Cap c = caps.lookup(self, controlSlot, ObjectType.IRQ_CONTROL, Rights.CONTROL);
        CapSlot d = c == null ? null : caps.emptySlot(self, dst);
        if (c == null || d == null) {
            return self.error;
        }
        if (line <= InterruptController.TIMER_LINE || line >= Kernel.IRQ_LINES) {
            return self.fail(E_INVALID_ARG, line); // outside 1..223 (the timer's line is the kernel's)
        }
        if (irqs.handler[line] != null) {
            return self.fail(E_ILLEGAL_OPERATION, line); // the line already has a handler
        }
        IrqHandler h = k.irqHandlers.allocate();
        h.line = line;
        h.notification = null;
        h.owner = self.current;
        irqs.handler[line] = h;
        caps.install(d, null, Cap.of(h, Rights.ALL, 0));
        return OK;
    }

    /** See {@link Kernel#irqBind}. */
    @LockHeld
    int bind(Tcb self, int handlerSlot, int notificationSlot) {
        Capabilities caps = k.caps;
        Cap h = caps.lookup(self, handlerSlot, ObjectType.IRQ_HANDLER, Rights.CONTROL);
        Cap n = h == null ? null : caps.lookup(self, notificationSlot, ObjectType.NOTIFICATION, Rights.SEND);
        if (h == null || n == null) {
            return self.error;
        }
        IrqHandler ih = (IrqHandler) h.object;
        Notification old = ih.notification;
        ih.notification = (Notification) n.object;
        ih.notification.capCount++; // the binding holds it, as a capability would
        ih.bits = n.badge == 0 ? 1 : n.badge;
        if (old != null) {
            caps.release(old, E_DELETED);
        }
        irqs.masked[ih.line] = false;
        deliver();
        return OK;
    }

    /** Acknowledges, masks, unmasks the handler's line or sets its priority ({@code what}). */
    @LockHeld
    int change(Tcb self, int handlerSlot, int what, int priority) {
        Cap h = k.caps.lookup(self, handlerSlot, ObjectType.IRQ_HANDLER, Rights.CONTROL);
        if (h == null) {
            return self.error;
        }
        if (what == PRIORITY && (priority < 0 || priority >= InterruptController.PRIORITIES)) {
            return self.fail(E_INVALID_ARG, priority);
        }
        int line = ((IrqHandler) h.object).line;
        switch (what) {
            case ACK -> irqs.inService[line] = false;
            case MASK -> irqs.masked[line] = true;
            case UNMASK -> irqs.masked[line] = false;
            default -> irqs.priority[line] = priority;
        }
        deliver();
        return OK;
    }

    /** The handler's last capability went: its line is free, masked, and out of service. */
    @LockHeld
    void handlerReleased(IrqHandler h) {
        int line = h.line;
        irqs.handler[line] = null;
        irqs.masked[line] = true;
        irqs.inService[line] = false;
        irqs.pending[line] = false;
        Notification bound = h.notification;
        h.notification = null;
        k.irqHandlers.release(h);
        if (bound != null) {
            k.caps.release(bound, E_DELETED);
        }
        deliver(); // its line no longer holds the processor priority
    }

    /** See {@link Kernel#irqLine}. */
    @LockHeld
    IrqLine line(int line) {
        IrqHandler h = irqs.handler[line];
        int vector = InterruptController.FIRST_IRQ_VECTOR + line;
        return new IrqLine(line, vector, InterruptController.vectorName(vector), irqs.delivered[line],
                irqs.masked[line], irqs.pending[line], irqs.inService[line], irqs.priority[line],
                line == InterruptController.TIMER_LINE ? "kernel (timer)" : h == null ? null
                        : h.owner == null ? "?" : h.owner.name);
    }
}
