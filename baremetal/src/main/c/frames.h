/* frames (layer 4 of the runtime, see README.md): the pool of physical frames the heap window maps. */
#ifndef ISOLA_FRAMES_H
#define ISOLA_FRAMES_H

#include <stdint.h>

#include "isola_limits.h"

#define FRAME ((uint64_t)ISOLA_FRAME)

/* n rounded up to whole frames. */
static inline uint64_t pages_up(uint64_t n) { return (n + FRAME - 1) & ~(FRAME - 1); }

/* The boot pool: the RAM from first_free (the end of what the loader placed) to ram_end. */
void isola_frames_init(uint64_t first_free, uint64_t ram_end);
/* A zeroed frame, or 0 if the pool is empty. Interrupts off. */
uint64_t isola_frame_alloc(void);
/* Back to the pool. Interrupts off. */
void isola_frame_free(uint64_t pa);
/* RAM in frames, for sysconf(_SC_PHYS_PAGES). */
uint64_t isola_phys_pages(void);
#endif
