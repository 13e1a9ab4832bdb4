/* btable.c — a table being filled, and finished (see btable.h). Every array is sorted before it
 * is emitted, so the same input always gives byte-identical output. */
#include <stdlib.h>
#include <string.h>

#include "btable.h"
#include "hash.h"
#include "vec.h"

#define MAX_NAME 200 /* nft allows 255; leave room for prefixes and suffixes */

void btable_init(struct btable *t, struct np_arena *a)
{
	memset(t, 0, sizeof(*t));
	t->a = a;
}

/* Frees what t holds but its rule buffer. */
static void release(struct btable *t)
{
	for (size_t i = 0; i < t->n_sets; i++) {
		free(t->sets[i].s.elems);
		t->sets[i].s.elems = NULL;
	}
	strmap_free(&t->set_idx);
	t->set_idx = (struct strmap){ 0 };
	t->n_sets = 0; /* (the sets array is the arena's) */
}

void btable_reset(struct btable *t, struct np_arena *a)
{
	release(t);
	struct rs_rule *scratch = t->scratch;
	size_t cap = t->cap_scratch;
	btable_init(t, a);
	t->scratch = scratch;
	t->cap_scratch = cap;
}

void btable_fini(struct btable *t)
{
	release(t);
	free(t->scratch);
	t->scratch = NULL;
	t->n_scratch = t->cap_scratch = 0;
}

/* ---- names ---- */

const char *btable_name(struct np_arena *a, const char *prefix, const char *text,
			const char *suffix)
{
	size_t len = strlen(prefix) + strlen(text) + strlen(suffix);
	if (len <= MAX_NAME)
		return np_arena_printf(a, "%s%s%s", prefix, text, suffix);
	return np_arena_printf(a, "%s%.*s_%012llx%s", prefix, MAX_NAME - 40, text,
			       (unsigned long long)(np_hash_str(text) & 0xffffffffffffULL), suffix);
}

/* (formatted by hand: one per rule, hot) */
const char *btable_hashname(struct np_arena *a, const char *prefix, const char *canon)
{
	size_t pl = strlen(prefix);
	char *p = np_arena_alloc(a, pl + 13);
	memcpy(p, prefix, pl);
	uint64_t h = np_hash_str(canon);
	for (int i = 11; i >= 0; i--, h >>= 4)
		p[pl + (size_t)i] = "0123456789abcdef"[h & 15];
	p[pl + 12] = 0;
	return p;
}

const char *btable_comment(struct np_arena *a, const char *text)
{
	char buf[128];
	size_t n = 0;
	for (const char *s = text; *s && n < 120; s++)
		buf[n++] = (*s == '"' || *s == '\\' || *s == '\n') ? '\'' : *s;
	if (strlen(text) > 120) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = 0;
	return np_arena_strdup(a, buf);
}

/* ---- sets, maps, counters ---- */

struct bset *btable_set(struct btable *t, const char *name, enum rs_key key, bool interval,
			bool *created)
{
	size_t idx;
	if (strmap_get(&t->set_idx, name, &idx)) {
		*created = false;
		return &t->sets[idx];
	}
	ARENA_PUSH(t->a, t->sets, t->n_sets, t->cap_sets);
	struct bset *s = &t->sets[t->n_sets - 1];
	s->s.name = np_arena_strdup(t->a, name);
	s->s.key = key;
	s->s.interval = interval;
	strmap_put(&t->set_idx, s->s.name, t->n_sets - 1);
	*created = true;
	return s;
}

struct rs_elem *bset_add(struct bset *s)
{
	struct rs_elem *e = &VEC_PUSH(s->s.elems, s->s.n_elems, s->cap);
	memset(e, 0, sizeof(*e));
	return e;
}

void bset_add_addr(struct bset *s, const struct np_addr *a)
{
	struct rs_elem *e = bset_add(s);
	e->addr_lo = e->addr_hi = *a;
}

void btable_map(struct btable *t, const char *name, enum rs_key key)
{
	bool created;
	struct bset *s = btable_set(t, name, key, false, &created);
	s->s.vmap = true;
	s->s.origin = np_arena_printf(t->a, "dispatch map %s", name);
}

void btable_map_add(struct btable *t, const char *map, const struct np_addr *addr,
		    const char *target)
{
	size_t idx = 0;
	strmap_get(&t->set_idx, map, &idx);
	struct rs_elem *e = bset_add(&t->sets[idx]);
	e->addr_lo = e->addr_hi = *addr;
	e->target = target;
}

void btable_counter(struct btable *t, const char *name, const char *comment)
{
	ARENA_PUSH(t->a, t->counters, t->n_counters, t->cap_counters);
	t->counters[t->n_counters - 1].name = name;
	t->counters[t->n_counters - 1].comment = comment;
}

/* ---- chains and rules ---- */

static void chain_close(struct btable *t)
{
	if (!t->open)
		return;
	struct rs_chain *c = &t->chains[t->n_chains - 1];
	c->n_rules = t->n_scratch;
	c->rules = np_arena_alloc(t->a, (t->n_scratch + 1) * sizeof(*c->rules));
	if (t->n_scratch)
		memcpy(c->rules, t->scratch, t->n_scratch * sizeof(*c->rules));
	t->n_scratch = 0;
	t->open = false;
}

struct rs_chain *btable_chain(struct btable *t, const char *name)
{
	chain_close(t);
	ARENA_PUSH(t->a, t->chains, t->n_chains, t->cap_chains);
	struct rs_chain *c = &t->chains[t->n_chains - 1];
	c->name = name;
	t->open = true;
	return c;
}

struct rs_rule *btable_rule(struct btable *t, struct rs_chain *c)
{
	(void)c; /* always the open chain; named at call sites for readability */
	VEC_RESERVE(t->scratch, t->cap_scratch, 64); /* one allocation serves most tables */
	struct rs_rule *r = &VEC_PUSH(t->scratch, t->n_scratch, t->cap_scratch);
	memset(r, 0, sizeof(*r));
	return r;
}

void btable_match(struct rs_rule *r, enum rs_match_kind kind, const char *set, uint8_t family)
{
	struct rs_match *m = &r->m[r->n_m++];
	m->kind = kind;
	m->set = set;
	m->family = family;
}

/* ---- finishing ---- */

int btable_elem_cmp(const void *x, const void *y)
{
	const struct rs_elem *a = x, *b = y;
	int c = a->ifname[0] || b->ifname[0] ? strcmp(a->ifname, b->ifname) : 0;
	if (c)
		return c;
	c = np_addr_cmp(&a->addr_lo, &b->addr_lo);
	if (c)
		return c;
	c = np_addr_cmp(&a->addr_hi, &b->addr_hi);
	if (c)
		return c;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port_lo != b->port_lo)
		return a->port_lo < b->port_lo ? -1 : 1;
	return (a->port_hi > b->port_hi) - (a->port_hi < b->port_hi);
}

int bset_cmp(const void *x, const void *y)
{
	const struct bset *a = x, *b = y;
	/* verdict maps first, in creation order (they are created first) */
	if (a->s.vmap != b->s.vmap)
		return a->s.vmap ? -1 : 1;
	if (a->s.vmap)
		return 0;
	/* The kernel finds a rule's set by walking the table's set list in creation order, once
	 * per lookup expression: the sets most rules use go first. */
	if (a->refs != b->refs)
		return a->refs > b->refs ? -1 : 1;
	return strcmp(a->s.name, b->s.name);
}

int btable_chain_cmp(const void *x, const void *y)
{
	const struct rs_chain *a = x, *b = y;
	if ((a->hook != RS_HOOK_NONE) != (b->hook != RS_HOOK_NONE))
		return a->hook != RS_HOOK_NONE ? -1 : 1;
	if (a->hook != RS_HOOK_NONE)
		return 0;
	return strcmp(a->name, b->name);
}

int btable_counter_cmp(const void *x, const void *y)
{
	return strcmp(((const struct rs_counter *)x)->name, ((const struct rs_counter *)y)->name);
}

void bset_finish(struct np_arena *a, struct rs_set *s, struct rs_set *out)
{
	if (!s->interval && s->n_elems) {
		qsort(s->elems, s->n_elems, sizeof(*s->elems), btable_elem_cmp);
		size_t m = 0;
		for (size_t j = 0; j < s->n_elems; j++)
			if (!m || btable_elem_cmp(&s->elems[m - 1], &s->elems[j]))
				s->elems[m++] = s->elems[j];
		s->n_elems = m;
	}
	*out = *s;
	out->elems = np_arena_alloc(a, (s->n_elems + 1) * sizeof(*s->elems));
	if (s->n_elems)
		memcpy(out->elems, s->elems, s->n_elems * sizeof(*s->elems));
	free(s->elems);
	s->elems = NULL;
}

/* How many rules of t use each set (by name), its own and others'. */
static void count_uses(const struct btable *t, struct strmap *used)
{
	for (size_t i = 0; i < t->n_chains; i++)
		for (size_t j = 0; j < t->chains[i].n_rules; j++) {
			const struct rs_rule *r = &t->chains[i].rules[j];
			for (size_t k = 0; k < r->n_m; k++) {
				size_t n = 0;
				if (!r->m[k].set)
					continue;
				strmap_get(used, r->m[k].set, &n);
				strmap_put(used, r->m[k].set, n + 1);
			}
		}
}

/* Sorts the sets, chains and counters (maps and base chains keep their creation order). */
static void sort_all(struct btable *t)
{
	/* stable order for maps: qsort is not stable, so sort the rest after the maps */
	size_t n_maps = 0;
	while (n_maps < t->n_sets && t->sets[n_maps].s.vmap)
		n_maps++;
	/* (a fragment may have no set or chain at all, and qsort's base must not be NULL) */
	if (t->n_sets > n_maps)
		qsort(t->sets + n_maps, t->n_sets - n_maps, sizeof(*t->sets), bset_cmp);
	size_t n_base = 0;
	while (n_base < t->n_chains && t->chains[n_base].hook != RS_HOOK_NONE)
		n_base++;
	if (t->n_chains > n_base)
		qsort(t->chains + n_base, t->n_chains - n_base, sizeof(*t->chains),
		      btable_chain_cmp);
	if (t->n_counters)
		qsort(t->counters, t->n_counters, sizeof(*t->counters), btable_counter_cmp);
}

/* The sets of used that t does not hold, with their counts, into u. */
static void other_sets(const struct btable *t, const struct strmap *used, struct btable_uses *u)
{
	u->names = np_arena_alloc(t->a, (used->n + 1) * sizeof(*u->names));
	u->refs = np_arena_alloc(t->a, (used->n + 1) * sizeof(*u->refs));
	for (size_t i = 0; i < used->cap; i++) {
		size_t idx;
		if (!used->v[i].key || strmap_get(&t->set_idx, used->v[i].key, &idx))
			continue;
		u->names[u->n] = used->v[i].key;
		u->refs[u->n++] = used->v[i].val;
	}
}

void btable_finish(struct btable *t, struct rs_table *out, struct btable_uses *uses)
{
	chain_close(t);
	struct strmap used = { 0 };
	count_uses(t, &used);
	for (size_t i = 0; i < t->n_sets; i++) {
		size_t n = 0;
		strmap_get(&used, t->sets[i].s.name, &n);
		t->sets[i].refs = n;
	}
	sort_all(t);
	out->sets = np_arena_alloc(t->a, (t->n_sets + 1) * sizeof(*out->sets));
	out->n_sets = 0;
	size_t *refs = np_arena_alloc(t->a, (t->n_sets + 1) * sizeof(*refs));
	for (size_t i = 0; i < t->n_sets; i++) {
		struct rs_set *s = &t->sets[i].s;
		if (!s->vmap && !t->sets[i].refs) /* a set no rule uses: left out */
			continue;
		refs[out->n_sets] = t->sets[i].refs;
		bset_finish(t->a, s, &out->sets[out->n_sets++]);
	}
	if (uses) {
		memset(uses, 0, sizeof(*uses));
		uses->set_refs = refs;
		other_sets(t, &used, uses);
	}
	strmap_free(&used);
	out->name = t->name;
	out->family = t->family;
	out->comment = t->comment;
	out->chains = t->chains;
	out->n_chains = t->n_chains;
	out->counters = t->counters;
	out->n_counters = t->n_counters;
	release(t);
}

/* ---- lookups in a finished table (ruleset.h) ---- */

const struct rs_set *ruleset_table_set(const struct rs_table *t, const char *name)
{
	for (size_t i = 0; i < t->n_sets; i++)
		if (!strcmp(t->sets[i].name, name))
			return &t->sets[i];
	return NULL;
}

const struct rs_chain *ruleset_table_chain(const struct rs_table *t, const char *name)
{
	for (size_t i = 0; i < t->n_chains; i++)
		if (!strcmp(t->chains[i].name, name))
			return &t->chains[i];
	return NULL;
}
