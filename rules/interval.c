/* interval.c — see interval.h. Addresses compare as big-endian byte strings of their family's
 * length, so one code path serves IPv4 and IPv6. */
#include <stdlib.h>
#include <string.h>

#include "interval.h"
#include "vec.h"

static size_t alen(const struct np_addr *a)
{
	return a->family == 4 ? 4 : 16;
}

static int cmp(const struct np_addr *a, const struct np_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->b, b->b, alen(a));
}

bool np_addr_inc(struct np_addr *a)
{
	for (size_t i = alen(a); i-- > 0;)
		if (++a->b[i] != 0)
			return true;
	return false;
}

bool np_addr_dec(struct np_addr *a)
{
	for (size_t i = alen(a); i-- > 0;)
		if (a->b[i]-- != 0)
			return true;
	return false;
}

void np_cidr_bounds(const struct np_cidr *c, struct np_addr *lo, struct np_addr *hi)
{
	*lo = c->addr;
	*hi = c->addr;
	size_t bits = alen(&c->addr) * 8;
	for (size_t i = c->prefix; i < bits; i++) {
		lo->b[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
		hi->b[i / 8] |= (uint8_t)(0x80u >> (i % 8));
	}
}

int np_range_prefix(const struct np_addr *lo, const struct np_addr *hi)
{
	/* the common leading bits are the prefix; below them lo must be all zeros and hi all
	 * ones */
	size_t bits = alen(lo) * 8, p = 0;
	while (p < bits && ((lo->b[p / 8] ^ hi->b[p / 8]) & (0x80u >> (p % 8))) == 0)
		p++;
	for (size_t i = p; i < bits; i++) {
		unsigned m = 0x80u >> (i % 8);
		if ((lo->b[i / 8] & m) || !(hi->b[i / 8] & m))
			return -1;
	}
	return (int)p;
}

void np_ranges_free(struct np_ranges *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static void push(struct np_ranges *r, const struct np_addr *lo, const struct np_addr *hi)
{
	VEC_GROW(r->v, r->n, r->cap);
	r->v[r->n].lo = *lo;
	r->v[r->n].hi = *hi;
	r->n++;
}

void np_ranges_add_cidr(struct np_ranges *r, const struct np_cidr *c)
{
	struct np_addr lo, hi;
	np_cidr_bounds(c, &lo, &hi);
	push(r, &lo, &hi);
}

static int range_cmp(const void *a, const void *b)
{
	const struct np_range *x = a, *y = b;
	int c = cmp(&x->lo, &y->lo);
	return c ? c : cmp(&x->hi, &y->hi);
}

void np_ranges_normalize(struct np_ranges *r)
{
	if (r->n < 2)
		return;
	qsort(r->v, r->n, sizeof(*r->v), range_cmp);
	size_t out = 0;
	for (size_t i = 1; i < r->n; i++) {
		struct np_range *last = &r->v[out];
		struct np_addr next = last->hi;
		bool wrapped = !np_addr_inc(&next);
		if (last->lo.family == r->v[i].lo.family &&
		    (wrapped || cmp(&r->v[i].lo, &next) <= 0)) {
			if (cmp(&r->v[i].hi, &last->hi) > 0)
				last->hi = r->v[i].hi;
		} else {
			r->v[++out] = r->v[i];
		}
	}
	r->n = out + 1;
}

void np_ranges_subtract_cidr(struct np_ranges *r, const struct np_cidr *c)
{
	struct np_addr lo, hi;
	np_cidr_bounds(c, &lo, &hi);
	struct np_ranges out = { 0 };
	for (size_t i = 0; i < r->n; i++) {
		struct np_range *x = &r->v[i];
		if (x->lo.family != lo.family || cmp(&x->hi, &lo) < 0 || cmp(&x->lo, &hi) > 0) {
			push(&out, &x->lo, &x->hi);
			continue;
		}
		if (cmp(&x->lo, &lo) < 0) {
			struct np_addr end = lo;
			np_addr_dec(&end);
			push(&out, &x->lo, &end);
		}
		if (cmp(&x->hi, &hi) > 0) {
			struct np_addr start = hi;
			np_addr_inc(&start);
			push(&out, &start, &x->hi);
		}
	}
	free(r->v);
	*r = out;
}

bool np_ranges_contains(const struct np_ranges *r, const struct np_addr *a)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].lo.family == a->family && cmp(&r->v[i].lo, a) <= 0 &&
		    cmp(a, &r->v[i].hi) <= 0)
			return true;
	return false;
}
