/* sbuf.h — a string built by appending: set names and comments are made from selector text of
 * any length. p is malloc'ed (free it), NULL until the first append, NUL-terminated after. */
#ifndef NETPOL_SBUF_H
#define NETPOL_SBUF_H

#include <string.h>

#include "vec.h"

struct sbuf {
	char *p;
	size_t n, cap;
};

static inline void sbuf_puts(struct sbuf *s, const char *str)
{
	size_t l = strlen(str);
	VEC_RESERVE(s->p, s->cap, s->n + l + 1);
	memcpy(s->p + s->n, str, l + 1);
	s->n += l;
}

#endif
