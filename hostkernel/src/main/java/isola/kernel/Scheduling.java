package isola.kernel;

import static isola.kernel.Status.*;

import isola.kernel.machine.Machine;
/**
 * Kernel entry and exit, blocking and waking, timeouts and the uniprocessor's scheduling
 * decisions. Every slow-path system call is {@code begin ... end}: {@link #begin} takes the
 * kernel lock (and, on a uniprocessor, charges time and expires timeouts), {@link #end} decides
 * who runs next, releases the lock and, if the caller blocked, waits for its wake-up.
 *
 * <p>A blocked thread is woken exactly once per wait: every waker first claims the thread's
 * wake word ({@link Utcb#claim}, {@link Utcb#claimAny}), then completes the wake-up with
 * {@link #wakeClaimed}.
 */
final class Scheduling {
    private final Kernel k;
    private final Machine machine;
    private final boolean uni;
    private final Scheduler ready;
    private final TimerQueue timers;
    private final InterruptController irqs;

    /** The periodic timer's period in ns (0: none), and when it next ticks. */
    private final long tickPeriod;
    private long nextTick;
    /** The running thread on a uniprocessor machine; null when idle. */
    private Tcb current;

    Scheduling(Kernel k) {
        this.k = k;
        this.machine = k.machine;
        this.uni = k.uni;
        this.ready = k.scheduler;
        this.timers = k.timers;
        this.irqs = k.irqs;
        tickPeriod = k.config.timerHz() > 0 ? 1_000_000_000L / k.config.timerHz() : 0;
        nextTick = machine.now() + tickPeriod;
    }

    Tcb current() {
        return current;
    }

    // ---- entry and exit ---------------------------------------------------------------------

    /**
     * Begins a system call of {@code self}: takes the kernel lock and records the call. Returns
     * E_KILLED if the thread's domain was killed (the call then does nothing but end), else OK.
     */
    int begin(Tcb self, int op, long arg) {
        machine.enter(self);
        k.trace(Trace.SYSCALL, self.id, ((long) op << 32) | (arg & 0xFFFFFFFFL));
        if (uni) {
            if (tickPeriod > 0) {
                ticks(machine.now());
            } else {
                self.sliceLeft -= Kernel.ENTRY_COST_NS;
            }
            expire(machine.now());
        }
        return self.killed ? E_KILLED : OK;
    }

    /** Ends an entry; a blocked caller returns the status its waker left in its UTCB. */
    @LockHeld
    int end(Tcb self, int r) {
        assert k.lockHeld();
        boolean stopped = false;
        if (r == E_KILLED && self.domain.state == Domain.FAULTED) {
            // Its domain crashed (injectFault) and the supervisor has not killed it yet: it waits
            // for that here, having done nothing of this call, rather than unwind and leave early.
            block(self, Tcb.FAULTED, null, -1, Kernel.FOREVER, Utcb.WAIT_OTHER, 0);
            r = Kernel.BLOCKED;
            stopped = true;
        }
        if (uni) {
            reschedule();
        }
        machine.leave(self);
        if (r == Kernel.BLOCKED) {
            self.state = Tcb.RUNNING;
            int st = Utcb.status(self.utcb);
            return stopped ? E_KILLED : st;
        }
        return r;
    }

    /** Gives up the rest of the time slice to threads of the same priority. */
    int yield(Tcb self) {
        begin(self, Trace.OP_YIELD, 0);
        self.sliceLeft = 0;
        self.yielded = true;
        return end(self, OK);
    }

    @LockHeld
    void setTimeslice(Tcb t, long ns) {
        if (ns <= 0) {
            throw new KernelException(E_INVALID_ARG, "setTimeslice " + t.name + ": " + ns + " ns");
        }
        t.timeslice = ns;
        t.sliceLeft = ns;
    }

    // ---- blocking and waking (lock held) ----------------------------------------------------

    /** Blocks {@code t}: arms its wake word and schedules its timeout. */
    @LockHeld
    long block(Tcb t, int state, KernelObject on, int slot, long timeout, long kind, int endpoint) {
        assert k.lockHeld();
        long gen = Utcb.arm(t.utcb, kind, endpoint);
        t.state = state;
        t.blockedOn = on;
        t.errorArg = slot;
        if (timeout > 0) {
            timers.schedule(t, machine.now() + timeout, gen);
            if (timers.peek() == t) {
                machine.timerChanged(t.deadline);
            }
        }
        k.trace(Trace.BLOCK, t.id, on == null ? -1 : on.id);
        return gen;
    }

    /** Removes a claimed thread from whatever queue it waited in. */
    @LockHeld
    void cancelBlock(Tcb t) {
        TcbQueue q = t.queue;
        if (q != null) {
            q.remove(t);
            if (t.blockedOn instanceof Endpoint ep) {
                ep.sendersChanged();
            }
        }
        t.pendingCap = null;
        timers.remove(t);
    }

    /** Completes the wake-up of a claimed thread. */
    @LockHeld
    void wakeClaimed(Tcb t, int status) {
        assert k.lockHeld();
        timers.remove(t);
        t.blockedOn = null;
        if (t.proxyOf != null) {
            t.proxyOf.faultPending = false;
            Utcb.release(t.utcb);
            return;
        }
        Utcb.setStatus(t.utcb, status);
        t.state = Tcb.RUNNING;
        k.trace(Trace.WAKE, t.id, status);
        if (uni) {
            ready.enqueueTail(t);
        }
        if (Utcb.release(t.utcb)) {
            machine.unpark(t);
        }
    }

    /** Fails every thread waiting in {@code q} with {@code status}. */
    @LockHeld
    void failQueue(TcbQueue q, int status) {
        while (!q.isEmpty()) {
            Tcb t = q.pollFirst();
            if (Utcb.claimAny(t.utcb)) {
                timers.remove(t);
                wakeClaimed(t, status);
            }
        }
    }

    // ---- time ---------------------------------------------------------------------------------

    /** The timer: expires due timeouts. Called by the machine's timer device. */
    void tick() {
        machine.enter(null);
        try {
            if (uni && tickPeriod > 0) {
                ticks(machine.now()); // counts the periodic ticks up to now
            } else {
                irqs.delivered[InterruptController.TIMER_LINE]++; // the timer is IRQ 0
            }
            expire(machine.now());
            machine.timerChanged(nextDeadline());
            if (uni) {
                reschedule();
            }
        } finally {
            machine.leave(null);
        }
    }

    @LockHeld
    private void expire(long now) {
        Tcb t;
        boolean changed = false;
        while ((t = timers.peek()) != null && t.deadline <= now) {
            timers.remove(t);
            changed = true;
            if (Utcb.claim(t.utcb, t.timerGen)) {
                cancelBlock(t);
                wakeClaimed(t, E_TIMEOUT);
            }
        }
        if (changed) {
            Tcb next = timers.peek();
            machine.timerChanged(next == null ? Long.MAX_VALUE : next.deadline);
        }
    }

    /** Earliest pending timeout, or Long.MAX_VALUE. */
    long nextDeadline() {
        Tcb t = timers.peek();
        return t == null ? Long.MAX_VALUE : t.deadline;
    }

    /**
     * The periodic timer's ticks due by {@code now} (IRQ 0), taken at this kernel entry, the
     * uniprocessor's preemption point: each charges its period to the running thread's slice;
     * the entry's end then rotates it behind its peers if the slice is used up.
     */
    @LockHeld
    private void ticks(long now) {
        if (now >= nextTick) {
            long n = (now - nextTick) / tickPeriod + 1; // after an idle jump, many at once
            nextTick += n * tickPeriod;
            irqs.delivered[InterruptController.TIMER_LINE] += n;
            Tcb cur = current;
            if (cur != null) {
                cur.sliceLeft -= n * tickPeriod;
            }
        }
    }

    // ---- the uniprocessor's decisions -------------------------------------------------------

    /** A new thread becomes runnable (an idle uniprocessor runs it at once). */
    @LockHeld
    void started(Tcb t) {
        if (uni) {
            ready.enqueueTail(t);
            if (current == null) {
                reschedule();
            }
        }
    }

    /** An idle uniprocessor runs the threads an entry from outside woke (as {@link #started} does). */
    @LockHeld
    void rescheduleIfIdle() {
        if (uni && current == null) {
            reschedule();
        }
    }

    /** A machine-originated entry woke threads: on a uniprocessor a woken one of higher priority runs now. */
    @LockHeld
    void rescheduleIfUni() {
        if (uni) {
            reschedule();
        }
    }

    /** An exiting thread leaves the ready queue. */
    @LockHeld
    void exited(Tcb t) {
        if (uni && ready.isQueued(t)) {
            ready.remove(t);
        }
    }

    /**
     * Uniprocessor scheduling decision at the end of an entry: the current thread keeps the CPU
     * unless it blocked, its slice ran out (round robin: to the tail) or a higher priority thread
     * is ready (preempted: back to the head).
     */
    @LockHeld
    private void reschedule() {
        assert k.lockHeld();
        Tcb cur = current;
        if (cur != null && cur.state == Tcb.RUNNING && !ready.isQueued(cur)) {
            if (cur.sliceLeft <= 0) {
                cur.sliceLeft = cur.timeslice;
                cur.yielded = false;
                ready.enqueueTail(cur);
            } else if (ready.highestPriority() > cur.priority) {
                ready.enqueueHead(cur);
            } else {
                return;
            }
        } else if (cur != null && cur.state == Tcb.RUNNING) {
            // Woken while still current (e.g. its own timeout fired inside its entry).
            ready.remove(cur);
            return;
        }
        Tcb next = ready.pollHighest();
        current = next;
        if (next != cur) {
            k.trace(next == null ? Trace.IDLE : Trace.SWITCH, next == null ? 0 : next.id, 0);
        }
    }
}
