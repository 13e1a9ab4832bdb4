/* test_cni_spec — the CNI protocol without a kernel: configuration keys and their errors,
 * CNI_ARGS, version comparison and negotiation limits, result conversion between the 0.x and
 * 1.x shapes, prevResult reading and the error object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cni_spec.h"

static int parse(const char *text, enum cni_cmd cmd, struct cni_conf *c, struct cni_err *e)
{
	memset(e, 0, sizeof(*e));
	return cni_conf_parse(text, cmd, c, e);
}

static void test_conf(void **state)
{
	struct cni_conf c;
	struct cni_err e;
	assert_int_equal(parse("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"netpol-cni\","
			       "\"policyDir\":\"/p\",\"timeout\":0.25,\"unknown\":[1],"
			       "\"labels\":{\"a\":\"1\"},\"args\":{\"cni\":{\"labels\":[{\"key\":\"b\",\"value\":\"2\"}]}},"
			       "\"runtimeConfig\":{\"labels\":{\"c\":\"3\"}},"
			       "\"capabilities\":{\"labels\":true}}", CNI_CMD_ADD, &c, &e), 0);
	assert_string_equal(c.state_dir, "/run/netpol");
	assert_string_equal(c.ns_default, "default");
	assert_int_equal(c.timeout_ms, 250);
	assert_null(c.prev);
	assert_int_equal(json_object_size(c.labels), 3);
	assert_string_equal(json_string_value(json_object_get(c.labels, "b")), "2");
	cni_conf_free(&c);

	static const struct { const char *text; enum cni_cmd cmd; int code; } bad[] = {
		{ "{", CNI_CMD_ADD, CNI_ERR_DECODE },
		{ "[]", CNI_CMD_ADD, CNI_ERR_DECODE },
		{ "{\"cniVersion\":\"0.2.0\",\"name\":\"n\"}", CNI_CMD_ADD, CNI_ERR_INCOMPATIBLE },
		{ "{\"name\":\"n\",\"policyDir\":\"/p\"}", CNI_CMD_ADD, CNI_ERR_INVALID_CONFIG },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", CNI_CMD_ADD, CNI_ERR_INVALID_CONFIG },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"a b\",\"policyDir\":\"/p\"}", CNI_CMD_ADD, CNI_ERR_INVALID_CONFIG },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"policyDir\":\"rel\"}", CNI_CMD_ADD, CNI_ERR_INVALID_CONFIG },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"policyDir\":\"/p\",\"timeout\":-1}", CNI_CMD_ADD, CNI_ERR_INVALID_CONFIG },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"policyDir\":\"/p\",\"labels\":{\"a\":1}}", CNI_CMD_ADD, CNI_ERR_INVALID_CONFIG },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"policyDir\":\"/p\",\"network\":\"x\",\"driver\":\"bridge\"}", CNI_CMD_ADD, CNI_ERR_INVALID_CONFIG },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"policyDir\":\"/p\",\"prevResult\":3}", CNI_CMD_ADD, CNI_ERR_INVALID_CONFIG },
		{ "{\"cniVersion\":\"0.3.1\",\"name\":\"n\",\"policyDir\":\"/p\"}", CNI_CMD_CHECK, CNI_ERR_INCOMPATIBLE },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"policyDir\":\"/p\"}", CNI_CMD_GC, CNI_ERR_INCOMPATIBLE },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", CNI_CMD_STATUS, CNI_ERR_INCOMPATIBLE },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i].text, bad[i].cmd, &c, &e), -1);
		if (e.code != bad[i].code)
			fail_msg("case %zu: code %d, want %d (%s)", i, e.code, bad[i].code, bad[i].text);
		assert_true(e.msg[0] != '\0');
		cni_conf_free(&c);
	}
	/* VERSION answers any input; STATUS needs no policyDir */
	assert_int_equal(parse("{\"cniVersion\":\"9.9.9\"}", CNI_CMD_VERSION, &c, &e), 0);
	cni_conf_free(&c);
	assert_int_equal(parse("{\"cniVersion\":\"1.1.0\",\"name\":\"n\"}", CNI_CMD_STATUS, &c, &e), 0);
	cni_conf_free(&c);
	/* GC accepts both keys for the valid attachments */
	assert_int_equal(parse("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"policyDir\":\"/p\","
			       "\"cni.dev/attachments\":[{\"containerID\":\"a\",\"ifname\":\"eth0\"}]}",
			       CNI_CMD_GC, &c, &e), 0);
	assert_int_equal(json_array_size(c.valid), 1);
	cni_conf_free(&c);
}

static void test_args(void **state)
{
	struct cni_args a;
	struct cni_err e;
	assert_int_equal(cni_args_parse("K8S_POD_UID=u;IgnoreUnknown=1;K8S_POD_NAME=web;"
					"K8S_POD_NAMESPACE=x;IP=10.0.0.5", &a, &e), 0);
	assert_string_equal(a.pod_ns, "x");
	assert_string_equal(a.pod_name, "web");
	assert_string_equal(a.ips, "10.0.0.5");
	assert_int_equal(cni_args_parse(NULL, &a, &e), 0);
	assert_string_equal(a.pod_name, "");
	assert_int_equal(cni_args_parse("K8S_POD_NAME", &a, &e), -1);
	assert_int_equal(e.code, CNI_ERR_INVALID_ENV);
	assert_int_equal(cni_args_parse("K8S_POD_NAME=a/b", &a, &e), -1);
}

static void test_versions(void **state)
{
	assert_true(cni_version_cmp("1.0.0", "0.4.0") > 0);
	assert_true(cni_version_cmp("0.3.1", "0.4.0") < 0);
	assert_int_equal(cni_version_cmp("1.1.0", "1.1.0"), 0);
	assert_true(cni_version_supported("0.3.1"));
	assert_true(cni_version_supported("1.1.0"));
	assert_false(cni_version_supported("0.2.0"));
	assert_false(cni_version_supported(NULL));
	json_t *v = cni_version_result("0.4.0");
	assert_string_equal(json_string_value(json_object_get(v, "cniVersion")), "0.4.0");
	assert_int_equal(json_array_size(json_object_get(v, "supportedVersions")), 5);
	json_decref(v);
}

static void test_result_convert(void **state)
{
	struct cni_err e;
	json_t *r = json_loads("{\"cniVersion\":\"1.1.0\",\"interfaces\":[{\"name\":\"eth0\",\"mtu\":1400,"
			       "\"sandbox\":\"/n\"}],\"ips\":[{\"address\":\"10.0.0.2/24\",\"interface\":0},"
			       "{\"address\":\"fd00::2/64\",\"interface\":0}],"
			       "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"priority\":5}]}", 0, NULL);
	json_t *out = NULL;
	assert_int_equal(cni_result_convert(r, "0.4.0", &out, &e), 0);
	assert_string_equal(json_string_value(json_object_get(out, "cniVersion")), "0.4.0");
	json_t *ips = json_object_get(out, "ips");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ips, 0), "version")), "4");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ips, 1), "version")), "6");
	assert_null(json_object_get(json_array_get(json_object_get(out, "interfaces"), 0), "mtu"));
	assert_null(json_object_get(json_array_get(json_object_get(out, "routes"), 0), "priority"));
	json_t *back = NULL;
	assert_int_equal(cni_result_convert(out, "1.0.0", &back, &e), 0);
	assert_null(json_object_get(json_array_get(json_object_get(back, "ips"), 0), "version"));
	json_decref(back);
	json_decref(out);
	/* the original is untouched; the same version passes through equal */
	assert_int_equal(cni_result_convert(r, "1.1.0", &out, &e), 0);
	assert_true(json_equal(out, r));
	json_decref(out);
	json_object_set_new(r, "cniVersion", json_string("0.1.0"));
	assert_int_equal(cni_result_convert(r, "1.0.0", &out, &e), -1);
	assert_int_equal(e.code, CNI_ERR_INCOMPATIBLE);
	json_decref(r);
}

static void test_prev(void **state)
{
	struct cni_err e;
	struct cni_prev p;
	json_t *r = json_loads("{\"interfaces\":[{\"name\":\"br0\"},{\"name\":\"veth1\"},"
			       "{\"name\":\"eth0\",\"mac\":\"02:00:00:00:00:01\",\"sandbox\":\"/n\"},"
			       "{\"name\":\"net1\",\"sandbox\":\"/n\"}],"
			       "\"ips\":[{\"address\":\"10.0.0.2/24\",\"interface\":2},"
			       "{\"address\":\"10.1.0.2/24\",\"interface\":3},"
			       "{\"address\":\"10.0.0.3/24\",\"interface\":2},"
			       "{\"address\":\"fd00::2/64\",\"interface\":2}]}", 0, NULL);
	assert_int_equal(cni_prev_parse(r, "eth0", &p, &e), 0);
	assert_int_equal(p.n_addrs, 2); /* the first of each family, of eth0 only */
	assert_string_equal(p.addrs[0], "10.0.0.2/24");
	assert_string_equal(p.addrs[1], "fd00::2/64");
	assert_string_equal(p.host_if, "veth1");
	assert_int_equal(p.n_host_ifs, 2);
	assert_string_equal(p.mac, "02:00:00:00:00:01");
	assert_int_equal(cni_prev_parse(r, "eth9", &p, &e), -1);
	assert_int_equal(e.code, CNI_ERR_INVALID_CONFIG);
	json_decref(r);
	/* an IPAM-shaped result (no interfaces, no indexes): every address counts; no host side */
	r = json_loads("{\"ips\":[{\"address\":\"10.0.0.9/24\"}]}", 0, NULL);
	assert_int_equal(cni_prev_parse(r, "eth0", &p, &e), 0);
	assert_int_equal(p.n_addrs, 1);
	assert_int_equal(p.n_host_ifs, 0);
	json_decref(r);
}

static void test_err_json(void **state)
{
	struct cni_err e;
	assert_int_equal(cni_fail(&e, 11, "try later", "after %d ms", 5), -1);
	json_t *j = cni_err_json(&e, "0.4.0");
	assert_string_equal(json_string_value(json_object_get(j, "cniVersion")), "0.4.0");
	assert_int_equal(json_integer_value(json_object_get(j, "code")), 11);
	assert_string_equal(json_string_value(json_object_get(j, "details")), "after 5 ms");
	json_decref(j);
	cni_fail(&e, 4, "bad env", NULL);
	j = cni_err_json(&e, "7.7.7"); /* an unsupported version: answer in ours */
	assert_string_equal(json_string_value(json_object_get(j, "cniVersion")), "1.1.0");
	assert_null(json_object_get(j, "details"));
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_result_convert),
		cmocka_unit_test(test_prev),
		cmocka_unit_test(test_err_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
