/* patch.c — sets built apart, patched from their last version (see patch.h): the changed pods
 * that were peers take their addresses out, those that are peers now put theirs in, instead of
 * every pod being visited again. */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "assemble.h"
#include "build.h"
#include "patch.h"

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
static size_t others_with(const struct patch *p, const struct np_addr *a)
{
	size_t n = addr_count_get(p->addrs, a);
	for (size_t j = 0; j < p->dirty->n_set_changes && n; j++)
		n -= pod_has_addr(p->dirty->set_changes[j].n, a);
	return n;
}

/* After a namespace relabel: can its pods have joined or left rule r's peers? Only when a
 * peer's namespaceSelector matches the old labels and not the new, or the reverse. */
static bool ns_moves(const struct dirty *dirty, const struct np_rule *r, const char *ns)
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
 * of the namespaces whose pods can have moved in or out of r's peers. */
static bool *relevant(const struct patch *p, const struct np_rule *r)
{
	const struct dirty *dirty = p->dirty;
	size_t n = dirty->n_set_changes;
	bool *v = np_arena_alloc(p->tmp, (n + 1) * sizeof(*v));
	const char *ns = NULL;
	bool moves = true;
	for (size_t i = 0; i < n; i++) {
		const struct np_pod *pod = dirty->set_changes[i].n ? dirty->set_changes[i].n
								   : dirty->set_changes[i].o;
		if (dirty->n_ns_changes && pod->ns != ns) {
			ns = pod->ns;
			moves = ns_moves(dirty, r, ns);
		}
		v[i] = !dirty->n_ns_changes || moves;
	}
	return v;
}

/* The addresses of family the changes' old versions take out of w's set (sorted, in p->tmp;
 * *n how many); NULL when one of them is another pod's too, so the set must be built anew. */
static struct np_addr *gone_addrs(const struct patch *p, const struct build_want *w,
				  const bool *look, size_t *n)
{
	const struct change *ch = p->dirty->set_changes;
	size_t n_ch = p->dirty->n_set_changes, cap = 0;
	for (size_t i = 0; i < n_ch; i++)
		cap += ch[i].o ? ((const struct np_pod *)ch[i].o)->n_ips : 0;
	struct np_addr *gone = np_arena_alloc(p->tmp, (cap + 1) * sizeof(*gone));
	*n = 0;
	for (size_t i = 0; i < n_ch; i++) {
		const struct np_pod *o = ch[i].o;
		if (!look[i] || !rule_selects(p->dirty->prev, w->pol, w->r, o))
			continue;
		for (size_t k = 0; k < o->n_ips; k++) {
			if (o->ips[k].family != w->family)
				continue;
			if (others_with(p, &o->ips[k]))
				return NULL;
			gone[(*n)++] = o->ips[k];
		}
	}
	qsort(gone, *n, sizeof(*gone), addr_cmp_v);
	return gone;
}

/* The elements of old less those with an address in gone, merged with add (both sorted), in
 * arena a, and how that differs from old (*p, its arrays in a too). */
static struct rs_elem *merge(struct np_arena *a, const struct rs_set *old, const struct rs_set *add,
			     const struct np_addr *gone, size_t n_gone, struct rs_set_patch *p,
			     size_t *n)
{
	size_t room = old->n_elems + add->n_elems + 1;
	struct rs_elem *e = np_arena_alloc_raw(a, room * sizeof(*e));
	/* (what goes is at most every old element of the gone addresses: few) */
	struct rs_elem *del = np_arena_alloc_raw(a, (old->n_elems + 1) * sizeof(*e));
	struct rs_elem *put = np_arena_alloc_raw(a, (add->n_elems + 1) * sizeof(*e));
	size_t ne = 0, nd = 0, np = 0, i = 0, j = 0;
	while (i < old->n_elems || j < add->n_elems) {
		bool from_old = j == add->n_elems ||
				(i < old->n_elems &&
				 btable_elem_cmp(&old->elems[i], &add->elems[j]) <= 0);
		const struct rs_elem *x = from_old ? &old->elems[i++] : &add->elems[j++];
		if (from_old && n_gone &&
		    bsearch(&x->addr_lo, gone, n_gone, sizeof(*gone), addr_cmp_v)) {
			del[nd++] = *x;
			continue;
		}
		if (!ne || btable_elem_cmp(&e[ne - 1], x)) {
			if (!from_old)
				put[np++] = *x;
			e[ne++] = *x;
		}
	}
	/* an address taken out and put back (a pod changed but kept it) is no change */
	asm_elems_cancel(del, &nd, put, &np);
	*p = (struct rs_set_patch){ old->elems, old->n_elems, del, put, nd, np };
	*n = ne;
	return e;
}

/* A dirty set built apart (w) made from its last version instead of from every pod (after a
 * namespace relabel: from every pod of it). Not when a pod taken out shares an address with
 * another pod: returns false to have it built anew. */
static bool patch_set(const struct patch *p, const struct build_want *w)
{
	const struct dirty *dirty = p->dirty;
	struct frag_shared *sh = p->shared;
	const struct rs_frag *old = sh->old ? frag_map_get(sh->old, w->name) : NULL;
	/* (named ports open to every pod or to ipBlocks: peers are not a selector's) */
	if (!old || !dirty->set_changes ||
	    (w->named && (w->r->n_peers == 0 || build_rule_has_ipblock(w->r, w->family))))
		return false;
	const bool *look = relevant(p, w->r);
	size_t n_gone;
	const struct np_addr *gone = gone_addrs(p, w, look, &n_gone);
	if (!gone)
		return false;
	struct btable t;
	struct rs_frag *f = frag_new();
	btable_init(&t, f->arena);
	const struct rs_set *os = &old->t.sets[0];
	bool created;
	struct bset *add = btable_set(&t, w->name, os->key, os->interval, &created);
	add->s.comment = os->comment ? np_arena_strdup(t.a, os->comment) : NULL;
	add->s.origin = os->origin ? np_arena_strdup(t.a, os->origin) : NULL;
	for (size_t i = 0; i < dirty->n_set_changes; i++) {
		const struct np_pod *n = dirty->set_changes[i].n;
		if (look[i] && rule_selects(dirty->inv, w->pol, w->r, n))
			build_shared_add_pod(sh->b, add, w, n);
	}
	/* the new elements, sorted, merged into the old ones (sorted) less the gone */
	struct rs_set s = add->s;
	if (s.n_elems > 1)
		qsort(s.elems, s.n_elems, sizeof(*s.elems), btable_elem_cmp);
	struct rs_set_patch *patch = np_arena_alloc(t.a, sizeof(*patch));
	s.elems = merge(t.a, os, &add->s, gone, n_gone, patch, &s.n_elems);
	s.patch = os->interval ? NULL : patch;
	btable_fini(&t);
	frag_hold_set(f, &s);
	frag_shared_put(sh, w->name, f);
	frag_release(f);
	return true;
}

static bool frag_has_set(const struct rs_frag *f, const char *name)
{
	for (size_t i = 0; i < f->t.n_sets; i++)
		if (!strcmp(f->t.sets[i].name, name))
			return true;
	return false;
}

static bool frag_uses(const struct rs_frag *f, const char *name)
{
	for (size_t i = 0; i < f->n_uses; i++)
		if (!strcmp(f->uses[i], name))
			return true;
	return false;
}

/* The set w wants, up to date in p->shared (patched, or built anew); returns its element
 * count. */
static size_t refresh(const struct patch *p, const struct build_want *w)
{
	if (!frag_shared_get(p->shared, w->name) && !patch_set(p, w))
		frag_shared_build(p->shared, w);
	return frag_shared_get(p->shared, w->name)->t.sets[0].n_elems;
}

bool patch_refresh(const struct patch *p, size_t i, const struct rs_frag *f)
{
	const struct np_policy *pol = &p->dirty->inv->pols[i];
	if (!f->t.n_chains)
		return true; /* no local pod: no chain here, whatever its sets hold */
	bool ok = true;
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
			build_peer_names(p->tmp, pol, r, pn);
			build_named_names(p->tmp, pol, ri, !dir, nn);
			for (int fam = 0; fam < 2; fam++) {
				size_t v;
				uint8_t family = fam ? 6 : 4;
				if (peers && strmap_get(&p->dirty->sets, pn[fam], &v)) {
					struct build_want w = { pn[fam], pol, r, ri, family, false };
					/* ingress named ports: the peer set is used with the
					 * named set, when that has elements */
					bool used = refresh(p, &w) > 0 &&
						    (plain || frag_has_set(f, nn[fam]));
					ok &= used == frag_uses(f, pn[fam]);
				}
				if (named && strmap_get(&p->dirty->sets, nn[fam], &v)) {
					struct build_want w = { nn[fam], pol, r, ri, family, true };
					ok &= (refresh(p, &w) > 0) == frag_uses(f, nn[fam]);
				}
			}
		}
	}
	return ok;
}
