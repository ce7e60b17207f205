/* console (layer 2 of the runtime, see README.md): COM1, for panics and the boot before Java. */
#ifndef ISOLA_CONSOLE_H
#define ISOLA_CONSOLE_H

#include <stddef.h>

/* Programs the UART once, for the runtime and the Java kernel's console (isola.baremetal.Uart) alike. */
void isola_console_init(void);
void isola_console_write(const char *s, size_t n);
/* printf for %s %c %d %ld %u %lu %x %lx %p only. */
void isola_print(const char *fmt, ...);
/* Prints the message and exits QEMU with ISOLA_EXIT_FAIL. */
void isola_panic(const char *fmt, ...) __attribute__((noreturn));
/* What the generated stubs of BareMetalBuild call: a function the image imports and the runtime lacks. */
void isola_unimplemented(const char *name) __attribute__((noreturn));
#endif
