/* cache.c — the ruleset built from fragments, and the cache that keeps them between builds
 * (ruleset_build_cached): what each policy, local pod and set built apart contributes is built
 * once and kept while its inputs stay the same. A build after a small change visits only what
 * the change touches (dirty.c says what): it rebuilds those fragments, patches the sets built
 * apart it moves pods in or out of (patch.c), and patches the last table with the fragments it
 * replaced (assemble.c, bridge.c), so its cost follows the change, not the cluster. A build
 * after a large change, or with nothing to patch, builds every fragment and assembles the table
 * whole, in the order one pass over everything would give. Both give the same table.
 *
 * The layers, top down: this file; frag.c, dirty.c, patch.c, assemble.c, bridge.c (fragments);
 * the builders (build.h: build.c, build_tiers.c, build_spoof.c) that fill the tables they are
 * handed; btable.c (a table being filled). Calls only go down. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addrcount.h"
#include "assemble.h"
#include "bridge.h"
#include "build.h"
#include "dirty.h"
#include "frag.h"
#include "patch.h"
#include "ruleset.h"
#include "vec.h"

struct rs_cache {
	struct rs_options opt;
	struct frag_map pols, pods, sets; /* by "ns/name" (policies, local pods), set name */
	struct rs_frag *disp;             /* maps, base chains, admin tiers */
	struct asm_state as;              /* how the last inet table is made of them */
	struct bridge_state bridge;       /* the last bridge table */
	struct addr_count *addrs;         /* pods per address, of the last build's inventory */
	struct rs_ruleset *last;          /* the last build (a reference): the next patches it */
};

int rs_cache_new(const struct rs_options *opt, struct rs_cache **out)
{
	struct rs_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (opt)
		c->opt = *opt;
	*out = c;
	return 0;
}

void rs_cache_reset(struct rs_cache *c)
{
	if (!c)
		return;
	frag_map_free(&c->pols);
	frag_map_free(&c->pods);
	frag_map_free(&c->sets);
	frag_release(c->disp);
	c->disp = NULL;
	asm_state_free(&c->as);
	bridge_state_free(&c->bridge);
	addr_count_free(c->addrs);
	c->addrs = NULL;
	ruleset_free(c->last);
	c->last = NULL;
}

void rs_cache_free(struct rs_cache *c)
{
	rs_cache_reset(c);
	free(c);
}

/* One build with a cache: what it builds, and (patching) what it takes out and puts in. */
struct cached {
	struct builder *b;
	struct rs_cache *cache;
	struct dirty dirty;
	struct frag_shared shared;
	struct frag_list gone, added; /* old and new versions of the fragments a patch replaced */
	struct build_wants wants;
	struct btable t;              /* what the fragment being built is filled in */
	struct np_arena *tmp;
	struct rs_build_stats *st;
};

/* The address counts for the inventory being built: from the last build's, or counted anew. */
static void addrs_update(struct cached *x, bool whole)
{
	struct rs_cache *c = x->cache;
	const struct dirty *d = &x->dirty;
	if (whole || !c->addrs) {
		addr_count_free(c->addrs);
		c->addrs = addr_count_new();
		for (size_t i = 0; i < d->inv->n_pods; i++)
			addr_count_pod(c->addrs, &d->inv->pods[i], 1);
		return;
	}
	for (size_t i = 0; i < d->n_pod_changes; i++) {
		addr_count_pod(c->addrs, d->pod_changes[i].o, -1);
		addr_count_pod(c->addrs, d->pod_changes[i].n, 1);
	}
}

/* ---- building fragments ---- */

/* The dispatch: maps, base chains and admin tiers. */
static struct rs_frag *frag_dispatch(struct cached *x)
{
	struct rs_frag *f = frag_new();
	build_dispatch_wants(x->b, &x->wants);
	/* what the admin tiers' peers select is not followed (dirty.c): their sets are built
	 * anew every time */
	const struct strmap *stale = x->shared.stale;
	x->shared.stale = NULL;
	frag_shared_want(&x->shared, &x->wants);
	x->shared.stale = stale;
	btable_reset(&x->t, f->arena);
	build_dispatch(x->b, &x->t);
	frag_finish(f, &x->t, NULL, 0);
	return f;
}

/* A policy's chains (none when it selects no local pod: nothing would jump to them). */
static struct rs_frag *frag_policy(struct cached *x, size_t i)
{
	struct rs_frag *f = frag_new();
	btable_reset(&x->t, f->arena);
	if (build_policy_wants(x->b, i, &x->wants)) {
		frag_shared_want(&x->shared, &x->wants);
		build_policy(x->b, &x->t, i);
	}
	frag_finish(f, &x->t, NULL, 0);
	return f;
}

/* A local pod's chains and dispatch elements. */
static struct rs_frag *frag_pod(struct cached *x, const struct np_pod *pod)
{
	struct rs_frag *f = frag_new();
	btable_reset(&x->t, f->arena);
	struct build_disp disp[BUILD_POD_DISP];
	size_t n_disp = build_pod(x->b, &x->t, pod, disp);
	frag_finish(f, &x->t, disp, n_disp);
	return f;
}

/* ---- the inet table, whole ---- */

/* Every fragment but the dispatch's, in the order one pass builds them: policies in inventory
 * order, local pods likewise, then the sets built apart in the order they were made. */
static void whole_order(struct cached *x, struct frag_list *out)
{
	const struct np_inventory *inv = x->b->inv;
	struct rs_cache *c = x->cache;
	for (size_t i = 0; i < inv->n_pols; i++)
		frag_list_add(out, frag_map_get(&c->pols, dirty_key(x->tmp, inv->pols[i].ns,
								    inv->pols[i].name)));
	builder_local(x->b);
	for (size_t l = 0; l < x->b->n_local; l++) {
		const struct np_pod *pod = &inv->pods[x->b->local[l]];
		frag_list_add(out, frag_map_get(&c->pods, dirty_key(x->tmp, pod->ns, pod->name)));
	}
	for (size_t i = 0; i < x->shared.made.n; i++)
		frag_list_add(out, x->shared.made.v[i]);
	for (size_t i = 0; i < c->sets.idx.cap; i++) /* (a patch's fallback: sets kept) */
		if (c->sets.idx.v[i].key &&
		    !frag_shared_get(&x->shared, c->sets.idx.v[i].key))
			frag_list_add(out, frag_map_at(&c->sets, i));
}

/* The sets built apart no rule uses any more leave the cache (and the table's book). */
static void drop_unused(struct rs_cache *c, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct rs_frag *f = frag_map_get(&c->sets, names[i]);
		if (f && !asm_refs(&c->as, names[i])) {
			asm_forget(&c->as, names[i], f);
			frag_map_del(&c->sets, names[i]);
		}
	}
}

/* The inet table assembled whole from the cache's fragments. */
static void assemble_whole(struct cached *x, struct np_arena *a, struct rs_table *t)
{
	struct rs_cache *c = x->cache;
	struct frag_list v = { 0 };
	whole_order(x, &v);
	assemble_table(&c->as, c->disp, v.v, v.n, a, t);
	frag_list_free(&v);
	const char **names = malloc((c->sets.idx.n + 1) * sizeof(*names));
	size_t n = 0;
	for (size_t i = 0; i < c->sets.idx.cap; i++)
		if (c->sets.idx.v[i].key)
			names[n++] = c->sets.idx.v[i].key;
	/* (names are the map's keys: copied before their entries go) */
	for (size_t i = 0; i < n; i++)
		names[i] = dirty_key(x->tmp, NULL, names[i]);
	drop_unused(c, names, n);
	free(names);
}

/* Everything built anew. */
static void build_whole(struct cached *x, struct np_arena *a, struct rs_table *t)
{
	struct rs_cache *c = x->cache;
	const struct np_inventory *inv = x->b->inv;
	rs_cache_reset(c);
	addrs_update(x, true);
	x->shared = (struct frag_shared){ .b = x->b };
	c->disp = frag_dispatch(x);
	for (size_t i = 0; i < inv->n_pols; i++) {
		struct rs_frag *f = frag_policy(x, i);
		frag_map_put(&c->pols, dirty_key(x->tmp, inv->pols[i].ns, inv->pols[i].name), f);
		frag_release(f);
	}
	builder_local(x->b);
	for (size_t l = 0; l < x->b->n_local; l++) {
		const struct np_pod *pod = &inv->pods[x->b->local[l]];
		struct rs_frag *f = frag_pod(x, pod);
		frag_map_put(&c->pods, dirty_key(x->tmp, pod->ns, pod->name), f);
		frag_release(f);
	}
	for (size_t i = 0; i < x->shared.made.n; i++) {
		struct rs_frag *f = x->shared.made.v[i];
		frag_map_put(&c->sets, f->t.sets[0].name, f);
	}
	x->st->pols_built = inv->n_pols;
	x->st->pods_built = x->b->n_local;
	assemble_whole(x, a, t);
}

/* ---- the inet table, patched ---- */

/* The index in inv->pols of the policy known by key ("ns/name"), or -1. */
static long pol_index(const struct np_inventory *inv, const char *key)
{
	const char *name = strchr(key, '/');
	if (!name)
		return -1;
	size_t nl = (size_t)(name++ - key), lo = 0, hi = inv->n_pols;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct np_policy *p = &inv->pols[mid];
		int c = strncmp(p->ns, key, nl);
		if (!c)
			c = p->ns[nl] ? 1 : strcmp(p->name, name);
		if (!c)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The pod known by key in inv, or NULL. */
static const struct np_pod *pod_of(struct cached *x, const char *key)
{
	const char *name = strchr(key, '/');
	if (!name)
		return NULL;
	char *ns = (char *)dirty_key(x->tmp, NULL, key);
	ns[name - key] = 0;
	return np_inventory_pod(x->b->inv, ns, name + 1);
}

/* f replaces the fragment of key in m (NULL: key's goes): the change's lists say so. */
static void replace(struct cached *x, struct frag_map *m, const char *key, struct rs_frag *f)
{
	struct rs_frag *old = frag_map_get(m, key);
	if (old == f)
		return;
	if (old)
		frag_list_add(&x->gone, old);
	if (f) {
		frag_list_add(&x->added, f);
		frag_map_put(m, key, f);
	} else {
		frag_map_del(m, key);
	}
}

struct keyed {
	long at;
	const char *key;
};

static int keyed_cmp(const void *x, const void *y)
{
	const struct keyed *a = x, *b = y;
	return (a->at > b->at) - (a->at < b->at);
}

/* The policies the change touches, in inventory order: rebuilt, or (only a set built apart of
 * theirs changed) their sets brought up to date and their fragment kept. */
static void policies_patched(struct cached *x)
{
	struct rs_cache *c = x->cache;
	const struct dirty *d = &x->dirty;
	const struct strmap *maps[2] = { &d->pols, &d->pol_sets };
	struct keyed *v = np_arena_alloc(x->tmp, (d->pols.n + d->pol_sets.n + 1) * sizeof(*v));
	size_t n = 0, at;
	for (int m = 0; m < 2; m++)
		for (size_t i = 0; i < maps[m]->cap; i++) {
			const char *key = maps[m]->v[i].key;
			if (key && (m == 0 || !strmap_get(&d->pols, key, &at)))
				v[n++] = (struct keyed){ pol_index(x->b->inv, key), key };
		}
	if (n > 1)
		qsort(v, n, sizeof(*v), keyed_cmp);
	struct patch p = { &x->shared, d, c->addrs, x->tmp };
	for (size_t i = 0; i < n; i++) {
		struct rs_frag *old = frag_map_get(&c->pols, v[i].key);
		if (v[i].at < 0) {
			replace(x, &c->pols, v[i].key, NULL);
			continue;
		}
		if (old && !strmap_get(&d->pols, v[i].key, &at) &&
		    patch_refresh(&p, (size_t)v[i].at, old))
			continue;
		struct rs_frag *f = frag_policy(x, (size_t)v[i].at);
		replace(x, &c->pols, v[i].key, f);
		frag_release(f);
		x->st->pols_built++;
	}
	x->st->pols_reused = x->b->inv->n_pols - x->st->pols_built;
}

/* The local pods the change touches: rebuilt, or gone when no longer local. */
static void pods_patched(struct cached *x)
{
	struct rs_cache *c = x->cache;
	const struct strmap *m = &x->dirty.pods;
	for (size_t i = 0; i < m->cap; i++) {
		const char *key = m->v[i].key;
		if (!key)
			continue;
		const struct np_pod *pod = pod_of(x, key);
		if (!pod || !ruleset_pod_local(&c->opt, pod)) {
			replace(x, &c->pods, key, NULL);
			continue;
		}
		struct rs_frag *f = frag_pod(x, pod);
		replace(x, &c->pods, key, f);
		frag_release(f);
		x->st->pods_built++;
	}
	x->st->pods_reused = c->pods.idx.n - x->st->pods_built;
}

/* Rebuilds what the change touches and patches the last inet table with it; the table is
 * assembled whole from the fragments when it cannot be patched. */
static void build_patched(struct cached *x, struct np_arena *a, struct rs_table *t)
{
	struct rs_cache *c = x->cache;
	const struct np_inventory *inv = x->b->inv, *prev = x->dirty.prev;
	addrs_update(x, false);
	x->shared = (struct frag_shared){ .b = x->b, .old = &c->sets, .stale = &x->dirty.sets };
	/* without admin tiers the dispatch depends on nothing a change touches */
	struct rs_frag *disp = inv->n_admins || prev->n_admins ? frag_dispatch(x) : frag_ref(c->disp);
	policies_patched(x);
	pods_patched(x);
	for (size_t i = 0; i < x->shared.made.n; i++) {
		struct rs_frag *f = x->shared.made.v[i];
		replace(x, &c->sets, f->t.sets[0].name, f);
	}
	struct asm_change ch = { c->disp, disp, x->gone.v, x->gone.n, x->added.v, x->added.n };
	frag_release(c->disp);
	c->disp = disp;
	if (assemble_patch(&c->as, &c->last->tables[0], &ch, a, t) == 0)
		drop_unused(c, c->as.unused, c->as.n_unused);
	else
		assemble_whole(x, a, t);
}

/* ---- the ruleset ---- */

/* Every fragment the ruleset's tables are made of, each holding a reference for it. */
static void ruleset_frags(struct rs_cache *c, struct rs_ruleset *rs)
{
	struct frag_list l = { 0 };
	const struct frag_map *maps[3] = { &c->pols, &c->pods, &c->sets };
	VEC_RESERVE(l.v, l.cap, c->pols.idx.n + c->pods.idx.n + c->sets.idx.n + 8);
	frag_list_add(&l, c->disp);
	for (int m = 0; m < 3; m++)
		for (size_t i = 0; i < maps[m]->idx.cap; i++)
			if (maps[m]->idx.v[i].key)
				frag_list_add(&l, frag_map_at(maps[m], i));
	for (int m = 0; m < 4; m++)
		if (c->as.maps[m])
			frag_list_add(&l, c->as.maps[m]);
	bridge_frags(&c->bridge, &l);
	rs->frags = l.v;
	rs->n_frags = l.n;
}

int ruleset_build_cached(const struct np_inventory *inv, const struct np_inventory *prev,
			 struct rs_cache *cache, struct rs_build_stats *st,
			 struct rs_ruleset **out)
{
	struct rs_build_stats st_local;
	if (!st)
		st = &st_local;
	memset(st, 0, sizeof(*st));
	struct rs_ruleset *rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	rs->refs = 1;
	rs->arena = np_arena_new();
	struct cached x = { .b = builder_new(inv, &cache->opt), .cache = cache,
			    .tmp = np_arena_new(), .st = st };
	x.dirty.tmp = x.tmp;
	btable_init(&x.t, NULL);
	dirty_compute(&x.dirty, prev, inv);
	bool whole = x.dirty.all || !cache->last;
	st->full = whole;
	st->changed = x.dirty.changed;

	bool spoof = !cache->opt.no_spoof_table && !cache->opt.netns_local;
	rs->n_tables = spoof ? 2 : 1;
	rs->tables = np_arena_alloc(rs->arena, 2 * sizeof(*rs->tables));
	struct rs_table *t = &rs->tables[0];
	const struct rs_ruleset *last = cache->last;
	if (whole)
		build_whole(&x, rs->arena, t);
	else
		build_patched(&x, rs->arena, t);
	t->name = cache->opt.table_name ? cache->opt.table_name : "netpol";
	t->family = RS_FAMILY_INET;
	t->comment = "netpol: Kubernetes NetworkPolicy; managed, do not edit";
	if (spoof && (whole || last->n_tables < 2 ||
		      bridge_patch(&cache->bridge, &cache->opt, x.dirty.pod_changes,
				   x.dirty.n_pod_changes, &last->tables[1], rs->arena,
				   &rs->tables[1]) < 0))
		bridge_build(&cache->bridge, x.b, rs->arena, &rs->tables[1]);
	ruleset_frags(cache, rs);
	/* the cache keeps this build for the next one to patch */
	ruleset_free(cache->last);
	cache->last = rs;
	rs->refs++;

	frag_list_free(&x.gone);
	frag_list_free(&x.added);
	frag_shared_free(&x.shared);
	btable_fini(&x.t);
	dirty_free(&x.dirty);
	free(x.wants.v);
	builder_free(x.b);
	np_arena_free(x.tmp);
	*out = rs;
	return 0;
}

int ruleset_build(const struct np_inventory *inv, const struct rs_options *opt,
		  struct rs_ruleset **out)
{
	struct rs_cache *c = NULL;
	int r = rs_cache_new(opt, &c);
	if (r == 0)
		r = ruleset_build_cached(inv, NULL, c, NULL, out);
	rs_cache_free(c);
	return r;
}

void ruleset_free(struct rs_ruleset *rs)
{
	if (!rs || --rs->refs)
		return;
	for (size_t i = 0; i < rs->n_frags; i++)
		frag_release(rs->frags[i]);
	free(rs->frags);
	np_arena_free(rs->arena);
	free(rs);
}
