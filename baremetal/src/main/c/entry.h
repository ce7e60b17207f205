/*
 * entry.S's symbols, for threads.c (the switch, a new thread's first frame, the call into the
 * Java policy) and interrupts.c (the stubs and the interrupt path's counters). entry.S calls up
 * into both: isola_thread_entry and isola_preempt (threads.c), isola_interrupt (interrupts.c).
 */
#ifndef ISOLA_ENTRY_H
#define ISOLA_ENTRY_H

#include <stdint.h>

/* Saves the callee-saved state on this stack and *save_rsp, then resumes the one at new_rsp. */
void isola_switch(uint64_t *save_rsp, uint64_t new_rsp);
/* The return address of a new thread's first frame: calls isola_thread_entry(r12). */
void isola_thread_trampoline(void);
/* Calls the scheduling policy's fn(a, b) with the image heap's base (isola_java_heap_base) in r14. */
long isola_call_java(void *fn, long a, long b);

/* The interrupt stubs, one per vector (ISOLA_VECTORS), which the Java kernel's IDT points at. */
extern uint64_t isola_isr_stubs[];
/* 1 inside the outermost interrupt, more when nested. */
extern uint64_t isola_irq_nesting;
/* TSC cycles from a timer interrupt's entry to its exit (before any thread switch), summed and counted. */
extern uint64_t isola_timer_cycles, isola_timer_entries;
#endif
