/* duration.h — the durations users write on command lines: "180s", "3m", "500ms", "1h", or
 * plain seconds. */
#ifndef NETPOL_UTIL_DURATION_H
#define NETPOL_UTIL_DURATION_H

#include <stdlib.h>
#include <string.h>

/* Milliseconds, or -1 when s is malformed or negative. */
static inline long long duration_parse_ms(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		return -1;
	if (!*end || !strcmp(end, "s"))
		return (long long)(v * 1000);
	if (!strcmp(end, "ms"))
		return (long long)v;
	if (!strcmp(end, "m"))
		return (long long)(v * 60000);
	if (!strcmp(end, "h"))
		return (long long)(v * 3600000);
	return -1;
}

#endif
