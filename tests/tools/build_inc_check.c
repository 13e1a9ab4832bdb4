/* build_inc_check — proves that an incremental build equals a full one. Keeps a policy
 * directory the way policyd does (per-file store, only changed files re-parsed, merged), and on
 * every "sync" line read from stdin: rescans, builds with the cache (reusing the fragments of
 * whatever did not change) and from scratch, and compares the two rulesets as nft text and as
 * kernel states (the incremental one sharing element encodings with the previous state, as the
 * apply pipeline does). Prints one line per sync:
 *
 *   ok changed=N rebuilt_policies=N/N rebuilt_pods=N/N full=0|1
 *   MISMATCH text|state: ... (and the first differing line)
 *
 *   build_inc_check DIR [--node NAME]      exit 0 when every sync matched, 1 otherwise
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emit_nl.h"
#include "model.h"
#include "ruleset.h"
#include "store.h"

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void first_difference(const char *a, const char *b)
{
	size_t line = 1;
	const char *la = a, *lb = b;
	while (*a && *a == *b) {
		if (*a == '\n') {
			line++;
			la = a + 1;
			lb = b + 1;
		}
		a++;
		b++;
	}
	printf("  line %zu: full:        %.*s\n", line, (int)strcspn(la, "\n"), la);
	printf("  line %zu: incremental: %.*s\n", line, (int)strcspn(lb, "\n"), lb);
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	struct rs_options ro = { 0 };
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--node") && i + 1 < argc)
			ro.node = argv[++i];
		else if (!dir)
			dir = argv[i];
	}
	if (!dir) {
		fprintf(stderr, "usage: build_inc_check DIR [--node NAME]\n");
		return 2;
	}
	struct store *s = NULL;
	struct rs_cache *cache = NULL;
	if (store_new(dir, NULL, &s) < 0 || rs_cache_new(&ro, &cache) < 0) {
		fprintf(stderr, "build_inc_check: out of memory\n");
		return 2;
	}
	struct np_inventory *prev = NULL;
	struct rs_ruleset *prev_rs = NULL;
	struct nl_state *prev_st = NULL;
	int bad = 0;
	char line[64];
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "sync", 4))
			continue;
		double now = now_ms();
		store_rescan(s, now);
		store_pending_commit(s, true, now, 0, NULL);
		struct np_inventory *inv = NULL;
		struct np_diags d;
		np_diags_init(&d);
		store_inventory_merge(s, &inv, &d);
		np_diags_free(&d);

		struct rs_build_stats st;
		struct rs_ruleset *inc = NULL, *full = NULL;
		struct nl_state *st_inc = NULL, *st_full = NULL;
		struct nl_diff *diff = NULL;
		ruleset_build_cached(inv, prev, cache, &st, &inc);
		ruleset_build(inv, &ro, &full);
		nl_state_from_ruleset_reusing(inc, prev_st, &st_inc);
		nl_state_from_ruleset(full, &st_full);
		char *ti = emit_text(inc), *tf = emit_text(full);
		nl_diff_compute(st_full, st_inc, false, &diff);
		if (strcmp(ti, tf)) {
			printf("MISMATCH text\n");
			first_difference(tf, ti);
			bad = 1;
		} else if (diff->changes) {
			printf("MISMATCH state: %zu differences between the incremental state and the "
			       "full one\n", diff->changes);
			bad = 1;
		} else {
			printf("ok changed=%zu rebuilt_policies=%zu/%zu rebuilt_pods=%zu/%zu full=%d\n",
			       st.changed, st.pols_built, st.pols_built + st.pols_reused,
			       st.pods_built, st.pods_built + st.pods_reused, st.full);
		}
		fflush(stdout);
		free(ti);
		free(tf);
		nl_diff_free(diff);
		nl_state_free(st_full);
		ruleset_free(full);
		/* what the next build diffs and reuses against, as in the apply pipeline */
		nl_state_free(prev_st);
		ruleset_free(prev_rs);
		np_inventory_free(prev);
		store_retired_free(s);
		prev = inv;
		prev_rs = inc;
		prev_st = st_inc;
	}
	nl_state_free(prev_st);
	ruleset_free(prev_rs);
	np_inventory_free(prev);
	rs_cache_free(cache);
	store_free(s);
	return bad;
}
