/* nft.c — the nf_tables socket: one sendmsg per batch, every reply drained and mapped back to
 * the IR object that produced the failing message; read-back of our own tables through
 * table-filtered dumps. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "nft.h"
#include "vec.h"
#include "xalloc.h"

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

/* Replies to a big batch are small (acks are capped) but a rejected batch can produce one
 * error per message; 8 MiB holds tens of thousands of them. */
#define RCVBUF (8 * 1024 * 1024)
#define RECV_SIZE (256 * 1024)
#define MAX_IOV 512

struct nft_sock {
	struct mnl_socket *nl;
	uint32_t portid, seq;
	bool end_acks; /* a commit was confirmed by its BATCH_END ack (kernel 6.10+) */
	uint32_t read_gen; /* the generation of the last state read back */
	char *buf; /* RECV_SIZE bytes */
};

int nft_sock_open(struct nft_sock **out)
{
	struct nft_sock *s = xcalloc(1, sizeof(*s));
	s->buf = xmalloc(RECV_SIZE);
	s->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!s->nl) {
		int err = errno ? -errno : -ENOMEM;
		nft_sock_close(s);
		return err;
	}
	if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = -errno;
		nft_sock_close(s);
		return err;
	}
	int one = 1, rcv = RCVBUF;
	int fd = mnl_socket_get_fd(s->nl);
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	s->portid = mnl_socket_get_portid(s->nl);
	s->seq = (uint32_t)time(NULL) << 8;
	*out = s;
	return 0;
}

uint32_t nft_sock_portid(const struct nft_sock *s)
{
	return s->portid;
}

void nft_sock_close(struct nft_sock *s)
{
	if (!s)
		return;
	if (s->nl)
		mnl_socket_close(s->nl);
	free(s->buf);
	free(s);
}

uint32_t nft_sock_seq(struct nft_sock *s, uint32_t count)
{
	uint32_t seq = s->seq;
	s->seq += count;
	return seq;
}

/* ---- sending a batch ---- */

struct ack_ctx {
	struct nl_batch *b;
	struct np_diags *diags;
	bool committed;
	size_t errors;
	int first_error; /* errno of the first error reply */
};

static int extack_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);
	if (type <= NLMSGERR_ATTR_MAX)
		tb[type] = a;
	return MNL_CB_OK;
}

static void handle_reply(struct ack_ctx *c, const struct nlmsghdr *nlh)
{
	if (nlh->nlmsg_type != NLMSG_ERROR)
		return;
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err)))
		return;
	if (err->error == 0) {
		if (err->msg.nlmsg_seq == nl_batch_end_seq(c->b))
			c->committed = true;
		return;
	}
	const char *msg = NULL;
	uint32_t off = 0;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		size_t hlen = sizeof(*err);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			hlen += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
		const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = { 0 };
		if (mnl_nlmsg_get_payload_len(nlh) > hlen &&
		    mnl_attr_parse_payload((const char *)err + hlen,
					   mnl_nlmsg_get_payload_len(nlh) - hlen, extack_cb,
					   tb) >= 0) {
			if (tb[NLMSGERR_ATTR_MSG])
				msg = mnl_attr_get_str(tb[NLMSGERR_ATTR_MSG]);
			if (tb[NLMSGERR_ATTR_OFFS])
				off = mnl_attr_get_u32(tb[NLMSGERR_ATTR_OFFS]);
		}
	}
	char what[512];
	nl_batch_describe(c->b, err->msg.nlmsg_seq, err->msg.nlmsg_len, off, what, sizeof(what));
	size_t n = c->diags->n;
	np_diag_add(c->diags, NP_SEV_ERROR, NULL, 0, NULL, 0, 0, "%s: kernel said: %s%s%s%s",
		    what, strerror(-err->error), msg ? " (" : "", msg ? msg : "", msg ? ")" : "");
	if (c->diags->n > n) /* kept (not past the cap) */
		c->diags->v[n].err = -err->error;
	if (!c->errors++)
		c->first_error = -err->error;
}

/* Reads whatever replies are queued; waits up to wait_ms for the first one. 0, or -errno. */
static int drain(struct nft_sock *s, struct ack_ctx *c, int wait_ms)
{
	int fd = mnl_socket_get_fd(s->nl);
	for (;;) {
		if (wait_ms > 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int r = poll(&p, 1, wait_ms);
			if (r <= 0)
				return r < 0 ? -errno : 0;
			wait_ms = 0;
		}
		ssize_t n = recv(fd, s->buf, RECV_SIZE, MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		for (const struct nlmsghdr *nlh = (const void *)s->buf; mnl_nlmsg_ok(nlh, (int)n);
		     nlh = mnl_nlmsg_next(nlh, (int *)&n))
			handle_reply(c, nlh);
	}
}

static int get_genid(struct nft_sock *s, uint32_t *id);

int nft_send_batch(struct nft_sock *s, struct nl_batch *b, bool commit, struct np_diags *diags)
{
	struct iovec iov[MAX_IOV];
	int n = nl_batch_iovec(b, iov, MAX_IOV);
	if (n > MAX_IOV)
		return -E2BIG;
	size_t len = 0;
	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	int fd = mnl_socket_get_fd(s->nl);
	/* the whole batch goes in one sendmsg: the socket buffer must hold it */
	int snd = (int)(len + 64 * 1024);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	/* kernels before 6.10 do not ack BATCH_END: a generation change is the fallback signal */
	uint32_t gen_before = 0, gen_after = 0;
	bool have_gen = commit && !s->end_acks && get_genid(s, &gen_before) == 0;
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	struct msghdr msg = { .msg_name = &snl, .msg_namelen = sizeof(snl), .msg_iov = iov,
			      .msg_iovlen = (size_t)n };
	if (sendmsg(fd, &msg, 0) < 0) {
		int err = -errno;
		np_diag_add(diags, NP_SEV_ERROR, NULL, 0, NULL, 0, 0,
			    "sending the batch (%zu bytes) failed: %s; nothing was changed", len,
			    strerror(-err));
		return err == -EINVAL ? -EIO : err;
	}
	struct ack_ctx c = { .b = b, .diags = diags };
	/* the kernel processes the whole batch inside sendmsg, so every reply is queued by
	 * now; the wait only covers a slow consumer of a committed batch's ack */
	int r = drain(s, &c, 0);
	if (c.committed)
		s->end_acks = true; /* this kernel acks BATCH_END: no genid round trip from now on */
	if (!r && commit && !c.committed && !c.errors && have_gen &&
	    get_genid(s, &gen_after) == 0 && gen_after != gen_before)
		c.committed = true;
	if (!r && commit && !c.committed && !c.errors)
		r = drain(s, &c, 2000);
	if (r < 0) {
		np_diag_add(diags, NP_SEV_ERROR, NULL, 0, NULL, 0, 0,
			    "reading the kernel's replies failed: %s; the outcome is unknown",
			    strerror(-r));
		return r;
	}
	if (c.errors) /* another process owns the table: every message fails with EPERM */
		return c.first_error == EPERM ? -EPERM : -EINVAL;
	if (commit && !c.committed) {
		np_diag_add(diags, NP_SEV_ERROR, NULL, 0, NULL, 0, 0,
			    "the kernel did not confirm the commit; the outcome is unknown");
		return -ETIMEDOUT;
	}
	return 0;
}

/* ---- dumps ---- */

/* Sends one request and runs cb over every reply message until the dump ends. */
static int request(struct nft_sock *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	uint32_t seq = nlh->nlmsg_seq;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s->nl, s->buf, RECV_SIZE);
		if (n < 0)
			return -errno;
		int r = mnl_cb_run(s->buf, n, seq, s->portid, cb, data);
		if (r < 0)
			return -errno;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

static struct nlmsghdr *req_hdr(struct nft_sock *s, char *buf, uint16_t type, uint16_t family,
				uint16_t flags)
{
	return nftnl_nlmsg_build_hdr(buf, type, family, flags | NLM_F_ACK, nft_sock_seq(s, 1));
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *g = nftnl_gen_alloc();
	if (g && nftnl_gen_nlmsg_parse(nlh, g) == 0)
		*(uint32_t *)data = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
	nftnl_gen_free(g);
	return MNL_CB_OK;
}

static int get_genid(struct nft_sock *s, uint32_t *id)
{
	char buf[256];
	struct nlmsghdr *nlh = req_hdr(s, buf, NFT_MSG_GETGEN, AF_UNSPEC, 0);
	return request(s, nlh, gen_cb, id);
}

struct rb_ctx {
	struct nl_state *st;
	struct nl_table *t;
};

/* The comment TLV of a userdata blob (tables, chains, sets, rules, objects all use type 0 for
 * it except sets, which pass their own type). */
struct udata_find {
	uint8_t type;
	const char *val;
};

static int udata_cb(const struct nftnl_udata *attr, void *data)
{
	struct udata_find *f = data;
	uint8_t len = nftnl_udata_len(attr);
	const char *v = nftnl_udata_get(attr);
	if (nftnl_udata_type(attr) == f->type && len > 0 && v[len - 1] == 0)
		f->val = v;
	return 0;
}

static const char *udata_comment(struct np_arena *a, const void *data, uint32_t len, uint8_t type)
{
	if (!data || !len)
		return NULL;
	struct udata_find f = { .type = type };
	nftnl_udata_parse(data, len, udata_cb, &f);
	return f.val ? np_arena_strdup(a, f.val) : NULL;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rb_ctx *c = data;
	struct nftnl_table *t = nftnl_table_alloc();
	if (t && nftnl_table_nlmsg_parse(nlh, t) == 0) {
		c->t->present = true;
		c->t->flags = nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS);
		uint32_t len = 0;
		const void *ud = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &len);
		c->t->comment = udata_comment(c->st->arena, ud, len, NFTNL_UDATA_TABLE_COMMENT);
	}
	nftnl_table_free(t);
	return MNL_CB_OK;
}

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rb_ctx *c = data;
	struct nftnl_set *ns = nftnl_set_alloc();
	if (!ns || nftnl_set_nlmsg_parse(nlh, ns) < 0) {
		nftnl_set_free(ns);
		return MNL_CB_OK;
	}
	uint32_t flags = nftnl_set_get_u32(ns, NFTNL_SET_FLAGS);
	if (!(flags & NFT_SET_ANONYMOUS)) { /* anonymous sets belong to their rule */
		struct nl_set *s = nl_table_add_set(c->st, c->t);
		s->name = np_arena_strdup(c->st->arena, nftnl_set_get_str(ns, NFTNL_SET_NAME));
		s->flags = flags;
		s->key_type = nftnl_set_get_u32(ns, NFTNL_SET_KEY_TYPE);
		s->key_len = nftnl_set_get_u32(ns, NFTNL_SET_KEY_LEN);
		if (nftnl_set_is_set(ns, NFTNL_SET_DATA_TYPE))
			s->data_type = nftnl_set_get_u32(ns, NFTNL_SET_DATA_TYPE);
		uint32_t len = 0;
		const void *ud = nftnl_set_get_data(ns, NFTNL_SET_USERDATA, &len);
		s->comment = udata_comment(c->st->arena, ud, len, NFTNL_UDATA_SET_COMMENT);
		if (s->key_len > NL_KEY_MAX)
			s->garbled = true;
	}
	nftnl_set_free(ns);
	return MNL_CB_OK;
}

struct elem_ctx {
	struct nl_raw_elem *v;
	size_t n, cap;
	bool bad;
};

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);
	if (type <= 16)
		tb[type] = a;
	return MNL_CB_OK;
}

static uint32_t data_value(const struct nlattr *nest, uint8_t *out)
{
	const struct nlattr *tb[17] = { 0 };
	if (mnl_attr_parse_nested(nest, attr_cb, tb) < 0 || !tb[NFTA_DATA_VALUE])
		return 0;
	uint32_t len = mnl_attr_get_payload_len(tb[NFTA_DATA_VALUE]);
	if (len > NL_KEY_MAX)
		return 0;
	memcpy(out, mnl_attr_get_payload(tb[NFTA_DATA_VALUE]), len);
	return len;
}

static int elem_cb(const struct nlmsghdr *nlh, void *data)
{
	struct elem_ctx *c = data;
	const struct nlattr *tb[17] = { 0 };
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	if (!tb[NFTA_SET_ELEM_LIST_ELEMENTS])
		return MNL_CB_OK;
	const struct nlattr *el;
	mnl_attr_for_each_nested(el, tb[NFTA_SET_ELEM_LIST_ELEMENTS]) {
		const struct nlattr *e[17] = { 0 };
		if (mnl_attr_parse_nested(el, attr_cb, e) < 0) {
			c->bad = true;
			continue;
		}
		struct nl_raw_elem *r = &VEC_PUSH(c->v, c->n, c->cap);
		memset(r, 0, sizeof(*r));
		if (e[NFTA_SET_ELEM_KEY])
			r->key_len = data_value(e[NFTA_SET_ELEM_KEY], r->key);
		if (e[NFTA_SET_ELEM_KEY_END])
			r->key_end_len = data_value(e[NFTA_SET_ELEM_KEY_END], r->key_end);
		if (e[NFTA_SET_ELEM_FLAGS])
			r->flags = ntohl(mnl_attr_get_u32(e[NFTA_SET_ELEM_FLAGS]));
		if (e[NFTA_SET_ELEM_DATA]) {
			const struct nlattr *d[17] = { 0 }, *v[17] = { 0 };
			if (mnl_attr_parse_nested(e[NFTA_SET_ELEM_DATA], attr_cb, d) >= 0 &&
			    d[NFTA_DATA_VERDICT] &&
			    mnl_attr_parse_nested(d[NFTA_DATA_VERDICT], attr_cb, v) >= 0 &&
			    v[NFTA_VERDICT_CHAIN] && v[NFTA_VERDICT_CODE] &&
			    ntohl(mnl_attr_get_u32(v[NFTA_VERDICT_CODE])) == (uint32_t)NFT_GOTO)
				r->chain = mnl_attr_get_str(v[NFTA_VERDICT_CHAIN]);
			else
				c->bad = true; /* a verdict we never write (jump, accept, ...) */
		}
	}
	/* chain names point into the receive buffer: keep them before it is reused */
	return MNL_CB_OK;
}

static int read_elems(struct nft_sock *s, struct nl_state *st, struct nl_table *t,
		      struct nl_set *set)
{
	char buf[1024];
	struct nlmsghdr *nlh = req_hdr(s, buf, NFT_MSG_GETSETELEM, t->family, NLM_F_DUMP);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, t->name);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set->name);
	struct elem_ctx c = { 0 };
	/* verdict chain names live in the receive buffer; copy them per message */
	int r = 0;
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	uint32_t seq = nlh->nlmsg_seq;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s->nl, s->buf, RECV_SIZE);
		if (n < 0) {
			r = -errno;
			break;
		}
		size_t first = c.n;
		int cr = mnl_cb_run(s->buf, n, seq, s->portid, elem_cb, &c);
		for (size_t i = first; i < c.n; i++)
			if (c.v[i].chain)
				c.v[i].chain = np_arena_strdup(st->arena, c.v[i].chain);
		if (cr < 0) {
			r = -errno;
			break;
		}
		if (cr == MNL_CB_STOP)
			break;
	}
	if (!r) {
		nl_set_add_kernel_elems(st, set, c.v, c.n);
		if (c.bad)
			set->garbled = true;
	}
	free(c.v);
	return r;
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rb_ctx *c = data;
	struct nftnl_chain *nc = nftnl_chain_alloc();
	if (!nc || nftnl_chain_nlmsg_parse(nlh, nc) < 0) {
		nftnl_chain_free(nc);
		return MNL_CB_OK;
	}
	/* the chain dump may not be filtered by table on every kernel: skip other tables'
	 * chains without looking at them */
	const char *table = nftnl_chain_get_str(nc, NFTNL_CHAIN_TABLE);
	if (table && !strcmp(table, c->t->name)) {
		struct nl_chain *ch = nl_table_add_chain(c->st, c->t);
		ch->name = np_arena_strdup(c->st->arena, nftnl_chain_get_str(nc, NFTNL_CHAIN_NAME));
		if (nftnl_chain_is_set(nc, NFTNL_CHAIN_HOOKNUM)) {
			ch->base = true;
			ch->hook = nftnl_chain_get_u32(nc, NFTNL_CHAIN_HOOKNUM);
			ch->prio = nftnl_chain_get_s32(nc, NFTNL_CHAIN_PRIO);
			ch->policy = nftnl_chain_get_u32(nc, NFTNL_CHAIN_POLICY);
			const char *type = nftnl_chain_get_str(nc, NFTNL_CHAIN_TYPE);
			ch->type = type ? np_arena_strdup(c->st->arena, type) : NULL;
		}
		uint32_t len = 0;
		const void *ud = nftnl_chain_get_data(nc, NFTNL_CHAIN_USERDATA, &len);
		ch->comment = udata_comment(c->st->arena, ud, len, NFTNL_UDATA_CHAIN_COMMENT);
	}
	nftnl_chain_free(nc);
	return MNL_CB_OK;
}

struct rule_ctx {
	struct nl_state *st;
	struct nl_table *t;
	struct { size_t chain; const char *comment; } *v;
	size_t n, cap, last;
	const char **names; /* chain names, sorted, with their index */
	size_t *idx;
};

static size_t chain_index(struct rule_ctx *c, const char *name)
{
	struct nl_table *t = c->t;
	if (c->last < t->n_chains && !strcmp(t->chains[c->last].name, name))
		return c->last;
	size_t lo = 0, hi = t->n_chains;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = strcmp(c->names[mid], name);
		if (!r)
			return c->last = c->idx[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (size_t)-1;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rule_ctx *c = data;
	const struct nlattr *tb[17] = { 0 };
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	if (!tb[NFTA_RULE_CHAIN] || !tb[NFTA_RULE_TABLE] ||
	    strcmp(mnl_attr_get_str(tb[NFTA_RULE_TABLE]), c->t->name))
		return MNL_CB_OK;
	size_t ci = chain_index(c, mnl_attr_get_str(tb[NFTA_RULE_CHAIN]));
	if (ci == (size_t)-1)
		return MNL_CB_OK; /* a chain created after our chain dump: the genid check retries */
	VEC_GROW(c->v, c->n, c->cap);
	c->v[c->n].chain = ci;
	c->v[c->n].comment = NULL;
	if (tb[NFTA_RULE_USERDATA])
		c->v[c->n].comment = udata_comment(c->st->arena,
						   mnl_attr_get_payload(tb[NFTA_RULE_USERDATA]),
						   mnl_attr_get_payload_len(tb[NFTA_RULE_USERDATA]),
						   NFTNL_UDATA_RULE_COMMENT);
	c->n++;
	return MNL_CB_OK;
}

static int name_idx_cmp(const void *x, const void *y, void *arg)
{
	const char **names = arg;
	return strcmp(names[*(const size_t *)x], names[*(const size_t *)y]);
}

static int read_rules(struct nft_sock *s, struct nl_state *st, struct nl_table *t)
{
	struct rule_ctx c = { .st = st, .t = t, .last = (size_t)-1 };
	const char **by_index = xcalloc(t->n_chains + 1, sizeof(char *));
	c.names = xcalloc(t->n_chains + 1, sizeof(char *));
	c.idx = xcalloc(t->n_chains + 1, sizeof(size_t));
	for (size_t i = 0; i < t->n_chains; i++) {
		by_index[i] = t->chains[i].name;
		c.idx[i] = i;
	}
	qsort_r(c.idx, t->n_chains, sizeof(size_t), name_idx_cmp, by_index);
	for (size_t i = 0; i < t->n_chains; i++)
		c.names[i] = by_index[c.idx[i]];
	char buf[1024];
	struct nlmsghdr *nlh = req_hdr(s, buf, NFT_MSG_GETRULE, t->family, NLM_F_DUMP);
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, t->name);
	int r = request(s, nlh, rule_cb, &c);
	if (!r) {
		size_t *count = xcalloc(t->n_chains + 1, sizeof(size_t));
		for (size_t i = 0; i < c.n; i++)
			count[c.v[i].chain]++;
		for (size_t i = 0; i < t->n_chains; i++)
			t->chains[i].rules = np_arena_alloc(st->arena, (count[i] + 1) * sizeof(char *));
		for (size_t i = 0; i < c.n; i++) {
			struct nl_chain *ch = &t->chains[c.v[i].chain];
			ch->rules[ch->n_rules++] = c.v[i].comment;
		}
		free(count);
	}
	free(c.v);
	free(c.names);
	free(c.idx);
	free(by_index);
	return r;
}

static int obj_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rb_ctx *c = data;
	struct nftnl_obj *o = nftnl_obj_alloc();
	if (o && nftnl_obj_nlmsg_parse(nlh, o) == 0 &&
	    nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE) == NFT_OBJECT_COUNTER) {
		struct nl_counter *k = nl_table_add_counter(c->st, c->t);
		k->name = np_arena_strdup(c->st->arena, nftnl_obj_get_str(o, NFTNL_OBJ_NAME));
		k->packets = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
		k->bytes = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES);
		uint32_t len = 0;
		const void *ud = nftnl_obj_get_data(o, NFTNL_OBJ_USERDATA, &len);
		k->comment = udata_comment(c->st->arena, ud, len, NFTNL_UDATA_OBJ_COMMENT);
	}
	nftnl_obj_free(o);
	return MNL_CB_OK;
}

static int read_table(struct nft_sock *s, struct nl_state *st, size_t ti)
{
	char buf[1024];
	struct rb_ctx c = { .st = st, .t = &st->tables[ti] };
	struct nl_table *t = c.t;
	struct nlmsghdr *nlh = req_hdr(s, buf, NFT_MSG_GETTABLE, t->family, 0);
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, t->name);
	int r = request(s, nlh, table_cb, &c);
	if (r == -ENOENT)
		return 0; /* not installed */
	if (r < 0)
		return r;
	nlh = req_hdr(s, buf, NFT_MSG_GETSET, t->family, NLM_F_DUMP);
	mnl_attr_put_strz(nlh, NFTA_SET_TABLE, t->name);
	if ((r = request(s, nlh, set_cb, &c)) < 0)
		return r;
	for (size_t i = 0; i < t->n_sets; i++)
		if ((r = read_elems(s, st, t, &t->sets[i])) < 0)
			return r;
	nlh = req_hdr(s, buf, NFT_MSG_GETCHAIN, t->family, NLM_F_DUMP);
	mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, t->name);
	if ((r = request(s, nlh, chain_cb, &c)) < 0)
		return r;
	if ((r = read_rules(s, st, t)) < 0)
		return r;
	nlh = req_hdr(s, buf, NFT_MSG_GETOBJ, t->family, NLM_F_DUMP);
	mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, t->name);
	mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
	return request(s, nlh, obj_cb, &c);
}

int nft_read_state(struct nft_sock *s, const struct nl_state *want, struct nl_state **out)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		uint32_t gen_before = 0, gen_after = 0;
		int r = get_genid(s, &gen_before);
		if (r < 0)
			return r;
		struct nl_state *st = nl_state_new();
		for (size_t i = 0; i < want->n_tables && !r; i++) {
			nl_state_add_table(st, want->tables[i].name, want->tables[i].family);
			r = read_table(s, st, st->n_tables - 1);
		}
		if (!r)
			r = get_genid(s, &gen_after);
		if (r == -EINTR || (!r && gen_before != gen_after)) {
			nl_state_free(st); /* the ruleset changed while we read it: read again */
			continue;
		}
		if (r < 0) {
			nl_state_free(st);
			return r;
		}
		s->read_gen = gen_after;
		*out = st;
		return 0;
	}
	return -EAGAIN;
}

uint32_t nft_sock_read_gen(const struct nft_sock *s)
{
	return s->read_gen;
}

int nft_genid(struct nft_sock *s, uint32_t *id)
{
	return get_genid(s, id);
}

static int handle_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_table *t = nftnl_table_alloc();
	if (t && nftnl_table_nlmsg_parse(nlh, t) == 0)
		*(uint64_t *)data = nftnl_table_get_u64(t, NFTNL_TABLE_HANDLE);
	nftnl_table_free(t);
	return MNL_CB_OK;
}

int nft_table_handle(struct nft_sock *s, uint16_t family, const char *name, uint64_t *handle)
{
	char buf[512];
	*handle = 0;
	struct nlmsghdr *nlh = req_hdr(s, buf, NFT_MSG_GETTABLE, family, 0);
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, name);
	int r = request(s, nlh, handle_cb, handle);
	return r < 0 ? r : *handle ? 0 : -ENOENT;
}

struct counter_ctx {
	struct nft_counters *out;
	const char *table;
	size_t cap, cap_points;
	uint64_t pk, by; /* the rule being parsed */
	const char *log_prefix; /* its log statement's prefix, or NULL */
	bool accept;            /* its verdict is accept */
	char point_chain[256];  /* the chain of the last drop point: later rules there end it */
};

static int counter_expr_cb(struct nftnl_expr *e, void *data)
{
	struct counter_ctx *c = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	if (!strcmp(name, "counter")) {
		c->pk += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		c->by += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
	} else if (!strcmp(name, "log") && nftnl_expr_is_set(e, NFTNL_EXPR_LOG_PREFIX)) {
		c->log_prefix = nftnl_expr_get_str(e, NFTNL_EXPR_LOG_PREFIX);
	} else if (!strcmp(name, "immediate") && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT)) {
		c->accept = nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT) == NF_ACCEPT;
	}
	return MNL_CB_OK;
}

/* A log rule opens a drop point; the rules after it in its chain (the drop, the rejects, or
 * the audit's accept) end it. Returns whether the rule belonged to one. */
static bool count_point(struct counter_ctx *c, const char *chain)
{
	struct nft_counters *out = c->out;
	if (c->log_prefix) {
		struct nft_log_point *p = &VEC_PUSH(out->points, out->n_points, c->cap_points);
		memset(p, 0, sizeof(*p));
		snprintf(p->prefix, sizeof(p->prefix), "%s", c->log_prefix);
		p->logged = c->pk;
		snprintf(c->point_chain, sizeof(c->point_chain), "%s", chain);
		return true;
	}
	if (out->n_points && !strcmp(c->point_chain, chain)) {
		out->points[out->n_points - 1].ended += c->pk;
		return c->accept;
	}
	return false;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

static int counter_rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct counter_ctx *c = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r || nftnl_rule_nlmsg_parse(nlh, r) < 0) {
		nftnl_rule_free(r);
		return MNL_CB_OK;
	}
	const char *table = nftnl_rule_get_str(r, NFTNL_RULE_TABLE);
	const char *chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
	if (table && chain && !strcmp(table, c->table)) {
		c->out->rules++;
		c->pk = c->by = 0;
		c->log_prefix = NULL;
		c->accept = false;
		nftnl_expr_foreach(r, counter_expr_cb, c);
		bool pol = !strncmp(chain, "pol-", 4) || !strncmp(chain, "tier-deny-", 10);
		int dir = !strncmp(chain, "ing-", 4) || (pol && ends_with(chain, "-in"))
				  ? NFT_DROP_INGRESS
			  : !strncmp(chain, "egr-", 4) || (pol && ends_with(chain, "-out"))
				  ? NFT_DROP_EGRESS
				  : NFT_DROP_OTHER;
		if (!count_point(c, chain)) {
			c->out->drop_packets[dir] += c->pk;
			c->out->drop_bytes[dir] += c->by;
		}
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

static int counter_obj_cb(const struct nlmsghdr *nlh, void *data)
{
	struct counter_ctx *c = data;
	struct nftnl_obj *o = nftnl_obj_alloc();
	if (o && nftnl_obj_nlmsg_parse(nlh, o) == 0 &&
	    nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE) == NFT_OBJECT_COUNTER) {
		struct nft_counters *out = c->out;
		struct nft_counter_val *v = &VEC_PUSH(out->named, out->n_named, c->cap);
		memset(v, 0, sizeof(*v));
		snprintf(v->name, sizeof(v->name), "%s", nftnl_obj_get_str(o, NFTNL_OBJ_NAME));
		v->packets = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
		v->bytes = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES);
		uint32_t len = 0;
		const void *ud = nftnl_obj_get_data(o, NFTNL_OBJ_USERDATA, &len);
		struct udata_find f = { NFTNL_UDATA_OBJ_COMMENT, NULL };
		if (ud)
			nftnl_udata_parse(ud, len, udata_cb, &f);
		if (f.val)
			snprintf(v->comment, sizeof(v->comment), "%s", f.val);
	}
	nftnl_obj_free(o);
	return MNL_CB_OK;
}

static int counter_chain_cb(const struct nlmsghdr *nlh, void *data)
{
	((struct counter_ctx *)data)->out->chains++;
	return MNL_CB_OK;
}

int nft_read_counters(struct nft_sock *s, const char *table, uint32_t family,
		      struct nft_counters *out)
{
	memset(out, 0, sizeof(*out));
	struct counter_ctx c = { .out = out, .table = table };
	char buf[1024];
	struct nlmsghdr *nlh = req_hdr(s, buf, NFT_MSG_GETCHAIN, (uint16_t)family, NLM_F_DUMP);
	mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, table);
	int r = request(s, nlh, counter_chain_cb, &c);
	if (r == 0) {
		nlh = req_hdr(s, buf, NFT_MSG_GETRULE, (uint16_t)family, NLM_F_DUMP);
		mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, table);
		r = request(s, nlh, counter_rule_cb, &c);
	}
	if (r == 0) {
		nlh = req_hdr(s, buf, NFT_MSG_GETOBJ, (uint16_t)family, NLM_F_DUMP);
		mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, table);
		mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
		r = request(s, nlh, counter_obj_cb, &c);
	}
	if (r < 0)
		nft_counters_free(out);
	return r;
}

void nft_counters_free(struct nft_counters *c)
{
	free(c->named);
	free(c->points);
	c->named = NULL;
	c->points = NULL;
	c->n_named = c->n_points = 0;
}
