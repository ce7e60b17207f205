/* The freestanding subset of libc the image and the runtime use. */
#include <stdint.h>

#include "libc.h"

static int boot_errno; /* until threads.c points isola_errno at the boot thread's */
int *isola_errno = &boot_errno;

int *__errno_location(void) { return isola_errno; }

void *memset(void *d, int c, size_t n) {
    unsigned char *p = d;
    if (n >= 64 && ((uintptr_t)p & 7) == 0) {
        uint64_t w = (uint8_t)c * 0x0101010101010101ull;
        size_t words = n / 8;
        __asm__ volatile("rep stosq" : "+D"(p), "+c"(words) : "a"(w) : "memory");
        n &= 7;
    }
    while (n--)
        *p++ = (unsigned char)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n) {
    void *r = d;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    return r;
}

void *memmove(void *d, const void *s, size_t n) {
    unsigned char *dp = d;
    const unsigned char *sp = s;
    if (dp <= sp || dp >= sp + n)
        return memcpy(d, s, n);
    while (n--)
        dp[n] = sp[n];
    return d;
}

int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b) {
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n) {
    for (; n; n--, a++, b++) {
        if (*a != *b || !*a)
            return (unsigned char)*a - (unsigned char)*b;
    }
    return 0;
}
