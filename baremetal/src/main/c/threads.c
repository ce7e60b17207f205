/*
 * Threads for the Java kernel on one CPU: pthread_create, mutexes, condition variables, sleeps
 * and joins, scheduled round robin with preemptive time slices. The policy is the Java
 * kernel's (SchedulerPolicy: the run queue, the sleepers, the slice); this is the mechanism:
 * contexts, the switch, and the wait queues of mutexes and condition variables. The PIT's tick
 * (IRQ 0, programmed by the Java kernel) wakes sleepers and ends slices; the interrupt path
 * then switches threads on the interrupted thread's own stack (entry.S), so a preempted
 * thread resumes exactly where it was, Java or not.
 *
 * Mutexes hand ownership to the first waiter on unlock (FIFO, no barging), so a thread that
 * waits is served in turn under contention. Everything runs with interrupts disabled while it
 * changes scheduler state: one CPU, so that is the lock.
 *
 * pthread types are the glibc sizes the image was compiled against (mutex 40 bytes, cond 48,
 * attr 56); the structures below fit inside them, and an all-zero one (the static initializer)
 * is an unlocked mutex or an empty condition variable.
 */
#include "runtime.h"

enum { READY = 1, RUNNING, BLOCKED, DONE };

typedef struct queue { struct thread *head, *tail; } queue;

typedef struct thread {
    uint64_t rsp;               /* saved by isola_switch */
    struct thread *next;        /* one wait queue (a mutex's or a condition variable's), or the reap list */
    int id, state, err, detached, timed_out; /* id: the policy's name for the thread */
    void *(*start)(void *);
    void *arg, *result;
    uint64_t stack_lo, stack_hi, stack_map; /* stack_map: the mmap'd range (0: the boot stack) */
    struct thread *joiner;
    queue *waiting;             /* the condition variable's queue a timed wait is on */
} thread;

typedef struct { int locked; int pad; thread *owner; queue waiters; } mutex;          /* <= 40 bytes */
typedef struct { queue waiters; int clock; } cond;                                     /* <= 48 */
/* stackaddr: set by pthread_getattr_np only, for pthread_attr_getstack. */
typedef struct { uint64_t stacksize, guard, stackaddr; int detach; } attr;             /* <= 56 */
_Static_assert(sizeof(mutex) <= 40, "pthread_mutex_t is 40 bytes");
_Static_assert(sizeof(cond) <= 48, "pthread_cond_t is 48 bytes");
_Static_assert(sizeof(attr) <= 56, "pthread_attr_t is 56 bytes");

static thread boot_thread;
static thread *current = &boot_thread;
static thread *reap;             /* finished detached threads (linked through next) whose stacks another must free */
static int in_scheduler;
#define MAX_STACK (1024 * 1024)

/*
 * The scheduling policy is the Java kernel's (isola.baremetal.SchedulerPolicy): the run queue,
 * the sleepers' deadlines and the time slice. Its entries are uninterruptible Java with no
 * prologue, called through isola_call_java (entry.S) with the image heap's base in r14. That
 * base is read from r14 when the kernel first calls isola_policy_attach; before that (the boot,
 * one thread, no timer) nothing is queued, and a thread that would block is a panic.
 */
uint64_t isola_java_heap_base;
long isola_call_java(void *fn, long a, long b);
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

#define MAX_THREADS 512 /* SchedulerPolicy.MAX_THREADS */
static thread *by_id[MAX_THREADS];

void isola_policy_attach(void) {
    uint64_t r14;
    __asm__ volatile("mov %%r14, %0" : "=r"(r14));
    isola_java_heap_base = r14;
}

static long policy(void *fn, long a, long b) {
    if (!isola_java_heap_base)
        isola_panic("the scheduler was needed before the Java kernel attached its policy (thread %d)", current->id);
    return isola_call_java(fn, a, b);
}

static int ready_count(void) { return (int)policy((void *)isola_policy_ready, 0, 0); }

/* A free id for t (0 if all MAX_THREADS - 1 are taken). */
static int alloc_id(thread *t) {
    for (int i = 1; i < MAX_THREADS; i++) {
        if (!by_id[i]) {
            by_id[i] = t;
            return i;
        }
    }
    return 0;
}

static void enqueue(queue *q, thread *t) {
    t->next = 0;
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
}

static thread *dequeue(queue *q) {
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

static void sleep_until(thread *t, uint64_t deadline) {
    t->timed_out = 0;
    policy((void *)isola_policy_sleep, t->id, (long)deadline);
}

static void unsleep(thread *t) {
    policy((void *)isola_policy_unsleep, t->id, 0);
}

static void make_ready(thread *t) {
    unsleep(t);
    t->state = READY;
    policy((void *)isola_policy_enqueue, t->id, 0);
}

/* Sleepers whose deadline passed become ready, taken off the wait queue a timed wait left them on. */
static queue *timed_queue_of(thread *t);
static void wake_sleepers(uint64_t now) {
    int id;
    while ((id = (int)policy((void *)isola_policy_expired, (long)now, 0)) != 0) {
        thread *t = by_id[id];
        t->timed_out = 1;
        queue *q = timed_queue_of(t);
        if (q)
            remove_from(q, t);
        t->state = READY;
        policy((void *)isola_policy_enqueue, id, 0);
    }
}

static void reap_finished(void);

/*
 * Runs the next ready thread; the caller has interrupts off and has put current wherever it
 * belongs (run queue, wait queue, or nowhere if done). With nothing ready it idles: halts until
 * an interrupt, or, before the kernel enables interrupts, polls the clock for sleepers.
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
            isola_panic("every thread is blocked and interrupts are off: deadlock (thread %d waits)", current->id);
    }
    next = by_id[id];
    in_scheduler = 0;
    policy((void *)isola_policy_switched, 0, 0);
    thread *prev = current;
    next->state = RUNNING;
    if (next == prev)
        return;
    current = next;
    context_switches++;
    isola_switch(&prev->rsp, next->rsp);
    reap_finished();
}

/* Frees finished detached threads' stacks: called on another thread's stack, so none runs on them. */
static void reap_finished(void) {
    while (reap && reap != current) {
        thread *r = reap;
        reap = r->next;
        munmap((void *)r->stack_map, r->stack_hi - r->stack_map);
        by_id[r->id] = 0;
        free(r);
    }
}

/* Blocks the current thread (already queued where its waker looks) until made ready. */
static void block(void) {
    current->state = BLOCKED;
    schedule();
}

int isola_timer_tick(void) {
    if (!isola_java_heap_base)
        return 0;
    wake_sleepers(isola_nanotime());
    return (int)policy((void *)isola_policy_tick, !in_scheduler, 0);
}

/* From the interrupt path, on the interrupted thread's stack, interrupts off. */
void isola_preempt(void) {
    if (in_scheduler || !ready_count())
        return;
    preemptions++;
    make_ready(current);
    schedule();
}

void isola_threads_init(uint64_t bottom, uint64_t top) {
    boot_thread.id = alloc_id(&boot_thread);
    boot_thread.state = RUNNING;
    boot_thread.stack_lo = bottom;
    boot_thread.stack_hi = top;
}

int *isola_thread_errno(void) { return &current->err; }
int isola_thread_id(void) { return current->id; }

/* ---- interrupt lines for the Java kernel's interrupt thread ---- */

static uint32_t irq_pending;
static queue irq_waiters;

void isola_irq_raise(uint32_t line) {
    irq_pending |= 1u << line;
    thread *t = dequeue(&irq_waiters);
    if (t)
        make_ready(t);
}

/* Blocks until an interrupt line was raised; returns and clears the pending lines (bit n: line n). */
int isola_irq_wait(void) {
    uint64_t f = isola_irq_save();
    while (!irq_pending) {
        enqueue(&irq_waiters, current);
        block();
    }
    uint32_t lines = irq_pending;
    irq_pending = 0;
    isola_irq_restore(f);
    return (int)lines;
}

/* ---- pthreads ---- */

typedef unsigned long pthread_t;
struct timespec { long tv_sec, tv_nsec; };

static void thread_exit(void *result) __attribute__((noreturn));

void isola_thread_entry(thread *t) {
    reap_finished(); /* a new thread's first run did not return through schedule */
    __asm__ volatile("sti");
    thread_exit(t->start(t->arg));
}

int pthread_attr_init(attr *a) {
    memset(a, 0, sizeof *a);
    return 0;
}
int pthread_attr_destroy(attr *a) { (void)a; return 0; }
int pthread_attr_setstacksize(attr *a, uint64_t size) { a->stacksize = size; return 0; }
int pthread_attr_setdetachstate(attr *a, int detach) { a->detach = detach; return 0; }
int pthread_attr_getguardsize(const attr *a, uint64_t *guard) { *guard = a->guard; return 0; }
int pthread_attr_getstack(const attr *a, void **addr, uint64_t *size) {
    *addr = (void *)a->stackaddr;
    *size = a->stacksize;
    return 0;
}

int pthread_getattr_np(pthread_t id, attr *a) {
    thread *t = (thread *)id;
    memset(a, 0, sizeof *a);
    a->stacksize = t->stack_hi - t->stack_lo;
    a->stackaddr = t->stack_lo; /* guard 0: the guard page lies below stack_lo, outside the stack */
    return 0;
}

pthread_t pthread_self(void) { return (pthread_t)current; }
int pthread_setname_np(pthread_t t, const char *name) { (void)t; (void)name; return 0; }

int pthread_create(pthread_t *out, const attr *a, void *(*start)(void *), void *arg) {
    uint64_t size = a && a->stacksize ? a->stacksize : MAX_STACK;
    if (size > MAX_STACK)
        size = MAX_STACK; /* SVM reads the real bounds back through pthread_getattr_np */
    size = (size + 4095) & ~4095ull;
    thread *t = malloc(sizeof(thread));
    if (!t)
        return EAGAIN;
    memset(t, 0, sizeof *t);
    /* The stack, with an inaccessible guard page below it: an overflow faults instead of corrupting. */
    char *map = mmap(0, size + 4096, 3, 0x20, -1, 0);
    if (map == (void *)-1) {
        free(t);
        return EAGAIN;
    }
    mprotect(map, 4096, 0);
    t->stack_map = (uint64_t)map;
    t->stack_lo = (uint64_t)map + 4096;
    t->stack_hi = t->stack_lo + size;
    t->start = start;
    t->arg = arg;
    t->detached = a && a->detach;
    /*
     * The initial frame isola_switch pops: mxcsr/fcw, r15..rbp (r12 = t), then the trampoline,
     * whose ret leaves rsp = stack_hi (16-aligned), so its call sees rsp % 16 == 0, as the ABI wants.
     */
    uint64_t *sp = (uint64_t *)t->stack_hi;
    *--sp = (uint64_t)isola_thread_trampoline;
    *--sp = 0;                                  /* rbp */
    *--sp = 0;                                  /* rbx */
    *--sp = (uint64_t)t;                        /* r12 */
    *--sp = 0;                                  /* r13 */
    *--sp = 0;                                  /* r14 */
    *--sp = 0;                                  /* r15 */
    *--sp = 0x037F00001F80ull;                  /* mxcsr 0x1F80, x87 control word 0x037F */
    t->rsp = (uint64_t)sp;
    uint64_t f = isola_irq_save();
    t->id = alloc_id(t);
    if (!t->id) {
        isola_irq_restore(f);
        munmap(map, size + 4096);
        free(t);
        return EAGAIN;
    }
    make_ready(t);
    isola_irq_restore(f);
    *out = (pthread_t)t;
    return 0;
}

static void thread_exit(void *result) {
    isola_irq_save();
    thread *t = current;
    t->result = result;
    t->state = DONE;
    if (t->joiner)
        make_ready(t->joiner);
    if (t->detached) {
        t->next = reap;
        reap = t;
    }
    schedule();
    isola_panic("a finished thread was scheduled again");
}

int pthread_join(pthread_t id, void **result) {
    thread *t = (thread *)id;
    if (t == current)
        return EDEADLK;
    uint64_t f = isola_irq_save();
    while (t->state != DONE) {
        t->joiner = current;
        block();
    }
    isola_irq_restore(f);
    if (result)
        *result = t->result;
    munmap((void *)t->stack_map, t->stack_hi - t->stack_map);
    f = isola_irq_save();
    by_id[t->id] = 0;
    isola_irq_restore(f);
    free(t);
    return 0;
}

int sched_yield(void) {
    if (!isola_java_heap_base)
        return 0; /* the boot: no other thread */
    uint64_t f = isola_irq_save();
    if (ready_count()) {
        make_ready(current);
        schedule();
    }
    isola_irq_restore(f);
    return 0;
}

/* Nanoseconds in a valid timespec, saturating (a deadline centuries away stays far away). */
static uint64_t timespec_ns(const struct timespec *ts) {
    if ((uint64_t)ts->tv_sec > (uint64_t)INT64_MAX / 1000000000ull - 1)
        return (uint64_t)INT64_MAX;
    return (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
}

/* Now plus ns on the runtime's clock, saturating below 2^63 (the policy's deadlines are signed). */
static uint64_t deadline_after(uint64_t ns) {
    uint64_t now = isola_nanotime();
    return ns > (uint64_t)INT64_MAX - now ? (uint64_t)INT64_MAX : now + ns;
}

int nanosleep(const struct timespec *req, struct timespec *rem) {
    if (req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec >= 1000000000) {
        *isola_thread_errno() = EINVAL;
        return -1;
    }
    uint64_t f = isola_irq_save();
    sleep_until(current, deadline_after(timespec_ns(req)));
    block();
    current->timed_out = 0;
    isola_irq_restore(f);
    if (rem)
        rem->tv_sec = rem->tv_nsec = 0;
    return 0;
}

/* ---- mutexes ---- */

int pthread_mutex_init(mutex *m, const void *a) {
    (void)a;
    memset(m, 0, sizeof *m);
    return 0;
}
int pthread_mutex_destroy(mutex *m) { return m->locked ? EBUSY : 0; }

int pthread_mutex_lock(mutex *m) {
    uint64_t f = isola_irq_save();
    if (!m->locked) {
        m->locked = 1;
        m->owner = current;
    } else {
        if (m->owner == current)
            isola_panic("thread %d locks a mutex it already holds", current->id);
        enqueue(&m->waiters, current);
        block(); /* the unlocker made us the owner */
    }
    isola_irq_restore(f);
    return 0;
}

int pthread_mutex_trylock(mutex *m) {
    uint64_t f = isola_irq_save();
    int r = EBUSY;
    if (!m->locked) {
        m->locked = 1;
        m->owner = current;
        r = 0;
    }
    isola_irq_restore(f);
    return r;
}

static void unlock(mutex *m) {
    thread *w = dequeue(&m->waiters);
    if (w) {
        m->owner = w; /* handed over: it stays locked */
        make_ready(w);
    } else {
        m->locked = 0;
        m->owner = 0;
    }
}

int pthread_mutex_unlock(mutex *m) {
    uint64_t f = isola_irq_save();
    if (!m->locked || m->owner != current) {
        isola_irq_restore(f);
        return EPERM;
    }
    unlock(m);
    isola_irq_restore(f);
    return 0;
}

/* ---- condition variables ---- */

int pthread_condattr_init(int *a) { *a = 0; return 0; }
int pthread_condattr_destroy(int *a) { (void)a; return 0; }
int pthread_condattr_setclock(int *a, int clock) { *a = clock; return 0; }
int pthread_cond_init(cond *c, const int *a) {
    memset(c, 0, sizeof *c);
    c->clock = a ? *a : 0;
    return 0;
}
int pthread_cond_destroy(cond *c) { return c->waiters.head ? EBUSY : 0; }

/* The wait queue a timed waiter is on, so a timeout can take it off. */
static queue *timed_queue_of(thread *t) {
    queue *q = t->waiting;
    t->waiting = 0;
    return q;
}

static int wait(cond *c, mutex *m, uint64_t deadline) {
    uint64_t f = isola_irq_save();
    if (!m->locked || m->owner != current) {
        isola_irq_restore(f);
        return EPERM;
    }
    current->timed_out = 0; /* a nanosleep's earlier timeout must not make this wait look timed out */
    enqueue(&c->waiters, current);
    if (deadline) {
        current->waiting = &c->waiters;
        sleep_until(current, deadline);
    }
    unlock(m);
    block();
    current->waiting = 0;
    int timed_out = current->timed_out; /* wake_sleepers took it off c's queue */
    current->timed_out = 0;
    /* relock */
    if (!m->locked) {
        m->locked = 1;
        m->owner = current;
    } else {
        enqueue(&m->waiters, current);
        block();
    }
    isola_irq_restore(f);
    return timed_out ? ETIMEDOUT : 0;
}

int pthread_cond_wait(cond *c, mutex *m) { return wait(c, m, 0); }

int pthread_cond_timedwait(cond *c, mutex *m, const struct timespec *abstime) {
    if (abstime->tv_sec < 0 || abstime->tv_nsec < 0 || abstime->tv_nsec >= 1000000000)
        return EINVAL;
    uint64_t ns = timespec_ns(abstime);
    if (c->clock == 0) { /* CLOCK_REALTIME: the deadline is wall-clock time */
        struct timespec now;
        extern int clock_gettime(int, struct timespec *);
        clock_gettime(0, &now);
        uint64_t wall = timespec_ns(&now);
        ns = ns <= wall ? isola_nanotime() : deadline_after(ns - wall);
    }
    if (ns == 0)
        ns = 1;
    return wait(c, m, ns);
}

int pthread_cond_signal(cond *c) {
    uint64_t f = isola_irq_save();
    thread *t = dequeue(&c->waiters);
    if (t)
        make_ready(t);
    isola_irq_restore(f);
    return 0;
}

int pthread_cond_broadcast(cond *c) {
    uint64_t f = isola_irq_save();
    thread *t;
    while ((t = dequeue(&c->waiters)))
        make_ready(t);
    isola_irq_restore(f);
    return 0;
}
