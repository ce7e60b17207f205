/* The bare-metal runtime's internal interface (runtime.c, threads.c, interrupts.S). */
#ifndef ISOLA_RUNTIME_H
#define ISOLA_RUNTIME_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* isa-debug-exit codes: QEMU exits with (code << 1) | 1 = 33 for a pass, 35 for a failure. */
#define ISOLA_EXIT_PASS 0x10
#define ISOLA_EXIT_FAIL 0x11

/* errno values (Linux x86-64), as the image expects them. */
#define EPERM 1
#define EAGAIN 11
#define ENOMEM 12
#define EBUSY 16
#define ENODEV 19
#define EINVAL 22
#define EDEADLK 35
#define ETIMEDOUT 110

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) {
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

void isola_print(const char *fmt, ...);
void isola_panic(const char *fmt, ...) __attribute__((noreturn));
uint64_t isola_irq_save(void);
void isola_irq_restore(uint64_t flags);
uint64_t isola_nanotime(void);
uint64_t isola_phys_pages(void);
long isola_read_cr2(void);
void isola_invlpg(long va);
void isola_poweroff(int code);

void *malloc(size_t n);
void free(void *p);
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off);
int munmap(void *addr, size_t len);
int mprotect(void *addr, size_t len, int prot);

/* threads.c */
void isola_threads_init(uint64_t boot_stack_bottom, uint64_t boot_stack_top);
int *isola_thread_errno(void);
int isola_thread_id(void);
/* Called by the interrupt path: a timer tick (wakes sleepers, ends time slices). Returns 1 if the interrupted thread should yield. */
int isola_timer_tick(void);
void isola_preempt(void);
/* Set once the Java kernel enabled interrupts (its IDT, PIC and PIT are set up): the idle loop halts. */
extern int isola_interrupts_enabled;
/* Wakes the thread waiting in isola_irq_wait for lines in mask (from interrupt context). */
void isola_irq_raise(uint32_t line);

/* runtime.c: page faults in demand ranges are resolved with a fresh frame. Returns 1 if resolved. */
int isola_demand_fault(uint64_t va, uint64_t error);

/* entry.S */
void isola_switch(uint64_t *save_rsp, uint64_t new_rsp);
void isola_thread_trampoline(void);
extern uint64_t isola_isr_stubs[];
#endif
