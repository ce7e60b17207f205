/*
 * Threads for the Java kernel on one CPU, scheduled round robin with preemptive time slices.
 * The policy is the Java kernel's (SchedulerPolicy: the run queue, the sleepers, the slice);
 * this is the mechanism: contexts, the switch, wait queues, and the interrupt thread's wait.
 * The PIT's tick (IRQ 0, programmed by the Java kernel) wakes sleepers and ends slices; the
 * interrupt path then switches threads on the interrupted thread's own stack (entry.S), so a
 * preempted thread resumes exactly where it was, Java or not. Everything runs with interrupts
 * disabled while it changes scheduler state: one CPU, so that is the lock.
 */
#include "clock.h"
#include "console.h"
#include "cpu.h"
#include "entry.h"
#include "isola_limits.h"
#include "libc.h"
#include "malloc.h"
#include "threads.h"
#include "vm.h"

static thread boot_thread;
thread *isola_current = &boot_thread;
static thread *reap;             /* finished detached threads (linked through next) whose stacks another must free */
static int in_scheduler;

/*
 * The scheduling policy is the Java kernel's (isola.baremetal.SchedulerPolicy): the run queue,
 * the sleepers' deadlines and the time slice. Its entries are uninterruptible Java with no
 * prologue, called through isola_call_java (entry.S) with the image heap's base in r14. That
 * base is read from r14 when the kernel first calls isola_policy_attach; before that (the boot,
 * one thread, no timer) nothing is queued, and a thread that would block is a panic.
 */
uint64_t isola_java_heap_base;
int isola_policy_enqueue(int id);
int isola_policy_next(void);
int isola_policy_ready(void);
void isola_policy_sleep(int id, long deadline);
int isola_policy_unsleep(int id);
int isola_policy_expired(long now);
int isola_policy_sleeping(void);
int isola_policy_tick(int switch_allowed);
void isola_policy_switched(void);

static uint64_t context_switches, preemptions;
long isola_context_switches(void) { return (long)context_switches; }
long isola_preemptions(void) { return (long)preemptions; }

/* Thread ids are the policy's: SchedulerPolicy's arrays have ISOLA_MAX_THREADS entries. */
static thread *by_id[ISOLA_MAX_THREADS];

void isola_policy_attach(void) {
    uint64_t r14;
    __asm__ volatile("mov %%r14, %0" : "=r"(r14));
    isola_java_heap_base = r14;
}

static long policy(void *fn, long a, long b) {
    if (!isola_java_heap_base)
        isola_panic("the scheduler was needed before the Java kernel attached its policy (thread %d)", isola_current->id);
    return isola_call_java(fn, a, b);
}

static int ready_count(void) { return (int)policy((void *)isola_policy_ready, 0, 0); }

int isola_thread_register(thread *t) {
    for (int i = 1; i < ISOLA_MAX_THREADS; i++) {
        if (!by_id[i]) {
            by_id[i] = t;
            return i;
        }
    }
    return 0;
}

void isola_thread_unregister(thread *t) { by_id[t->id] = 0; }

void isola_enqueue(queue *q, thread *t) {
    t->next = 0;
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
}

thread *isola_dequeue(queue *q) {
    thread *t = q->head;
    if (t) {
        q->head = t->next;
        if (!q->head)
            q->tail = 0;
        t->next = 0;
    }
    return t;
}

static int remove_from(queue *q, thread *t) {
    thread *prev = 0;
    for (thread *c = q->head; c; prev = c, c = c->next) {
        if (c == t) {
            if (prev)
                prev->next = c->next;
            else
                q->head = c->next;
            if (q->tail == c)
                q->tail = prev;
            c->next = 0;
            return 1;
        }
    }
    return 0;
}

void isola_sleep_until(thread *t, uint64_t deadline) {
    t->timed_out = 0;
    policy((void *)isola_policy_sleep, t->id, (long)deadline);
}

void isola_make_ready(thread *t) {
    policy((void *)isola_policy_unsleep, t->id, 0);
    t->state = THREAD_READY;
    policy((void *)isola_policy_enqueue, t->id, 0);
}

/* Sleepers whose deadline passed become ready, taken off the wait queue a timed wait left them on. */
static void wake_sleepers(uint64_t now) {
    int id;
    while ((id = (int)policy((void *)isola_policy_expired, (long)now, 0)) != 0) {
        thread *t = by_id[id];
        t->timed_out = 1;
        queue *q = t->waiting;
        t->waiting = 0;
        if (q)
            remove_from(q, t);
        t->state = THREAD_READY;
        policy((void *)isola_policy_enqueue, id, 0);
    }
}

/* Frees finished detached threads' stacks: called on another thread's stack, so none runs on them. */
static void reap_finished(void) {
    while (reap && reap != isola_current) {
        thread *r = reap;
        reap = r->next;
        munmap((void *)r->stack_map, r->stack_hi - r->stack_map);
        isola_thread_unregister(r);
        free(r);
    }
}

/*
 * Runs the next ready thread; the caller has interrupts off and has put the current thread
 * wherever it belongs (run queue, wait queue, or nowhere if done). With nothing ready it idles:
 * halts until an interrupt, or, before the kernel enables interrupts, polls the clock for sleepers.
 */
static void schedule(void) {
    in_scheduler = 1;
    thread *next;
    int id;
    while (!(id = (int)policy((void *)isola_policy_next, 0, 0))) {
        if (isola_interrupts_enabled) {
            __asm__ volatile("sti; hlt; cli" : : : "memory"); /* until an interrupt */
        } else {
            __asm__ volatile("pause");
        }
        wake_sleepers(isola_nanotime());
        if (!isola_interrupts_enabled && !policy((void *)isola_policy_sleeping, 0, 0) && !ready_count())
            isola_panic("every thread is blocked and interrupts are off: deadlock (thread %d waits)", isola_current->id);
    }
    next = by_id[id];
    in_scheduler = 0;
    policy((void *)isola_policy_switched, 0, 0);
    thread *prev = isola_current;
    next->state = THREAD_RUNNING;
    if (next == prev)
        return;
    isola_current = next;
    isola_errno = &next->err;
    context_switches++;
    isola_switch(&prev->rsp, next->rsp);
    reap_finished();
}

void isola_block(void) {
    isola_current->state = THREAD_BLOCKED;
    schedule();
}

int isola_timer_tick(void) {
    if (!isola_java_heap_base)
        return 0;
    wake_sleepers(isola_nanotime());
    return (int)policy((void *)isola_policy_tick, !in_scheduler, 0);
}

/* From the interrupt path (entry.S), on the interrupted thread's stack, interrupts off. */
void isola_preempt(void) {
    if (in_scheduler || !ready_count())
        return;
    preemptions++;
    isola_make_ready(isola_current);
    schedule();
}

void isola_threads_init(uint64_t bottom, uint64_t top) {
    boot_thread.id = isola_thread_register(&boot_thread);
    boot_thread.state = THREAD_RUNNING;
    boot_thread.stack_lo = bottom;
    boot_thread.stack_hi = top;
    isola_errno = &boot_thread.err;
}

int isola_thread_id(void) { return isola_current->id; }

static void thread_exit(void *result) __attribute__((noreturn));
static void thread_exit(void *result) {
    isola_irq_save();
    thread *t = isola_current;
    t->result = result;
    t->state = THREAD_DONE;
    if (t->joiner)
        isola_make_ready(t->joiner);
    if (t->detached) {
        t->next = reap;
        reap = t;
    }
    schedule();
    isola_panic("a finished thread was scheduled again");
}

/* A new thread's first run, from isola_thread_trampoline (entry.S). */
void isola_thread_entry(thread *t) {
    reap_finished(); /* a new thread's first run did not return through schedule */
    __asm__ volatile("sti");
    thread_exit(t->start(t->arg));
}

int sched_yield(void) {
    if (!isola_java_heap_base)
        return 0; /* the boot: no other thread */
    uint64_t f = isola_irq_save();
    if (ready_count()) {
        isola_make_ready(isola_current);
        schedule();
    }
    isola_irq_restore(f);
    return 0;
}

/* ---- interrupt lines for the Java kernel's interrupt thread ---- */

static uint32_t irq_pending;
static queue irq_waiters;

void isola_irq_raise(uint32_t line) {
    irq_pending |= 1u << line;
    thread *t = isola_dequeue(&irq_waiters);
    if (t)
        isola_make_ready(t);
}

/* Blocks until an interrupt line was raised; returns and clears the pending lines (bit n: line n). */
int isola_irq_wait(void) {
    uint64_t f = isola_irq_save();
    while (!irq_pending) {
        isola_enqueue(&irq_waiters, isola_current);
        isola_block();
    }
    uint32_t lines = irq_pending;
    irq_pending = 0;
    isola_irq_restore(f);
    return (int)lines;
}
