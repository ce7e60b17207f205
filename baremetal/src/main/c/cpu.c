/* The CPU instructions the runtime and the Java kernel (isola.baremetal.Cpu, Nucleus) use. */
#include "cpu.h"

#define RFLAGS_IF (1 << 9)
#define QEMU_DEBUG_EXIT_PORT 0xf4

uint64_t isola_irq_save(void) {
    uint64_t flags;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
    return flags;
}
void isola_irq_restore(uint64_t flags) {
    if (flags & RFLAGS_IF)
        __asm__ volatile("sti" : : : "memory");
}

int isola_inb(int port) { return inb((uint16_t)port); }
void isola_outb(int port, int value) { outb((uint16_t)port, (uint8_t)value); }
long isola_rdtsc(void) { return (long)rdtsc(); }
long isola_read_cr2(void) {
    long v;
    __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}
long isola_read_cr3(void) {
    long v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
void isola_write_cr3(long root) { __asm__ volatile("mov %0, %%cr3" : : "r"(root) : "memory"); }
void isola_invlpg(long va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }

void isola_poweroff(int code) {
    outl(QEMU_DEBUG_EXIT_PORT, (uint32_t)code);
    for (;;)
        __asm__ volatile("cli; hlt");
}

int isola_interrupts_enabled;
void isola_enable_interrupts(void) {
    isola_interrupts_enabled = 1;
    __asm__ volatile("sti" : : : "memory");
}
