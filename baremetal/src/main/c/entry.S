/*
 * Interrupt and exception entry, and the thread switch.
 *
 * Every vector enters on the current stack (no IST, except #DF, NMI and #MC, whose stack may be
 * the problem), saves the general registers and the SSE state there, then runs the C handler
 * on the kernel's interrupt stack (isola_interrupt in interrupts.c). If the handler says the
 * time slice is over, isola_preempt switches threads back on the interrupted thread's stack,
 * where the saved state waits until the thread is scheduled again and returns through iretq.
 * entry.h declares what C uses of it.
 */
#include "isola_limits.h"

        .section .bss
        .align 16
        .skip 64 * 1024
        .globl isola_irq_stack_top
isola_irq_stack_top:
        .globl isola_irq_nesting, isola_timer_cycles, isola_timer_entries
isola_irq_nesting: .skip 8
isola_timer_cycles: .skip 8
isola_timer_entries: .skip 8

        .text
/* void isola_switch(uint64_t *save_rsp, uint64_t new_rsp): callee-saved state, then the stack. */
        .globl isola_switch
isola_switch:
        pushq %rbp
        pushq %rbx
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        subq $8, %rsp
        stmxcsr (%rsp)
        fnstcw 4(%rsp)
        movq %rsp, (%rdi)
        movq %rsi, %rsp
        ldmxcsr (%rsp)
        fldcw 4(%rsp)
        addq $8, %rsp
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %rbx
        popq %rbp
        ret

/* A new thread's first instructions: r12 holds its thread. */
        .globl isola_thread_trampoline
isola_thread_trampoline:
        movq %r12, %rdi
        xorq %rbp, %rbp
        call isola_thread_entry
        ud2

/* Stubs: push a zero error code where the CPU pushes none, then the vector. */
.macro STUB vector, has_error
        .align 16
isr\vector:
        .if \has_error == 0
        pushq $0
        .endif
        pushq $\vector
        jmp isr_common
.endm

        .irp v, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
        STUB \v, 0
        .endr
        .irp v, 8,10,11,12,13,14,17,21,29,30
        STUB \v, 1
        .endr
        .irp v, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
        STUB \v, 0
        .endr

isr_common:
        pushq %r15
        pushq %r14
        pushq %r13
        pushq %r12
        pushq %r11
        pushq %r10
        pushq %r9
        pushq %r8
        pushq %rbp
        pushq %rdi
        pushq %rsi
        pushq %rdx
        pushq %rcx
        pushq %rbx
        pushq %rax
        movq %rsp, %rbx             /* the frame: registers, vector, error code, CPU frame */
        rdtsc
        shlq $32, %rdx
        orq %rdx, %rax
        movq %rax, %r13             /* entry time (r13 is saved in the frame and callee-saved in C) */
        cld
        subq $512, %rsp
        andq $-16, %rsp
        fxsave (%rsp)
        movq %rsp, %r12             /* where the SSE state is, on this stack */
        cmpq $0, isola_irq_nesting(%rip)
        jne 1f
        leaq isola_irq_stack_top(%rip), %rsp
1:      incq isola_irq_nesting(%rip)
        movq %rbx, %rdi
        call isola_interrupt
        movl %eax, %r14d            /* nonzero: the time slice is over */
        decq isola_irq_nesting(%rip)
        movq %r12, %rsp             /* back on the interrupted stack */
        cmpq $ISOLA_IRQ_VECTOR_BASE, 120(%rbx) /* the timer (line 0): count entry to exit in TSC cycles, before any switch */
        jne 3f
        rdtsc
        shlq $32, %rdx
        orq %rdx, %rax
        subq %r13, %rax
        addq %rax, isola_timer_cycles(%rip)
        incq isola_timer_entries(%rip)
3:      testl %r14d, %r14d
        jz 2f
        call isola_preempt          /* returns when this thread is scheduled again */
2:      fxrstor (%rsp)
        movq %rbx, %rsp
        popq %rax
        popq %rbx
        popq %rcx
        popq %rdx
        popq %rsi
        popq %rdi
        popq %rbp
        popq %r8
        popq %r9
        popq %r10
        popq %r11
        popq %r12
        popq %r13
        popq %r14
        popq %r15
        addq $16, %rsp              /* vector and error code */
        iretq

        .section .rodata
        .align 8
        .globl isola_isr_stubs
isola_isr_stubs:
        .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
        .quad isr\v
        .endr
        .if . - isola_isr_stubs != ISOLA_VECTORS * 8
        .error "the stubs do not cover the IDT's vectors (ISOLA_VECTORS: isola.baremetal.Idt.VECTORS)"
        .endif

        .text
/*
 * long isola_call_java(void *fn, long a, long b): calls the scheduler policy's entry fn(a, b)
 * (uninterruptible Java with no prologue) with r14 = the image heap's base, as Java code
 * expects it; the caller may be C that used r14 for itself, or an interrupt of such C.
 */
        .globl isola_call_java
isola_call_java:
        pushq %r14                      /* also aligns the stack for the call */
        movq isola_java_heap_base(%rip), %r14
        movq %rdi, %rax
        movq %rsi, %rdi
        movq %rdx, %rsi
        call *%rax
        popq %r14
        ret
