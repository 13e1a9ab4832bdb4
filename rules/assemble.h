/* assemble.h — the inet table made of fragments (frag.h), exactly as one pass over everything
 * would have built it. */
#ifndef NETPOL_ASSEMBLE_H
#define NETPOL_ASSEMBLE_H

#include <stddef.h>

#include "frag.h"

/* The sets, maps, chains and counters of t from fragments v[0..n) (v[0]: the dispatch's), in
 * arena a (tmp: what is needed while assembling only). t's name, family and comment are the
 * caller's. */
void assemble_table(struct rs_frag *const *v, size_t n, struct np_arena *a, struct np_arena *tmp,
		    struct rs_table *t);

#endif
