/* ct.c — conntrack clean-up after narrowing changes (libnetfilter_conntrack). */
#include <errno.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ct.h"
#include "eval.h"
#include "vec.h"
#include "xalloc.h"

static void add_range(struct ct_affected *a, uint8_t family, const uint8_t *lo,
		      const uint8_t *hi)
{
	struct ct_range *r = &VEC_PUSH(a->v, a->n, a->cap);
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

/* Does the table hold the admin tiers (their dispatch maps)? There a peer set that gains an
 * address can narrow: the set may feed an admin Deny, or a Pass that hands the flow to a
 * NetworkPolicy which drops it. */
static bool has_admin_tiers(const struct nl_table *t)
{
	for (size_t i = 0; i < t->n_sets; i++)
		if (!strcmp(t->sets[i].name, "aegr4") || !strcmp(t->sets[i].name, "begr4"))
			return true;
	return false;
}

void ct_affected_from_diff(const struct nl_diff *d, struct ct_affected *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t ti = 0; ti < d->n_tables; ti++) {
		const struct nl_table_diff *td = &d->tables[ti];
		if (td->cur->family != NFPROTO_INET)
			continue; /* the bridge table is stateless */
		bool all = td->replace != NULL;
		bool tiers = has_admin_tiers(td->cur);
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
				for (size_t j = 0; tiers && j < sd->n_add; j++)
					add_range(out, fam, sd->add[j]->lo, sd->add[j]->hi);
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

static int range_cmp(const void *a, const void *b)
{
	const struct ct_range *x = a, *y = b;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->lo, y->lo, 16);
}

/* Sorts the ranges and merges overlapping ones, so a lookup is a binary search: after a change
 * to every chain, every isolated pod's address is a range, and each of tens of thousands of
 * conntrack entries is looked up four times. */
static void normalize(struct ct_affected *a)
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

static bool in_ranges(const struct ct_affected *a, uint8_t family, const void *addr)
{
	if (!addr)
		return false;
	unsigned len = family == 4 ? 4 : 16;
	struct ct_range key = { .family = family };
	memcpy(key.lo, addr, len);
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

struct dump_ctx {
	const struct ct_affected *a;
	struct nf_conntrack **hit;
	size_t n, cap;
};

static bool touches(const struct ct_affected *a, const struct nf_conntrack *ct)
{
	uint8_t l3 = nfct_get_attr_u8(ct, ATTR_L3PROTO);
	if (l3 == AF_INET)
		return in_ranges(a, 4, nfct_get_attr(ct, ATTR_ORIG_IPV4_SRC)) ||
		       in_ranges(a, 4, nfct_get_attr(ct, ATTR_ORIG_IPV4_DST)) ||
		       in_ranges(a, 4, nfct_get_attr(ct, ATTR_REPL_IPV4_SRC)) ||
		       in_ranges(a, 4, nfct_get_attr(ct, ATTR_REPL_IPV4_DST));
	if (l3 == AF_INET6)
		return in_ranges(a, 6, nfct_get_attr(ct, ATTR_ORIG_IPV6_SRC)) ||
		       in_ranges(a, 6, nfct_get_attr(ct, ATTR_ORIG_IPV6_DST)) ||
		       in_ranges(a, 6, nfct_get_attr(ct, ATTR_REPL_IPV6_SRC)) ||
		       in_ranges(a, 6, nfct_get_attr(ct, ATTR_REPL_IPV6_DST));
	return false;
}

/* Keeps entries already marked and entries touching the affected ranges. */
static int dump_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct dump_ctx *c = data;
	bool marked = nfct_get_attr_u32(ct, ATTR_MARK) & RS_CT_MARK_REVOKED;
	if (marked || touches(c->a, ct)) {
		VEC_PUSH(c->hit, c->n, c->cap) = nfct_clone(ct);
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

static bool judged_proto(uint8_t p)
{
	return p == IPPROTO_TCP || p == IPPROTO_UDP || p == IPPROTO_SCTP;
}

/* Pods by address, sorted, so judging thousands of entries never scans every pod per entry
 * (what np_endpoint_addr does). Host-network pods are left out: their address is the node's. */
struct addr_index {
	struct pod_addr {
		struct np_addr addr;
		const struct np_pod *pod;
	} *v;
	size_t n;
};

static int pod_addr_cmp(const void *a, const void *b)
{
	return np_addr_cmp(&((const struct pod_addr *)a)->addr, &((const struct pod_addr *)b)->addr);
}

static void addr_index_build(const struct np_inventory *inv, struct addr_index *x)
{
	size_t n = 0;
	for (size_t i = 0; i < inv->n_pods; i++)
		n += inv->pods[i].host_network ? 0 : inv->pods[i].n_ips;
	x->v = xcalloc(n, sizeof(*x->v));
	x->n = 0;
	for (size_t i = 0; i < inv->n_pods; i++)
		for (size_t j = 0; !inv->pods[i].host_network && j < inv->pods[i].n_ips; j++)
			x->v[x->n++] = (struct pod_addr){ inv->pods[i].ips[j], &inv->pods[i] };
	qsort(x->v, x->n, sizeof(*x->v), pod_addr_cmp);
}

static void endpoint_of(const struct addr_index *x, const struct np_addr *a, struct np_endpoint *e)
{
	struct pod_addr key = { .addr = *a };
	const struct pod_addr *hit = bsearch(&key, x->v, x->n, sizeof(*x->v), pod_addr_cmp);
	e->pod = hit ? hit->pod : NULL;
	e->addr = *a;
}

/* The flow as the forward hook saw its first packet: the original source, and the reply's
 * source as destination (the real pod after any DNAT, e.g. a Service), its port likewise. */
static void flow_of(const struct addr_index *x, const struct nf_conntrack *ct, struct np_flow *f)
{
	struct np_addr src = { 0 }, dst = { 0 };
	if (nfct_get_attr_u8(ct, ATTR_L3PROTO) == AF_INET) {
		src.family = dst.family = 4;
		memcpy(src.b, nfct_get_attr(ct, ATTR_ORIG_IPV4_SRC), 4);
		memcpy(dst.b, nfct_get_attr(ct, ATTR_REPL_IPV4_SRC), 4);
	} else {
		src.family = dst.family = 6;
		memcpy(src.b, nfct_get_attr(ct, ATTR_ORIG_IPV6_SRC), 16);
		memcpy(dst.b, nfct_get_attr(ct, ATTR_REPL_IPV6_SRC), 16);
	}
	memset(f, 0, sizeof(*f));
	endpoint_of(x, &src, &f->src);
	endpoint_of(x, &dst, &f->dst);
	f->proto = (enum np_proto)nfct_get_attr_u8(ct, ATTR_L4PROTO);
	f->port = ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC));
}

/* Denied by a side this table enforces: egress at a local source, ingress at a local
 * destination. */
static bool denied_here(const struct np_eval *ev, const struct rs_options *ro,
			const struct np_flow *f)
{
	if (np_eval_allowed(ev, f))
		return false;
	struct np_verdict v;
	if (np_eval_explain(ev, f, &v) < 0)
		return false;
	bool d = (!v.egress.allowed && f->src.pod && ruleset_pod_local(ro, f->src.pod)) ||
		 (!v.ingress.allowed && f->dst.pod && ruleset_pod_local(ro, f->dst.pod));
	np_verdict_clear(&v);
	return d;
}

/* An update message names the entry by its original tuple (and zone) and carries the mark. */
static int set_mark(struct nfct_handle *h, const struct nf_conntrack *ct, uint32_t mark)
{
	static const enum nf_conntrack_attr keep[] = {
		ATTR_L3PROTO, ATTR_L4PROTO, ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV4_DST,
		ATTR_ORIG_IPV6_SRC, ATTR_ORIG_IPV6_DST, ATTR_ORIG_PORT_SRC, ATTR_ORIG_PORT_DST,
		ATTR_ZONE,
	};
	struct nf_conntrack *u = nfct_new();
	if (!u)
		abort();
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (nfct_attr_is_set(ct, keep[i]) > 0)
			nfct_set_attr(u, keep[i], nfct_get_attr(ct, keep[i]));
	nfct_set_attr_u32(u, ATTR_MARK, mark);
	int r = nfct_query(h, NFCT_Q_UPDATE, u) == 0 ? 0 : -errno;
	nfct_destroy(u);
	return r;
}

/* Dumps into c the entries that may change: those touching the affected ranges and those
 * already marked (with nothing narrowed, only the marked: the kernel filters the dump by
 * mark). 0 or -errno. */
static int dump_affected(struct nfct_handle *h, const struct ct_affected *a, struct dump_ctx *c)
{
	nfct_callback_register(h, NFCT_T_ALL, dump_cb, c);
	int r;
	if (a->n) {
		uint32_t family = AF_UNSPEC;
		r = nfct_query(h, NFCT_Q_DUMP, &family) < 0 ? -errno : 0;
	} else {
		struct nfct_filter_dump *fd = nfct_filter_dump_create();
		if (!fd)
			abort();
		struct nfct_filter_dump_mark m = { RS_CT_MARK_REVOKED, RS_CT_MARK_REVOKED };
		nfct_filter_dump_set_attr(fd, NFCT_FILTER_DUMP_MARK, &m);
		nfct_filter_dump_set_attr_u8(fd, NFCT_FILTER_DUMP_L3NUM, AF_UNSPEC);
		r = nfct_query(h, NFCT_Q_DUMP_FILTER, fd) < 0 ? -errno : 0;
		nfct_filter_dump_destroy(fd);
	}
	nfct_callback_unregister(h);
	return r;
}

/* Judges one dumped entry: marks it when this table no longer allows it, unmarks it when it
 * is allowed again; an entry with no ports to judge by is deleted (its next packet is judged
 * as new). 0 or -errno (-ENOENT: it ended meanwhile). */
static int judge(struct nfct_handle *h, struct nf_conntrack *ct, const struct np_eval *ev,
		 const struct addr_index *idx, const struct rs_options *ro, struct ct_stats *st)
{
	uint32_t mark = nfct_get_attr_u32(ct, ATTR_MARK);
	bool marked = mark & RS_CT_MARK_REVOKED;
	if (!judged_proto(nfct_get_attr_u8(ct, ATTR_L4PROTO))) {
		if (!marked && nfct_query(h, NFCT_Q_DESTROY, ct) == 0)
			st->deleted++;
		return 0;
	}
	struct np_flow f;
	flow_of(idx, ct, &f);
	bool deny = denied_here(ev, ro, &f);
	int e = 0;
	if (deny && !marked) {
		if (!(e = set_mark(h, ct, mark | RS_CT_MARK_REVOKED)))
			st->revoked++;
	} else if (!deny && marked) {
		if (!(e = set_mark(h, ct, mark & ~RS_CT_MARK_REVOKED)))
			st->restored++;
	}
	return e;
}

int ct_revoke(const struct ct_affected *a, const struct np_inventory *inv,
	      const struct rs_options *ro, struct ct_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (ct_count() == 0)
		return 0;
	struct nfct_handle *h = nfct_open(CONNTRACK, 0);
	if (!h)
		return errno ? -errno : -EIO;
	struct ct_affected sorted = { 0 };
	if (a->n) {
		sorted.v = xreallocarray(NULL, a->n, sizeof(*a->v));
		memcpy(sorted.v, a->v, a->n * sizeof(*a->v));
		sorted.n = sorted.cap = a->n;
		normalize(&sorted);
	}
	struct dump_ctx c = { .a = &sorted };
	int r = dump_affected(h, &sorted, &c);
	/* changes after the dump: the handle cannot do both at once */
	struct np_eval *ev = c.n ? np_eval_new(inv) : NULL;
	if (c.n && !ev)
		abort();
	struct addr_index idx = { 0 };
	if (c.n)
		addr_index_build(inv, &idx);
	for (size_t i = 0; i < c.n; i++) {
		int e = judge(h, c.hit[i], ev, &idx, ro, st);
		if (e < 0 && e != -ENOENT && !r)
			r = e;
		nfct_destroy(c.hit[i]);
	}
	np_eval_free(ev);
	free(idx.v);
	free(sorted.v);
	free(c.hit);
	nfct_close(h);
	return r;
}
