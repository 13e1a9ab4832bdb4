/* nl_state.c — the comparable form of a table (from the IR or read back from the kernel), the
 * key encodings both sides share, and the diff between two states. */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "strmap.h"
#include "emit_nl.h"
#include "vec.h"
#include "xalloc.h"

/* nft datatype ids (nftables include/datatype.h) and how concatenations pack them. */
enum { DT_IPADDR = 7, DT_IP6ADDR = 8, DT_INET_PROTO = 12, DT_INET_SERVICE = 13, DT_IFNAME = 41 };
#define CONCAT2(a, b) (((a) << 6) | (b))
#define CONCAT3(a, b, c) (((a) << 12) | ((b) << 6) | (c))

struct nl_state *nl_state_new(void)
{
	struct nl_state *st = xcalloc(1, sizeof(*st));
	st->arena = np_arena_new();
	return st;
}

/* Encoded elements shared by the states of successive builds. */
struct nl_elems_blk {
	size_t refs;
	struct nl_elem e[];
};

static void blk_release(struct nl_elems_blk *b)
{
	if (!--b->refs)
		free(b);
}

void nl_state_free(struct nl_state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n_tables; i++) {
		struct nl_table *t = &st->tables[i];
		for (size_t j = 0; j < t->n_sets; j++) {
			if (t->sets[j].blk)
				blk_release(t->sets[j].blk);
			else
				free(t->sets[j].elems);
			if (t->sets[j].from)
				blk_release(t->sets[j].from);
		}
		free(t->sets);
		free(t->chains);
		free(t->counters);
		for (int k = 0; k < 3; k++)
			free(t->ix[k]);
	}
	free(st->tables);
	np_arena_free(st->arena);
	free(st);
}

struct nl_table *nl_state_add_table(struct nl_state *st, const char *name, uint32_t family)
{
	st->tables = xreallocarray(st->tables, st->n_tables + 1, sizeof(*st->tables));
	struct nl_table *t = &st->tables[st->n_tables++];
	memset(t, 0, sizeof(*t));
	t->name = np_arena_strdup(st->arena, name);
	t->family = family;
	return t;
}

struct nl_set *nl_table_add_set(struct nl_state *st, struct nl_table *t)
{
	struct nl_set *s = &VEC_PUSH(t->sets, t->n_sets, t->cap_sets);
	memset(s, 0, sizeof(*s));
	return s;
}

struct nl_chain *nl_table_add_chain(struct nl_state *st, struct nl_table *t)
{
	struct nl_chain *c = &VEC_PUSH(t->chains, t->n_chains, t->cap_chains);
	memset(c, 0, sizeof(*c));
	return c;
}

struct nl_counter *nl_table_add_counter(struct nl_state *st, struct nl_table *t)
{
	struct nl_counter *c = &VEC_PUSH(t->counters, t->n_counters, t->cap_counters);
	memset(c, 0, sizeof(*c));
	return c;
}

static int elem_cmp(const void *x, const void *y)
{
	const struct nl_elem *a = x, *b = y;
	int r = memcmp(a->lo, b->lo, NL_KEY_MAX);
	if (!r)
		r = memcmp(a->hi, b->hi, NL_KEY_MAX);
	if (!r)
		r = strcmp(a->chain ? a->chain : "", b->chain ? b->chain : "");
	return r;
}

void nl_set_sort(struct nl_set *s)
{
	/* the IR's sets usually arrive sorted already: check before paying for qsort */
	size_t i = 1;
	while (i < s->n_elems && elem_cmp(&s->elems[i - 1], &s->elems[i]) <= 0)
		i++;
	if (i < s->n_elems)
		qsort(s->elems, s->n_elems, sizeof(*s->elems), elem_cmp);
}

/* ---- keys ---- */

void nl_key_info(enum rs_key key, struct nl_keyinfo *out)
{
	memset(out, 0, sizeof(*out));
	switch (key) {
	case RS_KEY_IPV4:
		*out = (struct nl_keyinfo){ DT_IPADDR, 4, { 4 }, 1 };
		break;
	case RS_KEY_IPV6:
		*out = (struct nl_keyinfo){ DT_IP6ADDR, 16, { 16 }, 1 };
		break;
	case RS_KEY_PROTO_PORT:
		*out = (struct nl_keyinfo){ CONCAT2(DT_INET_PROTO, DT_INET_SERVICE), 8, { 1, 2 }, 2 };
		break;
	case RS_KEY_IPV4_PROTO_PORT:
		*out = (struct nl_keyinfo){ CONCAT3(DT_IPADDR, DT_INET_PROTO, DT_INET_SERVICE), 12,
					    { 4, 1, 2 }, 3 };
		break;
	case RS_KEY_IPV6_PROTO_PORT:
		*out = (struct nl_keyinfo){ CONCAT3(DT_IP6ADDR, DT_INET_PROTO, DT_INET_SERVICE), 24,
					    { 16, 1, 2 }, 3 };
		break;
	case RS_KEY_IFNAME:
		*out = (struct nl_keyinfo){ DT_IFNAME, 16, { 16 }, 1 };
		break;
	case RS_KEY_IFNAME_IPV4:
		*out = (struct nl_keyinfo){ CONCAT2(DT_IFNAME, DT_IPADDR), 20, { 16, 4 }, 2 };
		break;
	case RS_KEY_IFNAME_IPV6:
		*out = (struct nl_keyinfo){ CONCAT2(DT_IFNAME, DT_IP6ADDR), 32, { 16, 16 }, 2 };
		break;
	}
}

uint32_t nl_set_flags(const struct rs_set *s)
{
	struct nl_keyinfo ki;
	nl_key_info(s->key, &ki);
	uint32_t f = 0;
	if (s->interval)
		f |= NFT_SET_INTERVAL;
	/* nft marks only interval concatenations (the pipapo backend) as CONCAT */
	if (s->interval && ki.n_fields > 1)
		f |= NFT_SET_CONCAT;
	if (s->vmap)
		f |= NFT_SET_MAP;
	return f;
}

static void put_addr(uint8_t *p, const struct np_addr *a, unsigned len)
{
	memcpy(p, a->b, len);
}

static void put_port(uint8_t *p, uint16_t port)
{
	p[0] = port >> 8;
	p[1] = port & 0xff;
}

void nl_elem_encode(const struct rs_set *s, const struct rs_elem *e, struct nl_elem *out)
{
	memset(out, 0, sizeof(*out));
	out->chain = s->vmap ? e->target : NULL;
	uint8_t *lo = out->lo, *hi = out->hi;
	switch (s->key) {
	case RS_KEY_IPV4:
		put_addr(lo, &e->addr_lo, 4);
		put_addr(hi, s->interval ? &e->addr_hi : &e->addr_lo, 4);
		break;
	case RS_KEY_IPV6:
		put_addr(lo, &e->addr_lo, 16);
		put_addr(hi, s->interval ? &e->addr_hi : &e->addr_lo, 16);
		break;
	case RS_KEY_PROTO_PORT:
		lo[0] = hi[0] = e->proto;
		put_port(lo + 4, e->port_lo);
		put_port(hi + 4, s->interval ? e->port_hi : e->port_lo);
		break;
	case RS_KEY_IPV4_PROTO_PORT:
	case RS_KEY_IPV6_PROTO_PORT: {
		unsigned al = s->key == RS_KEY_IPV4_PROTO_PORT ? 4 : 16;
		put_addr(lo, &e->addr_lo, al);
		put_addr(hi, s->interval ? &e->addr_hi : &e->addr_lo, al);
		lo[al] = hi[al] = e->proto;
		put_port(lo + al + 4, e->port_lo);
		put_port(hi + al + 4, s->interval ? e->port_hi : e->port_lo);
		break;
	}
	case RS_KEY_IFNAME:
	case RS_KEY_IFNAME_IPV4:
	case RS_KEY_IFNAME_IPV6:
		strncpy((char *)lo, e->ifname, 16);
		memcpy(hi, lo, 16);
		if (s->key != RS_KEY_IFNAME) {
			unsigned al = s->key == RS_KEY_IFNAME_IPV4 ? 4 : 16;
			put_addr(lo + 16, &e->addr_lo, al);
			put_addr(hi + 16, s->interval ? &e->addr_hi : &e->addr_lo, al);
		}
		break;
	}
}

/* ---- state from the IR ---- */

static uint32_t hook_num(enum rs_hook h)
{
	switch (h) {
	case RS_HOOK_PREROUTING: return NF_INET_PRE_ROUTING;
	case RS_HOOK_INPUT: return NF_INET_LOCAL_IN;
	case RS_HOOK_FORWARD: return NF_INET_FORWARD;
	case RS_HOOK_OUTPUT: return NF_INET_LOCAL_OUT;
	case RS_HOOK_POSTROUTING: return NF_INET_POST_ROUTING;
	case RS_HOOK_NONE: break;
	}
	return 0;
}

static const struct nl_table *state_table(const struct nl_state *st, const char *name,
					  uint32_t family);
static const struct ix *table_ix(const struct nl_table *t, int k);
static const void *ix_find(const struct ix *x, size_t n, const char *name);

/* Encodes elements e[0..n) of rset into out, sorted in the state's order. */
static void encode_sorted(const struct rs_set *rset, const struct rs_elem *e, size_t n,
			  struct nl_elem *out)
{
	for (size_t i = 0; i < n; i++)
		nl_elem_encode(rset, &e[i], &out[i]);
	if (n > 1)
		qsort(out, n, sizeof(*out), elem_cmp);
}

/* s's elements as those of ps (its namesake in an earlier state) patched by rset->patch, with
 * what was taken out and put in noted on s; false when ps is not what the patch started from
 * or an element does not match (then s is left as it was). */
static bool elems_patched(struct nl_state *st, struct nl_set *s, const struct rs_set *rset,
			  const struct nl_set *ps)
{
	const struct rs_set_patch *p = rset->patch;
	if (!p || !ps || !ps->blk || !ps->ir || ps->ir->elems != p->base || rset->interval ||
	    ps->ir->interval || ps->n_elems != p->n_base || ps->ir->key != rset->key ||
	    ps->ir->vmap != rset->vmap || p->n_del > ps->n_elems)
		return false;
	struct nl_elem *del = xmalloc((p->n_del + p->n_add + 1) * sizeof(*del)), *add = del + p->n_del;
	encode_sorted(rset, p->del, p->n_del, del);
	encode_sorted(rset, p->add, p->n_add, add);
	size_t n = ps->n_elems - p->n_del + p->n_add;
	struct nl_elems_blk *blk = xmalloc(sizeof(*blk) + (n + 1) * sizeof(*blk->e));
	const struct nl_elem **fd = np_arena_alloc(st->arena, (p->n_del + 1) * sizeof(*fd));
	size_t *fa = xmalloc((p->n_add + 1) * sizeof(*fa));
	size_t i = 0, j = 0, k = 0, w = 0;
	bool ok = true;
	while (ok && (i < ps->n_elems || k < p->n_add)) {
		const struct nl_elem *o = i < ps->n_elems ? &ps->elems[i] : NULL;
		int cd = j < p->n_del ? (o ? elem_cmp(&del[j], o) : -1) : 1;
		int ca = k < p->n_add ? (o ? elem_cmp(&add[k], o) : -1) : 1;
		if (cd == 0) {
			fd[j++] = o;
			i++;
		} else if (cd < 0 || ca == 0 || w == n) {
			ok = false; /* not there to take out, or there already */
		} else if (ca < 0) {
			fa[k] = w;
			blk->e[w++] = add[k++];
		} else {
			blk->e[w++] = *o;
			i++;
		}
	}
	if (ok && j == p->n_del && w == n) {
		blk->refs = 1;
		s->blk = blk;
		s->elems = blk->e;
		s->n_elems = n;
		s->from = ps->blk;
		s->from->refs++;
		s->from_del = fd;
		s->from_add = np_arena_alloc(st->arena, (p->n_add + 1) * sizeof(*s->from_add));
		/* an element taken out and put back the same (a rebuilt pod's map element: a new
		 * target string, the same chain) is no difference */
		size_t a = 0, b = 0, nd = 0, na = 0;
		while (a < p->n_del || b < p->n_add) {
			const struct nl_elem *e = b < p->n_add ? &blk->e[fa[b]] : NULL;
			int c = a == p->n_del ? 1 : !e ? -1 : elem_cmp(fd[a], e);
			if (c == 0)
				a++, b++;
			else if (c < 0)
				fd[nd++] = fd[a++];
			else
				s->from_add[na++] = e, b++;
		}
		s->n_from_del = nd;
		s->n_from_add = na;
	} else {
		free(blk);
		ok = false;
	}
	free(fa);
	free(del);
	return ok;
}

/* Set rset as the kernel holds it into s, its elements shared with ps (its namesake in the
 * previous state, or NULL) when they are the same IR elements, or patched from them. */
static void state_set(struct nl_state *st, struct nl_set *s, const struct nl_set *ps,
		      const struct rs_set *rset)
{
	struct nl_keyinfo ki;
	nl_key_info(rset->key, &ki);
	memset(s, 0, sizeof(*s));
	s->ir = rset;
	s->name = rset->name;
	s->comment = rset->comment;
	s->flags = nl_set_flags(rset);
	s->key_type = ki.type;
	s->key_len = ki.len;
	s->data_type = rset->vmap ? NFT_DATA_VERDICT : 0;
	s->n_elems = rset->n_elems;
	if (ps && ps->blk && ps->ir && ps->ir->elems == rset->elems &&
	    ps->ir->n_elems == rset->n_elems && ps->ir->key == rset->key &&
	    ps->ir->interval == rset->interval) {
		s->blk = ps->blk;
		s->blk->refs++;
		s->elems = s->blk->e;
		return;
	}
	if (elems_patched(st, s, rset, ps))
		return;
	s->blk = xcalloc(1, sizeof(*s->blk) + (rset->n_elems + 1) * sizeof(*s->elems));
	s->blk->refs = 1;
	s->elems = s->blk->e;
	for (size_t e = 0; e < rset->n_elems; e++)
		nl_elem_encode(rset, &rset->elems[e], &s->elems[e]);
	nl_set_sort(s);
}

/* Chain rc as the kernel holds it into c (its rules' comments are the IR's). */
static void state_chain(struct nl_chain *c, const struct rs_chain *rc)
{
	memset(c, 0, sizeof(*c));
	c->ir = rc;
	c->name = rc->name;
	c->comment = rc->comment;
	c->base = rc->hook != RS_HOOK_NONE;
	if (c->base) {
		c->type = "filter";
		c->hook = hook_num(rc->hook);
		c->prio = rc->prio;
		c->policy = rc->policy_drop ? NF_DROP : NF_ACCEPT;
	}
	c->n_rules = rc->n_rules;
}

static void state_counter(struct nl_counter *c, const struct rs_counter *rc)
{
	memset(c, 0, sizeof(*c));
	c->name = rc->name;
	c->comment = rc->comment;
}

/* Every object of rt into t, each set sharing or patching its elements from its namesake in
 * pt (the previous state's table, or NULL). */
static void state_whole(struct nl_state *st, struct nl_table *t, const struct nl_table *pt,
			const struct rs_table *rt)
{
	t->sets = xcalloc(rt->n_sets + 1, sizeof(*t->sets));
	t->chains = xcalloc(rt->n_chains + 1, sizeof(*t->chains));
	t->counters = xcalloc(rt->n_counters + 1, sizeof(*t->counters));
	t->cap_sets = t->n_sets = rt->n_sets;
	t->cap_chains = t->n_chains = rt->n_chains;
	t->cap_counters = t->n_counters = rt->n_counters;
	const struct ix *px = pt ? table_ix(pt, 0) : NULL;
	for (size_t i = 0; i < rt->n_sets; i++)
		state_set(st, &t->sets[i], px ? ix_find(px, pt->n_sets, rt->sets[i].name) : NULL,
			  &rt->sets[i]);
	for (size_t i = 0; i < rt->n_counters; i++)
		state_counter(&t->counters[i], &rt->counters[i]);
	for (size_t i = 0; i < rt->n_chains; i++)
		state_chain(&t->chains[i], &rt->chains[i]);
}

/* The namesakes of the objects an edit takes out of an earlier version: name -> object. */
static void edit_names(struct strmap *m, const struct rs_edit *e, const void *base, size_t sz)
{
	for (size_t i = 0; i < e->n_del; i++) {
		const char *o = (const char *)base + e->del[i] * sz;
		strmap_put(m, *(const char *const *)o, (uintptr_t)o);
	}
}

static const void *edit_namesake(const struct strmap *m, const char *name)
{
	size_t v;
	return strmap_get(m, name, &v) ? (const void *)(uintptr_t)v : NULL;
}

/* Walks edit e from an old array of n_old objects to a new one of n_new: calls keep(i_old,
 * i_new) for every object that stays, make(i_new) for every new one. */
#define EDIT_WALK(e, n_new, KEEP, MAKE)                                                   \
	do {                                                                              \
		size_t i_ = 0, kd_ = 0, ki_ = 0;                                          \
		for (size_t j_ = 0; j_ < (n_new); j_++) {                                 \
			if (ki_ < (e)->n_ins && (e)->ins[ki_] == j_) {                    \
				ki_++;                                                    \
				MAKE(j_);                                                 \
				continue;                                                 \
			}                                                                 \
			while (kd_ < (e)->n_del && (e)->del[kd_] == i_)                   \
				kd_++, i_++;                                              \
			KEEP(i_, j_);                                                     \
			i_++;                                                             \
		}                                                                         \
	} while (0)

/* t from pt (the state of the table rt was patched from): the objects the delta names made
 * anew, every other copied (they are the same IR objects, now at rt's address). */
static void state_patched(struct nl_state *st, struct nl_table *t, const struct nl_table *pt,
			  const struct rs_table *rt)
{
	const struct rs_delta *d = rt->delta;
	struct strmap names = { 0 };
	t->sets = xcalloc(rt->n_sets + 1, sizeof(*t->sets));
	t->chains = xcalloc(rt->n_chains + 1, sizeof(*t->chains));
	t->counters = xcalloc(rt->n_counters + 1, sizeof(*t->counters));
	t->cap_sets = t->n_sets = rt->n_sets;
	t->cap_chains = t->n_chains = rt->n_chains;
	t->cap_counters = t->n_counters = rt->n_counters;

	edit_names(&names, &d->sets, pt->sets, sizeof(*pt->sets));
#define KEEP_SET(i, j)                                               \
	do {                                                         \
		t->sets[j] = pt->sets[i];                            \
		t->sets[j].ir = &rt->sets[j];                        \
		t->sets[j].from = NULL;                              \
		t->sets[j].n_from_del = t->sets[j].n_from_add = 0;   \
		t->sets[j].blk->refs++;                              \
	} while (0)
#define MAKE_SET(j) state_set(st, &t->sets[j], edit_namesake(&names, rt->sets[j].name), \
			      &rt->sets[j])
	EDIT_WALK(&d->sets, rt->n_sets, KEEP_SET, MAKE_SET);
#define KEEP_CHAIN(i, j)                             \
	do {                                         \
		t->chains[j] = pt->chains[i];        \
		t->chains[j].ir = &rt->chains[j];    \
	} while (0)
#define MAKE_CHAIN(j) state_chain(&t->chains[j], &rt->chains[j])
	EDIT_WALK(&d->chains, rt->n_chains, KEEP_CHAIN, MAKE_CHAIN);
#define KEEP_COUNTER(i, j) (t->counters[j] = pt->counters[i])
#define MAKE_COUNTER(j) state_counter(&t->counters[j], &rt->counters[j])
	EDIT_WALK(&d->counters, rt->n_counters, KEEP_COUNTER, MAKE_COUNTER);
	strmap_free(&names);
}

/* Whether t (of prev, the state to reuse from) was made from the table rt's delta starts from,
 * objects in the same order as it: then rt's state is a patch of it. */
static bool patchable(const struct nl_table *pt, const struct rs_table *rt)
{
	const struct rs_delta *d = rt->delta;
	if (!d || !pt || pt->ir != d->base)
		return false;
	const struct rs_table *b = pt->ir;
	return pt->n_sets == b->n_sets && pt->n_chains == b->n_chains &&
	       pt->n_counters == b->n_counters &&
	       pt->n_sets - d->sets.n_del + d->sets.n_ins == rt->n_sets &&
	       pt->n_chains - d->chains.n_del + d->chains.n_ins == rt->n_chains &&
	       pt->n_counters - d->counters.n_del + d->counters.n_ins == rt->n_counters;
}

int nl_state_from_ruleset_reusing(const struct rs_ruleset *rs, const struct nl_state *prev,
				  struct nl_state **out)
{
	struct nl_state *st = nl_state_new();
	for (size_t ti = 0; ti < rs->n_tables; ti++) {
		const struct rs_table *rt = &rs->tables[ti];
		struct nl_table *t = nl_state_add_table(
			st, rt->name, rt->family == RS_FAMILY_INET ? NFPROTO_INET : NFPROTO_BRIDGE);
		t->ir = rt;
		t->present = true;
		t->flags = NL_TABLE_F_OWNER | NL_TABLE_F_PERSIST;
		t->comment = rt->comment;
		/* the previous state's namesake table, whose sets may share their elements */
		const struct nl_table *pt = prev ? state_table(prev, t->name, t->family) : NULL;
		if (patchable(pt, rt))
			state_patched(st, t, pt, rt);
		else
			state_whole(st, t, pt, rt);
	}
	*out = st;
	return 0;
}

int nl_state_from_ruleset(const struct rs_ruleset *rs, struct nl_state **out)
{
	return nl_state_from_ruleset_reusing(rs, NULL, out);
}

/* ---- kernel elements ---- */

static int raw_cmp(const void *x, const void *y)
{
	const struct nl_raw_elem *a = *(const struct nl_raw_elem *const *)x;
	const struct nl_raw_elem *b = *(const struct nl_raw_elem *const *)y;
	int r = memcmp(a->key, b->key, NL_KEY_MAX);
	if (r)
		return r;
	/* an end boundary sorts before a start at the same key: it closes the earlier range */
	return (int)(b->flags & NFT_SET_ELEM_INTERVAL_END) - (int)(a->flags & NFT_SET_ELEM_INTERVAL_END);
}

/* Big-endian decrement over len bytes; end boundaries are exclusive (last + 1). */
static void be_dec(uint8_t *p, unsigned len)
{
	for (unsigned i = len; i-- > 0;)
		if (p[i]-- != 0)
			break;
}

void nl_set_add_kernel_elems(struct nl_state *st, struct nl_set *s,
			     const struct nl_raw_elem *raw, size_t n)
{
	size_t base = s->n_elems;
	s->elems = xreallocarray(s->elems, base + n + 1, sizeof(*s->elems));
	bool rbtree = (s->flags & NFT_SET_INTERVAL) && !(s->flags & NFT_SET_CONCAT);
	if (!rbtree) {
		for (size_t i = 0; i < n; i++) {
			struct nl_elem *e = &s->elems[s->n_elems];
			memset(e, 0, sizeof(*e));
			if (raw[i].key_len != s->key_len ||
			    (raw[i].key_end_len && raw[i].key_end_len != s->key_len)) {
				s->garbled = true;
				continue;
			}
			memcpy(e->lo, raw[i].key, s->key_len);
			memcpy(e->hi, raw[i].key_end_len ? raw[i].key_end : raw[i].key, s->key_len);
			if (raw[i].chain)
				e->chain = np_arena_strdup(st->arena, raw[i].chain);
			s->n_elems++;
		}
		nl_set_sort(s);
		return;
	}
	const struct nl_raw_elem **v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i] = &raw[i];
		if (raw[i].key_len != s->key_len)
			s->garbled = true;
	}
	qsort(v, n, sizeof(*v), raw_cmp);
	const struct nl_raw_elem *start = NULL;
	for (size_t i = 0; i < n && !s->garbled; i++) {
		bool end = v[i]->flags & NFT_SET_ELEM_INTERVAL_END;
		if (!end) {
			if (start)
				s->garbled = true; /* two starts in a row: not a layout we write */
			start = v[i];
			continue;
		}
		if (!start)
			continue; /* nft's key-0 end marker, or an end we do not pair: no range */
		struct nl_elem *e = &s->elems[s->n_elems++];
		memset(e, 0, sizeof(*e));
		memcpy(e->lo, start->key, s->key_len);
		memcpy(e->hi, v[i]->key, s->key_len);
		be_dec(e->hi, s->key_len);
		start = NULL;
	}
	if (start && !s->garbled) { /* a range up to all-ones has no end element */
		struct nl_elem *e = &s->elems[s->n_elems++];
		memset(e, 0, sizeof(*e));
		memcpy(e->lo, start->key, s->key_len);
		memset(e->hi, 0xff, s->key_len);
	}
	free(v);
	nl_set_sort(s);
}

/* ---- element text ---- */

static size_t field_str(char *buf, size_t size, unsigned dt, const uint8_t *lo, const uint8_t *hi)
{
	char a[64], b[64];
	switch (dt) {
	case DT_IPADDR:
	case DT_IP6ADDR: {
		int af = dt == DT_IPADDR ? AF_INET : AF_INET6;
		unsigned l = dt == DT_IPADDR ? 4 : 16;
		inet_ntop(af, lo, a, sizeof(a));
		if (!memcmp(lo, hi, l))
			return snprintf(buf, size, "%s", a);
		inet_ntop(af, hi, b, sizeof(b));
		return snprintf(buf, size, "%s-%s", a, b);
	}
	case DT_INET_PROTO:
		if (lo[0] == 6)
			return snprintf(buf, size, "tcp");
		if (lo[0] == 17)
			return snprintf(buf, size, "udp");
		if (lo[0] == 132)
			return snprintf(buf, size, "sctp");
		return snprintf(buf, size, "%u", lo[0]);
	case DT_INET_SERVICE: {
		unsigned pl = lo[0] << 8 | lo[1], ph = hi[0] << 8 | hi[1];
		return pl == ph ? snprintf(buf, size, "%u", pl) : snprintf(buf, size, "%u-%u", pl, ph);
	}
	case DT_IFNAME:
		return snprintf(buf, size, "\"%.16s\"", (const char *)lo);
	}
	return snprintf(buf, size, "?");
}

const char *nl_elem_str(const struct nl_set *s, const struct nl_elem *e, char *buf, size_t size)
{
	unsigned types[3], lens[3], n = 0;
	uint32_t kt = s->key_type;
	/* split the concatenated type back into its 6-bit subtypes, first field highest */
	while (kt && n < 3) {
		types[n++] = kt & 0x3f;
		kt >>= 6;
	}
	for (unsigned i = 0; i < n / 2; i++) {
		unsigned t = types[i];
		types[i] = types[n - 1 - i];
		types[n - 1 - i] = t;
	}
	if (n == 1)
		types[0] = s->key_type;
	for (unsigned i = 0; i < n; i++)
		lens[i] = types[i] == DT_IP6ADDR || types[i] == DT_IFNAME ? 16 : 4;
	size_t off = 0, pos = 0;
	buf[0] = 0;
	for (unsigned i = 0; i < n && pos < size; i++) {
		if (i)
			pos += snprintf(buf + pos, size - pos, " . ");
		if (pos < size)
			pos += field_str(buf + pos, size - pos, types[i], e->lo + off, e->hi + off);
		off += lens[i];
	}
	if (e->chain && pos < size)
		snprintf(buf + pos, size - pos, " : goto %s", e->chain);
	return buf;
}

/* ---- diff ---- */

static int name_cmp(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static bool str_eq(const char *a, const char *b)
{
	return !name_cmp(a, b);
}

/* Sorted index over an array of objects that start with a name pointer member at offset off. */
/* Index over an array of objects that start with a name pointer member at offset off: open
 * addressing on the name's hash (a diff looks up every object of one state in the other). */
struct ix {
	size_t mask;
	struct ix_ent {
		const char *name;
		const void *obj;
	} v[];
};


static struct ix *ix_build(const void *base, size_t n, size_t size, size_t name_off)
{
	size_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	struct ix *x = xcalloc(1, sizeof(*x) + cap * sizeof(x->v[0]));
	x->mask = cap - 1;
	for (size_t i = 0; i < n; i++) {
		const char *obj = (const char *)base + i * size;
		const char *name = *(const char *const *)(obj + name_off);
		if (!name)
			continue;
		size_t k = np_hash_str(name) & x->mask;
		while (x->v[k].name && strcmp(x->v[k].name, name))
			k = (k + 1) & x->mask;
		if (!x->v[k].name) /* the first of a name wins, as a sorted search would find */
			x->v[k] = (struct ix_ent){ name, obj };
	}
	return x;
}

static const void *ix_find(const struct ix *x, size_t n, const char *name)
{
	(void)n;
	if (!name)
		return NULL;
	size_t k = np_hash_str(name) & x->mask;
	while (x->v[k].name) {
		if (!strcmp(x->v[k].name, name))
			return x->v[k].obj;
		k = (k + 1) & x->mask;
	}
	return NULL;
}

/* The name index k (0 sets, 1 chains, 2 counters) of t, built once. */
static const struct ix *table_ix(const struct nl_table *t, int k)
{
	struct nl_table *m = (struct nl_table *)t; /* a cache: the table itself does not change */
	if (!m->ix[k])
		m->ix[k] = k == 0 ? ix_build(t->sets, t->n_sets, sizeof(*t->sets),
					     offsetof(struct nl_set, name))
			 : k == 1 ? ix_build(t->chains, t->n_chains, sizeof(*t->chains),
					     offsetof(struct nl_chain, name))
				  : ix_build(t->counters, t->n_counters, sizeof(*t->counters),
					     offsetof(struct nl_counter, name));
	return m->ix[k];
}

static const struct nl_table *state_table(const struct nl_state *st, const char *name,
					  uint32_t family)
{
	for (size_t i = 0; i < st->n_tables; i++)
		if (st->tables[i].family == family && !strcmp(st->tables[i].name, name))
			return &st->tables[i];
	return NULL;
}

/* Equal elements: key and key end are adjacent, so one memcmp covers both. Most elements of
 * an incremental diff are equal, so this is the test the merge below makes first. */
static bool elem_eq(const struct nl_elem *a, const struct nl_elem *b)
{
	_Static_assert(offsetof(struct nl_elem, hi) == NL_KEY_MAX, "lo and hi adjacent");
	if (memcmp(a->lo, b->lo, 2 * NL_KEY_MAX))
		return false;
	return a->chain == b->chain || (a->chain && b->chain && !strcmp(a->chain, b->chain));
}

static void diff_elems(struct np_arena *a, const struct nl_set *o, const struct nl_set *c,
		       struct nl_set_diff *sd)
{
	size_t no = o ? o->n_elems : 0, nc = c ? c->n_elems : 0;
	size_t i = 0, j = 0;
	if (o && c && o->elems == c->elems && no == nc)
		return; /* shared by the two states: the same elements */
	if (o && c && c->from && c->from == o->blk) {
		/* c is o patched: what the patch took out and put in is the difference */
		sd->del = c->from_del;
		sd->n_del = c->n_from_del;
		sd->add = c->from_add;
		sd->n_add = c->n_from_add;
		return;
	}
	/* the common case: equal sets, nothing to allocate */
	while (i < no && j < nc && elem_eq(&o->elems[i], &c->elems[j]))
		i++, j++;
	if (i == no && j == nc)
		return;
	sd->del = np_arena_alloc(a, (no + 1) * sizeof(*sd->del));
	sd->add = np_arena_alloc(a, (nc + 1) * sizeof(*sd->add));
	while (i < no || j < nc) {
		int r = i == no ? 1 : j == nc ? -1 :
			elem_eq(&o->elems[i], &c->elems[j]) ? 0 : elem_cmp(&o->elems[i], &c->elems[j]);
		if (r < 0)
			sd->del[sd->n_del++] = &o->elems[i++];
		else if (r > 0)
			sd->add[sd->n_add++] = &c->elems[j++];
		else
			i++, j++;
	}
}

/* Rule i's comment: read back, or the IR's. */
static const char *rule_comment(const struct nl_chain *c, size_t i)
{
	return c->rules ? c->rules[i] : c->ir ? c->ir->rules[i].comment : NULL;
}

static bool chain_rules_eq(const struct nl_chain *o, const struct nl_chain *c)
{
	if (o->n_rules != c->n_rules)
		return false;
	if (o->ir && c->ir && o->ir->rules == c->ir->rules)
		return true; /* the same fragment's rules */
	for (size_t i = 0; i < o->n_rules; i++) {
		const char *a = rule_comment(o, i), *b = rule_comment(c, i);
		if (!a || !b || strcmp(a, b))
			return false;
	}
	return true;
}

/* Does any rule of the table jump or go to chain name? */
static bool is_jump_target(const struct nl_table *t, const char *name)
{
	for (size_t i = 0; t->ir && i < t->ir->n_chains; i++) {
		const struct rs_chain *c = &t->ir->chains[i];
		for (size_t r = 0; r < c->n_rules; r++)
			if ((c->rules[r].verdict == RS_V_JUMP || c->rules[r].verdict == RS_V_GOTO) &&
			    !strcmp(c->rules[r].target, name))
				return true;
	}
	return false;
}

static bool in_names(const char **v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], name))
			return true;
	return false;
}

/* Element diff plus, for maps, every element pointing at a recreated chain: deleted before the
 * chain is and added again after. */
static void diff_elems_recreate(struct np_arena *a, const struct nl_set *o, const struct nl_set *c,
				const char **rec, size_t n_rec, struct nl_set_diff *sd)
{
	diff_elems(a, o, c, sd);
	if (!n_rec || !o || !c || !(c->flags & NFT_SET_MAP))
		return;
	const struct nl_elem **del = np_arena_alloc(a, (o->n_elems + 1) * sizeof(*del));
	const struct nl_elem **add = np_arena_alloc(a, (c->n_elems + 1) * sizeof(*add));
	size_t nd = 0, na = 0, i = 0;
	for (size_t k = 0; k < o->n_elems; k++) {
		const struct nl_elem *e = &o->elems[k];
		bool listed = i < sd->n_del && sd->del[i] == e;
		i += listed;
		if (listed || (e->chain && in_names(rec, n_rec, e->chain)))
			del[nd++] = e;
	}
	i = 0;
	for (size_t k = 0; k < c->n_elems; k++) {
		const struct nl_elem *e = &c->elems[k];
		bool listed = i < sd->n_add && sd->add[i] == e;
		i += listed;
		if (listed || (e->chain && in_names(rec, n_rec, e->chain)))
			add[na++] = e;
	}
	sd->del = del;
	sd->n_del = nd;
	sd->add = add;
	sd->n_add = na;
}

bool nl_table_accept_unowned(struct nl_table *want, const struct nl_table *have)
{
	if (!have->present || (have->flags & NL_TABLE_F_PERSIST) ||
	    !(want->flags & NL_TABLE_F_PERSIST))
		return false;
	want->flags = have->flags;
	return true;
}

/* Why a present table cannot be updated in place, or NULL. */
/* Each current object's namesake in the kernel's table (NULL: none), looked up once. */
struct namesakes {
	const struct nl_set **sets;
	const struct nl_chain **chains;
	const struct nl_counter **counters;
};

static void find_namesakes(struct np_arena *a, const struct nl_table *o,
			   const struct nl_table *c, struct namesakes *p)
{
	p->sets = np_arena_alloc(a, (c->n_sets + 1) * sizeof(*p->sets));
	p->chains = np_arena_alloc(a, (c->n_chains + 1) * sizeof(*p->chains));
	p->counters = np_arena_alloc(a, (c->n_counters + 1) * sizeof(*p->counters));
	if (!o)
		return;
	const struct ix *os = table_ix(o, 0), *oc = table_ix(o, 1), *ok = table_ix(o, 2);
	for (size_t i = 0; i < c->n_sets; i++)
		p->sets[i] = ix_find(os, o->n_sets, c->sets[i].name);
	for (size_t i = 0; i < c->n_chains; i++)
		p->chains[i] = ix_find(oc, o->n_chains, c->chains[i].name);
	for (size_t i = 0; i < c->n_counters; i++)
		p->counters[i] = ix_find(ok, o->n_counters, c->counters[i].name);
}

static const char *table_mismatch(struct np_arena *a, const struct nl_table *o,
				  const struct nl_table *c, const struct namesakes *p)
{
	if (!o || !o->present)
		return "not installed";
	if ((o->flags & NL_TABLE_F_PERSIST) != (c->flags & NL_TABLE_F_PERSIST))
		return "table flags differ";
	if (!str_eq(o->comment, c->comment))
		return "table comment differs";
	for (size_t i = 0; i < c->n_sets; i++) {
		const struct nl_set *s = &c->sets[i], *os_ = p->sets[i];
		if (!os_)
			continue;
		if (os_->garbled)
			return np_arena_printf(a, "set %s: elements not understood", s->name);
		if (os_->flags != s->flags || os_->key_type != s->key_type ||
		    os_->key_len != s->key_len || os_->data_type != s->data_type ||
		    !str_eq(os_->comment, s->comment))
			return np_arena_printf(a, "set %s: definition differs", s->name);
	}
	for (size_t i = 0; i < c->n_chains; i++) {
		const struct nl_chain *ch = &c->chains[i], *oc_ = p->chains[i];
		if (!oc_)
			continue;
		if (oc_->base != ch->base || (ch->base && (oc_->hook != ch->hook ||
							   oc_->prio != ch->prio ||
							   oc_->policy != ch->policy ||
							   !str_eq(oc_->type, ch->type))))
			return np_arena_printf(a, "chain %s: hook, priority or policy differs",
					       ch->name);
		/* a regular chain's comment is fixed by recreating it, unless rules jump to it */
		if (!str_eq(oc_->comment, ch->comment) && (ch->base || is_jump_target(c, ch->name)))
			return np_arena_printf(a, "chain %s: comment differs", ch->name);
	}
	for (size_t i = 0; i < c->n_counters; i++) {
		const struct nl_counter *k = &c->counters[i], *ok_ = p->counters[i];
		if (ok_ && !str_eq(ok_->comment, k->comment))
			return np_arena_printf(a, "counter %s: comment differs", k->name);
	}
	return NULL;
}

/* The regular chains whose comment differs from their namesake's: deleted and created again
 * (the elements of maps that point at them with them). Returns how many, in rec. */
static size_t recreated(const struct nl_table *c, const struct namesakes *p, const char **rec)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n_chains; i++)
		if (p->chains[i] && !str_eq(p->chains[i]->comment, c->chains[i].comment))
			rec[n++] = c->chains[i].name;
	return n;
}

/* What a diff of table c against o (NULL: replaced whole) compares with. */
struct table_pair {
	struct nl_diff *d;
	const struct nl_table *o, *c; /* o NULL: the table is replaced whole */
	const struct namesakes *p;
};

static void diff_sets(const struct table_pair *tp, const char **rec, size_t n_rec,
		      struct nl_table_diff *td)
{
	struct np_arena *a = tp->d->arena;
	const struct nl_table *o = tp->o, *c = tp->c;
	size_t no_s = o ? o->n_sets : 0;
	td->sets = np_arena_alloc(a, (c->n_sets + no_s + 1) * sizeof(*td->sets));
	for (size_t i = 0; i < c->n_sets; i++) {
		const struct nl_set *s = &c->sets[i];
		const struct nl_set *prev = o ? tp->p->sets[i] : NULL;
		struct nl_set_diff *sd = &td->sets[td->n_sets];
		sd->old = prev;
		sd->cur = s;
		diff_elems_recreate(a, prev, s, rec, n_rec, sd);
		if (!prev || sd->n_del || sd->n_add)
			td->n_sets++;
		tp->d->changes += !prev + sd->n_del + sd->n_add;
	}
	const struct ix *cs = table_ix(c, 0);
	for (size_t i = 0; i < no_s; i++) {
		if (o->sets[i].flags & NFT_SET_ANONYMOUS)
			continue;
		if (!ix_find(cs, c->n_sets, o->sets[i].name)) {
			td->sets[td->n_sets++] = (struct nl_set_diff){ .old = &o->sets[i] };
			tp->d->changes++;
		}
	}
}

static void diff_chains(const struct table_pair *tp, struct nl_table_diff *td)
{
	const struct nl_table *o = tp->o, *c = tp->c;
	size_t no_c = o ? o->n_chains : 0;
	td->chains = np_arena_alloc(tp->d->arena, (c->n_chains + no_c + 1) * sizeof(*td->chains));
	for (size_t i = 0; i < c->n_chains; i++) {
		const struct nl_chain *ch = &c->chains[i];
		const struct nl_chain *prev = o ? tp->p->chains[i] : NULL;
		bool recreate = prev && !str_eq(prev->comment, ch->comment);
		bool rewrite = prev && !recreate && !chain_rules_eq(prev, ch);
		if (!prev || rewrite || recreate) {
			td->chains[td->n_chains++] = (struct nl_chain_diff){
				.old = prev, .cur = ch, .rewrite = rewrite, .recreate = recreate
			};
			tp->d->changes++;
		}
	}
	const struct ix *cc = table_ix(c, 1);
	for (size_t i = 0; i < no_c; i++)
		if (!ix_find(cc, c->n_chains, o->chains[i].name)) {
			td->chains[td->n_chains++] = (struct nl_chain_diff){ .old = &o->chains[i] };
			tp->d->changes++;
		}
}

static void diff_counters(const struct table_pair *tp, struct nl_table_diff *td)
{
	const struct nl_table *o = tp->o, *c = tp->c;
	size_t no_k = o ? o->n_counters : 0;
	td->counters = np_arena_alloc(tp->d->arena,
				      (c->n_counters + no_k + 1) * sizeof(*td->counters));
	for (size_t i = 0; i < c->n_counters; i++) {
		const struct nl_counter *k = &c->counters[i];
		if (!o || !tp->p->counters[i]) {
			td->counters[td->n_counters++] = (struct nl_counter_diff){ .cur = k };
			tp->d->changes++;
		}
	}
	const struct ix *ck = table_ix(c, 2);
	for (size_t i = 0; i < no_k; i++)
		if (!ix_find(ck, c->n_counters, o->counters[i].name)) {
			td->counters[td->n_counters++] = (struct nl_counter_diff){ .old = &o->counters[i] };
			tp->d->changes++;
		}
}

static void diff_table(struct nl_diff *d, const struct nl_table *o, const struct nl_table *c,
		       bool force_full, struct nl_table_diff *td)
{
	struct np_arena *a = d->arena;
	td->old = o;
	td->cur = c;
	struct namesakes p;
	find_namesakes(a, o, c, &p);
	td->replace = force_full ? "full replace requested" : table_mismatch(a, o, c, &p);
	/* replaced whole: everything is created, nothing compared */
	struct table_pair tp = { d, td->replace ? NULL : o, c, &p };
	const char **rec = np_arena_alloc(a, (c->n_chains + 1) * sizeof(*rec));
	size_t n_rec = tp.o ? recreated(c, &p, rec) : 0;
	diff_sets(&tp, rec, n_rec, td);
	diff_chains(&tp, td);
	diff_counters(&tp, td);
}

/* ---- the diff of a patched table ---- */

/* The objects an edit took out (i over old) or put in (j over cur), paired by name: the
 * namesake in old of cur's object, or NULL. */
struct edit_pairs {
	struct strmap gone; /* name -> index in old of an object taken out */
	struct strmap put;  /* name -> index in cur of an object put in */
};

static void pairs_make(struct edit_pairs *p, const struct rs_edit *e, const void *o, const void *c,
		       size_t sz)
{
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < e->n_del; i++)
		strmap_put(&p->gone, *(const char *const *)((const char *)o + e->del[i] * sz),
			   e->del[i]);
	for (size_t i = 0; i < e->n_ins; i++)
		strmap_put(&p->put, *(const char *const *)((const char *)c + e->ins[i] * sz),
			   e->ins[i]);
}

static void pairs_free(struct edit_pairs *p)
{
	strmap_free(&p->gone);
	strmap_free(&p->put);
}

static const void *pair_old(const struct edit_pairs *p, const char *name, const void *o, size_t sz)
{
	size_t i;
	return strmap_get(&p->gone, name, &i) ? (const char *)o + i * sz : NULL;
}

static bool pair_cur(const struct edit_pairs *p, const char *name)
{
	size_t j;
	return strmap_get(&p->put, name, &j);
}

/* What the full comparison would find wrong with the table, for the objects put in only (the
 * rest are the same in both); NULL when nothing. A chain whose comment changed counts too:
 * recreating it touches maps' elements the patch does not name. */
static bool delta_mismatch(const struct nl_table *o, const struct nl_table *c,
			   const struct rs_delta *dl, const struct edit_pairs *ps,
			   const struct edit_pairs *pc, const struct edit_pairs *pk)
{
	if (!o->present || (o->flags & NL_TABLE_F_PERSIST) != (c->flags & NL_TABLE_F_PERSIST) ||
	    !str_eq(o->comment, c->comment))
		return true;
	for (size_t k = 0; k < dl->sets.n_ins; k++) {
		const struct nl_set *s = &c->sets[dl->sets.ins[k]];
		const struct nl_set *os_ = pair_old(ps, s->name, o->sets, sizeof(*o->sets));
		if (os_ && (os_->garbled || os_->flags != s->flags || os_->key_type != s->key_type ||
			    os_->key_len != s->key_len || os_->data_type != s->data_type ||
			    !str_eq(os_->comment, s->comment)))
			return true;
	}
	for (size_t k = 0; k < dl->chains.n_ins; k++) {
		const struct nl_chain *ch = &c->chains[dl->chains.ins[k]];
		const struct nl_chain *oc_ = pair_old(pc, ch->name, o->chains, sizeof(*o->chains));
		if (oc_ && (oc_->base != ch->base || !str_eq(oc_->comment, ch->comment) ||
			    (ch->base && (oc_->hook != ch->hook || oc_->prio != ch->prio ||
					  oc_->policy != ch->policy || !str_eq(oc_->type, ch->type)))))
			return true;
	}
	for (size_t k = 0; k < dl->counters.n_ins; k++) {
		const struct nl_counter *kc = &c->counters[dl->counters.ins[k]];
		const struct nl_counter *ok_ = pair_old(pk, kc->name, o->counters,
							sizeof(*o->counters));
		if (ok_ && !str_eq(ok_->comment, kc->comment))
			return true;
	}
	return false;
}

/* What a patched table's diff compares: the two tables, the delta, the objects' pairs. */
struct delta_pair {
	struct nl_diff *d;
	const struct nl_table *o, *c;
	const struct rs_delta *dl;
	struct edit_pairs ps, pc, pk;
};

/* The sets put in, against their namesakes, then those taken out for good. */
static void delta_sets(struct delta_pair *x, struct nl_table_diff *td)
{
	const struct nl_table *o = x->o, *c = x->c;
	const struct rs_edit *e = &x->dl->sets;
	td->sets = np_arena_alloc(x->d->arena, (e->n_ins + e->n_del + 1) * sizeof(*td->sets));
	for (size_t k = 0; k < e->n_ins; k++) {
		const struct nl_set *s = &c->sets[e->ins[k]];
		const struct nl_set *prev = pair_old(&x->ps, s->name, o->sets, sizeof(*o->sets));
		struct nl_set_diff *sd = &td->sets[td->n_sets];
		sd->old = prev;
		sd->cur = s;
		diff_elems(x->d->arena, prev, s, sd);
		if (!prev || sd->n_del || sd->n_add)
			td->n_sets++;
		x->d->changes += !prev + sd->n_del + sd->n_add;
	}
	for (size_t k = 0; k < e->n_del; k++) {
		const struct nl_set *os_ = &o->sets[e->del[k]];
		if (!(os_->flags & NFT_SET_ANONYMOUS) && !pair_cur(&x->ps, os_->name)) {
			td->sets[td->n_sets++] = (struct nl_set_diff){ .old = os_ };
			x->d->changes++;
		}
	}
}

static void delta_chains(struct delta_pair *x, struct nl_table_diff *td)
{
	const struct nl_table *o = x->o, *c = x->c;
	const struct rs_edit *e = &x->dl->chains;
	td->chains = np_arena_alloc(x->d->arena, (e->n_ins + e->n_del + 1) * sizeof(*td->chains));
	for (size_t k = 0; k < e->n_ins; k++) {
		const struct nl_chain *ch = &c->chains[e->ins[k]];
		const struct nl_chain *prev = pair_old(&x->pc, ch->name, o->chains,
						       sizeof(*o->chains));
		bool rewrite = prev && !chain_rules_eq(prev, ch);
		if (!prev || rewrite) {
			td->chains[td->n_chains++] = (struct nl_chain_diff){
				.old = prev, .cur = ch, .rewrite = rewrite
			};
			x->d->changes++;
		}
	}
	for (size_t k = 0; k < e->n_del; k++) {
		const struct nl_chain *oc_ = &o->chains[e->del[k]];
		if (!pair_cur(&x->pc, oc_->name)) {
			td->chains[td->n_chains++] = (struct nl_chain_diff){ .old = oc_ };
			x->d->changes++;
		}
	}
}

static void delta_counters(struct delta_pair *x, struct nl_table_diff *td)
{
	const struct nl_table *o = x->o, *c = x->c;
	const struct rs_edit *e = &x->dl->counters;
	td->counters = np_arena_alloc(x->d->arena, (e->n_ins + e->n_del + 1) *
						     sizeof(*td->counters));
	for (size_t k = 0; k < e->n_ins + e->n_del; k++) {
		bool in = k < e->n_ins;
		const struct nl_counter *kc = in ? &c->counters[e->ins[k]]
						 : &o->counters[e->del[k - e->n_ins]];
		bool paired = in ? pair_old(&x->pk, kc->name, o->counters,
					    sizeof(*o->counters)) != NULL
				 : pair_cur(&x->pk, kc->name);
		if (!paired) {
			td->counters[td->n_counters++] = in ? (struct nl_counter_diff){ .cur = kc }
							    : (struct nl_counter_diff){ .old = kc };
			x->d->changes++;
		}
	}
}

/* diff_table for c made from a patch (dl) of the table o was made from: only the objects the
 * patch names are compared, in the order diff_table visits them. false when that cannot stand
 * for the whole comparison (then td is untouched). */
static bool diff_table_delta(struct nl_diff *d, const struct nl_table *o, const struct nl_table *c,
			     struct nl_table_diff *td)
{
	struct delta_pair x = { .d = d, .o = o, .c = c, .dl = c->ir->delta };
	pairs_make(&x.ps, &x.dl->sets, o->sets, c->sets, sizeof(*o->sets));
	pairs_make(&x.pc, &x.dl->chains, o->chains, c->chains, sizeof(*o->chains));
	pairs_make(&x.pk, &x.dl->counters, o->counters, c->counters, sizeof(*o->counters));
	bool ok = !delta_mismatch(o, c, x.dl, &x.ps, &x.pc, &x.pk);
	if (ok) {
		td->old = o;
		td->cur = c;
		delta_sets(&x, td);
		delta_chains(&x, td);
		delta_counters(&x, td);
	}
	pairs_free(&x.ps);
	pairs_free(&x.pc);
	pairs_free(&x.pk);
	return ok;
}

/* Whether c was made from a patch of the table o was made from, both states whole. */
static bool from_delta(const struct nl_table *o, const struct nl_table *c)
{
	const struct rs_delta *dl = c->ir ? c->ir->delta : NULL;
	return dl && o && o->ir == dl->base && o->n_sets == o->ir->n_sets &&
	       o->n_chains == o->ir->n_chains && o->n_counters == o->ir->n_counters &&
	       c->n_sets == c->ir->n_sets && c->n_chains == c->ir->n_chains &&
	       c->n_counters == c->ir->n_counters;
}

static int diff_compute(const struct nl_state *old, const struct nl_state *cur, bool force_full,
			bool all, struct nl_diff **out)
{
	struct nl_diff *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->arena = np_arena_new();
	d->tables = np_arena_alloc(d->arena, (cur->n_tables + 1) * sizeof(*d->tables));
	for (size_t i = 0; i < cur->n_tables; i++) {
		const struct nl_table *c = &cur->tables[i];
		const struct nl_table *o = old ? state_table(old, c->name, c->family) : NULL;
		struct nl_table_diff *td = &d->tables[d->n_tables++];
		if (all || force_full || !from_delta(o, c) || !diff_table_delta(d, o, c, td))
			diff_table(d, o, c, force_full, td);
	}
	*out = d;
	return 0;
}

int nl_diff_compute(const struct nl_state *old, const struct nl_state *cur, bool force_full,
		    struct nl_diff **out)
{
	return diff_compute(old, cur, force_full, false, out);
}

int nl_diff_compute_all(const struct nl_state *old, const struct nl_state *cur, bool force_full,
			struct nl_diff **out)
{
	return diff_compute(old, cur, force_full, true, out);
}

void nl_diff_free(struct nl_diff *d)
{
	if (!d)
		return;
	np_arena_free(d->arena);
	free(d);
}
