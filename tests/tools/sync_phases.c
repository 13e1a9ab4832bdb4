/* sync_phases — where one policyd sync spends its time in user space, without a kernel: keeps a
 * policy directory the way policyd does (per-file store, merge), builds once from scratch, then
 * writes FILE_A and FILE_B in turn over DIR/NAME FLIPS times and after each write runs the sync's
 * steps as policyd does: re-read the file into the store, merge, build with the cache, the kernel
 * state (sharing with the last one), the diff against the last state and the batch. Prints each
 * step's p50 / p99 / mean in microseconds and the whole sync's, so a benchmark can say which step
 * costs what, and a profiler (valgrind --tool=callgrind --toggle-collect=sync_once) can count
 * the instructions of exactly those steps.
 *
 *   sync_phases DIR --name NAME --a FILE_A --b FILE_B [--node NODE] [--flips N]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emit_nl.h"
#include "model.h"
#include "ruleset.h"
#include "store.h"

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		exit(2);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void put(const char *path, const char *text, size_t len)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	FILE *f = fopen(tmp, "wb");
	if (!f || fwrite(text, 1, len, f) != len || fclose(f) || rename(tmp, path)) {
		perror(path);
		exit(2);
	}
}

enum { P_READ, P_MERGE, P_BUILD, P_STATE, P_DIFF, P_BATCH, P_TOTAL, N_PHASES };
static const char *const phase_names[N_PHASES] = { "read", "merge", "build", "state", "diff",
						    "batch", "total" };

/* What one sync leaves for the next, as the apply pipeline keeps it. */
struct last {
	struct np_inventory *inv;
	struct rs_ruleset *rs;
	struct nl_state *st;
};

static void last_free(struct last *l)
{
	nl_state_free(l->st);
	ruleset_free(l->rs);
	np_inventory_free(l->inv);
}

/* One sync; its phases' times into t (microseconds). Not static: the profiler's toggle. */
void sync_once(struct store *s, const char *name, struct rs_cache *cache, struct last *last,
	       double *t, struct rs_build_stats *bs, size_t *changes);
void sync_once(struct store *s, const char *name, struct rs_cache *cache, struct last *last,
	       double *t, struct rs_build_stats *bs, size_t *changes)
{
	double t0 = now_us();
	store_file_refresh(s, name, t0 / 1e3);
	store_pending_commit(s, true, t0 / 1e3, 0, NULL);
	double t1 = now_us();
	struct np_inventory *inv = NULL;
	struct np_diags d;
	np_diags_init(&d);
	store_inventory_merge(s, &inv, &d);
	np_diags_free(&d);
	double t2 = now_us();
	struct rs_ruleset *rs = NULL;
	ruleset_build_cached(inv, last->inv, cache, bs, &rs);
	double t3 = now_us();
	struct nl_state *st = NULL;
	nl_state_from_ruleset_reusing(rs, last->st, &st);
	double t4 = now_us();
	struct nl_diff *diff = NULL;
	nl_diff_compute(last->st, st, false, &diff);
	double t5 = now_us();
	struct nl_batch *b = nl_batch_new(1);
	nl_batch_add_diff(b, diff);
	nl_batch_finish(b, true);
	double t6 = now_us();
	*changes = diff->changes;
	nl_batch_free(b);
	nl_diff_free(diff);
	last_free(last);
	store_retired_free(s);
	*last = (struct last){ inv, rs, st };
	double v[N_PHASES] = { t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t6 - t0 };
	memcpy(t, v, sizeof(v));
}

static int dbl_cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *name = NULL, *fa = NULL, *fb = NULL;
	struct rs_options ro = { 0 };
	long flips = 200;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--node") && i + 1 < argc)
			ro.node = argv[++i];
		else if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(argv[i], "--a") && i + 1 < argc)
			fa = argv[++i];
		else if (!strcmp(argv[i], "--b") && i + 1 < argc)
			fb = argv[++i];
		else if (!strcmp(argv[i], "--flips") && i + 1 < argc)
			flips = strtol(argv[++i], NULL, 10);
		else if (!dir)
			dir = argv[i];
	}
	if (!dir || !name || !fa || !fb || flips < 1) {
		fprintf(stderr, "usage: sync_phases DIR --name NAME --a FILE_A --b FILE_B "
			"[--node NODE] [--flips N]\n");
		return 2;
	}
	size_t la, lb;
	char *ta = slurp(fa, &la), *tb = slurp(fb, &lb);
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	put(path, tb, lb);
	struct store *s = NULL;
	struct rs_cache *cache = NULL;
	if (store_new(dir, NULL, &s) < 0 || rs_cache_new(&ro, &cache) < 0)
		return 2;
	double t0 = now_us();
	store_rescan(s, t0 / 1e3);
	store_pending_commit(s, true, t0 / 1e3, 0, NULL);
	struct last last = { 0 };
	struct np_diags d;
	np_diags_init(&d);
	store_inventory_merge(s, &last.inv, &d);
	np_diags_free(&d);
	ruleset_build_cached(last.inv, NULL, cache, NULL, &last.rs);
	nl_state_from_ruleset(last.rs, &last.st);
	printf("start: %.1f ms (read, merge, full build, state)\n", (now_us() - t0) / 1e3);

	double *t = calloc((size_t)flips * N_PHASES, sizeof(double));
	size_t changes = 0, built_pols = 0, built_pods = 0;
	for (long i = 0; i < flips; i++) {
		put(path, i % 2 ? tb : ta, i % 2 ? lb : la);
		struct rs_build_stats bs;
		size_t ch;
		double v[N_PHASES];
		sync_once(s, name, cache, &last, v, &bs, &ch);
		for (int p = 0; p < N_PHASES; p++)
			t[p * flips + i] = v[p];
		changes += ch;
		built_pols += bs.pols_built;
		built_pods += bs.pods_built;
	}
	printf("%ld syncs: %.1f changes, %.1f policies and %.1f pods rebuilt per sync\n", flips,
	       (double)changes / flips, (double)built_pols / flips, (double)built_pods / flips);
	for (int p = 0; p < N_PHASES; p++) {
		double *v = &t[p * flips], sum = 0;
		for (long i = 0; i < flips; i++)
			sum += v[i];
		qsort(v, (size_t)flips, sizeof(double), dbl_cmp);
		printf("  %-6s p50 %8.1f us  p99 %8.1f us  mean %8.1f us\n", phase_names[p],
		       v[flips / 2], v[(flips * 99) / 100], sum / flips);
	}
	put(path, tb, lb);
	free(t);
	free(ta);
	free(tb);
	last_free(&last);
	rs_cache_free(cache);
	store_free(s);
	return 0;
}
