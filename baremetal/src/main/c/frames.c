/*
 * Physical frames for the heap window. Until the Java kernel takes memory over, the pool is a
 * bump pointer over the RAM after the kernel image and its boot modules; afterwards the Java
 * kernel's frame allocator owns all free RAM and gives the pool the frames it holds
 * (isola_frames_give), topping it up and taking back surplus outside the garbage collector: a
 * collection calls mmap with the heap in flux, where no Java can run, so the frames it maps are
 * ones the kernel handed over in advance (as a kernel keeps reserves for atomic allocation).
 */
#include "console.h"
#include "cpu.h"
#include "frames.h"
#include "libc.h"

static uint64_t bump_next, bump_end;      /* boot pool: RAM after the loaded image */
static uint64_t free_frames_head;         /* frames given back: a stack linked through the frames */
static uint64_t free_frames_count;
static uint64_t ram_top, frames_in_use;
static int handed_over;                    /* the Java kernel owns RAM: no more bumping */

uint64_t isola_phys_pages(void) { return ram_top / FRAME; }

void isola_frames_init(uint64_t first_free, uint64_t ram_end) {
    bump_next = pages_up(first_free);
    bump_end = ram_end & ~(FRAME - 1);
    ram_top = ram_end;
    if (bump_end < bump_next + (8ull << 20))
        isola_panic("too little memory: %lu KiB of RAM above the kernel image and its modules (at 0x%lx), "
                    "at least 8 MiB are needed to start Java",
                    bump_end > bump_next ? (bump_end - bump_next) >> 10 : 0, bump_next);
}

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

uint64_t isola_frame_alloc(void) {
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

void isola_frame_free(uint64_t pa) {
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

/* The kernel takes a free frame back (0 if the pool has none); only ones it gave, see isola_frames_handover. */
long isola_frames_take(void) {
    uint64_t f = isola_irq_save();
    uint64_t pa = pool_pop();
    isola_irq_restore(f);
    return (long)pa;
}

long isola_frames_pooled(void) { return (long)free_frames_count; }
long isola_frames_in_use(void) { return (long)frames_in_use; }
