/* masq.c — `table ip netpol-nat`: one postrouting nat chain, one masquerade rule per
 * masquerading network ("ip saddr SUBNET oifname != BRIDGE masquerade"). The table is
 * replaced whole in one transaction, so it never holds a half-built rule set. */
#include <netinet/in.h> /* before the linux/ headers, which include linux/in.h */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>
#include <netinet/ip.h>

#include "masq.h"
#include "xalloc.h"

#define MASQ_TABLE "netpol-nat"
#define MASQ_CHAIN "postrouting"

static void put_table(struct mnl_nlmsg_batch *b, int type, int flags, uint32_t seq)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t)
		abort();
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, MASQ_TABLE);
	nlh = nftnl_table_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), (uint16_t)type, NFPROTO_IPV4,
					  (uint16_t)(flags | NLM_F_ACK), seq);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	mnl_nlmsg_batch_next(b);
}

static void put_chain(struct mnl_nlmsg_batch *b, uint32_t seq)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!c)
		abort();
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, MASQ_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, MASQ_CHAIN);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "nat");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_POST_ROUTING);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 100); /* srcnat */
	nlh = nftnl_chain_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_NEWCHAIN,
					  NFPROTO_IPV4, NLM_F_CREATE | NLM_F_ACK, seq);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	mnl_nlmsg_batch_next(b);
}

static void add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		abort();
	nftnl_rule_add_expr(r, e);
}

static void put_rule(struct mnl_nlmsg_batch *b, const struct ns_masq_rule *m, uint32_t seq)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct ns_prefix full = { .len = 32 };
	struct nftnl_expr *e;
	struct ns_ip mask;
	char ifname[IFNAMSIZ] = { 0 };
	uint8_t zero[4] = { 0 };
	struct nlmsghdr *nlh;

	if (!r)
		abort();
	/* The netmask: all-ones /32 with the host bits of the subnet cleared. */
	full.ip.family = AF_INET;
	memset(full.ip.a, 0xff, 4);
	full.len = m->subnet.len;
	mask = ns_prefix_network(&full).ip;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, MASQ_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, MASQ_CHAIN);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_IPV4);

	e = nftnl_expr_alloc("payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offsetof(struct iphdr, saddr));
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 4);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	add_expr(r, e);
	e = nftnl_expr_alloc("bitwise");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask.a, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, 4);
	add_expr(r, e);
	e = nftnl_expr_alloc("cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, m->subnet.ip.a, 4);
	add_expr(r, e);

	snprintf(ifname, sizeof(ifname), "%s", m->bridge);
	e = nftnl_expr_alloc("meta");
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_OIFNAME);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	add_expr(r, e);
	e = nftnl_expr_alloc("cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_NEQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, ifname, IFNAMSIZ);
	add_expr(r, e);
	add_expr(r, nftnl_expr_alloc("masq"));

	nlh = nftnl_rule_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_NEWRULE, NFPROTO_IPV4,
					 NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, seq);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	mnl_nlmsg_batch_next(b);
}

struct ack_state {
	int acks;
	int error;
	char ext[256];
};

static int ext_cb(const struct nlattr *attr, void *data)
{
	struct ack_state *st = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0 && !st->ext[0])
		snprintf(st->ext, sizeof(st->ext), "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

/* Every message of the batch carries NLM_F_ACK, so the kernel answers each exactly once
 * (ack or error) and we read until all have answered: no ack is left queued. */
static void count_acks(const char *buf, size_t len, struct ack_state *st)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int n = (int)len;

	while (mnl_nlmsg_ok(nlh, n)) {
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
			st->acks++;
			if (e->error && !st->error) {
				st->error = e->error;
				if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
					unsigned int off = sizeof(*e);
					if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
						off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
					mnl_attr_parse(nlh, off, ext_cb, st);
				}
			}
		}
		nlh = mnl_nlmsg_next(nlh, &n);
	}
}

int ns_masq_sync(const struct ns_masq_rule *rules, size_t n, struct ns_error *err)
{
	struct ack_state st = { 0 };
	struct mnl_socket *nl;
	struct mnl_nlmsg_batch *b;
	char *buf, rx[MNL_SOCKET_BUFFER_SIZE];
	uint32_t seq = (uint32_t)time(NULL);
	int one = 1, msgs = 0, rc = 0;
	size_t bufsz = 8192 + n * 512;

	buf = xmalloc(bufsz);
	b = mnl_nlmsg_batch_start(buf, bufsz);
	nftnl_batch_begin(mnl_nlmsg_batch_current(b), seq++);
	mnl_nlmsg_batch_next(b);
	/* create-if-missing then delete: removes the table whether or not it existed. */
	put_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, seq++);
	put_table(b, NFT_MSG_DELTABLE, 0, seq++);
	msgs += 2;
	if (n) {
		put_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, seq++);
		put_chain(b, seq++);
		msgs += 2;
		for (size_t i = 0; i < n; i++, msgs++)
			put_rule(b, &rules[i], seq++);
	}
	nftnl_batch_end(mnl_nlmsg_batch_current(b), seq++);
	mnl_nlmsg_batch_next(b);

	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl) {
		rc = ns_error_set(err, -errno, "netfilter socket: %s", strerror(errno));
		goto free_buf;
	}
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_sendto(nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0) {
		rc = ns_error_set(err, -errno, "netfilter send: %s", strerror(errno));
		goto close;
	}
	while (st.acks < msgs) {
		ssize_t got = mnl_socket_recvfrom(nl, rx, sizeof(rx));
		if (got < 0) {
			rc = ns_error_set(err, -errno, "netfilter receive: %s", strerror(errno));
			goto close;
		}
		count_acks(rx, (size_t)got, &st);
	}
	if (st.error)
		rc = ns_error_set(err, st.error, "nat table %s: %s%s%s", MASQ_TABLE, strerror(-st.error),
				  st.ext[0] ? ": " : "", st.ext);
close:
	mnl_socket_close(nl);
free_buf:
	mnl_nlmsg_batch_stop(b);
	free(buf);
	return rc;
}
