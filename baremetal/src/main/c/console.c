/* The serial console (COM1), polled: the runtime's own messages. */
#include <stdarg.h>
#include <stdint.h>

#include "console.h"
#include "cpu.h"
#include "isola_limits.h"

static void serial_putc(char c) {
    if (c == '\n')
        serial_putc('\r');
    while ((inb(ISOLA_COM1 + 5) & 0x20) == 0) /* LSR: the transmit holding register is empty */
        ;
    outb(ISOLA_COM1, (uint8_t)c);
}

void isola_console_init(void) {
    outb(ISOLA_COM1 + 1, 0x00); /* IER: no interrupts */
    outb(ISOLA_COM1 + 3, 0x80); /* LCR: DLAB, the next two registers are the divisor */
    outb(ISOLA_COM1 + 0, 0x01); /* 115200 / 1 */
    outb(ISOLA_COM1 + 1, 0x00);
    outb(ISOLA_COM1 + 3, 0x03); /* LCR: 8 data bits, no parity, 1 stop bit */
    outb(ISOLA_COM1 + 2, 0xC7); /* FCR: FIFOs on and cleared, 14-byte threshold */
    outb(ISOLA_COM1 + 4, 0x03); /* MCR: DTR, RTS */
}

void isola_console_write(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        serial_putc(s[i]);
}

static void put_str(const char *s) {
    while (*s)
        serial_putc(*s++);
}

static void put_num(uint64_t v, unsigned base, int negative) {
    char buf[24];
    int i = 0;
    if (negative)
        serial_putc('-');
    do {
        buf[i++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (i)
        serial_putc(buf[--i]);
}

static void vprint(const char *fmt, va_list ap) {
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            serial_putc(*fmt);
            continue;
        }
        int lng = 0;
        fmt++;
        while (*fmt == 'l') {
            lng = 1;
            fmt++;
        }
        switch (*fmt) {
        case 's': { const char *s = va_arg(ap, const char *); put_str(s ? s : "(null)"); break; }
        case 'c': serial_putc((char)va_arg(ap, int)); break;
        case 'd': {
            int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
            put_num(v < 0 ? (uint64_t)-v : (uint64_t)v, 10, v < 0);
            break;
        }
        case 'u': put_num(lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, 0); break;
        case 'x': put_num(lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, 0); break;
        case 'p': put_str("0x"); put_num((uint64_t)va_arg(ap, void *), 16, 0); break;
        case '%': serial_putc('%'); break;
        default: serial_putc('?'); break;
        }
    }
}

void isola_print(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
}

void isola_panic(const char *fmt, ...) {
    __asm__ volatile("cli");
    put_str("\nisola: PANIC: ");
    va_list ap;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
    put_str("\n");
    isola_poweroff(ISOLA_EXIT_FAIL);
}

void isola_unimplemented(const char *name) {
    isola_panic("the bare-metal runtime does not implement %s, which the kernel image called", name);
}
