/* arena.h — bump allocator. Allocation failure aborts (there is no useful way for a policy
 * compiler to continue without memory); nothing is freed before np_arena_free. */
#ifndef NETPOL_ARENA_H
#define NETPOL_ARENA_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

struct np_arena *np_arena_new(void);
void np_arena_free(struct np_arena *a);
/* np_arena_alloc and np_arena_strdup are declared in model.h. */
/* As np_arena_alloc, not zeroed: for large arrays about to be filled whole. */
void *np_arena_alloc_raw(struct np_arena *a, size_t size);
const char *np_arena_printf(struct np_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends one zeroed element to arr (n used, cap allocated), grown in arena a by doubling: for
 * arrays that live as long as the arena. Old blocks are abandoned, at most doubling the space
 * (util/vec.h's VEC_PUSH is the malloc'ed kind). */
#define ARENA_PUSH(a, arr, n, cap)                                                      \
	do {                                                                            \
		if ((n) == (cap)) {                                                     \
			size_t nc__ = (cap) ? (cap) * 2 : 8;                            \
			void *p__ = np_arena_alloc((a), nc__ * sizeof(*(arr)));         \
			if (n)                                                          \
				memcpy(p__, (arr), (n) * sizeof(*(arr)));               \
			(arr) = p__;                                                    \
			(cap) = nc__;                                                   \
		}                                                                       \
		memset(&(arr)[(n)], 0, sizeof(*(arr)));                                 \
		(n)++;                                                                  \
	} while (0)

#endif
