/* ns_attach_bench — attaches then detaches N containers through the netsetup library in one
 * process, to separate the library's cost from process start-up in tests/bench/attach.sh.
 * Usage (inside the node netns): ns_attach_bench STATE_DIR NETWORK NETNS_PREFIX N
 * Containers are the netns NETNS_PREFIX1 .. NETNS_PREFIXN. Prints two lines:
 *   lib_attach_ms_per_endpoint X
 *   lib_detach_ms_per_endpoint Y */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "network.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	struct ns_error e = { "" };
	struct ns_ctx *ctx;
	char netns[256], id[64];
	double t0, t1, t2;
	int n;

	if (argc != 5 || (n = atoi(argv[4])) <= 0) {
		fprintf(stderr, "usage: ns_attach_bench STATE_DIR NETWORK NETNS_PREFIX N\n");
		return 2;
	}
	ctx = ns_ctx_new(argv[1], &e);
	if (!ctx) {
		fprintf(stderr, "ns_attach_bench: %s\n", e.msg);
		return 1;
	}
	t0 = now_ms();
	for (int i = 1; i <= n; i++) {
		struct ns_attach_req req = { 0 };
		snprintf(netns, sizeof(netns), "%s%d", argv[3], i);
		req.netns = netns;
		if (ns_network_attach(ctx, argv[2], &req, NULL, &e) < 0) {
			fprintf(stderr, "ns_attach_bench: attach %s: %s\n", netns, e.msg);
			ns_ctx_free(ctx);
			return 1;
		}
	}
	t1 = now_ms();
	for (int i = 1; i <= n; i++) {
		snprintf(id, sizeof(id), "%s%d", argv[3], i);
		if (ns_network_detach(ctx, argv[2], id, &e) < 0) {
			fprintf(stderr, "ns_attach_bench: detach %s: %s\n", id, e.msg);
			ns_ctx_free(ctx);
			return 1;
		}
	}
	t2 = now_ms();
	printf("lib_attach_ms_per_endpoint %.3f\nlib_detach_ms_per_endpoint %.3f\n", (t1 - t0) / n,
	       (t2 - t1) / n);
	ns_ctx_free(ctx);
	return 0;
}
