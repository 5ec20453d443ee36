/* Monotonic time in seconds, for timeouts, uptimes and durations (CLOCK_MONOTONIC: never
 * jumps with the wall clock). Any thread. */
#ifndef VSRV_UTIL_CLOCK_H
#define VSRV_UTIL_CLOCK_H

#include <time.h>

static inline double clock_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall-clock time in seconds since the epoch, as a double (CLOCK_REALTIME: what events and
 * tasks record). Any thread. */
static inline double clock_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
