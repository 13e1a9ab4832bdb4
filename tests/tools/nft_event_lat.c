/* nft_event_lat — event → enforced latency, as a user of policyd sees it: writes a file by
 * rename into place and times until the kernel's commit is seen on an NFNLGRP_NFTABLES monitor
 * socket (the NEWGEN notification every committed nf_tables transaction ends with).
 *
 *   nft_event_lat --count N --dest PATH --a FILE_A --b FILE_B [--gap-ms 40] [--run CMD]
 *
 * Writes A, B, A, B, ... over PATH (2N writes: N of each; the first is A), each as
 * PATH.tmp + rename(2), the clock read just before the rename. With --run, CMD (e.g. a
 * `netpol apply DIR`) is run after each rename: the baseline without a daemon. Waits --gap-ms
 * after each commit so events do not overlap. Prints, for the writes of A and of B:
 *   "a: n=N missed=M p50=X ms p99=Y ms max=Z ms"
 * (missed: no commit seen within 10 s). Runs in the caller's network namespace. */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	char *buf = NULL;
	size_t cap = 0;
	*len = 0;
	for (;;) {
		if (*len + 65536 > cap && !(buf = realloc(buf, cap = cap * 2 + 65536)))
			abort();
		size_t n = fread(buf + *len, 1, cap - *len, f);
		if (!n)
			break;
		*len += n;
	}
	fclose(f);
	return buf;
}

static void put(const char *dest, const char *text, size_t len, double *t0)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", dest);
	/* a dotted temporary name would be cleaner, but a ".tmp" suffix is not a policy file
	 * either (policyd reads *.json, *.yaml, *.yml only) */
	FILE *f = fopen(tmp, "wb");
	if (!f || fwrite(text, 1, len, f) != len || fclose(f)) {
		perror(tmp);
		exit(2);
	}
	*t0 = now_ms();
	if (rename(tmp, dest) < 0) {
		perror(dest);
		exit(2);
	}
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) == NFNL_SUBSYS_NFTABLES &&
	    NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWGEN)
		*(int *)data = 1;
	return MNL_CB_OK;
}

/* Waits until a NEWGEN arrives or deadline; returns its receive time or 0. */
static double wait_commit(struct mnl_socket *nl, double deadline)
{
	static char buf[1 << 16];
	int fd = mnl_socket_get_fd(nl);
	for (;;) {
		double left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, (int)left + 1) <= 0)
			continue;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		double t = now_ms();
		if (n <= 0)
			continue;
		int gen = 0;
		mnl_cb_run(buf, (size_t)n, 0, 0, gen_cb, &gen);
		if (gen)
			return t;
	}
}

static void drain(struct mnl_socket *nl)
{
	static char buf[1 << 16];
	while (recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *label, double *v, int n, int missed)
{
	qsort(v, (size_t)n, sizeof(double), cmp);
	if (!n) {
		printf("%s: n=0 missed=%d\n", label, missed);
		return;
	}
	int i50 = (n - 1) * 50 / 100, i99 = (n - 1) * 99 / 100;
	printf("%s: n=%d missed=%d p50=%.2f ms p99=%.2f ms max=%.2f ms\n", label, n, missed,
	       v[i50], v[i99], v[n - 1]);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' }, { "dest", required_argument, NULL, 'd' },
		{ "a", required_argument, NULL, 'a' },     { "b", required_argument, NULL, 'b' },
		{ "gap-ms", required_argument, NULL, 'g' }, { "run", required_argument, NULL, 'r' },
		{ 0 },
	};
	int count = 200, c;
	const char *dest = NULL, *fa = NULL, *fb = NULL, *run = NULL;
	double gap = 40;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': count = atoi(optarg); break;
		case 'd': dest = optarg; break;
		case 'a': fa = optarg; break;
		case 'b': fb = optarg; break;
		case 'g': gap = atof(optarg); break;
		case 'r': run = optarg; break;
		default: return 2;
		}
	}
	if (!dest || !fa || !fb || count < 1) {
		fprintf(stderr, "usage: nft_event_lat --count N --dest PATH --a FILE --b FILE "
				"[--gap-ms MS] [--run CMD]\n");
		return 2;
	}
	size_t la, lb;
	char *ta = slurp(fa, &la), *tb = slurp(fb, &lb);
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	int grp = NFNLGRP_NFTABLES, rcv = 8 << 20;
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0) {
		perror("nf_tables monitor");
		return 2;
	}
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
	double *va = calloc((size_t)count, sizeof(double)), *vb = calloc((size_t)count, sizeof(double));
	int na = 0, nb = 0, ma = 0, mb = 0;
	for (int i = 0; i < 2 * count; i++) {
		bool is_a = i % 2 == 0;
		drain(nl);
		double t0;
		put(dest, is_a ? ta : tb, is_a ? la : lb, &t0);
		if (run && system(run) != 0)
			fprintf(stderr, "nft_event_lat: '%s' failed\n", run);
		double t1 = wait_commit(nl, t0 + 10000);
		if (!t1)
			is_a ? ma++ : mb++;
		else if (is_a)
			va[na++] = t1 - t0;
		else
			vb[nb++] = t1 - t0;
		struct timespec ts = { 0, (long)(gap * 1e6) };
		nanosleep(&ts, NULL);
	}
	report("a", va, na, ma);
	report("b", vb, nb, mb);
	free(va);
	free(vb);
	free(ta);
	free(tb);
	mnl_socket_close(nl);
	return 0;
}
