/* build.c — the builders of a policy's chains and a pod's chains, and of the sets their rules
 * match on (the layout rules/README.md, "The ruleset", describes; see build.h).
 *
 * Dispatch maps hold an element only for local pods isolated in that direction, so "default
 * deny for selected pods only" costs nothing for the others. Peer sets are named by a hash of
 * what selects them (not of their content), so pod churn only changes elements. */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "build.h"
#include "interval.h"
#include "ruleset.h"
#include "sbuf.h"
#include "vec.h"
#include "xalloc.h"

struct podlist {
	size_t *v; /* indexes into inv->pods, ascending, unique */
	size_t n, cap;
};

bool ruleset_pod_local(const struct rs_options *opt, const struct np_pod *p)
{
	if (p->host_network || p->n_ips == 0)
		return false;
	/* macvlan endpoints are enforced in their own netns (netns_local); their traffic never
	 * crosses the node's hooks, so the node table leaves them out */
	if (!opt->netns_local && p->attach && !strcmp(p->attach, "macvlan"))
		return false;
	if (opt->local_pod) {
		size_t l = strlen(p->ns);
		return !strncmp(opt->local_pod, p->ns, l) && opt->local_pod[l] == '/' &&
		       !strcmp(opt->local_pod + l + 1, p->name);
	}
	if (!opt->node)
		return true;
	return p->node && !strcmp(p->node, opt->node);
}

static bool pod_is_local(const struct builder *b, const struct np_pod *p)
{
	return ruleset_pod_local(b->opt, p);
}

/* ---- the context ---- */

struct builder *builder_new(const struct np_inventory *inv, const struct rs_options *opt)
{
	struct builder *b = xcalloc(1, sizeof(*b));
	b->inv = inv;
	b->opt = opt;
	b->tmp = np_arena_new();
	b->sel_pods = np_arena_alloc(b->tmp, (inv->n_pols + 1) * sizeof(size_t *));
	b->n_sel_pods = np_arena_alloc(b->tmp, (inv->n_pols + 1) * sizeof(size_t));
	return b;
}

void builder_local(struct builder *b)
{
	if (b->local)
		return;
	const struct np_inventory *inv = b->inv;
	b->local = np_arena_alloc(b->tmp, (inv->n_pods + 1) * sizeof(*b->local));
	for (size_t p = 0; p < inv->n_pods; p++)
		if (pod_is_local(b, &inv->pods[p]))
			b->local[b->n_local++] = p;
}

void builder_free(struct builder *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_lists; i++)
		free(b->lists[i].v);
	strmap_free(&b->peer_cache);
	strmap_free(&b->shared);
	np_arena_free(b->tmp);
	free(b);
}

void builder_shared_put(struct builder *b, const char *name, size_t n)
{
	strmap_put(&b->shared, np_arena_strdup(b->tmp, name), n);
}

/* ---- canonical text of selectors, for set names and comments ---- */

static const char *const op_names[] = { "in", "notin", "exists", "!exists" };

static void sb_selector(struct sbuf *s, const struct np_selector *sel)
{
	sbuf_puts(s, "{");
	for (size_t i = 0; i < sel->match_labels.n; i++) {
		if (i)
			sbuf_puts(s, ",");
		sbuf_puts(s, sel->match_labels.v[i].key);
		sbuf_puts(s, "=");
		sbuf_puts(s, sel->match_labels.v[i].value);
	}
	for (size_t i = 0; i < sel->n_exprs; i++) {
		const struct np_sel_expr *e = &sel->exprs[i];
		if (i || sel->match_labels.n)
			sbuf_puts(s, ",");
		sbuf_puts(s, e->key);
		sbuf_puts(s, " ");
		sbuf_puts(s, op_names[e->op]);
		if (e->n_values) {
			sbuf_puts(s, " (");
			for (size_t j = 0; j < e->n_values; j++) {
				if (j)
					sbuf_puts(s, ",");
				sbuf_puts(s, e->values[j]);
			}
			sbuf_puts(s, ")");
		}
	}
	sbuf_puts(s, "}");
}

/* "ns x: pod {app=web}" / "ns {team=a}: pod {}" / "ns {}: all pods" */
static void sb_peer(struct sbuf *s, const char *policy_ns, const struct np_peer *p)
{
	if (p->ns_sel) {
		sbuf_puts(s, "ns ");
		sb_selector(s, p->ns_sel);
	} else {
		sbuf_puts(s, "ns ");
		sbuf_puts(s, policy_ns);
	}
	sbuf_puts(s, ": pod ");
	if (p->pod_sel)
		sb_selector(s, p->pod_sel);
	else
		sbuf_puts(s, "{}");
}

/* The canonical text of a rule's selector peers (malloc'ed): what peer sets are named by. */
static char *peer_canon(const struct np_policy *pol, const struct np_rule *r)
{
	struct sbuf canon = { 0 };
	for (size_t i = 0; i < r->n_peers; i++) {
		if (r->peers[i].ipblock || r->peers[i].node_sel)
			continue;
		if (canon.n)
			sbuf_puts(&canon, " | ");
		sb_peer(&canon, pol->ns, &r->peers[i]);
	}
	return canon.p;
}

/* ---- facts about a rule ---- */

bool build_rule_has_selector_peer(const struct np_rule *r)
{
	for (size_t i = 0; i < r->n_peers; i++)
		if (!r->peers[i].ipblock && !r->peers[i].node_sel)
			return true;
	return false;
}

bool build_rule_has_ipblock(const struct np_rule *r, uint8_t family)
{
	for (size_t i = 0; i < r->n_peers; i++)
		if (r->peers[i].ipblock && r->peers[i].ipblock->cidr.addr.family == family)
			return true;
	return false;
}

bool build_rule_has_numeric_port(const struct np_rule *r)
{
	for (size_t i = 0; i < r->n_ports; i++)
		if (!r->ports[i].name)
			return true;
	return false;
}

bool build_rule_has_named_port(const struct np_rule *r)
{
	for (size_t i = 0; i < r->n_ports; i++)
		if (r->ports[i].name)
			return true;
	return false;
}

static bool rule_has_node_peer(const struct np_rule *r)
{
	for (size_t i = 0; i < r->n_peers; i++)
		if (r->peers[i].node_sel)
			return true;
	return false;
}

/* ---- peers ---- */

/* Appends to l every pod a selector peer selects, visiting only the namespaces it can match. */
static void peer_pods_add(const struct builder *b, const char *policy_ns,
			  const struct np_peer *peer, struct podlist *l)
{
	const struct np_inventory *inv = b->inv;
	if (peer->ipblock || (!peer->pod_sel && !peer->ns_sel))
		return;
	for (size_t i = 0; i < inv->n_nss; i++) {
		const struct np_namespace *ns = &inv->nss[i];
		if (peer->ns_sel ? !np_selector_matches(peer->ns_sel, &ns->labels)
				 : strcmp(ns->name, policy_ns))
			continue;
		size_t lo, hi;
		np_inventory_ns_pods(inv, ns->name, &lo, &hi);
		/* the namespace already matched: only the pod half of np_peer_selects_pod is left
		 * (re-finding the namespace per pod was the hottest part of building) */
		for (size_t j = lo; j < hi; j++) {
			const struct np_pod *pod = &inv->pods[j];
			if (!pod->host_network &&
			    (!peer->pod_sel || np_selector_matches(peer->pod_sel, &pod->labels)))
				VEC_PUSH(l->v, l->n, l->cap) = j;
		}
	}
}

static int size_cmp(const void *x, const void *y)
{
	size_t a = *(const size_t *)x, b = *(const size_t *)y;
	return (a > b) - (a < b);
}

/* The pods a rule's selector peers select, computed once per distinct peer list (peer sets of
 * both families and egress named ports all need them). */
static const struct podlist *peer_pods(struct builder *b, const struct np_policy *pol,
				       const struct np_rule *r, const char *canon)
{
	size_t idx;
	if (strmap_get(&b->peer_cache, canon, &idx))
		return &b->lists[idx];
	ARENA_PUSH(b->tmp, b->lists, b->n_lists, b->cap_lists);
	struct podlist *l = &b->lists[b->n_lists - 1];
	for (size_t i = 0; i < r->n_peers; i++)
		if (!r->peers[i].ipblock && !r->peers[i].node_sel)
			peer_pods_add(b, pol->ns, &r->peers[i], l);
	if (l->n > 1) { /* a pod several peers select counts once */
		qsort(l->v, l->n, sizeof(size_t), size_cmp);
		size_t m = 1;
		for (size_t i = 1; i < l->n; i++)
			if (l->v[i] != l->v[m - 1])
				l->v[m++] = l->v[i];
		l->n = m;
	}
	strmap_put(&b->peer_cache, np_arena_strdup(b->tmp, canon), b->n_lists - 1);
	return l;
}

static void add_pod_addrs(struct bset *s, const struct np_pod *pod, uint8_t family)
{
	for (size_t i = 0; i < pod->n_ips; i++)
		if (pod->ips[i].family == family)
			bset_add_addr(s, &pod->ips[i]);
}

/* ---- sets of one rule ---- */

/* The normalized ipBlock ranges of a rule for one family (cidr minus except, unioned). */
static void rule_ranges(const struct np_rule *r, uint8_t family, struct np_ranges *out)
{
	for (size_t i = 0; i < r->n_peers; i++) {
		const struct np_ipblock *ib = r->peers[i].ipblock;
		if (!ib || ib->cidr.addr.family != family)
			continue;
		struct np_ranges one = { 0 };
		np_ranges_add_cidr(&one, &ib->cidr);
		for (size_t j = 0; j < ib->n_except; j++)
			np_ranges_subtract_cidr(&one, &ib->except[j]);
		for (size_t j = 0; j < one.n; j++) {
			np_ranges_add_cidr(out, &(struct np_cidr){ .addr = one.v[j].lo,
								    .prefix = 0 });
			out->v[out->n - 1] = one.v[j];
		}
		np_ranges_free(&one);
	}
	np_ranges_normalize(out);
}

static const char *cidr_set(struct btable *t, const struct np_policy *pol,
			    const struct np_rule *r, uint8_t family)
{
	struct sbuf canon = { 0 };
	char buf[64];
	for (size_t i = 0; i < r->n_peers; i++) {
		const struct np_ipblock *ib = r->peers[i].ipblock;
		if (!ib || ib->cidr.addr.family != family)
			continue;
		if (canon.n)
			sbuf_puts(&canon, ", ");
		sbuf_puts(&canon, np_cidr_str(&ib->cidr, buf));
		for (size_t j = 0; j < ib->n_except; j++) {
			sbuf_puts(&canon, j ? " " : " except ");
			sbuf_puts(&canon, np_cidr_str(&ib->except[j], buf));
		}
	}
	const char *name = btable_hashname(t->a, family == 4 ? "cidr4-" : "cidr6-", canon.p);
	bool created;
	struct bset *s = btable_set(t, name, family == 4 ? RS_KEY_IPV4 : RS_KEY_IPV6, true,
				    &created);
	if (created) {
		s->s.comment = btable_comment(t->a, canon.p);
		s->s.origin = np_arena_printf(t->a, "policy %s/%s ipBlock", pol->ns, pol->name);
		struct np_ranges rg = { 0 };
		rule_ranges(r, family, &rg);
		for (size_t i = 0; i < rg.n; i++) {
			struct rs_elem *e = bset_add(s);
			e->addr_lo = rg.v[i].lo;
			e->addr_hi = rg.v[i].hi;
		}
		np_ranges_free(&rg);
	}
	free(canon.p);
	return s->s.name;
}

/* A rule's numeric ports and ranges, sorted and merged per protocol, into v (r->n_ports
 * elements); returns how many. */
static size_t port_ranges(const struct np_rule *r, struct rs_elem *v)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct np_port *p = &r->ports[i];
		if (p->name)
			continue;
		v[n].proto = (uint8_t)p->proto;
		v[n].port_lo = p->port;
		v[n].port_hi = p->port == 0 ? 65535 : (p->end_port ? p->end_port : p->port);
		n++;
	}
	qsort(v, n, sizeof(*v), btable_elem_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && v[m - 1].proto == v[i].proto &&
		    (uint32_t)v[i].port_lo <= (uint32_t)v[m - 1].port_hi + 1) {
			if (v[i].port_hi > v[m - 1].port_hi)
				v[m - 1].port_hi = v[i].port_hi;
		} else {
			v[m++] = v[i];
		}
	}
	return m;
}

/* Numeric ports and ranges of a rule: proto . port interval set, merged per protocol. */
static const char *port_set(struct btable *t, const struct np_policy *pol,
			    const struct np_rule *r)
{
	struct rs_elem *v = xcalloc(r->n_ports, sizeof(*v));
	size_t m = port_ranges(r, v);
	struct sbuf canon = { 0 };
	char buf[48];
	for (size_t i = 0; i < m; i++) {
		if (v[i].port_lo == v[i].port_hi)
			snprintf(buf, sizeof(buf), "%s%s %u", i ? ", " : "",
				 np_proto_name(v[i].proto), v[i].port_lo);
		else
			snprintf(buf, sizeof(buf), "%s%s %u-%u", i ? ", " : "",
				 np_proto_name(v[i].proto), v[i].port_lo, v[i].port_hi);
		sbuf_puts(&canon, buf);
	}
	const char *name = btable_hashname(t->a, "port-", canon.p);
	bool created;
	struct bset *s = btable_set(t, name, RS_KEY_PROTO_PORT, true, &created);
	if (created) {
		s->s.comment = btable_comment(t->a, canon.p);
		s->s.origin = np_arena_printf(t->a, "policy %s/%s ports", pol->ns, pol->name);
		for (size_t i = 0; i < m; i++)
			*bset_add(s) = v[i];
	}
	free(canon.p);
	free(v);
	return s->s.name;
}

/* Adds addr . proto . port for every named port of rule r the pod defines; returns how many
 * (s NULL: only counts them). */
static size_t add_named(struct bset *s, const struct np_rule *r, const struct np_pod *pod,
			const struct np_addr *addr)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct np_port *p = &r->ports[i];
		if (!p->name)
			continue;
		for (size_t j = 0; j < pod->n_ports; j++) {
			const struct np_container_port *cp = &pod->ports[j];
			if (!cp->name || (!p->any_proto && cp->proto != p->proto) ||
			    strcmp(cp->name, p->name))
				continue;
			n++;
			if (!s)
				continue;
			struct rs_elem *e = bset_add(s);
			e->addr_lo = e->addr_hi = *addr;
			e->proto = (uint8_t)cp->proto;
			e->port_lo = e->port_hi = cp->port;
		}
	}
	return n;
}

static size_t add_named_pod(struct bset *s, const struct np_rule *r, const struct np_pod *pod,
			    uint8_t family)
{
	size_t n = 0;
	for (size_t i = 0; i < pod->n_ips; i++)
		if (pod->ips[i].family == family)
			n += add_named(s, r, pod, &pod->ips[i]);
	return n;
}

/* Named ports resolve on the destination pod: for ingress the selected (local) pods, for
 * egress every peer pod (the key then also stands for peer membership). */
static void named_fill(struct builder *b, struct bset *s, const struct np_policy *pol,
		       const struct build_targets *tg, const struct np_rule *r, bool ingress,
		       uint8_t family)
{
	if (ingress) {
		for (size_t i = 0; i < tg->n; i++) {
			const struct np_pod *pod = &b->inv->pods[tg->v[i]];
			if (pod_is_local(b, pod))
				add_named_pod(s, r, pod, family);
		}
		return;
	}
	if (r->n_peers == 0) {
		for (size_t i = 0; i < b->inv->n_pods; i++)
			if (!b->inv->pods[i].host_network)
				add_named_pod(s, r, &b->inv->pods[i], family);
		return;
	}
	if (build_rule_has_selector_peer(r)) {
		char *canon = peer_canon(pol, r);
		const struct podlist *l = peer_pods(b, pol, r, canon);
		for (size_t i = 0; i < l->n; i++)
			add_named_pod(s, r, &b->inv->pods[l->v[i]], family);
		free(canon);
	}
	if (build_rule_has_ipblock(r, family)) {
		/* pods whose address lies in the rule's ipBlocks are peers by address */
		struct np_ranges rg = { 0 };
		rule_ranges(r, family, &rg);
		for (size_t i = 0; i < b->inv->n_pods; i++) {
			const struct np_pod *pod = &b->inv->pods[i];
			if (pod->host_network)
				continue;
			for (size_t j = 0; j < pod->n_ips; j++)
				if (pod->ips[j].family == family &&
				    np_ranges_contains(&rg, &pod->ips[j]))
					add_named(s, r, pod, &pod->ips[j]);
		}
		np_ranges_free(&rg);
	}
}

/* Whether the ingress named-port set of rule r for family has an element: a local pod the
 * policy selects defines one of the rule's named ports (what named_fill would add). */
static bool ingress_named_any(const struct builder *b, const struct build_targets *tg,
			      const struct np_rule *r, uint8_t family)
{
	for (size_t i = 0; i < tg->n; i++) {
		const struct np_pod *pod = &b->inv->pods[tg->v[i]];
		if (pod_is_local(b, pod) && add_named_pod(NULL, r, pod, family))
			return true;
	}
	return false;
}

/* The name of the named-port set of rule rule_idx of pol for one family, in a. */
static const char *named_name(struct np_arena *a, const struct np_policy *pol, size_t rule_idx,
			      bool ingress, uint8_t family)
{
	char text[600];
	snprintf(text, sizeof(text), "%s/%s-%c%zu", pol->ns, pol->name, ingress ? 'i' : 'e',
		 rule_idx);
	return btable_name(a, family == 4 ? "named4-" : "named6-", text, "");
}

void build_named_names(struct np_arena *a, const struct np_policy *pol, size_t rule_idx,
		       bool ingress, const char *out[2])
{
	out[0] = named_name(a, pol, rule_idx, ingress, 4);
	out[1] = named_name(a, pol, rule_idx, ingress, 6);
}

/* The named-port set of rule rule_idx of pol for one family, filled into t; returns its name. An
 * egress one is a set built apart, so that peer pods coming and going rebuild it and not the
 * policy. */
static const char *named_set(struct builder *b, struct btable *t, const struct np_policy *pol,
			     const struct build_targets *tg, const struct np_rule *r,
			     size_t rule_idx, bool ingress, uint8_t family)
{
	const char *name = named_name(t->a, pol, rule_idx, ingress, family);
	bool created;
	struct bset *s = btable_set(t, name,
				    family == 4 ? RS_KEY_IPV4_PROTO_PORT : RS_KEY_IPV6_PROTO_PORT,
				    false, &created);
	s->s.origin = np_arena_printf(t->a, "policy %s/%s %s rule %zu named ports", pol->ns,
				      pol->name, ingress ? "ingress" : "egress", rule_idx);
	s->s.comment = btable_comment(
		t->a, np_arena_printf(t->a, "%s/%s %s[%zu] named ports", pol->ns, pol->name,
				      ingress ? "ingress" : "egress", rule_idx));
	named_fill(b, s, pol, tg, r, ingress, family);
	return name;
}

/* The InternalIPs of the Nodes a rule's `nodes` peers select, for one family (admin tiers). */
static const char *node_set(struct builder *b, struct btable *t, const struct np_policy *pol,
			    const struct np_rule *r, uint8_t family)
{
	struct sbuf canon = { 0 };
	for (size_t i = 0; i < r->n_peers; i++) {
		if (!r->peers[i].node_sel)
			continue;
		sbuf_puts(&canon, canon.n ? " | node " : "node ");
		sb_selector(&canon, r->peers[i].node_sel);
	}
	const char *name = btable_hashname(t->a, family == 4 ? "node4-" : "node6-", canon.p);
	bool created;
	struct bset *s = btable_set(t, name, family == 4 ? RS_KEY_IPV4 : RS_KEY_IPV6, false,
				    &created);
	if (created) {
		s->s.comment = btable_comment(t->a, canon.p);
		s->s.origin = np_arena_printf(t->a, "policy %s/%s nodes", pol->ns, pol->name);
		for (size_t i = 0; i < r->n_peers; i++)
			for (size_t n = 0; r->peers[i].node_sel && n < b->inv->n_nodes; n++) {
				const struct np_node *node = &b->inv->nodes[n];
				if (!np_selector_matches(r->peers[i].node_sel, &node->labels))
					continue;
				for (size_t k = 0; k < node->n_addrs; k++)
					if (node->addrs[k].family == family)
						bset_add_addr(s, &node->addrs[k]);
			}
	}
	free(canon.p);
	return s->s.name;
}

/* ---- sets built apart ---- */

void build_peer_names(struct np_arena *a, const struct np_policy *pol, const struct np_rule *r,
		      const char *out[2])
{
	char *canon = peer_canon(pol, r);
	out[0] = btable_hashname(a, "peer4-", canon ? canon : "");
	out[1] = btable_hashname(a, "peer6-", canon ? canon : "");
	free(canon);
}

/* The pod-IP set of a rule's selector peers for one family, shared by every rule with the same
 * peers (named by a hash of their canonical text). */
static void peer_set(struct builder *b, struct btable *t, const struct build_want *w)
{
	char *canon = peer_canon(w->pol, w->r);
	bool created;
	struct bset *s = btable_set(t, w->name, w->family == 4 ? RS_KEY_IPV4 : RS_KEY_IPV6, false,
				    &created);
	s->s.comment = btable_comment(t->a, canon);
	s->s.origin = np_arena_printf(t->a, "policy %s/%s peers", w->pol->ns, w->pol->name);
	const struct podlist *l = peer_pods(b, w->pol, w->r, canon);
	for (size_t i = 0; i < l->n; i++)
		add_pod_addrs(s, &b->inv->pods[l->v[i]], w->family);
	free(canon);
}

void build_shared_set(struct builder *b, struct btable *t, const struct build_want *w)
{
	if (w->named)
		named_set(b, t, w->pol, NULL, w->r, w->ri, false, w->family);
	else
		peer_set(b, t, w);
}

void build_shared_add_pod(struct builder *b, struct bset *s, const struct build_want *w,
			  const struct np_pod *pod)
{
	if (w->named)
		add_named_pod(s, w->r, pod, w->family);
	else
		add_pod_addrs(s, pod, w->family);
}

static void want(struct build_wants *w, const char *name, const struct np_policy *pol,
		 const struct np_rule *r, size_t ri, uint8_t family, bool named)
{
	VEC_PUSH(w->v, w->n, w->cap) = (struct build_want){ name, pol, r, ri, family, named };
}

/* (mirrors build_rule_expand: the sets it looks up outside its table, exactly) */
void build_rule_wants(struct builder *b, const struct np_policy *pol,
		      const struct build_targets *tg, const struct np_rule *r, size_t ri,
		      bool ingress, struct build_wants *w)
{
	bool plain = r->n_ports == 0 || build_rule_has_numeric_port(r);
	bool named = build_rule_has_named_port(r);
	bool peers = build_rule_has_selector_peer(r);
	const char *nn[2] = { NULL, NULL }, *pn[2] = { NULL, NULL };
	for (uint8_t family = 4; family <= 6; family += 2) {
		int f = family == 6;
		if (named && !ingress) {
			if (!nn[0])
				build_named_names(b->tmp, pol, ri, false, nn);
			want(w, nn[f], pol, r, ri, family, true);
		}
		if (peers && (plain || (ingress && named && ingress_named_any(b, tg, r, family)))) {
			if (!pn[0])
				build_peer_names(b->tmp, pol, r, pn);
			want(w, pn[f], pol, r, ri, family, false);
		}
	}
}

/* ---- rules ---- */

static const char *policy_text(struct np_arena *a, const struct np_policy *pol)
{
	return np_arena_printf(a, "%s/%s", pol->ns, pol->name);
}

/* name, or NULL when that set (of t, or built apart) has no element. */
static const char *nonempty(const struct builder *b, const struct btable *t, const char *name)
{
	size_t idx, n;
	if (strmap_get(&t->set_idx, name, &idx))
		return t->sets[idx].s.n_elems ? name : NULL;
	return strmap_get(&b->shared, name, &n) && n ? name : NULL;
}

/* One policy rule being expanded: what every nft rule it becomes shares. */
struct expansion {
	struct builder *b;
	struct btable *t;
	struct rs_chain *c;
	const struct np_policy *pol;
	const struct build_targets *tg;
	const struct np_rule *r;
	size_t ri;
	bool ingress;
	const struct build_verdict *v;
	const char *origin;
	const char *ports; /* its numeric port set, or NULL */
	bool plain;        /* it has no named port to match */
	const char *peer_names[2]; /* its peer sets' names, once needed */
};

/* A new nft rule of the expansion, matching first on set (of family) when there is one; the
 * caller adds the rest and ends it. */
static struct rs_rule *rule_begin(const struct expansion *x, const char *set, uint8_t family)
{
	struct rs_rule *rr = btable_rule(x->t, x->c);
	if (set)
		btable_match(rr, x->ingress ? RS_M_SADDR_IN : RS_M_DADDR_IN, set, family);
	return rr;
}

static void rule_end(const struct expansion *x, struct rs_rule *rr)
{
	rr->counter = x->v->counter;
	rr->verdict = x->v->verdict;
	rr->target = x->v->target;
	rr->origin = x->origin;
}

/* The nft rules of one family: one per peer alternative (peer set | CIDR set | node set), with
 * the port set or the ingress named-port set, or the named-port set alone. */
static void expand_family(struct expansion *x, uint8_t family)
{
	const struct np_rule *r = x->r;
	/* A rule whose set is empty can never match, so it is left out, and a set no rule uses
	 * is dropped when the table is finished: a quarter of the sets of a large cluster are
	 * empty (an IPv6 set where no pod has IPv6, a named port nobody defines), and the
	 * kernel's commit time grows with the set count. When a set fills later, the policy
	 * chain changes, which incremental apply handles. */
	const char *named = NULL;
	if (build_rule_has_named_port(r))
		named = nonempty(x->b, x->t,
				 x->ingress ? named_set(x->b, x->t, x->pol, x->tg, r, x->ri, true, family)
					    : named_name(x->t->a, x->pol, x->ri, false, family));
	/* peer alternatives of this family; none of them: the family stays closed */
	const char *peers[3];
	size_t n_peers = 0;
	bool peer_match = x->plain || (named && x->ingress); /* egress named sets imply it */
	const char *ps;
	if (peer_match && build_rule_has_selector_peer(r)) {
		if (!x->peer_names[0])
			build_peer_names(x->t->a, x->pol, r, x->peer_names);
		if ((ps = nonempty(x->b, x->t, x->peer_names[family == 6])))
			peers[n_peers++] = ps;
	}
	if (peer_match && build_rule_has_ipblock(r, family) &&
	    (ps = nonempty(x->b, x->t, cidr_set(x->t, x->pol, r, family))))
		peers[n_peers++] = ps;
	if (x->plain && rule_has_node_peer(r) &&
	    (ps = nonempty(x->b, x->t, node_set(x->b, x->t, x->pol, r, family))))
		peers[n_peers++] = ps;
	for (size_t pi = 0; pi < n_peers; pi++) {
		if (x->plain) {
			struct rs_rule *rr = rule_begin(x, peers[pi], family);
			if (x->ports)
				btable_match(rr, RS_M_L4_PORT_IN, x->ports, 0);
			rule_end(x, rr);
		}
		if (named && x->ingress) {
			struct rs_rule *rr = rule_begin(x, peers[pi], family);
			btable_match(rr, RS_M_DADDR_L4_PORT_IN, named, family);
			rule_end(x, rr);
		}
	}
	/* Named ports with every peer (ingress or egress), or egress named ports whose set
	 * already holds only peer addresses: the set lookup is the whole match. */
	if (named && (r->n_peers == 0 || !x->ingress)) {
		struct rs_rule *rr = rule_begin(x, NULL, 0);
		btable_match(rr, RS_M_DADDR_L4_PORT_IN, named, family);
		rule_end(x, rr);
	}
}

/* At most (peer set | CIDR set | node set) x (port set | named-port set) rules per family, each
 * counting into v->counter and ending in v->verdict (to v->target for jump/goto). tg: the local
 * pods the policy selects (where ingress named ports resolve). The sets built apart it uses must
 * be in b->shared (build_rule_wants). */
void build_rule_expand(struct builder *b, struct btable *t, struct rs_chain *c,
		       const struct np_policy *pol, const struct build_targets *tg,
		       const struct np_rule *r, size_t ri, bool ingress,
		       const struct build_verdict *v)
{
	struct expansion x = { .b = b, .t = t, .c = c, .pol = pol, .tg = tg, .r = r, .ri = ri,
			       .ingress = ingress, .v = v };
	x.origin = np_arena_printf(t->a, "policy %s %s rule %zu", policy_text(t->a, pol),
				   ingress ? "ingress" : "egress", ri);
	x.ports = build_rule_has_numeric_port(r) ? port_set(t, pol, r) : NULL;
	x.plain = r->n_ports == 0 || x.ports;
	if (r->n_peers == 0 && x.plain) {
		/* every peer: no address match, so one rule serves both families */
		struct rs_rule *rr = rule_begin(&x, NULL, 0);
		if (x.ports)
			btable_match(rr, RS_M_L4_PORT_IN, x.ports, 0);
		rule_end(&x, rr);
	}
	expand_family(&x, 4);
	expand_family(&x, 6);
}

/* ---- policies ---- */

/* What policy i's spec.podSelector selects, computed once per build when first needed. */
static struct build_targets sel_of(struct builder *b, size_t i)
{
	const struct np_inventory *inv = b->inv;
	if (!b->sel_pods[i]) {
		size_t lo, hi;
		np_inventory_ns_pods(inv, inv->pols[i].ns, &lo, &hi);
		b->sel_pods[i] = np_arena_alloc(b->tmp, (hi - lo + 1) * sizeof(size_t));
		for (size_t p = lo; p < hi; p++)
			if (np_policy_selects_pod(&inv->pols[i], &inv->pods[p]))
				b->sel_pods[i][b->n_sel_pods[i]++] = p;
	}
	return (struct build_targets){ b->sel_pods[i], b->n_sel_pods[i] };
}

/* Whether policy i has a chain for direction dir (0 ingress, 1 egress): it has rules there. */
static bool policy_has_chain(const struct np_policy *pol, int dir)
{
	return dir ? pol->egress && pol->n_out : pol->ingress && pol->n_in;
}

bool build_policy_wants(struct builder *b, size_t i, struct build_wants *w)
{
	const struct np_policy *pol = &b->inv->pols[i];
	struct build_targets tg = sel_of(b, i);
	bool any_local = false;
	for (size_t j = 0; j < tg.n && !any_local; j++)
		any_local = pod_is_local(b, &b->inv->pods[tg.v[j]]);
	if (!any_local)
		return false;
	for (int dir = 0; dir < 2; dir++) {
		size_t n_rules;
		const struct np_rule *rules = build_rules(pol, dir, &n_rules);
		for (size_t ri = 0; policy_has_chain(pol, dir) && ri < n_rules; ri++)
			build_rule_wants(b, pol, &tg, &rules[ri], ri, !dir, w);
	}
	return true;
}

/* One policy chain per direction: each rule expands to (peer match) x (port match), at most
 * four nft rules per family. */
static void policy_chain(struct builder *b, struct btable *t, size_t pol_idx, bool ingress)
{
	const struct np_policy *pol = &b->inv->pols[pol_idx];
	const char *ptext = policy_text(t->a, pol);
	const char *dir = ingress ? "-in" : "-out";
	const char *what = ingress ? "ingress" : "egress";
	struct rs_chain *c = btable_chain(t, btable_name(t->a, "pol-", ptext, dir));
	c->comment = btable_comment(t->a, np_arena_printf(t->a, "%s %s", ptext, what));
	c->origin = np_arena_printf(t->a, "policy %s %s", ptext, what);
	const char *counter = btable_name(t->a, "cnt-", ptext, dir);
	btable_counter(t, counter,
		       btable_comment(t->a, np_arena_printf(t->a, "%s %s allowed", ptext, what)));
	struct build_targets tg = sel_of(b, pol_idx);
	struct build_verdict v = { RS_V_ACCEPT, NULL, counter };
	size_t n_rules;
	const struct np_rule *rules = build_rules(pol, !ingress, &n_rules);
	for (size_t ri = 0; ri < n_rules; ri++)
		build_rule_expand(b, t, c, pol, &tg, &rules[ri], ri, ingress, &v);
}

void build_policy(struct builder *b, struct btable *t, size_t i)
{
	for (int dir = 0; dir < 2; dir++)
		if (policy_has_chain(&b->inv->pols[i], dir))
			policy_chain(b, t, i, !dir);
}

/* ---- pods ---- */

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

void build_log_end(struct builder *b, struct btable *t, struct rs_chain *c,
		   const struct rs_log_point *p)
{
	char prefix[RS_LOG_PREFIX_MAX];
	struct rs_rule *r = btable_rule(t, c);
	r->log = true;
	r->log_prefix = np_arena_strdup(t->a, rs_log_prefix(p, prefix));
	r->log_group = b->opt->log_group ? b->opt->log_group : RS_LOG_GROUP_DEFAULT;
	r->anon_counter = true;
	if (p->audit) {
		r = btable_rule(t, c);
		r->anon_counter = true;
		r->verdict = RS_V_ACCEPT;
	} else if (b->opt->reject && !p->admin) {
		r = btable_rule(t, c);
		btable_match(r, RS_M_L4PROTO_EQ, NULL, 0);
		r->m[0].proto = NP_PROTO_TCP;
		r->anon_counter = true;
		r->verdict = RS_V_REJECT_TCP;
		r = btable_rule(t, c);
		r->anon_counter = true;
		r->verdict = RS_V_REJECT;
	} else {
		r = btable_rule(t, c);
		r->anon_counter = true;
		r->verdict = RS_V_DROP;
	}
}

/* Per-pod chain: hygiene, self, one jump per selecting policy with rules, then the drop point
 * (audit: logged and let through). Returns its name. */
static const char *pod_chain(struct builder *b, struct btable *t, const struct np_pod *pod,
			     bool ingress, const char **policy_chains, size_t n_policy_chains,
			     const char *policies, bool audit)
{
	const char *ptext = np_arena_printf(t->a, "%s/%s", pod->ns, pod->name);
	const char *what = ingress ? "ingress" : "egress";
	struct rs_chain *c = btable_chain(t, btable_name(t->a, ingress ? "ing-" : "egr-", ptext, ""));
	c->comment = btable_comment(t->a, np_arena_printf(t->a, "%s %s: %s%s", ptext, what, policies,
							  audit ? " (audit)" : ""));
	c->origin = np_arena_printf(t->a, "pod %s %s", ptext, what);
	struct rs_rule *r = btable_rule(t, c);
	r->m[r->n_m++].kind = RS_M_CT_INVALID;
	r->verdict = RS_V_DROP;
	for (size_t i = 0; i < pod->n_ips; i++) {
		r = btable_rule(t, c);
		r->m[0].kind = ingress ? RS_M_SADDR_EQ : RS_M_DADDR_EQ;
		r->m[0].family = pod->ips[i].family;
		r->m[0].addr = pod->ips[i];
		r->n_m = 1;
		r->verdict = RS_V_ACCEPT;
	}
	for (size_t i = 0; i < n_policy_chains; i++) {
		r = btable_rule(t, c);
		r->verdict = RS_V_JUMP;
		r->target = policy_chains[i];
	}
	struct rs_log_point lp = { .audit = audit, .ingress = ingress };
	rs_log_pod_id(pod->ns, pod->name, lp.id);
	build_log_end(b, t, c, &lp);
	return c->name;
}

size_t build_pod(struct builder *b, struct btable *t, const struct np_pod *pod,
		 struct build_disp disp[BUILD_POD_DISP])
{
	const struct np_inventory *inv = b->inv;
	size_t lo, hi;
	ns_pols(inv, pod->ns, &lo, &hi);
	const char **chains = np_arena_alloc(b->tmp, (hi - lo + 1) * sizeof(char *));
	size_t n_disp = 0;
	for (int dir = 0; dir < 2; dir++) {
		bool ingress = dir == 0;
		bool isolated = false, audit = true;
		size_t n = 0;
		struct sbuf names = { 0 };
		for (size_t k = lo; k < hi; k++) {
			const struct np_policy *pol = &inv->pols[k];
			if ((ingress ? !pol->ingress : !pol->egress) ||
			    !np_policy_selects_pod(pol, pod))
				continue;
			isolated = true;
			audit &= pol->audit;
			if (names.n)
				sbuf_puts(&names, ", ");
			sbuf_puts(&names, pol->name);
			/* the policy selects this local pod, so it has its chain when it has rules */
			if (ingress ? pol->n_in : pol->n_out)
				chains[n++] = btable_name(t->a, "pol-", policy_text(t->a, pol),
							  ingress ? "-in" : "-out");
		}
		if (!isolated)
			continue;
		const char *target = pod_chain(b, t, pod, ingress, chains, n, names.p,
					       audit || b->opt->audit);
		free(names.p);
		for (size_t k = 0; k < pod->n_ips && n_disp < BUILD_POD_DISP; k++) {
			struct build_disp *d = &disp[n_disp++];
			memset(d, 0, sizeof(*d));
			d->map = (uint8_t)((ingress ? 0 : 2) + (pod->ips[k].family == 4 ? 0 : 1));
			d->e.addr_lo = d->e.addr_hi = pod->ips[k];
			d->e.target = target;
		}
	}
	return n_disp;
}
