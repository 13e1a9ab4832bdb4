/* test_selector — label selector semantics (every operator, empty vs absent), and which pods
 * a policy and a peer select, including namespaces and host-network pods. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "model.h"

static struct np_label app_web_tier_fe[] = { { "app", "web" }, { "tier", "frontend" } };
static const struct np_labels WEB = { app_web_tier_fe, 2 };
static struct np_label app_db[] = { { "app", "db" } };
static const struct np_labels DB = { app_db, 1 };
static const struct np_labels NONE = { NULL, 0 };

static struct np_selector expr_sel(struct np_sel_expr *e)
{
	struct np_selector s = { { NULL, 0 }, e, 1 };
	return s;
}

static void test_empty_and_absent(void **state)
{
	struct np_selector empty = { { NULL, 0 }, NULL, 0 };
	assert_true(np_selector_is_empty(&empty));
	assert_true(np_selector_matches(&empty, &WEB));
	assert_true(np_selector_matches(&empty, &NONE));
	/* absent (NULL) selects nothing; callers give it meaning */
	assert_false(np_selector_is_empty(NULL));
	assert_false(np_selector_matches(NULL, &WEB));
	assert_false(np_selector_matches(NULL, &NONE));
}

static void test_match_labels(void **state)
{
	struct np_label l1[] = { { "app", "web" } };
	struct np_selector s = { { l1, 1 }, NULL, 0 };
	assert_false(np_selector_is_empty(&s));
	assert_true(np_selector_matches(&s, &WEB));
	assert_false(np_selector_matches(&s, &DB));
	assert_false(np_selector_matches(&s, &NONE));
	struct np_label l2[] = { { "app", "web" }, { "tier", "backend" } }; /* AND */
	struct np_selector s2 = { { l2, 2 }, NULL, 0 };
	assert_false(np_selector_matches(&s2, &WEB));
	assert_string_equal(np_labels_get(&WEB, "tier"), "frontend");
	assert_null(np_labels_get(&WEB, "zone"));
	assert_null(np_labels_get(&NONE, "app"));
}

static void test_operators(void **state)
{
	const char *vals[] = { "api", "web" }; /* sorted */
	struct np_sel_expr in = { "app", NP_SEL_IN, vals, 2 };
	struct np_sel_expr notin = { "app", NP_SEL_NOT_IN, vals, 2 };
	struct np_sel_expr exists = { "tier", NP_SEL_EXISTS, NULL, 0 };
	struct np_sel_expr dne = { "tier", NP_SEL_DOES_NOT_EXIST, NULL, 0 };
	struct np_selector s;
	s = expr_sel(&in);
	assert_true(np_selector_matches(&s, &WEB));
	assert_false(np_selector_matches(&s, &DB));
	assert_false(np_selector_matches(&s, &NONE)); /* In needs the label */
	s = expr_sel(&notin);
	assert_false(np_selector_matches(&s, &WEB));
	assert_true(np_selector_matches(&s, &DB));
	assert_true(np_selector_matches(&s, &NONE)); /* NotIn: an absent label is not in */
	s = expr_sel(&exists);
	assert_true(np_selector_matches(&s, &WEB));
	assert_false(np_selector_matches(&s, &DB));
	s = expr_sel(&dne);
	assert_false(np_selector_matches(&s, &WEB));
	assert_true(np_selector_matches(&s, &DB));
	assert_true(np_selector_matches(&s, &NONE));
	/* labels AND expressions */
	struct np_label l1[] = { { "app", "db" } };
	struct np_selector both = { { l1, 1 }, &dne, 1 };
	assert_true(np_selector_matches(&both, &DB));
	struct np_selector both2 = { { l1, 1 }, &exists, 1 };
	assert_false(np_selector_matches(&both2, &DB));
}

static const char INVENTORY[] =
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: prod, labels: {env: prod}}\n"
	"---\napiVersion: v1\nkind: Namespace\nmetadata: {name: dev}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: prod, labels: {app: web}}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: dev, labels: {app: web}}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: prod, labels: {app: web}}\n"
	"spec: {hostNetwork: true}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: lone, namespace: other, labels: {app: web}}\n"
	"---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: p, namespace: prod}\n"
	"spec:\n  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from:\n"
	"    - podSelector: {matchLabels: {app: web}}\n"                    /* 0: own ns */
	"    - namespaceSelector: {}\n"                                      /* 1: all ns */
	"    - namespaceSelector: {matchLabels: {env: prod}}\n"             /* 2 */
	"      podSelector: {matchLabels: {app: web}}\n"
	"    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: other}}\n" /* 3 */
	"    - ipBlock: {cidr: 10.0.0.0/8}\n"                                /* 4 */
	"    - podSelector: {}\n";                                           /* 5 */

static void test_peers_and_policy(void **state)
{
	struct np_inventory *inv = np_inventory_new();
	struct np_diags d;
	np_diags_init(&d);
	np_inventory_load_buffer(inv, "inv.yaml", INVENTORY, sizeof(INVENTORY) - 1, 1, &d);
	np_inventory_finish(inv, &d);
	assert_int_equal(d.errors, 0);
	assert_int_equal(inv->n_pols, 1);
	assert_int_equal(inv->n_nss, 3); /* dev, other (implicit), prod */
	const struct np_pod *prod_web = np_inventory_pod(inv, "prod", "web");
	const struct np_pod *dev_web = np_inventory_pod(inv, "dev", "web");
	const struct np_pod *agent = np_inventory_pod(inv, "prod", "agent");
	const struct np_pod *lone = np_inventory_pod(inv, "other", "lone");
	assert_non_null(prod_web);
	assert_non_null(dev_web);
	assert_non_null(agent);
	assert_non_null(lone);
	assert_true(agent->host_network);
	const struct np_policy *p = &inv->pols[0];
	assert_int_equal(p->n_in, 1);
	assert_int_equal(p->in[0].n_peers, 6);
	const struct np_peer *pe = p->in[0].peers;

	assert_true(np_policy_selects_pod(p, prod_web));
	assert_false(np_policy_selects_pod(p, dev_web)); /* other namespace */
	assert_false(np_policy_selects_pod(p, agent));   /* host network: never */

	assert_true(np_peer_selects_pod(inv, "prod", &pe[0], prod_web));
	assert_false(np_peer_selects_pod(inv, "prod", &pe[0], dev_web));
	assert_true(np_peer_selects_pod(inv, "prod", &pe[1], dev_web));
	assert_true(np_peer_selects_pod(inv, "prod", &pe[1], lone)); /* implicit namespace too */
	assert_true(np_peer_selects_pod(inv, "prod", &pe[2], prod_web));
	assert_false(np_peer_selects_pod(inv, "prod", &pe[2], dev_web));
	assert_true(np_peer_selects_pod(inv, "prod", &pe[3], lone));
	assert_false(np_peer_selects_pod(inv, "prod", &pe[3], prod_web));
	assert_false(np_peer_selects_pod(inv, "prod", &pe[4], prod_web)); /* ipBlock: by address */
	assert_true(np_peer_selects_pod(inv, "prod", &pe[5], prod_web));
	assert_false(np_peer_selects_pod(inv, "prod", &pe[5], lone));
	for (int i = 0; i < 6; i++)
		assert_false(np_peer_selects_pod(inv, "prod", &pe[i], agent));
	/* the metadata.name label is on declared namespaces as well as implicit ones */
	assert_string_equal(np_labels_get(&np_inventory_namespace(inv, "prod")->labels,
					  "kubernetes.io/metadata.name"),
			    "prod");
	assert_true(np_inventory_namespace(inv, "other")->implicit);
	assert_false(np_inventory_namespace(inv, "prod")->implicit);
	assert_null(np_inventory_namespace(inv, "nope"));
	assert_null(np_inventory_pod(inv, "prod", "nope"));
	np_diags_free(&d);
	np_inventory_free(inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_and_absent),
		cmocka_unit_test(test_match_labels),
		cmocka_unit_test(test_operators),
		cmocka_unit_test(test_peers_and_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
