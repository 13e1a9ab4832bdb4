/* assemble.c — the inet table from its fragments (see assemble.h), ordered as one btable_finish
 * over everything would order it: maps first, then sets by use and name; base chains, then
 * chains by name; counters by name. */
#include <stdlib.h>
#include <string.h>

#include "assemble.h"

static void add_set(struct btable *bt, const struct rs_set *s, size_t refs)
{
	size_t idx;
	if (strmap_get(&bt->set_idx, s->name, &idx)) {
		/* a set several policies share (named by what selects it): same content */
		bt->sets[idx].refs += refs;
		return;
	}
	ARENA_PUSH(bt->a, bt->sets, bt->n_sets, bt->cap_sets);
	bt->sets[bt->n_sets - 1].s = *s;
	bt->sets[bt->n_sets - 1].refs = refs;
	strmap_put(&bt->set_idx, s->name, bt->n_sets - 1);
}

/* Every fragment's sets into bt, once each (a shared set keeps the origin of the first policy
 * that uses it, as in one pass), counting the rules of every fragment that uses them; those no
 * rule uses left out, the rest sorted. Returns how many maps lead. */
static size_t gather_sets(struct rs_frag *const *v, size_t n, struct btable *bt)
{
	const struct rs_table *g = &v[0]->t;
	size_t n_maps = 0;
	while (n_maps < g->n_sets && g->sets[n_maps].vmap)
		n_maps++;
	for (size_t i = 0; i < n_maps; i++)
		add_set(bt, &g->sets[i], v[0]->set_refs[i]);
	for (size_t k = 1; k < n; k++)
		for (size_t i = 0; i < v[k]->t.n_sets; i++)
			add_set(bt, &v[k]->t.sets[i], v[k]->set_refs[i]);
	for (size_t i = n_maps; i < g->n_sets; i++)
		add_set(bt, &g->sets[i], v[0]->set_refs[i]);
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < v[k]->n_uses; i++) {
			size_t idx;
			if (strmap_get(&bt->set_idx, v[k]->uses[i], &idx))
				bt->sets[idx].refs += v[k]->use_refs[i];
		}
	/* a shared set no rule uses (left out because empty) is not emitted */
	size_t used = n_maps;
	for (size_t i = n_maps; i < bt->n_sets; i++)
		if (bt->sets[i].refs)
			bt->sets[used++] = bt->sets[i];
	bt->n_sets = used;
	qsort(bt->sets + n_maps, bt->n_sets - n_maps, sizeof(*bt->sets), bset_cmp);
	return n_maps;
}

/* The elements of map s (the dispatch map dm, or -1 for a tier map): its own (the admin tiers')
 * and every pod fragment's, sorted, in a. */
static void map_elems(struct rs_frag *const *v, size_t n, int dm, struct np_arena *a,
		      struct rs_set *s)
{
	size_t total = s->n_elems;
	for (size_t k = 1; dm >= 0 && k < n; k++)
		for (size_t i = 0; i < v[k]->n_disp; i++)
			total += v[k]->disp[i].map == dm;
	struct rs_elem *e = np_arena_alloc(a, (total + 1) * sizeof(*e));
	memcpy(e, s->elems, s->n_elems * sizeof(*e));
	size_t ne = s->n_elems;
	for (size_t k = 1; dm >= 0 && k < n; k++)
		for (size_t i = 0; i < v[k]->n_disp; i++)
			if (v[k]->disp[i].map == dm)
				e[ne++] = v[k]->disp[i].e;
	if (ne > 1) {
		qsort(e, ne, sizeof(*e), btable_elem_cmp);
		size_t w = 0;
		for (size_t j = 0; j < ne; j++)
			if (!w || btable_elem_cmp(&e[w - 1], &e[j]))
				e[w++] = e[j];
		ne = w;
	}
	s->elems = e;
	s->n_elems = ne;
}

static int disp_map(const char *name)
{
	for (int j = 0; j < 4; j++)
		if (!strcmp(name, build_disp_maps[j]))
			return j;
	return -1;
}

/* Which run a chain or counter name goes to: its first letter, apart for "...-out". */
static uint8_t run_kind(const char *name)
{
	size_t l = strlen(name);
	return (uint8_t)(((uint8_t)name[0] & 0x7f) | (l && name[l - 1] == 't' ? 0x80 : 0));
}

/* The base chains (the dispatch's), then every fragment's chains and counters, sorted.
 * Fragments come in inventory order, so the chains of one kind ("pol-..-in", "pol-..-out",
 * "egr-..", "ing-..", and the counters likewise) are each close to sorted: placed kind by kind
 * they form a few sorted runs, which a natural merge sort merges in a few passes (sorting them
 * from scratch was a tenth of a small change's cost). */
static void gather_chains(struct rs_frag *const *v, size_t n, struct np_arena *a,
			  struct rs_table *t)
{
	const struct rs_table *g = &v[0]->t;
	size_t n_chains = 0, n_counters = 0;
	for (size_t k = 0; k < n; k++) {
		n_chains += v[k]->t.n_chains;
		n_counters += v[k]->t.n_counters;
	}
	t->chains = np_arena_alloc(a, (n_chains + 1) * sizeof(*t->chains));
	t->counters = np_arena_alloc(a, (n_counters + 1) * sizeof(*t->counters));
	size_t n_base = 0;
	for (size_t i = 0; i < g->n_chains; i++)
		if (g->chains[i].hook != RS_HOOK_NONE)
			t->chains[n_base++] = g->chains[i];
	/* at_c[kind + 1], at_k[kind + 1]: how many chains, counters of each run; then where
	 * each run starts */
	size_t at_c[257] = { 0 }, at_k[257] = { 0 };
	for (size_t k = 0; k < n; k++) {
		const struct rs_table *ft = &v[k]->t;
		for (size_t i = 0; i < ft->n_chains; i++)
			at_c[run_kind(ft->chains[i].name) + 1] += ft->chains[i].hook == RS_HOOK_NONE;
		for (size_t i = 0; i < ft->n_counters; i++)
			at_k[run_kind(ft->counters[i].name) + 1]++;
	}
	for (size_t c = 1; c < 257; c++) {
		at_c[c] += at_c[c - 1];
		at_k[c] += at_k[c - 1];
	}
	t->n_chains = n_base + at_c[256];
	t->n_counters = at_k[256];
	for (size_t k = 0; k < n; k++) {
		const struct rs_table *ft = &v[k]->t;
		for (size_t i = 0; i < ft->n_chains; i++)
			if (ft->chains[i].hook == RS_HOOK_NONE)
				t->chains[n_base + at_c[run_kind(ft->chains[i].name)]++] =
					ft->chains[i];
		for (size_t i = 0; i < ft->n_counters; i++)
			t->counters[at_k[run_kind(ft->counters[i].name)]++] = ft->counters[i];
	}
	np_sort_stable(t->chains + n_base, t->n_chains - n_base, sizeof(*t->chains),
		       btable_chain_cmp);
	np_sort_stable(t->counters, t->n_counters, sizeof(*t->counters), btable_counter_cmp);
}

void assemble_table(struct rs_frag *const *v, size_t n, struct np_arena *a, struct np_arena *tmp,
		    struct rs_table *t)
{
	struct btable bt;
	btable_init(&bt, tmp);
	size_t n_maps = gather_sets(v, n, &bt);
	for (size_t m = 0; m < n_maps; m++)
		map_elems(v, n, disp_map(bt.sets[m].s.name), a, &bt.sets[m].s);
	t->sets = np_arena_alloc(a, (bt.n_sets + 1) * sizeof(*t->sets));
	for (size_t i = 0; i < bt.n_sets; i++)
		t->sets[i] = bt.sets[i].s;
	t->n_sets = bt.n_sets;
	gather_chains(v, n, a, t);
	strmap_free(&bt.set_idx); /* (its sets' elements are the fragments') */
}
