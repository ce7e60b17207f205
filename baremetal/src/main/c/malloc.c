/* malloc: size classes of 16 to 2048 bytes carved from 64 KiB runs; larger blocks are mmap'd. */
#include <stdint.h>

#include "cpu.h"
#include "frames.h"
#include "libc.h"
#include "malloc.h"
#include "vm.h"

#define CLASSES 8
#define HEADER 16 /* before each block: its class, or the size of its mapping */
#define RUN (64 * 1024)

typedef struct block { struct block *next; } block;
static block *free_lists[CLASSES];

static int class_of(size_t n) {
    size_t size = 16;
    for (int c = 0; c < CLASSES; c++, size <<= 1)
        if (n + HEADER <= size)
            return c;
    return -1;
}

void *malloc(size_t n) {
    int c = class_of(n);
    if (c < 0) {
        size_t total = pages_up(n + HEADER);
        uint64_t *base = mmap(0, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED)
            return 0;
        base[0] = total;
        return (char *)base + HEADER;
    }
    uint64_t f = isola_irq_save();
    if (!free_lists[c]) {
        char *run = mmap(0, RUN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (run == MAP_FAILED) {
            isola_irq_restore(f);
            *__errno_location() = ENOMEM;
            return 0;
        }
        size_t size = (size_t)16 << c;
        for (size_t off = 0; off + size <= RUN; off += size) {
            block *b = (block *)(run + off);
            b->next = free_lists[c];
            free_lists[c] = b;
        }
    }
    block *b = free_lists[c];
    free_lists[c] = b->next;
    isola_irq_restore(f);
    ((uint64_t *)b)[0] = (uint64_t)c;
    return (char *)b + HEADER;
}

void free(void *p) {
    if (!p)
        return;
    uint64_t *base = (uint64_t *)((char *)p - HEADER);
    uint64_t c = base[0];
    if (c >= CLASSES) {
        munmap(base, c);
        return;
    }
    uint64_t f = isola_irq_save();
    block *b = (block *)base;
    b->next = free_lists[c];
    free_lists[c] = b;
    isola_irq_restore(f);
}

void *calloc(size_t count, size_t size) {
    if (size && count > (size_t)-1 / size)
        return 0;
    void *p = malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *realloc(void *p, size_t n) {
    if (!p)
        return malloc(n);
    uint64_t c = ((uint64_t *)((char *)p - HEADER))[0];
    size_t old = c < CLASSES ? ((size_t)16 << c) - HEADER : c - HEADER;
    if (n <= old)
        return p;
    void *q = malloc(n);
    if (q) {
        memcpy(q, p, old);
        free(p);
    }
    return q;
}

char *strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}
