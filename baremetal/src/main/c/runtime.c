/*
 * Isola's bare-metal runtime: what the Native Image object imports from libc and pthreads, for
 * a kernel with no OS under it. Freestanding (no libc); compiled without SSE and without a red
 * zone (BareMetalBuild.CFLAGS).
 *
 * Memory: physical frames come from a frame pool. Until the Java kernel takes memory over, the
 * pool is a bump pointer over the RAM after the kernel image and its boot modules; afterwards
 * the Java kernel's frame allocator owns all free RAM and gives the pool the frames it holds
 * (isola_frames_give), topping it up and taking back surplus outside the garbage collector: a
 * collection calls mmap with the heap in flux, where no Java can run, so the frames it maps are
 * ones the kernel handed over in advance (as a kernel keeps reserves for atomic allocation).
 * mmap/munmap/mprotect map those frames into the heap window (PML4 slot 1, 512 GiB), whose page
 * tables hang off the kernel's root table.
 *
 * Everything here runs with interrupts disabled where it touches shared state: one CPU, so that
 * is the lock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime.h"

/* ------------------------------------------------------------------------------------------ */
/* CPU                                                                                          */

static inline uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

uint64_t isola_irq_save(void) {
    uint64_t flags;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
    return flags;
}
void isola_irq_restore(uint64_t flags) {
    if (flags & (1 << 9))
        __asm__ volatile("sti" : : : "memory");
}

int isola_inb(int port) { return inb((uint16_t)port); }
void isola_outb(int port, int value) { outb((uint16_t)port, (uint8_t)value); }
long isola_rdtsc(void) { return (long)rdtsc(); }
long isola_read_cr2(void) {
    long v;
    __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}
long isola_read_cr3(void) {
    long v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
void isola_write_cr3(long root) { __asm__ volatile("mov %0, %%cr3" : : "r"(root) : "memory"); }
void isola_invlpg(long va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }

void isola_poweroff(int code) {
    outl(0xf4, (uint32_t)code); /* QEMU's isa-debug-exit: exits with (code << 1) | 1 */
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* ------------------------------------------------------------------------------------------ */
/* Serial console (COM1), for the runtime's own messages: panics and the boot before Java.      */

#define COM1 0x3F8

/* Programs the UART once, for the runtime and the Java kernel's console (isola.baremetal.Uart) alike. */
static void serial_init(void) {
    outb(COM1 + 1, 0x00); /* IER: no interrupts */
    outb(COM1 + 3, 0x80); /* LCR: DLAB, the next two registers are the divisor */
    outb(COM1 + 0, 0x01); /* 115200 / 1 */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* LCR: 8 data bits, no parity, 1 stop bit */
    outb(COM1 + 2, 0xC7); /* FCR: FIFOs on and cleared, 14-byte threshold */
    outb(COM1 + 4, 0x03); /* MCR: DTR, RTS */
}

static void serial_putc(char c) {
    if (c == '\n')
        serial_putc('\r');
    while ((inb(COM1 + 5) & 0x20) == 0)
        ;
    outb(COM1, (uint8_t)c);
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

/* printf for %s %c %d %ld %u %lu %x %lx %p only. */
void isola_vprint(const char *fmt, va_list ap) {
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
    isola_vprint(fmt, ap);
    va_end(ap);
}

void isola_panic(const char *fmt, ...) {
    __asm__ volatile("cli");
    put_str("\nisola: PANIC: ");
    va_list ap;
    va_start(ap, fmt);
    isola_vprint(fmt, ap);
    va_end(ap);
    put_str("\n");
    isola_poweroff(ISOLA_EXIT_FAIL);
    for (;;)
        ;
}

void isola_unimplemented(const char *name) {
    isola_panic("the bare-metal runtime does not implement %s, which the kernel image called", name);
}

/* ------------------------------------------------------------------------------------------ */
/* Boot                                                                                         */

extern char isola_kernel_start[], isola_kernel_end[];
extern char isola_boot_stack_bottom[], isola_boot_stack_top[];
int main(int argc, char **argv);

static uint32_t boot_magic, boot_info;
int isola_boot_magic(void) { return (int)boot_magic; }
long isola_boot_info(void) { return boot_info; }

static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* The end of everything the loader placed: the kernel, its modules and the information block. */
static uint64_t loaded_end(uint32_t magic, uint32_t info, uint64_t *ram_end) {
    uint64_t end = (uint64_t)isola_kernel_end;
    *ram_end = 0;
    if (magic != 0x2BADB002 || info == 0)
        return end; /* Java reports the bad magic with its name */
    const uint32_t *mb = (const uint32_t *)(uintptr_t)info;
    end = max64(end, info + 128);
    if (mb[0] & 1)
        *ram_end = 0x100000 + (uint64_t)mb[2] * 1024; /* mem_upper: KiB above 1 MiB */
    if (mb[0] & (1 << 2))
        end = max64(end, mb[4] + 4096);
    if (mb[0] & (1 << 3)) {
        const uint32_t *mods = (const uint32_t *)(uintptr_t)mb[6];
        end = max64(end, mb[6] + 16 * mb[5]);
        for (uint32_t i = 0; i < mb[5] && i < 64; i++) {
            end = max64(end, mods[4 * i + 1]);
            end = max64(end, mods[4 * i + 2] + 4096);
        }
    }
    if (mb[0] & (1 << 6))
        end = max64(end, (uint64_t)mb[12] + mb[11]);
    return end;
}

static void time_init(void);
static void memory_init(uint64_t first_free, uint64_t ram_end);
static void threads_init(void);

void isola_boot(uint32_t magic, uint32_t info) {
    boot_magic = magic;
    boot_info = info;
    serial_init();
    extern void isola_cpu_init(void);
    isola_cpu_init();
    uint64_t ram_end;
    uint64_t first_free = loaded_end(magic, info, &ram_end);
    if (ram_end == 0)
        isola_panic("the boot loader passed no memory size (Multiboot magic 0x%x, information at 0x%x)", magic, info);
    time_init();
    memory_init(first_free, ram_end);
    threads_init();
    static char name[] = "isola-kernel";
    static char *argv[] = {name, 0};
    int status = main(1, argv);
    isola_panic("the Java kernel returned from main (status %d) instead of powering off", status);
}

/* ------------------------------------------------------------------------------------------ */
/* Time: the TSC, calibrated against the PIT at boot; wall-clock time from the CMOS RTC.       */

static uint64_t tsc_hz, tsc_at_boot, ns_per_tick_q32, epoch_ns_at_boot;

static uint8_t cmos(uint8_t reg) {
    outb(0x70, reg);
    return inb(0x71);
}

static uint64_t days_from_civil(int64_t y, unsigned m, unsigned d) { /* H. Hinnant's algorithm */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (uint64_t)(era * 146097 + (int64_t)doe - 719468);
}

static uint64_t rtc_epoch_seconds(void) {
    while (cmos(0x0A) & 0x80) /* update in progress */
        ;
    unsigned s = cmos(0x00), mi = cmos(0x02), h = cmos(0x04), d = cmos(0x07), mo = cmos(0x08), y = cmos(0x09);
    if (!(cmos(0x0B) & 0x04)) { /* BCD */
#define BCD(x) (((x) & 0x0F) + ((x) >> 4) * 10)
        s = BCD(s); mi = BCD(mi); h = BCD(h & 0x7F) | (h & 0x80); d = BCD(d); mo = BCD(mo); y = BCD(y);
#undef BCD
    }
    return days_from_civil(2000 + y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static void time_init(void) {
    /* PIT channel 2, gate on, speaker off, one-shot (mode 0) for 10 ms. */
    const uint32_t count = 11932; /* 1193182 Hz / 100 */
    outb(0x61, (inb(0x61) & ~0x02) | 0x01);
    outb(0x43, 0xB0);
    outb(0x42, count & 0xFF);
    outb(0x42, count >> 8);
    uint64_t t0 = rdtsc();
    while ((inb(0x61) & 0x20) == 0)
        ;
    uint64_t t1 = rdtsc();
    tsc_hz = (t1 - t0) * 1193182 / count;
    if (tsc_hz < 1000000)
        isola_panic("TSC calibration against the PIT gave %lu Hz", tsc_hz);
    ns_per_tick_q32 = (uint64_t)(((unsigned __int128)1000000000 << 32) / tsc_hz);
    tsc_at_boot = t0;
    epoch_ns_at_boot = rtc_epoch_seconds() * 1000000000ull;
}

uint64_t isola_nanotime(void) {
    return (uint64_t)(((unsigned __int128)(rdtsc() - tsc_at_boot) * ns_per_tick_q32) >> 32);
}

long isola_tsc_hz(void) { return (long)tsc_hz; }

struct timespec { long tv_sec, tv_nsec; };
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1

int clock_gettime(int clock, struct timespec *ts) {
    uint64_t ns = isola_nanotime();
    if (clock == CLOCK_REALTIME)
        ns += epoch_ns_at_boot;
    ts->tv_sec = (long)(ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* errno and small libc                                                                         */

int *__errno_location(void) { return isola_thread_errno(); }

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

char *strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *getenv(const char *name) { (void)name; return 0; }

void exit(int status) {
    isola_print("isola: exit(%d)\n", status);
    isola_poweroff(status == 0 ? ISOLA_EXIT_PASS : ISOLA_EXIT_FAIL);
    for (;;)
        ;
}
void _exit(int status) { exit(status); }
void abort(void) { isola_panic("abort() called"); }

long write(int fd, const void *buf, size_t n) {
    if (fd != 1 && fd != 2) {
        *__errno_location() = EINVAL;
        return -1;
    }
    const char *p = buf;
    for (size_t i = 0; i < n; i++)
        serial_putc(p[i]);
    return (long)n;
}

int getpid(void) { return 1; }

#define _SC_CLK_TCK 2
#define _SC_OPEN_MAX 4
#define _SC_PAGESIZE 30
#define _SC_NPROCESSORS_CONF 83
#define _SC_NPROCESSORS_ONLN 84
#define _SC_PHYS_PAGES 85

long sysconf(int name) {
    switch (name) {
    case _SC_PAGESIZE: return 4096;
    case _SC_PHYS_PAGES: return (long)isola_phys_pages();
    case _SC_NPROCESSORS_CONF:
    case _SC_NPROCESSORS_ONLN: return 1;
    case _SC_CLK_TCK: return 100;
    case _SC_OPEN_MAX: return 16;
    default:
        *__errno_location() = EINVAL;
        return -1;
    }
}
int getpagesize(void) { return 4096; }

struct rlimit { uint64_t cur, max; };
int getrlimit(int resource, struct rlimit *r) {
    (void)resource;
    r->cur = r->max = ~0ull; /* RLIM_INFINITY: the kernel has no resource limits of this kind */
    return 0;
}
int setrlimit(int resource, const struct rlimit *r) {
    (void)resource;
    (void)r;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Helpers the Native Image object imports (a GraalVM distribution ships them in libsvm).      */

int JVM_ActiveProcessorCount(void) { return 1; }
/*
 * The JDK's JNI libraries cache field IDs and set up encodings when their classes initialize.
 * No JDK file, network or zip code runs in the kernel (the console is the kernel's own UART
 * stream), so there is nothing to cache: each is a no-op, and every other JDK native panics
 * naming itself (BareMetalBuild's generated stubs).
 */
void InitializeEncoding(void *env, const char *encoding) { (void)env; (void)encoding; }
void Java_java_io_FileDescriptor_initIDs(void *env, void *cls) { (void)env; (void)cls; }
void Java_java_io_FileInputStream_initIDs(void *env, void *cls) { (void)env; (void)cls; }
void Java_java_io_FileOutputStream_initIDs(void *env, void *cls) { (void)env; (void)cls; }
void Java_java_io_UnixFileSystem_initIDs(void *env, void *cls) { (void)env; (void)cls; }
int getThreadId(void) { return isola_thread_id(); }
void initialize(void) {}
/* The kernel's locale is en-US: display and format language, script, country, variant. */
static char lang_en[] = "en", country_us[] = "US";
static char *locale_props[8] = {lang_en, 0, country_us, 0, lang_en, 0, country_us, 0};
int svm_initialize_locale(void) { return 1; /* SVM_LOCALE_INITIALIZATION_SUCCEEDED */ }
void *svm_get_locale(void) { return locale_props; }
int checkCPUFeatures(uint8_t *buildtimeMask);
int checkCPUFeaturesOrExit(uint8_t *buildtimeMask, const char *errorMessage) {
    if (checkCPUFeatures(buildtimeMask))
        isola_panic("%s", errorMessage);
    return 0;
}
#define JNI_VERSION_1_8 0x00010008
int JNI_OnLoad_java(void *vm, void *reserved) { (void)vm; (void)reserved; return JNI_VERSION_1_8; }
int JNI_OnLoad_nio(void *vm, void *reserved) { (void)vm; (void)reserved; return JNI_VERSION_1_8; }
int JNI_OnLoad_net(void *vm, void *reserved) { (void)vm; (void)reserved; return JNI_VERSION_1_8; }
int JNI_OnLoad_zip(void *vm, void *reserved) { (void)vm; (void)reserved; return JNI_VERSION_1_8; }

/* ------------------------------------------------------------------------------------------ */
/* Physical frames                                                                              */

#define FRAME 4096ull
/* n rounded up to whole frames. */
static uint64_t pages_up(uint64_t n) { return (n + FRAME - 1) & ~(FRAME - 1); }
static uint64_t bump_next, bump_end;      /* boot pool: RAM after the loaded image */
static uint64_t free_frames_head;         /* frames given back: a stack linked through the frames */
static uint64_t free_frames_count;
static uint64_t ram_top, frames_in_use;
static int handed_over;                    /* the Java kernel owns RAM: no more bumping */

uint64_t isola_phys_pages(void) { return ram_top / FRAME; }

/* The pool's free frames: a stack linked through the frames themselves. Interrupts off. */
static void pool_push(uint64_t pa) {
    *(uint64_t *)(uintptr_t)pa = free_frames_head;
    free_frames_head = pa;
    free_frames_count++;
}

static uint64_t pool_pop(void) {
    uint64_t pa = free_frames_head;
    if (pa) {
        free_frames_head = *(uint64_t *)(uintptr_t)pa;
        free_frames_count--;
    }
    return pa;
}

/* A zeroed frame for the heap window, or 0 if the pool is empty. Interrupts off. */
static uint64_t frame_alloc(void) {
    uint64_t pa = pool_pop();
    if (!pa && !handed_over && bump_next + FRAME <= bump_end) {
        pa = bump_next;
        bump_next += FRAME;
    }
    if (!pa)
        return 0;
    memset((void *)(uintptr_t)pa, 0, FRAME);
    frames_in_use++;
    return pa;
}

static void frame_free(uint64_t pa) {
    pool_push(pa);
    frames_in_use--;
}

/*
 * The Java kernel takes RAM over: from now on the pool holds only frames it gives. Returns the
 * first address the boot pool never handed out; everything from there up is the kernel's. A
 * cushion of boot frames moves to the free list first, for the heap to grow into while the
 * kernel builds its allocator (which allocates) and before it first tops the pool up.
 */
#define HANDOVER_CUSHION 1024 /* frames: 4 MiB */
long isola_frames_handover(void) {
    uint64_t f = isola_irq_save();
    for (int i = 0; i < HANDOVER_CUSHION && bump_next + FRAME <= bump_end; i++) {
        pool_push(bump_next);
        bump_next += FRAME;
    }
    handed_over = 1;
    uint64_t first = bump_next;
    isola_irq_restore(f);
    return (long)first;
}

/* The kernel gives the pool a frame it allocated from its frame allocator. */
void isola_frames_give(long pa) {
    uint64_t f = isola_irq_save();
    pool_push((uint64_t)pa);
    isola_irq_restore(f);
}

/* The kernel takes a free frame back (0 if the pool has none); only ones it gave, see below. */
long isola_frames_take(void) {
    uint64_t f = isola_irq_save();
    uint64_t pa = pool_pop();
    isola_irq_restore(f);
    return (long)pa;
}

long isola_frames_pooled(void) { return (long)free_frames_count; }
long isola_frames_in_use(void) { return (long)frames_in_use; }

/* ------------------------------------------------------------------------------------------ */
/* The heap window's page tables and mmap                                                       */

#define HEAP_WINDOW 0x0000008000000000ull /* PML4 slot 1 */
#define HEAP_WINDOW_SIZE (512ull << 30)
#define PTE_P 1ull
#define PTE_RW 2ull
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000FFFFFFFFFF000ull
#define PTE_PROT_NONE (1ull << 9) /* software bit: a frame kept but made inaccessible (mprotect) */

static uint64_t heap_pdpt;  /* the window's PDPT: the Java kernel links it into its own PML4 */
static uint64_t heap_next = HEAP_WINDOW;

long isola_heap_window(void) { return (long)HEAP_WINDOW; }
long isola_heap_pdpt(void) { return (long)heap_pdpt; }

static uint64_t *table(uint64_t pa) { return (uint64_t *)(uintptr_t)pa; }

/* The level-1 entry of va, creating tables on the way if create; 0 if absent or out of frames. */
static uint64_t *pte_of(uint64_t va, int create) {
    uint64_t t = heap_pdpt;
    for (int level = 3; level > 1; level--) {
        uint64_t *e = &table(t)[(va >> (12 + 9 * (level - 1))) & 511];
        if (!(*e & PTE_P)) {
            if (!create)
                return 0;
            uint64_t pa = frame_alloc();
            if (!pa)
                return 0;
            *e = pa | PTE_P | PTE_RW;
        }
        t = *e & PTE_ADDR;
    }
    return &table(t)[(va >> 12) & 511];
}

static void unmap_range(uint64_t va, uint64_t len) {
    for (uint64_t a = va; a < va + len; a += FRAME) {
        uint64_t *pte = pte_of(a, 0);
        if (!pte) { /* no page table here: skip to the next 2 MiB */
            a = (a | ((1ull << 21) - 1)) + 1 - FRAME;
            continue;
        }
        if (*pte) {
            frame_free(*pte & PTE_ADDR);
            *pte = 0;
            isola_invlpg((long)a);
        }
    }
}

#define PROT_NONE 0
#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_FAILED ((void *)-1)

static int in_window(uint64_t va, uint64_t len) {
    return va >= HEAP_WINDOW && len <= HEAP_WINDOW_SIZE && va - HEAP_WINDOW <= HEAP_WINDOW_SIZE - len;
}

/*
 * Anonymous memory in the heap window. Without MAP_FIXED a fresh range is reserved (addresses
 * are not reused: the window is 512 GiB); PROT_NONE reserves addresses only, other protections
 * map zeroed frames at once. MAP_FIXED over an existing range replaces its pages, as POSIX says.
 */
void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off) {
    (void)off;
    if (len == 0 || !(flags & MAP_ANONYMOUS) || fd != -1) {
        *__errno_location() = !(flags & MAP_ANONYMOUS) ? ENODEV : EINVAL;
        return MAP_FAILED;
    }
    uint64_t size = pages_up(len);
    uint64_t f = isola_irq_save();
    uint64_t va;
    if (flags & MAP_FIXED) {
        va = (uint64_t)addr;
        if ((va & (FRAME - 1)) || !in_window(va, size)) {
            isola_irq_restore(f);
            *__errno_location() = EINVAL;
            return MAP_FAILED;
        }
        unmap_range(va, size);
    } else {
        if (heap_next + size > HEAP_WINDOW + HEAP_WINDOW_SIZE) {
            isola_irq_restore(f);
            *__errno_location() = ENOMEM;
            return MAP_FAILED;
        }
        va = heap_next;
        heap_next += size;
    }
    if (prot != PROT_NONE) {
        uint64_t flags_pte = PTE_P | PTE_RW | ((prot & PROT_EXEC) ? 0 : PTE_NX);
        for (uint64_t a = va; a < va + size; a += FRAME) {
            uint64_t *pte = pte_of(a, 1);
            uint64_t pa = pte ? frame_alloc() : 0;
            if (!pa) {
                unmap_range(va, a - va);
                isola_irq_restore(f);
                *__errno_location() = ENOMEM;
                return MAP_FAILED;
            }
            *pte = pa | flags_pte;
        }
    }
    isola_irq_restore(f);
    return (void *)va;
}

int munmap(void *addr, size_t len) {
    uint64_t va = (uint64_t)addr, size = pages_up(len);
    if ((va & (FRAME - 1)) || !in_window(va, size)) {
        *__errno_location() = EINVAL;
        return -1;
    }
    uint64_t f = isola_irq_save();
    unmap_range(va, size);
    isola_irq_restore(f);
    return 0;
}

/*
 * The image heap's read-only parts, which SVM protects in place at start-up. The boot page
 * tables map the kernel image with 2 MiB pages, so requests are recorded here, one bit per
 * page of the image, and the Java kernel applies them when it builds its own tables with
 * 4 KiB pages (isola_readonly).
 */
#define IMAGE_PAGES_MAX (256 * 256) /* a kernel image of up to 256 MiB */
static uint8_t readonly_pages[IMAGE_PAGES_MAX / 8];

/* The index of the kernel image's page at va in readonly_pages, or -1 if it is outside. */
static int64_t image_page(uint64_t va) {
    uint64_t page = (va - (uint64_t)isola_kernel_start) / FRAME;
    return va >= (uint64_t)isola_kernel_start && page < IMAGE_PAGES_MAX ? (int64_t)page : -1;
}

/* 1 if the kernel image's page at va was made read-only. */
int isola_readonly(long va) {
    int64_t page = image_page((uint64_t)va);
    return page >= 0 && (readonly_pages[page / 8] >> (page % 8) & 1);
}

extern char isola_text_end[];
long isola_kernel_image_start(void) { return (long)isola_kernel_start; }
long isola_kernel_text_end(void) { return (long)isola_text_end; }
long isola_kernel_image_end(void) { return (long)isola_kernel_end; }

int mprotect(void *addr, size_t len, int prot) {
    uint64_t va = (uint64_t)addr, size = pages_up(len);
    if (va >= (uint64_t)isola_kernel_start && va + size <= (uint64_t)isola_kernel_end && !(va & (FRAME - 1))
        && (prot == PROT_READ || prot == (PROT_READ | PROT_WRITE))) {
        for (uint64_t a = va; a < va + size; a += FRAME) {
            int64_t page = image_page(a);
            if (page < 0)
                break;
            if (prot == PROT_READ)
                readonly_pages[page / 8] |= (uint8_t)(1 << (page % 8));
            else
                readonly_pages[page / 8] &= (uint8_t)~(1 << (page % 8));
        }
        return 0;
    }
    if ((va & (FRAME - 1)) || !in_window(va, size)) {
        *__errno_location() = EINVAL;
        return -1;
    }
    uint64_t f = isola_irq_save();
    for (uint64_t a = va; a < va + size; a += FRAME) {
        uint64_t *pte = pte_of(a, 0);
        if (!pte || !*pte) {
            isola_irq_restore(f);
            *__errno_location() = ENOMEM; /* POSIX: the range is not mapped */
            return -1;
        }
        uint64_t pa = *pte & PTE_ADDR;
        *pte = prot == PROT_NONE ? pa | PTE_PROT_NONE : pa | PTE_P | PTE_RW | ((prot & PROT_EXEC) ? 0 : PTE_NX);
        isola_invlpg((long)a);
    }
    isola_irq_restore(f);
    return 0;
}

static void memory_init(uint64_t first_free, uint64_t ram_end) {
    bump_next = pages_up(first_free);
    bump_end = ram_end & ~(FRAME - 1);
    ram_top = ram_end;
    if (bump_end < bump_next + (8ull << 20))
        isola_panic("too little memory: %lu KiB of RAM above the kernel image and its modules (at 0x%lx), "
                    "at least 8 MiB are needed to start Java",
                    bump_end > bump_next ? (bump_end - bump_next) >> 10 : 0, bump_next);
    heap_pdpt = frame_alloc();
    /* Link the window into the boot page tables; the Java kernel links the same PDPT into its own. */
    uint64_t cr3 = (uint64_t)isola_read_cr3() & PTE_ADDR;
    table(cr3)[(HEAP_WINDOW >> 39) & 511] = heap_pdpt | PTE_P | PTE_RW;
}

/* ------------------------------------------------------------------------------------------ */
/* malloc: size classes of 16 to 2048 bytes carved from 64 KiB runs; larger blocks are mmap'd. */

#define CLASSES 8
#define HEADER 16
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
        uint64_t *base = mmap(0, total, PROT_READ | PROT_WRITE, MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED)
            return 0;
        base[0] = total;
        return (char *)base + HEADER;
    }
    uint64_t f = isola_irq_save();
    if (!free_lists[c]) {
        char *run = mmap(0, RUN, PROT_READ | PROT_WRITE, MAP_ANONYMOUS, -1, 0);
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

/* ------------------------------------------------------------------------------------------ */
/* Threads: see threads.c.                                                                      */

static void threads_init(void) { isola_threads_init((uint64_t)isola_boot_stack_bottom, (uint64_t)isola_boot_stack_top); }

/* ------------------------------------------------------------------------------------------ */
/* Demand paging: ranges the kernel registered get a fresh zeroed frame on first touch.         */

#define DEMAND_RANGES 8
static struct { uint64_t start, end; } demand[DEMAND_RANGES];

/* Registers [va, va + len) in the heap window, reserved with PROT_NONE mmap, for demand paging. */
static int demand_register(long va, long len) {
    uint64_t f = isola_irq_save();
    for (int i = 0; i < DEMAND_RANGES; i++) {
        if (demand[i].start == demand[i].end && in_window((uint64_t)va, (uint64_t)len)) {
            demand[i].start = (uint64_t)va;
            demand[i].end = (uint64_t)va + (uint64_t)len;
            isola_irq_restore(f);
            return 0;
        }
    }
    isola_irq_restore(f);
    return -1;
}

/* From the page-fault handler: maps a frame at a not-present page of a demand range. */
int isola_demand_fault(uint64_t va, uint64_t error) {
    if (error & 1)
        return 0; /* a protection violation, not a missing page */
    for (int i = 0; i < DEMAND_RANGES; i++) {
        if (va >= demand[i].start && va < demand[i].end) {
            uint64_t page = va & ~(FRAME - 1);
            uint64_t *pte = pte_of(page, 1);
            if (!pte || (*pte & PTE_PROT_NONE))
                return 0;
            uint64_t pa = frame_alloc();
            if (!pa)
                isola_panic("out of frames resolving a page fault at 0x%lx", va);
            *pte = pa | PTE_P | PTE_RW | PTE_NX;
            return 1;
        }
    }
    return 0;
}

/* Reserves len bytes of the heap window and registers them for demand paging; 0 if it cannot. */
long isola_demand_reserve(long len) {
    void *va = mmap(0, (size_t)len, PROT_NONE, MAP_ANONYMOUS, -1, 0);
    if (va == MAP_FAILED)
        return 0;
    if (demand_register((long)va, len) != 0) {
        munmap(va, (size_t)len);
        return 0;
    }
    return (long)va;
}

/* Unmaps a demand range isola_demand_reserve returned (its frames back to the pool) and forgets it. */
int isola_demand_release(long va, long len) {
    uint64_t f = isola_irq_save();
    for (int i = 0; i < DEMAND_RANGES; i++) {
        if (demand[i].start == (uint64_t)va && demand[i].end == (uint64_t)va + (uint64_t)len && len > 0) {
            demand[i].start = demand[i].end = 0;
            unmap_range((uint64_t)va, pages_up((uint64_t)len));
            isola_irq_restore(f);
            return 0;
        }
    }
    isola_irq_restore(f);
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* SVM's own error reports: fdopen(2, "w") then fprintfSD(stream, format, string, int).         */

static int stderr_stream;
void *fdopen(int fd, const char *mode) {
    (void)mode;
    return fd == 1 || fd == 2 ? &stderr_stream : 0;
}
int fprintfSD(void *stream, const char *format, char *arg0, int arg1) {
    (void)stream;
    isola_print(format, arg0, arg1);
    return 0;
}
