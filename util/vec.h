/* vec.h — the growable-array idiom: a pointer, a count and a capacity, grown by doubling.
 *
 *	struct thing *v = NULL; size_t n = 0, cap = 0;
 *	VEC_PUSH(v, n, cap) = thing;      // or: VEC_GROW(v, n, cap); v[n++] = thing;
 *
 * Memory exhaustion aborts (xalloc.h). */
#ifndef NETPOL_UTIL_VEC_H
#define NETPOL_UTIL_VEC_H

#include <stddef.h>

#include "xalloc.h"

/* Makes room for want elements in total. */
#define VEC_RESERVE(v, cap, want)                                                          \
	do {                                                                               \
		if ((want) > (cap)) {                                                      \
			size_t vec_nc_ = (cap) ? (cap) : 8;                                \
			while (vec_nc_ < (want))                                           \
				vec_nc_ *= 2;                                              \
			(v) = xreallocarray((v), vec_nc_, sizeof(*(v)));                   \
			(cap) = vec_nc_;                                                   \
		}                                                                          \
	} while (0)

/* Makes room for one more element after the n there are. */
#define VEC_GROW(v, n, cap) VEC_RESERVE(v, cap, (n) + 1)

/* Appends one element (an lvalue: assign to it) and counts it. */
#define VEC_PUSH(v, n, cap) (*({ VEC_GROW(v, n, cap); &(v)[(n)++]; }))

#endif
