/* test_reach.c — enforcer/lib/reach.c, the one piece behind netpol reach/explain and policyd's
 * /api/v1/reach and /api/v1/explain: the pods of one namespace, the matrix, the explain JSON,
 * and the port and protocol arguments both take. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reach.h"

/* x/a admits only x/b; y/a is open; y/h is host-network (never in the table). */
#define INV                                                                                      \
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n"                            \
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: 'y'}\n---\n"                          \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x, labels: {pod: a}}\n"      \
	"status: {podIPs: [{ip: 10.0.0.1}]}\n---\n"                                              \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: x, labels: {pod: b}}\n"      \
	"status: {podIPs: [{ip: 10.0.0.2}]}\n---\n"                                              \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: 'y', labels: {pod: a}}\n"    \
	"status: {podIPs: [{ip: 10.0.1.1}]}\n---\n"                                              \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: h, namespace: 'y'}\n"                      \
	"spec: {hostNetwork: true}\nstatus: {podIPs: [{ip: 192.168.0.1}]}\n---\n"               \
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"                                \
	"metadata: {name: a-from-b, namespace: x}\n"                                             \
	"spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{podSelector:"           \
	" {matchLabels: {pod: b}}}], ports: [{port: 80}]}]}\n"

static struct np_inventory *load(void)
{
	struct np_diags d;
	np_diags_init(&d);
	struct np_inventory *inv = np_inventory_new();
	assert_non_null(inv);
	assert_int_equal(np_inventory_load_buffer(inv, "t.yaml", INV, strlen(INV), 1, &d), 0);
	np_inventory_finish(inv, &d);
	assert_int_equal(d.errors, 0);
	np_diags_free(&d);
	return inv;
}

static void test_parse_args(void **state)
{
	uint16_t port = 0;
	enum np_proto proto = NP_PROTO_UDP;
	assert_int_equal(reach_parse_port_proto("80", &port, &proto), 0);
	assert_int_equal(port, 80);
	assert_int_equal(proto, NP_PROTO_TCP);
	assert_int_equal(reach_parse_port_proto("53/udp", &port, &proto), 0);
	assert_int_equal(port, 53);
	assert_int_equal(proto, NP_PROTO_UDP);
	assert_int_equal(reach_parse_port_proto("9/SCTP", &port, &proto), 0);
	assert_int_equal(proto, NP_PROTO_SCTP);
	assert_int_equal(reach_parse_port_proto("80/ICMP", &port, &proto), -EPROTONOSUPPORT);
	assert_int_equal(reach_parse_port_proto("0", &port, &proto), -EINVAL);
	assert_int_equal(reach_parse_port_proto("65536", &port, &proto), -EINVAL);
	assert_int_equal(reach_parse_port_proto("80x", &port, &proto), -EINVAL);
	assert_int_equal(reach_parse_port_proto("", &port, &proto), -EINVAL);
	assert_int_equal(reach_parse_port_proto("99999999999999999999/TCP", &port, &proto),
			 -EINVAL);
	assert_int_equal(reach_parse_port(NULL, &port), -EINVAL);
	assert_int_equal(reach_parse_proto(NULL, &proto), 0); /* the default */
	assert_int_equal(proto, NP_PROTO_TCP);
}

static void test_matrix_of_one_namespace(void **state)
{
	struct np_inventory *inv = load();
	size_t n;
	struct reach_pod *pods = reach_pods(inv, 4, "x", &n);
	assert_int_equal(n, 2);
	assert_string_equal(pods[0].label, "x/a");
	assert_string_equal(pods[1].label, "x/b");
	struct np_eval *ev = np_eval_new(inv);
	unsigned char *m = reach_matrix(ev, pods, n, NP_PROTO_TCP, 80);
	assert_int_equal(m[0 * n + 1], 1); /* x/a -> x/b: x/b is not isolated */
	assert_int_equal(m[1 * n + 0], 1); /* x/b -> x/a:80: a-from-b */
	json_t *j = reach_json(pods, n, m, NP_PROTO_TCP, 80, 4);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "probe"), "port")), 80);
	assert_int_equal(json_array_size(json_object_get(j, "pods")), 2);
	json_decref(j);
	free(m);
	free(pods);

	/* every namespace: the host-network pod is left out */
	pods = reach_pods(inv, 4, NULL, &n);
	assert_int_equal(n, 3);
	m = reach_matrix(ev, pods, n, NP_PROTO_TCP, 81);
	assert_int_equal(m[1 * n + 0], 0); /* x/b -> x/a:81: no port of the rule */
	assert_int_equal(m[2 * n + 0], 0); /* y/a -> x/a: not x/b */
	free(m);
	free(pods);
	pods = reach_pods(inv, 6, NULL, &n); /* no pod has IPv6 */
	assert_int_equal(n, 0);
	free(pods);
	np_eval_free(ev);
	np_inventory_free(inv);
}

static void test_explain_json(void **state)
{
	struct np_inventory *inv = load();
	struct np_eval *ev = np_eval_new(inv);
	struct np_flow f = { .proto = NP_PROTO_TCP, .port = 80 };
	assert_int_equal(np_endpoint_pod(np_inventory_pod(inv, "y", "a"), 4, &f.src), 0);
	assert_int_equal(np_endpoint_pod(np_inventory_pod(inv, "x", "a"), 4, &f.dst), 0);
	struct np_verdict vd;
	assert_int_equal(np_eval_explain(ev, &f, &vd), 0);
	json_t *j = reach_explain_json(&f, &vd, 4);
	assert_string_equal(json_string_value(json_object_get(j, "verdict")), "DROPPED");
	json_t *in = json_object_get(j, "ingress");
	assert_string_equal(json_string_value(json_object_get(in, "at")), "x/a");
	assert_string_equal(json_string_value(json_array_get(json_object_get(in, "isolating"), 0)),
			    "x/a-from-b");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "flow"), "from")),
			    "y/a");
	json_decref(j);
	np_verdict_clear(&vd);
	np_eval_free(ev);
	np_inventory_free(inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_args),
		cmocka_unit_test(test_matrix_of_one_namespace),
		cmocka_unit_test(test_explain_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
