/* test_podnet — which pods get their own table inside their netns (podnet_pod_wanted), and what
 * `netpol render --state-dir` prints for them (podnet_render): one block per wanted pod, under a
 * comment naming its netns, with ingress on input / egress on output and only that pod in the
 * dispatch maps. No kernel: the kernel side is tests/netsetup/t-macvlan-policy.sh. */
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

/* The block render prints after "# in netns PATH (...)", up to the next such comment. */
static char *block(const char *text, const char *path)
{
	char head[128];
	snprintf(head, sizeof(head), "# in netns %s (", path);
	const char *s = strstr(text, head);
	if (!s)
		return NULL;
	const char *e = strstr(s + 1, "# in netns ");
	return strndup(s, e ? (size_t)(e - s) : strlen(s));
}

static void test_render(void **state)
{
	(void)state;
	struct np_inventory *inv = inventory();
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct rs_options ro = { .node = "n1" };
	assert_int_equal(podnet_render(inv, &ro, f), 0);
	fclose(f);
	assert_non_null(strstr(text, "# in netns /run/netns/pa (pod web/a, macvlan)\n"));
	assert_non_null(strstr(text, "# in netns /run/netns/pb (pod web/b, macvlan)\n"));
	assert_null(strstr(text, "/run/netns/pc")); /* c is on n2 */
	char *a = block(text, "/run/netns/pa"), *b = block(text, "/run/netns/pb");
	assert_non_null(a);
	assert_non_null(b);
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
	free(text);
	np_inventory_free(inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wanted),
		cmocka_unit_test(test_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
