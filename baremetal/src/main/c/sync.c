/*
 * Mutexes and condition variables (layer 8 of the runtime, see README.md) over threads.c's wait
 * queues. Mutexes hand ownership to the first waiter on unlock (FIFO, no barging), so a thread
 * that waits is served in turn under contention.
 *
 * pthread types are the glibc sizes the image was compiled against (mutex 40 bytes, cond 48);
 * the structures below fit inside them, and an all-zero one (the static initializer) is an
 * unlocked mutex or an empty condition variable.
 */
#include "clock.h"
#include "console.h"
#include "cpu.h"
#include "libc.h"
#include "threads.h"

typedef struct { int locked; int pad; thread *owner; queue waiters; } mutex;
typedef struct { queue waiters; int clock; } cond;
_Static_assert(sizeof(mutex) <= 40, "pthread_mutex_t is 40 bytes");
_Static_assert(sizeof(cond) <= 48, "pthread_cond_t is 48 bytes");

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
        m->owner = isola_current;
    } else {
        if (m->owner == isola_current)
            isola_panic("thread %d locks a mutex it already holds", isola_current->id);
        isola_enqueue(&m->waiters, isola_current);
        isola_block(); /* the unlocker made us the owner */
    }
    isola_irq_restore(f);
    return 0;
}

int pthread_mutex_trylock(mutex *m) {
    uint64_t f = isola_irq_save();
    int r = EBUSY;
    if (!m->locked) {
        m->locked = 1;
        m->owner = isola_current;
        r = 0;
    }
    isola_irq_restore(f);
    return r;
}

static void unlock(mutex *m) {
    thread *w = isola_dequeue(&m->waiters);
    if (w) {
        m->owner = w; /* handed over: it stays locked */
        isola_make_ready(w);
    } else {
        m->locked = 0;
        m->owner = 0;
    }
}

int pthread_mutex_unlock(mutex *m) {
    uint64_t f = isola_irq_save();
    if (!m->locked || m->owner != isola_current) {
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
    c->clock = a ? *a : CLOCK_REALTIME;
    return 0;
}
int pthread_cond_destroy(cond *c) { return c->waiters.head ? EBUSY : 0; }

static int wait(cond *c, mutex *m, uint64_t deadline) {
    uint64_t f = isola_irq_save();
    thread *self = isola_current;
    if (!m->locked || m->owner != self) {
        isola_irq_restore(f);
        return EPERM;
    }
    self->timed_out = 0; /* a nanosleep's earlier timeout must not make this wait look timed out */
    isola_enqueue(&c->waiters, self);
    if (deadline) {
        self->waiting = &c->waiters; /* for the timeout to take it off */
        isola_sleep_until(self, deadline);
    }
    unlock(m);
    isola_block();
    self->waiting = 0;
    int timed_out = self->timed_out; /* the timeout took it off c's queue */
    self->timed_out = 0;
    /* relock */
    if (!m->locked) {
        m->locked = 1;
        m->owner = self;
    } else {
        isola_enqueue(&m->waiters, self);
        isola_block();
    }
    isola_irq_restore(f);
    return timed_out ? ETIMEDOUT : 0;
}

int pthread_cond_wait(cond *c, mutex *m) { return wait(c, m, 0); }

int pthread_cond_timedwait(cond *c, mutex *m, const struct timespec *abstime) {
    if (abstime->tv_sec < 0 || abstime->tv_nsec < 0 || abstime->tv_nsec >= 1000000000)
        return EINVAL;
    uint64_t ns = isola_timespec_ns(abstime);
    if (c->clock == CLOCK_REALTIME) { /* the deadline is wall-clock time */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        uint64_t wall = isola_timespec_ns(&now);
        ns = ns <= wall ? isola_nanotime() : isola_deadline_after(ns - wall);
    }
    if (ns == 0)
        ns = 1;
    return wait(c, m, ns);
}

int pthread_cond_signal(cond *c) {
    uint64_t f = isola_irq_save();
    thread *t = isola_dequeue(&c->waiters);
    if (t)
        isola_make_ready(t);
    isola_irq_restore(f);
    return 0;
}

int pthread_cond_broadcast(cond *c) {
    uint64_t f = isola_irq_save();
    thread *t;
    while ((t = isola_dequeue(&c->waiters)))
        isola_make_ready(t);
    isola_irq_restore(f);
    return 0;
}
