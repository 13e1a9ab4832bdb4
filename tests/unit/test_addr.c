/* test_addr — address and CIDR parsing, masking, containment, ordering and text forms. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "model.h"

static void test_addr_parse(void **state)
{
	struct np_addr a;
	char buf[64];
	assert_int_equal(np_addr_parse("10.1.2.3", &a), 0);
	assert_int_equal(a.family, 4);
	assert_memory_equal(a.b, ((uint8_t[]){ 10, 1, 2, 3 }), 4);
	assert_string_equal(np_addr_str(&a, buf), "10.1.2.3");
	assert_int_equal(np_addr_parse("fd00::1", &a), 0);
	assert_int_equal(a.family, 6);
	assert_int_equal(a.b[0], 0xfd);
	assert_int_equal(a.b[15], 1);
	assert_string_equal(np_addr_str(&a, buf), "fd00::1");
	/* IPv4-mapped stays IPv6 */
	assert_int_equal(np_addr_parse("::ffff:10.0.0.1", &a), 0);
	assert_int_equal(a.family, 6);
	const char *bad[] = { "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "010.0.0.1", " 1.2.3.4",
			      "1.2.3.4 ", "fd00::g", "fd00:::1", "10.0.0.0/8", "localhost" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a.family = 99;
		assert_int_equal(np_addr_parse(bad[i], &a), -EINVAL);
		assert_int_equal(a.family, 99); /* out-parameter untouched on failure */
	}
}

static void test_cidr_parse_and_mask(void **state)
{
	struct np_cidr c;
	bool hb = false;
	char buf[64];
	assert_int_equal(np_cidr_parse("10.1.2.3/8", &c, &hb), 0);
	assert_true(hb);
	assert_string_equal(np_cidr_str(&c, buf), "10.0.0.0/8");
	assert_int_equal(np_cidr_parse("10.0.0.0/8", &c, &hb), 0);
	assert_false(hb);
	assert_int_equal(np_cidr_parse("192.168.1.129/25", &c, &hb), 0);
	assert_true(hb);
	assert_string_equal(np_cidr_str(&c, buf), "192.168.1.128/25");
	assert_int_equal(np_cidr_parse("192.168.1.128/25", &c, &hb), 0);
	assert_false(hb);
	assert_int_equal(np_cidr_parse("0.0.0.0/0", &c, &hb), 0);
	assert_int_equal(c.prefix, 0);
	assert_int_equal(np_cidr_parse("1.2.3.4/0", &c, &hb), 0);
	assert_true(hb);
	assert_string_equal(np_cidr_str(&c, buf), "0.0.0.0/0");
	assert_int_equal(np_cidr_parse("1.2.3.4/32", &c, &hb), 0);
	assert_false(hb);
	assert_int_equal(np_cidr_parse("fd00:1:2:3::5/64", &c, &hb), 0);
	assert_true(hb);
	assert_string_equal(np_cidr_str(&c, buf), "fd00:1:2:3::/64");
	assert_int_equal(np_cidr_parse("fd00::ff/121", &c, &hb), 0);
	assert_true(hb);
	assert_string_equal(np_cidr_str(&c, buf), "fd00::80/121");
	assert_int_equal(np_cidr_parse("::/0", &c, &hb), 0);
	assert_int_equal(np_cidr_parse("fd00::1/128", &c, NULL), 0); /* host_bits_set optional */
	const char *bad[] = { "10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/-1",
			      "10.0.0.0/+8", "10.0.0.0/8a", "/8", "fd00::/129", "10.0.0.0/8/8",
			      "300.0.0.0/8", "10.0.0.0 /8", "10.0.0.0/99999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(np_cidr_parse(bad[i], &c, &hb), -EINVAL);
}

static void test_contains(void **state)
{
	struct np_cidr outer, inner, v6;
	struct np_addr a;
	assert_int_equal(np_cidr_parse("10.0.0.0/16", &outer, NULL), 0);
	assert_int_equal(np_addr_parse("10.0.255.255", &a), 0);
	assert_true(np_cidr_contains(&outer, &a));
	assert_int_equal(np_addr_parse("10.1.0.0", &a), 0);
	assert_false(np_cidr_contains(&outer, &a));
	assert_int_equal(np_addr_parse("::ffff:10.0.0.1", &a), 0);
	assert_false(np_cidr_contains(&outer, &a)); /* other family never matches */
	assert_int_equal(np_cidr_parse("10.0.5.0/24", &inner, NULL), 0);
	assert_true(np_cidr_contains_cidr(&outer, &inner));
	assert_false(np_cidr_contains_cidr(&inner, &outer));
	assert_true(np_cidr_contains_cidr(&outer, &outer)); /* non-strict: the parser adds that */
	assert_int_equal(np_cidr_parse("10.1.0.0/24", &inner, NULL), 0);
	assert_false(np_cidr_contains_cidr(&outer, &inner));
	assert_int_equal(np_cidr_parse("::/0", &v6, NULL), 0);
	assert_false(np_cidr_contains_cidr(&v6, &outer));
	assert_int_equal(np_addr_parse("2001:db8::1", &a), 0);
	assert_true(np_cidr_contains(&v6, &a));
}

static void test_cmp_and_names(void **state)
{
	struct np_addr a, b, c;
	np_addr_parse("10.0.0.2", &a);
	np_addr_parse("10.0.0.10", &b);
	np_addr_parse("::1", &c);
	assert_int_equal(np_addr_cmp(&a, &b), -1);
	assert_int_equal(np_addr_cmp(&b, &a), 1);
	assert_int_equal(np_addr_cmp(&a, &a), 0);
	assert_int_equal(np_addr_cmp(&b, &c), -1); /* IPv4 sorts before IPv6 */
	assert_string_equal(np_proto_name(NP_PROTO_TCP), "TCP");
	assert_string_equal(np_proto_name(NP_PROTO_UDP), "UDP");
	assert_string_equal(np_proto_name(NP_PROTO_SCTP), "SCTP");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_cidr_parse_and_mask),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_cmp_and_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
