/*
 * The heap window (PML4 slot 1, 512 GiB): mmap, munmap and mprotect map frames from the pool
 * (frames.c) there, in page tables that hang off the kernel's root table. Ranges the Java
 * kernel registers are demand-paged: a fresh zeroed frame on first touch. Everything runs with
 * interrupts disabled where it touches the tables: one CPU, so that is the lock.
 */
#include "console.h"
#include "cpu.h"
#include "frames.h"
#include "kernel_image.h"
#include "libc.h"
#include "vm.h"

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

void isola_vm_init(void) {
    heap_pdpt = isola_frame_alloc();
    /* Link the window into the boot page tables; the Java kernel links the same PDPT into its own. */
    uint64_t cr3 = (uint64_t)isola_read_cr3() & PTE_ADDR;
    table(cr3)[(HEAP_WINDOW >> 39) & 511] = heap_pdpt | PTE_P | PTE_RW;
}

/* The level-1 entry of va, creating tables on the way if create; 0 if absent or out of frames. */
static uint64_t *pte_of(uint64_t va, int create) {
    uint64_t t = heap_pdpt;
    for (int level = 3; level > 1; level--) {
        uint64_t *e = &table(t)[(va >> (12 + 9 * (level - 1))) & 511];
        if (!(*e & PTE_P)) {
            if (!create)
                return 0;
            uint64_t pa = isola_frame_alloc();
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
            isola_frame_free(*pte & PTE_ADDR);
            *pte = 0;
            isola_invlpg((long)a);
        }
    }
}

static int in_window(uint64_t va, uint64_t len) {
    return va >= HEAP_WINDOW && len <= HEAP_WINDOW_SIZE && va - HEAP_WINDOW <= HEAP_WINDOW_SIZE - len;
}

/* The page-table entry of an accessible page with protection prot. */
static uint64_t pte_flags(int prot) { return PTE_P | PTE_RW | ((prot & PROT_EXEC) ? 0 : PTE_NX); }

/*
 * Anonymous memory in the heap window. Without MAP_FIXED a fresh range is reserved (addresses
 * are not reused: the window is 512 GiB); PROT_NONE reserves addresses only, other protections
 * map zeroed frames at once. MAP_FIXED over an existing range replaces its pages, as POSIX says.
 * Other flags (MAP_PRIVATE, MAP_NORESERVE) change nothing: all of it is private and unshared.
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
        for (uint64_t a = va; a < va + size; a += FRAME) {
            uint64_t *pte = pte_of(a, 1);
            uint64_t pa = pte ? isola_frame_alloc() : 0;
            if (!pa) {
                unmap_range(va, a - va);
                isola_irq_restore(f);
                *__errno_location() = ENOMEM;
                return MAP_FAILED;
            }
            *pte = pa | pte_flags(prot);
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
        *pte = prot == PROT_NONE ? pa | PTE_PROT_NONE : pa | pte_flags(prot);
        isola_invlpg((long)a);
    }
    isola_irq_restore(f);
    return 0;
}

/* ---- demand paging: ranges the kernel registered get a fresh zeroed frame on first touch ---- */

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

int isola_demand_fault(uint64_t va, uint64_t error) {
    if (error & PF_PRESENT)
        return 0;
    for (int i = 0; i < DEMAND_RANGES; i++) {
        if (va >= demand[i].start && va < demand[i].end) {
            uint64_t *pte = pte_of(va & ~(FRAME - 1), 1);
            if (!pte || (*pte & PTE_PROT_NONE))
                return 0;
            uint64_t pa = isola_frame_alloc();
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
    void *va = mmap(0, (size_t)len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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
