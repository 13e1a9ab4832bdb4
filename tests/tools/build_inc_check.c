/* build_inc_check — proves that an incremental build equals a full one. Keeps a policy
 * directory the way policyd does (per-file store, only changed files re-parsed, merged), and on
 * every "sync" line read from stdin: rescans, builds with the cache (reusing the fragments of
 * whatever did not change) and from scratch, and compares the two rulesets as nft text and as
 * kernel states (the incremental one patched from, or sharing element encodings with, the
 * previous state, as the apply pipeline does), and checks that the diff from the previous state
 * the pipeline would send (only what the build patched) is the diff comparing everything, message
 * for message (attribute padding aside: libmnl before 1.0.5 leaves it uninitialized). Prints
 * one line per sync:
 *
 *   ok changed=N rebuilt_policies=N/N rebuilt_pods=N/N full=0|1 patched=0|1
 *   MISMATCH text|state|diff: ... (and the first differing line)
 *
 *   build_inc_check DIR [--node NAME]      exit 0 when every sync matched, 1 otherwise
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <sys/uio.h>
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

/* The transaction a diff makes, as bytes (in *len). */
static char *batch_bytes(const struct nl_diff *d, size_t *len)
{
	struct nl_batch *b = nl_batch_new(1);
	nl_batch_add_diff(b, d);
	nl_batch_finish(b, true);
	struct iovec iov[64];
	int n = nl_batch_iovec(b, iov, 64);
	*len = nl_batch_len(b);
	char *buf = malloc(*len + 1), *p = buf;
	for (int i = 0; i < n && i < 64; i++) {
		memcpy(p, iov[i].iov_base, iov[i].iov_len);
		p += iov[i].iov_len;
	}
	nl_batch_free(b);
	return buf;
}

/* Attributes a[0..n) and b[0..n) the same, but for the alignment padding after each (libmnl
 * before 1.0.5 leaves it as it finds it); nested ones compared inside. */
static bool attrs_eq(const unsigned char *a, const unsigned char *b, size_t n)
{
	size_t off = 0;
	while (off + sizeof(struct nlattr) <= n) {
		const struct nlattr *x = (const void *)(a + off), *y = (const void *)(b + off);
		if (x->nla_len != y->nla_len || x->nla_type != y->nla_type ||
		    x->nla_len < sizeof(struct nlattr) || off + x->nla_len > n)
			return false;
		size_t hl = sizeof(struct nlattr), pl = x->nla_len - hl;
		if (x->nla_type & NLA_F_NESTED ? !attrs_eq(a + off + hl, b + off + hl, pl)
					       : memcmp(a + off + hl, b + off + hl, pl) != 0)
			return false;
		off += NLA_ALIGN(x->nla_len);
	}
	return true;
}

/* Two batches of len bytes hold the same messages. */
static bool msgs_eq(const char *a, const char *b, size_t len)
{
	size_t off = 0;
	while (off + sizeof(struct nlmsghdr) + sizeof(struct nfgenmsg) <= len) {
		const struct nlmsghdr *x = (const void *)(a + off), *y = (const void *)(b + off);
		size_t hl = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
		if (x->nlmsg_len != y->nlmsg_len || x->nlmsg_len < hl || off + x->nlmsg_len > len ||
		    memcmp(x, y, NLMSG_HDRLEN + sizeof(struct nfgenmsg)) ||
		    !attrs_eq((const unsigned char *)a + off + hl, (const unsigned char *)b + off + hl,
			      x->nlmsg_len - hl))
			return false;
		off += NLMSG_ALIGN(x->nlmsg_len);
	}
	return off == len;
}

/* The diff from the last state as the pipeline computes it (only what the build patched, when
 * it patched) is the diff comparing everything, message for message; 0 when so. */
static int diff_agrees(const struct nl_state *prev, const struct nl_state *cur)
{
	if (!prev)
		return 0;
	struct nl_diff *d = NULL, *all = NULL;
	nl_diff_compute(prev, cur, false, &d);
	nl_diff_compute_all(prev, cur, false, &all);
	size_t la, lb;
	char *a = batch_bytes(d, &la), *b = batch_bytes(all, &lb);
	int bad = d->changes != all->changes || la != lb || !msgs_eq(a, b, la);
	if (bad)
		printf("MISMATCH diff: %zu changes in %zu bytes from the patch, %zu in %zu bytes "
		       "comparing everything\n", d->changes, la, all->changes, lb);
	free(a);
	free(b);
	nl_diff_free(d);
	nl_diff_free(all);
	return bad;
}

static void first_difference(const char *a, const char *b)
{
	const char *a0 = a;
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
	/* the set or chain it is in */
	for (const char *p = la; p > a0; p--)
		if (!strncmp(p, "\tset ", 5) || !strncmp(p, "\tmap ", 5) ||
		    !strncmp(p, "\tchain ", 7)) {
			printf("  in: %.*s\n", (int)strcspn(p + 1, "\n"), p + 1);
			break;
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
		} else if (diff_agrees(prev_st, st_inc)) {
			bad = 1;
		} else {
			printf("ok changed=%zu rebuilt_policies=%zu/%zu rebuilt_pods=%zu/%zu full=%d "
			       "patched=%d\n", st.changed, st.pols_built,
			       st.pols_built + st.pols_reused, st.pods_built,
			       st.pods_built + st.pods_reused, st.full,
			       inc->tables[0].delta != NULL);
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
