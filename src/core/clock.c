/* Clocks in nanoseconds. */
#include "core.h"

#include <errno.h>
#include <time.h>

/* Why: one conversion from timespec to ns for both clocks. */
static int64_t ts_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Why: durations use the monotonic clock, which NTP steps cannot move; timestamps stored
 * with results use the wall clock, so runs can be placed in time. */
int64_t fm_now_ns(void)
{
    return ts_ns(CLOCK_MONOTONIC);
}
int64_t fm_wall_ns(void)
{
    return ts_ns(CLOCK_REALTIME);
}

/* Why: sleeps the whole duration even when signals interrupt it. */
void fm_sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = {ns / 1000000000LL, ns % 1000000000LL};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
