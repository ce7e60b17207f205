/* Time: the TSC, calibrated against the PIT at boot; wall-clock time from the CMOS RTC. */
#include "clock.h"
#include "console.h"
#include "cpu.h"
#include "isola_limits.h"

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

void isola_clock_init(void) {
    /* PIT channel 2, gate on, speaker off, one-shot (mode 0) for 10 ms. */
    const uint32_t count = (ISOLA_PIT_HZ + 50) / 100; /* 11932, rounded */
    outb(0x61, (inb(0x61) & ~0x02) | 0x01);
    outb(0x43, 0xB0);
    outb(0x42, count & 0xFF);
    outb(0x42, count >> 8);
    uint64_t t0 = rdtsc();
    while ((inb(0x61) & 0x20) == 0)
        ;
    uint64_t t1 = rdtsc();
    tsc_hz = (t1 - t0) * ISOLA_PIT_HZ / count;
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

int clock_gettime(int clock, struct timespec *ts) {
    uint64_t ns = isola_nanotime();
    if (clock == CLOCK_REALTIME)
        ns += epoch_ns_at_boot;
    ts->tv_sec = (long)(ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
    return 0;
}

uint64_t isola_timespec_ns(const struct timespec *ts) {
    if ((uint64_t)ts->tv_sec > (uint64_t)INT64_MAX / 1000000000ull - 1)
        return (uint64_t)INT64_MAX;
    return (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
}

uint64_t isola_deadline_after(uint64_t ns) {
    uint64_t now = isola_nanotime();
    return ns > (uint64_t)INT64_MAX - now ? (uint64_t)INT64_MAX : now + ns;
}
