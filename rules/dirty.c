/* dirty.c — which fragments a change between two inventories touches (see dirty.h and
 * ruleset_build_cached).
 *
 * A policy's fragment (its chains, counters and the sets they use) depends on the policy, on
 * the pods its peers select (peer sets, egress named ports), on the local pods it selects
 * (ingress named ports; whether it has a chain at all), on namespace labels (its peers'
 * namespaceSelectors) and on Nodes (admin `nodes` peers). A local pod's fragment (its chains
 * and dispatch elements) depends on the pod and on the policies that select it. So:
 *   a pod that changed      its own fragment, every policy that selects it or whose peers
 *                           select it (before or after), every policy with an egress named
 *                           port open to all pods or to ipBlocks;
 *   a policy that changed   its own fragment, every pod it selects (before or after);
 *   a namespace relabelled  every policy with a namespaceSelector that matches it (before or
 *                           after);
 *   a Node that changed     every policy with a `nodes` peer.
 * Objects are compared by content, not by where they were loaded from, so a file rewritten
 * with one pod changed dirties that pod only. Past a bound on changed objects the analysis
 * would cost more than it saves: then everything is rebuilt. */
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "dirty.h"

/* More changed pods or policies than this: rebuild everything. */
#define DIRTY_MAX 128

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool labels_same(const struct np_labels *a, const struct np_labels *b)
{
	if (a->n != b->n)
		return false;
	if (a->v == b->v)
		return true;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].key, b->v[i].key) || strcmp(a->v[i].value, b->v[i].value))
			return false;
	return true;
}

static bool pod_same(const struct np_pod *a, const struct np_pod *b)
{
	if (a->n_ports != b->n_ports || a->n_ips != b->n_ips ||
	    a->host_network != b->host_network || !str_same(a->node, b->node) ||
	    !str_same(a->host_if, b->host_if) || !str_same(a->attach, b->attach) ||
	    !str_same(a->netns, b->netns) || !labels_same(&a->labels, &b->labels))
		return false;
	if (a->n_ips && a->ips != b->ips && memcmp(a->ips, b->ips, a->n_ips * sizeof(*a->ips)))
		return false;
	for (size_t i = 0; a->ports != b->ports && i < a->n_ports; i++)
		if (a->ports[i].port != b->ports[i].port || a->ports[i].proto != b->ports[i].proto ||
		    !str_same(a->ports[i].name, b->ports[i].name))
			return false;
	return true;
}

/* A policy compares by identity: the same parsed object (its file did not change). One that
 * was parsed again counts as changed, which costs its own fragment and its pods' only. The
 * audit annotation is compared by value: a deny-all policy has no rule or label arrays whose
 * identity would tell it changed, yet its pods' chains end by it. */
static bool pol_same(const struct np_policy *a, const struct np_policy *b)
{
	return a->in == b->in && a->out == b->out && a->n_in == b->n_in && a->n_out == b->n_out &&
	       a->ingress == b->ingress && a->egress == b->egress && a->audit == b->audit &&
	       a->pod_sel.match_labels.v == b->pod_sel.match_labels.v &&
	       a->pod_sel.exprs == b->pod_sel.exprs;
}

static bool node_same(const struct np_node *a, const struct np_node *b)
{
	return str_same(a->name, b->name) && labels_same(&a->labels, &b->labels) &&
	       a->n_addrs == b->n_addrs &&
	       (!a->n_addrs || !memcmp(a->addrs, b->addrs, a->n_addrs * sizeof(*a->addrs)));
}

static int nsname_cmp(const char *ans, const char *an, const char *bns, const char *bn)
{
	/* (an object of a file that was not read again is the same memory) */
	int c = ans == bns ? 0 : strcmp(ans ? ans : "", bns ? bns : "");
	return c ? c : an == bn ? 0 : strcmp(an, bn);
}

static void mark(struct dirty *d, struct strmap *m, const char *ns, const char *name)
{
	const char *key = dirty_key(d->tmp, ns, name);
	size_t v;
	if (!strmap_get(m, key, &v))
		strmap_put(m, key, 1);
}

static bool rule_open_named(const struct np_rule *r)
{
	bool named = false, ipblock = false;
	for (size_t i = 0; i < r->n_ports; i++)
		named |= r->ports[i].name != NULL;
	for (size_t i = 0; i < r->n_peers; i++)
		ipblock |= r->peers[i].ipblock != NULL;
	return named && (r->n_peers == 0 || ipblock);
}

/* A peer of rule ri (of direction out) of pol selects a changed object: the rule's peer sets
 * and, for egress, its named-port sets (named ports resolve on the peers) change. The policy's
 * fragment stays unless one of them turns empty or stops being (see patch_refresh). */
static void peer_changed(struct dirty *d, const struct np_policy *pol,
			 const struct np_rule *r, size_t ri, bool out)
{
	const char *names[2];
	build_peer_names(d->tmp, pol, r, names);
	for (int f = 0; f < 2; f++)
		mark(d, &d->sets, NULL, names[f]);
	if (out && build_rule_has_named_port(r)) {
		build_named_names(d->tmp, pol, ri, false, names);
		for (int f = 0; f < 2; f++)
			mark(d, &d->sets, NULL, names[f]);
	}
	mark(d, &d->pol_sets, pol->ns, pol->name);
}

/* A changed pod (old version in prev, new in inv; either may be NULL): what of pol it
 * touches. The peer sets are marked even when the policy itself is rebuilt: a set not marked
 * is up to date, so a rebuilt policy takes it as it is (frag_shared_want). */
static void pod_changed(struct dirty *d, const struct np_policy *pol,
			const struct np_pod *o, const struct np_pod *n)
{
	if ((o && np_policy_selects_pod(pol, o)) || (n && np_policy_selects_pod(pol, n)))
		mark(d, &d->pols, pol->ns, pol->name);
	for (int dir = 0; dir < 2; dir++) {
		size_t n_rules;
		const struct np_rule *rules = build_rules(pol, dir, &n_rules);
		for (size_t ri = 0; ri < n_rules; ri++) {
			const struct np_rule *r = &rules[ri];
			if (dir && rule_open_named(r)) {
				peer_changed(d, pol, r, ri, true);
				continue;
			}
			for (size_t k = 0; k < r->n_peers; k++) {
				const struct np_peer *pe = &r->peers[k];
				if (pe->ipblock || pe->node_sel || (!pe->pod_sel && !pe->ns_sel))
					continue;
				if ((o && np_peer_selects_pod(d->prev, pol->ns, pe, o)) ||
				    (n && np_peer_selects_pod(d->inv, pol->ns, pe, n))) {
					peer_changed(d, pol, r, ri, dir);
					break;
				}
			}
		}
	}
}

/* A namespace's labels changed (old or new labels; either may be NULL): what of pol it
 * touches. */
static void ns_changed(struct dirty *d, const struct np_policy *pol,
		       const struct np_labels *o, const struct np_labels *n)
{
	for (int dir = 0; dir < 2; dir++) {
		size_t n_rules;
		const struct np_rule *rules = build_rules(pol, dir, &n_rules);
		for (size_t ri = 0; ri < n_rules; ri++)
			for (size_t k = 0; k < rules[ri].n_peers; k++) {
				const struct np_selector *s = rules[ri].peers[k].ns_sel;
				if (s && ((o && np_selector_matches(s, o)) ||
					  (n && np_selector_matches(s, n)))) {
					peer_changed(d, pol, &rules[ri], ri, dir);
					break;
				}
			}
	}
}

static bool has_node_peer(const struct np_policy *pol)
{
	for (int dir = 0; dir < 2; dir++) {
		size_t n_rules;
		const struct np_rule *rules = build_rules(pol, dir, &n_rules);
		for (size_t ri = 0; ri < n_rules; ri++)
			for (size_t k = 0; k < rules[ri].n_peers; k++)
				if (rules[ri].peers[k].node_sel)
					return true;
	}
	return false;
}

/* Pods of inv in pol's namespace it selects: dirty. */
static void mark_selected(struct dirty *d, const struct np_policy *pol)
{
	size_t lo, hi;
	np_inventory_ns_pods(d->inv, pol->ns, &lo, &hi);
	for (size_t i = lo; i < hi; i++)
		if (np_policy_selects_pod(pol, &d->inv->pods[i]))
			mark(d, &d->pods, d->inv->pods[i].ns, d->inv->pods[i].name);
}


/* Walks two arrays sorted by (ns, name) and collects the pairs that differ. Returns false when
 * there are more than max. */
#define WALK(T, A, NA, B, NB, NSF, SAME, OUT, NOUT, MAX)                                        \
	do {                                                                                     \
		size_t i_ = 0, j_ = 0;                                                           \
		while (i_ < (NA) || j_ < (NB)) {                                                 \
			const T *a_ = i_ < (NA) ? &(A)[i_] : NULL;                               \
			const T *b_ = j_ < (NB) ? &(B)[j_] : NULL;                               \
			/* (an object of a file not read again is a byte copy of the same) */    \
			if (a_ && b_ && !memcmp(a_, b_, sizeof(*a_))) {                          \
				i_++, j_++;                                                      \
				continue;                                                        \
			}                                                                        \
			int c_ = !a_ ? 1 : !b_ ? -1 : nsname_cmp(NSF(a_), a_->name, NSF(b_),     \
								  b_->name);                     \
			if (c_ == 0) {                                                           \
				i_++, j_++;                                                      \
				if (SAME(a_, b_))                                                \
					continue;                                                \
			} else if (c_ < 0) {                                                     \
				i_++, b_ = NULL;                                                 \
			} else {                                                                 \
				j_++, a_ = NULL;                                                 \
			}                                                                        \
			if ((NOUT) == (MAX))                                                     \
				return false;                                                    \
			(OUT)[(NOUT)++] = (struct change){ a_, b_ };                             \
		}                                                                                \
	} while (0)

#define NS_OF(x) ((x)->ns)
#define NO_NS(x) ((const char *)NULL)

static bool same_nss(const struct np_namespace *a, const struct np_namespace *b)
{
	return labels_same(&a->labels, &b->labels);
}

static bool walk_pods(const struct np_inventory *p, const struct np_inventory *n,
		      struct change *out, size_t *nout)
{
	WALK(struct np_pod, p->pods, p->n_pods, n->pods, n->n_pods, NS_OF, pod_same, out, *nout,
	     DIRTY_MAX);
	return true;
}

static bool walk_pols(const struct np_inventory *p, const struct np_inventory *n,
		      struct change *out, size_t *nout)
{
	WALK(struct np_policy, p->pols, p->n_pols, n->pols, n->n_pols, NS_OF, pol_same, out, *nout,
	     DIRTY_MAX);
	return true;
}

static bool walk_nss(const struct np_inventory *p, const struct np_inventory *n,
		     struct change *out, size_t *nout)
{
	WALK(struct np_namespace, p->nss, p->n_nss, n->nss, n->n_nss, NO_NS, same_nss, out, *nout,
	     DIRTY_MAX);
	return true;
}

/* What patch.c works from (see dirty.h). */
static void set_changes(struct dirty *d, const struct change *nss, size_t n_nss)
{
	if (!n_nss) {
		d->set_changes = d->pod_changes;
		d->n_set_changes = d->n_pod_changes;
		return;
	}
	if (d->n_pod_changes)
		return;
	/* relabels only (no pod changed): the namespaces' pods are the same in both */
	size_t total = 0;
	for (size_t i = 0; i < n_nss; i++) {
		const struct np_namespace *o = nss[i].o, *n = nss[i].n;
		size_t lo, hi;
		if (!o || !n)
			return;
		np_inventory_ns_pods(d->inv, n->name, &lo, &hi);
		total += hi - lo;
	}
	if (total > 4096)
		return;
	struct change *v = np_arena_alloc(d->tmp, (total + 1) * sizeof(*v));
	size_t k = 0;
	for (size_t i = 0; i < n_nss; i++) {
		const struct np_namespace *n = nss[i].n;
		size_t lo, hi, plo, phi;
		np_inventory_ns_pods(d->inv, n->name, &lo, &hi);
		np_inventory_ns_pods(d->prev, n->name, &plo, &phi);
		if (phi - plo != hi - lo)
			return;
		for (size_t j = 0; j < hi - lo; j++)
			v[k++] = (struct change){ &d->prev->pods[plo + j], &d->inv->pods[lo + j] };
	}
	d->set_changes = v;
	d->n_set_changes = k;
}

static bool nodes_same(const struct np_inventory *p, const struct np_inventory *n)
{
	if (p->n_nodes != n->n_nodes)
		return false;
	for (size_t i = 0; i < p->n_nodes; i++)
		if (!node_same(&p->nodes[i], &n->nodes[i]))
			return false;
	return true;
}

void dirty_compute(struct dirty *d, const struct np_inventory *prev,
			 const struct np_inventory *inv)
{
	d->prev = prev;
	d->inv = inv;
	d->all = true;
	if (!prev)
		return;
	struct change *pods = np_arena_alloc(d->tmp, DIRTY_MAX * sizeof(*pods));
	struct change *pols = np_arena_alloc(d->tmp, DIRTY_MAX * sizeof(*pols));
	struct change *nss = np_arena_alloc(d->tmp, DIRTY_MAX * sizeof(*nss));
	size_t n_pods = 0, n_pols = 0, n_nss = 0;
	if (!walk_pods(prev, inv, pods, &n_pods) || !walk_pols(prev, inv, pols, &n_pols) ||
	    !walk_nss(prev, inv, nss, &n_nss))
		return;
	bool nodes = !nodes_same(prev, inv);
	d->all = false;
	d->changed = n_pods + n_pols + n_nss + (nodes ? 1 : 0);
	d->pod_changes = pods;
	d->n_pod_changes = n_pods;
	d->n_ns_changes = n_nss;
	set_changes(d, nss, n_nss);

	for (size_t i = 0; i < n_pods; i++) {
		const struct np_pod *o = pods[i].o, *n = pods[i].n;
		const struct np_pod *any = n ? n : o;
		mark(d, &d->pods, any->ns, any->name);
		for (size_t k = 0; k < inv->n_pols; k++)
			pod_changed(d, &inv->pols[k], o, n);
	}
	for (size_t i = 0; i < n_pols; i++) {
		const struct np_policy *o = pols[i].o, *n = pols[i].n;
		const struct np_policy *any = n ? n : o;
		mark(d, &d->pols, any->ns, any->name);
		if (o)
			mark_selected(d, o);
		if (n)
			mark_selected(d, n);
	}
	for (size_t i = 0; i < n_nss; i++) {
		const struct np_namespace *o = nss[i].o, *n = nss[i].n;
		for (size_t k = 0; k < inv->n_pols; k++)
			ns_changed(d, &inv->pols[k], o ? &o->labels : NULL, n ? &n->labels : NULL);
	}
	for (size_t k = 0; nodes && k < inv->n_pols; k++)
		if (has_node_peer(&inv->pols[k]))
			mark(d, &d->pols, inv->pols[k].ns, inv->pols[k].name);
}

bool dirty_has(const struct dirty *d, const struct strmap *m, const char *key)
{
	size_t v;
	return d->all || strmap_get(m, key, &v);
}

void dirty_free(struct dirty *d)
{
	strmap_free(&d->pols);
	strmap_free(&d->pods);
	strmap_free(&d->sets);
	strmap_free(&d->pol_sets);
}

const char *dirty_key(struct np_arena *a, const char *ns, const char *name)
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
