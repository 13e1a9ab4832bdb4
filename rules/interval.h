/* interval.h — address and port range arithmetic: ipBlock minus except, normalized into the
 * sorted, disjoint, merged list the kernel needs (it never merges or splits by itself). */
#ifndef NETPOL_INTERVAL_H
#define NETPOL_INTERVAL_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"

/* An inclusive address range of one family. */
struct np_range {
	struct np_addr lo, hi;
};

struct np_ranges {
	struct np_range *v;
	size_t n, cap; /* malloc'ed */
};

void np_ranges_free(struct np_ranges *r);
void np_ranges_add_cidr(struct np_ranges *r, const struct np_cidr *c);
/* Removes every address of c from r (r must be normalized). */
void np_ranges_subtract_cidr(struct np_ranges *r, const struct np_cidr *c);
/* Sorts and merges overlapping and adjacent ranges. */
void np_ranges_normalize(struct np_ranges *r);
bool np_ranges_contains(const struct np_ranges *r, const struct np_addr *a);

/* The first and last address of a CIDR. */
void np_cidr_bounds(const struct np_cidr *c, struct np_addr *lo, struct np_addr *hi);
/* If lo..hi is exactly one CIDR, returns its prefix length; else -1. */
int np_range_prefix(const struct np_addr *lo, const struct np_addr *hi);
/* a+1 / a-1 within the family; return false on wrap. */
bool np_addr_inc(struct np_addr *a);
bool np_addr_dec(struct np_addr *a);

#endif
