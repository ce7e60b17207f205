/*
 * The boot stub: the Multiboot (version 1) header QEMU's -kernel loader looks for, the 32-bit
 * entry it jumps to, and the switch to 64-bit long mode, after which it calls
 * isola_boot(magic, info) in boot.c with the loader's registers.
 *
 * Early page tables identity-map the first 4 GiB with 2 MiB pages, enough for the kernel image,
 * its boot modules and RAM up to 4 GiB; the Java kernel replaces them with its own (CR3) once
 * it runs. SSE is enabled because the image is compiled for x86-64 with SSE2
 * (-H:MicroArchitecture=compatibility); AVX is not, so a default (x86-64-v3) image would be
 * refused by checkCPUFeatures.
 */
#define MB_MAGIC   0x1BADB002
#define MB_FLAGS   0x00000003          /* bit 0: modules page-aligned; bit 1: memory map */
#define STACK_SIZE (256 * 1024)

        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

        .section .bss
        .align 4096
early_pml4:     .skip 4096
early_pdpt:     .skip 4096
early_pd:       .skip 4 * 4096
        .globl isola_boot_stack_bottom, isola_boot_stack_top
isola_boot_stack_bottom:
        .skip STACK_SIZE
isola_boot_stack_top:
boot_magic:     .skip 4
boot_info:      .skip 4

        .section .rodata
too_little_memory:
        .asciz "\r\nisola: PANIC: too little memory: the kernel image does not fit in RAM (boot with more, e.g. -m 128M)\r\n"
        .align 16
gdt64:
        .quad 0                         /* null */
        .quad 0x00AF9A000000FFFF        /* 0x08: 64-bit code, DPL 0 */
        .quad 0x00CF92000000FFFF        /* 0x10: data, DPL 0 */
gdt64_end:
        .globl isola_gdt_pointer
isola_gdt_pointer:
        .word gdt64_end - gdt64 - 1
        .quad gdt64

        .section .text.boot, "ax"
        .code32
        .globl _start
_start:
        cli
        cld
        /* Before touching .bss (the stack, the tables): does the image fit in RAM? A loader puts
           an image past the end of RAM without complaint, and the first store there faults. */
        cmpl $0x2BADB002, %eax
        jne 1f                          /* not Multiboot: the Java kernel names the magic */
        testl $1, (%ebx)
        jz 1f                           /* no memory size: the runtime reports it */
        cmpl $isola_kernel_kib, 8(%ebx) /* mem_upper: KiB of RAM above 1 MiB */
        jae 1f
        movl $too_little_memory, %esi
        movw $0x3F8, %dx
0:      lodsb
        testb %al, %al
        jz 9f
        outb %al, %dx
        jmp 0b
9:      movw $0xF4, %dx
        movl $0x11, %eax                /* isa-debug-exit: the failure status */
        outl %eax, %dx
        hlt
1:      movl %eax, boot_magic
        movl %ebx, boot_info
        movl $isola_boot_stack_top, %esp

        /* PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 2 MiB pages. */
        movl $early_pdpt, %eax
        orl $0x3, %eax
        movl %eax, early_pml4
        movl $early_pd, %eax
        orl $0x3, %eax
        movl $early_pdpt, %edi
        movl $4, %ecx
1:      movl %eax, (%edi)
        addl $4096, %eax
        addl $8, %edi
        loop 1b
        movl $early_pd, %edi
        xorl %ebx, %ebx                 /* physical address >> 21 */
2:      movl %ebx, %eax
        shll $21, %eax
        orl $0x83, %eax                 /* P | RW | PS */
        movl %eax, (%edi)
        movl %ebx, %eax
        shrl $11, %eax                  /* bits 32.. of the address */
        movl %eax, 4(%edi)
        addl $8, %edi
        incl %ebx
        cmpl $2048, %ebx
        jne 2b

        movl %cr4, %eax
        orl $(1 << 5), %eax             /* PAE */
        orl $(1 << 9) | (1 << 10), %eax /* OSFXSR, OSXMMEXCPT: SSE */
        movl %eax, %cr4
        movl $early_pml4, %eax
        movl %eax, %cr3
        movl $0xC0000080, %ecx          /* EFER */
        rdmsr
        orl $(1 << 8) | (1 << 11), %eax /* LME, NXE */
        wrmsr
        movl %cr0, %eax
        andl $~(1 << 2), %eax           /* EM off: x87/SSE in hardware */
        orl $(1 << 1), %eax             /* MP */
        orl $(1 << 31) | (1 << 16) | 1, %eax /* PG, WP, PE */
        movl %eax, %cr0
        lgdt isola_gdt_pointer
        ljmp $0x08, $long_mode

        .code64
long_mode:
        movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        xorw %ax, %ax
        movw %ax, %fs
        movw %ax, %gs
        movabsq $isola_boot_stack_top, %rsp
        xorq %rbp, %rbp
        fninit
        movl boot_magic, %edi
        movl boot_info, %esi
        call isola_boot
3:      cli
        hlt
        jmp 3b
