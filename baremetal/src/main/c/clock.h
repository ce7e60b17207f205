/* clock (layer 3 of the runtime, see README.md): the TSC, calibrated against the PIT at boot; the RTC's wall-clock time. */
#ifndef ISOLA_CLOCK_H
#define ISOLA_CLOCK_H

#include <stdint.h>

struct timespec { long tv_sec, tv_nsec; };
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1

/* Calibrates the TSC (10 ms of PIT channel 2) and reads the RTC. */
void isola_clock_init(void);
/* Nanoseconds since isola_clock_init. */
uint64_t isola_nanotime(void);
int clock_gettime(int clock, struct timespec *ts);
/* Nanoseconds in a valid timespec, saturating (a deadline centuries away stays far away). */
uint64_t isola_timespec_ns(const struct timespec *ts);
/* Now plus ns on isola_nanotime's clock, saturating below 2^63 (the policy's deadlines are signed). */
uint64_t isola_deadline_after(uint64_t ns);
#endif
