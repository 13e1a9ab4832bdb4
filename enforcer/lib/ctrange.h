/* ctrange.h — sets of address ranges: the addresses whose connections a change may have
 * affected (ct.h builds them from a diff; ctindex.h looks connections up by them). */
#ifndef NETPOL_ENFORCER_CTRANGE_H
#define NETPOL_ENFORCER_CTRANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ct_affected {
	struct ct_range {
		uint8_t family; /* 4 or 6 */
		uint8_t lo[16], hi[16]; /* inclusive; IPv4 in the first 4 bytes, the rest 0 */
	} *v;
	size_t n, cap;
};

void ct_affected_add(struct ct_affected *a, uint8_t family, const uint8_t *lo, const uint8_t *hi);
/* Sorts the ranges and merges overlapping ones, so ct_affected_has is a binary search. */
void ct_affected_normalize(struct ct_affected *a);
/* Is addr in one of the ranges? a must be normalized. */
bool ct_affected_has(const struct ct_affected *a, uint8_t family, const void *addr);
void ct_affected_free(struct ct_affected *a);

#endif
