/*
 * The C side of interrupts and exceptions: the GDT with a TSS (whose IST gives #DF, NMI and #MC
 * a stack of their own), the handler every stub in entry.S calls, and page faults.
 *
 * The Java kernel owns the policy: it builds the IDT (isola.baremetal.Idt) from these stubs,
 * remaps the PIC and programs the PIT, and takes interrupt lines through its interrupt thread
 * (isola_irq_wait). Here an IRQ is only acknowledged at the PIC and recorded; the timer's also
 * drives the scheduler. A page fault in a demand range the kernel registered is resolved with a
 * fresh zeroed frame and the access retried; any other exception in kernel code is a panic that
 * names the vector, the error code, CR2 and the registers.
 */
#include "console.h"
#include "cpu.h"
#include "entry.h"
#include "interrupts.h"
#include "isola_limits.h"
#include "threads.h"
#include "vm.h"

#define EXCEPTIONS 32   /* the vectors below the PIC's are the CPU's */
#define VECTOR_PF 14
#define PIC_EOI 0x20
#define PIC_READ_ISR 0x0B /* OCW3 */
_Static_assert(ISOLA_IRQ_VECTOR_BASE >= EXCEPTIONS && ISOLA_IRQ_VECTOR_BASE + ISOLA_IRQ_LINES <= ISOLA_VECTORS,
               "the PIC's vectors (Pic.FIRST_VECTOR, Pic.LINES) lie above the exceptions and inside the stubs (Idt.VECTORS)");

typedef struct {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
} frame;

/* ---- GDT and TSS ---- */

static struct __attribute__((packed)) {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3, iomap;
} tss;
static uint64_t gdt[5] __attribute__((aligned(16)));
static uint8_t fault_stack[16384] __attribute__((aligned(16)));

void isola_gdt_init(void) {
    gdt[0] = 0;
    gdt[1] = 0x00AF9A000000FFFFull; /* 0x08: 64-bit code */
    gdt[2] = 0x00CF92000000FFFFull; /* 0x10: data */
    uint64_t base = (uint64_t)&tss, limit = sizeof tss - 1;
    gdt[3] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40) | (((limit >> 16) & 0xF) << 48)
             | (((base >> 24) & 0xFF) << 56); /* 0x18: available 64-bit TSS */
    gdt[4] = base >> 32;
    tss.ist[0] = (uint64_t)(fault_stack + sizeof fault_stack); /* IST1 */
    tss.iomap = sizeof tss;
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } gdtr = {sizeof gdt - 1, (uint64_t)gdt};
    __asm__ volatile("lgdt %0\n\t"
                     "pushq $0x08\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1: movw $0x10, %%ax\n\t"
                     "movw %%ax, %%ds\n\t"
                     "movw %%ax, %%es\n\t"
                     "movw %%ax, %%ss\n\t"
                     "movw $0x18, %%ax\n\t"
                     "ltr %%ax"
                     : : "m"(gdtr) : "rax", "memory");
}

/* ---- what the Java kernel's IDT is built from ---- */

long isola_isr_stub(int vector) { return vector >= 0 && vector < ISOLA_VECTORS ? (long)isola_isr_stubs[vector] : 0; }

void isola_lidt(long base, int limit) {
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } idtr = {(uint16_t)limit, (uint64_t)base};
    __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

/* ---- counters the kernel's self-tests and benchmarks read ---- */

static uint64_t irq_count[ISOLA_IRQ_LINES], fault_count, last_fault_cr2, last_fault_error;
long isola_irq_count(int line) { return line >= 0 && line < ISOLA_IRQ_LINES ? (long)irq_count[line] : -1; }
long isola_fault_count(void) { return (long)fault_count; }
long isola_last_fault_address(void) { return (long)last_fault_cr2; }
long isola_last_fault_error(void) { return (long)last_fault_error; }
long isola_timer_cycles_total(void) { return (long)isola_timer_cycles; }
long isola_timer_cycles_count(void) { return (long)isola_timer_entries; }

static const char *const names[EXCEPTIONS] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range exceeded",
    "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor segment overrun",
    "#TS invalid TSS", "#NP segment not present", "#SS stack-segment fault", "#GP general protection",
    "#PF page fault", "reserved", "#MF x87 floating-point error", "#AC alignment check", "#MC machine check",
    "#XM SIMD floating-point", "#VE virtualization", "#CP control protection", "reserved", "reserved",
    "reserved", "reserved", "reserved", "reserved", "#HV hypervisor injection", "#VC VMM communication",
    "#SX security", "reserved",
};

static void __attribute__((noreturn)) exception_panic(frame *f, uint64_t cr2) {
    isola_print("\nisola: PANIC: CPU exception %lu (%s) in kernel code at rip 0x%lx, error code 0x%lx",
                f->vector, names[f->vector], f->rip, f->error);
    if (f->vector == VECTOR_PF)
        isola_print(", address (CR2) 0x%lx: %s %s of a %s page", cr2, (f->error & PF_USER) ? "user" : "kernel",
                    (f->error & PF_FETCH) ? "instruction fetch" : (f->error & PF_WRITE) ? "write" : "read",
                    (f->error & PF_PRESENT) ? "protected" : "not-present");
    isola_print("\n  rax %lx rbx %lx rcx %lx rdx %lx\n  rsi %lx rdi %lx rbp %lx rsp %lx\n"
                "  r8 %lx r9 %lx r10 %lx r11 %lx\n  r12 %lx r13 %lx r14 %lx r15 %lx\n  rflags %lx cs %lx ss %lx\n",
                f->rax, f->rbx, f->rcx, f->rdx, f->rsi, f->rdi, f->rbp, f->rsp, f->r8, f->r9, f->r10, f->r11,
                f->r12, f->r13, f->r14, f->r15, f->rflags, f->cs, f->ss);
    isola_print("  (addr2line -e baremetal/target/image/isola-kernel.elf64 0x%lx names the code)\n", f->rip);
    isola_panic("unexpected exception");
}

/* From every stub in entry.S. Returns 1 if the interrupted thread's time slice is over (only for the outermost interrupt). */
int isola_interrupt(frame *f) {
    if (f->vector < EXCEPTIONS) {
        uint64_t cr2 = f->vector == VECTOR_PF ? (uint64_t)isola_read_cr2() : 0;
        if (f->vector == VECTOR_PF && isola_demand_fault(cr2, f->error)) {
            fault_count++;
            last_fault_cr2 = cr2;
            last_fault_error = f->error;
            return 0;
        }
        exception_panic(f, cr2);
    }
    uint32_t line = (uint32_t)f->vector - ISOLA_IRQ_VECTOR_BASE;
    if (line == 7 || line == 15) {
        /* A spurious interrupt (a line that dropped before the CPU took it) is not in service: no EOI for it. */
        uint16_t pic = line == 7 ? ISOLA_PIC_MASTER : ISOLA_PIC_SLAVE;
        outb(pic, PIC_READ_ISR);
        if (!(inb(pic) & 0x80)) {
            if (line == 15)
                outb(ISOLA_PIC_MASTER, PIC_EOI); /* the master did take the cascade line */
            return 0;
        }
    }
    if (line >= 8)
        outb(ISOLA_PIC_SLAVE, PIC_EOI); /* EOI to the slave PIC, then the master */
    outb(ISOLA_PIC_MASTER, PIC_EOI);
    irq_count[line]++;
    int preempt = line == 0 ? isola_timer_tick() : 0;
    isola_irq_raise(line);
    return preempt && isola_irq_nesting == 1;
}
