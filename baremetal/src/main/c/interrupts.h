/* interrupts (layer 9 of the runtime, see README.md): the GDT and TSS, exceptions, and IRQ acknowledgement. */
#ifndef ISOLA_INTERRUPTS_H
#define ISOLA_INTERRUPTS_H

/* Loads the runtime's GDT (64-bit code and data, a TSS whose IST1 is the fault stack) and the task register. */
void isola_gdt_init(void);
#endif
