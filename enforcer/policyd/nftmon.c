/* nftmon.c — see nftmon.h. */
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nftmon.h"
#include "xalloc.h"

struct nftmon {
	struct mnl_socket *nl;
	char **tables;
	size_t n;
	char *buf;
};

#define MON_BUF (64 * 1024)

int nftmon_new(const char *const *tables, size_t n, struct nftmon **out)
{
	struct nftmon *m = xcalloc(1, sizeof(*m));
	m->tables = xcalloc(n, sizeof(char *));
	m->buf = xmalloc(MON_BUF);
	for (size_t i = 0; i < n; i++)
		m->tables[i] = xstrdup(tables[i]);
	m->n = n;
	m->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	/* a full replace of a large node notifies ~100,000 objects at once (every set element):
	 * a smaller queue overflows on our own commit, and an overflow must count as drift */
	int grp = NFNLGRP_NFTABLES, rcv = 32 << 20;
	if (!m->nl || mnl_socket_bind(m->nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(m->nl, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0) {
		int e = errno ? -errno : -EIO;
		nftmon_free(m);
		return e;
	}
	int fd = mnl_socket_get_fd(m->nl);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	*out = m;
	return 0;
}

void nftmon_free(struct nftmon *m)
{
	if (!m)
		return;
	if (m->nl)
		mnl_socket_close(m->nl);
	for (size_t i = 0; i < m->n; i++)
		free(m->tables[i]);
	free(m->tables);
	free(m->buf);
	free(m);
}

int nftmon_fd(const struct nftmon *m)
{
	return mnl_socket_get_fd(m->nl);
}

struct mon_ctx {
	const struct nftmon *m;
	uint32_t own;
	int foreign;
};

/* The table name: attribute 1 of every nf_tables message that names one (NFTA_TABLE_NAME,
 * NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE,
 * NFTA_OBJ_TABLE, NFTA_FLOWTABLE_TABLE). */
static int table_attr_cb(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == 1 && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		*(const char **)data = mnl_attr_get_str(a);
	return MNL_CB_OK;
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct mon_ctx *c = data;
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
		return MNL_CB_OK;
	int type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	if (type == NFT_MSG_NEWGEN || type == NFT_MSG_TRACE)
		return MNL_CB_OK;
	if (c->own && nlh->nlmsg_pid == c->own)
		return MNL_CB_OK;
	const char *table = NULL;
	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), table_attr_cb, &table);
	for (size_t i = 0; table && i < c->m->n; i++)
		if (!strcmp(table, c->m->tables[i])) {
			c->foreign++;
			break;
		}
	return MNL_CB_OK;
}

int nftmon_read(struct nftmon *m, uint32_t own)
{
	struct mon_ctx c = { .m = m, .own = own };
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(m->nl, m->buf, MON_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return c.foreign;
		if (n < 0 && errno == ENOBUFS) {
			c.foreign++;
			continue;
		}
		if (n <= 0)
			return n < 0 ? -errno : c.foreign;
		mnl_cb_run(m->buf, (size_t)n, 0, 0, msg_cb, &c);
	}
}
