/* test_flows.c — flow records (enforcer/lib/flowrec.c, flowfilter.c, flowring.c) without the
 * kernel: a record survives JSON and back (netpol's own form, bare or wrapped, and a loss), a
 * Hubble line without netpol's fields parses, each filter key accepts and refuses what it
 * says, and the ring's cursors count what a slow reader lost. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "flowrec.h"
#include "flowring.h"

/* A drop of y/a -> x/a:80 at x/a's ingress, named. */
static void drop_rec(struct flow_rec *r, uint16_t sport)
{
	flow_rec_init(r);
	r->time_ns = 1796672852123456789LL;
	r->event = FLOW_EV_LOG;
	r->node = flow_rec_strdup(r, "node-1");
	r->verdict = FLOW_DROPPED;
	r->dir = FLOW_INGRESS;
	r->family = 4;
	r->proto = IPPROTO_TCP;
	r->tcp_flags = 0x02;
	r->is_reply = 0;
	np_addr_parse("10.0.0.21", &r->src.addr);
	np_addr_parse("10.0.0.11", &r->dst.addr);
	r->src.port = sport;
	r->dst.port = 80;
	r->src.ns = flow_rec_strdup(r, "y");
	r->src.pod = flow_rec_strdup(r, "a");
	r->dst.ns = flow_rec_strdup(r, "x");
	r->dst.pod = flow_rec_strdup(r, "a");
	r->dst.labels = flow_rec_alloc(r, sizeof(char *));
	r->dst.labels[r->dst.n_labels++] = flow_rec_strdup(r, "k8s:pod=a");
	flow_pols_add(r, &r->side[FLOW_SIDE_INGRESS].denied, "NetworkPolicy", "x", "a-from-b");
	flow_pols_add(r, &r->side[FLOW_SIDE_INGRESS].isolated, "NetworkPolicy", "x", "a-from-b");
	flow_pols_add(r, &r->side[FLOW_SIDE_EGRESS].allowed, "ClusterNetworkPolicy", "", "guard");
	r->side[FLOW_SIDE_EGRESS].rule = flow_rec_strdup(r, "egress[1]");
	r->folded = 3;
}

static void test_json_roundtrip(void **state)
{
	struct flow_rec r, back;
	drop_rec(&r, 40000);
	r.seq = 7;
	json_t *bare = flow_rec_json(&r), *wrapped = flow_rec_envelope(&r);
	char *a = json_dumps(bare, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(strstr(a, "\"drop_reason_desc\":\"POLICY_DENIED\""));
	assert_non_null(strstr(a, "\"flags\":{\"SYN\":true}"));
	assert_non_null(strstr(a, "\"time\":\"2026-12-07T19:47:32.123456789Z\""));
	for (int k = 0; k < 2; k++) {
		assert_int_equal(flow_rec_from_json(k ? wrapped : bare, &back), 0);
		json_t *again = flow_rec_json(&back);
		char *b = json_dumps(again, JSON_COMPACT | JSON_SORT_KEYS);
		assert_string_equal(a, b); /* the record read back renders the same */
		free(b);
		json_decref(again);
		flow_rec_clear(&back);
	}
	free(a);
	json_decref(bare);
	json_decref(wrapped);
	flow_rec_clear(&r);
	/* a loss */
	flow_rec_init(&r);
	r.event = FLOW_EV_LOST;
	r.lost_source = "nflog";
	r.lost = 140;
	json_t *j = flow_rec_json(&r);
	assert_int_equal(flow_rec_from_json(j, &back), 0);
	assert_int_equal(back.event, FLOW_EV_LOST);
	assert_int_equal(back.lost, 140);
	assert_string_equal(back.lost_source, "nflog");
	flow_rec_clear(&back);
	json_decref(j);
	(void)state;
}

static void test_hubble_line(void **state)
{
	const char *line =
		"{\"flow\":{\"time\":\"2023-08-21T12:12:18.510175415Z\",\"verdict\":\"DROPPED\","
		"\"IP\":{\"source\":\"10.244.1.60\",\"destination\":\"10.244.1.5\",\"ipVersion\":\"IPv4\"},"
		"\"l4\":{\"TCP\":{\"source_port\":44916,\"destination_port\":80,\"flags\":{\"SYN\":true}}},"
		"\"source\":{\"namespace\":\"default\",\"pod_name\":\"xwing\"},\"destination\":"
		"{\"namespace\":\"default\",\"pod_name\":\"deathstar\"},\"node_name\":\"kind-worker\","
		"\"drop_reason_desc\":\"POLICY_DENIED\"},\"node_name\":\"kind-worker\","
		"\"time\":\"2023-08-21T12:12:18.510175415Z\"}";
	json_t *j = json_loads(line, 0, NULL);
	struct flow_rec r;
	assert_int_equal(flow_rec_from_json(j, &r), 0);
	assert_int_equal(r.verdict, FLOW_DROPPED);
	assert_int_equal(r.proto, IPPROTO_TCP);
	assert_int_equal(r.src.port, 44916);
	assert_int_equal(r.tcp_flags, 0x02);
	assert_string_equal(r.src.pod, "xwing");
	assert_int_equal(r.time_ns % 1000000000, 510175415);
	assert_int_equal(r.folded, 1);
	flow_rec_clear(&r);
	json_decref(j);
	j = json_loads("{\"verdict\":\"DROPPED\"}", 0, NULL); /* no time: no record */
	assert_int_equal(flow_rec_from_json(j, &r), -EINVAL);
	json_decref(j);
	(void)state;
}

/* Whether a filter of one key and value matches the drop record. */
static int matches(const char *key, const char *value)
{
	char err[256];
	struct flow_filter *f = flow_filter_new();
	if (flow_filter_add(f, key, value, err, sizeof(err)) < 0) {
		flow_filter_free(f);
		return -1;
	}
	struct flow_rec r;
	drop_rec(&r, 40000);
	bool m = flow_filter_match(f, &r);
	flow_rec_clear(&r);
	flow_filter_free(f);
	return m;
}

static void test_filters(void **state)
{
	assert_int_equal(matches("verdict", "DROPPED"), 1);
	assert_int_equal(matches("verdict", "denied"), 1);
	assert_int_equal(matches("verdict", "ALLOWED"), 0);
	assert_int_equal(matches("verdict", "BOGUS"), -1);
	assert_int_equal(matches("namespace", "y"), 1);
	assert_int_equal(matches("namespace", "z"), 0);
	assert_int_equal(matches("pod", "x/a"), 1);
	assert_int_equal(matches("from-pod", "x/a"), 0);
	assert_int_equal(matches("to-pod", "x/a"), 1);
	assert_int_equal(matches("pod", "a"), 0);   /* namespace default */
	assert_int_equal(matches("pod", "x/"), -1);
	assert_int_equal(matches("ip", "10.0.0.0/24"), 1);
	assert_int_equal(matches("ip", "10.0.0.12"), 0);
	assert_int_equal(matches("port", "80"), 1);
	assert_int_equal(matches("port", "40000"), 1);
	assert_int_equal(matches("port", "81"), 0);
	assert_int_equal(matches("port", "65536"), -1);
	assert_int_equal(matches("protocol", "TCP"), 1);
	assert_int_equal(matches("protocol", "icmp"), 0);
	assert_int_equal(matches("policy", "x/a-from-b"), 1);
	assert_int_equal(matches("policy", "CNP/guard"), 1);
	assert_int_equal(matches("policy", "guard"), 1);
	assert_int_equal(matches("policy", "y/a-from-b"), 0);
	assert_int_equal(matches("since", "2026-12-07T19:47:32Z"), 1);
	assert_int_equal(matches("since", "2026-12-07T19:47:33+00:00"), 0);
	assert_int_equal(matches("since", "5x"), -1);
	assert_int_equal(matches("colour", "red"), -1);
	/* repeated: any; different: all; the filter goes over JSON and back */
	char err[256];
	struct flow_filter *f = flow_filter_new(), *g = NULL;
	assert_int_equal(flow_filter_add(f, "verdict", "AUDIT", err, sizeof(err)), 0);
	assert_int_equal(flow_filter_add(f, "verdict", "DROPPED", err, sizeof(err)), 0);
	assert_int_equal(flow_filter_add(f, "port", "81", err, sizeof(err)), 0);
	json_t *j = flow_filter_json(f);
	assert_int_equal(flow_filter_from_json(j, &g, err, sizeof(err)), 0);
	struct flow_rec r;
	drop_rec(&r, 40000);
	assert_false(flow_filter_match(f, &r));
	assert_false(flow_filter_match(g, &r));
	r.dst.port = 81;
	assert_true(flow_filter_match(f, &r));
	assert_true(flow_filter_match(g, &r));
	r.event = FLOW_EV_LOST; /* a loss passes every filter */
	r.dst.port = 1;
	assert_true(flow_filter_match(f, &r));
	flow_rec_clear(&r);
	json_decref(j);
	flow_filter_free(f);
	flow_filter_free(g);
	(void)state;
}

static void test_ring(void **state)
{
	struct flow_ring *ring = flow_ring_new(4);
	assert_int_equal(flow_ring_first(ring), 1);
	assert_int_equal(flow_ring_next(ring), 1);
	for (uint16_t i = 0; i < 6; i++) {
		struct flow_rec r;
		drop_rec(&r, (uint16_t)(1000 + i));
		assert_int_equal(flow_ring_push(ring, &r), i + 1);
		assert_null(r.mem); /* moved in */
	}
	/* 6 pushed into 4: seq 3..6 held, 1 and 2 gone */
	assert_int_equal(flow_ring_first(ring), 3);
	assert_int_equal(flow_ring_next(ring), 7);
	assert_null(flow_ring_get(ring, 2));
	assert_null(flow_ring_get(ring, 7));
	assert_int_equal(flow_ring_get(ring, 3)->src.port, 1002);
	assert_int_equal(flow_ring_get(ring, 6)->seq, 6);
	char err[256];
	struct flow_filter *f = flow_filter_new();
	assert_int_equal(flow_ring_last(ring, f, 2), 5);
	assert_int_equal(flow_ring_last(ring, f, 10), 3);
	assert_int_equal(flow_filter_add(f, "port", "1004", err, sizeof(err)), 0);
	assert_int_equal(flow_ring_last(ring, f, 1), 5);
	flow_filter_free(f);
	f = flow_filter_new();
	assert_int_equal(flow_filter_add(f, "port", "9", err, sizeof(err)), 0);
	assert_int_equal(flow_ring_last(ring, f, 3), 7); /* none match: from the next */
	flow_filter_free(f);
	flow_ring_free(ring);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_roundtrip),
		cmocka_unit_test(test_hubble_line),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_ring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
