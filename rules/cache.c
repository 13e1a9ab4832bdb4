/* cache.c — the ruleset built from fragments, and the cache that keeps them between builds
 * (ruleset_build_cached): what each policy, local pod and set built apart contributes is built
 * once and taken as it is while its inputs stay the same; a change rebuilds what it touches
 * (dirty.c says what), patches the sets built apart it moves pods in or out of (patch.c), and
 * the inet table is assembled from every fragment (assemble.c) in the order one pass over
 * everything would give.
 *
 * The layers, top down: this file; frag.c, dirty.c, patch.c, assemble.c (fragments); the
 * builders (build.h: build.c, build_tiers.c, build_spoof.c) that fill the tables they are handed;
 * btable.c (a table being filled). Calls only go down. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addrcount.h"
#include "assemble.h"
#include "build.h"
#include "dirty.h"
#include "frag.h"
#include "patch.h"
#include "ruleset.h"

struct rs_cache {
	struct rs_options opt;
	struct frag_map pols, pods, sets;
	struct addr_count *addrs; /* pods per address, of the last build's inventory */
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
}

void rs_cache_free(struct rs_cache *c)
{
	rs_cache_reset(c);
	if (c)
		addr_count_free(c->addrs);
	free(c);
}

/* One build with a cache: what it reuses from the cache, builds and hands over to the next. */
struct cached {
	struct builder *b;
	struct rs_cache *cache;
	struct dirty dirty;
	struct frag_shared shared;
	struct frag_map pols, pods; /* this build's fragments, by key */
	struct frag_list out;       /* every fragment of the inet table, in assembly order */
	struct build_wants wants;
	struct btable t;            /* what the fragment being built is filled in */
	struct np_arena *tmp;
	struct rs_build_stats *st;
};

/* The address counts for the inventory being built: from the last build's, or counted anew. */
static void addrs_update(struct cached *x)
{
	struct rs_cache *c = x->cache;
	const struct dirty *d = &x->dirty;
	if (d->all || !c->addrs) {
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

/* The dispatch: maps, base chains and admin tiers (built every time: they are few, and depend
 * on every pod). */
static struct rs_frag *frag_dispatch(struct cached *x)
{
	struct rs_frag *f = frag_new();
	build_dispatch_wants(x->b, &x->wants);
	frag_shared_want(&x->shared, &x->wants);
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

/* The cache's fragment of key in old, if it can be reused: the sets built apart it uses are
 * taken into this build too (reused as they are: were one to change, every policy using it
 * would be dirty). */
static struct rs_frag *reuse(struct cached *x, const struct frag_map *old, const char *key)
{
	struct rs_frag *f = frag_map_get(old, key);
	if (!f)
		return NULL;
	struct frag_shared *s = &x->shared;
	for (size_t i = 0; i < f->n_uses; i++)
		if (!frag_shared_get(s, f->uses[i]) && !frag_map_get(s->old, f->uses[i]))
			return NULL;
	for (size_t i = 0; i < f->n_uses; i++)
		if (!frag_shared_get(s, f->uses[i]))
			frag_shared_put(s, f->uses[i], frag_map_get(s->old, f->uses[i]));
	f->refs++;
	return f;
}

/* f (a reference the caller hands over) is this build's fragment for key. */
static void keep(struct cached *x, struct frag_map *m, const char *key, struct rs_frag *f)
{
	frag_map_put(m, key, f);
	frag_list_add(&x->out, f);
	frag_release(f);
}

/* Every policy's fragment: the cache's when the change did not touch it (its sets built apart
 * brought up to date), built anew otherwise. */
static void policies(struct cached *x)
{
	const struct np_inventory *inv = x->b->inv;
	struct patch p = { &x->shared, &x->dirty, x->cache->addrs, x->tmp };
	for (size_t i = 0; i < inv->n_pols; i++) {
		const char *key = dirty_key(x->tmp, inv->pols[i].ns, inv->pols[i].name);
		struct rs_frag *f = dirty_has(&x->dirty, &x->dirty.pols, key)
					    ? NULL : frag_map_get(&x->cache->pols, key);
		if (f && dirty_has(&x->dirty, &x->dirty.pol_sets, key) && !patch_refresh(&p, i, f))
			f = NULL;
		if (f)
			f = reuse(x, &x->cache->pols, key);
		if (f) {
			x->st->pols_reused++;
		} else {
			x->st->pols_built++;
			f = frag_policy(x, i);
		}
		keep(x, &x->pols, key, f);
	}
}

/* Every local pod's fragment: the cache's when the change did not touch it. */
static void pods(struct cached *x)
{
	const struct np_inventory *inv = x->b->inv;
	for (size_t l = 0; l < x->b->n_local; l++) {
		const struct np_pod *pod = &inv->pods[x->b->local[l]];
		const char *key = dirty_key(x->tmp, pod->ns, pod->name);
		struct rs_frag *f = dirty_has(&x->dirty, &x->dirty.pods, key)
					    ? NULL : reuse(x, &x->cache->pods, key);
		if (f) {
			x->st->pods_reused++;
		} else {
			x->st->pods_built++;
			f = frag_pod(x, pod);
		}
		keep(x, &x->pods, key, f);
	}
}

/* The inet table, from the fragments of this build (which the cache then holds). */
static void build_inet(struct cached *x, struct np_arena *a, struct rs_table *t)
{
	struct rs_cache *cache = x->cache;
	x->shared = (struct frag_shared){ .b = x->b, .old = x->dirty.all ? NULL : &cache->sets };
	addrs_update(x);
	struct rs_frag *f = frag_dispatch(x);
	frag_list_add(&x->out, f);
	frag_release(f);
	policies(x);
	pods(x);
	for (size_t i = 0; i < x->shared.now.l.n; i++)
		frag_list_add(&x->out, x->shared.now.l.v[i]);
	/* the cache now holds this build's fragments; those no longer used go */
	rs_cache_reset(cache);
	cache->pols = x->pols;
	cache->pods = x->pods;
	cache->sets = x->shared.now;
	t->name = cache->opt.table_name ? cache->opt.table_name : "netpol";
	t->family = RS_FAMILY_INET;
	t->comment = "netpol: Kubernetes NetworkPolicy; managed, do not edit";
	assemble_table(x->out.v, x->out.n, a, x->tmp, t);
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
	rs->arena = np_arena_new();
	struct cached x = { .b = builder_new(inv, &cache->opt), .cache = cache,
			    .tmp = np_arena_new(), .st = st };
	x.dirty.tmp = x.tmp;
	btable_init(&x.t, NULL);
	dirty_compute(&x.dirty, prev, inv);
	st->full = x.dirty.all;
	st->changed = x.dirty.changed;

	bool spoof = !cache->opt.no_spoof_table && !cache->opt.netns_local;
	rs->n_tables = spoof ? 2 : 1;
	rs->tables = np_arena_alloc(rs->arena, 2 * sizeof(*rs->tables));
	build_inet(&x, rs->arena, &rs->tables[0]);
	rs->frags = x.out.v;
	rs->n_frags = x.out.n;
	if (spoof) {
		btable_reset(&x.t, rs->arena);
		build_spoof(x.b, &x.t);
		btable_finish(&x.t, &rs->tables[1], NULL);
		frag_hash_rules(rs->arena, &rs->tables[1]);
	}
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
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n_frags; i++)
		frag_release(rs->frags[i]);
	free(rs->frags);
	np_arena_free(rs->arena);
	free(rs);
}
