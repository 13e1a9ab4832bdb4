/* bridge.c — see bridge.h. The table's chain and its fixed set stay in the fragment it was last
 * built whole in; each pod set is replaced by a fragment of its own when pods change it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assemble.h"
#include "bridge.h"
#include "build.h"
#include "xalloc.h"

static void ifs_free(struct strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free((char *)m->v[i].key);
	strmap_free(m);
	memset(m, 0, sizeof(*m));
}

void bridge_state_free(struct bridge_state *bs)
{
	frag_release(bs->base);
	for (int i = 0; i < 3; i++)
		frag_release(bs->sets[i]);
	ifs_free(&bs->ifs);
	memset(bs, 0, sizeof(*bs));
}

/* Adds d (+1 or -1) to the local pods with interface name; returns the count before. */
static size_t ifs_add(struct strmap *m, const char *name, int d)
{
	size_t n = 0;
	bool had = strmap_get(m, name, &n);
	size_t now = d > 0 ? n + 1 : n ? n - 1 : 0;
	if (had)
		strmap_put(m, name, now);
	else
		strmap_put(m, xstrdup(name), now);
	return n;
}

/* The set of table t named build_spoof_sets[i]: its index in t. */
static size_t set_at(const struct rs_table *t, int i)
{
	for (size_t k = 0; k < t->n_sets; k++)
		if (!strcmp(t->sets[k].name, build_spoof_sets[i]))
			return k;
	return t->n_sets;
}

/* t's sets, chains and counters from bs (the sets array t's own, in a). */
static void table_of(const struct bridge_state *bs, struct np_arena *a, struct rs_table *t)
{
	const struct rs_table *g = &bs->base->t;
	*t = *g;
	t->sets = np_arena_alloc(a, (g->n_sets + 1) * sizeof(*t->sets));
	memcpy(t->sets, g->sets, g->n_sets * sizeof(*t->sets));
	for (int i = 0; i < 3; i++) {
		size_t k = set_at(g, i);
		if (bs->sets[i] && k < g->n_sets)
			t->sets[k] = bs->sets[i]->t.sets[0];
	}
	t->delta = NULL;
}

void bridge_build(struct bridge_state *bs, struct builder *b, struct np_arena *a,
		  struct rs_table *t)
{
	bridge_state_free(bs);
	bs->base = frag_new();
	struct btable bt;
	btable_init(&bt, bs->base->arena);
	build_spoof(b, &bt);
	frag_finish(bs->base, &bt, NULL, 0);
	btable_fini(&bt);
	for (size_t l = 0; l < b->n_local; l++) { /* (build_spoof filled b->local) */
		const struct np_pod *pod = &b->inv->pods[b->local[l]];
		if (pod->host_if && strlen(pod->host_if) < 16)
			ifs_add(&bs->ifs, pod->host_if, 1);
	}
	table_of(bs, a, t);
}

/* Elements of the three pod sets a changing pod takes out or puts in, per set. */
struct side {
	struct rs_elem *v[3];
	size_t n[3], cap[3];
};

static bool take(struct side *s, struct strmap *ifs, const struct rs_options *opt,
		 const struct np_pod *pod, int d)
{
	if (!pod || !ruleset_pod_local(opt, pod))
		return true;
	struct build_disp e[BUILD_POD_DISP];
	size_t n = build_spoof_pod(pod, e);
	if (!n)
		return true;
	size_t before = ifs_add(ifs, pod->host_if, d);
	for (size_t i = 0; i < n; i++) {
		if (s->n[e[i].map] == s->cap[e[i].map]) {
			s->cap[e[i].map] = s->cap[e[i].map] * 2 + 8;
			s->v[e[i].map] = xreallocarray(s->v[e[i].map], s->cap[e[i].map],
						       sizeof(struct rs_elem));
		}
		s->v[e[i].map][s->n[e[i].map]++] = e[i].e;
	}
	/* another local pod on the same interface: their elements may coincide */
	return d > 0 ? before == 0 : before == 1;
}

int bridge_patch(struct bridge_state *bs, const struct rs_options *opt, const struct change *pods,
		 size_t n, const struct rs_table *old, struct np_arena *a, struct rs_table *t)
{
	struct side del = { 0 }, add = { 0 };
	bool ok = bs->base != NULL;
	for (size_t i = 0; ok && i < n; i++)
		ok = take(&del, &bs->ifs, opt, pods[i].o, -1);
	for (size_t i = 0; ok && i < n; i++)
		ok = take(&add, &bs->ifs, opt, pods[i].n, 1);
	struct rs_frag *made[3] = { 0 };
	const struct rs_table *g = ok ? &bs->base->t : NULL;
	for (int i = 0; ok && i < 3; i++) {
		asm_elems_cancel(del.v[i], &del.n[i], add.v[i], &add.n[i]);
		size_t k = set_at(g, i);
		if ((!del.n[i] && !add.n[i]) || k == g->n_sets)
			continue;
		const struct rs_set *s = bs->sets[i] ? &bs->sets[i]->t.sets[0] : &g->sets[k];
		struct np_arena *tmp = np_arena_new();
		size_t ne;
		struct rs_elem *e = asm_elems_patch(tmp, s->elems, s->n_elems, del.v[i], del.n[i],
						    add.v[i], add.n[i], &ne);
		struct rs_set_patch p = { s->elems, s->n_elems, del.v[i], add.v[i], del.n[i],
					  add.n[i] };
		if (e)
			made[i] = frag_new_set(s, e, ne, &p);
		ok = e != NULL;
		np_arena_free(tmp);
	}
	for (int i = 0; i < 3; i++) {
		free(del.v[i]);
		free(add.v[i]);
	}
	if (!ok) {
		for (int i = 0; i < 3; i++)
			frag_release(made[i]);
		return -1;
	}
	size_t *ed = np_arena_alloc(a, 7 * sizeof(*ed)), ne = 0;
	for (int i = 0; i < 3; i++)
		if (made[i]) {
			frag_release(bs->sets[i]);
			bs->sets[i] = made[i];
			ed[ne++] = set_at(g, i);
		}
	for (size_t i = 1; i < ne; i++) /* ascending, as an rs_edit is */
		for (size_t j = i; j > 0 && ed[j - 1] > ed[j]; j--) {
			size_t x = ed[j];
			ed[j] = ed[j - 1];
			ed[j - 1] = x;
		}
	table_of(bs, a, t);
	struct rs_delta *d = np_arena_alloc(a, sizeof(*d));
	d->base = old;
	d->sets = (struct rs_edit){ ed, ed, ne, ne };
	t->delta = d;
	return 0;
}

void bridge_frags(const struct bridge_state *bs, struct frag_list *l)
{
	if (bs->base)
		frag_list_add(l, bs->base);
	for (int i = 0; i < 3; i++)
		if (bs->sets[i])
			frag_list_add(l, bs->sets[i]);
}
