/* libc (layer 1 of the runtime, see README.md): memory and string functions, and errno. */
#ifndef ISOLA_LIBC_H
#define ISOLA_LIBC_H

#include <stddef.h>

/* errno values (Linux x86-64), as the image expects them. */
#define EPERM 1
#define EAGAIN 11
#define ENOMEM 12
#define EBUSY 16
#define ENODEV 19
#define EINVAL 22
#define EDEADLK 35
#define ETIMEDOUT 110

/* The running thread's errno: threads.c points this at each thread's own as it switches to it. */
extern int *isola_errno;
int *__errno_location(void);

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
#endif
