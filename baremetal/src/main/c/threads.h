/*
 * threads (layer 7 of the runtime, see README.md): the thread table and the scheduler's
 * mechanism, for the pthreads built on it (pthread.c, sync.c) and the interrupt path.
 */
#ifndef ISOLA_THREADS_H
#define ISOLA_THREADS_H

#include <stdint.h>

enum { THREAD_READY = 1, THREAD_RUNNING, THREAD_BLOCKED, THREAD_DONE };

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

extern thread *isola_current;
/* Set when the Java kernel attached its scheduling policy: before, there is one thread and no timer. */
extern uint64_t isola_java_heap_base;

/* The boot thread runs on the boot stack. */
void isola_threads_init(uint64_t boot_stack_bottom, uint64_t boot_stack_top);
/* Gives t an id in the table: 0 if all ISOLA_MAX_THREADS - 1 are taken. Interrupts off. */
int isola_thread_register(thread *t);
/* Frees t's id. Interrupts off. */
void isola_thread_unregister(thread *t);
void isola_enqueue(queue *q, thread *t);
thread *isola_dequeue(queue *q);
/* Puts t on the run queue. Interrupts off. */
void isola_make_ready(thread *t);
/* Blocks the current thread (already queued where its waker looks) until made ready. Interrupts off. */
void isola_block(void);
/* The policy wakes t at deadline (isola_nanotime's), setting t->timed_out. Interrupts off. */
void isola_sleep_until(thread *t, uint64_t deadline);

/* From the interrupt path: a timer tick (wakes sleepers, ends time slices). Returns 1 if the interrupted thread should yield. */
int isola_timer_tick(void);
/* From the interrupt path: wakes the thread waiting in isola_irq_wait. */
void isola_irq_raise(uint32_t line);
int isola_thread_id(void);
#endif
