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

/* The dispatch maps a pod fragment adds elements to, by index. */
static const char *const disp_maps[4] = { "ing4", "ing6", "egr4", "egr6" };

struct frag_disp {
	uint8_t map; /* index into disp_maps */
	struct rs_elem e;
};

/* What one policy, one local pod, or everything else (maps, base chains, admin tiers)
 * contributes to the inet table: finished (elements sorted, unused sets dropped, rules hashed)
 * in an arena of its own, so later builds take it as it is while its inputs stay the same. */
struct rs_frag {
	size_t refs; /* the cache, and every ruleset assembled from it */
	struct np_arena *arena;
	struct rs_table t;
	size_t *set_refs;       /* per set of t: rules of this fragment that use it */
	struct frag_disp *disp; /* a pod's dispatch elements */
	size_t n_disp;
	const char **uses;      /* shared sets (other fragments') its rules use, and how often */
	size_t *use_refs;
	size_t n_uses;
};



void strmap_free(struct strmap *m)
{
	free(m->v);
}

static struct strmap_ent *strmap_slot(struct strmap *m, const char *key)
{
	size_t i = np_hash_str(key) & (m->cap - 1);
	while (m->v[i].key && strcmp(m->v[i].key, key))
		i = (i + 1) & (m->cap - 1);
	return &m->v[i];
}

bool strmap_get(const struct strmap *m, const char *key, size_t *val)
{
	if (!m->cap)
		return false;
	const struct strmap_ent *e = strmap_slot((struct strmap *)m, key);
	if (!e->key)
		return false;
	*val = e->val;
	return true;
}

void strmap_put(struct strmap *m, const char *key, size_t val)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct strmap old = *m;
		m->cap = m->cap ? m->cap * 2 : 64;
		m->v = calloc(m->cap, sizeof(*m->v));
		if (!m->v)
			abort();
		m->n = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.v[i].key)
				strmap_put(m, old.v[i].key, old.v[i].val);
		free(old.v);
	}
	struct strmap_ent *e = strmap_slot(m, key);
	if (!e->key)
		m->n++;
	e->key = key;
	e->val = val;
}

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
static struct bset *table_set(struct builder *b, struct btable *t, const char *name,
			      enum rs_key key, bool interval, bool *created)
{
	size_t idx;
	if (strmap_get(&t->set_idx, name, &idx)) {
		*created = false;
		return &t->sets[idx];
	}
	VEC_PUSH(b->a, t->sets, t->n_sets, t->cap_sets);
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

/* Starts a chain; rules are added with chain_rule until the next chain or table_finish. */
static struct rs_chain *table_chain(struct builder *b, struct btable *t, const char *name)
{
	chain_end(b);
	VEC_PUSH(b->a, t->chains, t->n_chains, t->cap_chains);
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

struct sbuf {
	char *p;
	size_t n, cap;
};

static void sb_puts(struct sbuf *s, const char *str)
{
	size_t l = strlen(str);
	if (s->n + l + 1 > s->cap) {
		s->cap = (s->n + l + 1) * 2;
		s->p = realloc(s->p, s->cap);
		if (!s->p)
			abort();
	}
	memcpy(s->p + s->n, str, l + 1);
	s->n += l;
}

static const char *const op_names[] = { "in", "notin", "exists", "!exists" };

static void sb_selector(struct sbuf *s, const struct np_selector *sel)
{
	sb_puts(s, "{");
	for (size_t i = 0; i < sel->match_labels.n; i++) {
		if (i)
			sb_puts(s, ",");
		sb_puts(s, sel->match_labels.v[i].key);
		sb_puts(s, "=");
		sb_puts(s, sel->match_labels.v[i].value);
	}
	for (size_t i = 0; i < sel->n_exprs; i++) {
		const struct np_sel_expr *e = &sel->exprs[i];
		if (i || sel->match_labels.n)
			sb_puts(s, ",");
		sb_puts(s, e->key);
		sb_puts(s, " ");
		sb_puts(s, op_names[e->op]);
		if (e->n_values) {
			sb_puts(s, " (");
			for (size_t j = 0; j < e->n_values; j++) {
				if (j)
					sb_puts(s, ",");
				sb_puts(s, e->values[j]);
			}
			sb_puts(s, ")");
		}
	}
	sb_puts(s, "}");
}

/* "ns x: pod {app=web}" / "ns {team=a}: pod {}" / "ns {}: all pods" */
static void sb_peer(struct sbuf *s, const char *policy_ns, const struct np_peer *p)
{
	if (p->ns_sel) {
		sb_puts(s, "ns ");
		sb_selector(s, p->ns_sel);
	} else {
		sb_puts(s, "ns ");
		sb_puts(s, policy_ns);
	}
	sb_puts(s, ": pod ");
	if (p->pod_sel)
		sb_selector(s, p->pod_sel);
	else
		sb_puts(s, "{}");
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

struct addr_ctx {
	struct bset *set;
	uint8_t family;
};

static void add_pod_addrs(void *ctx, const struct np_pod *pod)
{
	struct addr_ctx *c = ctx;
	for (size_t i = 0; i < pod->n_ips; i++)
		if (pod->ips[i].family == c->family)
			set_add_addr(c->set, &pod->ips[i]);
}

static bool rule_has_selector_peer(const struct np_rule *r)
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
			sb_puts(&canon, " | ");
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
	VEC_PUSH(b->tmp, b->lists, b->n_lists, b->cap_lists);
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

static struct rs_frag *frag_begin(struct builder *b);
static void set_finish(struct builder *b, struct rs_set *s, struct rs_set *out);
static struct rs_frag *shared_get(struct builder *b, const char *name);
static void shared_put(struct builder *b, const char *name, struct rs_frag *f);

/* Finishes f, a fragment holding the one set s, and hands it to the build's shared sets; the
 * builder goes back to the arena a and table inet it was building. */
static void shared_end(struct builder *b, struct rs_frag *f, const char *name, struct bset *s,
		       struct np_arena *a, const struct btable *inet)
{
	f->t.family = RS_FAMILY_INET;
	f->t.sets = np_arena_alloc(b->a, sizeof(*f->t.sets));
	f->set_refs = np_arena_alloc(b->a, sizeof(*f->set_refs));
	set_finish(b, &s->s, &f->t.sets[0]);
	f->t.n_sets = 1;
	strmap_free(&b->inet.set_idx);
	shared_put(b, name, f);
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
static const char *peer_set(struct builder *b, const struct np_policy *pol,
			   const struct np_rule *r, uint8_t family)
{
	char *canon = peer_canon(pol, r);
	const char *name = hashname(b, family == 4 ? "peer4-" : "peer6-", canon);
	if (!shared_get(b, name)) {
		struct np_arena *a = b->a;
		struct btable inet = b->inet;
		struct rs_frag *f = frag_begin(b);
		bool created;
		struct bset *s = table_set(b, &b->inet, name,
					   family == 4 ? RS_KEY_IPV4 : RS_KEY_IPV6, false, &created);
		s->s.comment = mkcomment(b, canon);
		s->s.origin = np_arena_printf(b->a, "policy %s/%s peers", pol->ns, pol->name);
		const struct podlist *l = peer_pods(b, pol, r, canon);
		struct addr_ctx ctx = { s, family };
		for (size_t i = 0; i < l->n; i++)
			add_pod_addrs(&ctx, &b->inv->pods[l->v[i]]);
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

static bool rule_has_ipblock(const struct np_rule *r, uint8_t family)
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
			sb_puts(&canon, ", ");
		sb_puts(&canon, np_cidr_str(&ib->cidr, buf));
		for (size_t j = 0; j < ib->n_except; j++) {
			sb_puts(&canon, j ? " " : " except ");
			sb_puts(&canon, np_cidr_str(&ib->except[j], buf));
		}
	}
	const char *name = hashname(b, family == 4 ? "cidr4-" : "cidr6-", canon.p);
	bool created;
	struct bset *s = table_set(b, &b->inet, name, family == 4 ? RS_KEY_IPV4 : RS_KEY_IPV6,
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

static bool rule_has_numeric_port(const struct np_rule *r)
{
	for (size_t i = 0; i < r->n_ports; i++)
		if (!r->ports[i].name)
			return true;
	return false;
}

static bool rule_has_named_port(const struct np_rule *r)
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
		sb_puts(&canon, buf);
	}
	const char *name = hashname(b, "port-", canon.p);
	bool created;
	struct bset *s = table_set(b, &b->inet, name, RS_KEY_PROTO_PORT, true, &created);
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

struct named_ctx {
	struct builder *b;
	struct bset *set;
	const struct np_rule *rule;
	uint8_t family;
};

static void add_named_pod(void *ctx, const struct np_pod *pod)
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
				add_named_pod(&ctx, pod);
		}
		return;
	}
	if (r->n_peers == 0) {
		for (size_t i = 0; i < b->inv->n_pods; i++)
			if (!b->inv->pods[i].host_network)
				add_named_pod(&ctx, &b->inv->pods[i]);
		return;
	}
	if (rule_has_selector_peer(r)) {
		char *canon = peer_canon(pol, r);
		const struct podlist *l = peer_pods(b, pol, r, canon);
		for (size_t i = 0; i < l->n; i++)
			add_named_pod(&ctx, &b->inv->pods[l->v[i]]);
		free(canon);
	}
	if (rule_has_ipblock(r, family)) {
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
static const char *named_set(struct builder *b, const struct np_policy *pol,
			     const struct build_targets *tg, const struct np_rule *r,
			     size_t rule_idx, bool ingress, uint8_t family)
{
	char text[600];
	named_text(text, sizeof(text), pol, rule_idx, ingress);
	const char *name = mkname(b, family == 4 ? "named4-" : "named6-", text, "");
	if (!ingress && shared_get(b, name))
		return name;
	struct np_arena *a = b->a;
	struct btable inet = b->inet;
	struct rs_frag *f = ingress ? NULL : frag_begin(b);
	bool created;
	struct bset *s = table_set(b, &b->inet, name,
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

static const char *policy_text(struct builder *b, const struct np_policy *pol)
{
	return np_arena_printf(b->a, "%s/%s", pol->ns, pol->name);
}

/* name, or NULL when that set of the inet table has no element. */
static const char *nonempty(struct builder *b, const char *name)
{
	size_t idx;
	if (strmap_get(&b->inet.set_idx, name, &idx))
		return b->inet.sets[idx].s.n_elems ? name : NULL;
	const struct rs_frag *f = shared_get(b, name);
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
		sb_puts(&canon, canon.n ? " | node " : "node ");
		sb_selector(&canon, r->peers[i].node_sel);
	}
	const char *name = hashname(b, family == 4 ? "node4-" : "node6-", canon.p);
	bool created;
	struct bset *s = table_set(b, &b->inet, name, family == 4 ? RS_KEY_IPV4 : RS_KEY_IPV6,
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
	const char *ptext = policy_text(b, pol);
	const char *counter = v->counter;
	const enum rs_match_kind peer_addr = ingress ? RS_M_SADDR_IN : RS_M_DADDR_IN;
	const char *origin = np_arena_printf(b->a, "policy %s %s rule %zu", ptext,
					     ingress ? "ingress" : "egress", ri);
	const char *ports = rule_has_numeric_port(r) ? port_set(b, pol, r) : NULL;
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
		const char *named = rule_has_named_port(r)
					    ? nonempty(b, named_set(b, pol, tg, r, ri, ingress, family))
					    : NULL;
		/* peer alternatives of this family; none of them: the family stays closed */
		const char *peers[3];
		size_t n_peers = 0;
		bool peer_match = plain || (named && ingress); /* egress named sets imply it */
		const char *ps;
		if (peer_match && rule_has_selector_peer(r) &&
		    (ps = nonempty(b, peer_set(b, pol, r, family))))
			peers[n_peers++] = ps;
		if (peer_match && rule_has_ipblock(r, family) &&
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
static void sel_of(struct builder *b, size_t i)
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
static void policy_chain(struct builder *b, const struct np_policy *pol, size_t pol_idx,
			 bool ingress)
{
	const struct np_rule *rules = ingress ? pol->in : pol->out;
	size_t n_rules = ingress ? pol->n_in : pol->n_out;
	const char *ptext = policy_text(b, pol);
	const char *dir = ingress ? "-in" : "-out";
	struct rs_chain *c = table_chain(b, &b->inet, mkname(b, "pol-", ptext, dir));
	c->comment = mkcomment(b, np_arena_printf(b->a, "%s %s", ptext,
						  ingress ? "ingress" : "egress"));
	c->origin = np_arena_printf(b->a, "policy %s %s", ptext, ingress ? "ingress" : "egress");
	const char *counter = mkname(b, "cnt-", ptext, dir);
	VEC_PUSH(b->a, b->inet.counters, b->inet.n_counters, b->inet.cap_counters);
	b->inet.counters[b->inet.n_counters - 1].name = counter;
	b->inet.counters[b->inet.n_counters - 1].comment =
		mkcomment(b, np_arena_printf(b->a, "%s %s allowed", ptext,
					     ingress ? "ingress" : "egress"));
	sel_of(b, pol_idx);
	struct build_targets tg = { b->sel_pods[pol_idx], b->n_sel_pods[pol_idx] };
	struct build_verdict v = { RS_V_ACCEPT, NULL, counter };
	for (size_t ri = 0; ri < n_rules; ri++)
		build_rule_expand(b, c, pol, &tg, &rules[ri], ri, ingress, &v);
}

/* Per-pod chain: hygiene, self, one jump per selecting policy with rules, then deny. */
static void pod_chain(struct builder *b, const struct np_pod *pod, bool ingress,
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

static void base_chain(struct builder *b, const char *name, enum rs_hook hook, int prio,
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

static int elem_cmp(const void *x, const void *y)
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

static bool elem_eq(const struct rs_elem *a, const struct rs_elem *b)
{
	return !elem_cmp(a, b);
}

static int set_cmp(const void *x, const void *y)
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

static int chain_cmp(const void *x, const void *y)
{
	const struct rs_chain *a = x, *b = y;
	if ((a->hook != RS_HOOK_NONE) != (b->hook != RS_HOOK_NONE))
		return a->hook != RS_HOOK_NONE ? -1 : 1;
	if (a->hook != RS_HOOK_NONE)
		return 0;
	return strcmp(a->name, b->name);
}

static int counter_cmp(const void *x, const void *y)
{
	return strcmp(((const struct rs_counter *)x)->name, ((const struct rs_counter *)y)->name);
}

/* Sorts and dedups a set's elements (interval sets are already normalized; named ports of
 * several container ports may repeat) and moves them into the arena, as out. */
static void set_finish(struct builder *b, struct rs_set *s, struct rs_set *out)
{
	if (!s->interval && s->n_elems) {
		qsort(s->elems, s->n_elems, sizeof(*s->elems), elem_cmp);
		size_t m = 0;
		for (size_t j = 0; j < s->n_elems; j++)
			if (!m || !elem_eq(&s->elems[m - 1], &s->elems[j]))
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
static void table_finish(struct builder *b, struct btable *bt, struct rs_table *t,
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
		qsort(bt->sets + n_maps, bt->n_sets - n_maps, sizeof(*bt->sets), set_cmp);
	size_t n_base = 0;
	while (n_base < bt->n_chains && bt->chains[n_base].hook != RS_HOOK_NONE)
		n_base++;
	if (bt->n_chains > n_base)
		qsort(bt->chains + n_base, bt->n_chains - n_base, sizeof(*bt->chains), chain_cmp);
	if (bt->n_counters) /* NULL when there are none, and qsort's base must not be NULL */
		qsort(bt->counters, bt->n_counters, sizeof(*bt->counters), counter_cmp);

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
		set_finish(b, s, &t->sets[t->n_sets++]);
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
	struct bset *s = table_set(b, &b->inet, name, key, false, &created);
	s->s.vmap = true;
	s->s.origin = np_arena_printf(b->a, "dispatch map %s", name);
	return s;
}

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

static struct rs_frag *shared_get(struct builder *b, const char *name)
{
	return frag_map_get(b->shared, name);
}

/* Hands f (just built) to the build's shared sets. */
static void shared_put(struct builder *b, const char *name, struct rs_frag *f)
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
static struct rs_frag *frag_begin(struct builder *b)
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
			rule->comment = hashname(b, "np:", text);
			free(text);
		}
}

/* Every rule carries a hash of its own text, so a chain read back from the kernel can be
 * compared with the IR as a list of hashes. */
static void frag_end(struct builder *b, struct rs_frag *f, const struct frag_disp *disp,
		     size_t n_disp)
{
	f->t.family = RS_FAMILY_INET;
	table_finish(b, &b->inet, &f->t, f);
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
	struct rs_frag *f = frag_begin(b);
	/* maps are created first so they keep this order; element pointers are re-fetched
	 * because the set array may move */
	for (size_t i = 0; i < 4; i++)
		new_map(b, disp_maps[i], i % 2 ? RS_KEY_IPV6 : RS_KEY_IPV4);
	build_admin_maps(b);
	if (b->opt->netns_local) {
		/* inside the pod's own netns: its traffic leaves through output, arrives at input */
		base_chain(b, "egress-out", RS_HOOK_OUTPUT, -10, RS_V_SADDR_VMAP, "egr4", "egr6");
		base_chain(b, "ingress-in", RS_HOOK_INPUT, -5, RS_V_DADDR_VMAP, "ing4", "ing6");
	} else {
		/* no egress chain on input: traffic from a pod to its own node is always allowed
		 * (the NetworkPolicy concepts page), like the node's traffic to its pods */
		base_chain(b, "egress-fwd", RS_HOOK_FORWARD, -10, RS_V_SADDR_VMAP, "egr4", "egr6");
		base_chain(b, "ingress-fwd", RS_HOOK_FORWARD, -5, RS_V_DADDR_VMAP, "ing4", "ing6");
	}
	build_admin_tiers(b);
	frag_end(b, f, NULL, 0);
	return f;
}

/* A policy's chains (none when it selects no local pod: nothing would jump to them). */
static struct rs_frag *frag_policy(struct builder *b, size_t i)
{
	const struct np_policy *pol = &b->inv->pols[i];
	struct rs_frag *f = frag_begin(b);
	sel_of(b, i);
	bool any_local = false;
	for (size_t j = 0; j < b->n_sel_pods[i] && !any_local; j++)
		any_local = pod_is_local(b, &b->inv->pods[b->sel_pods[i][j]]);
	if (any_local && pol->ingress && pol->n_in)
		policy_chain(b, pol, i, true);
	if (any_local && pol->egress && pol->n_out)
		policy_chain(b, pol, i, false);
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
	struct rs_frag *f = frag_begin(b);
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
				sb_puts(&names, ", ");
			sb_puts(&names, pol->name);
			/* the policy selects this local pod, so it has its chain when it has rules */
			if (ingress ? pol->n_in : pol->n_out)
				chains[n++] = mkname(b, "pol-", policy_text(b, pol),
						     ingress ? "-in" : "-out");
		}
		if (!isolated)
			continue;
		pod_chain(b, pod, ingress, chains, n, names.p);
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
	VEC_PUSH(b->tmp, bt->sets, bt->n_sets, bt->cap_sets);
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

/* The inet table from its fragments (v[0] the global one), ordered as one table_finish over
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
	qsort(bt.sets + n_maps, bt.n_sets - n_maps, sizeof(*bt.sets), set_cmp);

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
			qsort(e, ne, sizeof(*e), elem_cmp);
			size_t w = 0;
			for (size_t j = 0; j < ne; j++)
				if (!w || !elem_eq(&e[w - 1], &e[j]))
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
	np_sort_stable(t->chains + n_base, t->n_chains - n_base, sizeof(*t->chains), chain_cmp);
	np_sort_stable(t->counters, t->n_counters, sizeof(*t->counters), counter_cmp);
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
		if (!shared_get(b, f->uses[i]) && !frag_map_get(old_sets, f->uses[i]))
			return NULL;
	for (size_t i = 0; i < f->n_uses; i++)
		if (!shared_get(b, f->uses[i]))
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

/* How many pods other than the changes' new versions have address a (of the changes' old
 * versions, the i-th is the one being taken out). */
static size_t others_with(const struct builder *b, const struct build_dirty *dirty, size_t i,
			  const struct np_addr *a)
{
	size_t n = addr_count_get(b->addrs, a);
	const struct change *ch = dirty->set_changes;
	/* the common case, a pod that keeps its address: its own new version first */
	for (size_t pass = 0; pass < 2 && n; pass++)
		for (size_t j = pass ? 0 : i; j < (pass ? dirty->n_set_changes : i + 1) && n; j++) {
			const struct np_pod *p = ch[j].n;
			if ((pass && j == i) || !p || p->host_network)
				continue;
			for (size_t m = 0; m < p->n_ips && n; m++)
				n -= !np_addr_cmp(&p->ips[m], a);
		}
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
	    (named && (r->n_peers == 0 || rule_has_ipblock(r, family))))
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
			if (others_with(b, dirty, i, &o->ips[k]))
				return false;
			gone[n_gone++] = o->ips[k];
		}
	}
	qsort(gone, n_gone, sizeof(*gone), addr_cmp_v);
	struct np_arena *a = b->a;
	struct btable inet = b->inet;
	struct rs_frag *f = frag_begin(b);
	const struct rs_set *os = &old->t.sets[0];
	bool created;
	struct bset *add = table_set(b, &b->inet, name, os->key, os->interval, &created);
	add->s.comment = os->comment ? np_arena_strdup(b->a, os->comment) : NULL;
	add->s.origin = os->origin ? np_arena_strdup(b->a, os->origin) : NULL;
	struct addr_ctx actx = { add, family };
	struct named_ctx nctx = { b, add, r, family };
	for (size_t i = 0; i < n_ch; i++) {
		const struct np_pod *n = ch[i].n;
		if (look[i] && rule_selects(b->inv, pol, r, n))
			named ? add_named_pod(&nctx, n) : add_pod_addrs(&actx, n);
	}
	/* the new elements, sorted, merged into the old ones (sorted) less the gone */
	struct rs_set *s = &add->s;
	if (s->n_elems > 1)
		qsort(s->elems, s->n_elems, sizeof(*s->elems), elem_cmp);
	struct rs_elem *e = np_arena_alloc(b->a, (os->n_elems + s->n_elems + 1) * sizeof(*e));
	size_t ne = 0, i = 0, j = 0;
	while (i < os->n_elems || j < s->n_elems) {
		bool from_old = j == s->n_elems ||
				(i < os->n_elems && elem_cmp(&os->elems[i], &s->elems[j]) <= 0);
		const struct rs_elem *x = from_old ? &os->elems[i++] : &s->elems[j++];
		if (from_old && n_gone &&
		    bsearch(&x->addr_lo, gone, n_gone, sizeof(*gone), addr_cmp_v))
			continue;
		if (!ne || !elem_eq(&e[ne - 1], x))
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
	shared_put(b, name, f);
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
		const struct np_rule *rules = dir ? pol->out : pol->in;
		size_t n_rules = dir ? pol->n_out : pol->n_in;
		for (size_t ri = 0; ri < n_rules; ri++) {
			const struct np_rule *r = &rules[ri];
			bool plain = r->n_ports == 0 || rule_has_numeric_port(r);
			/* an egress rule with named ports only matches its peers by the named
			 * set; a peer set is then not used */
			bool peers = rule_has_selector_peer(r) && (!dir || plain);
			bool named = dir && rule_has_named_port(r);
			const char *pn[2], *nn[2];
			build_peer_names(b->tmp, pol, r, pn);
			build_named_names(b->tmp, pol, ri, !dir, nn);
			for (int fam = 0; fam < 2; fam++) {
				size_t v;
				uint8_t family = fam ? 6 : 4;
				if (peers && strmap_get(&dirty->sets, pn[fam], &v)) {
					if (!shared_get(b, pn[fam]) &&
					    !patch_set(b, dirty, pn[fam], pol, r, family, false))
						peer_set(b, pol, r, family);
					/* ingress named ports: the peer set is used with the
					 * named set, when that has elements */
					bool used = shared_get(b, pn[fam])->t.sets[0].n_elems > 0 &&
						    (plain || frag_has_set(f, nn[fam]));
					ok &= used == frag_uses(f, pn[fam]);
				}
				if (named && strmap_get(&dirty->sets, nn[fam], &v)) {
					if (!shared_get(b, nn[fam]) &&
					    !patch_set(b, dirty, nn[fam], pol, r, family, true))
						named_set(b, pol, NULL, r, ri, false, family);
					ok &= (shared_get(b, nn[fam])->t.sets[0].n_elems > 0) ==
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

/* Anti-spoofing where pods hang off a Linux bridge: the inet hooks only see the bridge as
 * iif, so the pod's port is matched in the bridge family (stateless; no conntrack there). */
static void build_spoof(struct builder *b, struct rs_table *t)
{
	struct btable bt = { 0 };
	t->name = "netpol-spoof";
	t->family = RS_FAMILY_BRIDGE;
	t->comment = "netpol: pod source address checks; managed, do not edit";
	bool created;
	struct bset *ports = table_set(b, &bt, "pod-port", RS_KEY_IFNAME, false, &created);
	ports->s.origin = "anti-spoofing pod ports";
	table_set(b, &bt, "pod-src4", RS_KEY_IFNAME_IPV4, false, &created)->s.origin =
		"anti-spoofing pod IPv4 sources";
	table_set(b, &bt, "pod-src6", RS_KEY_IFNAME_IPV6, false, &created)->s.origin =
		"anti-spoofing pod IPv6 sources";
	struct bset *local6 = table_set(b, &bt, "v6-local", RS_KEY_IPV6, true, &created);
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
	table_finish(b, &bt, t, NULL); /* sorts sets by name: the order they were declared in */
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
		if (pod_is_local(&b, &inv->pods[p]))
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
	VEC_PUSH(b->a, b->inet.counters, b->inet.n_counters, b->inet.cap_counters);
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
