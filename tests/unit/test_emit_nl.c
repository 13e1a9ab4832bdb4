/* test_emit_nl — the netlink message builders without a kernel: element key encodings, rbtree
 * and pipapo interval encodings as they appear in the batch, concat set descriptions, decoding
 * of dumped elements, the state diff, element-list splitting and the seq/offset -> origin
 * mapping used for kernel errors. Messages are parsed back out of the batch buffer. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"
#include "emit_nl.h"

static struct np_addr a4(const char *s)
{
	struct np_addr a;
	assert_int_equal(np_addr_parse(s, &a), 0);
	return a;
}

/* A one-table ruleset with the given sets and chains, allocated in a fresh arena. */
static struct rs_ruleset *mk_ruleset(struct rs_set *sets, size_t n_sets, struct rs_chain *chains,
				     size_t n_chains)
{
	struct rs_ruleset *rs = calloc(1, sizeof(*rs));
	rs->arena = np_arena_new();
	rs->tables = np_arena_alloc(rs->arena, sizeof(*rs->tables));
	rs->n_tables = 1;
	rs->tables[0] = (struct rs_table){ .name = "t", .family = RS_FAMILY_INET, .sets = sets,
					   .n_sets = n_sets, .chains = chains,
					   .n_chains = n_chains };
	return rs;
}

static void free_ruleset(struct rs_ruleset *rs)
{
	np_arena_free(rs->arena);
	free(rs);
}

/* Every message of a finished batch, in order. */
struct msgs {
	const struct nlmsghdr *v[4096];
	size_t n;
	struct iovec iov[64];
};

static void collect(struct nl_batch *b, struct msgs *m)
{
	int n = nl_batch_iovec(b, m->iov, 64);
	assert_true(n > 0 && n <= 64);
	m->n = 0;
	for (int i = 0; i < n; i++) {
		int len = (int)m->iov[i].iov_len;
		for (const struct nlmsghdr *h = m->iov[i].iov_base; mnl_nlmsg_ok(h, len);
		     h = mnl_nlmsg_next(h, &len)) {
			assert_true(m->n < 4096);
			m->v[m->n++] = h;
		}
	}
}

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	if (mnl_attr_get_type(a) <= 20)
		tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

static const struct nlattr *nested_value(const struct nlattr *nest)
{
	const struct nlattr *tb[21] = { 0 };
	assert_true(mnl_attr_parse_nested(nest, attr_cb, tb) >= 0);
	assert_non_null(tb[NFTA_DATA_VALUE]);
	return tb[NFTA_DATA_VALUE];
}

/* The elements of one NEWSETELEM message, as raw elements. */
static size_t msg_elems(const struct nlmsghdr *h, struct nl_raw_elem *out, size_t max)
{
	const struct nlattr *tb[21] = { 0 };
	assert_true(mnl_attr_parse(h, sizeof(struct nfgenmsg), attr_cb, tb) >= 0);
	assert_non_null(tb[NFTA_SET_ELEM_LIST_ELEMENTS]);
	size_t n = 0;
	const struct nlattr *el;
	mnl_attr_for_each_nested(el, tb[NFTA_SET_ELEM_LIST_ELEMENTS]) {
		const struct nlattr *e[21] = { 0 };
		assert_true(n < max);
		assert_true(mnl_attr_parse_nested(el, attr_cb, e) >= 0);
		struct nl_raw_elem *r = &out[n++];
		memset(r, 0, sizeof(*r));
		const struct nlattr *v = nested_value(e[NFTA_SET_ELEM_KEY]);
		r->key_len = mnl_attr_get_payload_len(v);
		memcpy(r->key, mnl_attr_get_payload(v), r->key_len);
		if (e[NFTA_SET_ELEM_KEY_END]) {
			v = nested_value(e[NFTA_SET_ELEM_KEY_END]);
			r->key_end_len = mnl_attr_get_payload_len(v);
			memcpy(r->key_end, mnl_attr_get_payload(v), r->key_end_len);
		}
		if (e[NFTA_SET_ELEM_FLAGS])
			r->flags = ntohl(mnl_attr_get_u32(e[NFTA_SET_ELEM_FLAGS]));
	}
	return n;
}

static uint16_t msg_type(const struct nlmsghdr *h)
{
	return h->nlmsg_type & 0xff;
}

static void test_key_encoding(void **state)
{
	struct nl_elem e;
	struct rs_set s4 = { .name = "s", .key = RS_KEY_IPV4 };
	struct rs_elem el = { .addr_lo = a4("10.1.2.3"), .addr_hi = a4("10.1.2.3") };
	nl_elem_encode(&s4, &el, &e);
	assert_memory_equal(e.lo, ((uint8_t[]){ 10, 1, 2, 3 }), 4);
	assert_memory_equal(e.hi, e.lo, 4);

	/* proto . port: each field padded to 4 bytes, network order; pipapo end inclusive */
	struct rs_set pp = { .name = "p", .key = RS_KEY_PROTO_PORT, .interval = true };
	struct rs_elem pe = { .proto = 6, .port_lo = 9000, .port_hi = 9100 };
	nl_elem_encode(&pp, &pe, &e);
	assert_memory_equal(e.lo, ((uint8_t[]){ 6, 0, 0, 0, 0x23, 0x28, 0, 0 }), 8);
	assert_memory_equal(e.hi, ((uint8_t[]){ 6, 0, 0, 0, 0x23, 0x8c, 0, 0 }), 8);

	struct rs_set ni = { .name = "n", .key = RS_KEY_IPV4_PROTO_PORT };
	struct rs_elem ne = { .addr_lo = a4("10.0.0.2"), .proto = 17, .port_lo = 53 };
	nl_elem_encode(&ni, &ne, &e);
	assert_memory_equal(e.lo, ((uint8_t[]){ 10, 0, 0, 2, 17, 0, 0, 0, 0, 53, 0, 0 }), 12);

	struct rs_set sp = { .name = "src4", .key = RS_KEY_IFNAME_IPV4 };
	struct rs_elem se = { .addr_lo = a4("10.0.0.9") };
	strcpy(se.ifname, "veth1");
	nl_elem_encode(&sp, &se, &e);
	assert_memory_equal(e.lo, "veth1\0\0\0\0\0\0\0\0\0\0\0", 16);
	assert_memory_equal(e.lo + 16, ((uint8_t[]){ 10, 0, 0, 9 }), 4);

	struct nl_keyinfo ki;
	nl_key_info(RS_KEY_IPV4_PROTO_PORT, &ki);
	assert_int_equal(ki.type, (7 << 12) | (12 << 6) | 13);
	assert_int_equal(ki.len, 12);
	nl_key_info(RS_KEY_IFNAME_IPV6, &ki);
	assert_int_equal(ki.type, (41 << 6) | 8);
	assert_int_equal(ki.len, 32);
	assert_int_equal(nl_set_flags(&pp), NFT_SET_INTERVAL | NFT_SET_CONCAT);
	assert_int_equal(nl_set_flags(&ni), 0); /* plain concat hash sets carry no CONCAT flag */

	char buf[128];
	struct nl_set ns = { .key_type = ki.type };
	nl_key_info(RS_KEY_PROTO_PORT, &ki);
	ns.key_type = ki.type;
	nl_elem_encode(&pp, &pe, &e);
	assert_string_equal(nl_elem_str(&ns, &e, buf, sizeof(buf)), "tcp . 9000-9100");
}

/* Full-replace batch of one table with an rbtree interval set and a pipapo port set. */
static void test_interval_and_concat_messages(void **state)
{
	struct rs_elem cidr[2] = {
		{ .addr_lo = a4("10.0.0.0"), .addr_hi = a4("10.0.0.255") },
		{ .addr_lo = a4("200.0.0.0"), .addr_hi = a4("255.255.255.255") },
	};
	struct rs_elem ports[1] = { { .proto = 6, .port_lo = 80, .port_hi = 81 } };
	struct rs_set sets[2] = {
		{ .name = "cidr4", .key = RS_KEY_IPV4, .interval = true, .elems = cidr, .n_elems = 2 },
		{ .name = "port", .key = RS_KEY_PROTO_PORT, .interval = true, .elems = ports,
		  .n_elems = 1 },
	};
	struct rs_ruleset *rs = mk_ruleset(sets, 2, NULL, 0);
	struct nl_state *st = NULL;
	struct nl_diff *d = NULL;
	assert_int_equal(nl_state_from_ruleset(rs, &st), 0);
	assert_int_equal(nl_diff_compute(NULL, st, false, &d), 0);
	assert_string_equal(d->tables[0].replace, "not installed");
	struct nl_batch *b = nl_batch_new(100);
	nl_batch_add_diff(b, d);
	nl_batch_finish(b, true);
	struct msgs *m = calloc(1, sizeof(*m));
	collect(b, m);
	/* begin, destroy table, new table, 2 sets, 2 element lists, end */
	assert_int_equal(m->n, 8);
	assert_int_equal(m->v[0]->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
	assert_int_equal(msg_type(m->v[1]), NL_MSG_DESTROYTABLE);
	assert_int_equal(msg_type(m->v[2]), NFT_MSG_NEWTABLE);
	assert_int_equal(m->v[7]->nlmsg_type, NFNL_MSG_BATCH_END);
	assert_true(m->v[7]->nlmsg_flags & NLM_F_ACK); /* the commit signal */
	for (size_t i = 1; i < m->n; i++)
		assert_int_equal(m->v[i]->nlmsg_seq, m->v[i - 1]->nlmsg_seq + 1);

	/* the port set: CONCAT|INTERVAL, key type inet_proto . inet_service, desc {1, 2} */
	const struct nlattr *tb[21] = { 0 };
	assert_int_equal(msg_type(m->v[4]), NFT_MSG_NEWSET);
	assert_true(mnl_attr_parse(m->v[4], sizeof(struct nfgenmsg), attr_cb, tb) >= 0);
	assert_string_equal(mnl_attr_get_str(tb[NFTA_SET_NAME]), "port");
	assert_int_equal(ntohl(mnl_attr_get_u32(tb[NFTA_SET_FLAGS])), NFT_SET_INTERVAL | NFT_SET_CONCAT);
	assert_int_equal(ntohl(mnl_attr_get_u32(tb[NFTA_SET_KEY_TYPE])), (12 << 6) | 13);
	assert_int_equal(ntohl(mnl_attr_get_u32(tb[NFTA_SET_KEY_LEN])), 8);
	assert_non_null(tb[NFTA_SET_DESC]);
	const struct nlattr *desc[21] = { 0 };
	assert_true(mnl_attr_parse_nested(tb[NFTA_SET_DESC], attr_cb, desc) >= 0);
	assert_non_null(desc[NFTA_SET_DESC_CONCAT]);
	uint32_t fields[4];
	size_t nf = 0;
	const struct nlattr *f;
	mnl_attr_for_each_nested(f, desc[NFTA_SET_DESC_CONCAT]) {
		const struct nlattr *fl[21] = { 0 };
		assert_true(mnl_attr_parse_nested(f, attr_cb, fl) >= 0);
		fields[nf++] = ntohl(mnl_attr_get_u32(fl[NFTA_SET_FIELD_LEN]));
	}
	assert_int_equal(nf, 2);
	assert_int_equal(fields[0], 1);
	assert_int_equal(fields[1], 2);

	/* rbtree: start, end+1 flagged INTERVAL_END; no end element for a range to all-ones */
	struct nl_raw_elem raw[8];
	assert_int_equal(msg_type(m->v[5]), NFT_MSG_NEWSETELEM);
	size_t n = msg_elems(m->v[5], raw, 8);
	assert_int_equal(n, 3);
	assert_memory_equal(raw[0].key, ((uint8_t[]){ 10, 0, 0, 0 }), 4);
	assert_int_equal(raw[0].flags, 0);
	assert_memory_equal(raw[1].key, ((uint8_t[]){ 10, 0, 1, 0 }), 4);
	assert_int_equal(raw[1].flags, NFT_SET_ELEM_INTERVAL_END);
	assert_memory_equal(raw[2].key, ((uint8_t[]){ 200, 0, 0, 0 }), 4);
	assert_int_equal(raw[2].flags, 0);
	/* pipapo: one element, KEY..KEY_END inclusive */
	n = msg_elems(m->v[6], raw, 8);
	assert_int_equal(n, 1);
	assert_int_equal(raw[0].key_end_len, 8);
	assert_memory_equal(raw[0].key, ((uint8_t[]){ 6, 0, 0, 0, 0, 80, 0, 0 }), 8);
	assert_memory_equal(raw[0].key_end, ((uint8_t[]){ 6, 0, 0, 0, 0, 81, 0, 0 }), 8);

	free(m);
	nl_batch_free(b);
	nl_diff_free(d);
	nl_state_free(st);
	free_ruleset(rs);
}

/* Dumped rbtree elements come in reverse order, with nft's key-0 end marker and an unpaired
 * last start: they decode to the ranges that were installed. */
static void test_decode_kernel_elems(void **state)
{
	struct nl_state *st = nl_state_new();
	struct nl_table *t = nl_state_add_table(st, "t", NFPROTO_INET);
	struct nl_set *s = nl_table_add_set(st, t);
	s->name = "c";
	s->flags = NFT_SET_INTERVAL;
	s->key_type = 7;
	s->key_len = 4;
	struct nl_raw_elem raw[4] = {
		{ .key = { 200, 0, 0, 0 }, .key_len = 4 },
		{ .key = { 10, 0, 1, 0 }, .key_len = 4, .flags = NFT_SET_ELEM_INTERVAL_END },
		{ .key = { 10, 0, 0, 0 }, .key_len = 4 },
		{ .key = { 0, 0, 0, 0 }, .key_len = 4, .flags = NFT_SET_ELEM_INTERVAL_END },
	};
	nl_set_add_kernel_elems(st, s, raw, 4);
	assert_false(s->garbled);
	assert_int_equal(s->n_elems, 2);
	char buf[64];
	assert_string_equal(nl_elem_str(s, &s->elems[0], buf, sizeof(buf)), "10.0.0.0-10.0.0.255");
	assert_string_equal(nl_elem_str(s, &s->elems[1], buf, sizeof(buf)),
			    "200.0.0.0-255.255.255.255");

	/* two starts in a row is not a layout we write: garbled, so never "in sync" */
	struct nl_set *g = nl_table_add_set(st, t);
	g->name = "g";
	g->flags = NFT_SET_INTERVAL;
	g->key_type = 7;
	g->key_len = 4;
	struct nl_raw_elem two[2] = { { .key = { 1, 0, 0, 0 }, .key_len = 4 },
				      { .key = { 2, 0, 0, 0 }, .key_len = 4 } };
	nl_set_add_kernel_elems(st, g, two, 2);
	assert_true(g->garbled);
	nl_state_free(st);
}

/* Diffs: element adds/deletes; a changed pod-chain comment recreates the chain and re-adds the
 * map elements pointing at it; a base chain priority change replaces the table. */
static void test_diff(void **state)
{
	struct rs_elem old_el[2] = { { .addr_lo = a4("10.0.0.1"), .addr_hi = a4("10.0.0.1"),
				       .target = "pod-a" },
				     { .addr_lo = a4("10.0.0.2"), .addr_hi = a4("10.0.0.2"),
				       .target = "pod-b" } };
	struct rs_elem new_el[2] = { { .addr_lo = a4("10.0.0.2"), .addr_hi = a4("10.0.0.2"),
				       .target = "pod-b" },
				     { .addr_lo = a4("10.0.0.3"), .addr_hi = a4("10.0.0.3"),
				       .target = "pod-a" } };
	struct rs_set s_old = { .name = "ing4", .key = RS_KEY_IPV4, .vmap = true, .elems = old_el,
				.n_elems = 2 };
	struct rs_set s_new = s_old;
	s_new.elems = new_el;
	struct rs_rule r = { .verdict = RS_V_DROP, .comment = "np:1" };
	struct rs_chain c_old[3] = { { .name = "base", .hook = RS_HOOK_FORWARD, .prio = -5 },
				     { .name = "pod-a", .comment = "a: p1", .rules = &r, .n_rules = 1 },
				     { .name = "pod-b", .comment = "b: p1", .rules = &r, .n_rules = 1 } };
	struct rs_chain c_new[3] = { c_old[0], c_old[1], c_old[2] };
	c_new[2].comment = "b: p1, p2";
	struct rs_ruleset *ro = mk_ruleset(&s_old, 1, c_old, 3);
	struct rs_ruleset *rn = mk_ruleset(&s_new, 1, c_new, 3);
	struct nl_state *so, *sn;
	assert_int_equal(nl_state_from_ruleset(ro, &so), 0);
	assert_int_equal(nl_state_from_ruleset(rn, &sn), 0);
	struct nl_diff *d;
	assert_int_equal(nl_diff_compute(so, sn, false, &d), 0);
	const struct nl_table_diff *td = &d->tables[0];
	assert_null(td->replace);
	assert_int_equal(td->n_sets, 1);
	/* 10.0.0.1 goes, 10.0.0.3 comes, 10.0.0.2 (pod-b, recreated) goes and comes back */
	assert_int_equal(td->sets[0].n_del, 2);
	assert_int_equal(td->sets[0].n_add, 2);
	assert_int_equal(td->n_chains, 1);
	assert_true(td->chains[0].recreate);
	assert_string_equal(td->chains[0].cur->name, "pod-b");

	/* the batch: deletes before the chain is dropped, the chain back before its elements */
	struct nl_batch *b = nl_batch_new(1);
	nl_batch_add_diff(b, d);
	nl_batch_finish(b, true);
	struct msgs *m = calloc(1, sizeof(*m));
	collect(b, m);
	uint16_t want[] = { NFT_MSG_NEWTABLE, NFT_MSG_DELSETELEM, NFT_MSG_DELRULE, NFT_MSG_DELCHAIN,
			    NFT_MSG_NEWCHAIN, NFT_MSG_NEWSETELEM, NFT_MSG_NEWRULE };
	assert_int_equal(m->n, 2 + sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(msg_type(m->v[i + 1]), want[i]);
	free(m);
	nl_batch_free(b);
	nl_diff_free(d);

	/* identical states: nothing to do */
	assert_int_equal(nl_diff_compute(sn, sn, false, &d), 0);
	assert_int_equal(d->changes, 0);
	nl_diff_free(d);
	/* a base chain's priority cannot change in place */
	sn->tables[0].chains[0].prio = -10;
	assert_int_equal(nl_diff_compute(so, sn, false, &d), 0);
	assert_non_null(d->tables[0].replace);
	assert_non_null(strstr(d->tables[0].replace, "chain base"));
	nl_diff_free(d);

	nl_state_free(so);
	nl_state_free(sn);
	free_ruleset(ro);
	free_ruleset(rn);
}

/* 5000 IPv6 elements do not fit one element nest: several messages share one seq, and an
 * ext-ack offset inside a later part maps back to that part's element. */
static void test_split_and_origin(void **state)
{
	enum { N = 5000 };
	struct rs_elem *el = calloc(N, sizeof(*el));
	for (size_t i = 0; i < N; i++) {
		el[i].addr_lo.family = 6;
		el[i].addr_lo.b[0] = 0xfd;
		el[i].addr_lo.b[14] = i >> 8;
		el[i].addr_lo.b[15] = i & 0xff;
		el[i].addr_hi = el[i].addr_lo;
	}
	struct rs_set set = { .name = "sel6", .key = RS_KEY_IPV6, .elems = el, .n_elems = N,
			      .origin = "policy ns/p ingress rule 0 peers" };
	struct rs_rule rule = { .n_m = 1, .verdict = RS_V_ACCEPT, .comment = "np:2",
				.origin = "policy ns/p ingress rule 0" };
	rule.m[0] = (struct rs_match){ .kind = RS_M_SADDR_IN, .set = "sel6", .family = 6 };
	struct rs_chain chain = { .name = "pol", .rules = &rule, .n_rules = 1 };
	struct rs_ruleset *rs = mk_ruleset(&set, 1, &chain, 1);
	struct nl_state *st;
	struct nl_diff *d;
	assert_int_equal(nl_state_from_ruleset(rs, &st), 0);
	assert_int_equal(nl_diff_compute(NULL, st, false, &d), 0);
	struct nl_batch *b = nl_batch_new(1000);
	nl_batch_add_diff(b, d);
	nl_batch_finish(b, true);
	struct msgs *m = calloc(1, sizeof(*m));
	collect(b, m);
	size_t parts = 0, total = 0;
	uint32_t seq = 0;
	const struct nlmsghdr *last_part = NULL, *rule_msg = NULL;
	struct nl_raw_elem *raw = calloc(N, sizeof(*raw));
	for (size_t i = 0; i < m->n; i++) {
		if (msg_type(m->v[i]) == NFT_MSG_NEWRULE)
			rule_msg = m->v[i];
		if (m->v[i]->nlmsg_type >> 8 != NFNL_SUBSYS_NFTABLES ||
		    msg_type(m->v[i]) != NFT_MSG_NEWSETELEM)
			continue;
		assert_true(m->v[i]->nlmsg_len < 64 * 1024);
		if (parts++)
			assert_int_equal(m->v[i]->nlmsg_seq, seq);
		seq = m->v[i]->nlmsg_seq;
		total += msg_elems(m->v[i], raw, N);
		last_part = m->v[i];
	}
	assert_true(parts > 1);
	assert_int_equal(total, N);
	assert_int_equal(nl_batch_stats(b)->elems_add, N);

	/* offset of the last element of the last part -> that element */
	const struct nlattr *tb[21] = { 0 }, *el_attr, *last = NULL;
	assert_true(mnl_attr_parse(last_part, sizeof(struct nfgenmsg), attr_cb, tb) >= 0);
	mnl_attr_for_each_nested(el_attr, tb[NFTA_SET_ELEM_LIST_ELEMENTS])
		last = el_attr;
	uint32_t off = (uint32_t)((const char *)last - (const char *)last_part) + 8;
	char buf[512];
	nl_batch_describe(b, seq, last_part->nlmsg_len, off, buf, sizeof(buf));
	assert_non_null(strstr(buf, "policy ns/p ingress rule 0 peers (add elements of set sel6"));
	assert_non_null(strstr(buf, "element fd00::1387")); /* 4999 = 0x1387 */

	/* a rule: offset inside its second expression (the payload load) */
	assert_non_null(rule_msg);
	const struct nlattr *rt[21] = { 0 }, *ex;
	assert_true(mnl_attr_parse(rule_msg, sizeof(struct nfgenmsg), attr_cb, rt) >= 0);
	size_t k = 0;
	mnl_attr_for_each_nested(ex, rt[NFTA_RULE_EXPRESSIONS]) {
		if (++k == 3) /* meta nfproto, cmp, payload */
			break;
	}
	off = (uint32_t)((const char *)ex - (const char *)rule_msg) + 4;
	nl_batch_describe(b, rule_msg->nlmsg_seq, rule_msg->nlmsg_len, off, buf, sizeof(buf));
	assert_string_equal(buf, "policy ns/p ingress rule 0 (rule in chain pol, expression 3: "
				 "match @sel6)");
	nl_batch_describe(b, 999999, 0, 0, buf, sizeof(buf));
	assert_non_null(strstr(buf, "not one of ours"));

	free(raw);
	free(m);
	free(el);
	nl_batch_free(b);
	nl_diff_free(d);
	nl_state_free(st);
	free_ruleset(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_encoding),
		cmocka_unit_test(test_interval_and_concat_messages),
		cmocka_unit_test(test_decode_kernel_elems),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_split_and_origin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
