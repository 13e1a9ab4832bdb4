/* test_netsetup_ipam — address helpers and the file-backed IPAM: order of allocation, reserved
 * addresses, static requests, exhaustion without partial leases, release, IPv6, ranges. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ip.h"
#include "ipam.h"

static char dir[64], file[128];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/ns-ipam-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(file, sizeof(file), "%s/net.json", dir);
	return 0;
}

static int teardown(void **state)
{
	char path[160];

	unlink(file);
	snprintf(path, sizeof(path), "%s.lock", file);
	unlink(path);
	rmdir(dir);
	return 0;
}

static struct ns_ipam_pool pool(const char *subnet, const char *gw, const char *range)
{
	struct ns_ipam_pool p = { 0 };

	assert_int_equal(ns_prefix_parse(subnet, &p.subnet), 0);
	assert_int_equal(ns_prefix_parse(range ? range : subnet, &p.range), 0);
	if (gw)
		assert_int_equal(ns_ip_parse(gw, &p.gateway), 0);
	return p;
}

static const char *alloc1(const struct ns_ipam_pool *p, size_t n, const char *owner,
			  const char *want, int expect_rc, char *msg_out)
{
	static char buf[NS_IP_STRLEN];
	struct ns_ip out[2], w;
	struct ns_error e = { "" };
	int rc;

	if (want)
		assert_int_equal(ns_ip_parse(want, &w), 0);
	rc = ns_ipam_allocate(file, p, n, owner, want ? &w : NULL, want ? 1 : 0, out, &e);
	assert_int_equal(rc, expect_rc);
	if (msg_out)
		strcpy(msg_out, e.msg);
	return rc == 0 ? ns_ip_format(&out[0], buf) : NULL;
}

static void test_ip_helpers(void **state)
{
	struct ns_prefix p;
	struct ns_ip ip, last;
	char buf[NS_PREFIX_STRLEN];

	assert_int_equal(ns_prefix_parse("10.1.2.3/20", &p), 0);
	assert_string_equal(ns_prefix_format(&p, buf), "10.1.2.3/20");
	p = ns_prefix_network(&p);
	assert_string_equal(ns_prefix_format(&p, buf), "10.1.0.0/20");
	last = ns_prefix_last(&p);
	assert_string_equal(ns_ip_format(&last, buf), "10.1.15.255");
	ip = ns_ip_add(&last, 1);
	assert_string_equal(ns_ip_format(&ip, buf), "10.1.16.0");
	assert_false(ns_prefix_contains(&p, &ip));
	assert_true(ns_prefix_contains(&p, &last));
	assert_int_equal(ns_prefix_parse("fd00::ff/120", &p), 0);
	ip = ns_ip_add(&p.ip, 1);
	assert_string_equal(ns_ip_format(&ip, buf), "fd00::100");
	assert_false(ns_prefix_contains(&p, &ip));
	assert_int_equal(ns_prefix_parse("10.0.0.0/33", &p), -EINVAL);
	assert_int_equal(ns_prefix_parse("10.0.0/8", &p), -EINVAL);
	assert_int_equal(ns_prefix_parse("fd00::/", &p), -EINVAL);
	assert_int_equal(ns_ip_parse("10.0.0.1", &ip), 0);
	assert_int_equal(ns_prefix_contains(&p, &ip), false); /* other family */
}

static void test_order_reserved_static(void **state)
{
	struct ns_ipam_pool p = pool("10.0.0.0/29", "10.0.0.1", NULL);
	char msg[512];

	/* .0 network, .1 gateway, .7 broadcast are never handed out. */
	assert_string_equal(alloc1(&p, 1, "a", NULL, 0, NULL), "10.0.0.2");
	assert_string_equal(alloc1(&p, 1, "b", "10.0.0.5", 0, NULL), "10.0.0.5");
	assert_string_equal(alloc1(&p, 1, "c", NULL, 0, NULL), "10.0.0.3");
	alloc1(&p, 1, "d", "10.0.0.5", -EADDRINUSE, msg);
	assert_non_null(strstr(msg, "10.0.0.5 is already in use by b"));
	alloc1(&p, 1, "d", "10.0.0.1", -EADDRNOTAVAIL, msg);
	assert_non_null(strstr(msg, "reserved"));
	alloc1(&p, 1, "d", "10.0.0.7", -EADDRNOTAVAIL, NULL);
	alloc1(&p, 1, "d", "10.0.0.0", -EADDRNOTAVAIL, NULL);
	alloc1(&p, 1, "d", "10.0.1.2", -EINVAL, msg);
	assert_non_null(strstr(msg, "not in any subnet"));
	assert_string_equal(alloc1(&p, 1, "d", NULL, 0, NULL), "10.0.0.4");
	assert_string_equal(alloc1(&p, 1, "e", NULL, 0, NULL), "10.0.0.6");
	alloc1(&p, 1, "f", NULL, -ENOSPC, msg);
	assert_non_null(strstr(msg, "no free address left in 10.0.0.0/29"));
	/* Release frees exactly the owner's address, which is then the lowest free one. */
	assert_int_equal(ns_ipam_release(file, "c", NULL), 0);
	assert_int_equal(ns_ipam_release(file, "nobody", NULL), 0);
	assert_string_equal(alloc1(&p, 1, "g", NULL, 0, NULL), "10.0.0.3");
}

static void test_dual_stack_all_or_nothing(void **state)
{
	struct ns_ipam_pool p[2] = { pool("10.0.0.0/30", "10.0.0.1", NULL),
				     pool("fd00::/64", "fd00::1", NULL) };
	struct ns_ip out[2];
	size_t n;
	char buf[NS_IP_STRLEN];

	assert_int_equal(ns_ipam_allocate(file, p, 2, "a", NULL, 0, out, NULL), 0);
	assert_string_equal(ns_ip_format(&out[0], buf), "10.0.0.2");
	assert_string_equal(ns_ip_format(&out[1], buf), "fd00::2");
	/* The /30 is full now: the IPv6 half must not be leased either. */
	assert_int_equal(ns_ipam_allocate(file, p, 2, "b", NULL, 0, out, NULL), -ENOSPC);
	assert_int_equal(ns_ipam_count(file, &n, NULL), 0);
	assert_int_equal(n, 2);
	/* A static IPv6 request goes to the IPv6 pool; the IPv4 pool picks its lowest free. */
	assert_int_equal(ns_ipam_release(file, "a", NULL), 0);
	assert_int_equal(ns_ip_parse("fd00::99", &out[0]), 0);
	struct ns_ip want = out[0];
	assert_int_equal(ns_ipam_allocate(file, p, 2, "c", &want, 1, out, NULL), 0);
	assert_string_equal(ns_ip_format(&out[0], buf), "10.0.0.2");
	assert_string_equal(ns_ip_format(&out[1], buf), "fd00::99");
	assert_int_equal(ns_ipam_count(file, &n, NULL), 0);
	assert_int_equal(n, 2);
}

static void test_range(void **state)
{
	struct ns_ipam_pool p = pool("10.0.0.0/24", "10.0.0.1", "10.0.0.128/30");

	/* Only inside the range: 128..131 (the subnet's network/broadcast are elsewhere). */
	assert_string_equal(alloc1(&p, 1, "a", NULL, 0, NULL), "10.0.0.128");
	assert_string_equal(alloc1(&p, 1, "b", NULL, 0, NULL), "10.0.0.129");
	assert_string_equal(alloc1(&p, 1, "c", NULL, 0, NULL), "10.0.0.130");
	assert_string_equal(alloc1(&p, 1, "d", NULL, 0, NULL), "10.0.0.131");
	alloc1(&p, 1, "e", NULL, -ENOSPC, NULL);
	/* A static address outside the range but inside the subnet is still honoured. */
	assert_string_equal(alloc1(&p, 1, "e", "10.0.0.9", 0, NULL), "10.0.0.9");
}

static void test_corrupt_file_refused(void **state)
{
	struct ns_ipam_pool p = pool("10.0.0.0/24", "10.0.0.1", NULL);
	struct ns_error e = { "" };
	struct ns_ip out;
	FILE *f = fopen(file, "w");

	assert_non_null(f);
	fputs("{not json", f);
	fclose(f);
	assert_int_equal(ns_ipam_allocate(file, &p, 1, "a", NULL, 0, &out, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, file));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip_helpers),
		cmocka_unit_test_setup_teardown(test_order_reserved_static, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dual_stack_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_file_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
