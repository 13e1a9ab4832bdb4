/* nflog.c — see nflog.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nflog.h"
#include "xalloc.h"

/* Bytes of each packet copied: an IPv6 header with a TCP header fits in 60; 128 leaves room
 * for IPv4 options and extension headers. */
#define COPY_RANGE 128
/* The kernel's batch: up to 64 packets or 64 KiB, sent at the latest 10 ms (1/100 s units)
 * after its first packet: a drop shows within 10 ms, and a burst costs one recv per batch. */
#define BATCH_BYTES 65536
#define BATCH_PACKETS 64
#define BATCH_TIMEOUT 1
/* One recv takes a whole batch (a batch larger than the buffer would be truncated). */
#define RECV_BUF (2 * BATCH_BYTES)

struct nflog {
	struct mnl_socket *nl;
	uint16_t group;
	uint32_t seq;              /* of our config requests */
	char *buf;
	size_t asked, rcvbuf_max;  /* the receive buffer asked for, and its bound */
	bool have_seq;
	uint32_t next_seq;         /* the kernel's sequence number expected next */
	bool overflowed;           /* ENOBUFS seen, no packet read since */
	uint64_t credit;           /* losses reported ahead of the gap that will show them */
	struct nflog_stats st;
	nflog_pkt_fn fn;
	nflog_lost_fn lost;
	void *arg;
};

static struct nlmsghdr *cfg_msg(struct nflog *n, uint8_t family)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(n->buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK; /* the ack carries EBUSY, EPERM */
	nlh->nlmsg_seq = ++n->seq;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	g->res_id = htons(n->group);
	return nlh;
}

/* Sends a config request and waits for its ack: 0 or -errno. */
static int cfg_send(struct nflog *n, struct nlmsghdr *nlh)
{
	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	uint32_t portid = mnl_socket_get_portid(n->nl);
	for (;;) {
		ssize_t r = mnl_socket_recvfrom(n->nl, n->buf, RECV_BUF);
		if (r < 0)
			return errno == EINTR ? 0 : -errno;
		int cb = mnl_cb_run(n->buf, (size_t)r, n->seq, portid, NULL, NULL);
		if (cb < 0)
			return -errno;
		if (cb == MNL_CB_STOP)
			return 0;
	}
}

/* Asks for size; st.rcvbuf is what the kernel grants (twice that: it counts its overhead). */
static void set_rcvbuf(struct nflog *n, size_t size)
{
	int fd = mnl_socket_get_fd(n->nl), v = (int)size;
	socklen_t len = sizeof(v);
	n->asked = size;
	/* SO_RCVBUFFORCE (CAP_NET_ADMIN) is not capped by net.core.rmem_max */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	n->st.rcvbuf = getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len) == 0 ? (size_t)v : size;
}

/* Whether this netns has an instance on group (another socket bound it): the kernel answers a
 * bind of a taken group with EPERM (a config from another port id), which without this would
 * read as missing privileges. */
static bool group_taken(uint16_t group)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_log", "r");
	char line[256];
	bool taken = false;
	while (f && !taken && fgets(line, sizeof(line), f))
		taken = atoi(line) == group;
	if (f)
		fclose(f);
	return taken;
}

static int configure(struct nflog *n)
{
	struct nlmsghdr *nlh = cfg_msg(n, AF_UNSPEC);
	struct nfulnl_msg_config_cmd cmd = { NFULNL_CFG_CMD_BIND };
	mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(cmd), &cmd);
	int r = cfg_send(n, nlh);
	if (r == -EPERM && group_taken(n->group))
		return -EBUSY;
	if (r < 0)
		return r;
	nlh = cfg_msg(n, AF_UNSPEC);
	struct nfulnl_msg_config_mode mode = { htonl(COPY_RANGE), NFULNL_COPY_PACKET, 0 };
	mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(mode), &mode);
	mnl_attr_put_u16(nlh, NFULA_CFG_FLAGS, htons(NFULNL_CFG_F_SEQ));
	mnl_attr_put_u32(nlh, NFULA_CFG_NLBUFSIZ, htonl(BATCH_BYTES));
	mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(BATCH_PACKETS));
	mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(BATCH_TIMEOUT));
	return cfg_send(n, nlh);
}

int nflog_open(uint16_t group, size_t rcvbuf, size_t rcvbuf_max, struct nflog **out)
{
	struct nflog *n = xcalloc(1, sizeof(*n));
	n->group = group;
	n->buf = xmalloc(RECV_BUF);
	n->rcvbuf_max = rcvbuf_max < rcvbuf ? rcvbuf : rcvbuf_max;
	int r = 0;
	n->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!n->nl || mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		r = -errno;
	if (r == 0) {
		set_rcvbuf(n, rcvbuf);
		r = configure(n);
	}
	int fd = n->nl ? mnl_socket_get_fd(n->nl) : -1;
	int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
	if (r == 0 && (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		r = -errno;
	if (r < 0) {
		nflog_free(n);
		return r;
	}
	*out = n;
	return 0;
}

void nflog_free(struct nflog *n)
{
	if (!n)
		return;
	if (n->nl)
		mnl_socket_close(n->nl); /* the kernel unbinds the group of a closed socket */
	free(n->buf);
	free(n);
}

int nflog_fd(const struct nflog *n)
{
	return mnl_socket_get_fd(n->nl);
}

void nflog_stats_get(const struct nflog *n, struct nflog_stats *st)
{
	*st = n->st;
}

static void report_lost(struct nflog *n, uint64_t k)
{
	if (!k)
		return;
	n->st.lost += k;
	if (n->lost)
		n->lost(n->arg, k);
}

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);
	if (mnl_attr_type_valid(a, NFULA_MAX) > 0)
		tb[type] = a;
	return MNL_CB_OK;
}

/* A gap in the kernel's sequence numbers is packets lost: those an overflow already reported
 * (as one, the least it could be) are not reported again. */
static void check_seq(struct nflog *n, uint32_t seq)
{
	if (n->have_seq && seq != n->next_seq) {
		uint64_t gap = (uint32_t)(seq - n->next_seq);
		report_lost(n, gap > n->credit ? gap - n->credit : 0);
		n->credit = 0;
		n->overflowed = false; /* this gap is the overflow's loss */
	}
	/* a packet without a gap after an overflow was queued before it: the loss is still to
	 * be reported */
	n->have_seq = true;
	n->next_seq = seq + 1;
}

static int pkt_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nflog *n = data;
	if ((nlh->nlmsg_type & 0xff) != NFULNL_MSG_PACKET)
		return MNL_CB_OK;
	const struct nlattr *tb[NFULA_MAX + 1] = { 0 };
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*g), attr_cb, tb) < 0 || !tb[NFULA_PAYLOAD])
		return MNL_CB_OK;
	if (tb[NFULA_SEQ])
		check_seq(n, ntohl(mnl_attr_get_u32(tb[NFULA_SEQ])));
	struct nflog_pkt p = { .prefix = "" };
	p.family = g->nfgen_family == AF_INET6 ? 6 : 4;
	p.payload = mnl_attr_get_payload(tb[NFULA_PAYLOAD]);
	p.len = mnl_attr_get_payload_len(tb[NFULA_PAYLOAD]);
	if (tb[NFULA_PREFIX])
		p.prefix = mnl_attr_get_str(tb[NFULA_PREFIX]);
	if (tb[NFULA_PACKET_HDR])
		p.hook = ((const struct nfulnl_msg_packet_hdr *)mnl_attr_get_payload(
				  tb[NFULA_PACKET_HDR]))->hook;
	if (tb[NFULA_TIMESTAMP]) {
		/* attributes are 4-byte aligned, the struct wants 8: copied out */
		struct nfulnl_msg_packet_timestamp ts;
		memcpy(&ts, mnl_attr_get_payload(tb[NFULA_TIMESTAMP]), sizeof(ts));
		p.time_ns = (int64_t)be64toh(ts.sec) * 1000000000 + (int64_t)be64toh(ts.usec) * 1000;
	}
	if (tb[NFULA_IFINDEX_INDEV])
		p.indev = ntohl(mnl_attr_get_u32(tb[NFULA_IFINDEX_INDEV]));
	if (tb[NFULA_IFINDEX_OUTDEV])
		p.outdev = ntohl(mnl_attr_get_u32(tb[NFULA_IFINDEX_OUTDEV]));
	n->st.packets++;
	if (n->fn)
		n->fn(n->arg, &p);
	return MNL_CB_OK;
}

int nflog_read(struct nflog *n, nflog_pkt_fn fn, nflog_lost_fn lost, void *arg)
{
	n->fn = fn;
	n->lost = lost;
	n->arg = arg;
	uint64_t before = n->st.packets;
	for (;;) {
		ssize_t r = mnl_socket_recvfrom(n->nl, n->buf, RECV_BUF);
		if (r < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			if (e == EAGAIN || e == EWOULDBLOCK)
				break;
			if (e != ENOBUFS)
				return -e;
			/* the kernel dropped a batch: what follows in the queue is still good */
			n->st.enobufs++;
			n->overflowed = true;
			if (n->asked < n->rcvbuf_max)
				set_rcvbuf(n, n->asked * 2 > n->rcvbuf_max ? n->rcvbuf_max
									   : n->asked * 2);
			continue;
		}
		mnl_cb_run(n->buf, (size_t)r, 0, 0, pkt_cb, n);
	}
	if (n->overflowed) {
		/* no packet since to show the gap: at least one was lost; the gap the next
		 * packet shows is reported less this one */
		report_lost(n, 1);
		n->credit++;
		n->overflowed = false;
	}
	return (int)(n->st.packets - before);
}
