/* test_build — ruleset_build on small inventories: which dispatch maps hold which pods, which
 * peer/cidr/port/named sets exist with which elements, chain and rule counts, ipBlock except
 * normalization, named ports per destination pod and protocol, dual-stack closure, --node,
 * host-network pods, sharing and determinism. Inputs go through the real loader
 * (np_inventory_load_buffer), so a test reads like the YAML a user writes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model.h"
#include "ruleset.h"

/* ---- helpers ---- */

static struct np_inventory *load(const char *yaml)
{
	struct np_inventory *inv = np_inventory_new();
	struct np_diags d;
	np_diags_init(&d);
	assert_non_null(inv);
	assert_int_equal(np_inventory_load_buffer(inv, "test.yaml", yaml, strlen(yaml), 1, &d), 0);
	np_inventory_finish(inv, &d);
	for (size_t i = 0; i < d.n; i++)
		if (d.v[i].sev == NP_SEV_ERROR)
			print_error("load error: %s at %s\n", d.v[i].msg,
				    d.v[i].pointer ? d.v[i].pointer : "");
	assert_int_equal(d.errors, 0);
	np_diags_free(&d);
	return inv;
}

struct fixture {
	struct np_inventory *inv;
	struct rs_ruleset *rs;
	const struct rs_table *t; /* the inet table */
};

static void build_opt(struct fixture *f, const char *yaml, const struct rs_options *opt)
{
	f->inv = load(yaml);
	assert_int_equal(ruleset_build(f->inv, opt, &f->rs), 0);
	assert_non_null(f->rs);
	assert_true(f->rs->n_tables >= 1);
	f->t = &f->rs->tables[0];
	assert_int_equal(f->t->family, RS_FAMILY_INET);
}

static void build(struct fixture *f, const char *yaml)
{
	struct rs_options opt = { .no_spoof_table = true };
	build_opt(f, yaml, &opt);
}

static void done(struct fixture *f)
{
	ruleset_free(f->rs);
	np_inventory_free(f->inv);
}

/* An element as text: "10.0.0.0-10.0.255.255", "10.1.0.2 . tcp . 8080", "udp . 0-65535",
 * "10.1.0.2 -> ing-shop/a" (maps). Written independently of emit_text on purpose. */
static void elem_str(const struct rs_set *s, const struct rs_elem *e, char *buf, size_t size)
{
	char a[64], b[64];
	size_t n = 0;
	bool addr = s->key != RS_KEY_PROTO_PORT;
	bool port = s->key == RS_KEY_PROTO_PORT || s->key == RS_KEY_IPV4_PROTO_PORT ||
		    s->key == RS_KEY_IPV6_PROTO_PORT;
	buf[0] = 0;
	if (addr) {
		np_addr_str(&e->addr_lo, a);
		if (np_addr_cmp(&e->addr_lo, &e->addr_hi))
			n += (size_t)snprintf(buf + n, size - n, "%s-%s", a,
					      np_addr_str(&e->addr_hi, b));
		else
			n += (size_t)snprintf(buf + n, size - n, "%s", a);
	}
	if (port) {
		const char *p = e->proto == 6 ? "tcp" : e->proto == 17 ? "udp" : "sctp";
		n += (size_t)snprintf(buf + n, size - n, "%s%s . %u", addr ? " . " : "", p,
				      e->port_lo);
		if (e->port_hi != e->port_lo)
			n += (size_t)snprintf(buf + n, size - n, "-%u", e->port_hi);
	}
	if (s->vmap)
		snprintf(buf + n, size - n, " -> %s", e->target);
}

/* Asserts the set's elements, in order, are exactly the given strings (NULL-terminated). */
static void assert_elems(const struct rs_set *s, ...)
{
	va_list ap;
	char buf[256];
	size_t i = 0;
	assert_non_null(s);
	va_start(ap, s);
	for (const char *want; (want = va_arg(ap, const char *)); i++) {
		if (i >= s->n_elems)
			fail_msg("set %s: %zu elements, expected at least %zu (next: %s)", s->name,
				 s->n_elems, i + 1, want);
		elem_str(s, &s->elems[i], buf, sizeof(buf));
		if (strcmp(buf, want))
			fail_msg("set %s element %zu: '%s', expected '%s'", s->name, i, buf, want);
	}
	va_end(ap);
	if (i != s->n_elems) {
		elem_str(s, &s->elems[i], buf, sizeof(buf));
		fail_msg("set %s: %zu elements, expected %zu (extra: %s)", s->name, s->n_elems, i,
			 buf);
	}
}

/* The set whose name starts with prefix and whose comment equals comment (NULL: any). */
static const struct rs_set *find_set(const struct rs_table *t, const char *prefix,
				     const char *comment)
{
	const struct rs_set *found = NULL;
	for (size_t i = 0; i < t->n_sets; i++) {
		const struct rs_set *s = &t->sets[i];
		if (strncmp(s->name, prefix, strlen(prefix)))
			continue;
		if (comment && (!s->comment || strcmp(s->comment, comment)))
			continue;
		if (found)
			fail_msg("two sets match %s / %s: %s and %s", prefix, comment ? comment : "*",
				 found->name, s->name);
		found = s;
	}
	return found;
}

static size_t count_sets(const struct rs_table *t, const char *prefix)
{
	size_t n = 0;
	for (size_t i = 0; i < t->n_sets; i++)
		n += !strncmp(t->sets[i].name, prefix, strlen(prefix));
	return n;
}

static const struct rs_chain *chain(const struct rs_table *t, const char *name)
{
	const struct rs_chain *c = ruleset_table_chain(t, name);
	if (!c)
		fail_msg("no chain %s", name);
	return c;
}

/* Does any rule of c match on an IPv6 address or an IPv6-keyed set? */
static bool chain_has_v6(const struct rs_table *t, const struct rs_chain *c)
{
	for (size_t i = 0; i < c->n_rules; i++)
		for (size_t j = 0; j < c->rules[i].n_m; j++) {
			const struct rs_match *m = &c->rules[i].m[j];
			if (m->family == 6)
				return true;
			const struct rs_set *s = m->set ? ruleset_table_set(t, m->set) : NULL;
			if (s && (s->key == RS_KEY_IPV6 || s->key == RS_KEY_IPV6_PROTO_PORT))
				return true;
		}
	return false;
}

/* The rules of a policy chain that accept (every one of them should). */
static size_t accept_rules(const struct rs_chain *c)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n_rules; i++)
		n += c->rules[i].verdict == RS_V_ACCEPT;
	return n;
}

#define NS(name) "apiVersion: v1\nkind: Namespace\nmetadata: {name: " name "}\n---\n"
#define NS_L(name, labels)                                                                     \
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: " name ", labels: " labels "}\n---\n"
/* POD(ns, name, labels, node, ips, containers) */
#define POD(ns, name, labels, node, ips, conts)                                               \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: " name ", namespace: " ns ", labels: " labels \
	"}\nspec: {nodeName: " node ", containers: " conts "}\nstatus: {podIPs: " ips "}\n---\n"
#define NOPORTS "[{name: c, image: x}]"
#define POL(ns, name, spec)                                                                    \
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: " name           \
	", namespace: " ns "}\nspec: " spec "\n---\n"

/* ---- tests ---- */

/* Only pods a policy selects (for that direction) get dispatch elements; the pod chain is
 * hygiene, self, one jump per policy with rules, log, drop. */
static void test_dispatch_and_chains(void **state)
{
	struct fixture f;
	build(&f, NS("shop")
		  POD("shop", "a", "{app: a}", "n1", "[{ip: 10.1.0.2}, {ip: 'fd00::2'}]", NOPORTS)
		  POD("shop", "b", "{app: b}", "n1", "[{ip: 10.1.0.3}]", NOPORTS)
		  POL("shop", "p", "{podSelector: {matchLabels: {app: a}}, "
				   "ingress: [{from: [{podSelector: {matchLabels: {app: b}}}]}]}"));
	assert_elems(ruleset_table_set(f.t, "ing4"), "10.1.0.2 -> ing-shop/a", NULL);
	assert_elems(ruleset_table_set(f.t, "ing6"), "fd00::2 -> ing-shop/a", NULL);
	assert_elems(ruleset_table_set(f.t, "egr4"), NULL);
	assert_elems(ruleset_table_set(f.t, "egr6"), NULL);
	assert_true(ruleset_table_set(f.t, "ing4")->vmap);

	/* 2 base chains (egress and ingress on forward; nothing on input: a pod's traffic to its
	 * own node is never filtered), the pod's ingress chain, the policy's ingress chain */
	assert_int_equal(f.t->n_chains, 4);
	assert_int_equal(f.t->chains[0].hook, RS_HOOK_FORWARD);
	assert_int_equal(f.t->chains[1].hook, RS_HOOK_FORWARD);
	const struct rs_chain *pc = chain(f.t, "ing-shop/a");
	assert_int_equal(pc->hook, RS_HOOK_NONE);
	assert_int_equal(pc->n_rules, 6); /* invalid, self v4, self v6, jump, log, drop */
	assert_int_equal(pc->rules[0].m[0].kind, RS_M_CT_INVALID);
	assert_int_equal(pc->rules[0].verdict, RS_V_DROP);
	assert_int_equal(pc->rules[1].m[0].kind, RS_M_SADDR_EQ);
	assert_int_equal(pc->rules[3].verdict, RS_V_JUMP);
	assert_string_equal(pc->rules[3].target, "pol-shop/p-in");
	assert_true(pc->rules[4].log);
	assert_int_equal(pc->rules[5].verdict, RS_V_DROP);
	assert_true(pc->rules[5].anon_counter);
	/* the policy chain: one rule per family with peers; b has no IPv6 address, so the empty
	 * IPv6 peer set and its rule (which could never match) are left out */
	const struct rs_chain *pol = chain(f.t, "pol-shop/p-in");
	assert_int_equal(pol->n_rules, 1);
	assert_int_equal(pol->rules[0].m[0].family, 4);
	assert_null(find_set(f.t, "peer6-", "ns shop: pod {app=b}"));
	assert_string_equal(pol->rules[0].counter, "cnt-shop/p-in");
	assert_int_equal(f.t->n_counters, 1);
	done(&f);
}

/* Every rule carries "np:" + 12 hex digits of its own text: equal text, equal hash. */
static void test_rule_comments(void **state)
{
	struct fixture f;
	build(&f, NS("shop")
		  POD("shop", "a", "{app: a}", "n1", "[{ip: 10.1.0.2}]", NOPORTS)
		  POD("shop", "b", "{app: a}", "n1", "[{ip: 10.1.0.3}]", NOPORTS)
		  POL("shop", "p", "{podSelector: {}, policyTypes: [Ingress]}"));
	const struct rs_chain *a = chain(f.t, "ing-shop/a"), *b = chain(f.t, "ing-shop/b");
	for (size_t i = 0; i < a->n_rules; i++) {
		const char *c = a->rules[i].comment;
		assert_non_null(c);
		assert_int_equal(strlen(c), 15);
		assert_memory_equal(c, "np:", 3);
		assert_int_equal(strspn(c + 3, "0123456789abcdef"), 12);
	}
	assert_string_equal(a->rules[0].comment, b->rules[0].comment); /* ct state invalid drop */
	assert_string_not_equal(a->rules[1].comment, b->rules[1].comment); /* different self IP */
	done(&f);
}

/* ipBlock: host bits masked, cidr minus excepts per block, blocks unioned, sorted, adjacent
 * ranges merged; v4 and v6 in separate interval sets. */
static void test_ipblock_normalized(void **state)
{
	struct fixture f;
	build(&f, NS("shop")
		  POD("shop", "a", "{app: a}", "n1", "[{ip: 10.1.0.2}, {ip: 'fd00::2'}]", NOPORTS)
		  POL("shop", "p", "{podSelector: {}, ingress: [{from: ["
				   "{ipBlock: {cidr: 10.9.9.9/8, except: [10.1.0.0/16, 10.200.0.0/16]}},"
				   "{ipBlock: {cidr: 10.1.5.0/24}},"
				   "{ipBlock: {cidr: 192.168.0.0/25}}, {ipBlock: {cidr: 192.168.0.128/25}},"
				   "{ipBlock: {cidr: 'fd00::/16', except: ['fd00:1::/32']}}]},"
				   "{from: [{ipBlock: {cidr: 0.0.0.0/0, except: [0.0.0.0/1]}}]}]}"));
	/* two rules, two different v4 sets: find each by its canonical comment */
	const struct rs_set *v4 = find_set(f.t, "cidr4-",
		      "10.0.0.0/8 except 10.1.0.0/16 10.200.0.0/16, 10.1.5.0/24, 192.168.0.0/25, "
		      "192.168.0.128/25");
	assert_non_null(v4);
	assert_true(v4->interval);
	assert_int_equal(v4->key, RS_KEY_IPV4);
	assert_elems(v4, "10.0.0.0-10.0.255.255", "10.1.5.0-10.1.5.255", "10.2.0.0-10.199.255.255",
		     "10.201.0.0-10.255.255.255", "192.168.0.0-192.168.0.255", NULL);
	assert_elems(find_set(f.t, "cidr4-", "0.0.0.0/0 except 0.0.0.0/1"),
		     "128.0.0.0-255.255.255.255", NULL);
	const struct rs_set *v6 = find_set(f.t, "cidr6-", NULL);
	assert_true(v6->interval);
	assert_int_equal(v6->key, RS_KEY_IPV6);
	assert_elems(v6, "fd00::-fd00:0:ffff:ffff:ffff:ffff:ffff:ffff",
		     "fd00:2::-fd00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL);
	/* rule 0: v4 and v6 cidr rules; rule 1: v4 only */
	assert_int_equal(chain(f.t, "pol-shop/p-in")->n_rules, 3);
	done(&f);
}

/* Numeric ports: one interval set per rule, merged per protocol; no port = whole protocol;
 * protocol defaults to TCP. */
static void test_port_sets(void **state)
{
	struct fixture f;
	build(&f, NS("shop")
		  POD("shop", "a", "{app: a}", "n1", "[{ip: 10.1.0.2}]", NOPORTS)
		  POL("shop", "p", "{podSelector: {}, ingress: [{ports: ["
				   "{port: 80}, {port: 81}, {protocol: TCP, port: 70, endPort: 79},"
				   "{protocol: UDP, port: 1000, endPort: 2000},"
				   "{protocol: UDP, port: 1500, endPort: 2500}, {protocol: SCTP}]}]}"));
	assert_int_equal(count_sets(f.t, "port-"), 1);
	const struct rs_set *s = find_set(f.t, "port-", NULL);
	assert_true(s->interval);
	assert_elems(s, "tcp . 70-81", "udp . 1000-2500", "sctp . 0-65535", NULL);
	/* every peer + numeric ports: one rule without an address, serving both families */
	const struct rs_chain *c = chain(f.t, "pol-shop/p-in");
	assert_int_equal(c->n_rules, 1);
	assert_int_equal(c->rules[0].n_m, 1);
	assert_int_equal(c->rules[0].m[0].kind, RS_M_L4_PORT_IN);
	done(&f);
}

#define WEB_PODS                                                                               \
	POD("shop", "web-0", "{app: web}", "n1", "[{ip: 10.1.0.2}, {ip: 'fd00::2'}]",            \
	    "[{name: w, image: x, ports: [{name: http, containerPort: 8080},"                      \
	    " {name: dns, containerPort: 53, protocol: UDP}]}]")                                   \
	POD("shop", "web-1", "{app: web}", "n2", "[{ip: 10.1.0.3}]",                             \
	    "[{name: w, image: x, ports: [{name: http, containerPort: 8000, protocol: TCP}]},"     \
	    " {name: s, image: y, ports: [{name: dns, containerPort: 5353, protocol: TCP}]}]")     \
	POD("shop", "udp-0", "{app: web}", "n1", "[{ip: 10.1.0.4}]",                             \
	    "[{name: w, image: x, ports: [{name: http, containerPort: 9999, protocol: UDP}]}]")    \
	POD("shop", "cli-0", "{role: client}", "n1", "[{ip: 10.1.0.5}, {ip: 'fd00::5'}]", NOPORTS)

/* Ingress named ports resolve on the local target pods, by name and protocol. */
static void test_named_ingress(void **state)
{
	struct fixture f;
	build(&f, NS("shop") WEB_PODS
		  POL("shop", "p", "{podSelector: {matchLabels: {app: web}}, ingress: ["
				   "{from: [{podSelector: {matchLabels: {role: client}}}],"
				   " ports: [{port: http}, {port: dns, protocol: TCP}]},"
				   "{ports: [{port: nosuch}]}]}"));
	assert_elems(ruleset_table_set(f.t, "named4-shop/p-i0"), "10.1.0.2 . tcp . 8080",
		     "10.1.0.3 . tcp . 5353", "10.1.0.3 . tcp . 8000", NULL);
	assert_elems(ruleset_table_set(f.t, "named6-shop/p-i0"), "fd00::2 . tcp . 8080", NULL);
	/* a name no pod defines matches nothing: no set, no rule */
	assert_null(ruleset_table_set(f.t, "named4-shop/p-i1"));
	assert_null(ruleset_table_set(f.t, "named6-shop/p-i1"));
	const struct rs_chain *c = chain(f.t, "pol-shop/p-in");
	/* rule 0: (peer4 x named4) + (peer6 x named6); rule 1: nothing */
	assert_int_equal(c->n_rules, 2);
	assert_int_equal(c->rules[0].m[0].kind, RS_M_SADDR_IN);
	assert_int_equal(c->rules[0].m[1].kind, RS_M_DADDR_L4_PORT_IN);
	assert_string_equal(c->rules[0].m[1].set, "named4-shop/p-i0");
	assert_string_equal(c->rules[1].m[1].set, "named6-shop/p-i0");

	/* --node n1: only local targets resolve (web-1 is on n2) */
	done(&f);
	struct rs_options opt = { .node = "n1", .no_spoof_table = true };
	build_opt(&f, NS("shop") WEB_PODS
		      POL("shop", "p", "{podSelector: {matchLabels: {app: web}}, ingress: ["
				       "{ports: [{port: http}]}]}"),
		  &opt);
	assert_elems(ruleset_table_set(f.t, "named4-shop/p-i0"), "10.1.0.2 . tcp . 8080", NULL);
	assert_elems(ruleset_table_set(f.t, "ing4"), "10.1.0.2 -> ing-shop/web-0",
		     "10.1.0.4 -> ing-shop/udp-0", NULL);
	done(&f);
}

/* Egress named ports resolve on the peer pods, local or not; the set key is the peer. */
static void test_named_egress(void **state)
{
	struct fixture f;
	struct rs_options opt = { .node = "n1", .no_spoof_table = true };
	build_opt(&f, NS("shop") WEB_PODS
		      POL("shop", "p", "{podSelector: {matchLabels: {role: client}}, "
				       "policyTypes: [Egress], egress: ["
				       "{to: [{podSelector: {matchLabels: {app: web}}}],"
				       " ports: [{port: http}]},"
				       "{to: [{ipBlock: {cidr: 10.1.0.3/32}}], ports: [{port: http}]}]}"),
		  &opt);
	assert_elems(ruleset_table_set(f.t, "named4-shop/p-e0"), "10.1.0.2 . tcp . 8080",
		     "10.1.0.3 . tcp . 8000", NULL);
	assert_elems(ruleset_table_set(f.t, "named6-shop/p-e0"), "fd00::2 . tcp . 8080", NULL);
	/* ipBlock peers: pods whose address lies in the block */
	assert_elems(ruleset_table_set(f.t, "named4-shop/p-e1"), "10.1.0.3 . tcp . 8000", NULL);
	assert_elems(ruleset_table_set(f.t, "egr4"), "10.1.0.5 -> egr-shop/cli-0", NULL);
	assert_elems(ruleset_table_set(f.t, "egr6"), "fd00::5 -> egr-shop/cli-0", NULL);
	const struct rs_chain *c = chain(f.t, "pol-shop/p-out");
	for (size_t i = 0; i < c->n_rules; i++) {
		/* the named set alone is the match: it already holds only peer addresses */
		assert_int_equal(c->rules[i].n_m, 1);
		assert_int_equal(c->rules[i].m[0].kind, RS_M_DADDR_L4_PORT_IN);
	}
	/* e0 over both families, e1 over IPv4 only (10.1.0.3 has no IPv6: no named6-shop/p-e1) */
	assert_null(ruleset_table_set(f.t, "named6-shop/p-e1"));
	assert_int_equal(c->n_rules, 3);
	done(&f);
}

/* A dual-stack pod under an IPv4-only policy: isolated over IPv6 too, and nothing in its
 * policy chains can accept IPv6. */
static void test_dual_stack_closed(void **state)
{
	struct fixture f;
	build(&f, NS("shop")
		  POD("shop", "a", "{app: a}", "n1", "[{ip: 10.1.0.2}, {ip: 'fd00::2'}]", NOPORTS)
		  POL("shop", "p", "{podSelector: {}, policyTypes: [Ingress, Egress],"
				   " ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}}], ports: [{port: 80}]}],"
				   " egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]}"));
	assert_elems(ruleset_table_set(f.t, "ing6"), "fd00::2 -> ing-shop/a", NULL);
	assert_elems(ruleset_table_set(f.t, "egr6"), "fd00::2 -> egr-shop/a", NULL);
	const struct rs_chain *in = chain(f.t, "pol-shop/p-in"), *out = chain(f.t, "pol-shop/p-out");
	assert_int_equal(accept_rules(in), 1);
	assert_int_equal(accept_rules(out), 1);
	assert_false(chain_has_v6(f.t, in));
	assert_false(chain_has_v6(f.t, out));
	/* no rule without an address match either: that would open both families */
	assert_int_equal(in->rules[0].m[0].kind, RS_M_SADDR_IN);
	assert_int_equal(out->rules[0].m[0].kind, RS_M_DADDR_IN);
	assert_int_equal(count_sets(f.t, "cidr6-"), 0);
	done(&f);
}

/* policyTypes: absent + ingress only = Ingress; absent + egress = Ingress and Egress (with
 * no ingress rules: deny); explicit Egress = egress only. */
static void test_policy_types(void **state)
{
	struct fixture f;
	build(&f, NS("shop")
		  POD("shop", "a", "{app: a}", "n1", "[{ip: 10.1.0.2}]", NOPORTS)
		  POD("shop", "b", "{app: b}", "n1", "[{ip: 10.1.0.3}]", NOPORTS)
		  POD("shop", "c", "{app: c}", "n1", "[{ip: 10.1.0.4}]", NOPORTS)
		  POL("shop", "pa", "{podSelector: {matchLabels: {app: a}}, ingress: [{}]}")
		  POL("shop", "pb", "{podSelector: {matchLabels: {app: b}}, egress: [{}]}")
		  POL("shop", "pc", "{podSelector: {matchLabels: {app: c}}, policyTypes: [Egress],"
				    " egress: [{}]}"));
	assert_elems(ruleset_table_set(f.t, "ing4"), "10.1.0.2 -> ing-shop/a",
		     "10.1.0.3 -> ing-shop/b", NULL);
	assert_elems(ruleset_table_set(f.t, "egr4"), "10.1.0.3 -> egr-shop/b",
		     "10.1.0.4 -> egr-shop/c", NULL);
	/* b's ingress chain jumps nowhere: pb has no ingress rules */
	const struct rs_chain *bi = chain(f.t, "ing-shop/b");
	for (size_t i = 0; i < bi->n_rules; i++)
		assert_int_not_equal(bi->rules[i].verdict, RS_V_JUMP);
	assert_null(ruleset_table_chain(f.t, "pol-shop/pb-in"));
	assert_non_null(ruleset_table_chain(f.t, "pol-shop/pb-out"));
	/* {} allows everything: one rule, no match at all */
	const struct rs_chain *pa = chain(f.t, "pol-shop/pa-in");
	assert_int_equal(pa->n_rules, 1);
	assert_int_equal(pa->rules[0].n_m, 0);
	assert_int_equal(pa->rules[0].verdict, RS_V_ACCEPT);
	done(&f);
}

/* Selector peers: namespace scope, namespaceSelector {} / labelled, AND of both, host-network
 * pods never peers and never isolated; identical peers share one set across policies. */
static void test_peer_sets(void **state)
{
	struct fixture f;
	build(&f, NS_L("shop", "{env: prod}") NS_L("dev", "{env: dev}")
		  POD("shop", "a", "{app: a}", "n1", "[{ip: 10.1.0.2}]", NOPORTS)
		  POD("shop", "b", "{role: x}", "n1", "[{ip: 10.1.0.3}]", NOPORTS)
		  POD("dev", "c", "{role: x}", "n1", "[{ip: 10.2.0.2}, {ip: 'fd00:2::2'}]", NOPORTS)
		  "apiVersion: v1\nkind: Pod\nmetadata: {name: h, namespace: shop, labels: {role: x}}\n"
		  "spec: {nodeName: n1, hostNetwork: true, containers: [{name: c, image: x}]}\n"
		  "status: {podIP: 192.168.0.1}\n---\n"
		  POL("shop", "p1", "{podSelector: {}, ingress: ["
				    "{from: [{podSelector: {matchLabels: {role: x}}}]},"
				    "{from: [{namespaceSelector: {}, podSelector: {matchLabels: {role: x}}}]},"
				    "{from: [{namespaceSelector: {matchLabels: {env: dev}}}]}]}")
		  POL("shop", "p2", "{podSelector: {matchLabels: {app: a}}, ingress: ["
				    "{from: [{podSelector: {matchLabels: {role: x}}}], ports: [{port: 1}]}]}"));
	assert_elems(find_set(f.t, "peer4-", "ns shop: pod {role=x}"), "10.1.0.3", NULL);
	assert_elems(find_set(f.t, "peer4-", "ns {}: pod {role=x}"), "10.1.0.3", "10.2.0.2", NULL);
	assert_elems(find_set(f.t, "peer6-", "ns {}: pod {role=x}"), "fd00:2::2", NULL);
	assert_elems(find_set(f.t, "peer4-", "ns {env=dev}: pod {}"), "10.2.0.2", NULL);
	/* p1 rule 0 and p2 rule 0 share the set: 3 distinct peers; over IPv6 only the two that
	 * select c (the only pod with IPv6) have elements, the empty one is left out */
	assert_int_equal(count_sets(f.t, "peer4-"), 3);
	assert_int_equal(count_sets(f.t, "peer6-"), 2);
	assert_null(find_set(f.t, "peer6-", "ns shop: pod {role=x}"));
	/* the host-network pod: selected by p1's {} but never isolated */
	assert_elems(ruleset_table_set(f.t, "ing4"), "10.1.0.2 -> ing-shop/a",
		     "10.1.0.3 -> ing-shop/b", NULL);
	/* a's chain jumps to both policies (union), in policy order */
	const struct rs_chain *a = chain(f.t, "ing-shop/a");
	assert_string_equal(a->rules[2].target, "pol-shop/p1-in");
	assert_string_equal(a->rules[3].target, "pol-shop/p2-in");
	done(&f);
}

/* --node: local pods get map elements, chains and spoofing entries; remote pods only feed
 * peer sets. */
static void test_node_local(void **state)
{
	struct fixture f;
	struct rs_options opt = { .node = "n1" };
	const char *yaml =
		NS("shop")
		"apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: shop, labels: {app: a},"
		" annotations: {netpol.io/host-interface: veth-a}}\n"
		"spec: {nodeName: n1, containers: [{name: c, image: x}]}\n"
		"status: {podIPs: [{ip: 10.1.0.2}]}\n---\n"
		"apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: shop, labels: {app: a},"
		" annotations: {netpol.io/host-interface: veth-b}}\n"
		"spec: {nodeName: n2, containers: [{name: c, image: x}]}\n"
		"status: {podIPs: [{ip: 10.1.1.2}]}\n---\n"
		POL("shop", "p", "{podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}");
	build_opt(&f, yaml, &opt);
	assert_elems(ruleset_table_set(f.t, "ing4"), "10.1.0.2 -> ing-shop/a", NULL);
	assert_null(ruleset_table_chain(f.t, "ing-shop/b"));
	assert_elems(find_set(f.t, "peer4-", NULL), "10.1.0.2", "10.1.1.2", NULL);
	assert_int_equal(f.rs->n_tables, 2);
	const struct rs_table *sp = &f.rs->tables[1];
	assert_int_equal(sp->family, RS_FAMILY_BRIDGE);
	assert_int_equal(ruleset_table_set(sp, "pod-port")->n_elems, 1);
	assert_string_equal(ruleset_table_set(sp, "pod-port")->elems[0].ifname, "veth-a");
	done(&f);

	/* a node with no pods: nothing isolated, no policy chain (nothing would jump to it) */
	struct rs_options opt3 = { .node = "n3", .no_spoof_table = true };
	build_opt(&f, yaml, &opt3);
	assert_int_equal(ruleset_table_set(f.t, "ing4")->n_elems, 0);
	assert_int_equal(f.t->n_chains, 2);
	done(&f);
}

/* --reject ends pod chains with TCP reset then ICMP admin-prohibited instead of drop. */
static void test_reject(void **state)
{
	struct fixture f;
	struct rs_options opt = { .reject = true, .no_spoof_table = true };
	build_opt(&f, NS("shop") POD("shop", "a", "{app: a}", "n1", "[{ip: 10.1.0.2}]", NOPORTS)
			      POL("shop", "p", "{podSelector: {}, policyTypes: [Ingress]}"),
		  &opt);
	const struct rs_chain *c = chain(f.t, "ing-shop/a");
	assert_int_equal(c->rules[c->n_rules - 2].verdict, RS_V_REJECT_TCP);
	assert_int_equal(c->rules[c->n_rules - 2].m[0].kind, RS_M_L4PROTO_EQ);
	assert_int_equal(c->rules[c->n_rules - 1].verdict, RS_V_REJECT);
	for (size_t i = 0; i < c->n_rules; i++)
		if (c->rules[i].verdict == RS_V_DROP)
			assert_int_equal(c->rules[i].m[0].kind, RS_M_CT_INVALID);
	done(&f);
}

/* The same objects in another order (another file order) give byte-identical text. */
static void test_deterministic(void **state)
{
	const char *p1 = POD("shop", "a", "{app: a}", "n1", "[{ip: 10.1.0.2}]", NOPORTS);
	const char *p2 = POD("shop", "b", "{app: b}", "n1", "[{ip: 10.1.0.3}, {ip: 'fd00::3'}]",
			     NOPORTS);
	const char *pol = POL("shop", "x", "{podSelector: {}, ingress: [{from: ["
					   "{podSelector: {matchLabels: {app: b}}},"
					   "{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/24]}}]}]}")
		POL("shop", "w", "{podSelector: {matchLabels: {app: a}}, policyTypes: [Egress]}");
	char *texts[2];
	for (int k = 0; k < 2; k++) {
		char yaml[4096];
		snprintf(yaml, sizeof(yaml), "%s%s%s%s", NS("shop"), k ? p2 : pol, k ? pol : p1,
			 k ? p1 : p2);
		struct fixture f;
		struct rs_options opt = { 0 };
		build_opt(&f, yaml, &opt);
		texts[k] = emit_text(f.rs);
		done(&f);
	}
	assert_string_equal(texts[0], texts[1]);
	free(texts[0]);
	free(texts[1]);
}


/* The admin tiers: maps only when admin policies exist; elements only for the pods a tier's
 * policies select; tier chains shared by pods with the same policies; actions as verdicts. */
static void test_admin_tiers(void **state)
{
	struct fixture f;
	build(&f, NS_L("shop", "{team: a}") NS_L("lab", "{team: b}")
		  POD("shop", "a", "{app: a}", "n1", "[{ip: 10.1.0.2}, {ip: 'fd00::2'}]", NOPORTS)
		  POD("shop", "b", "{app: b}", "n1", "[{ip: 10.1.0.3}]", NOPORTS)
		  POD("lab", "c", "{app: c}", "n1", "[{ip: 10.1.0.4}]", NOPORTS));
	assert_null(ruleset_table_set(f.t, "aing4"));
	const size_t plain = chain(f.t, "ingress-fwd")->n_rules;
	done(&f);

	build(&f, NS_L("shop", "{team: a}") NS_L("lab", "{team: b}")
		  POD("shop", "a", "{app: a}", "n1", "[{ip: 10.1.0.2}, {ip: 'fd00::2'}]", NOPORTS)
		  POD("shop", "b", "{app: b}", "n1", "[{ip: 10.1.0.3}]", NOPORTS)
		  POD("lab", "c", "{app: c}", "n1", "[{ip: 10.1.0.4}]", NOPORTS)
		  "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n"
		  "metadata: {name: guard}\nspec: {tier: Admin, priority: 1, subject: {namespaces:"
		  " {matchLabels: {team: a}}}, ingress: [{action: Pass, from: [{namespaces: "
		  "{matchLabels: {team: b}}}]}, {action: Deny, from: [{namespaces: {}}]}]}\n---\n");
	/* shop's two pods share one tier chain; lab's pod has none */
	const struct rs_set *m = ruleset_table_set(f.t, "aing4");
	assert_non_null(m);
	assert_int_equal(m->n_elems, 2);
	assert_string_equal(m->elems[0].target, m->elems[1].target);
	assert_int_equal(ruleset_table_set(f.t, "aing6")->n_elems, 1);
	assert_int_equal(ruleset_table_set(f.t, "bing4")->n_elems, 0);
	assert_int_equal(ruleset_table_set(f.t, "aegr4")->n_elems, 0);
	/* base chain: as without admin policies, with the Admin vmaps before the NetworkPolicy
	 * ones and the Baseline vmaps after them */
	const struct rs_chain *base = chain(f.t, "ingress-fwd");
	assert_int_equal(base->n_rules, plain + 4);
	size_t k = plain - 2;
	assert_string_equal(base->rules[k].target, "aing4");
	assert_string_equal(base->rules[k + 2].target, "ing4");
	assert_string_equal(base->rules[k + 4].target, "bing4");
	/* tier chain: jump the policy, then hand over to NetworkPolicy */
	const struct rs_chain *tc = chain(f.t, m->elems[0].target);
	assert_int_equal(tc->n_rules, 2);
	assert_int_equal(tc->rules[0].verdict, RS_V_JUMP);
	assert_string_equal(tc->rules[0].target, "apol-CNP/guard-in");
	assert_int_equal(tc->rules[1].verdict, RS_V_GOTO);
	assert_string_equal(tc->rules[1].target, "tier-np-in");
	/* the policy chain: Pass = goto tier-np-in, Deny = goto the logged drop point, each
	 * counted per rule */
	const struct rs_chain *pc = chain(f.t, "apol-CNP/guard-in");
	assert_int_equal(pc->rules[0].verdict, RS_V_GOTO);
	assert_string_equal(pc->rules[0].target, "tier-np-in");
	assert_string_equal(pc->rules[0].counter, "cnt-CNP/guard-in-0");
	assert_int_equal(pc->rules[pc->n_rules - 1].verdict, RS_V_GOTO);
	assert_string_equal(pc->rules[pc->n_rules - 1].target, "tier-deny-in");
	assert_string_equal(pc->rules[pc->n_rules - 1].counter, "cnt-CNP/guard-in-1");
	const struct rs_chain *dc = chain(f.t, "tier-deny-in");
	assert_int_equal(dc->n_rules, 2);
	assert_true(dc->rules[0].log);
	assert_string_equal(dc->rules[0].log_prefix, "np:D:I:admin");
	assert_int_equal(dc->rules[1].verdict, RS_V_DROP);
	const struct rs_chain *np = chain(f.t, "tier-np-in");
	assert_int_equal(np->rules[np->n_rules - 1].verdict, RS_V_ACCEPT);
	done(&f);
	(void)state;
}

/* The drop point of a pod chain: the logged drop, or under audit (every isolating policy
 * annotated, or the node's --audit) the logged accept; the prefix names the pod by its id. */
static void test_audit_log_points(void **state)
{
	struct fixture f;
	struct rs_options opt = { .no_spoof_table = true };
	build_opt(&f, NS("shop") POD("shop", "a", "{app: a}", "n1", "[{ip: 10.1.0.2}]", NOPORTS)
			      POD("shop", "b", "{app: b}", "n1", "[{ip: 10.1.0.3}]", NOPORTS)
			      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: au, "
			      "namespace: shop, annotations: {netpol.io/audit: 'true'}}\nspec: "
			      "{podSelector: {}, policyTypes: [Ingress]}\n---\n"
			      POL("shop", "p", "{podSelector: {matchLabels: {app: b}}, policyTypes: [Ingress]}"),
		  &opt);
	char id[RS_LOG_ID_LEN + 1], want[RS_LOG_PREFIX_MAX];
	struct rs_log_point lp;
	const struct rs_chain *a = chain(f.t, "ing-shop/a");
	const struct rs_rule *log = &a->rules[a->n_rules - 2];
	rs_log_pod_id("shop", "a", id);
	snprintf(want, sizeof(want), "np:U:I:%s", id);
	assert_true(log->log);
	assert_true(log->anon_counter);
	assert_string_equal(log->log_prefix, want);
	assert_int_equal(log->log_group, RS_LOG_GROUP_DEFAULT);
	assert_int_equal(a->rules[a->n_rules - 1].verdict, RS_V_ACCEPT);
	assert_int_equal(rs_log_prefix_parse(log->log_prefix, &lp), 0);
	assert_true(lp.audit && lp.ingress && !lp.admin);
	assert_string_equal(lp.id, id);
	/* b: isolated by the audited policy and by p: the drop stays */
	const struct rs_chain *b = chain(f.t, "ing-shop/b");
	assert_int_equal(b->rules[b->n_rules - 1].verdict, RS_V_DROP);
	assert_int_equal(rs_log_prefix_parse(b->rules[b->n_rules - 2].log_prefix, &lp), 0);
	assert_false(lp.audit);
	done(&f);
	/* the node audits, and logs to another group */
	opt.audit = true;
	opt.log_group = 7;
	build_opt(&f, NS("shop") POD("shop", "b", "{app: b}", "n1", "[{ip: 10.1.0.3}]", NOPORTS)
			      POL("shop", "p", "{podSelector: {}, policyTypes: [Ingress]}"), &opt);
	b = chain(f.t, "ing-shop/b");
	assert_int_equal(b->rules[b->n_rules - 1].verdict, RS_V_ACCEPT);
	assert_int_equal(b->rules[b->n_rules - 2].log_group, 7);
	done(&f);
	assert_int_equal(rs_log_prefix_parse("np:D:E:admin", &lp), 0);
	assert_true(lp.admin && !lp.ingress && !lp.audit);
	assert_int_equal(rs_log_prefix_parse("np-drop in x/a ", &lp), -EINVAL);
	assert_int_equal(rs_log_prefix_parse("np:D:I:0123", &lp), -EINVAL);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admin_tiers),
		cmocka_unit_test(test_dispatch_and_chains),
		cmocka_unit_test(test_rule_comments),
		cmocka_unit_test(test_ipblock_normalized),
		cmocka_unit_test(test_port_sets),
		cmocka_unit_test(test_named_ingress),
		cmocka_unit_test(test_named_egress),
		cmocka_unit_test(test_dual_stack_closed),
		cmocka_unit_test(test_policy_types),
		cmocka_unit_test(test_peer_sets),
		cmocka_unit_test(test_node_local),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_audit_log_points),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
