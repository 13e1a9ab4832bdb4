/* flowring.c — see flowring.h. */
#include <stdlib.h>

#include "flowring.h"
#include "xalloc.h"

struct flow_ring {
	struct flow_rec *v;
	size_t cap;
	uint64_t next; /* the seq the next push gets; the record of seq s is v[s % cap] */
};

struct flow_ring *flow_ring_new(size_t cap)
{
	struct flow_ring *r = xcalloc(1, sizeof(*r));
	r->cap = cap ? cap : 1;
	r->v = xcalloc(r->cap, sizeof(*r->v));
	for (size_t i = 0; i < r->cap; i++)
		flow_rec_init(&r->v[i]);
	r->next = 1;
	return r;
}

void flow_ring_free(struct flow_ring *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->cap; i++)
		flow_rec_clear(&r->v[i]);
	free(r->v);
	free(r);
}

uint64_t flow_ring_push(struct flow_ring *r, struct flow_rec *rec)
{
	uint64_t seq = r->next++;
	rec->seq = seq;
	flow_rec_move(&r->v[seq % r->cap], rec);
	return seq;
}

uint64_t flow_ring_first(const struct flow_ring *r)
{
	return r->next - 1 > r->cap ? r->next - r->cap : 1;
}

uint64_t flow_ring_next(const struct flow_ring *r)
{
	return r->next;
}

size_t flow_ring_cap(const struct flow_ring *r)
{
	return r->cap;
}

const struct flow_rec *flow_ring_get(const struct flow_ring *r, uint64_t seq)
{
	if (seq < flow_ring_first(r) || seq >= r->next)
		return NULL;
	return &r->v[seq % r->cap];
}

uint64_t flow_ring_last(const struct flow_ring *r, const struct flow_filter *f, size_t n)
{
	uint64_t first = flow_ring_first(r), at = r->next;
	for (uint64_t s = r->next; s > first && n;) {
		s--;
		if (flow_filter_match(f, &r->v[s % r->cap])) {
			at = s;
			n--;
		}
	}
	return at;
}
