/* test_etcd_json — etcd's JSON gateway on the wire (netsetup/etcd_json.c), without an etcd:
 * the answers below have the shapes etcd 3.4.23's gateway gives (base64 keys and values, int64
 * as strings, defaults omitted). Checks: a range's kvs decoded; a missing key
 * (no kvs, no count); a transaction that failed (no "succeeded") with its failure ranges; a
 * keepalive of an expired lease (no TTL); watch messages (created, a PUT without "type", a
 * DELETE with prev_kv, a compaction cancel); both error shapes; bad input refused with a
 * reason; the builders' base64 and range ends. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etcd.h"

static int parse(const char *text, struct etcd_resp *r)
{
	char err[256];
	return etcd_parse(text, strlen(text), r, err, sizeof(err));
}

static void test_range(void **state)
{
	struct etcd_resp r;
	/* key "/netpol/networks/ov", value {"a":1} */
	assert_int_equal(parse("{\"header\":{\"cluster_id\":\"3796376740817163274\",\"revision\":\"7\"},"
			       "\"kvs\":[{\"key\":\"L25ldHBvbC9uZXR3b3Jrcy9vdg==\",\"create_revision\":\"2\","
			       "\"mod_revision\":\"5\",\"version\":\"3\",\"value\":\"eyJhIjoxfQ==\","
			       "\"lease\":\"4249324533724115240\"}],\"count\":\"1\"}", &r), 0);
	assert_int_equal(r.revision, 7);
	assert_int_equal(r.n_kvs, 1);
	assert_string_equal(r.kvs[0].key, "/netpol/networks/ov");
	assert_string_equal(r.kvs[0].value, "{\"a\":1}");
	assert_int_equal(r.kvs[0].value_len, 7);
	assert_int_equal(r.kvs[0].create_rev, 2);
	assert_int_equal(r.kvs[0].mod_rev, 5);
	assert_int_equal(r.kvs[0].lease, 4249324533724115240LL);
	assert_int_equal(r.count, 1);
	etcd_resp_free(&r);
	/* a missing key: header only */
	assert_int_equal(parse("{\"header\":{\"revision\":\"9\"}}", &r), 0);
	assert_int_equal(r.n_kvs, 0);
	assert_int_equal(r.count, 0);
	assert_false(r.is_error);
	etcd_resp_free(&r);
}

static void test_txn(void **state)
{
	struct etcd_resp r;
	assert_int_equal(parse("{\"header\":{\"revision\":\"4\"},\"succeeded\":true,\"responses\":"
			       "[{\"response_put\":{\"header\":{\"revision\":\"4\"}}}]}", &r), 0);
	assert_true(r.succeeded);
	etcd_resp_free(&r);
	/* a create-if-absent that lost: no "succeeded", the holder in the failure's range */
	assert_int_equal(parse("{\"header\":{\"revision\":\"5\"},\"responses\":[{\"response_range\":"
			       "{\"header\":{},\"kvs\":[{\"key\":\"YQ==\",\"value\":\"aG9zdEEvZXAx\","
			       "\"mod_revision\":\"4\"}],\"count\":\"1\"}},{\"response_range\":{\"header\":{}}},"
			       "{\"response_delete_range\":{\"deleted\":\"2\"}}]}", &r), 0);
	assert_false(r.succeeded);
	assert_int_equal(r.n_kvs, 1);
	assert_string_equal(r.kvs[0].key, "a");
	assert_string_equal(r.kvs[0].value, "hostA/ep1");
	assert_int_equal(r.deleted, 2);
	etcd_resp_free(&r);
}

static void test_lease(void **state)
{
	struct etcd_resp r;
	assert_int_equal(parse("{\"header\":{},\"ID\":\"4249324533724115240\",\"TTL\":\"4\"}", &r), 0);
	assert_int_equal(r.lease_id, 4249324533724115240LL);
	assert_int_equal(r.ttl, 4);
	etcd_resp_free(&r);
	/* keepalive of an expired lease: 200, and no TTL */
	assert_int_equal(parse("{\"result\":{\"header\":{\"revision\":\"11\"},\"ID\":\"42\"}}", &r), 0);
	assert_int_equal(r.lease_id, 42);
	assert_int_equal(r.ttl, 0);
	etcd_resp_free(&r);
}

static void test_watch(void **state)
{
	struct etcd_resp r;
	assert_int_equal(parse("{\"result\":{\"header\":{\"revision\":\"13\"},\"created\":true}}", &r), 0);
	assert_true(r.created);
	assert_int_equal(r.revision, 13);
	etcd_resp_free(&r);
	assert_int_equal(parse("{\"result\":{\"header\":{\"revision\":\"16\"},\"events\":["
			       "{\"kv\":{\"key\":\"YQ==\",\"mod_revision\":\"15\",\"value\":\"MQ==\"}},"
			       "{\"type\":\"DELETE\",\"kv\":{\"key\":\"Yg==\",\"mod_revision\":\"16\"},"
			       "\"prev_kv\":{\"key\":\"Yg==\",\"value\":\"Mg==\",\"mod_revision\":\"8\"}}]}}",
			       &r), 0);
	assert_int_equal(r.n_events, 2);
	assert_false(r.events[0].is_delete);
	assert_string_equal(r.events[0].kv.value, "1");
	assert_false(r.events[0].has_prev);
	assert_true(r.events[1].is_delete);
	assert_string_equal(r.events[1].kv.key, "b");
	assert_true(r.events[1].has_prev);
	assert_string_equal(r.events[1].prev.value, "2");
	etcd_resp_free(&r);
	assert_int_equal(parse("{\"result\":{\"header\":{},\"canceled\":true,\"compact_revision\":\"18\"}}",
			       &r), 0);
	assert_true(r.canceled);
	assert_int_equal(r.compact_revision, 18);
	etcd_resp_free(&r);
}

static void test_errors(void **state)
{
	struct etcd_resp r;
	assert_int_equal(parse("{\"error\":\"etcdserver: requested lease not found\",\"code\":5,"
			       "\"message\":\"etcdserver: requested lease not found\"}", &r), 0);
	assert_true(r.is_error);
	assert_int_equal(r.code, 5);
	assert_string_equal(r.error, "etcdserver: requested lease not found");
	etcd_resp_free(&r);
	assert_int_equal(parse("{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":"
			       "\"etcdserver: no leader\",\"http_status\":\"Service Unavailable\"}}", &r), 0);
	assert_true(r.is_error);
	assert_int_equal(r.code, 14);
	assert_string_equal(r.error, "etcdserver: no leader");
	etcd_resp_free(&r);
	/* an empty message does not hide the error's text (found by fuzz_etcd), nor is the
	 * error ever said as nothing */
	assert_int_equal(parse("{\"error\":\"not found\",\"code\":7,\"message\":\"\"}", &r), 0);
	assert_string_equal(r.error, "not found");
	etcd_resp_free(&r);
	assert_int_equal(parse("{\"error\":{\"grpc_code\":2,\"message\":\"\"}}", &r), 0);
	assert_string_equal(r.error, "unknown error (code 2)");
	etcd_resp_free(&r);
	/* refused, each with a reason */
	assert_int_equal(parse("", &r), -EBADMSG);
	etcd_resp_free(&r);
	assert_int_equal(parse("[1]", &r), -EBADMSG);
	etcd_resp_free(&r);
	assert_int_equal(parse("{\"kvs\":[{\"key\":\"!!\"}]}", &r), -EBADMSG);
	etcd_resp_free(&r);
	assert_int_equal(parse("{\"header\":{\"revision\":\"x7\"}}", &r), -EBADMSG);
	etcd_resp_free(&r);
	assert_int_equal(parse("{\"kvs\":{}}", &r), -EBADMSG);
	etcd_resp_free(&r);
}

static void test_builders(void **state)
{
	char *end = etcd_prefix_end("/netpol/");
	assert_string_equal(end, "/netpol0");
	free(end);
	json_t *j = etcd_b64("hostA/ep1", (size_t)-1);
	assert_string_equal(json_string_value(j), "aG9zdEEvZXAx");
	json_decref(j);
	j = etcd_b64("ab", (size_t)-1);
	assert_string_equal(json_string_value(j), "YWI=");
	json_decref(j);
	j = etcd_cmp_none_under("/p/endpoints/ov/");
	assert_string_equal(json_string_value(json_object_get(j, "range_end")),
			    "L3AvZW5kcG9pbnRzL292MA=="); /* "/p/endpoints/ov0" */
	assert_string_equal(json_string_value(json_object_get(j, "create_revision")), "0");
	json_decref(j);
	/* what a put encodes, a range decodes */
	j = etcd_op_put("k\xc3\xa9y", "v a l", 7);
	json_t *put = json_object_get(j, "request_put");
	json_t *ans = json_pack("{s:[{s:O,s:O,s:s}]}", "kvs", "key", json_object_get(put, "key"),
				"value", json_object_get(put, "value"), "lease", "7");
	char *text = json_dumps(ans, 0);
	json_decref(ans);
	struct etcd_resp r;
	assert_int_equal(parse(text, &r), 0);
	assert_string_equal(r.kvs[0].key, "k\xc3\xa9y");
	assert_string_equal(r.kvs[0].value, "v a l");
	assert_int_equal(r.kvs[0].lease, 7);
	etcd_resp_free(&r);
	free(text);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range),  cmocka_unit_test(test_txn),
		cmocka_unit_test(test_lease),  cmocka_unit_test(test_watch),
		cmocka_unit_test(test_errors), cmocka_unit_test(test_builders),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
