/* test_eval.c — the evaluator (rules/eval.c) on small inline inventories: each test states a
 * NetworkPolicy v1 rule and checks flows on both sides of its edge. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "eval.h"
#include "model.h"

/* Two namespaces ("y" is quoted: YAML 1.1, as Kubernetes reads it, makes a bare y a boolean);
 * x/a and x/b dual-stack, y/a IPv4 only, y/h host-network.
 * Named ports: x/a http=8080/TCP and dns=53/UDP; x/b http=9090/TCP; y/a http=8080/UDP. */
#define BASE                                                                                     \
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {team: red}}\n---\n"       \
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: 'y', labels: {team: blue}}\n---\n"      \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x, labels: {app: a}}\n"      \
	"spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080},"              \
	" {name: dns, containerPort: 53, protocol: UDP}]}]}\n"                                   \
	"status: {podIPs: [{ip: 10.0.0.1}, {ip: 'fd00::1'}]}\n---\n"                             \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: x, labels: {app: b}}\n"      \
	"spec: {containers: [{name: c, ports: [{name: http, containerPort: 9090}]}]}\n"          \
	"status: {podIPs: [{ip: 10.0.0.2}, {ip: 'fd00::2'}]}\n---\n"                             \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: 'y', labels: {app: a}}\n"      \
	"spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080,"               \
	" protocol: UDP}]}]}\n"                                                                  \
	"status: {podIPs: [{ip: 10.0.1.1}]}\n---\n"                                              \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: h, namespace: 'y', labels: {app: h}}\n"      \
	"spec: {hostNetwork: true, containers: [{name: c}]}\n"                                   \
	"status: {podIPs: [{ip: 192.168.0.1}]}\n---\n"

#define POLICY(ns, name, spec)                                                                  \
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: " name            \
	", namespace: " ns "}\nspec: " spec "\n---\n"

struct fixture {
	struct np_inventory *inv;
	struct np_eval *ev;
};

static struct fixture load(const char *yaml)
{
	struct fixture fx;
	struct np_diags d;
	char buf[512];

	np_diags_init(&d);
	fx.inv = np_inventory_new();
	assert_non_null(fx.inv);
	assert_int_equal(np_inventory_load_buffer(fx.inv, "test.yaml", yaml, strlen(yaml), 1, &d), 0);
	np_inventory_finish(fx.inv, &d);
	np_diags_locate(&d);
	for (size_t i = 0; i < d.n; i++)
		if (d.v[i].sev == NP_SEV_ERROR) {
			np_diag_format(&d.v[i], buf, sizeof(buf));
			print_error("%s\n", buf);
		}
	assert_int_equal(d.errors, 0);
	np_diags_free(&d);
	fx.ev = np_eval_new(fx.inv);
	assert_non_null(fx.ev);
	return fx;
}

static void unload(struct fixture *fx)
{
	np_eval_free(fx->ev);
	np_inventory_free(fx->inv);
}

/* "ns/pod" or an address. */
static void endpoint(const struct fixture *fx, const char *s, int family, struct np_endpoint *ep)
{
	struct np_addr a;
	if (np_addr_parse(s, &a) == 0) {
		assert_int_equal(a.family, family);
		assert_int_equal(np_endpoint_addr(fx->inv, &a, ep), 0);
		return;
	}
	char ns[64];
	const char *slash = strchr(s, '/');
	assert_non_null(slash);
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - s), s);
	const struct np_pod *pod = np_inventory_pod(fx->inv, ns, slash + 1);
	assert_non_null(pod);
	assert_int_equal(np_endpoint_pod(pod, family, ep), 0);
}

static struct np_flow flow(const struct fixture *fx, const char *from, const char *to,
			   enum np_proto proto, uint16_t port, int family)
{
	struct np_flow f = { .proto = proto, .port = port };
	endpoint(fx, from, family, &f.src);
	endpoint(fx, to, family, &f.dst);
	return f;
}

/* The explained verdict of a flow (release with np_verdict_clear). */
static void explain(const struct fixture *fx, const char *from, const char *to,
		    enum np_proto proto, uint16_t port, int family, struct np_verdict *v)
{
	struct np_flow f = flow(fx, from, to, proto, port, family);
	assert_int_equal(np_eval_explain(fx->ev, &f, v), 0);
}

/* The verdict, checked to agree between the allocation-free and the explaining paths. */
static bool allowed(const struct fixture *fx, const char *from, const char *to,
		    enum np_proto proto, uint16_t port, int family)
{
	struct np_flow f = flow(fx, from, to, proto, port, family);
	struct np_verdict v;
	assert_int_equal(np_eval_explain(fx->ev, &f, &v), 0);
	bool fast = np_eval_allowed(fx->ev, &f);
	assert_int_equal(fast, v.allowed);
	np_verdict_clear(&v);
	return fast;
}

#define TCP NP_PROTO_TCP
#define UDP NP_PROTO_UDP
#define SCTP NP_PROTO_SCTP

static void test_no_policy_allows_everything(void **state)
{
	struct fixture fx = load(BASE);
	assert_true(allowed(&fx, "x/a", "x/b", TCP, 80, 4));
	assert_true(allowed(&fx, "x/b", "y/a", SCTP, 1, 4));
	assert_true(allowed(&fx, "x/a", "x/b", UDP, 53, 6));
	assert_true(allowed(&fx, "203.0.113.9", "x/a", TCP, 80, 4));
	unload(&fx);
}

static void test_default_deny_ingress(void **state)
{
	struct fixture fx = load(BASE POLICY("x", "deny", "{podSelector: {}, policyTypes: [Ingress]}"));
	assert_false(allowed(&fx, "x/b", "x/a", TCP, 80, 4));
	assert_false(allowed(&fx, "y/a", "x/a", TCP, 80, 4));
	assert_false(allowed(&fx, "203.0.113.9", "x/b", UDP, 53, 4));
	assert_false(allowed(&fx, "x/b", "x/a", TCP, 80, 6));
	/* Egress from the isolated namespace and traffic elsewhere are untouched. */
	assert_true(allowed(&fx, "x/a", "y/a", TCP, 80, 4));
	assert_true(allowed(&fx, "x/a", "203.0.113.9", TCP, 443, 4));
	/* A pod reaching itself is always allowed. */
	assert_true(allowed(&fx, "x/a", "x/a", TCP, 80, 4));

	struct np_verdict v;
	explain(&fx, "x/b", "x/a", TCP, 80, 4, &v);
	assert_false(v.allowed);
	assert_true(v.egress.allowed);
	assert_int_equal(v.egress.why, NP_WHY_NOT_ISOLATED);
	assert_false(v.ingress.allowed);
	assert_true(v.ingress.isolated);
	assert_int_equal(v.ingress.why, NP_WHY_NO_RULE);
	assert_int_equal(v.ingress.n_isolating, 1);
	assert_string_equal(v.ingress.isolating[0]->name, "deny");
	assert_null(v.ingress.policy);
	np_verdict_clear(&v);

	explain(&fx, "x/a", "x/a", TCP, 80, 4, &v);
	assert_true(v.allowed);
	assert_int_equal(v.ingress.why, NP_WHY_LOOPBACK);
	np_verdict_clear(&v);
	unload(&fx);
}

static void test_both_sides_must_allow(void **state)
{
	/* x/a may only send to team=blue namespaces; y/a admits only app=b pods of team=red. */
	struct fixture fx = load(BASE
		POLICY("x", "out", "{podSelector: {matchLabels: {app: a}}, policyTypes: [Egress],"
				   " egress: [{to: [{namespaceSelector: {matchLabels: {team: blue}}}]}]}")
		POLICY("'y'", "in", "{podSelector: {matchLabels: {app: a}}, policyTypes: [Ingress],"
				  " ingress: [{from: [{namespaceSelector: {matchLabels: {team: red}},"
				  " podSelector: {matchLabels: {app: b}}}]}]}"));
	assert_false(allowed(&fx, "x/a", "y/a", TCP, 80, 4)); /* egress ok, ingress not */
	assert_true(allowed(&fx, "x/b", "y/a", TCP, 80, 4));
	assert_false(allowed(&fx, "x/a", "x/b", TCP, 80, 4)); /* egress not */

	struct np_verdict v;
	explain(&fx, "x/a", "y/a", TCP, 80, 4, &v);
	assert_true(v.egress.allowed);
	assert_int_equal(v.egress.why, NP_WHY_RULE);
	assert_string_equal(v.egress.policy->name, "out");
	assert_int_equal(v.egress.rule, 0);
	assert_int_equal(v.egress.peer, 0);
	assert_true(v.egress.port == NP_EVAL_ALL);
	assert_false(v.ingress.allowed);
	assert_string_equal(v.ingress.isolating[0]->name, "in");
	np_verdict_clear(&v);
	unload(&fx);
}

static void test_policytypes_inferred(void **state)
{
	/* No policyTypes and only an egress section: Ingress is still inferred (and has no rule),
	 * Egress is inferred from the section. */
	struct fixture fx = load(BASE POLICY("x", "p", "{podSelector: {matchLabels: {app: a}},"
						  " egress: [{ports: [{port: 53, protocol: UDP}]}]}"));
	assert_int_equal(fx.inv->n_pols, 1);
	assert_true(fx.inv->pols[0].ingress);
	assert_true(fx.inv->pols[0].egress);
	assert_false(allowed(&fx, "x/b", "x/a", TCP, 8080, 4));
	assert_true(allowed(&fx, "x/a", "y/a", UDP, 53, 4));
	assert_false(allowed(&fx, "x/a", "y/a", UDP, 54, 4));
	unload(&fx);

	/* Ingress section only: egress is not isolated. */
	fx = load(BASE POLICY("x", "p", "{podSelector: {}, ingress: [{}]}"));
	assert_false(fx.inv->pols[0].egress);
	assert_true(allowed(&fx, "x/a", "203.0.113.1", TCP, 1, 4));
	assert_true(allowed(&fx, "y/a", "x/a", TCP, 1, 4)); /* ingress: [{}] admits all */
	unload(&fx);
}

static void test_ports_and_endport(void **state)
{
	struct fixture fx = load(BASE POLICY("x", "p", "{podSelector: {}, policyTypes: [Ingress],"
		" ingress: [{ports: [{port: 81, endPort: 85}, {protocol: UDP}, {port: 7, protocol: SCTP}]}]}"));
	assert_false(allowed(&fx, "y/a", "x/a", TCP, 80, 4));
	assert_true(allowed(&fx, "y/a", "x/a", TCP, 81, 4));
	assert_true(allowed(&fx, "y/a", "x/a", TCP, 85, 4));
	assert_false(allowed(&fx, "y/a", "x/a", TCP, 86, 4));
	/* Protocol only: every UDP port, and only UDP. */
	assert_true(allowed(&fx, "y/a", "x/a", UDP, 1, 4));
	assert_true(allowed(&fx, "y/a", "x/a", UDP, 65535, 4));
	assert_true(allowed(&fx, "y/a", "x/a", SCTP, 7, 4));
	assert_false(allowed(&fx, "y/a", "x/a", SCTP, 81, 4)); /* the TCP range is TCP only */

	struct np_verdict v;
	explain(&fx, "y/a", "x/b", UDP, 9, 4, &v);
	assert_true(v.allowed);
	assert_true(v.ingress.peer == NP_EVAL_ALL);
	assert_int_equal(v.ingress.port, 1);
	np_verdict_clear(&v);
	unload(&fx);
}

static void test_named_ports(void **state)
{
	/* Ingress: "http" resolves on the selected (destination) pod: 8080 on x/a, 9090 on x/b. */
	struct fixture fx = load(BASE POLICY("x", "p", "{podSelector: {}, policyTypes: [Ingress],"
					      " ingress: [{ports: [{port: http}]}]}"));
	assert_true(allowed(&fx, "y/a", "x/a", TCP, 8080, 4));
	assert_false(allowed(&fx, "y/a", "x/a", TCP, 9090, 4));
	assert_true(allowed(&fx, "y/a", "x/b", TCP, 9090, 4));
	assert_false(allowed(&fx, "y/a", "x/b", TCP, 8080, 4));
	assert_false(allowed(&fx, "y/a", "x/a", UDP, 8080, 4)); /* the entry's protocol is TCP */
	unload(&fx);

	/* Egress: the name resolves on the peer (destination) pod, by name AND protocol. y/a's
	 * "http" is UDP, so a TCP "http" entry does not reach it; a bare address has no names. */
	fx = load(BASE POLICY("x", "p", "{podSelector: {matchLabels: {app: b}}, policyTypes: [Egress],"
				 " egress: [{ports: [{port: http}, {port: dns, protocol: UDP}]}]}"));
	assert_true(allowed(&fx, "x/b", "x/a", TCP, 8080, 4));
	assert_false(allowed(&fx, "x/b", "y/a", TCP, 8080, 4));
	assert_false(allowed(&fx, "x/b", "y/a", UDP, 8080, 4));
	assert_true(allowed(&fx, "x/b", "x/a", UDP, 53, 6));
	assert_false(allowed(&fx, "x/b", "203.0.113.5", TCP, 8080, 4));
	assert_false(allowed(&fx, "x/b", "203.0.113.5", UDP, 53, 4));
	unload(&fx);
}

static void test_ipblock(void **state)
{
	struct fixture fx = load(BASE POLICY("x", "p", "{podSelector: {matchLabels: {app: a}},"
		" policyTypes: [Ingress, Egress],"
		" ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24]}},"
		"                   {ipBlock: {cidr: 'fd00::/120'}}]}],"
		" egress: [{to: [{ipBlock: {cidr: 198.51.100.0/24, except: [198.51.100.128/25]}}]}]}"));
	/* Pod sources are matched by address. */
	assert_true(allowed(&fx, "x/b", "x/a", TCP, 80, 4));
	assert_false(allowed(&fx, "y/a", "x/a", TCP, 80, 4)); /* 10.0.1.1: in except */
	assert_true(allowed(&fx, "10.0.200.7", "x/a", TCP, 80, 4));
	assert_false(allowed(&fx, "10.1.0.1", "x/a", TCP, 80, 4));
	/* The IPv6 block admits x/b over IPv6; bare addresses by the block. */
	assert_true(allowed(&fx, "x/b", "x/a", TCP, 80, 6));
	assert_true(allowed(&fx, "fd00::ff", "x/a", TCP, 80, 6));
	assert_false(allowed(&fx, "fd00::100", "x/a", TCP, 80, 6));
	/* Egress: except punches a hole; a pod outside the block is not reachable. */
	assert_true(allowed(&fx, "x/a", "198.51.100.127", UDP, 53, 4));
	assert_false(allowed(&fx, "x/a", "198.51.100.128", UDP, 53, 4));
	assert_false(allowed(&fx, "x/a", "x/b", TCP, 80, 4));
	assert_false(allowed(&fx, "x/a", "fd00::2", TCP, 80, 6));
	unload(&fx);
}

static void test_dual_stack_ipv4_only_block(void **state)
{
	/* Only an IPv4 block: x/a is isolated in both families, and over IPv6 nothing matches. */
	struct fixture fx = load(BASE POLICY("x", "p", "{podSelector: {matchLabels: {app: a}},"
		" policyTypes: [Ingress], ingress: [{from: [{ipBlock: {cidr: 10.0.0.2/32}}]}]}"));
	assert_true(allowed(&fx, "x/b", "x/a", TCP, 80, 4));
	assert_false(allowed(&fx, "x/b", "x/a", TCP, 80, 6));
	assert_false(allowed(&fx, "fd00::2", "x/a", TCP, 80, 6));
	unload(&fx);
}

static void test_host_network(void **state)
{
	/* An empty podSelector selects every pod of y except the host-network one; selectors never
	 * select it as a peer either, but an ipBlock matches its (the node's) address. */
	struct fixture fx = load(BASE
		POLICY("'y'", "deny-all", "{podSelector: {}, policyTypes: [Ingress, Egress]}")
		POLICY("x", "from-y", "{podSelector: {matchLabels: {app: a}}, policyTypes: [Ingress],"
				      " ingress: [{from: [{namespaceSelector: {matchLabels: {team: blue}}}]}]}")
		POLICY("x", "from-node", "{podSelector: {matchLabels: {app: b}}, policyTypes: [Ingress],"
					 " ingress: [{from: [{ipBlock: {cidr: 192.168.0.0/24}}]}]}"));
	assert_true(allowed(&fx, "x/a", "y/h", TCP, 22, 4));
	assert_true(allowed(&fx, "y/h", "203.0.113.1", TCP, 22, 4));
	assert_false(allowed(&fx, "x/a", "y/a", TCP, 22, 4));
	assert_false(allowed(&fx, "y/h", "x/a", TCP, 80, 4));
	assert_true(allowed(&fx, "y/h", "x/b", TCP, 80, 4));

	struct np_verdict v;
	explain(&fx, "x/a", "y/h", TCP, 22, 4, &v);
	assert_int_equal(v.ingress.why, NP_WHY_HOST_NETWORK);
	assert_false(v.ingress.isolated);
	np_verdict_clear(&v);

	/* The node's address is not mapped to the host-network pod. */
	struct np_addr a;
	struct np_endpoint ep;
	assert_int_equal(np_addr_parse("192.168.0.1", &a), 0);
	assert_int_equal(np_endpoint_addr(fx.inv, &a, &ep), 0);
	assert_null(ep.pod);
	unload(&fx);
}

static void test_host_network_named_port(void **state)
{
	/* A host-network pod's named ports are the node's ports: an egress rule by name reaches
	 * it no more when it is named as a pod than when it is given by its (the node's) address,
	 * as the ruleset's named-port sets leave host-network pods out. */
	struct fixture fx = load(BASE
		"apiVersion: v1\nkind: Pod\nmetadata: {name: g, namespace: 'y', labels: {app: g}}\n"
		"spec: {hostNetwork: true, containers: [{name: c, ports: [{name: http,"
		" containerPort: 8080}]}]}\nstatus: {podIPs: [{ip: 192.168.0.2}]}\n---\n"
		POLICY("x", "p", "{podSelector: {matchLabels: {app: b}}, policyTypes: [Egress],"
				 " egress: [{ports: [{port: http}]}]}"));
	assert_true(allowed(&fx, "x/b", "x/a", TCP, 8080, 4)); /* a pod network pod's "http" */
	assert_false(allowed(&fx, "x/b", "192.168.0.2", TCP, 8080, 4));
	assert_false(allowed(&fx, "x/b", "y/g", TCP, 8080, 4));
	unload(&fx);
}

/* Two nodes; x/a and the host-network pod x/h1 on n1 (x/h2 on n2 where a test adds it). */
#define TWO_NODES                                                                              \
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n"                             \
	"apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n"                                      \
	"status: {addresses: [{type: InternalIP, address: 192.168.0.10}]}\n---\n"                  \
	"apiVersion: v1\nkind: Node\nmetadata: {name: n2}\n"                                      \
	"status: {addresses: [{type: InternalIP, address: 192.168.0.11}]}\n---\n"                  \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\n"                          \
	"spec: {nodeName: n1}\nstatus: {podIPs: [{ip: 10.0.0.1}]}\n---\n"                         \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: h1, namespace: x}\n"                         \
	"spec: {nodeName: n1, hostNetwork: true}\nstatus: {podIPs: [{ip: 192.168.0.10}]}\n---\n"

static void test_from_own_node(void **state)
{
	/* Ingress from the pod's own node is never filtered (the kernel sees it on the output
	 * path): the node's InternalIP and a host-network pod on it. Another node is filtered. */
	struct fixture fx = load(
		TWO_NODES
		"apiVersion: v1\nkind: Pod\nmetadata: {name: h2, namespace: x}\n"
		"spec: {nodeName: n2, hostNetwork: true}\nstatus: {podIPs: [{ip: 192.168.0.11}]}\n---\n"
		POLICY("x", "deny", "{podSelector: {}, policyTypes: [Ingress]}"));
	assert_true(allowed(&fx, "192.168.0.10", "x/a", TCP, 80, 4));
	assert_true(allowed(&fx, "x/h1", "x/a", TCP, 80, 4));
	assert_false(allowed(&fx, "192.168.0.11", "x/a", TCP, 80, 4));
	assert_false(allowed(&fx, "x/h2", "x/a", TCP, 80, 4));
	assert_false(allowed(&fx, "192.168.0.12", "x/a", TCP, 80, 4));

	struct np_verdict v;
	explain(&fx, "192.168.0.10", "x/a", TCP, 80, 4, &v);
	assert_int_equal(v.ingress.why, NP_WHY_FROM_NODE);
	assert_true(v.ingress.allowed);
	np_verdict_clear(&v);
	unload(&fx);
}

static void test_to_own_node(void **state)
{
	/* Egress to the pod's own node is never filtered either ("traffic to and from the node
	 * where a Pod is running is always allowed"); to another node it is. */
	struct fixture fx = load(
		TWO_NODES
		POLICY("x", "deny", "{podSelector: {}, policyTypes: [Egress]}"));
	assert_true(allowed(&fx, "x/a", "192.168.0.10", UDP, 53, 4));
	assert_true(allowed(&fx, "x/a", "x/h1", TCP, 10250, 4));
	assert_false(allowed(&fx, "x/a", "192.168.0.11", UDP, 53, 4));

	struct np_verdict v;
	explain(&fx, "x/a", "192.168.0.10", UDP, 53, 4, &v);
	assert_int_equal(v.egress.why, NP_WHY_FROM_NODE);
	assert_true(v.egress.allowed);
	np_verdict_clear(&v);
	unload(&fx);
}

static void test_union_of_policies(void **state)
{
	struct fixture fx = load(BASE
		POLICY("x", "p1", "{podSelector: {matchLabels: {app: a}}, policyTypes: [Ingress],"
				  " ingress: [{from: [{podSelector: {matchLabels: {app: nope}}}]}]}")
		POLICY("x", "p2", "{podSelector: {matchExpressions: [{key: app, operator: In, values: [a, b]}]},"
				  " policyTypes: [Ingress],"
				  " ingress: [{ports: [{port: 1}]}, {from: [{podSelector: {}},"
				  " {namespaceSelector: {matchExpressions: [{key: team, operator: NotIn,"
				  " values: [red]}]}}], ports: [{port: 2}, {port: 80}]}]}"));
	assert_true(allowed(&fx, "y/a", "x/a", TCP, 80, 4));
	assert_true(allowed(&fx, "x/b", "x/a", TCP, 80, 4));
	assert_false(allowed(&fx, "y/a", "x/a", TCP, 81, 4));

	struct np_verdict v;
	explain(&fx, "y/a", "x/a", TCP, 80, 4, &v);
	assert_int_equal(v.ingress.n_isolating, 2);
	assert_string_equal(v.ingress.isolating[0]->name, "p1");
	assert_string_equal(v.ingress.isolating[1]->name, "p2");
	assert_string_equal(v.ingress.policy->name, "p2");
	assert_int_equal(v.ingress.rule, 1);
	assert_int_equal(v.ingress.peer, 1);
	assert_int_equal(v.ingress.port, 1);
	np_verdict_clear(&v);
	unload(&fx);
}

static void test_endpoints(void **state)
{
	struct fixture fx = load(BASE);
	const struct np_pod *ya = np_inventory_pod(fx.inv, "y", "a");
	struct np_endpoint ep;
	assert_non_null(ya);
	assert_int_equal(np_endpoint_pod(ya, 6, &ep), -EADDRNOTAVAIL);
	assert_int_equal(np_endpoint_pod(ya, 4, &ep), 0);
	assert_ptr_equal(ep.pod, ya);

	struct np_addr a;
	assert_int_equal(np_addr_parse("fd00::2", &a), 0);
	assert_int_equal(np_endpoint_addr(fx.inv, &a, &ep), 0);
	assert_non_null(ep.pod);
	assert_string_equal(ep.pod->name, "b");

	/* Mixed families are not a flow. */
	struct np_flow f = flow(&fx, "x/a", "x/b", TCP, 80, 4);
	assert_int_equal(np_endpoint_pod(f.dst.pod, 6, &f.dst), 0);
	struct np_verdict v;
	assert_int_equal(np_eval_explain(fx.ev, &f, &v), -EINVAL);
	assert_false(np_eval_allowed(fx.ev, &f));
	unload(&fx);
}


/* ---- cluster admin tiers ---- */

#define CNP(name, tier, prio, subject, rules)                                                   \
	"apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n"            \
	"metadata: {name: " name "}\nspec: {tier: " tier ", priority: " prio ", subject: "      \
	subject ", " rules "}\n---\n"
#define DENY_ALL_IN_X POLICY("x", "deny-in", "{podSelector: {}, policyTypes: [Ingress]}")

static void test_admin_accept_skips_networkpolicy(void **state)
{
	struct fixture fx = load(BASE DENY_ALL_IN_X CNP(
		"ok-y", "Admin", "5", "{namespaces: {matchLabels: {team: red}}}",
		"ingress: [{action: Accept, from: [{namespaces: {matchLabels: {team: blue}}}]}]"));
	struct np_verdict v;
	explain(&fx, "y/a", "x/a", NP_PROTO_TCP, 80, 4, &v);
	assert_true(v.allowed);
	assert_int_equal(v.ingress.why, NP_WHY_ADMIN);
	assert_string_equal(v.ingress.admin->name, "ok-y");
	np_verdict_clear(&v);
	/* x/b -> x/a matches no Admin rule: the NetworkPolicy denies */
	explain(&fx, "x/b", "x/a", NP_PROTO_TCP, 80, 4, &v);
	assert_false(v.allowed);
	assert_int_equal(v.ingress.why, NP_WHY_NO_RULE);
	np_verdict_clear(&v);
	unload(&fx);
	(void)state;
}

static void test_admin_pass_goes_to_networkpolicy(void **state)
{
	struct fixture fx = load(BASE DENY_ALL_IN_X CNP(
		"pass-y", "Admin", "5", "{namespaces: {}}",
		"ingress: [{action: Pass, from: [{namespaces: {matchLabels: {team: blue}}}]}]")
		CNP("deny-y", "Admin", "6", "{namespaces: {}}",
		    "ingress: [{action: Deny, from: [{namespaces: {}}]}]")
		CNP("accept-all", "Baseline", "0", "{namespaces: {}}",
		    "ingress: [{action: Accept, from: [{namespaces: {}}]}]"));
	struct np_verdict v;
	/* Pass at 5 skips the Deny at 6; x is isolated by NetworkPolicy, which denies, and the
	 * Baseline Accept is never reached */
	explain(&fx, "y/a", "x/a", NP_PROTO_TCP, 80, 4, &v);
	assert_false(v.allowed);
	assert_int_equal(v.ingress.why, NP_WHY_NO_RULE);
	assert_non_null(v.ingress.pass_admin);
	assert_string_equal(v.ingress.pass_admin->name, "pass-y");
	np_verdict_clear(&v);
	/* x/b -> y/a: no Pass for x's pods, so the Deny at 6 decides */
	explain(&fx, "x/b", "y/a", NP_PROTO_TCP, 80, 4, &v);
	assert_false(v.allowed);
	assert_int_equal(v.ingress.why, NP_WHY_ADMIN);
	assert_string_equal(v.ingress.admin->name, "deny-y");
	np_verdict_clear(&v);
	unload(&fx);
	(void)state;
}

static void test_admin_egress_accept_keeps_ingress(void **state)
{
	struct fixture fx = load(BASE DENY_ALL_IN_X CNP(
		"out-ok", "Admin", "1", "{namespaces: {}}",
		"egress: [{action: Accept, to: [{networks: ['10.0.0.0/8', 'fd00::/64']}]}]"));
	struct np_flow f = flow(&fx, "y/a", "x/b", NP_PROTO_TCP, 80, 4);
	/* egress accepted at y/a, ingress still denied at x/b by its NetworkPolicy */
	assert_false(np_eval_allowed(fx.ev, &f));
	f = flow(&fx, "x/a", "y/a", NP_PROTO_TCP, 80, 4);
	assert_true(np_eval_allowed(fx.ev, &f));
	unload(&fx);
	(void)state;
}

static void test_anp_named_port_any_protocol(void **state)
{
	struct fixture fx = load(BASE
		"apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n"
		"metadata: {name: dns-only}\nspec: {priority: 3, subject: {namespaces: {}},"
		" egress: [{action: Allow, to: [{namespaces: {}}], ports: [{namedPort: dns}]},"
		" {action: Deny, to: [{namespaces: {}}]}]}\n---\n");
	/* x/a's container port "dns" is UDP 53: the protocol-less named port matches it */
	struct np_flow f = flow(&fx, "x/b", "x/a", NP_PROTO_UDP, 53, 4);
	assert_true(np_eval_allowed(fx.ev, &f));
	f = flow(&fx, "x/b", "x/a", NP_PROTO_TCP, 53, 4);
	assert_false(np_eval_allowed(fx.ev, &f));
	unload(&fx);
	(void)state;
}

#define AUDITED(ns, name, spec)                                                                 \
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: " name           \
	", namespace: " ns ", annotations: {netpol.io/audit: 'true'}}\nspec: " spec "\n---\n"

/* Audit mode: a drop decided only by audited policies passes, marked audit; an enforcing
 * policy isolating the same side keeps the drop; an audited admin Deny passes; the node's
 * audit makes every drop pass. */
static void test_audit(void **state)
{
	struct fixture fx = load(BASE AUDITED("x", "only-b", "{podSelector: {matchLabels: {app: a}}, "
					      "ingress: [{from: [{podSelector: {matchLabels: {app: b}}}]}]}")
		CNP("no-y", "Admin", "5", "{namespaces: {matchLabels: {team: red}}}",
		    "ingress: [{action: Deny, from: [{namespaces: {matchLabels: {team: blue}}}]}]"));
	struct np_verdict v;
	/* y/a -> x/a: the Admin Deny decides; not audited: dropped */
	explain(&fx, "y/a", "x/a", TCP, 80, 4, &v);
	assert_false(v.allowed);
	assert_false(v.ingress.audit);
	np_verdict_clear(&v);
	/* x/b -> x/a: only-b's rule allows it, as without audit */
	explain(&fx, "x/b", "x/a", TCP, 80, 4, &v);
	assert_true(v.allowed);
	assert_false(v.ingress.audit);
	assert_int_equal(v.ingress.why, NP_WHY_RULE);
	np_verdict_clear(&v);
	/* 203.0.113.9 -> x/a: no rule; only-b is audited: passes, would drop */
	explain(&fx, "203.0.113.9", "x/a", TCP, 80, 4, &v);
	assert_true(v.allowed);
	assert_true(v.ingress.audit);
	assert_int_equal(v.ingress.why, NP_WHY_NO_RULE);
	assert_int_equal(v.ingress.n_isolating, 1);
	np_verdict_clear(&v);
	assert_true(allowed(&fx, "203.0.113.9", "x/a", TCP, 80, 4));
	unload(&fx);

	/* an enforcing policy isolating x/a too: the drop stays */
	fx = load(BASE AUDITED("x", "only-b", "{podSelector: {matchLabels: {app: a}}, "
				"ingress: [{from: [{podSelector: {matchLabels: {app: b}}}]}]}") DENY_ALL_IN_X
		  CNP("no-y", "Admin", "5", "{namespaces: {matchLabels: {team: red}}}",
		      "ingress: [{action: Deny, from: [{namespaces: {matchLabels: {team: blue}}}]}]"));
	assert_false(allowed(&fx, "203.0.113.9", "x/a", TCP, 80, 4));
	assert_true(allowed(&fx, "x/b", "x/a", TCP, 80, 4));
	/* the node audits: every drop passes, the Admin Deny's too */
	np_eval_set_audit(fx.ev, true);
	explain(&fx, "y/a", "x/a", TCP, 80, 4, &v);
	assert_true(v.allowed);
	assert_true(v.ingress.audit);
	assert_int_equal(v.ingress.why, NP_WHY_ADMIN);
	np_verdict_clear(&v);
	assert_true(allowed(&fx, "203.0.113.9", "x/a", TCP, 80, 4));
	unload(&fx);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_policy_allows_everything),
		cmocka_unit_test(test_default_deny_ingress),
		cmocka_unit_test(test_both_sides_must_allow),
		cmocka_unit_test(test_policytypes_inferred),
		cmocka_unit_test(test_ports_and_endport),
		cmocka_unit_test(test_named_ports),
		cmocka_unit_test(test_ipblock),
		cmocka_unit_test(test_dual_stack_ipv4_only_block),
		cmocka_unit_test(test_host_network),
		cmocka_unit_test(test_host_network_named_port),
		cmocka_unit_test(test_from_own_node),
		cmocka_unit_test(test_to_own_node),
		cmocka_unit_test(test_union_of_policies),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_admin_accept_skips_networkpolicy),
		cmocka_unit_test(test_admin_pass_goes_to_networkpolicy),
		cmocka_unit_test(test_admin_egress_accept_keeps_ingress),
		cmocka_unit_test(test_anp_named_port_any_protocol),
		cmocka_unit_test(test_audit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
