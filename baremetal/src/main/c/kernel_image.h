/* kernel_image (layer 1 of the runtime, see README.md): addresses kernel.ld and boot.S define. */
#ifndef ISOLA_KERNEL_IMAGE_H
#define ISOLA_KERNEL_IMAGE_H

extern char isola_kernel_start[], isola_text_end[], isola_kernel_end[]; /* kernel.ld */
extern char isola_boot_stack_bottom[], isola_boot_stack_top[];          /* boot.S */
#endif
