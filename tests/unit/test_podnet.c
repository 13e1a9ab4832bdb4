/* test_podnet — which pods get their own table inside their netns (podnet_pod_wanted), the
 * targets the pipeline and `netpol render --state-dir` walk for them (podnet_targets): one per
 * wanted pod, naming its netns, whose ruleset has ingress on input / egress on output and only
 * that pod in the dispatch maps. No kernel: the kernel side, and the "# in netns" comments
 * render prints, are tests/netsetup/t-macvlan-policy.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model.h"
#include "podnet.h"

/* a on n1 isolated for ingress (from role=client), b (client) on n1, c on n2; attach and
 * netns are what endpoints_merge sets from the records */
static const char yaml[] =
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n---\n"
	"apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: web, labels: {app: a}}\n"
	"spec: {nodeName: n1}\nstatus: {podIPs: [{ip: 10.1.0.2}]}\n---\n"
	"apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: web, labels: {role: client}}\n"
	"spec: {nodeName: n1}\nstatus: {podIPs: [{ip: 10.1.0.3}]}\n---\n"
	"apiVersion: v1\nkind: Pod\nmetadata: {name: c, namespace: web, labels: {role: client}}\n"
	"spec: {nodeName: n2}\nstatus: {podIPs: [{ip: 10.1.0.4}]}\n---\n"
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: a-in, namespace: web}\n"
	"spec:\n  podSelector: {matchLabels: {app: a}}\n  policyTypes: [Ingress]\n"
	"  ingress:\n  - from:\n    - podSelector: {matchLabels: {role: client}}\n";

static struct np_inventory *inventory(void)
{
	struct np_inventory *inv = np_inventory_new();
	struct np_diags d;
	np_diags_init(&d);
	assert_int_equal(np_inventory_load_buffer(inv, "t.yaml", yaml, strlen(yaml), 1, &d), 0);
	np_inventory_finish(inv, &d);
	assert_int_equal(d.errors, 0);
	np_diags_free(&d);
	assert_int_equal(inv->n_pods, 3);
	for (size_t i = 0; i < inv->n_pods; i++) {
		struct np_pod *p = &inv->pods[i];
		p->attach = "macvlan";
		p->netns = !strcmp(p->name, "a") ? "/run/netns/pa"
			   : !strcmp(p->name, "b") ? "/run/netns/pb" : "/run/netns/pc";
	}
	return inv;
}

static struct np_pod *pod(struct np_inventory *inv, const char *name)
{
	for (size_t i = 0; i < inv->n_pods; i++)
		if (!strcmp(inv->pods[i].name, name))
			return &inv->pods[i];
	fail_msg("no pod %s", name);
	return NULL;
}

static void test_wanted(void **state)
{
	(void)state;
	struct np_inventory *inv = inventory();
	struct np_pod *a = pod(inv, "a"), *c = pod(inv, "c");
	assert_true(podnet_pod_wanted(a, NULL));
	assert_true(podnet_pod_wanted(a, "n1"));
	assert_false(podnet_pod_wanted(c, "n1")); /* another node's */
	assert_true(podnet_pod_wanted(c, "n2"));
	c->node = NULL; /* a record without a host lives in this host's state directory */
	assert_true(podnet_pod_wanted(c, "n1"));
	a->attach = "bridge";
	assert_false(podnet_pod_wanted(a, NULL)); /* the node's hooks see bridged pods */
	a->attach = "macvlan";
	a->netns = NULL;
	assert_false(podnet_pod_wanted(a, NULL));
	a->netns = "/run/netns/pa";
	a->host_network = true;
	assert_false(podnet_pod_wanted(a, NULL));
	a->host_network = false;
	a->n_ips = 0;
	assert_false(podnet_pod_wanted(a, NULL));
	np_inventory_free(inv);
}

/* The nft text of target t's ruleset. */
static char *target_text(const struct np_inventory *inv, const struct podnet_target *t)
{
	struct rs_ruleset *rs = NULL;
	assert_int_equal(ruleset_build(inv, &t->ro, &rs), 0);
	char *text = emit_text(rs);
	ruleset_free(rs);
	return text;
}

static void test_targets(void **state)
{
	(void)state;
	struct np_inventory *inv = inventory();
	struct podnet_target *t = NULL;
	size_t n = 0;
	struct rs_options ro = { .node = "n1" };
	podnet_targets(inv, &ro, &t, &n);
	assert_int_equal(n, 2); /* c is on n2 */
	assert_string_equal(t[0].pod, "web/a");
	assert_string_equal(t[0].netns, "/run/netns/pa");
	assert_string_equal(t[1].pod, "web/b");
	assert_string_equal(t[1].netns, "/run/netns/pb");
	for (size_t i = 0; i < n; i++) {
		assert_true(t[i].ro.netns_local);
		assert_string_equal(t[i].ro.local_pod, t[i].pod);
		assert_string_equal(t[i].ro.node, "n1");
	}
	char *a = target_text(inv, &t[0]), *b = target_text(inv, &t[1]);
	assert_non_null(strstr(a, "table inet netpol {"));
	assert_non_null(strstr(a, "hook input"));
	assert_non_null(strstr(a, "hook output"));
	assert_null(strstr(a, "hook forward"));
	assert_null(strstr(a, "table bridge")); /* no anti-spoofing table inside a pod */
	assert_non_null(strstr(a, "10.1.0.2 : goto")); /* a isolated in its own netns ... */
	assert_null(strstr(a, "10.1.0.3 : goto"));     /* ... and only a */
	assert_null(strstr(b, " : goto"));              /* b is not isolated */
	assert_non_null(strstr(b, "table inet netpol {"));
	free(a);
	free(b);
	podnet_targets_free(t, n);
	np_inventory_free(inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wanted),
		cmocka_unit_test(test_targets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
