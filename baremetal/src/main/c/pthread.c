/*
 * pthreads (layer 8 of the runtime, see README.md) over threads.c: creation, joins, attributes
 * and sleeps. pthread types are the glibc sizes the image was compiled against (attr 56 bytes);
 * the structure below fits inside.
 */
#include "clock.h"
#include "cpu.h"
#include "entry.h"
#include "frames.h"
#include "libc.h"
#include "malloc.h"
#include "threads.h"
#include "vm.h"

typedef unsigned long pthread_t;
/* stackaddr: set by pthread_getattr_np only, for pthread_attr_getstack. */
typedef struct { uint64_t stacksize, guard, stackaddr; int detach; } attr;
_Static_assert(sizeof(attr) <= 56, "pthread_attr_t is 56 bytes");

#define MAX_STACK (1024 * 1024)

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

pthread_t pthread_self(void) { return (pthread_t)isola_current; }
int pthread_setname_np(pthread_t t, const char *name) { (void)t; (void)name; return 0; }

int pthread_create(pthread_t *out, const attr *a, void *(*start)(void *), void *arg) {
    uint64_t size = a && a->stacksize ? a->stacksize : MAX_STACK;
    if (size > MAX_STACK)
        size = MAX_STACK; /* SVM reads the real bounds back through pthread_getattr_np */
    size = pages_up(size);
    thread *t = malloc(sizeof(thread));
    if (!t)
        return EAGAIN;
    memset(t, 0, sizeof *t);
    /* The stack, with an inaccessible guard page below it: an overflow faults instead of corrupting. */
    char *map = mmap(0, size + FRAME, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        free(t);
        return EAGAIN;
    }
    mprotect(map, FRAME, PROT_NONE);
    t->stack_map = (uint64_t)map;
    t->stack_lo = (uint64_t)map + FRAME;
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
    t->id = isola_thread_register(t);
    if (!t->id) {
        isola_irq_restore(f);
        munmap(map, size + FRAME);
        free(t);
        return EAGAIN;
    }
    isola_make_ready(t);
    isola_irq_restore(f);
    *out = (pthread_t)t;
    return 0;
}

int pthread_join(pthread_t id, void **result) {
    thread *t = (thread *)id;
    if (t == isola_current)
        return EDEADLK;
    uint64_t f = isola_irq_save();
    while (t->state != THREAD_DONE) {
        t->joiner = isola_current;
        isola_block();
    }
    isola_irq_restore(f);
    if (result)
        *result = t->result;
    munmap((void *)t->stack_map, t->stack_hi - t->stack_map);
    f = isola_irq_save();
    isola_thread_unregister(t);
    isola_irq_restore(f);
    free(t);
    return 0;
}

int nanosleep(const struct timespec *req, struct timespec *rem) {
    if (req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec >= 1000000000) {
        *__errno_location() = EINVAL;
        return -1;
    }
    uint64_t f = isola_irq_save();
    isola_sleep_until(isola_current, isola_deadline_after(isola_timespec_ns(req)));
    isola_block();
    isola_current->timed_out = 0;
    isola_irq_restore(f);
    if (rem)
        rem->tv_sec = rem->tv_nsec = 0;
    return 0;
}
