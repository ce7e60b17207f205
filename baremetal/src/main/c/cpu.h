/* cpu (layer 1 of the runtime, see README.md): port I/O, the interrupt flag, the TSC and CR2, power-off. */
#ifndef ISOLA_CPU_H
#define ISOLA_CPU_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) {
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* Page-fault error code bits. */
#define PF_PRESENT 1 /* a protection violation, not a missing page */
#define PF_WRITE 2
#define PF_USER 4
#define PF_FETCH 16

/* Disables interrupts, returning the flags that say whether they were on; the runtime's lock (one CPU). */
uint64_t isola_irq_save(void);
void isola_irq_restore(uint64_t flags);
long isola_read_cr2(void);
long isola_read_cr3(void);
void isola_invlpg(long va);
/* Exits QEMU through isa-debug-exit with (code << 1) | 1: ISOLA_EXIT_PASS or ISOLA_EXIT_FAIL (isola_limits.h). */
void isola_poweroff(int code) __attribute__((noreturn));
/* Set once the Java kernel enabled interrupts (its IDT, PIC and PIT are set up): the idle loop halts. */
extern int isola_interrupts_enabled;
#endif
