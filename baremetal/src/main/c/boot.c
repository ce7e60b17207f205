/*
 * isola_boot, which boot.S calls in long mode (layer 11, the top of the runtime, see README.md):
 * finds the end of what the Multiboot loader placed and the RAM size, brings the units up from
 * the bottom, then runs the Java kernel's main.
 */
#include <stdint.h>

#include "clock.h"
#include "console.h"
#include "frames.h"
#include "interrupts.h"
#include "isola_limits.h"
#include "kernel_image.h"
#include "threads.h"
#include "vm.h"

int main(int argc, char **argv);

static uint32_t boot_magic, boot_info;
int isola_boot_magic(void) { return (int)boot_magic; }
long isola_boot_info(void) { return boot_info; }

static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* The end of everything the loader placed: the kernel, its modules and the information block. */
static uint64_t loaded_end(uint32_t magic, uint32_t info, uint64_t *ram_end) {
    uint64_t end = (uint64_t)isola_kernel_end;
    *ram_end = 0;
    if (magic != ISOLA_MULTIBOOT_MAGIC || info == 0)
        return end; /* Java reports the bad magic with its name */
    const uint32_t *mb = (const uint32_t *)(uintptr_t)info;
    end = max64(end, info + 128);
    if (mb[0] & ISOLA_MULTIBOOT_FLAG_MEMORY)
        *ram_end = 0x100000 + (uint64_t)mb[2] * 1024; /* mem_upper: KiB above 1 MiB */
    if (mb[0] & ISOLA_MULTIBOOT_FLAG_CMDLINE) /* strings: BootInfo reads up to MAX_STRING bytes of each */
        end = max64(end, mb[4] + ISOLA_MULTIBOOT_MAX_STRING);
    if (mb[0] & ISOLA_MULTIBOOT_FLAG_MODULES) {
        const uint32_t *mods = (const uint32_t *)(uintptr_t)mb[6];
        end = max64(end, mb[6] + 16 * mb[5]);
        for (uint32_t i = 0; i < mb[5] && i < ISOLA_MULTIBOOT_MAX_MODULES; i++) {
            end = max64(end, mods[4 * i + 1]);
            end = max64(end, mods[4 * i + 2] + ISOLA_MULTIBOOT_MAX_STRING);
        }
    }
    if (mb[0] & ISOLA_MULTIBOOT_FLAG_MMAP)
        end = max64(end, (uint64_t)mb[12] + mb[11]);
    return end;
}

void isola_boot(uint32_t magic, uint32_t info) {
    boot_magic = magic;
    boot_info = info;
    isola_console_init();
    isola_gdt_init();
    uint64_t ram_end;
    uint64_t first_free = loaded_end(magic, info, &ram_end);
    if (ram_end == 0)
        isola_panic("the boot loader passed no memory size (Multiboot magic 0x%x, information at 0x%x)", magic, info);
    isola_clock_init();
    isola_frames_init(first_free, ram_end);
    isola_vm_init();
    isola_threads_init((uint64_t)isola_boot_stack_bottom, (uint64_t)isola_boot_stack_top);
    static char name[] = "isola-kernel";
    static char *argv[] = {name, 0};
    int status = main(1, argv);
    isola_panic("the Java kernel returned from main (status %d) instead of powering off", status);
}
