/* build.c — inventory → ruleset IR (the layout of DESIGN.md / reference/nft-design.md §5).
 *
 * Dispatch maps hold an element only for local pods isolated in that direction, so "default
 * deny for selected pods only" costs nothing for the others. Peer sets are named by a hash of
 * what selects them (not of their content), so pod churn only changes elements. Every array is
 * sorted before it is emitted, so the same input always gives byte-identical output. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "interval.h"
#include "build_int.h"
#include "ruleset.h"

#define MAX_NAME 200 /* nft allows 255; leave room for prefixes and suffixes */




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

/* Short, valid nft name: prefix + text (+ suffix), hashed when too long. */
static const char *mkname_in(struct np_arena *a, const char *prefix, const char *text,
			     const char *suffix)
{
	size_t len = strlen(prefix) + strlen(text) + strlen(suffix);
	if (len <= MAX_NAME)
		return np_arena_printf(a, "%s%s%s", prefix, text, suffix);
	return np_arena_printf(a, "%s%.*s_%012llx%s", prefix, MAX_NAME - 40, text,
			       (unsigned long long)(np_hash_str(text) & 0xffffffffffffULL), suffix);
}

static const char *mkname(struct builder *b, const char *prefix, const char *text,
			  const char *suffix)
{
	return mkname_in(b->a, prefix, text, suffix);
}

/* prefix + 12 hex digits of the text's hash (formatted by hand: one per rule, hot). */
static const char *hashname_in(struct np_arena *a, const char *prefix, const char *canon)
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

static const char *hashname(struct builder *b, const char *prefix, const char *canon)
{
	return hashname_in(b->a, prefix, canon);
}

/* Comments are at most 127 bytes and must not contain a double quote. */
static const char *mkcomment(struct builder *b, const char *text)
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
	return np_arena_strdup(b->a, buf);
}

/* Returns the set named name, creating it when new (created tells which). */
struct bset *build_table_set(struct builder *b, struct btable *t, const char *name,
			      enum rs_key key, bool interval, bool *created)
{
	size_t idx;
	if (strmap_get(&t->set_idx, name, &idx)) {
		*created = false;
		return &t->sets[idx];
	}
	ARENA_PUSH(b->a, t->sets, t->n_sets, t->cap_sets);
	struct bset *s = &t->sets[t->n_sets - 1];
	s->s.name = np_arena_strdup(b->a, name);
	s->s.key = key;
	s->s.interval = interval;
	strmap_put(&t->set_idx, s->s.name, t->n_sets - 1);
	*created = true;
	return s;
}

static struct rs_elem *set_add(struct bset *s)
{
	if (s->s.n_elems == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->s.elems = realloc(s->s.elems, s->cap * sizeof(*s->s.elems));
		if (!s->s.elems)
			abort();
	}
	struct rs_elem *e = &s->s.elems[s->s.n_elems++];
	memset(e, 0, sizeof(*e));
	return e;
}

static void set_add_addr(struct bset *s, const struct np_addr *a)
{
	struct rs_elem *e = set_add(s);
	e->addr_lo = e->addr_hi = *a;
}

static void chain_end(struct builder *b)
{
	if (!b->cur_table)
		return;
	struct rs_chain *c = &b->cur_table->chains[b->cur_chain];
	c->n_rules = b->n_scratch;
	c->rules = np_arena_alloc(b->a, (b->n_scratch + 1) * sizeof(*c->rules));
	if (b->n_scratch)
		memcpy(c->rules, b->scratch, b->n_scratch * sizeof(*c->rules));
	b->n_scratch = 0;
	b->cur_table = NULL;
}

/* Starts a chain; rules are added with chain_rule until the next chain or build_table_finish. */
static struct rs_chain *table_chain(struct builder *b, struct btable *t, const char *name)
{
	chain_end(b);
	ARENA_PUSH(b->a, t->chains, t->n_chains, t->cap_chains);
	struct rs_chain *c = &t->chains[t->n_chains - 1];
	c->name = name;
	b->cur_table = t;
	b->cur_chain = t->n_chains - 1;
	return c;
}

/* A new, zeroed rule at the end of the open chain; valid until the next call. */
static struct rs_rule *chain_rule(struct builder *b, struct rs_chain *c)
{
	(void)c; /* always the open chain; named at call sites for readability */
	if (b->n_scratch == b->cap_scratch) {
		b->cap_scratch = b->cap_scratch ? b->cap_scratch * 2 : 64;
		b->scratch = realloc(b->scratch, b->cap_scratch * sizeof(*b->scratch));
		if (!b->scratch)
			abort();
	}
	struct rs_rule *r = &b->scratch[b->n_scratch++];
	memset(r, 0, sizeof(*r));
	return r;
}

static void rule_match(struct rs_rule *r, enum rs_match_kind kind, const char *set,
		       uint8_t family)
{
	struct rs_match *m = &r->m[r->n_m++];
	m->kind = kind;
	m->set = set;
	m->family = family;
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

/* ---- peers ---- */

/* Calls fn for every pod a selector peer selects, visiting only the namespaces it can match. */
static void for_peer_pods(const struct builder *b, const char *policy_ns,
			  const struct np_peer *peer,
			  void (*fn)(void *ctx, const struct np_pod *pod), void *ctx)
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
				fn(ctx, pod);
		}
	}
}


void build_add_pod_addrs(void *ctx, const struct np_pod *pod)
{
	struct addr_ctx *c = ctx;
	for (size_t i = 0; i < pod->n_ips; i++)
		if (pod->ips[i].family == c->family)
			set_add_addr(c->set, &pod->ips[i]);
}

bool build_rule_has_selector_peer(const struct np_rule *r)
{
	for (size_t i = 0; i < r->n_peers; i++)
		if (!r->peers[i].ipblock && !r->peers[i].node_sel)
			return true;
	return false;
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

struct collect_ctx {
	const struct builder *b;
	struct podlist *l;
};

static void collect_pod(void *ctx, const struct np_pod *pod)
{
	struct collect_ctx *c = ctx;
	if (c->l->n == c->l->cap) {
		c->l->cap = c->l->cap ? c->l->cap * 2 : 16;
		c->l->v = realloc(c->l->v, c->l->cap * sizeof(size_t));
		if (!c->l->v)
			abort();
	}
	c->l->v[c->l->n++] = (size_t)(pod - c->b->inv->pods);
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
	struct collect_ctx ctx = { b, l };
	for (size_t i = 0; i < r->n_peers; i++)
		if (!r->peers[i].ipblock && !r->peers[i].node_sel)
			for_peer_pods(b, pol->ns, &r->peers[i], collect_pod, &ctx);
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


/* Finishes f, a fragment holding the one set s, and hands it to the build's shared sets; the
 * builder goes back to the arena a and table inet it was building. */
static void shared_end(struct builder *b, struct rs_frag *f, const char *name, struct bset *s,
		       struct np_arena *a, const struct btable *inet)
{
	f->t.family = RS_FAMILY_INET;
	f->t.sets = np_arena_alloc(b->a, sizeof(*f->t.sets));
	f->set_refs = np_arena_alloc(b->a, sizeof(*f->set_refs));
	build_set_finish(b, &s->s, &f->t.sets[0]);
	f->t.n_sets = 1;
	strmap_free(&b->inet.set_idx);
	build_shared_put(b, name, f);
	b->a = a;
	b->inet = *inet;
}

void build_peer_names(struct np_arena *a, const struct np_policy *pol, const struct np_rule *r,
		      const char *out[2])
{
	char *canon = peer_canon(pol, r);
	out[0] = hashname_in(a, "peer4-", canon ? canon : "");
	out[1] = hashname_in(a, "peer6-", canon ? canon : "");
	free(canon);
}

/* The pod-IP set of a rule's selector peers for one family: a fragment of its own, shared by
 * every rule with the same peers (by name: a hash of their canonical text), built once. */
const char *build_peer_set(struct builder *b, const struct np_policy *pol,
			   const struct np_rule *r, uint8_t family)
{
	char *canon = peer_canon(pol, r);
	const char *name = hashname(b, family == 4 ? "peer4-" : "peer6-", canon);
	if (!build_shared_get(b, name)) {
		struct np_arena *a = b->a;
		struct btable inet = b->inet;
		struct rs_frag *f = build_frag_begin(b);
		bool created;
		struct bset *s = build_table_set(b, &b->inet, name,
					   family == 4 ? RS_KEY_IPV4 : RS_KEY_IPV6, false, &created);
		s->s.comment = mkcomment(b, canon);
		s->s.origin = np_arena_printf(b->a, "policy %s/%s peers", pol->ns, pol->name);
		const struct podlist *l = peer_pods(b, pol, r, canon);
		struct addr_ctx ctx = { s, family };
		for (size_t i = 0; i < l->n; i++)
			build_add_pod_addrs(&ctx, &b->inv->pods[l->v[i]]);
		shared_end(b, f, name, s, a, &inet);
	}
	free(canon);
	return name;
}

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

bool build_rule_has_ipblock(const struct np_rule *r, uint8_t family)
{
	for (size_t i = 0; i < r->n_peers; i++)
		if (r->peers[i].ipblock && r->peers[i].ipblock->cidr.addr.family == family)
			return true;
	return false;
}

static const char *cidr_set(struct builder *b, const struct np_policy *pol,
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
	const char *name = hashname(b, family == 4 ? "cidr4-" : "cidr6-", canon.p);
	bool created;
	struct bset *s = build_table_set(b, &b->inet, name, family == 4 ? RS_KEY_IPV4 : RS_KEY_IPV6,
				   true, &created);
	if (created) {
		s->s.comment = mkcomment(b, canon.p);
		s->s.origin = np_arena_printf(b->a, "policy %s/%s ipBlock", pol->ns, pol->name);
		struct np_ranges rg = { 0 };
		rule_ranges(r, family, &rg);
		for (size_t i = 0; i < rg.n; i++) {
			struct rs_elem *e = set_add(s);
			e->addr_lo = rg.v[i].lo;
			e->addr_hi = rg.v[i].hi;
		}
		np_ranges_free(&rg);
	}
	free(canon.p);
	return s->s.name;
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

static int port_elem_cmp(const void *x, const void *y)
{
	const struct rs_elem *a = x, *b = y;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port_lo != b->port_lo)
		return a->port_lo < b->port_lo ? -1 : 1;
	return (a->port_hi > b->port_hi) - (a->port_hi < b->port_hi);
}

/* Numeric ports and ranges of a rule: proto . port interval set, merged per protocol. */
static const char *port_set(struct builder *b, const struct np_policy *pol,
			    const struct np_rule *r)
{
	struct rs_elem *tmp = calloc(r->n_ports, sizeof(*tmp));
	size_t n = 0;
	if (!tmp)
		abort();
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct np_port *p = &r->ports[i];
		if (p->name)
			continue;
		tmp[n].proto = (uint8_t)p->proto;
		tmp[n].port_lo = p->port;
		tmp[n].port_hi = p->port == 0 ? 65535 : (p->end_port ? p->end_port : p->port);
		n++;
	}
	qsort(tmp, n, sizeof(*tmp), port_elem_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && tmp[m - 1].proto == tmp[i].proto &&
		    (uint32_t)tmp[i].port_lo <= (uint32_t)tmp[m - 1].port_hi + 1) {
			if (tmp[i].port_hi > tmp[m - 1].port_hi)
				tmp[m - 1].port_hi = tmp[i].port_hi;
		} else {
			tmp[m++] = tmp[i];
		}
	}
	struct sbuf canon = { 0 };
	char buf[48];
	for (size_t i = 0; i < m; i++) {
		if (tmp[i].port_lo == tmp[i].port_hi)
			snprintf(buf, sizeof(buf), "%s%s %u", i ? ", " : "",
				 np_proto_name(tmp[i].proto), tmp[i].port_lo);
		else
			snprintf(buf, sizeof(buf), "%s%s %u-%u", i ? ", " : "",
				 np_proto_name(tmp[i].proto), tmp[i].port_lo, tmp[i].port_hi);
		sbuf_puts(&canon, buf);
	}
	const char *name = hashname(b, "port-", canon.p);
	bool created;
	struct bset *s = build_table_set(b, &b->inet, name, RS_KEY_PROTO_PORT, true, &created);
	if (created) {
		s->s.comment = mkcomment(b, canon.p);
		s->s.origin = np_arena_printf(b->a, "policy %s/%s ports", pol->ns, pol->name);
		for (size_t i = 0; i < m; i++)
			*set_add(s) = tmp[i];
	}
	free(canon.p);
	free(tmp);
	return s->s.name;
}

/* Adds addr . proto . port for every named port of rule r the pod defines. */
static void add_named(struct bset *s, const struct np_rule *r, const struct np_pod *pod,
		      const struct np_addr *addr)
{
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct np_port *p = &r->ports[i];
		if (!p->name)
			continue;
		for (size_t j = 0; j < pod->n_ports; j++) {
			const struct np_container_port *cp = &pod->ports[j];
			if (!cp->name || (!p->any_proto && cp->proto != p->proto) ||
			    strcmp(cp->name, p->name))
				continue;
			struct rs_elem *e = set_add(s);
			e->addr_lo = e->addr_hi = *addr;
			e->proto = (uint8_t)cp->proto;
			e->port_lo = e->port_hi = cp->port;
		}
	}
}


void build_add_named_pod(void *ctx, const struct np_pod *pod)
{
	struct named_ctx *c = ctx;
	for (size_t i = 0; i < pod->n_ips; i++)
		if (pod->ips[i].family == c->family)
			add_named(c->set, c->rule, pod, &pod->ips[i]);
}

static void named_fill(struct builder *b, struct bset *s, const struct np_policy *pol,
		       const struct build_targets *tg, const struct np_rule *r, bool ingress,
		       uint8_t family)
{
	struct named_ctx ctx = { b, s, r, family };
	if (ingress) {
		for (size_t i = 0; i < tg->n; i++) {
			const struct np_pod *pod = &b->inv->pods[tg->v[i]];
			if (pod_is_local(b, pod))
				build_add_named_pod(&ctx, pod);
		}
		return;
	}
	if (r->n_peers == 0) {
		for (size_t i = 0; i < b->inv->n_pods; i++)
			if (!b->inv->pods[i].host_network)
				build_add_named_pod(&ctx, &b->inv->pods[i]);
		return;
	}
	if (build_rule_has_selector_peer(r)) {
		char *canon = peer_canon(pol, r);
		const struct podlist *l = peer_pods(b, pol, r, canon);
		for (size_t i = 0; i < l->n; i++)
			build_add_named_pod(&ctx, &b->inv->pods[l->v[i]]);
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

static const char *named_text(char *text, size_t size, const struct np_policy *pol,
			      size_t rule_idx, bool ingress)
{
	snprintf(text, size, "%s/%s-%c%zu", pol->ns, pol->name, ingress ? 'i' : 'e', rule_idx);
	return text;
}

void build_named_names(struct np_arena *a, const struct np_policy *pol, size_t rule_idx,
		       bool ingress, const char *out[2])
{
	char text[600];
	named_text(text, sizeof(text), pol, rule_idx, ingress);
	out[0] = mkname_in(a, "named4-", text, "");
	out[1] = mkname_in(a, "named6-", text, "");
}

/* Named ports resolve on the destination pod: for ingress the selected (local) pods, for
 * egress every peer pod (the key then also stands for peer membership). An egress set is a
 * fragment of its own, so that peer pods coming and going rebuild it and not the policy. */
const char *build_named_set(struct builder *b, const struct np_policy *pol,
			     const struct build_targets *tg, const struct np_rule *r,
			     size_t rule_idx, bool ingress, uint8_t family)
{
	char text[600];
	named_text(text, sizeof(text), pol, rule_idx, ingress);
	const char *name = mkname(b, family == 4 ? "named4-" : "named6-", text, "");
	if (!ingress && build_shared_get(b, name))
		return name;
	struct np_arena *a = b->a;
	struct btable inet = b->inet;
	struct rs_frag *f = ingress ? NULL : build_frag_begin(b);
	bool created;
	struct bset *s = build_table_set(b, &b->inet, name,
				   family == 4 ? RS_KEY_IPV4_PROTO_PORT : RS_KEY_IPV6_PROTO_PORT,
				   false, &created);
	s->s.origin = np_arena_printf(b->a, "policy %s/%s %s rule %zu named ports", pol->ns,
				      pol->name, ingress ? "ingress" : "egress", rule_idx);
	s->s.comment = mkcomment(b, np_arena_printf(b->a, "%s/%s %s[%zu] named ports", pol->ns,
						    pol->name, ingress ? "ingress" : "egress",
						    rule_idx));
	named_fill(b, s, pol, tg, r, ingress, family);
	if (f)
		shared_end(b, f, name, s, a, &inet);
	return name;
}

/* ---- chains ---- */

const char *build_policy_text(struct builder *b, const struct np_policy *pol)
{
	return np_arena_printf(b->a, "%s/%s", pol->ns, pol->name);
}

/* name, or NULL when that set of the inet table has no element. */
static const char *nonempty(struct builder *b, const char *name)
{
	size_t idx;
	if (strmap_get(&b->inet.set_idx, name, &idx))
		return b->inet.sets[idx].s.n_elems ? name : NULL;
	const struct rs_frag *f = build_shared_get(b, name);
	return f && f->t.sets[0].n_elems ? name : NULL;
}

/* The InternalIPs of the Nodes a rule's `nodes` peers select, for one family (admin tiers). */
static const char *node_set(struct builder *b, const struct np_policy *pol,
			    const struct np_rule *r, uint8_t family)
{
	struct sbuf canon = { 0 };
	for (size_t i = 0; i < r->n_peers; i++) {
		if (!r->peers[i].node_sel)
			continue;
		sbuf_puts(&canon, canon.n ? " | node " : "node ");
		sb_selector(&canon, r->peers[i].node_sel);
	}
	const char *name = hashname(b, family == 4 ? "node4-" : "node6-", canon.p);
	bool created;
	struct bset *s = build_table_set(b, &b->inet, name, family == 4 ? RS_KEY_IPV4 : RS_KEY_IPV6,
				   false, &created);
	if (created) {
		s->s.comment = mkcomment(b, canon.p);
		s->s.origin = np_arena_printf(b->a, "policy %s/%s nodes", pol->ns, pol->name);
		for (size_t i = 0; i < r->n_peers; i++)
			for (size_t n = 0; r->peers[i].node_sel && n < b->inv->n_nodes; n++) {
				const struct np_node *node = &b->inv->nodes[n];
				if (!np_selector_matches(r->peers[i].node_sel, &node->labels))
					continue;
				for (size_t k = 0; k < node->n_addrs; k++)
					if (node->addrs[k].family == family)
						set_add_addr(s, &node->addrs[k]);
			}
	}
	free(canon.p);
	return s->s.name;
}

static bool rule_has_node_peer(const struct np_rule *r)
{
	for (size_t i = 0; i < r->n_peers; i++)
		if (r->peers[i].node_sel)
			return true;
	return false;
}

/* Appends the nft rules of one policy rule to the open chain c: at most (peer set | CIDR set |
 * node set) x (port set | named-port set) rules per family, each counting into counter and
 * ending in verdict (to target for jump/goto). tg: the local pods the policy selects (where
 * ingress named ports resolve). */
void build_rule_expand(struct builder *b, struct rs_chain *c, const struct np_policy *pol,
		       const struct build_targets *tg, const struct np_rule *r, size_t ri,
		       bool ingress, const struct build_verdict *v)
{
	const char *ptext = build_policy_text(b, pol);
	const char *counter = v->counter;
	const enum rs_match_kind peer_addr = ingress ? RS_M_SADDR_IN : RS_M_DADDR_IN;
	const char *origin = np_arena_printf(b->a, "policy %s %s rule %zu", ptext,
					     ingress ? "ingress" : "egress", ri);
	const char *ports = build_rule_has_numeric_port(r) ? port_set(b, pol, r) : NULL;
	bool plain = r->n_ports == 0 || ports; /* a rule without named ports to match */
#define RULE_END(rr)                                      \
	do {                                              \
		(rr)->counter = counter;                  \
		(rr)->verdict = v->verdict;               \
		(rr)->target = v->target;                 \
		(rr)->origin = origin;                    \
	} while (0)
	if (r->n_peers == 0 && plain) {
		/* every peer: no address match, so one rule serves both families */
		struct rs_rule *rr = chain_rule(b, c);
		if (ports)
			rule_match(rr, RS_M_L4_PORT_IN, ports, 0);
		RULE_END(rr);
	}
	for (uint8_t family = 4; family <= 6; family += 2) {
		/* A rule whose set is empty can never match, so it is left out, and a set no
		 * rule uses is dropped when the table is finished: a quarter of the sets of a
		 * large cluster are empty (an IPv6 set where no pod has IPv6, a named port
		 * nobody defines), and the kernel's commit time grows with the set count. When
		 * a set fills later, the policy chain changes, which incremental apply handles. */
		const char *named = build_rule_has_named_port(r)
					    ? nonempty(b, build_named_set(b, pol, tg, r, ri, ingress, family))
					    : NULL;
		/* peer alternatives of this family; none of them: the family stays closed */
		const char *peers[3];
		size_t n_peers = 0;
		bool peer_match = plain || (named && ingress); /* egress named sets imply it */
		const char *ps;
		if (peer_match && build_rule_has_selector_peer(r) &&
		    (ps = nonempty(b, build_peer_set(b, pol, r, family))))
			peers[n_peers++] = ps;
		if (peer_match && build_rule_has_ipblock(r, family) &&
		    (ps = nonempty(b, cidr_set(b, pol, r, family))))
			peers[n_peers++] = ps;
		if (plain && rule_has_node_peer(r) && (ps = nonempty(b, node_set(b, pol, r, family))))
			peers[n_peers++] = ps;
		for (size_t pi = 0; pi < n_peers; pi++) {
			if (plain) {
				struct rs_rule *rr = chain_rule(b, c);
				rule_match(rr, peer_addr, peers[pi], family);
				if (ports)
					rule_match(rr, RS_M_L4_PORT_IN, ports, 0);
				RULE_END(rr);
			}
			if (named && ingress) {
				struct rs_rule *rr = chain_rule(b, c);
				rule_match(rr, peer_addr, peers[pi], family);
				rule_match(rr, RS_M_DADDR_L4_PORT_IN, named, family);
				RULE_END(rr);
			}
		}
		/* Named ports with every peer (ingress or egress), or egress named ports whose
		 * set already holds only peer addresses: the set lookup is the whole match. */
		if (named && (r->n_peers == 0 || !ingress)) {
			struct rs_rule *rr = chain_rule(b, c);
			rule_match(rr, RS_M_DADDR_L4_PORT_IN, named, family);
			RULE_END(rr);
		}
	}
#undef RULE_END
}

/* What policy i's spec.podSelector selects, computed once per build when first needed. */
void build_sel_of(struct builder *b, size_t i)
{
	const struct np_inventory *inv = b->inv;
	if (b->sel_pods[i])
		return;
	size_t lo, hi;
	np_inventory_ns_pods(inv, inv->pols[i].ns, &lo, &hi);
	b->sel_pods[i] = np_arena_alloc(b->tmp, (hi - lo + 1) * sizeof(size_t));
	for (size_t p = lo; p < hi; p++)
		if (np_policy_selects_pod(&inv->pols[i], &inv->pods[p]))
			b->sel_pods[i][b->n_sel_pods[i]++] = p;
}

/* One policy chain per direction: each rule expands to (peer match) x (port match), at most
 * four nft rules per family. */
void build_policy_chain(struct builder *b, const struct np_policy *pol, size_t pol_idx,
			 bool ingress)
{
	const struct np_rule *rules = ingress ? pol->in : pol->out;
	size_t n_rules = ingress ? pol->n_in : pol->n_out;
	const char *ptext = build_policy_text(b, pol);
	const char *dir = ingress ? "-in" : "-out";
	struct rs_chain *c = table_chain(b, &b->inet, mkname(b, "pol-", ptext, dir));
	c->comment = mkcomment(b, np_arena_printf(b->a, "%s %s", ptext,
						  ingress ? "ingress" : "egress"));
	c->origin = np_arena_printf(b->a, "policy %s %s", ptext, ingress ? "ingress" : "egress");
	const char *counter = mkname(b, "cnt-", ptext, dir);
	ARENA_PUSH(b->a, b->inet.counters, b->inet.n_counters, b->inet.cap_counters);
	b->inet.counters[b->inet.n_counters - 1].name = counter;
	b->inet.counters[b->inet.n_counters - 1].comment =
		mkcomment(b, np_arena_printf(b->a, "%s %s allowed", ptext,
					     ingress ? "ingress" : "egress"));
	build_sel_of(b, pol_idx);
	struct build_targets tg = { b->sel_pods[pol_idx], b->n_sel_pods[pol_idx] };
	struct build_verdict v = { RS_V_ACCEPT, NULL, counter };
	for (size_t ri = 0; ri < n_rules; ri++)
		build_rule_expand(b, c, pol, &tg, &rules[ri], ri, ingress, &v);
}

/* Per-pod chain: hygiene, self, one jump per selecting policy with rules, then deny. */
void build_pod_chain(struct builder *b, const struct np_pod *pod, bool ingress,
		      const char **policy_chains, size_t n_policy_chains, const char *policies)
{
	const char *ptext = np_arena_printf(b->a, "%s/%s", pod->ns, pod->name);
	struct rs_chain *c = table_chain(b, &b->inet, mkname(b, ingress ? "ing-" : "egr-", ptext, ""));
	c->comment = mkcomment(b, np_arena_printf(b->a, "%s %s: %s", ptext,
						  ingress ? "ingress" : "egress", policies));
	c->origin = np_arena_printf(b->a, "pod %s %s", ptext, ingress ? "ingress" : "egress");
	struct rs_rule *r = chain_rule(b, c);
	r->m[r->n_m++].kind = RS_M_CT_INVALID;
	r->verdict = RS_V_DROP;
	for (size_t i = 0; i < pod->n_ips; i++) {
		r = chain_rule(b, c);
		r->m[0].kind = ingress ? RS_M_SADDR_EQ : RS_M_DADDR_EQ;
		r->m[0].family = pod->ips[i].family;
		r->m[0].addr = pod->ips[i];
		r->n_m = 1;
		r->verdict = RS_V_ACCEPT;
	}
	for (size_t i = 0; i < n_policy_chains; i++) {
		r = chain_rule(b, c);
		r->verdict = RS_V_JUMP;
		r->target = policy_chains[i];
	}
	r = chain_rule(b, c);
	r->log = true;
	r->log_prefix = mkcomment(b, np_arena_printf(b->a, "np-drop %s %s ",
						     ingress ? "in" : "out", ptext));
	r->log_group = 100;
	if (b->opt->reject) {
		r = chain_rule(b, c);
		rule_match(r, RS_M_L4PROTO_EQ, NULL, 0);
		r->m[0].proto = NP_PROTO_TCP;
		r->anon_counter = true;
		r->verdict = RS_V_REJECT_TCP;
		r = chain_rule(b, c);
		r->anon_counter = true;
		r->verdict = RS_V_REJECT;
	} else {
		r = chain_rule(b, c);
		r->anon_counter = true;
		r->verdict = RS_V_DROP;
	}
}

void build_base_chain(struct builder *b, const char *name, enum rs_hook hook, int prio,
		       enum rs_verdict_kind vmap, const char *map4, const char *map6)
{
	struct rs_chain *c = table_chain(b, &b->inet, name);
	c->hook = hook;
	c->prio = prio;
	c->origin = np_arena_printf(b->a, "base chain %s", name);
	/* connections a policy change cut stay cut, both ways (ct.c sets the mark) */
	struct rs_rule *r = chain_rule(b, c);
	r->m[r->n_m].kind = RS_M_CT_MARK_BIT;
	r->m[r->n_m++].mark = RS_CT_MARK_REVOKED;
	r->anon_counter = true;
	r->verdict = RS_V_DROP;
	r = chain_rule(b, c);
	r->m[r->n_m++].kind = RS_M_CT_ESTABLISHED;
	r->verdict = RS_V_ACCEPT;
	/* neighbour discovery from a pod's global address must never hit its egress chain */
	r = chain_rule(b, c);
	r->m[r->n_m++].kind = RS_M_ICMPV6_ND;
	r->verdict = RS_V_ACCEPT;
	bool ingress = vmap == RS_V_DADDR_VMAP;
	build_admin_dispatch(b, c, ingress, false);
	r = chain_rule(b, c);
	r->verdict = vmap;
	r->target = map4;
	r->family = 4;
	r = chain_rule(b, c);
	r->verdict = vmap;
	r->target = map6;
	r->family = 6;
	build_admin_dispatch(b, c, ingress, true);
}

int build_elem_cmp(const void *x, const void *y)
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
	return port_elem_cmp(a, b);
}

bool build_elem_eq(const struct rs_elem *a, const struct rs_elem *b)
{
	return !build_elem_cmp(a, b);
}

int build_set_cmp(const void *x, const void *y)
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

int build_chain_cmp(const void *x, const void *y)
{
	const struct rs_chain *a = x, *b = y;
	if ((a->hook != RS_HOOK_NONE) != (b->hook != RS_HOOK_NONE))
		return a->hook != RS_HOOK_NONE ? -1 : 1;
	if (a->hook != RS_HOOK_NONE)
		return 0;
	return strcmp(a->name, b->name);
}

int build_counter_cmp(const void *x, const void *y)
{
	return strcmp(((const struct rs_counter *)x)->name, ((const struct rs_counter *)y)->name);
}

/* Sorts and dedups a set's elements (interval sets are already normalized; named ports of
 * several container ports may repeat) and moves them into the arena, as out. */
void build_set_finish(struct builder *b, struct rs_set *s, struct rs_set *out)
{
	if (!s->interval && s->n_elems) {
		qsort(s->elems, s->n_elems, sizeof(*s->elems), build_elem_cmp);
		size_t m = 0;
		for (size_t j = 0; j < s->n_elems; j++)
			if (!m || !build_elem_eq(&s->elems[m - 1], &s->elems[j]))
				s->elems[m++] = s->elems[j];
		s->n_elems = m;
	}
	*out = *s;
	out->elems = np_arena_alloc(b->a, (s->n_elems + 1) * sizeof(*s->elems));
	if (s->n_elems)
		memcpy(out->elems, s->elems, s->n_elems * sizeof(*s->elems));
	free(s->elems);
	s->elems = NULL;
}

/* Sorts everything, finishes the sets and moves them into the arena. For a fragment (f), also
 * records how many rules use each of its sets and which shared sets they use. */
void build_table_finish(struct builder *b, struct btable *bt, struct rs_table *t,
			 struct rs_frag *f)
{
	chain_end(b);
	/* how many rules use each set; a set no rule refers to (left out because empty) is not
	 * emitted */
	struct strmap used = { 0 };
	for (size_t i = 0; i < bt->n_chains; i++)
		for (size_t j = 0; j < bt->chains[i].n_rules; j++) {
			const struct rs_rule *r = &bt->chains[i].rules[j];
			for (size_t k = 0; k < r->n_m; k++) {
				size_t n = 0;
				if (!r->m[k].set)
					continue;
				strmap_get(&used, r->m[k].set, &n);
				strmap_put(&used, r->m[k].set, n + 1);
			}
		}
	for (size_t i = 0; i < bt->n_sets; i++) {
		size_t n = 0;
		strmap_get(&used, bt->sets[i].s.name, &n);
		bt->sets[i].refs = n;
	}
	/* stable order for maps: qsort is not stable, so sort the rest after the maps */
	size_t n_maps = 0;
	while (n_maps < bt->n_sets && bt->sets[n_maps].s.vmap)
		n_maps++;
	/* (a fragment may have no set or chain at all, and qsort's base must not be NULL) */
	if (bt->n_sets > n_maps)
		qsort(bt->sets + n_maps, bt->n_sets - n_maps, sizeof(*bt->sets), build_set_cmp);
	size_t n_base = 0;
	while (n_base < bt->n_chains && bt->chains[n_base].hook != RS_HOOK_NONE)
		n_base++;
	if (bt->n_chains > n_base)
		qsort(bt->chains + n_base, bt->n_chains - n_base, sizeof(*bt->chains), build_chain_cmp);
	if (bt->n_counters) /* NULL when there are none, and qsort's base must not be NULL */
		qsort(bt->counters, bt->n_counters, sizeof(*bt->counters), build_counter_cmp);

	t->sets = np_arena_alloc(b->a, (bt->n_sets + 1) * sizeof(*t->sets));
	t->n_sets = 0;
	size_t *refs = np_arena_alloc(b->a, (bt->n_sets + 1) * sizeof(*refs));
	for (size_t i = 0; i < bt->n_sets; i++) {
		struct rs_set *s = &bt->sets[i].s;
		if (!s->vmap && !bt->sets[i].refs) {
			free(s->elems);
			s->elems = NULL;
			continue;
		}
		refs[t->n_sets] = bt->sets[i].refs;
		build_set_finish(b, s, &t->sets[t->n_sets++]);
	}
	if (f) {
		f->set_refs = refs;
		f->uses = np_arena_alloc(b->a, (used.n + 1) * sizeof(*f->uses));
		f->use_refs = np_arena_alloc(b->a, (used.n + 1) * sizeof(*f->use_refs));
		for (size_t i = 0; i < used.cap; i++) {
			size_t idx;
			if (!used.v[i].key || strmap_get(&bt->set_idx, used.v[i].key, &idx))
				continue;
			f->uses[f->n_uses] = used.v[i].key;
			f->use_refs[f->n_uses++] = used.v[i].val;
		}
	}
	strmap_free(&used);
	t->chains = bt->chains;
	t->n_chains = bt->n_chains;
	t->counters = bt->counters;
	t->n_counters = bt->n_counters;
	strmap_free(&bt->set_idx);
}

static struct bset *new_map(struct builder *b, const char *name, enum rs_key key)
{
	bool created;
	struct bset *s = build_table_set(b, &b->inet, name, key, false, &created);
	s->s.vmap = true;
	s->s.origin = np_arena_printf(b->a, "dispatch map %s", name);
	return s;
}

/* Anti-spoofing where pods hang off a Linux bridge: the inet hooks only see the bridge as
 * iif, so the pod's port is matched in the bridge family (stateless; no conntrack there). */
void build_spoof(struct builder *b, struct rs_table *t)
{
	struct btable bt = { 0 };
	t->name = "netpol-spoof";
	t->family = RS_FAMILY_BRIDGE;
	t->comment = "netpol: pod source address checks; managed, do not edit";
	bool created;
	struct bset *ports = build_table_set(b, &bt, "pod-port", RS_KEY_IFNAME, false, &created);
	ports->s.origin = "anti-spoofing pod ports";
	build_table_set(b, &bt, "pod-src4", RS_KEY_IFNAME_IPV4, false, &created)->s.origin =
		"anti-spoofing pod IPv4 sources";
	build_table_set(b, &bt, "pod-src6", RS_KEY_IFNAME_IPV6, false, &created)->s.origin =
		"anti-spoofing pod IPv6 sources";
	struct bset *local6 = build_table_set(b, &bt, "v6-local", RS_KEY_IPV6, true, &created);
	local6->s.origin = "anti-spoofing IPv6 link-local and unspecified sources";
	local6->s.comment = "DAD (::) and link-local (fe80::/10) sources";
	struct np_cidr ll;
	np_cidr_parse("::/128", &ll, NULL);
	struct rs_elem *e = set_add(local6);
	np_cidr_bounds(&ll, &e->addr_lo, &e->addr_hi);
	np_cidr_parse("fe80::/10", &ll, NULL);
	e = set_add(local6);
	np_cidr_bounds(&ll, &e->addr_lo, &e->addr_hi);

	for (size_t l = 0; l < b->n_local; l++) {
		const struct np_pod *pod = &b->inv->pods[b->local[l]];
		if (!pod->host_if || strlen(pod->host_if) >= 16)
			continue;
		e = set_add(&bt.sets[0]);
		strcpy(e->ifname, pod->host_if);
		for (size_t i = 0; i < pod->n_ips; i++) {
			e = set_add(&bt.sets[pod->ips[i].family == 4 ? 1 : 2]);
			strcpy(e->ifname, pod->host_if);
			e->addr_lo = e->addr_hi = pod->ips[i];
		}
	}
	struct rs_chain *c = table_chain(b, &bt, "prerouting");
	c->hook = RS_HOOK_PREROUTING;
	c->prio = -200; /* "filter" in the bridge family */
	c->origin = "anti-spoofing chain";
	/* a packet from a pod port must carry that pod's address; DAD and link-local pass */
	static const struct { enum rs_match_kind kind; const char *set; uint8_t family; } ok[] = {
		{ RS_M_IIF_NOT_IN, "pod-port", 0 },
		{ RS_M_IIF_SADDR_IN, "pod-src4", 4 },
		{ RS_M_IIF_SADDR_IN, "pod-src6", 6 },
		{ RS_M_IIF_ARP_SADDR_IN, "pod-src4", 4 },
		{ RS_M_SADDR_IN, "v6-local", 6 },
	};
	struct rs_rule *r;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		r = chain_rule(b, c);
		rule_match(r, ok[i].kind, ok[i].set, ok[i].family);
		r->verdict = RS_V_ACCEPT;
	}
	r = chain_rule(b, c);
	r->anon_counter = true;
	r->verdict = RS_V_DROP;
	build_table_finish(b, &bt, t, NULL); /* sorts sets by name: the order they were declared in */
}

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

/* ---- what build_admin.c uses ---- */

bool build_pod_is_local(const struct builder *b, const struct np_pod *p)
{
	return pod_is_local(b, p);
}

const char *build_name(struct builder *b, const char *prefix, const char *text, const char *suffix)
{
	return mkname(b, prefix, text, suffix);
}

const char *build_hashname(struct builder *b, const char *prefix, const char *canon)
{
	return hashname(b, prefix, canon);
}

const char *build_comment(struct builder *b, const char *text)
{
	return mkcomment(b, text);
}

struct rs_chain *build_chain(struct builder *b, const char *name)
{
	return table_chain(b, &b->inet, name);
}

struct rs_rule *build_rule(struct builder *b, struct rs_chain *c)
{
	return chain_rule(b, c);
}

void build_counter(struct builder *b, const char *name, const char *comment)
{
	ARENA_PUSH(b->a, b->inet.counters, b->inet.n_counters, b->inet.cap_counters);
	b->inet.counters[b->inet.n_counters - 1].name = name;
	b->inet.counters[b->inet.n_counters - 1].comment = comment;
}

void build_map(struct builder *b, const char *name, enum rs_key key)
{
	new_map(b, name, key);
}

void build_map_add(struct builder *b, const char *map, const struct np_addr *addr,
		   const char *target)
{
	size_t idx = 0;
	strmap_get(&b->inet.set_idx, map, &idx);
	struct rs_elem *e = set_add(&b->inet.sets[idx]);
	e->addr_lo = e->addr_hi = *addr;
	e->target = target;
}
