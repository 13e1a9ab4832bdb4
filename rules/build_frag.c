/* build_frag.c — the ruleset assembled from fragments, and the cache that keeps them between
 * builds (ruleset_build_cached): what each policy, local pod and shared set contributes is built
 * once and taken as it is while its inputs stay the same; a change rebuilds what it touches
 * (build_dirty.c says what), patches the shared sets it moves pods in or out of, and the inet
 * table is assembled from every fragment in the order one pass over everything would give. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "build_int.h"
#include "ruleset.h"

/* The dispatch maps a pod fragment adds elements to, by index. */
static const char *const disp_maps[4] = { "ing4", "ing6", "egr4", "egr6" };

/* ---- fragments ---- */

static void frag_release(struct rs_frag *f)
{
	if (f && !--f->refs) {
		np_arena_free(f->arena);
		free(f);
	}
}

/* The ruleset's fragments, in assembly order: everything-else first, then policies in
 * inventory order, then pods. */
struct frag_list {
	struct rs_frag **v;
	size_t n, cap;
};

static void frag_list_add(struct frag_list *l, struct rs_frag *f)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			abort();
	}
	f->refs++;
	l->v[l->n++] = f;
}

struct frag_map {
	struct strmap idx; /* key -> index into l */
	struct frag_list l;
	struct np_arena *keys;
};

static void frag_map_free(struct frag_map *m)
{
	for (size_t i = 0; i < m->l.n; i++)
		frag_release(m->l.v[i]);
	free(m->l.v);
	strmap_free(&m->idx);
	np_arena_free(m->keys);
	memset(m, 0, sizeof(*m));
}

static struct rs_frag *frag_map_get(struct frag_map *m, const char *key)
{
	size_t i;
	return strmap_get(&m->idx, key, &i) ? m->l.v[i] : NULL;
}

/* Takes a reference of f for the map. */
static void frag_map_put(struct frag_map *m, const char *key, struct rs_frag *f)
{
	if (!m->keys)
		m->keys = np_arena_new();
	frag_list_add(&m->l, f);
	strmap_put(&m->idx, np_arena_strdup(m->keys, key), m->l.n - 1);
}

struct rs_frag *build_shared_get(struct builder *b, const char *name)
{
	return frag_map_get(b->shared, name);
}

/* Hands f (just built) to the build's shared sets. */
void build_shared_put(struct builder *b, const char *name, struct rs_frag *f)
{
	frag_map_put(b->shared, name, f);
	frag_release(f);
}

struct rs_cache {
	struct rs_options opt;
	struct frag_map pols, pods, sets;
	struct addr_count *addrs;
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

const char *build_key(struct np_arena *a, const char *ns, const char *name)
{
	if (!ns)
		return np_arena_strdup(a, name);
	size_t ln = strlen(ns), lm = strlen(name);
	char *k = np_arena_alloc(a, ln + lm + 2);
	memcpy(k, ns, ln);
	k[ln] = '/';
	memcpy(k + ln + 1, name, lm + 1);
	return k;
}

/* Starts building a fragment: what the builder makes goes into its arena and table. */
struct rs_frag *build_frag_begin(struct builder *b)
{
	struct rs_frag *f = calloc(1, sizeof(*f));
	if (!f)
		abort();
	f->refs = 1;
	f->arena = np_arena_new();
	b->a = f->arena;
	memset(&b->inet, 0, sizeof(b->inet));
	return f;
}

static void hash_rules(struct builder *b, struct rs_table *t)
{
	for (size_t c = 0; c < t->n_chains; c++)
		for (size_t r = 0; r < t->chains[c].n_rules; r++) {
			struct rs_rule *rule = &t->chains[c].rules[r];
			char *text = emit_text_rule(t, rule);
			rule->comment = build_hashname(b, "np:", text);
			free(text);
		}
}

/* Every rule carries a hash of its own text, so a chain read back from the kernel can be
 * compared with the IR as a list of hashes. */
static void frag_end(struct builder *b, struct rs_frag *f, const struct frag_disp *disp,
		     size_t n_disp)
{
	f->t.family = RS_FAMILY_INET;
	build_table_finish(b, &b->inet, &f->t, f);
	hash_rules(b, &f->t);
	if (n_disp) {
		f->disp = np_arena_alloc(b->a, n_disp * sizeof(*f->disp));
		memcpy(f->disp, disp, n_disp * sizeof(*disp));
		f->n_disp = n_disp;
	}
}

/* The maps and base chains, and the admin tiers (rebuilt every time: they are few, and depend
 * on every pod). */
static struct rs_frag *frag_global(struct builder *b)
{
	struct rs_frag *f = build_frag_begin(b);
	/* maps are created first so they keep this order; element pointers are re-fetched
	 * because the set array may move */
	for (size_t i = 0; i < 4; i++)
		build_map(b, disp_maps[i], i % 2 ? RS_KEY_IPV6 : RS_KEY_IPV4);
	build_admin_maps(b);
	if (b->opt->netns_local) {
		/* inside the pod's own netns: its traffic leaves through output, arrives at input */
		build_base_chain(b, "egress-out", RS_HOOK_OUTPUT, -10, RS_V_SADDR_VMAP, "egr4", "egr6");
		build_base_chain(b, "ingress-in", RS_HOOK_INPUT, -5, RS_V_DADDR_VMAP, "ing4", "ing6");
	} else {
		/* no egress chain on input: traffic from a pod to its own node is always allowed
		 * (the NetworkPolicy concepts page), like the node's traffic to its pods */
		build_base_chain(b, "egress-fwd", RS_HOOK_FORWARD, -10, RS_V_SADDR_VMAP, "egr4", "egr6");
		build_base_chain(b, "ingress-fwd", RS_HOOK_FORWARD, -5, RS_V_DADDR_VMAP, "ing4", "ing6");
	}
	build_admin_tiers(b);
	frag_end(b, f, NULL, 0);
	return f;
}

/* A policy's chains (none when it selects no local pod: nothing would jump to them). */
static struct rs_frag *frag_policy(struct builder *b, size_t i)
{
	const struct np_policy *pol = &b->inv->pols[i];
	struct rs_frag *f = build_frag_begin(b);
	build_sel_of(b, i);
	bool any_local = false;
	for (size_t j = 0; j < b->n_sel_pods[i] && !any_local; j++)
		any_local = build_pod_is_local(b, &b->inv->pods[b->sel_pods[i][j]]);
	if (any_local && pol->ingress && pol->n_in)
		build_policy_chain(b, pol, i, true);
	if (any_local && pol->egress && pol->n_out)
		build_policy_chain(b, pol, i, false);
	frag_end(b, f, NULL, 0);
	return f;
}

/* The policies of namespace ns: [*lo, *hi) of inv->pols. */
static void ns_pols(const struct np_inventory *inv, const char *ns, size_t *lo, size_t *hi)
{
	size_t a = 0, z = inv->n_pols;
	while (a < z) {
		size_t m = (a + z) / 2;
		if (strcmp(inv->pols[m].ns, ns) < 0)
			a = m + 1;
		else
			z = m;
	}
	*lo = a;
	while (a < inv->n_pols && !strcmp(inv->pols[a].ns, ns))
		a++;
	*hi = a;
}

/* A local pod's chain per isolated direction (a jump to each selecting policy's chain, in
 * policy order) and its dispatch elements. */
static struct rs_frag *frag_pod(struct builder *b, const struct np_pod *pod)
{
	const struct np_inventory *inv = b->inv;
	struct rs_frag *f = build_frag_begin(b);
	size_t lo, hi;
	ns_pols(inv, pod->ns, &lo, &hi);
	const char **chains = np_arena_alloc(b->tmp, (hi - lo + 1) * sizeof(char *));
	struct frag_disp disp[2 * 8];
	size_t n_disp = 0;
	for (int dir = 0; dir < 2; dir++) {
		bool ingress = dir == 0;
		bool isolated = false;
		size_t n = 0;
		struct sbuf names = { 0 };
		for (size_t k = lo; k < hi; k++) {
			const struct np_policy *pol = &inv->pols[k];
			if ((ingress ? !pol->ingress : !pol->egress) ||
			    !np_policy_selects_pod(pol, pod))
				continue;
			isolated = true;
			if (names.n)
				sbuf_puts(&names, ", ");
			sbuf_puts(&names, pol->name);
			/* the policy selects this local pod, so it has its chain when it has rules */
			if (ingress ? pol->n_in : pol->n_out)
				chains[n++] = build_name(b, "pol-", build_policy_text(b, pol),
						     ingress ? "-in" : "-out");
		}
		if (!isolated)
			continue;
		build_pod_chain(b, pod, ingress, chains, n, names.p);
		const char *target = b->inet.chains[b->inet.n_chains - 1].name;
		free(names.p);
		for (size_t k = 0; k < pod->n_ips && n_disp < sizeof(disp) / sizeof(disp[0]); k++) {
			struct frag_disp *d = &disp[n_disp++];
			memset(d, 0, sizeof(*d));
			d->map = (uint8_t)((ingress ? 0 : 2) + (pod->ips[k].family == 4 ? 0 : 1));
			d->e.addr_lo = d->e.addr_hi = pod->ips[k];
			d->e.target = target;
		}
	}
	frag_end(b, f, disp, n_disp);
	return f;
}

/* ---- assembly ---- */

static void asm_set(struct builder *b, struct btable *bt, const struct rs_set *s, size_t refs)
{
	size_t idx;
	if (strmap_get(&bt->set_idx, s->name, &idx)) {
		/* a set several policies share (named by what selects it): same content */
		bt->sets[idx].refs += refs;
		return;
	}
	ARENA_PUSH(b->tmp, bt->sets, bt->n_sets, bt->cap_sets);
	bt->sets[bt->n_sets - 1].s = *s;
	bt->sets[bt->n_sets - 1].refs = refs;
	strmap_put(&bt->set_idx, s->name, bt->n_sets - 1);
}

/* Which run a chain or counter name goes to: its first letter, apart for "...-out". */
static uint8_t run_kind(const char *name)
{
	size_t l = strlen(name);
	return (uint8_t)(((uint8_t)name[0] & 0x7f) | (l && name[l - 1] == 't' ? 0x80 : 0));
}

/* The inet table from its fragments (v[0] the global one), ordered as one build_table_finish over
 * everything would order it: maps first, then sets by use and name; base chains, then chains
 * by name; counters by name. */
static void assemble(struct builder *b, struct rs_frag *const *v, size_t n, struct rs_table *t)
{
	const struct rs_table *g = &v[0]->t;
	struct btable bt = { 0 };
	size_t n_maps = 0;
	while (n_maps < g->n_sets && g->sets[n_maps].vmap)
		n_maps++;
	/* a shared set keeps the origin of the first policy that uses it, as in one pass */
	for (size_t i = 0; i < n_maps; i++)
		asm_set(b, &bt, &g->sets[i], v[0]->set_refs[i]);
	for (size_t k = 1; k < n; k++)
		for (size_t i = 0; i < v[k]->t.n_sets; i++)
			asm_set(b, &bt, &v[k]->t.sets[i], v[k]->set_refs[i]);
	for (size_t i = n_maps; i < g->n_sets; i++)
		asm_set(b, &bt, &g->sets[i], v[0]->set_refs[i]);
	/* the shared sets count the rules of every fragment that uses them */
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < v[k]->n_uses; i++) {
			size_t idx;
			if (strmap_get(&bt.set_idx, v[k]->uses[i], &idx))
				bt.sets[idx].refs += v[k]->use_refs[i];
		}
	/* a shared set no rule uses (left out because empty) is not emitted */
	size_t used = n_maps;
	for (size_t i = n_maps; i < bt.n_sets; i++)
		if (bt.sets[i].refs)
			bt.sets[used++] = bt.sets[i];
	bt.n_sets = used;
	qsort(bt.sets + n_maps, bt.n_sets - n_maps, sizeof(*bt.sets), build_set_cmp);

	/* the maps' elements: the global fragment's (admin tiers) and every pod's */
	size_t cnt[4] = { 0 };
	for (size_t k = 1; k < n; k++)
		for (size_t i = 0; i < v[k]->n_disp; i++)
			cnt[v[k]->disp[i].map]++;
	for (size_t m = 0; m < n_maps; m++) {
		struct rs_set *s = &bt.sets[m].s;
		int dm = -1;
		for (int j = 0; j < 4; j++)
			if (!strcmp(s->name, disp_maps[j]))
				dm = j;
		size_t total = s->n_elems + (dm >= 0 ? cnt[dm] : 0);
		struct rs_elem *e = np_arena_alloc(b->a, (total + 1) * sizeof(*e));
		memcpy(e, s->elems, s->n_elems * sizeof(*e));
		size_t ne = s->n_elems;
		for (size_t k = 1; dm >= 0 && k < n; k++)
			for (size_t i = 0; i < v[k]->n_disp; i++)
				if (v[k]->disp[i].map == dm)
					e[ne++] = v[k]->disp[i].e;
		if (ne > 1) {
			qsort(e, ne, sizeof(*e), build_elem_cmp);
			size_t w = 0;
			for (size_t j = 0; j < ne; j++)
				if (!w || !build_elem_eq(&e[w - 1], &e[j]))
					e[w++] = e[j];
			ne = w;
		}
		s->elems = e;
		s->n_elems = ne;
	}
	t->sets = np_arena_alloc(b->a, (bt.n_sets + 1) * sizeof(*t->sets));
	for (size_t i = 0; i < bt.n_sets; i++)
		t->sets[i] = bt.sets[i].s;
	t->n_sets = bt.n_sets;

	size_t n_chains = 0, n_counters = 0;
	for (size_t k = 0; k < n; k++) {
		n_chains += v[k]->t.n_chains;
		n_counters += v[k]->t.n_counters;
	}
	t->chains = np_arena_alloc(b->a, (n_chains + 1) * sizeof(*t->chains));
	t->counters = np_arena_alloc(b->a, (n_counters + 1) * sizeof(*t->counters));
	size_t n_base = 0;
	for (size_t i = 0; i < g->n_chains; i++)
		if (g->chains[i].hook != RS_HOOK_NONE)
			t->chains[n_base++] = g->chains[i];
	t->n_chains = n_base;
	/* Fragments come in inventory order, so the chains of one kind ("pol-..-in",
	 * "pol-..-out", "egr-..", "ing-..", and the counters likewise) are each close to sorted:
	 * placed kind by kind they form a few sorted runs, which a natural merge sort merges in a
	 * few passes (sorting them from scratch was a tenth of a small change's cost). */
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
	np_sort_stable(t->chains + n_base, t->n_chains - n_base, sizeof(*t->chains), build_chain_cmp);
	np_sort_stable(t->counters, t->n_counters, sizeof(*t->counters), build_counter_cmp);
	strmap_free(&bt.set_idx);
}

/* A fragment from the cache, if it can be reused: the shared sets it uses are taken into this
 * build too (reused as they are: were one to change, every policy using it would be dirty). */
static struct rs_frag *reuse(struct builder *b, struct frag_map *old, struct frag_map *old_sets,
			     const char *key)
{
	struct rs_frag *f = frag_map_get(old, key);
	if (!f)
		return NULL;
	for (size_t i = 0; i < f->n_uses; i++)
		if (!build_shared_get(b, f->uses[i]) && !frag_map_get(old_sets, f->uses[i]))
			return NULL;
	for (size_t i = 0; i < f->n_uses; i++)
		if (!build_shared_get(b, f->uses[i]))
			frag_map_put(b->shared, f->uses[i], frag_map_get(old_sets, f->uses[i]));
	f->refs++;
	return f;
}

static bool frag_uses(const struct rs_frag *f, const char *name)
{
	for (size_t i = 0; i < f->n_uses; i++)
		if (!strcmp(f->uses[i], name))
			return true;
	return false;
}

/* Policy i's fragment f stays, but peer sets it has may have changed: builds them again, and
 * says whether f still holds (a set that became empty, or stopped being, changes which rules
 * the chain has). */
/* Does rule r of pol select pod (of inv) by its selector peers? */
static bool rule_selects(const struct np_inventory *inv, const struct np_policy *pol,
			 const struct np_rule *r, const struct np_pod *pod)
{
	if (!pod || pod->host_network)
		return false;
	for (size_t i = 0; i < r->n_peers; i++) {
		const struct np_peer *pe = &r->peers[i];
		if (!pe->ipblock && !pe->node_sel && (pe->pod_sel || pe->ns_sel) &&
		    np_peer_selects_pod(inv, pol->ns, pe, pod))
			return true;
	}
	return false;
}

static int addr_cmp_v(const void *x, const void *y)
{
	return np_addr_cmp(x, y);
}

/* 1 when p (a pod's new version, or NULL) is not host-network and has address a. */
static size_t pod_has_addr(const struct np_pod *p, const struct np_addr *a)
{
	for (size_t m = 0; p && !p->host_network && m < p->n_ips; m++)
		if (!np_addr_cmp(&p->ips[m], a))
			return 1;
	return 0;
}

/* How many pods other than the changes' new versions have address a (one of the changes' old
 * versions is taking it out of a set). */
static size_t others_with(const struct builder *b, const struct build_dirty *dirty,
			  const struct np_addr *a)
{
	size_t n = addr_count_get(b->addrs, a);
	for (size_t j = 0; j < dirty->n_set_changes && n; j++)
		n -= pod_has_addr(dirty->set_changes[j].n, a);
	return n;
}

/* After a namespace relabel: can its pods have joined or left rule r's peers? Only when a
 * peer's namespaceSelector matches the old labels and not the new, or the reverse. */
static bool ns_moves(const struct build_dirty *dirty, const struct np_rule *r, const char *ns)
{
	const struct np_namespace *o = np_inventory_namespace(dirty->prev, ns);
	const struct np_namespace *n = np_inventory_namespace(dirty->inv, ns);
	if (!o || !n)
		return true;
	for (size_t i = 0; i < r->n_peers; i++) {
		const struct np_selector *sel = r->peers[i].ns_sel;
		if (sel && np_selector_matches(sel, &o->labels) != np_selector_matches(sel, &n->labels))
			return true;
	}
	return false;
}

/* Which of the changes patch_set must look at: all of them, or after namespace relabels those
 * of the namespaces whose pods can have moved in or out of r's peers (moves[i]). */
static bool *relevant(struct builder *b, const struct build_dirty *dirty, const struct np_rule *r)
{
	size_t n = dirty->n_set_changes;
	bool *v = np_arena_alloc(b->tmp, (n + 1) * sizeof(*v));
	const char *ns = NULL;
	bool moves = true;
	for (size_t i = 0; i < n; i++) {
		const struct np_pod *p = dirty->set_changes[i].n ? dirty->set_changes[i].n
								 : dirty->set_changes[i].o;
		if (dirty->n_ns_changes && p->ns != ns) {
			ns = p->ns;
			moves = ns_moves(dirty, r, ns);
		}
		v[i] = !dirty->n_ns_changes || moves;
	}
	return v;
}

/* A dirty peer set (named: an egress named-port set) of rule r of pol, made from its last
 * version instead of from every pod: the changed pods that were peers take their addresses
 * out, those that are peers now put theirs in (after a namespace relabel: every pod of it).
 * Not when a pod taken out shares an address with another pod: returns false to have it
 * built anew. */
static bool patch_set(struct builder *b, const struct build_dirty *dirty, const char *name,
		      const struct np_policy *pol, const struct np_rule *r, uint8_t family,
		      bool named)
{
	const struct rs_frag *old = b->old_shared ? frag_map_get(b->old_shared, name) : NULL;
	/* (named ports open to every pod or to ipBlocks: peers are not a selector's) */
	if (!old || !dirty->set_changes ||
	    (named && (r->n_peers == 0 || build_rule_has_ipblock(r, family))))
		return false;
	const struct change *ch = dirty->set_changes;
	size_t n_ch = dirty->n_set_changes, n_gone = 0, cap = 0;
	for (size_t i = 0; i < n_ch; i++)
		cap += ch[i].o ? ((const struct np_pod *)ch[i].o)->n_ips : 0;
	struct np_addr *gone = np_arena_alloc(b->tmp, (cap + 1) * sizeof(*gone));
	const bool *look = relevant(b, dirty, r);
	for (size_t i = 0; i < n_ch; i++) {
		const struct np_pod *o = ch[i].o;
		if (!look[i] || !rule_selects(dirty->prev, pol, r, o))
			continue;
		for (size_t k = 0; k < o->n_ips; k++) {
			if (o->ips[k].family != family)
				continue;
			if (others_with(b, dirty, &o->ips[k]))
				return false;
			gone[n_gone++] = o->ips[k];
		}
	}
	qsort(gone, n_gone, sizeof(*gone), addr_cmp_v);
	struct np_arena *a = b->a;
	struct btable inet = b->inet;
	struct rs_frag *f = build_frag_begin(b);
	const struct rs_set *os = &old->t.sets[0];
	bool created;
	struct bset *add = build_table_set(b, &b->inet, name, os->key, os->interval, &created);
	add->s.comment = os->comment ? np_arena_strdup(b->a, os->comment) : NULL;
	add->s.origin = os->origin ? np_arena_strdup(b->a, os->origin) : NULL;
	struct addr_ctx actx = { add, family };
	struct named_ctx nctx = { b, add, r, family };
	for (size_t i = 0; i < n_ch; i++) {
		const struct np_pod *n = ch[i].n;
		if (look[i] && rule_selects(b->inv, pol, r, n))
			named ? build_add_named_pod(&nctx, n) : build_add_pod_addrs(&actx, n);
	}
	/* the new elements, sorted, merged into the old ones (sorted) less the gone */
	struct rs_set *s = &add->s;
	if (s->n_elems > 1)
		qsort(s->elems, s->n_elems, sizeof(*s->elems), build_elem_cmp);
	struct rs_elem *e = np_arena_alloc(b->a, (os->n_elems + s->n_elems + 1) * sizeof(*e));
	size_t ne = 0, i = 0, j = 0;
	while (i < os->n_elems || j < s->n_elems) {
		bool from_old = j == s->n_elems ||
				(i < os->n_elems && build_elem_cmp(&os->elems[i], &s->elems[j]) <= 0);
		const struct rs_elem *x = from_old ? &os->elems[i++] : &s->elems[j++];
		if (from_old && n_gone &&
		    bsearch(&x->addr_lo, gone, n_gone, sizeof(*gone), addr_cmp_v))
			continue;
		if (!ne || !build_elem_eq(&e[ne - 1], x))
			e[ne++] = *x;
	}
	free(s->elems);
	f->t.family = RS_FAMILY_INET;
	f->t.sets = np_arena_alloc(b->a, sizeof(*f->t.sets));
	f->set_refs = np_arena_alloc(b->a, sizeof(*f->set_refs));
	f->t.sets[0] = *s;
	f->t.sets[0].name = np_arena_strdup(b->a, name);
	f->t.sets[0].elems = e;
	f->t.sets[0].n_elems = ne;
	f->t.n_sets = 1;
	strmap_free(&b->inet.set_idx);
	build_shared_put(b, name, f);
	b->a = a;
	b->inet = inet;
	return true;
}

static bool frag_has_set(const struct rs_frag *f, const char *name)
{
	for (size_t i = 0; i < f->t.n_sets; i++)
		if (!strcmp(f->t.sets[i].name, name))
			return true;
	return false;
}

static bool refresh_peer_sets(struct builder *b, const struct build_dirty *dirty, size_t i,
			      const struct rs_frag *f)
{
	const struct np_policy *pol = &b->inv->pols[i];
	if (!f->t.n_chains)
		return true; /* no local pod: no chain here, whatever its sets hold */
	struct np_arena *a = b->a;
	bool ok = true;
	b->a = b->tmp;
	for (int dir = 0; dir < 2; dir++) {
		size_t n_rules;
		const struct np_rule *rules = build_rules(pol, dir, &n_rules);
		for (size_t ri = 0; ri < n_rules; ri++) {
			const struct np_rule *r = &rules[ri];
			bool plain = r->n_ports == 0 || build_rule_has_numeric_port(r);
			/* an egress rule with named ports only matches its peers by the named
			 * set; a peer set is then not used */
			bool peers = build_rule_has_selector_peer(r) && (!dir || plain);
			bool named = dir && build_rule_has_named_port(r);
			const char *pn[2], *nn[2];
			build_peer_names(b->tmp, pol, r, pn);
			build_named_names(b->tmp, pol, ri, !dir, nn);
			for (int fam = 0; fam < 2; fam++) {
				size_t v;
				uint8_t family = fam ? 6 : 4;
				if (peers && strmap_get(&dirty->sets, pn[fam], &v)) {
					if (!build_shared_get(b, pn[fam]) &&
					    !patch_set(b, dirty, pn[fam], pol, r, family, false))
						build_peer_set(b, pol, r, family);
					/* ingress named ports: the peer set is used with the
					 * named set, when that has elements */
					bool used = build_shared_get(b, pn[fam])->t.sets[0].n_elems > 0 &&
						    (plain || frag_has_set(f, nn[fam]));
					ok &= used == frag_uses(f, pn[fam]);
				}
				if (named && strmap_get(&dirty->sets, nn[fam], &v)) {
					if (!build_shared_get(b, nn[fam]) &&
					    !patch_set(b, dirty, nn[fam], pol, r, family, true))
						build_named_set(b, pol, NULL, r, ri, false, family);
					ok &= (build_shared_get(b, nn[fam])->t.sets[0].n_elems > 0) ==
					      frag_uses(f, nn[fam]);
				}
			}
		}
	}
	b->a = a;
	return ok;
}

/* f (a reference the caller hands over) is this build's fragment for key. */
static void keep(struct frag_map *m, struct frag_list *out, const char *key, struct rs_frag *f)
{
	frag_map_put(m, key, f);
	frag_list_add(out, f);
	frag_release(f);
}

static void build_inet(struct builder *b, struct rs_table *t, struct rs_cache *cache,
		       const struct build_dirty *dirty, struct frag_list *out,
		       struct rs_build_stats *st)
{
	const struct np_inventory *inv = b->inv;
	struct np_arena *ra = b->a;
	struct frag_map pols = { 0 }, pods = { 0 }, sets = { 0 };
	b->shared = &sets;
	struct frag_map *old_sets = dirty->all ? NULL : &cache->sets;
	b->old_shared = old_sets;
	cache->addrs = addr_count_update(cache->addrs, dirty);
	b->addrs = cache->addrs;
	struct rs_frag *f = frag_global(b);
	frag_list_add(out, f);
	frag_release(f);
	for (size_t i = 0; i < inv->n_pols; i++) {
		const char *key = build_key(b->tmp, inv->pols[i].ns, inv->pols[i].name);
		f = build_dirty_has(dirty, &dirty->pols, key)
			    ? NULL : frag_map_get(&cache->pols, key);
		if (f && build_dirty_has(dirty, &dirty->pol_sets, key) &&
		    !refresh_peer_sets(b, dirty, i, f))
			f = NULL;
		if (f)
			f = reuse(b, &cache->pols, old_sets, key);
		if (f) {
			st->pols_reused++;
		} else {
			st->pols_built++;
			f = frag_policy(b, i);
		}
		keep(&pols, out, key, f);
	}
	for (size_t l = 0; l < b->n_local; l++) {
		const struct np_pod *pod = &inv->pods[b->local[l]];
		const char *key = build_key(b->tmp, pod->ns, pod->name);
		f = build_dirty_has(dirty, &dirty->pods, key)
			    ? NULL : reuse(b, &cache->pods, old_sets, key);
		if (f) {
			st->pods_reused++;
		} else {
			st->pods_built++;
			f = frag_pod(b, pod);
		}
		keep(&pods, out, key, f);
	}
	for (size_t i = 0; i < sets.l.n; i++)
		frag_list_add(out, sets.l.v[i]);
	/* the cache now holds this build's fragments; those no longer used go */
	rs_cache_reset(cache);
	cache->pols = pols;
	cache->pods = pods;
	cache->sets = sets;
	b->shared = &cache->sets;
	b->old_shared = NULL;

	b->a = ra;
	t->name = b->opt->table_name ? b->opt->table_name : "netpol";
	t->family = RS_FAMILY_INET;
	t->comment = "netpol: Kubernetes NetworkPolicy; managed, do not edit";
	assemble(b, out->v, out->n, t);
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
	struct builder b = { .inv = inv, .opt = &cache->opt, .a = rs->arena,
			     .tmp = np_arena_new() };
	b.sel_pods = np_arena_alloc(b.tmp, (inv->n_pols + 1) * sizeof(size_t *));
	b.n_sel_pods = np_arena_alloc(b.tmp, (inv->n_pols + 1) * sizeof(size_t));

	b.local = np_arena_alloc(b.tmp, (inv->n_pods + 1) * sizeof(*b.local));
	for (size_t p = 0; p < inv->n_pods; p++)
		if (build_pod_is_local(&b, &inv->pods[p]))
			b.local[b.n_local++] = p;
	struct build_dirty dirty = { .tmp = b.tmp };
	build_dirty_compute(&dirty, prev, inv);
	st->full = dirty.all;
	st->changed = dirty.changed;

	bool spoof = !b.opt->no_spoof_table && !b.opt->netns_local;
	rs->n_tables = spoof ? 2 : 1;
	rs->tables = np_arena_alloc(b.a, 2 * sizeof(*rs->tables));
	struct frag_list frags = { 0 };
	build_inet(&b, &rs->tables[0], cache, &dirty, &frags, st);
	rs->frags = frags.v;
	rs->n_frags = frags.n;
	if (spoof) {
		build_spoof(&b, &rs->tables[1]);
		hash_rules(&b, &rs->tables[1]);
	}
	strmap_free(&dirty.pols);
	strmap_free(&dirty.pods);
	strmap_free(&dirty.sets);
	strmap_free(&dirty.pol_sets);
	free(b.scratch);
	for (size_t i = 0; i < b.n_lists; i++)
		free(b.lists[i].v);
	strmap_free(&b.peer_cache);
	np_arena_free(b.tmp);
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

