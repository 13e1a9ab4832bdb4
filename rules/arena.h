/* arena.h — bump allocator. Allocation failure aborts (there is no useful way for a policy
 * compiler to continue without memory); nothing is freed before np_arena_free. */
#ifndef NETPOL_ARENA_H
#define NETPOL_ARENA_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "model.h"

struct np_arena *np_arena_new(void);
void np_arena_free(struct np_arena *a);
/* np_arena_alloc and np_arena_strdup are declared in model.h. */
const char *np_arena_printf(struct np_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
