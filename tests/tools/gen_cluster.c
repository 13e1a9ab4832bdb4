/* gen_cluster — writes a synthetic, deterministic Kubernetes cluster as `kubectl get -o json`
 * List files, for the compile and apply benchmarks.
 *
 *   gen_cluster OUTDIR [--pods 10000] [--namespaces 100] [--policies 1000] [--seed 1]
 *                      [--nodes 10] [--admin 0]
 *   --admin N adds N ClusterNetworkPolicies of 25 rules each (the v1alpha2 limit), 80 % in the
 *   Admin tier and 20 % in the Baseline tier, with namespace and pod subjects, pod, namespace
 *   and networks peers, Accept/Deny/Pass, numbered and ranged ports: admin-policies.json.
 *
 * OUTDIR (created if missing) gets namespaces.json, and per namespace NS pods-NS.json and
 * netpol-NS.json (one file per namespace so a benchmark can churn one namespace by rewriting
 * two files). Same arguments → byte-identical files.
 *
 * The mix is meant to cost what real clusters cost, not to be pretty: pods carry app/tier/
 * version/track labels and named container ports (the same name maps to different numbers
 * on different apps, so named ports resolve per pod); half of the namespaces are dual-stack;
 * a few pods use the host network. Policies cycle through ten shapes: default deny ingress,
 * podSelector peers, namespaceSelector AND podSelector on named ports, egress to ipBlock with
 * except plus DNS, matchExpressions (In, NotIn, Exists, DoesNotExist), endPort ranges from an
 * ipBlock, egress named ports to any namespace, UDP/SCTP in both directions, default deny
 * egress, and allow-all on protocol-only entries with an IPv6 ipBlock. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct gen {
	long pods, nss, pols, nodes, admins;
	uint64_t rng;
	const char *out;
};

/* splitmix64: tiny, seedable, same sequence on every platform */
static uint64_t rnd(struct gen *g)
{
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static long rndn(struct gen *g, long n)
{
	return (long)(rnd(g) % (uint64_t)n);
}

static const char *const apps[] = { "web", "api", "db", "cache", "queue", "auth", "search",
				    "billing", "report", "gateway", "monitoring", "dns",
				    "signal", "worker", "frontend", "backend" };
#define N_APPS (sizeof(apps) / sizeof(apps[0]))
static const char *const tiers[] = { "frontend", "backend", "data" };
static const char *const envs[] = { "prod", "staging", "dev" };

static void die(const char *what)
{
	fprintf(stderr, "gen_cluster: %s: %s\n", what, strerror(errno));
	exit(1);
}

static json_t *list_new(void)
{
	return json_pack("{s:s, s:[], s:s, s:{s:s}}", "apiVersion", "v1", "items", "kind", "List",
			 "metadata", "resourceVersion", "");
}

static void list_write(struct gen *g, json_t *list, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", g->out, name);
	if (json_dump_file(list, path, JSON_INDENT(4) | JSON_PRESERVE_ORDER) < 0)
		die(path);
	json_decref(list);
}

static json_t *meta(const char *ns, const char *name, long serial)
{
	char uid[40];
	snprintf(uid, sizeof(uid), "%08lx-0000-4000-8000-%012lx", serial, serial * 7919);
	json_t *m = json_pack("{s:s}", "name", name);
	if (ns)
		json_object_set_new(m, "namespace", json_string(ns));
	json_object_set_new(m, "uid", json_string(uid));
	json_object_set_new(m, "resourceVersion", json_sprintf("%ld", 1000 + serial));
	json_object_set_new(m, "creationTimestamp", json_string("2026-11-01T08:00:00Z"));
	return m;
}

static void ns_name(char *buf, size_t n, long i)
{
	snprintf(buf, n, "ns-%03ld", i);
}

static const char *ns_team(long i)
{
	static const char *const teams[] = { "team-a", "team-b", "team-c", "team-d", "team-e",
					     "team-f", "team-g", "team-h", "team-i", "team-j" };
	return teams[i % 10];
}

static void gen_namespaces(struct gen *g)
{
	json_t *list = list_new(), *items = json_object_get(list, "items");
	for (long i = 0; i < g->nss; i++) {
		char name[32];
		ns_name(name, sizeof(name), i);
		json_t *m = meta(NULL, name, i + 1);
		json_object_set_new(m, "labels",
				    json_pack("{s:s, s:s, s:s}", "kubernetes.io/metadata.name",
					      name, "team", ns_team(i), "env", envs[i % 3]));
		json_array_append_new(items, json_pack("{s:s, s:s, s:o, s:{s:[s]}, s:{s:s}}",
						       "apiVersion", "v1", "kind", "Namespace",
						       "metadata", m, "spec", "finalizers",
						       "kubernetes", "status", "phase", "Active"));
	}
	list_write(g, list, "namespaces.json");
}

static json_t *port(const char *name, int num, const char *proto)
{
	return json_pack("{s:i, s:s, s:s}", "containerPort", num, "name", name, "protocol", proto);
}

/* The ports of an app: "http" differs by app so a named port resolves per pod. */
static json_t *app_ports(size_t app)
{
	static const int http[] = { 8080, 8000, 80 };
	json_t *p = json_array();
	json_array_append_new(p, port("http", http[app % 3], "TCP"));
	json_array_append_new(p, port("metrics", 9090, "TCP"));
	if (!strcmp(apps[app], "dns")) {
		json_array_append_new(p, port("dns", 53, "UDP"));
		json_array_append_new(p, port("dns-tcp", 53, "TCP"));
	}
	if (app % 4 == 1)
		json_array_append_new(p, port("grpc", 50051, "TCP"));
	if (!strcmp(apps[app], "signal"))
		json_array_append_new(p, port("diameter", 3868, "SCTP"));
	if (app % 5 == 2)
		json_array_append_new(p, port("stats", 8125, "UDP"));
	return p;
}

static json_t *container(const char *name, const char *image, json_t *ports)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:{s:{s:s, s:s}}, s:s}", "name", name, "image",
			 image, "imagePullPolicy", "IfNotPresent", "ports", ports, "resources",
			 "requests", "cpu", "100m", "memory", "128Mi",
			 "terminationMessagePolicy", "File");
}

/* Pod addresses: node k owns 10.64.0.0/10 block k (size block4) and fd00:10:0:k::/64; c
 * counts the pods already placed on the node. */
static void gen_pods(struct gen *g)
{
	long per_node_max = g->pods / (g->nodes ? g->nodes : 1) * 2 + 16;
	long block4 = 256;
	while (block4 < per_node_max + 2)
		block4 *= 2;
	if (block4 * g->nodes > (1L << 22)) {
		fprintf(stderr, "gen_cluster: too many pods per node for 10.64.0.0/10\n");
		exit(1);
	}
	long *placed = calloc((size_t)g->nodes, sizeof(long));
	if (!placed)
		die("calloc");
	long serial = 10000;
	for (long n = 0; n < g->nss; n++) {
		char ns[32], file[64];
		ns_name(ns, sizeof(ns), n);
		long lo = g->pods * n / g->nss, hi = g->pods * (n + 1) / g->nss;
		bool dual = n % 2 == 0;
		json_t *list = list_new(), *items = json_object_get(list, "items");
		for (long p = lo; p < hi; p++) {
			size_t app = (size_t)rndn(g, N_APPS);
			long node = rndn(g, g->nodes);
			if (placed[node] >= per_node_max)
				node = p % g->nodes; /* keep the block from overflowing */
			long c = placed[node]++;
			bool host = p % 500 == 499; /* a few host-network pods (node agents) */
			char name[96], nodename[32], ip4[32], ip6[64], hash[16];
			snprintf(hash, sizeof(hash), "%05lx", (unsigned long)(rnd(g) & 0xfffff));
			snprintf(name, sizeof(name), "%s-%s-%ld", apps[app], hash, p - lo);
			snprintf(nodename, sizeof(nodename), "node-%02ld", node);
			if (host) {
				snprintf(ip4, sizeof(ip4), "192.168.%ld.%ld", node / 250, node % 250 + 2);
			} else {
				uint32_t a = (10u << 24) | (64u << 16);
				a += (uint32_t)(node * block4 + c + 2);
				snprintf(ip4, sizeof(ip4), "%u.%u.%u.%u", a >> 24, (a >> 16) & 255,
					 (a >> 8) & 255, a & 255);
			}
			snprintf(ip6, sizeof(ip6), "fd00:10:0:%lx::%lx", node, c + 2);

			json_t *m = meta(ns, name, ++serial);
			json_t *labels = json_pack("{s:s, s:s, s:s, s:s}", "app", apps[app], "tier",
						   tiers[app % 3], "version",
						   rndn(g, 4) ? "v1" : "v2", "pod-template-hash",
						   hash);
			if (rndn(g, 10) == 0)
				json_object_set_new(labels, "track", json_string("canary"));
			if (app % 2)
				json_object_set_new(labels, "team", json_string(ns_team(n)));
			json_object_set_new(m, "labels", labels);
			char hostif[32];
			snprintf(hostif, sizeof(hostif), "veth%08lx", (unsigned long)p);
			if (!host)
				json_object_set_new(m, "annotations",
						    json_pack("{s:s}", "netpol.io/host-interface",
							      hostif));

			json_t *conts = json_array();
			char image[96];
			snprintf(image, sizeof(image), "registry.example.com/%s:1.%ld", apps[app],
				 (long)(app % 7));
			json_array_append_new(conts, container(apps[app], image, app_ports(app)));
			if (rndn(g, 2)) {
				json_t *sp = json_array();
				json_array_append_new(sp, port("admin", 15000, "TCP"));
				json_array_append_new(sp, port("http-proxy", 15001, "TCP"));
				json_array_append_new(conts, container("proxy",
								       "registry.example.com/proxy:1.2",
								       sp));
			}
			json_t *spec = json_pack("{s:o, s:s, s:s, s:s}", "containers", conts,
						 "nodeName", nodename, "restartPolicy", "Always",
						 "serviceAccountName", "default");
			if (host)
				json_object_set_new(spec, "hostNetwork", json_true());
			json_t *ips = json_array();
			json_array_append_new(ips, json_pack("{s:s}", "ip", ip4));
			if (dual && !host)
				json_array_append_new(ips, json_pack("{s:s}", "ip", ip6));
			json_t *status = json_pack("{s:s, s:s, s:s, s:o, s:s}", "phase", "Running",
						   "hostIP", "192.168.0.1", "podIP", ip4, "podIPs",
						   ips, "qosClass", "Burstable");
			json_array_append_new(items, json_pack("{s:s, s:s, s:o, s:o, s:o}",
							       "apiVersion", "v1", "kind", "Pod",
							       "metadata", m, "spec", spec,
							       "status", status));
		}
		snprintf(file, sizeof(file), "pods-%s.json", ns);
		list_write(g, list, file);
	}
	free(placed);
}

/* ---- policies ---- */

static json_t *labels1(const char *k, const char *v)
{
	return json_pack("{s:{s:s}}", "matchLabels", k, v);
}

static json_t *expr(const char *key, const char *op, const char *v1, const char *v2)
{
	json_t *e = json_pack("{s:s, s:s}", "key", key, "operator", op);
	if (v1) {
		json_t *vals = json_pack("[s]", v1);
		if (v2)
			json_array_append_new(vals, json_string(v2));
		json_object_set_new(e, "values", vals);
	}
	return e;
}

static json_t *pport(const char *proto, json_t *port, int end)
{
	json_t *p = json_object();
	if (proto)
		json_object_set_new(p, "protocol", json_string(proto));
	if (port)
		json_object_set_new(p, "port", port);
	if (end)
		json_object_set_new(p, "endPort", json_integer(end));
	return p;
}

static const char *rnd_app(struct gen *g)
{
	return apps[rndn(g, N_APPS)];
}

/* One policy of shape k in namespace n; returns its spec. */
static json_t *policy_spec(struct gen *g, long n, int k, char *name, size_t name_len)
{
	const char *app = rnd_app(g), *peer = rnd_app(g);
	char cidr[64], except[64];
	switch (k) {
	case 0:
		snprintf(name, name_len, "default-deny-ingress");
		return json_pack("{s:{}, s:[s]}", "podSelector", "policyTypes", "Ingress");
	case 1:
		snprintf(name, name_len, "allow-%s-to-%s", peer, app);
		return json_pack("{s:o, s:[s], s:[{s:[{s:o}], s:[o]}]}", "podSelector",
				 labels1("app", app), "policyTypes", "Ingress", "ingress", "from",
				 "podSelector", labels1("app", peer), "ports",
				 pport("TCP", json_integer(8080 + rndn(g, 3)), 0));
	case 2:
		snprintf(name, name_len, "allow-team-frontends-%s", app);
		/* policyTypes absent: inferred Ingress */
		return json_pack("{s:o, s:[{s:[{s:o, s:o}], s:[o, o]}]}", "podSelector",
				 labels1("app", app), "ingress", "from", "namespaceSelector",
				 labels1("team", ns_team(n + rndn(g, 3))), "podSelector",
				 labels1("tier", "frontend"), "ports",
				 pport("TCP", json_string("http"), 0),
				 pport(NULL, json_string("grpc"), 0));
	case 3: {
		snprintf(name, name_len, "egress-internet-%s", app);
		snprintf(except, sizeof(except), "10.%ld.0.0/16", rndn(g, 256));
		return json_pack("{s:o, s:[s], s:[{s:[{s:{s:s, s:[s, s, o]}}]}, {s:[{s:o, s:o}], "
				 "s:[o, o]}]}",
				 "podSelector", labels1("app", app), "policyTypes", "Egress",
				 "egress", "to", "ipBlock", "cidr", "0.0.0.0/0", "except",
				 "10.0.0.0/8", "192.168.0.0/16", json_string(except), "to",
				 "namespaceSelector",
				 labels1("kubernetes.io/metadata.name", "ns-000"), "podSelector",
				 labels1("app", "dns"), "ports", pport("UDP", json_integer(53), 0),
				 pport("TCP", json_integer(53), 0));
	}
	case 4: {
		snprintf(name, name_len, "expr-%s", app);
		json_t *sel = json_pack("{s:[o, o]}", "matchExpressions",
					expr("app", "In", app, peer),
					expr("track", "DoesNotExist", NULL, NULL));
		json_t *from = json_pack("{s:{s:[o]}, s:{s:[o, o]}}", "namespaceSelector",
					 "matchExpressions", expr("env", "In", "prod", "staging"),
					 "podSelector", "matchExpressions",
					 expr("tier", "NotIn", "data", NULL),
					 expr("version", "Exists", NULL, NULL));
		return json_pack("{s:o, s:[s], s:[{s:[o], s:[o]}]}", "podSelector", sel,
				 "policyTypes", "Ingress", "ingress", "from", from, "ports",
				 pport("TCP", json_string("http"), 0));
	}
	case 5: {
		long x = rndn(g, 16);
		snprintf(name, name_len, "nodeports-%s", app);
		/* host bits set on purpose: Kubernetes accepts and masks them */
		snprintf(cidr, sizeof(cidr), "172.%ld.3.4/12", 16 + x);
		snprintf(except, sizeof(except), "172.16.%ld.0/24", x);
		return json_pack("{s:o, s:[s], s:[{s:[{s:{s:s, s:[s]}}], s:[o, o]}]}",
				 "podSelector", labels1("app", app), "policyTypes", "Ingress",
				 "ingress", "from", "ipBlock", "cidr", cidr, "except", except,
				 "ports", pport("TCP", json_integer(30000), 32767),
				 pport("TCP", json_integer(8000 + rndn(g, 100)), 8100 + rndn(g, 50)));
	}
	case 6:
		snprintf(name, name_len, "egress-metrics-%s", app);
		return json_pack("{s:o, s:[s], s:[{s:[{s:{}, s:o}], s:[o, o]}]}", "podSelector",
				 labels1("app", app), "policyTypes", "Egress", "egress", "to",
				 "namespaceSelector", "podSelector", labels1("app", peer), "ports",
				 pport("TCP", json_string("metrics"), 0),
				 pport("TCP", json_string("http"), 0));
	case 7:
		snprintf(name, name_len, "udp-sctp-%s", app);
		return json_pack("{s:o, s:[s, s], s:[{s:[{s:o}], s:[o, o]}], "
				 "s:[{s:[{s:o}], s:[o, o]}]}",
				 "podSelector", labels1("tier", tiers[rndn(g, 3)]), "policyTypes",
				 "Ingress", "Egress", "ingress", "from", "podSelector",
				 labels1("app", peer), "ports", pport("UDP", json_string("stats"), 0),
				 pport("SCTP", json_integer(3868), 0), "egress", "to", "podSelector",
				 labels1("app", "signal"), "ports",
				 pport("SCTP", json_string("diameter"), 0),
				 pport("UDP", json_integer(8125), 0));
	case 8:
		snprintf(name, name_len, "default-deny-egress-%s", app);
		return json_pack("{s:o, s:[s]}", "podSelector",
				 json_pack("{s:[o]}", "matchExpressions",
					   expr("app", "In", app, NULL)),
				 "policyTypes", "Egress");
	default:
		snprintf(name, name_len, "allow-all-tcp-%s", app);
		{
			long x = 0x100 + rndn(g, 256);
			snprintf(cidr, sizeof(cidr), "fd00:%lx::/32", x);
			snprintf(except, sizeof(except), "fd00:%lx:1::/48", x);
		}
		return json_pack("{s:o, s:[{s:[], s:[o]}, {s:[{s:{s:s, s:[s]}}]}]}", "podSelector",
				 labels1("app", app), "ingress", "from", "ports",
				 pport("TCP", NULL, 0), "from", "ipBlock", "cidr", cidr, "except",
				 except);
	}
}

static void gen_policies(struct gen *g)
{
	long serial = 1000000;
	for (long n = 0; n < g->nss; n++) {
		char ns[32], file[64];
		ns_name(ns, sizeof(ns), n);
		long lo = g->pols * n / g->nss, hi = g->pols * (n + 1) / g->nss;
		json_t *list = list_new(), *items = json_object_get(list, "items");
		for (long p = lo; p < hi; p++) {
			char name[128], full[160];
			json_t *spec = policy_spec(g, n, (int)((p - lo) % 10), name, sizeof(name));
			/* unique within the namespace */
			snprintf(full, sizeof(full), "%s-%ld", name, p - lo);
			json_array_append_new(items, json_pack("{s:s, s:s, s:o, s:o}", "apiVersion",
							       "networking.k8s.io/v1", "kind",
							       "NetworkPolicy", "metadata",
							       meta(ns, full, ++serial), "spec",
							       spec));
		}
		snprintf(file, sizeof(file), "netpol-%s.json", ns);
		list_write(g, list, file);
	}
}

static json_t *cnp_rule(struct gen *g, long i, int r, bool ingress, bool baseline)
{
	static const char *const actions[] = { "Pass", "Deny", "Accept" };
	char name[64], cidr[64];
	snprintf(name, sizeof(name), "rule-%d", r);
	json_t *peer;
	switch (r % 3) {
	case 0:
		peer = json_pack("{s:o}", "namespaces", labels1("team", ns_team(i + r)));
		break;
	case 1:
		peer = json_pack("{s:{s:o, s:o}}", "pods", "namespaceSelector",
				 labels1("env", envs[(i + r) % 3]), "podSelector",
				 labels1("app", apps[rndn(g, 8)]));
		break;
	default:
		if (ingress) {
			peer = json_pack("{s:o}", "namespaces", labels1("env", envs[r % 3]));
			break;
		}
		snprintf(cidr, sizeof(cidr), "10.%ld.%d.0/24", 100 + i % 100, r);
		peer = json_pack("{s:[s, s]}", "networks", cidr, "fd00:99::/64");
		break;
	}
	json_t *proto = r % 2 ? json_pack("{s:{s:{s:i}}}", "tcp", "destinationPort", "number",
					  7000 + r)
			      : json_pack("{s:{s:{s:{s:i, s:i}}}}", "udp", "destinationPort",
					  "range", "start", 7000 + r, "end", 7100 + r);
	return json_pack("{s:s, s:s, s:[o], s:[o]}", "name", name, "action",
			 actions[(i + r) % 3 + (baseline && (i + r) % 3 == 0)], ingress ? "from" : "to",
			 peer, "protocols", proto);
}

static void gen_admins(struct gen *g)
{
	if (!g->admins)
		return;
	json_t *list = list_new(), *items = json_object_get(list, "items");
	for (long i = 0; i < g->admins; i++) {
		char name[64];
		snprintf(name, sizeof(name), "admin-%03ld", i);
		json_t *subject = i % 2 ? json_pack("{s:o}", "namespaces", labels1("team", ns_team(i)))
				       : json_pack("{s:{s:o, s:o}}", "pods", "namespaceSelector",
						   labels1("env", envs[i % 3]), "podSelector",
						   labels1("app", apps[i % 8]));
		json_t *in = json_array(), *out = json_array();
		for (int r = 0; r < 25; r++)
			json_array_append_new(r < 13 ? in : out,
					      cnp_rule(g, i, r, r < 13, i >= g->admins * 8 / 10));
		json_array_append_new(
			items, json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:i, s:o, s:o, s:o}}",
					 "apiVersion", "policy.networking.k8s.io/v1alpha2", "kind",
					 "ClusterNetworkPolicy", "metadata", "name", name, "spec",
					 "tier", i < g->admins * 8 / 10 ? "Admin" : "Baseline",
					 "priority", (int)(i % 1000), "subject", subject, "ingress", in,
					 "egress", out));
	}
	list_write(g, list, "admin-policies.json");
}

static long num_arg(const char *opt, const char *v, long min)
{
	char *end;
	errno = 0;
	long x = v ? strtol(v, &end, 10) : 0;
	if (!v || errno || *end || x < min) {
		fprintf(stderr, "gen_cluster: %s needs an integer >= %ld\n", opt, min);
		exit(2);
	}
	return x;
}

int main(int argc, char **argv)
{
	struct gen g = { .pods = 10000, .nss = 100, .pols = 1000, .nodes = 10, .rng = 1 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--pods"))
			g.pods = num_arg(a, v, 0), i++;
		else if (!strcmp(a, "--namespaces"))
			g.nss = num_arg(a, v, 1), i++;
		else if (!strcmp(a, "--policies"))
			g.pols = num_arg(a, v, 0), i++;
		else if (!strcmp(a, "--nodes"))
			g.nodes = num_arg(a, v, 1), i++;
		else if (!strcmp(a, "--admin"))
			g.admins = num_arg(a, v, 0), i++;
		else if (!strcmp(a, "--seed"))
			g.rng = (uint64_t)num_arg(a, v, 0), i++;
		else if (a[0] == '-' || g.out) {
			fprintf(stderr, "usage: gen_cluster OUTDIR [--pods N] [--namespaces N] "
					"[--policies N] [--seed N] [--nodes N] [--admin N]\n");
			return 2;
		} else
			g.out = a;
	}
	if (!g.out) {
		fprintf(stderr, "usage: gen_cluster OUTDIR [--pods N] [--namespaces N] "
				"[--policies N] [--seed N] [--nodes N] [--admin N]\n");
		return 2;
	}
	if (g.nss > 1000) {
		fprintf(stderr, "gen_cluster: at most 1000 namespaces\n");
		return 2;
	}
	if (mkdir(g.out, 0755) < 0 && errno != EEXIST)
		die(g.out);
	gen_namespaces(&g);
	gen_pods(&g);
	gen_policies(&g);
	gen_admins(&g);
	return 0;
}
