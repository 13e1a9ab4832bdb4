/* ct.c — conntrack clean-up after narrowing changes (libnetfilter_conntrack). */
#include <errno.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ct.h"

static void add_range(struct ct_affected *a, uint8_t family, const uint8_t *lo,
		      const uint8_t *hi)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->v = realloc(a->v, a->cap * sizeof(*a->v));
		if (!a->v)
			abort();
	}
	struct ct_range *r = &a->v[a->n++];
	memset(r, 0, sizeof(*r));
	unsigned len = family == 4 ? 4 : 16;
	r->family = family;
	memcpy(r->lo, lo, len);
	memcpy(r->hi, hi, len);
}

/* The address family of a set's first key field, or 0 when it has no address first. */
static uint8_t set_family(const struct nl_set *s)
{
	uint32_t first = s->key_type;
	while (first >= 64)
		first >>= 6;
	return first == 7 ? 4 : first == 8 ? 6 : 0;
}

static void all_isolated(const struct nl_table *t, struct ct_affected *out)
{
	for (size_t i = 0; i < t->n_sets; i++) {
		const struct nl_set *s = &t->sets[i];
		uint8_t fam = set_family(s);
		if (!(s->flags & NFT_SET_MAP) || !fam)
			continue;
		for (size_t j = 0; j < s->n_elems; j++)
			add_range(out, fam, s->elems[j].lo, s->elems[j].lo);
	}
}

void ct_affected_from_diff(const struct nl_diff *d, struct ct_affected *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t ti = 0; ti < d->n_tables; ti++) {
		const struct nl_table_diff *td = &d->tables[ti];
		if (td->cur->family != NFPROTO_INET)
			continue; /* the bridge table is stateless */
		bool all = td->replace != NULL;
		for (size_t i = 0; i < td->n_chains; i++)
			all |= td->chains[i].old != NULL; /* rewritten, recreated or removed */
		for (size_t i = 0; i < td->n_sets && !all; i++) {
			const struct nl_set_diff *sd = &td->sets[i];
			const struct nl_set *s = sd->old ? sd->old : sd->cur;
			uint8_t fam = set_family(s);
			if (s->flags & NFT_SET_MAP) {
				for (size_t j = 0; fam && j < sd->n_add; j++)
					add_range(out, fam, sd->add[j]->lo, sd->add[j]->lo);
			} else if (!fam) {
				all |= sd->n_del > 0 || !sd->cur; /* a port set lost ports */
			} else {
				for (size_t j = 0; j < sd->n_del; j++)
					add_range(out, fam, sd->del[j]->lo, sd->del[j]->hi);
				if (!sd->cur) /* a whole peer set went away */
					for (size_t j = 0; j < s->n_elems; j++)
						add_range(out, fam, s->elems[j].lo, s->elems[j].hi);
			}
		}
		if (all)
			all_isolated(td->cur, out);
	}
}

void ct_affected_free(struct ct_affected *a)
{
	if (!a)
		return;
	free(a->v);
	memset(a, 0, sizeof(*a));
}

static bool in_ranges(const struct ct_affected *a, uint8_t family, const void *addr)
{
	if (!addr)
		return false;
	unsigned len = family == 4 ? 4 : 16;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].family == family && memcmp(addr, a->v[i].lo, len) >= 0 &&
		    memcmp(addr, a->v[i].hi, len) <= 0)
			return true;
	return false;
}

struct dump_ctx {
	const struct ct_affected *a;
	struct nf_conntrack **hit;
	size_t n, cap;
};

static int dump_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct dump_ctx *c = data;
	uint8_t l3 = nfct_get_attr_u8(ct, ATTR_L3PROTO);
	bool hit;
	if (l3 == AF_INET)
		hit = in_ranges(c->a, 4, nfct_get_attr(ct, ATTR_ORIG_IPV4_SRC)) ||
		      in_ranges(c->a, 4, nfct_get_attr(ct, ATTR_ORIG_IPV4_DST)) ||
		      in_ranges(c->a, 4, nfct_get_attr(ct, ATTR_REPL_IPV4_SRC)) ||
		      in_ranges(c->a, 4, nfct_get_attr(ct, ATTR_REPL_IPV4_DST));
	else if (l3 == AF_INET6)
		hit = in_ranges(c->a, 6, nfct_get_attr(ct, ATTR_ORIG_IPV6_SRC)) ||
		      in_ranges(c->a, 6, nfct_get_attr(ct, ATTR_ORIG_IPV6_DST)) ||
		      in_ranges(c->a, 6, nfct_get_attr(ct, ATTR_REPL_IPV6_SRC)) ||
		      in_ranges(c->a, 6, nfct_get_attr(ct, ATTR_REPL_IPV6_DST));
	else
		hit = false;
	if (hit) {
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 64;
			c->hit = realloc(c->hit, c->cap * sizeof(*c->hit));
			if (!c->hit)
				abort();
		}
		c->hit[c->n++] = nfct_clone(ct);
	}
	return NFCT_CB_CONTINUE;
}

/* Entries in this netns's table; -1 when unknown. Opening a dump costs ~10 ms on this kernel
 * even when the table is empty, so an empty table is checked first. */
static long ct_count(void)
{
	FILE *f = fopen("/proc/sys/net/netfilter/nf_conntrack_count", "r");
	long n = -1;
	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

int ct_flush_affected(const struct ct_affected *a, size_t *deleted)
{
	*deleted = 0;
	if (!a->n || ct_count() == 0)
		return 0;
	struct nfct_handle *h = nfct_open(CONNTRACK, 0);
	if (!h)
		return errno ? -errno : -EIO;
	struct dump_ctx c = { .a = a };
	nfct_callback_register(h, NFCT_T_ALL, dump_cb, &c);
	uint32_t family = AF_UNSPEC;
	int r = nfct_query(h, NFCT_Q_DUMP, &family) < 0 ? -errno : 0;
	nfct_callback_unregister(h);
	/* deletes after the dump: the handle cannot do both at once */
	for (size_t i = 0; i < c.n; i++) {
		if (c.hit[i] && nfct_query(h, NFCT_Q_DESTROY, c.hit[i]) == 0)
			(*deleted)++;
		nfct_destroy(c.hit[i]);
	}
	free(c.hit);
	nfct_close(h);
	return r;
}
