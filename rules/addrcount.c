/* addrcount.c — see addrcount.h. Open addressing, kept at most half full. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "addrcount.h"
#include "hash.h"
#include "xalloc.h"

struct addr_count {
	struct addr_slot {
		struct np_addr a;
		size_t n;
		bool used;
	} *v;
	size_t n, cap;
};

struct addr_count *addr_count_new(void)
{
	return xcalloc(1, sizeof(struct addr_count));
}

void addr_count_free(struct addr_count *c)
{
	if (c)
		free(c->v);
	free(c);
}

static struct addr_slot *slot(const struct addr_count *c, const struct np_addr *a)
{
	size_t i = np_hash(a->b, sizeof(a->b), NP_HASH_INIT ^ a->family) & (c->cap - 1);
	while (c->v[i].used && (c->v[i].a.family != a->family || memcmp(c->v[i].a.b, a->b, 16)))
		i = (i + 1) & (c->cap - 1);
	return &c->v[i];
}

size_t addr_count_get(const struct addr_count *c, const struct np_addr *a)
{
	if (!c || !c->cap)
		return 0;
	const struct addr_slot *s = slot(c, a);
	return s->used ? s->n : 0;
}

void addr_count_add(struct addr_count *c, const struct np_addr *a, long delta)
{
	if ((c->n + 1) * 2 > c->cap) {
		struct addr_count old = *c;
		c->cap = c->cap ? c->cap * 2 : 1024;
		c->v = xcalloc(c->cap, sizeof(*c->v));
		c->n = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.v[i].used)
				addr_count_add(c, &old.v[i].a, (long)old.v[i].n);
		free(old.v);
	}
	struct addr_slot *s = slot(c, a);
	if (!s->used) {
		s->used = true;
		s->a = *a;
		c->n++;
	}
	s->n = (size_t)((long)s->n + delta); /* (a slot at 0 stays: removals are rare) */
}

void addr_count_pod(struct addr_count *c, const struct np_pod *p, long delta)
{
	for (size_t i = 0; p && !p->host_network && i < p->n_ips; i++)
		addr_count_add(c, &p->ips[i], delta);
}
