/* clock.h — the one clock for durations, deadlines and latency figures: CLOCK_MONOTONIC in
 * milliseconds (a double keeps microseconds), never stepped by NTP or an operator. */
#ifndef NETPOL_UTIL_CLOCK_H
#define NETPOL_UTIL_CLOCK_H

#include <time.h>

static inline double clock_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#endif
