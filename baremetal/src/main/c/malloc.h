/* malloc (layer 6 of the runtime, see README.md): the C heap, in the heap window. */
#ifndef ISOLA_MALLOC_H
#define ISOLA_MALLOC_H

#include <stddef.h>

void *malloc(size_t n);
void free(void *p);
void *calloc(size_t count, size_t size);
void *realloc(void *p, size_t n);
char *strdup(const char *s);
#endif
