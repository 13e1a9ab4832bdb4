/* test_parse — the loader and validator: policyTypes inference, YAML and JSON giving the same
 * model, Lists, YAML scalar typing, positions of records, dropping only bad objects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diag.h"
#include "model.h"

struct loaded {
	struct np_inventory *inv;
	struct np_diags d;
};

static struct loaded *load(const char *text, int yaml)
{
	struct loaded *l = calloc(1, sizeof(*l));
	l->inv = np_inventory_new();
	np_diags_init(&l->d);
	np_inventory_load_buffer(l->inv, yaml ? "in.yaml" : "in.json", text, strlen(text), yaml,
				 &l->d);
	np_inventory_finish(l->inv, &l->d);
	np_diags_locate(&l->d);
	np_diags_sort(&l->d);
	if (getenv("TEST_VERBOSE")) /* shows every record when a test needs debugging */
		for (size_t i = 0; i < l->d.n; i++) {
			char buf[2048];
			np_diag_format(&l->d.v[i], buf, sizeof(buf));
			fprintf(stderr, "  | %s\n", buf);
		}
	return l;
}

static void unload(struct loaded *l)
{
	np_diags_free(&l->d);
	np_inventory_free(l->inv);
	free(l);
}

/* Is there a record whose formatted text contains every one of the given pieces? */
static bool has_record(const struct loaded *l, const char *a, const char *b)
{
	char buf[2048];
	for (size_t i = 0; i < l->d.n; i++) {
		np_diag_format(&l->d.v[i], buf, sizeof(buf));
		if (strstr(buf, a) && (!b || strstr(buf, b)))
			return true;
	}
	return false;
}

/* ---- a canonical text form of the model, to compare front ends ---- */

static void dump_sel(FILE *f, const struct np_selector *s)
{
	if (!s) {
		fputs("-", f);
		return;
	}
	fputs("{", f);
	for (size_t i = 0; i < s->match_labels.n; i++)
		fprintf(f, "%s=%s,", s->match_labels.v[i].key, s->match_labels.v[i].value);
	for (size_t i = 0; i < s->n_exprs; i++) {
		fprintf(f, "%s op%d[", s->exprs[i].key, s->exprs[i].op);
		for (size_t j = 0; j < s->exprs[i].n_values; j++)
			fprintf(f, "%s,", s->exprs[i].values[j]);
		fputs("]", f);
	}
	fputs("}", f);
}

static void dump_rules(FILE *f, const char *dir, const struct np_rule *r, size_t n)
{
	char buf[64];
	for (size_t i = 0; i < n; i++) {
		fprintf(f, " %s@%s[", dir, r[i].ptr);
		for (size_t j = 0; j < r[i].n_peers; j++) {
			const struct np_peer *p = &r[i].peers[j];
			fprintf(f, "peer@%s(", p->ptr);
			dump_sel(f, p->pod_sel);
			dump_sel(f, p->ns_sel);
			if (p->ipblock) {
				fprintf(f, " %s", np_cidr_str(&p->ipblock->cidr, buf));
				for (size_t k = 0; k < p->ipblock->n_except; k++)
					fprintf(f, " -%s", np_cidr_str(&p->ipblock->except[k], buf));
			}
			fputs(")", f);
		}
		for (size_t j = 0; j < r[i].n_ports; j++) {
			const struct np_port *p = &r[i].ports[j];
			fprintf(f, "port@%s(%s %u-%u %s)", p->ptr, np_proto_name(p->proto), p->port,
				p->end_port, p->name ? p->name : "");
		}
		fputs("]", f);
	}
}

static char *dump(const struct np_inventory *inv)
{
	char *out = NULL, buf[64];
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	for (size_t i = 0; i < inv->n_nss; i++) {
		const struct np_namespace *ns = &inv->nss[i];
		fprintf(f, "ns %s implicit=%d @%s {", ns->name, ns->implicit, ns->ref.ptr);
		for (size_t j = 0; j < ns->labels.n; j++)
			fprintf(f, "%s=%s,", ns->labels.v[j].key, ns->labels.v[j].value);
		fputs("}\n", f);
	}
	for (size_t i = 0; i < inv->n_pods; i++) {
		const struct np_pod *p = &inv->pods[i];
		fprintf(f, "pod %s/%s node=%s hn=%d if=%s @%s {", p->ns, p->name,
			p->node ? p->node : "", p->host_network, p->host_if ? p->host_if : "",
			p->ref.ptr);
		for (size_t j = 0; j < p->labels.n; j++)
			fprintf(f, "%s=%s,", p->labels.v[j].key, p->labels.v[j].value);
		fputs("}", f);
		for (size_t j = 0; j < p->n_ports; j++)
			fprintf(f, " %s:%u/%s", p->ports[j].name ? p->ports[j].name : "",
				p->ports[j].port, np_proto_name(p->ports[j].proto));
		for (size_t j = 0; j < p->n_ips; j++)
			fprintf(f, " %s", np_addr_str(&p->ips[j], buf));
		fputs("\n", f);
	}
	for (size_t i = 0; i < inv->n_pols; i++) {
		const struct np_policy *p = &inv->pols[i];
		fprintf(f, "pol %s/%s in=%d eg=%d inf=%d @%s ", p->ns, p->name, p->ingress, p->egress,
			p->types_inferred, p->ref.ptr);
		dump_sel(f, &p->pod_sel);
		dump_rules(f, "in", p->in, p->n_in);
		dump_rules(f, "out", p->out, p->n_out);
		fputs("\n", f);
	}
	for (size_t i = 0; i < inv->n_nodes; i++) {
		fprintf(f, "node %s", inv->nodes[i].name);
		for (size_t j = 0; j < inv->nodes[i].n_addrs; j++)
			fprintf(f, " %s", np_addr_str(&inv->nodes[i].addrs[j], buf));
		fputs("\n", f);
	}
	fclose(f);
	return out;
}

/* ---- policyTypes ---- */

static const struct np_policy *one_policy(struct loaded *l)
{
	assert_int_equal(l->d.errors, 0);
	assert_int_equal(l->inv->n_pols, 1);
	return &l->inv->pols[0];
}

static void test_policy_types(void **state)
{
	static const struct {
		const char *spec;
		bool in, eg, inferred;
	} cases[] = {
		{ "{\"podSelector\": {}}", true, false, true },
		{ "{\"podSelector\": {}, \"ingress\": [{}]}", true, false, true },
		{ "{\"podSelector\": {}, \"egress\": [{}]}", true, true, true },
		/* defaults.go: len(spec.egress) != 0 — an empty egress list is no egress policy */
		{ "{\"podSelector\": {}, \"egress\": []}", true, false, true },
		{ "{\"podSelector\": {}, \"egress\": null}", true, false, true },
		{ "{\"podSelector\": {}, \"policyTypes\": []}", true, false, true },
		{ "{\"podSelector\": {}, \"policyTypes\": [\"Egress\"]}", false, true, false },
		{ "{\"podSelector\": {}, \"policyTypes\": [\"Ingress\"], \"egress\": [{}]}", true,
		  false, false },
		{ "{\"podSelector\": {}, \"policyTypes\": [\"Ingress\", \"Egress\"]}", true, true,
		  false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text;
		assert_true(asprintf(&text,
				     "{\"apiVersion\": \"networking.k8s.io/v1\", \"kind\": "
				     "\"NetworkPolicy\", \"metadata\": {\"name\": \"p\"}, \"spec\": %s}",
				     cases[i].spec) > 0);
		struct loaded *l = load(text, 0);
		const struct np_policy *p = one_policy(l);
		assert_int_equal(p->ingress, cases[i].in);
		assert_int_equal(p->egress, cases[i].eg);
		assert_int_equal(p->types_inferred, cases[i].inferred);
		assert_string_equal(p->ns, "default"); /* metadata.namespace defaults */
		unload(l);
		free(text);
	}
}

/* ---- JSON and YAML: one model ---- */

static const char LIST_YAML[] =
	"apiVersion: v1\n"
	"kind: List\n"
	"items:\n"
	"- apiVersion: v1\n"
	"  kind: Namespace\n"
	"  metadata:\n"
	"    name: prod\n"
	"    labels: {env: prod, \"example.com/team\": a}\n"
	"- apiVersion: v1\n"
	"  kind: Pod\n"
	"  metadata:\n"
	"    name: web-1\n"
	"    namespace: prod\n"
	"    labels: {app: web, version: \"2\"}\n"
	"    annotations: {netpol.io/host-interface: veth1234}\n"
	"  spec:\n"
	"    nodeName: node-a\n"
	"    containers:\n"
	"    - name: a\n"
	"      ports:\n"
	"      - {name: http, containerPort: 8080}\n"
	"      - {containerPort: 53, protocol: UDP}\n"
	"    - name: b\n"
	"      ports: [{name: sctp-x, containerPort: 9, protocol: SCTP}]\n"
	"  status:\n"
	"    podIP: 10.0.0.9\n"
	"    podIPs: [{ip: 10.0.0.1}, {ip: \"fd00::1\"}, {ip: 10.0.0.1}]\n"
	"- apiVersion: networking.k8s.io/v1\n"
	"  kind: NetworkPolicy\n"
	"  metadata: {name: web, namespace: prod}\n"
	"  spec:\n"
	"    podSelector:\n"
	"      matchLabels: {app: web}\n"
	"      matchExpressions:\n"
	"      - {key: tier, operator: NotIn, values: [b, a, b]}\n"
	"      - {key: canary, operator: DoesNotExist}\n"
	"    ingress:\n"
	"    - from:\n"
	"      - namespaceSelector: {}\n"
	"        podSelector: {matchLabels: {app: web}}\n"
	"      - ipBlock: {cidr: 10.1.2.3/16, except: [10.1.5.0/24]}\n"
	"      ports:\n"
	"      - port: http\n"
	"      - {protocol: UDP, port: 5000, endPort: 5010}\n"
	"      - protocol: SCTP\n"
	"    - {}\n"
	"    egress:\n"
	"    - to: [{ipBlock: {cidr: \"fd00::/8\"}}]\n"
	"- apiVersion: v1\n"
	"  kind: Node\n"
	"  metadata: {name: node-a}\n"
	"  status:\n"
	"    addresses: [{type: Hostname, address: node-a}, {type: InternalIP, address: 192.0.2.1}]\n";

static const char LIST_JSON[] =
	"{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n"
	" {\"apiVersion\": \"v1\", \"kind\": \"Namespace\",\n"
	"  \"metadata\": {\"name\": \"prod\", \"labels\": {\"env\": \"prod\", \"example.com/team\": \"a\"}}},\n"
	" {\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n"
	"  \"metadata\": {\"name\": \"web-1\", \"namespace\": \"prod\",\n"
	"               \"labels\": {\"app\": \"web\", \"version\": \"2\"},\n"
	"               \"annotations\": {\"netpol.io/host-interface\": \"veth1234\"}},\n"
	"  \"spec\": {\"nodeName\": \"node-a\", \"containers\": [\n"
	"    {\"name\": \"a\", \"ports\": [{\"name\": \"http\", \"containerPort\": 8080},\n"
	"                              {\"containerPort\": 53, \"protocol\": \"UDP\"}]},\n"
	"    {\"name\": \"b\", \"ports\": [{\"name\": \"sctp-x\", \"containerPort\": 9, \"protocol\": \"SCTP\"}]}]},\n"
	"  \"status\": {\"podIP\": \"10.0.0.9\",\n"
	"             \"podIPs\": [{\"ip\": \"10.0.0.1\"}, {\"ip\": \"fd00::1\"}, {\"ip\": \"10.0.0.1\"}]}},\n"
	" {\"apiVersion\": \"networking.k8s.io/v1\", \"kind\": \"NetworkPolicy\",\n"
	"  \"metadata\": {\"name\": \"web\", \"namespace\": \"prod\"},\n"
	"  \"spec\": {\"podSelector\": {\"matchLabels\": {\"app\": \"web\"}, \"matchExpressions\": [\n"
	"              {\"key\": \"tier\", \"operator\": \"NotIn\", \"values\": [\"b\", \"a\", \"b\"]},\n"
	"              {\"key\": \"canary\", \"operator\": \"DoesNotExist\"}]},\n"
	"            \"ingress\": [{\"from\": [{\"namespaceSelector\": {}, \"podSelector\": {\"matchLabels\": {\"app\": \"web\"}}},\n"
	"                                     {\"ipBlock\": {\"cidr\": \"10.1.2.3/16\", \"except\": [\"10.1.5.0/24\"]}}],\n"
	"                           \"ports\": [{\"port\": \"http\"}, {\"protocol\": \"UDP\", \"port\": 5000, \"endPort\": 5010},\n"
	"                                     {\"protocol\": \"SCTP\"}]},\n"
	"                          {}],\n"
	"            \"egress\": [{\"to\": [{\"ipBlock\": {\"cidr\": \"fd00::/8\"}}]}]}},\n"
	" {\"apiVersion\": \"v1\", \"kind\": \"Node\", \"metadata\": {\"name\": \"node-a\"},\n"
	"  \"status\": {\"addresses\": [{\"type\": \"Hostname\", \"address\": \"node-a\"},\n"
	"                             {\"type\": \"InternalIP\", \"address\": \"192.0.2.1\"}]}}\n"
	"]}\n";

static void test_yaml_json_same_model(void **state)
{
	struct loaded *y = load(LIST_YAML, 1), *j = load(LIST_JSON, 0);
	assert_int_equal(y->d.errors, 0);
	assert_int_equal(j->d.errors, 0);
	char *dy = dump(y->inv), *dj = dump(j->inv);
	assert_string_equal(dy, dj);
	/* and the model says what the input says */
	assert_non_null(strstr(dy, "ns prod implicit=0 @/items/0 {env=prod,example.com/team=a,"
				   "kubernetes.io/metadata.name=prod,}"));
	assert_non_null(strstr(dy, "pod prod/web-1 node=node-a hn=0 if=veth1234 @/items/1 "
				   "{app=web,version=2,} http:8080/TCP :53/UDP sctp-x:9/SCTP "
				   "10.0.0.1 fd00::1\n"));
	assert_non_null(strstr(dy, "pol prod/web in=1 eg=1 inf=1 @/items/2 {app=web,tier op1[a,b,]"
				   "canary op3[]}"));
	assert_non_null(strstr(dy, "peer@/items/2/spec/ingress/0/from/1(-- 10.1.0.0/16 "
				   "-10.1.5.0/24)"));
	assert_non_null(strstr(dy, "port@/items/2/spec/ingress/0/ports/1(UDP 5000-5010 )"));
	assert_non_null(strstr(dy, "port@/items/2/spec/ingress/0/ports/2(SCTP 0-0 )"));
	assert_non_null(strstr(dy, "in@/items/2/spec/ingress/1[]"));
	assert_non_null(strstr(dy, "node node-a 192.0.2.1\n"));
	/* the host bits of 10.1.2.3/16 are masked, with a note */
	assert_int_equal(y->d.notes, 1);
	assert_true(has_record(y, "in.yaml:41:25:", "note: CIDR 10.1.2.3/16 has host bits set"));
	assert_true(has_record(j, "in.json:20:59:", "note: CIDR 10.1.2.3/16 has host bits set"));
	free(dy);
	free(dj);
	unload(y);
	unload(j);
}

/* ---- Lists ---- */

static void test_lists(void **state)
{
	/* typed lists: items without kind/apiVersion (as kubectl prints them) */
	struct loaded *l = load("kind: PodList\napiVersion: v1\nitems:\n"
				"- metadata: {name: a, namespace: x}\n"
				"- metadata: {name: b, namespace: x}\n"
				"---\nkind: NamespaceList\nitems: [{metadata: {name: x}}]\n"
				"---\nkind: NetworkPolicyList\nitems:\n"
				"- metadata: {name: p, namespace: x}\n  spec: {podSelector: {}}\n"
				"---\nkind: NodeList\nitems: [{metadata: {name: n1}}]\n"
				"---\nkind: PodList\nitems: []\n"
				"---\nkind: PodList\nitems: null\n"
				"---\n# an empty document is fine\n",
				1);
	assert_int_equal(l->d.errors, 0);
	assert_int_equal(l->inv->n_pods, 2);
	assert_int_equal(l->inv->n_nss, 1);
	assert_false(l->inv->nss[0].implicit);
	assert_int_equal(l->inv->n_pols, 1);
	assert_int_equal(l->inv->n_nodes, 1);
	unload(l);
	/* kind: List items need a kind; nested lists and mismatched items are errors; unknown
	 * kinds are a note */
	l = load("{\"kind\": \"List\", \"apiVersion\": \"v1\", \"items\": [\n"
		 "  {\"metadata\": {\"name\": \"nokind\"}},\n"
		 "  {\"kind\": \"PodList\", \"items\": []},\n"
		 "  {\"kind\": \"ConfigMap\", \"apiVersion\": \"v1\", \"metadata\": {\"name\": \"c\"}},\n"
		 "  {\"kind\": \"Pod\", \"apiVersion\": \"v1\", \"metadata\": {\"name\": \"ok\"}}\n"
		 "]}",
		 0);
	assert_int_equal(l->d.errors, 2);
	assert_int_equal(l->d.notes, 1);
	assert_true(has_record(l, "in.json:2:3: error: missing required field \"kind\"",
			       "[at /items/0]"));
	assert_true(has_record(l, "in.json:3:12: error: a List cannot contain another list",
			       "[at /items/1/kind]"));
	assert_true(has_record(l, "in.json:4:12: note: skipping kind ConfigMap", NULL));
	assert_int_equal(l->inv->n_pods, 1);
	assert_string_equal(l->inv->pods[0].ns, "default");
	unload(l);
	l = load("kind: PodList\nitems:\n- kind: Node\n  metadata: {name: n}\n", 1);
	assert_true(has_record(l, "in.yaml:3:9: error: a PodList item must be a Pod, not Node",
			       "[at /items/0/kind]"));
	unload(l);
}

/* ---- YAML scalars ---- */

static void test_yaml_scalars(void **state)
{
	const char *pre = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
			  "metadata: {name: p}\nspec:\n  podSelector: {}\n  ingress:\n  - ports:\n";
	char *t;
	/* quoted "80" is a string, hence a (bad) port name; unquoted 80 an integer */
	assert_true(asprintf(&t, "%s    - port: \"80\"\n    - port: 80\n    - port: '443'\n", pre) > 0);
	struct loaded *l = load(t, 1);
	assert_int_equal(l->d.errors, 2);
	assert_true(has_record(l, "in.yaml:8:13: error: invalid port name \"80\"", NULL));
	assert_true(has_record(l, "in.yaml:10:13: error: invalid port name \"443\"", NULL));
	unload(l);
	free(t);
	/* null/~ mean absent; hex is an integer; !!str forces a string */
	assert_true(asprintf(&t, "%s    - port: 0x50\n      protocol: ~\n      endPort: null\n"
				 "    - port: !!str http\n",
			     pre) > 0);
	l = load(t, 1);
	const struct np_policy *p = one_policy(l);
	assert_int_equal(p->in[0].n_ports, 2);
	assert_int_equal(p->in[0].ports[0].port, 80);
	assert_int_equal(p->in[0].ports[0].proto, NP_PROTO_TCP);
	assert_int_equal(p->in[0].ports[0].end_port, 0);
	assert_string_equal(p->in[0].ports[1].name, "http");
	unload(l);
	free(t);
	/* YAML 1.1 booleans (as kubectl reads them) are not label values */
	l = load("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    a: yes\n"
		 "    b: \"yes\"\n    c: on\n    d: 1.5\n",
		 1);
	assert_int_equal(l->d.errors, 3);
	assert_true(has_record(l, "in.yaml:6:8: error: expected a string, got boolean (quote it in "
				  "YAML) [at /metadata/labels/a]",
			       NULL));
	assert_true(has_record(l, "in.yaml:8:8: error: expected a string, got boolean", NULL));
	assert_true(has_record(l, "in.yaml:9:8: error: expected a string, got number", NULL));
	assert_int_equal(l->inv->n_pods, 0);
	unload(l);
	/* aliases and duplicate keys are refused, the next document still loads */
	l = load("kind: Namespace\napiVersion: v1\nmetadata: {name: a, name: b}\n---\n"
		 "kind: Namespace\napiVersion: v1\nmetadata: &m {name: c}\nx: *m\n---\n"
		 "kind: Namespace\napiVersion: v1\nmetadata: {name: d}\n",
		 1);
	assert_int_equal(l->d.errors, 2);
	assert_true(has_record(l, "in.yaml:3:21: error: duplicate key \"name\"", NULL));
	assert_true(has_record(l, "in.yaml:8:4: error: YAML aliases (*m) are not supported", NULL));
	assert_int_equal(l->inv->n_nss, 1);
	assert_string_equal(l->inv->nss[0].name, "d");
	unload(l);
}

/* ---- records: positions, dropping, duplicates, cap, format ---- */

static void test_positions_and_dropping(void **state)
{
	/* three documents: errors in the 2nd point into it; the 1st and 3rd are kept */
	struct loaded *l = load("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
				"---\n"
				"apiVersion: v1\nkind: Pod\nmetadata:\n  name: b\n"
				"spec:\n  containers:\n  - ports:\n    - containerPort: 0\n"
				"    - {containerPort: 80, protocol: ICMP, name: x--y}\n"
				"status: {podIPs: [{ip: 1.2.3}]}\n"
				"---\n"
				"apiVersion: v1\nkind: Pod\nmetadata: {name: c}\n",
				1);
	assert_int_equal(l->d.errors, 4);
	assert_true(has_record(l, "in.yaml:12:22: error: containerPort 0 out of range",
			       "[at /spec/containers/0/ports/0/containerPort]"));
	assert_true(has_record(l, "in.yaml:13:49: error: invalid port name \"x--y\"", NULL));
	assert_true(has_record(l, "in.yaml:13:37: error: unknown protocol \"ICMP\"", NULL));
	assert_true(has_record(l, "in.yaml:14:24: error: invalid IP address \"1.2.3\"",
			       "[at /status/podIPs/0/ip]"));
	assert_int_equal(l->d.v[0].doc, 1);
	assert_int_equal(l->inv->n_pods, 2);
	assert_non_null(np_inventory_pod(l->inv, "default", "a"));
	assert_null(np_inventory_pod(l->inv, "default", "b"));
	assert_non_null(np_inventory_pod(l->inv, "default", "c"));
	unload(l);
	/* a missing field points at the object that lacks it */
	l = load("{\n \"apiVersion\": \"networking.k8s.io/v1\",\n \"kind\": \"NetworkPolicy\",\n"
		 " \"metadata\": {\"name\": \"p\"},\n \"spec\": {\"ingress\": []}\n}",
		 0);
	assert_true(has_record(l, "in.json:5:10: error: missing required field \"podSelector\"",
			       "[at /spec/podSelector]"));
	unload(l);
	/* pointers escape '/' and '~' (RFC 6901) */
	l = load("{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"n\", "
		 "\"labels\": {\"a~b/c\": \"x\"}}}",
		 0);
	assert_true(has_record(l, "in.json:1:89: error: invalid label key \"a~b/c\"",
			       "[at /metadata/labels/a~0b~1c]"));
	unload(l);
	/* a UTF-8 byte order mark is skipped and not counted as a column */
	l = load("\xef\xbb\xbf{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"X\"}}",
		 0);
	assert_int_equal(l->d.errors, 1);
	assert_true(has_record(l, "in.json:1:58: error: invalid name \"X\"", NULL));
	unload(l);
}

static void test_duplicates_and_finish(void **state)
{
	struct np_inventory *inv = np_inventory_new();
	struct np_diags d;
	np_diags_init(&d);
	const char *a = "kind: Pod\napiVersion: v1\nmetadata: {name: p, namespace: n, labels: {v: '1'}}\n";
	const char *b = "{\"kind\": \"Pod\", \"apiVersion\": \"v1\",\n"
			"\"metadata\": {\"name\": \"p\", \"namespace\": \"n\", \"labels\": {\"v\": \"2\"}}}";
	np_inventory_load_buffer(inv, "first.yaml", a, strlen(a), 1, &d);
	np_inventory_load_buffer(inv, "second.json", b, strlen(b), 0, &d);
	np_inventory_finish(inv, &d);
	np_inventory_finish(inv, &d); /* idempotent */
	assert_int_equal(inv->n_pods, 1);
	assert_string_equal(np_labels_get(&inv->pods[0].labels, "v"), "1"); /* the first stays */
	assert_int_equal(inv->n_nss, 1);
	assert_true(inv->nss[0].implicit);
	assert_int_equal(d.errors, 1);
	np_diags_locate(&d);
	char buf[512];
	np_diag_format(&d.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "second.json:2:22: error: duplicate Pod n/p (first defined in "
				 "first.yaml) [at /metadata/name]");
	np_diags_free(&d);
	np_inventory_free(inv);
}

static void test_diag_cap_and_format(void **state)
{
	struct np_diags d;
	np_diags_init(&d);
	d.max = 3;
	for (int i = 0; i < 5; i++)
		np_diag_add(&d, NP_SEV_ERROR, NULL, 0, NULL, 0, 0, "e%d", i);
	np_diag_add(&d, NP_SEV_WARNING, NULL, 0, "/a", 0, 0, "w");
	assert_int_equal(d.n, 3);
	assert_int_equal(d.errors, 5);
	assert_int_equal(d.warnings, 1);
	char buf[256];
	np_diag_format(&d.v[2], buf, sizeof(buf));
	assert_string_equal(buf, "netpol: error: e2");
	np_diags_free(&d);
	/* the default cap is 1000 */
	np_diags_init(&d);
	for (int i = 0; i < 1200; i++)
		np_diag_add(&d, NP_SEV_ERROR, NULL, 0, NULL, 0, 0, "x");
	assert_int_equal(d.n, 1000);
	assert_int_equal(d.errors, 1200);
	np_diags_free(&d);
	/* sorting: file, document, line, column */
	struct np_source s1 = { "b.yaml", "", 0, 1 }, s2 = { "a.yaml", "", 0, 1 };
	np_diags_init(&d);
	np_diag_add(&d, NP_SEV_WARNING, &s1, 0, "/x", 3, 1, "w");
	np_diag_add(&d, NP_SEV_ERROR, &s2, 1, "/y", 1, 1, "e2");
	np_diag_add(&d, NP_SEV_ERROR, &s2, 0, "/z", 9, 2, "e1");
	np_diags_sort(&d);
	np_diag_format(&d.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "a.yaml:9:2: error: e1 [at /z]");
	np_diag_format(&d.v[2], buf, sizeof(buf));
	assert_string_equal(buf, "b.yaml:3:1: warning: w [at /x]");
	np_diags_free(&d);
}

static void test_pod_ips_fallback(void **state)
{
	struct loaded *l = load("kind: Pod\napiVersion: v1\nmetadata: {name: a}\n"
				"spec: {hostNetwork: true}\nstatus: {podIP: 'fd00::5'}\n",
				1);
	assert_int_equal(l->d.errors, 0);
	assert_int_equal(l->inv->pods[0].n_ips, 1);
	assert_int_equal(l->inv->pods[0].ips[0].family, 6);
	assert_true(l->inv->pods[0].host_network);
	unload(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_types),
		cmocka_unit_test(test_yaml_json_same_model),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_yaml_scalars),
		cmocka_unit_test(test_positions_and_dropping),
		cmocka_unit_test(test_duplicates_and_finish),
		cmocka_unit_test(test_diag_cap_and_format),
		cmocka_unit_test(test_pod_ips_fallback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
