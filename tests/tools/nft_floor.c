/* nft_floor — the floor the kernel sets under an incremental sync: the commit time of the
 * smallest transactions on netpol's table as it is in this netns (load it first, e.g. with
 * `netpol apply`, without the owner flag: policyd's tables cannot be edited from here). Times
 * each transaction from the sendmsg of its batch to the last ack, ROUNDS times each:
 *
 *   empty        a batch with nothing in it (the round trip and the commit's fixed cost)
 *   set element  one address added to (then deleted from) a peer set (no verdict)
 *   map element  one "address : goto CHAIN" added to (then deleted from) a dispatch map: a
 *                verdict that makes the kernel validate the whole table (every chain reachable
 *                from the base chains) before it commits
 *
 *   nft_floor [--table netpol] [--rounds 100]
 * prints per kind "KIND: p50 X ms p99 Y ms (N rounds)". Runs in the caller's netns. */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "emit_nl.h"
#include "nft.h"

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int dbl_cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

/* One transaction adding (or deleting) e to set s of table t; its commit time in ms, or -1. */
static double one(struct nft_sock *sk, const struct nl_table *t, const struct nl_set *s,
		  const struct nl_elem *e, bool add)
{
	struct nl_diff d = { 0 };
	struct nl_table_diff td = { .old = t, .cur = t };
	const struct nl_elem *v[1] = { e };
	struct nl_set_diff sd = { .old = s, .cur = s };
	if (s) {
		if (add)
			sd.add = v, sd.n_add = 1;
		else
			sd.del = v, sd.n_del = 1;
		td.sets = &sd;
		td.n_sets = 1;
	}
	d.tables = &td;
	d.n_tables = 1;
	d.changes = s != NULL;
	struct nl_batch *b = nl_batch_new(nft_sock_seq(sk, 1u << 20));
	nl_batch_add_diff(b, &d);
	nl_batch_finish(b, true);
	struct np_diags err;
	np_diags_init(&err);
	double t0 = now_ms();
	int r = nft_send_batch(sk, b, true, &err);
	double ms = now_ms() - t0;
	if (r < 0)
		fprintf(stderr, "nft_floor: %s\n", err.n ? err.v[0].msg : "transaction failed");
	np_diags_free(&err);
	nl_batch_free(b);
	return r < 0 ? -1 : ms;
}

static void report(const char *what, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), dbl_cmp);
	printf("%-12s p50 %.2f ms  p99 %.2f ms  (%d rounds)\n", what, v[n / 2], v[(n * 99) / 100], n);
}

int main(int argc, char **argv)
{
	const char *table = "netpol";
	int rounds = 100;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--table") && i + 1 < argc)
			table = argv[++i];
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
	}
	struct nft_sock *sk = NULL;
	struct nl_state *want = nl_state_new(), *have = NULL;
	nl_state_add_table(want, table, NFPROTO_INET);
	if (nft_sock_open(&sk) < 0 || nft_read_state(sk, want, &have) < 0 ||
	    !have->tables[0].present) {
		fprintf(stderr, "nft_floor: table inet %s not found here\n", table);
		return 2;
	}
	const struct nl_table *t = &have->tables[0];
	const struct nl_set *peer = NULL, *map = NULL;
	const char *chain = NULL;
	for (size_t i = 0; i < t->n_sets; i++) {
		if (!peer && !strncmp(t->sets[i].name, "peer4-", 6))
			peer = &t->sets[i];
		if (!strcmp(t->sets[i].name, "ing4"))
			map = &t->sets[i];
	}
	for (size_t i = 0; i < t->n_chains && !chain; i++)
		if (!strncmp(t->chains[i].name, "ing-", 4))
			chain = t->chains[i].name;
	if (!peer || !map || !chain) {
		fprintf(stderr, "nft_floor: no peer set, ing4 map or pod chain in %s\n", table);
		return 2;
	}
	struct nl_elem e = { 0 };
	inet_pton(AF_INET, "10.255.254.253", e.lo);
	memcpy(e.hi, e.lo, sizeof(e.hi));
	struct nl_elem m = e;
	m.chain = chain;
	double *v = calloc((size_t)rounds, sizeof(*v));
	struct { const char *what; const struct nl_set *s; const struct nl_elem *e; } kinds[] = {
		{ "empty", NULL, NULL }, { "set element", peer, &e }, { "map element", map, &m },
	};
	for (size_t k = 0; k < 3; k++) {
		int n = 0;
		for (int i = 0; i < rounds; i++) {
			double a = one(sk, t, kinds[k].s, kinds[k].e, true);
			if (kinds[k].s)
				one(sk, t, kinds[k].s, kinds[k].e, false);
			if (a >= 0)
				v[n++] = a;
		}
		if (n)
			report(kinds[k].what, v, n);
	}
	free(v);
	nl_state_free(have);
	nl_state_free(want);
	nft_sock_close(sk);
	return 0;
}
