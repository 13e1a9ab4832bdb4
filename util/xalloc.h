/* xalloc.h — allocation that does not fail. netpol's policy on memory exhaustion: abort at
 * once, in the allocator, rather than thread a -ENOMEM through every builder and half-apply
 * nothing useful (a sync that cannot allocate cannot build a ruleset either; the kernel keeps
 * the last one). One family for the tree: every file uses these instead of its own check. */
#ifndef NETPOL_UTIL_XALLOC_H
#define NETPOL_UTIL_XALLOC_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

static inline void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		abort();
	return p;
}

/* Resizes p to n elements of size bytes; the product is checked for overflow. */
static inline void *xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > (size_t)-1 / size)
		abort();
	size_t bytes = n * size;
	p = realloc(p, bytes ? bytes : 1);
	if (!p)
		abort();
	return p;
}

static inline void *xrealloc(void *p, size_t n)
{
	return xreallocarray(p, n, 1);
}

static inline char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		abort();
	return p;
}

static inline char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		abort();
	return p;
}

__attribute__((format(printf, 1, 2))) static inline char *xasprintf(const char *fmt, ...)
{
	char *p = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (r < 0)
		abort();
	return p;
}

#endif
