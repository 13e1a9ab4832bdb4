/* ctrange.c — see ctrange.h. */
#include <stdlib.h>
#include <string.h>

#include "ctrange.h"
#include "vec.h"

void ct_affected_add(struct ct_affected *a, uint8_t family, const uint8_t *lo, const uint8_t *hi)
{
	struct ct_range *r = &VEC_PUSH(a->v, a->n, a->cap);
	memset(r, 0, sizeof(*r));
	unsigned len = family == 4 ? 4 : 16;
	r->family = family;
	memcpy(r->lo, lo, len);
	memcpy(r->hi, hi, len);
}

void ct_affected_free(struct ct_affected *a)
{
	if (!a)
		return;
	free(a->v);
	memset(a, 0, sizeof(*a));
}

static int range_cmp(const void *a, const void *b)
{
	const struct ct_range *x = a, *y = b;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->lo, y->lo, 16);
}

/* After a change to every chain, every isolated pod's address is a range, and each of tens of
 * thousands of connections is looked up by up to four addresses: sorted and merged, a lookup
 * is a binary search. */
void ct_affected_normalize(struct ct_affected *a)
{
	if (!a->n)
		return;
	qsort(a->v, a->n, sizeof(*a->v), range_cmp);
	size_t w = 0;
	for (size_t i = 1; i < a->n; i++) {
		struct ct_range *last = &a->v[w], *r = &a->v[i];
		if (r->family == last->family && memcmp(r->lo, last->hi, 16) <= 0) {
			if (memcmp(r->hi, last->hi, 16) > 0)
				memcpy(last->hi, r->hi, 16);
		} else {
			a->v[++w] = *r;
		}
	}
	a->n = w + 1;
}

bool ct_affected_has(const struct ct_affected *a, uint8_t family, const void *addr)
{
	if (!addr)
		return false;
	struct ct_range key = { .family = family };
	memcpy(key.lo, addr, family == 4 ? 4 : 16);
	/* the last range starting at or before addr is the only one that can hold it */
	size_t lo = 0, hi = a->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (range_cmp(&a->v[mid], &key) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return false;
	const struct ct_range *r = &a->v[lo - 1];
	return r->family == family && memcmp(key.lo, r->hi, 16) <= 0;
}
