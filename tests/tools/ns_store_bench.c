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
 *   learn-start n=N missed=M p50=X ms p99=Y ms max=Z ms    from its start (missed: 5 s) */
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 's' }, { "store", required_argument, NULL, 'S' },
		{ "node", required_argument, NULL, 'o' },      { "net", required_argument, NULL, 'N' },
		{ "netns-prefix", required_argument, NULL, 'p' }, { "n", required_argument, NULL, 'n' },
		{ "learn-netns", required_argument, NULL, 'l' }, { "keep", no_argument, NULL, 'k' },
		{ 0 },
	};
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
		default: return 2;
		}
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
