/* ns_store_bench — attach latency through the netsetup library against a store, and how long
 * until another host forwards to the new endpoint, for tests/bench/store.sh.
 *
 *   ns_store_bench --state-dir S [--store URL --node NAME] --net NET --netns-prefix P --n N
 *                  [--learn-netns NETNS] [--keep]
 *
 * Attaches the containers P1..PN one after the other (in the caller's netns, its node side),
 * timing each ns_network_attach call. With --learn-netns, a neighbour monitor opened in that
 * netns (another host's) times the arrival of the neighbour entry for the endpoint's IPv4
 * address (what its agent adds after the FDB entry: from then on it forwards to it), from the
 * attach call's start and from its return (0 when it was there before the attach returned: the
 * store has the record before the interface exists). Detaches them all at the end unless
 * --keep. Prints
 *   attach n=N p50=X ms p99=Y ms max=Z ms
 *   learn n=N missed=M p50=X ms p99=Y ms max=Z ms          from the attach's return
 *   learn-start n=N missed=M p50=X ms p99=Y ms max=Z ms    from its start (missed: 5 s)
 *
 *   ns_store_bench --store URL --object NS/KIND/NAME --put-a FILE --put-b FILE
 *                  --enforce-netns NETNS --n N
 *
 * Writes the object to the store N times, FILE_A's JSON and FILE_B's in turn (obj_put, one
 * etcd put), timing each from the write's start until another host's policyd commits (the
 * NEWGEN notification every nf_tables transaction ends with, on a monitor in NETNS); 40 ms
 * apart. Prints "put n=N missed=M p50=X ms p99=Y ms max=Z ms".
 *
 *   ns_store_bench --store URL --raw-writes N
 *
 * The floor under both: N create-if-absent transactions of fresh keys (outside any prefix
 * netpol uses) through the same client, one after the other. Prints "write n=N p50=...". */
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "etcd.h"
#include "netstore.h"
#include "network.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n, int missed)
{
	if (n == 0) {
		printf("%s n=0 missed=%d\n", what, missed);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_d);
	printf("%s n=%d", what, n);
	if (missed >= 0)
		printf(" missed=%d", missed);
	printf(" p50=%.2f ms p99=%.2f ms max=%.2f ms\n", v[(n - 1) / 2], v[(n * 99 + 99) / 100 - 1],
	       v[n - 1]);
}

/* A neighbour monitor in netns (by name): 0 with *out, or -1. */
static int monitor_open(const char *netns, struct mnl_socket **out)
{
	struct ns_error e;
	int fd, saved;

	if (ns_netns_open(netns, &fd, &e) < 0 || ns_netns_enter(fd, &saved, &e) < 0) {
		fprintf(stderr, "ns_store_bench: %s\n", e.msg);
		return -1;
	}
	close(fd);
	*out = mnl_socket_open(NETLINK_ROUTE);
	if (*out && mnl_socket_bind(*out, 1 << (RTNLGRP_NEIGH - 1), MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(*out);
		*out = NULL;
	}
	ns_netns_restore(saved, &e);
	return *out ? 0 : -1;
}

/* The monitor's thread notes when each IPv4 neighbour entry appears, as it arrives (a read
 * after the attach returned would time what came during it at the read). */
#define MAX_SEEN 4096
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint8_t ip[MAX_SEEN][4];
	double at[MAX_SEEN];
	int n;
} seen = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static int attr_cb(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) != NDA_DST || mnl_attr_get_payload_len(a) != 4)
		return MNL_CB_OK;
	pthread_mutex_lock(&seen.lock);
	if (seen.n < MAX_SEEN) {
		memcpy(seen.ip[seen.n], mnl_attr_get_payload(a), 4);
		seen.at[seen.n++] = *(double *)data;
		pthread_cond_broadcast(&seen.cond);
	}
	pthread_mutex_unlock(&seen.lock);
	return MNL_CB_OK;
}

static int neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type == RTM_NEWNEIGH && nd->ndm_family == AF_INET)
		mnl_attr_parse(nlh, sizeof(*nd), attr_cb, data);
	return MNL_CB_OK;
}

static void *monitor(void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	ssize_t n;

	while ((n = mnl_socket_recvfrom(arg, buf, sizeof(buf))) > 0) {
		double t = now_ms();
		mnl_cb_run(buf, n, 0, 0, neigh_cb, &t);
	}
	return NULL;
}

/* When the neighbour entry of ip appeared (waiting up to 5 s from t0), or -1. */
static double wait_neigh(const struct ns_ip *ip, double t0)
{
	struct timespec dl;
	double at = -1;
	int from = 0;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 5;
	pthread_mutex_lock(&seen.lock);
	while (at < 0) {
		for (int i = from; i < seen.n && at < 0; i++)
			if (!memcmp(seen.ip[i], ip->a, 4) && seen.at[i] >= t0)
				at = seen.at[i];
		from = seen.n;
		if (at < 0 && pthread_cond_timedwait(&seen.cond, &seen.lock, &dl) != 0)
			break;
	}
	pthread_mutex_unlock(&seen.lock);
	return at;
}

/* An nf_tables monitor in netns (by name), or NULL. */
static struct mnl_socket *nft_monitor(const char *netns)
{
	struct mnl_socket *m = NULL;
	struct ns_error e;
	int fd, saved, grp = NFNLGRP_NFTABLES;

	if (ns_netns_open(netns, &fd, &e) < 0 || ns_netns_enter(fd, &saved, &e) < 0) {
		fprintf(stderr, "ns_store_bench: %s\n", e.msg);
		return NULL;
	}
	close(fd);
	if ((m = mnl_socket_open(NETLINK_NETFILTER)) &&
	    (mnl_socket_bind(m, 0, MNL_SOCKET_AUTOPID) < 0 ||
	     mnl_socket_setsockopt(m, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0)) {
		mnl_socket_close(m);
		m = NULL;
	}
	ns_netns_restore(saved, &e);
	return m;
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) == NFNL_SUBSYS_NFTABLES &&
	    NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWGEN)
		*(int *)data = 1;
	return MNL_CB_OK;
}

/* When the next NEWGEN came (by 5 s after t0), or -1. */
static double wait_commit(struct mnl_socket *m, double t0)
{
	static char buf[1 << 16];
	struct pollfd p = { mnl_socket_get_fd(m), POLLIN, 0 };
	int gen = 0;

	while (!gen) {
		double left = t0 + 5000 - now_ms();
		ssize_t n;
		if (left <= 0 || poll(&p, 1, (int)left + 1) <= 0)
			return -1;
		if ((n = recv(p.fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			mnl_cb_run(buf, (size_t)n, 0, 0, gen_cb, &gen);
	}
	return now_ms();
}

static int raw_writes(const char *url, int n)
{
	struct etcd *e;
	struct ns_error err;
	double *v = calloc(n, sizeof(*v));
	char key[64];

	if (etcd_new(url, &e, &err) < 0) {
		fprintf(stderr, "ns_store_bench: %s\n", err.msg);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		struct etcd_resp r;
		json_t *cmps = json_array(), *ok = json_array(), *txn;
		double t0 = now_ms();
		snprintf(key, sizeof(key), "/ns_store_bench/%d/%d", (int)getpid(), i);
		json_array_append_new(cmps, etcd_cmp_absent(key));
		json_array_append_new(ok, etcd_op_put(key, "x", 0));
		txn = etcd_txn(cmps, ok, NULL);
		if (etcd_call(e, "/v3/kv/txn", txn, 0, &r, &err) < 0) {
			fprintf(stderr, "ns_store_bench: %s\n", err.msg);
			return 1;
		}
		v[i] = now_ms() - t0;
		etcd_resp_free(&r);
		json_decref(txn);
	}
	report("write", v, n, -1);
	free(v);
	etcd_free(e);
	return 0;
}

static int put_bench(struct ns_ctx *ctx, const char *name, const char *fa, const char *fb,
		     const char *netns, int n)
{
	struct mnl_socket *m = nft_monitor(netns);
	json_t *ja = json_load_file(fa, 0, NULL), *jb = json_load_file(fb, 0, NULL);
	char *ta = ja ? json_dumps(ja, JSON_COMPACT) : NULL, *tb = jb ? json_dumps(jb, JSON_COMPACT) : NULL;
	double *v = calloc(n, sizeof(*v));
	int got = 0, missed = 0;
	struct ns_error e;
	static char buf[1 << 16];

	if (!m || !ta || !tb) {
		fprintf(stderr, "ns_store_bench: no monitor in %s, or unreadable %s/%s\n", netns, fa, fb);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		double t0, t;
		while (recv(mnl_socket_get_fd(m), buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
		t0 = now_ms();
		if (ctx->store->ops->obj_put(ctx->store, name, i % 2 ? tb : ta, &e) < 0) {
			fprintf(stderr, "ns_store_bench: put: %s\n", e.msg);
			return 1;
		}
		if ((t = wait_commit(m, t0)) < 0)
			missed++;
		else
			v[got++] = t - t0;
		usleep(40000);
	}
	report("put", v, got, missed);
	free(v);
	free(ta);
	free(tb);
	json_decref(ja);
	json_decref(jb);
	mnl_socket_close(m);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 's' }, { "store", required_argument, NULL, 'S' },
		{ "node", required_argument, NULL, 'o' },      { "net", required_argument, NULL, 'N' },
		{ "netns-prefix", required_argument, NULL, 'p' }, { "n", required_argument, NULL, 'n' },
		{ "learn-netns", required_argument, NULL, 'l' }, { "keep", no_argument, NULL, 'k' },
		{ "object", required_argument, NULL, 'O' }, { "put-a", required_argument, NULL, 'a' },
		{ "put-b", required_argument, NULL, 'b' },
		{ "enforce-netns", required_argument, NULL, 'E' },
		{ "raw-writes", required_argument, NULL, 'w' },
		{ 0 },
	};
	const char *object = NULL, *put_a = NULL, *put_b = NULL, *enforce = NULL;
	const char *state = NULL, *net = NULL, *prefix = NULL, *learn = NULL;
	struct ns_store_conf conf = { 0 };
	struct mnl_socket *mon = NULL;
	struct ns_error e = { "" };
	struct ns_ctx *ctx;
	char netns[256];
	double *att, *lrn, *lrn0;
	int n = 0, c, missed = 0, n_lrn = 0;
	bool keep = false;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'S': conf.url = optarg; break;
		case 'o': conf.node = optarg; break;
		case 'N': net = optarg; break;
		case 'p': prefix = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'l': learn = optarg; break;
		case 'k': keep = true; break;
		case 'O': object = optarg; break;
		case 'a': put_a = optarg; break;
		case 'b': put_b = optarg; break;
		case 'E': enforce = optarg; break;
		case 'w': return raw_writes(conf.url, atoi(optarg));
		default: return 2;
		}
	}
	if (object && put_a && put_b && enforce && n > 0) {
		if (!(ctx = ns_ctx_open(NULL, &conf, true, &e))) {
			fprintf(stderr, "ns_store_bench: %s\n", e.msg);
			return 1;
		}
		c = put_bench(ctx, object, put_a, put_b, enforce, n);
		ns_ctx_free(ctx);
		return c;
	}
	if (!state || !net || !prefix || n <= 0) {
		fprintf(stderr, "usage: ns_store_bench --state-dir S [--store URL --node NAME] --net NET "
				"--netns-prefix P --n N [--learn-netns NETNS] [--keep]\n");
		return 2;
	}
	pthread_t th;
	if (learn && (monitor_open(learn, &mon) < 0 || pthread_create(&th, NULL, monitor, mon)))
		return 1;
	if (!(ctx = ns_ctx_open(state, &conf, false, &e))) {
		fprintf(stderr, "ns_store_bench: %s\n", e.msg);
		return 1;
	}
	att = calloc(n, sizeof(*att));
	lrn = calloc(n, sizeof(*lrn));
	lrn0 = calloc(n, sizeof(*lrn0));
	for (int i = 1; i <= n; i++) {
		struct ns_attach_req req = { 0 };
		struct ns_endpoint *ep;
		double t0, t1;
		snprintf(netns, sizeof(netns), "%s%d", prefix, i);
		req.netns = netns;
		t0 = now_ms();
		if (ns_network_attach(ctx, net, &req, &ep, &e) < 0) {
			fprintf(stderr, "ns_store_bench: attach %s: %s\n", netns, e.msg);
			return 1;
		}
		t1 = now_ms();
		att[i - 1] = t1 - t0;
		if (mon) {
			double l = wait_neigh(&ep->addrs[0].ip, t0);
			if (l < 0) {
				missed++;
			} else {
				lrn0[n_lrn] = l - t0;
				lrn[n_lrn++] = l > t1 ? l - t1 : 0;
			}
		}
		ns_endpoint_free(ep);
	}
	report("attach", att, n, -1);
	if (mon) {
		report("learn", lrn, n_lrn, missed);
		report("learn-start", lrn0, n_lrn, missed);
	}
	for (int i = 1; !keep && i <= n; i++) {
		snprintf(netns, sizeof(netns), "%s%d", prefix, i);
		if (ns_network_detach(ctx, net, netns, &e) < 0)
			fprintf(stderr, "ns_store_bench: detach %s: %s\n", netns, e.msg);
	}
	if (mon) {
		pthread_cancel(th);
		pthread_join(th, NULL);
		mnl_socket_close(mon);
	}
	free(att);
	free(lrn);
	free(lrn0);
	ns_ctx_free(ctx);
	return 0;
}
