/* apply.c — see apply.h. A target's sync is the same steps for the node's tables and for a
 * macvlan pod's own table: target_build, then target_sync (target_read → target_send →
 * target_conntrack). What differs is around them: the node builds through the context's cache,
 * diffs against its last commit and becomes the context's new base; a pod is reached by moving
 * the thread into its netns (in_pod) and is always read back. */
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "apply.h"
#include "clock.h"
#include "ct.h"
#include "endpoints.h"
#include "nft.h"
#include "podnet.h"
#include "vec.h"
#include "xalloc.h"

struct ap_ctx {
	struct ap_opts o;
	struct nft_sock *s;
	/* the node's generation if no one else committed since our last read-back: that
	 * read-back's, plus one per commit of ours that changed something (gen_known: there was
	 * such a read-back and every commit since had a known outcome) */
	uint32_t gen;
	bool gen_known;
	/* the last commit: its model, IR and the kernel state it left (diffed against next time
	 * unless a read-back is asked for) */
	struct np_inventory *inv;
	struct rs_ruleset *rs;
	struct nl_state *state;
	/* per policy and pod, what the last build made of it, for the next build to reuse */
	struct rs_cache *cache;
	struct ctix *ix;          /* the caller's index of live connections, or NULL */
};

void ap_ctx_set_ctindex(struct ap_ctx *c, struct ctix *ix)
{
	c->ix = ix;
}

/* One target's sync in progress: how its ruleset is built, where its tables are, and what the
 * steps made so far. */
struct target {
	const struct rs_options *ro;
	struct rs_cache *cache;          /* the node: build reusing the fragments of prev */
	const struct np_inventory *prev;
	const struct nl_state *last;     /* what our last commit left there; NULL: read back */
	const uint32_t *trust_gen;       /* AP_TRUSTED: the generation the tables must be at */
	uint32_t table_flags;
	struct nft_sock *s;              /* nf_tables socket in the target's netns */
	bool full;                       /* replace its tables whole */
	bool sent;                       /* a transaction went to the kernel */
	struct rs_ruleset *rs;
	struct nl_state *want, *have;
	const struct nl_state *base;     /* what the diff starts from: have, last, or nothing */
	struct nl_diff *diff;
	struct ctix *ix;                 /* the node: live connections of its netns, or NULL */
};

static void target_free(struct target *t)
{
	nl_diff_free(t->diff);
	nl_state_free(t->have);
	nl_state_free(t->want);
	ruleset_free(t->rs);
}

int ap_ctx_new(const struct ap_opts *o, struct ap_ctx **out)
{
	struct ap_ctx *c = xcalloc(1, sizeof(*c));
	c->o = *o;
	if (rs_cache_new(&c->o.ro, &c->cache) < 0) {
		free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

static void forget(struct ap_ctx *c)
{
	nl_state_free(c->state);
	ruleset_free(c->rs);
	np_inventory_free(c->inv);
	c->state = NULL;
	c->rs = NULL;
	c->inv = NULL;
}

void ap_ctx_free(struct ap_ctx *c)
{
	if (!c)
		return;
	forget(c);
	rs_cache_free(c->cache);
	nft_sock_close(c->s);
	free(c);
}

void ap_ctx_invalidate(struct ap_ctx *c)
{
	nl_state_free(c->state);
	c->state = NULL;
}

uint32_t ap_ctx_portid(const struct ap_ctx *c)
{
	return c->s ? nft_sock_portid(c->s) : 0;
}

uint32_t ap_ctx_table_flags(const struct ap_ctx *c)
{
	return c->o.table_flags;
}

const struct np_inventory *ap_ctx_model(const struct ap_ctx *c)
{
	return c->inv;
}

const struct nl_state *ap_ctx_state(const struct ap_ctx *c)
{
	return c->state;
}

/* ---- the report ---- */

/* A new entry for a target (pod and netns NULL: the node's tables). */
static struct ap_target_report *report_add(struct ap_report *rep, const char *pod,
					   const char *netns)
{
	struct ap_target_report *tr = &VEC_PUSH(rep->targets, rep->n_targets, rep->cap_targets);
	memset(tr, 0, sizeof(*tr));
	tr->pod = pod ? xstrdup(pod) : NULL;
	tr->netns = netns ? xstrdup(netns) : NULL;
	np_diags_init(&tr->errors);
	return tr;
}

/* An empty report with the node's entry. */
static void report_init(struct ap_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	np_diags_init(&rep->errors);
	report_add(rep, NULL, NULL);
}

/* Sets tr's result, counting a failure. */
static int report_result(struct ap_report *rep, struct ap_target_report *tr, int r)
{
	tr->result = r;
	if (r < 0)
		rep->failed++;
	return r;
}

void ap_report_free(struct ap_report *rep)
{
	if (!rep)
		return;
	for (size_t i = 0; i < rep->n_targets; i++) {
		struct ap_target_report *tr = &rep->targets[i];
		free(tr->pod);
		free(tr->netns);
		np_diags_free(&tr->errors);
		nl_diff_free(tr->diff);
		nl_state_free(tr->have);
		nl_state_free(tr->want);
		ruleset_free(tr->rs);
	}
	free(rep->targets);
	np_diags_free(&rep->errors);
	memset(rep, 0, sizeof(*rep));
}

__attribute__((format(printf, 3, 4))) static int fail(struct ap_target_report *tr, int err,
						      const char *fmt, ...)
{
	char what[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	np_diag_add(&tr->errors, NP_SEV_ERROR, NULL, 0, NULL, 0, 0, "%s: %s", what, strerror(-err));
	return err;
}

const char *ap_target_describe(const struct ap_target_report *t, bool check, char *buf,
			       size_t size)
{
	static const char *const modes[] = { "in sync", "incremental", "full replace" };
	const char *mode = modes[t->mode == AP_MODE_NONE ? AP_MODE_INCREMENTAL : t->mode];
	int off = t->pod ? snprintf(buf, size, "pod %s (macvlan, netns %s): ", t->pod, t->netns)
			 : 0;
	char *p = buf + ((size_t)off < size ? (size_t)off : size - 1);
	size_t left = size - (size_t)(p - buf);
	if (check && t->pod)
		snprintf(p, left, "check passed (%s; nothing committed)", mode);
	else if (check)
		snprintf(p, left, "check passed (%s, %zu messages; nothing committed)", mode,
			 t->stats.msgs);
	else if (!t->changes)
		snprintf(p, left, "in sync; nothing to change");
	else
		snprintf(p, left, "applied (%s, %zu changes)", mode, t->changes);
	return buf;
}

/* ---- helpers ---- */

int ap_lock(const char *state_dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/ruleset.lock", state_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	/* a state directory gone read-only still has the lock file of earlier runs, and flock
	 * works on a read-only descriptor: enforcement goes on */
	if (fd < 0 && errno == EROFS)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int ap_ensure_br_netfilter(char *err, size_t errlen)
{
	static const char *const knobs[] = { "/proc/sys/net/bridge/bridge-nf-call-iptables",
					     "/proc/sys/net/bridge/bridge-nf-call-ip6tables" };
	for (size_t i = 0; i < 2; i++) {
		char v[8] = { 0 };
		int fd = open(knobs[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			snprintf(err, errlen, "%s: %s: bridged pod traffic would bypass the policy; "
				 "load br_netfilter (modprobe br_netfilter)", knobs[i], strerror(e));
			return -e;
		}
		ssize_t n = read(fd, v, sizeof(v) - 1);
		close(fd);
		if (n > 0 && v[0] == '1')
			continue;
		fd = open(knobs[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "1\n", 2) != 2) {
			int e = errno ? errno : EIO;
			snprintf(err, errlen, "cannot enable %s: %s", knobs[i], strerror(e));
			if (fd >= 0)
				close(fd);
			return -e;
		}
		close(fd);
	}
	return 0;
}

/* The persist flag was refused (pre-6.9 kernel: EOPNOTSUPP on the NEWTABLE). The tables lead
 * the batch, so the kernel's first error is the NEWTABLE's. */
static bool persist_refused(const struct ap_ctx *c, const struct np_diags *d)
{
	if (!(c->o.table_flags & NL_TABLE_F_PERSIST))
		return false;
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].err)
			return d->v[i].err == EOPNOTSUPP;
	return false;
}

/* ---- one target's sync: build, read back, send, conntrack ---- */

static void set_table_flags(struct nl_state *st, uint32_t flags)
{
	for (size_t i = 0; i < st->n_tables; i++)
		st->tables[i].flags = flags;
}

/* The target's ruleset and the kernel state it makes (t->rs, t->want). st: what a cached
 * build reused (may be NULL). */
static int target_build(struct target *t, const struct np_inventory *inv,
			struct rs_build_stats *st, struct ap_target_report *tr)
{
	double t0 = clock_now_ms();
	int r = t->cache ? ruleset_build_cached(inv, t->prev, t->cache, st, &t->rs)
			 : ruleset_build(inv, t->ro, &t->rs);
	if (r == 0)
		r = nl_state_from_ruleset_reusing(t->rs, t->last, &t->want);
	if (r < 0)
		return fail(tr, r, "building the ruleset");
	set_table_flags(t->want, t->table_flags);
	tr->ms_build = clock_now_ms() - t0;
	return 0;
}

/* What the diff starts from (t->base): the tables read back, when asked for or when there is
 * no last commit to trust, else the last commit; nothing for a full replace. */
static void target_read(struct target *t, unsigned flags, struct ap_target_report *tr)
{
	double t0 = clock_now_ms();
	t->base = t->full ? NULL : t->last;
	uint32_t now;
	if (!t->full && !t->last && t->trust_gen && !(flags & AP_READBACK) &&
	    nft_genid(t->s, &now) == 0 && now == *t->trust_gen) {
		t->base = t->want; /* nothing was committed since this model's commit */
		tr->trusted = true;
	} else if (!t->full && (flags & AP_READBACK || !t->last)) {
		int r = nft_read_state(t->s, t->want, &t->have);
		tr->read_back = true;
		if (r < 0) { /* a read-back we cannot trust is the "unclear" case: replace it all */
			tr->read_error = r;
			t->full = true;
		} else if (t->last) {
			struct nl_diff *drift = NULL;
			if (nl_diff_compute(t->have, t->last, false, &drift) == 0)
				tr->drift = drift->changes;
			nl_diff_free(drift);
		}
		t->base = t->have;
	}
	tr->ms_read = clock_now_ms() - t0;
}

/* Tests (inject_error): append to the first policy chain a rule the kernel rejects (a jump to
 * a chain that does not exist), attributed like that chain's first rule, to show that a
 * rejected batch changes nothing and that the error names the policy. */
static void inject_bad_rule(struct nl_batch *b, const struct nl_table *t)
{
	const char *chain = t->n_chains ? t->chains[0].name : "missing";
	const char *origin = "test-only injected rule";
	for (size_t i = 0; i < t->n_chains; i++) {
		const struct rs_chain *ch = t->chains[i].ir;
		if (ch && ch->n_rules && ch->rules[0].origin &&
		    !strncmp(ch->rules[0].origin, "policy", 6)) {
			chain = ch->name;
			origin = ch->rules[0].origin;
			break;
		}
	}
	nl_batch_add_bad_rule(b, t->name, t->family, chain, origin);
}

/* The transaction for t->diff, and what it will do in tr. */
static struct nl_batch *target_batch(const struct ap_ctx *c, struct target *t,
				     struct ap_target_report *tr)
{
	/* a batch never holds a million messages: reserve that many seqs for it */
	struct nl_batch *b = nl_batch_new(nft_sock_seq(t->s, 1u << 20));
	nl_batch_add_diff(b, t->diff);
	if (c->o.inject_error)
		inject_bad_rule(b, &t->want->tables[0]);
	nl_batch_finish(b, !c->o.check);
	tr->changes = t->diff->changes;
	tr->mode = t->diff->changes ? AP_MODE_INCREMENTAL : AP_MODE_NONE;
	for (size_t i = 0; i < t->diff->n_tables && i < 2; i++)
		if (t->diff->tables[i].replace) {
			tr->mode = AP_MODE_FULL;
			snprintf(tr->replace_why[i], sizeof(tr->replace_why[i]), "%s",
				 t->diff->tables[i].replace);
		}
	tr->stats = *nl_batch_stats(b);
	tr->bytes = nl_batch_len(b);
	return b;
}

/* Diffs t->base against t->want and sends the difference as one transaction (sent even
 * without changes: its NEWTABLE claims, or re-claims, the tables' ownership). */
static int target_send(struct ap_ctx *c, struct target *t, struct ap_target_report *tr)
{
	double t0 = clock_now_ms();
	for (;;) {
		int r = nl_diff_compute(t->base, t->want, t->full, &t->diff);
		if (r < 0)
			return fail(tr, r, "computing the difference");
		struct nl_batch *b = target_batch(c, t, tr);
		tr->ms_diff = clock_now_ms() - t0;
		double t_send = clock_now_ms();
		r = nft_send_batch(t->s, b, !c->o.check, &tr->errors);
		tr->ms_kernel = clock_now_ms() - t_send;
		t->sent = true;
		nl_batch_free(b);
		if (r != -EINVAL || !persist_refused(c, &tr->errors))
			return r;
		/* before 6.9: an owned table would die with this process (fail open), so go
		 * without the owner flag; the monitor and resync repair others' edits */
		c->o.table_flags &= ~(uint32_t)(NL_TABLE_F_PERSIST | NL_TABLE_F_OWNER |
						NL_TABLE_F_UNKNOWN);
		t->table_flags = c->o.table_flags;
		set_table_flags(t->want, t->table_flags);
		np_diags_free(&tr->errors);
		np_diags_init(&tr->errors);
		nl_diff_free(t->diff);
		t->diff = NULL;
	}
}

/* Kernel-side conntrack step, in the target's netns: cut the live flows the new model no
 * longer allows (and give back the ones it allows again). */
static void target_conntrack(const struct ap_ctx *c, const struct target *t,
			     const struct np_inventory *inv, struct ap_target_report *tr)
{
	if (c->o.check || c->o.no_ct || !t->diff->changes)
		return;
	double t0 = clock_now_ms();
	struct ct_affected aff;
	ct_affected_from_diff(t->diff, &aff);
	struct ct_stats st = { 0 };
	tr->ct_error = ct_revoke(&aff, inv, t->ro, t->ix, &st);
	tr->ct_revoked = st.revoked;
	tr->ct_restored = st.restored;
	tr->ct_judged = st.candidates;
	tr->ct_indexed = st.indexed;
	ct_affected_free(&aff);
	tr->ms_ct = clock_now_ms() - t0;
}

/* Read back (or the last commit) → diff → one transaction → conntrack, for a built target. */
static int target_sync(struct ap_ctx *c, struct target *t, const struct np_inventory *inv,
		       unsigned flags, struct ap_target_report *tr)
{
	target_read(t, flags, tr);
	int r = target_send(c, t, tr);
	if (r == 0)
		target_conntrack(c, t, inv, tr);
	return r;
}

/* ---- the pod targets ---- */

typedef int (*pod_fn)(void *arg, const struct podnet_target *pt, struct nft_sock **s,
		      struct ap_target_report *tr);

/* Runs fn for pt with the thread inside the pod's netns and an nf_tables socket opened there
 * (fn may keep it: it takes *s and sets it NULL), then returns to the node's netns. A gone
 * netns is recorded, and is no error. */
static int in_pod(const struct podnet_target *pt, pod_fn fn, void *arg,
		  struct ap_target_report *tr)
{
	struct ns_error e = { { 0 } };
	int saved = -1;
	int r = podnet_enter(pt->netns, &saved, &e);
	if (podnet_gone(r)) {
		tr->gone = true;
		return 0;
	}
	if (r < 0) {
		np_diag_add(&tr->errors, NP_SEV_ERROR, NULL, 0, NULL, 0, 0, "%s", e.msg);
		return r;
	}
	struct nft_sock *s = NULL;
	r = nft_sock_open(&s);
	if (r < 0)
		fail(tr, r, "nf_tables socket in %s", pt->netns);
	else
		r = fn(arg, pt, &s, tr);
	nft_sock_close(s);
	int back = ns_netns_restore(saved, &e);
	if (back < 0) {
		np_diag_add(&tr->errors, NP_SEV_ERROR, NULL, 0, NULL, 0, 0, "%s", e.msg);
		r = back;
	}
	return r;
}

/* Every pod target of inv on ro->node, each with its entry in rep, through fn (in_pod). */
static void each_pod(const struct np_inventory *inv, const struct rs_options *ro, pod_fn fn,
		     void *arg, struct ap_report *rep)
{
	struct podnet_target *pt = NULL;
	size_t n = 0;
	podnet_targets(inv, ro, &pt, &n);
	for (size_t i = 0; i < n; i++) {
		struct ap_target_report *tr = report_add(rep, pt[i].pod, pt[i].netns);
		report_result(rep, tr, in_pod(&pt[i], fn, arg, tr));
	}
	podnet_targets_free(pt, n);
}

/* ---- apply ---- */

/* Closing an nf_tables socket after a commit that deleted objects waits for the kernel's
 * deferred destroy work (an RCU grace period, ~12 ms here): closed one by one, N changed pods
 * cost N grace periods. Sockets are kept and closed together, so the first close waits once
 * and the rest find nothing pending (20 pods: ~280 -> ~30 ms). Bounded to stay far below the
 * fd limit. */
#define KEEP_SOCKS 128

struct pod_apply {
	struct ap_ctx *c;
	unsigned flags;
	struct nft_sock *kept[KEEP_SOCKS];
	size_t n_kept;
};

static void close_kept(struct pod_apply *pa)
{
	for (size_t i = 0; i < pa->n_kept; i++)
		nft_sock_close(pa->kept[i]);
	pa->n_kept = 0;
}

/* One pod's own table, inside its netns, from the model the node's tables just took. */
static int apply_pod(void *arg, const struct podnet_target *pt, struct nft_sock **s,
		     struct ap_target_report *tr)
{
	struct pod_apply *pa = arg;
	struct target t = { .ro = &pt->ro, .table_flags = pa->c->o.table_flags, .s = *s,
			    .full = pa->flags & AP_FULL };
	int r = target_build(&t, pa->c->inv, NULL, tr);
	if (r == 0)
		r = target_sync(pa->c, &t, pa->c->inv, pa->flags, tr);
	target_free(&t);
	if (r == 0) {
		if (pa->n_kept == KEEP_SOCKS)
			close_kept(pa);
		pa->kept[pa->n_kept++] = *s;
		*s = NULL;
	}
	return r;
}

/* What the node's tables need before their read-back: br_netfilter, the context's socket and
 * the writer lock (*lock, held until the last target is done). */
static int node_prepare(struct ap_ctx *c, int *lock, struct ap_target_report *tr)
{
	char why[512];
	int r = ap_ensure_br_netfilter(why, sizeof(why));
	if (r < 0) {
		np_diag_add(&tr->errors, NP_SEV_ERROR, NULL, 0, NULL, 0, 0, "%s", why);
		return r;
	}
	if (!c->s && (r = nft_sock_open(&c->s)) < 0)
		return fail(tr, r, "nf_tables netlink socket");
	if (c->o.state_dir && (*lock = ap_lock(c->o.state_dir)) < 0)
		return fail(tr, *lock, "lock %s/ruleset.lock", c->o.state_dir);
	return 0;
}

/* The commit is the new base; the previous model and state go (a check's model is kept as
 * well, for the caller; its state is not what the kernel holds). Takes inv and t's IR. */
static void node_commit(struct ap_ctx *c, struct target *t, struct np_inventory *inv)
{
	forget(c);
	c->inv = inv;
	c->rs = t->rs;
	t->rs = NULL;
	if (!c->o.check) {
		c->state = t->want;
		t->want = NULL;
	}
}

/* The generation the node's tables should be at after this sync (ap_ctx_gen_explained). A
 * commit that changed nothing may or may not move it: then it is unknown until the next
 * read-back (a false alarm costs the caller one read-back, never a missed change). */
static void node_track_gen(struct ap_ctx *c, const struct target *t,
			   const struct ap_target_report *tr, int r)
{
	if (tr->read_back && !tr->read_error) {
		c->gen = nft_sock_read_gen(t->s);
		c->gen_known = true;
	}
	if (!t->sent || c->o.check)
		return;
	uint32_t now, next = c->gen + 1 ? c->gen + 1 : 1; /* as the kernel counts: never 0 */
	if (r == 0 && t->diff && t->diff->changes) {
		c->gen = next;
	} else if (r == 0 && c->gen_known) {
		/* a commit without changes moves the generation only when it re-claimed tables
		 * whose owner had gone (a trusted restart's first commit, with the owner flag:
		 * unowned tables are not claimed, so there a move is never ours): told by asking;
		 * an unexplained move is someone else's */
		bool claimed = tr->trusted && (c->o.table_flags & NL_TABLE_F_OWNER);
		if (nft_genid(t->s, &now) == 0 && (now == c->gen || (claimed && now == next)))
			c->gen = now;
		else
			c->gen_known = false;
	} else if (r != -EINVAL && r != -EPERM) {
		c->gen_known = false; /* an unknown outcome */
	}
}

void ap_ctx_expect_gen(struct ap_ctx *c, uint32_t gen)
{
	c->gen = gen;
	c->gen_known = true;
}

bool ap_ctx_gen(const struct ap_ctx *c, uint32_t *gen)
{
	*gen = c->gen;
	return c->gen_known;
}

int ap_ctx_gen_explained(struct ap_ctx *c)
{
	uint32_t now;
	if (!c->s || !c->gen_known)
		return 0;
	int r = nft_genid(c->s, &now);
	return r < 0 ? r : now == c->gen;
}

/* The node's tables. Takes inv: the context's model after a commit, freed otherwise. */
static int apply_node(struct ap_ctx *c, struct np_inventory *inv, unsigned flags, int *lock,
		      struct ap_report *rep)
{
	struct ap_target_report *tr = &rep->targets[0];
	/* the cache was left by the build of the last commit's model (c->inv), or reset */
	struct target t = { .ro = &c->o.ro, .cache = c->cache, .prev = c->inv, .last = c->state,
			    .table_flags = c->o.table_flags, .full = flags & AP_FULL, .ix = c->ix,
			    .trust_gen = flags & AP_TRUSTED && c->gen_known ? &c->gen : NULL };
	int r = target_build(&t, inv, &rep->build, tr);
	if (r == 0)
		r = node_prepare(c, lock, tr);
	if (r == 0) {
		t.s = c->s;
		r = target_sync(c, &t, inv, flags, tr);
		node_track_gen(c, &t, tr, r);
	}
	if (r == 0) {
		node_commit(c, &t, inv);
		inv = NULL;
	} else {
		/* rejected: the kernel holds what it held; unknown: read it back next time */
		if (t.sent && ((r != -EINVAL && r != -EPERM) || tr->read_back || !c->state))
			ap_ctx_invalidate(c);
		rs_cache_reset(c->cache); /* inv goes: what the cache holds was built for it */
	}
	target_free(&t);
	np_inventory_free(inv);
	return report_result(rep, tr, r);
}

int ap_apply(struct ap_ctx *c, struct np_inventory *inv, unsigned flags, struct ap_report *rep)
{
	double t0 = clock_now_ms();
	report_init(rep);
	int lock = -1;
	int r = apply_node(c, inv, flags, &lock, rep);
	if (r == 0) {
		/* macvlan pods: their own table inside their own netns, with the flags the
		 * kernel took */
		struct pod_apply pa = { .c = c, .flags = flags };
		each_pod(c->inv, &c->o.ro, apply_pod, &pa, rep);
		close_kept(&pa);
	}
	if (lock >= 0)
		close(lock);
	rep->ms_total = clock_now_ms() - t0;
	return r;
}

/* ---- status ---- */

/* Reads t's tables back and hands want, have and their difference to tr. */
static int target_compare(struct target *t, struct ap_target_report *tr)
{
	int r = nft_read_state(t->s, t->want, &t->have);
	if (r < 0) {
		tr->read_error = r;
		return r;
	}
	for (size_t i = 0; i < t->have->n_tables && i < t->want->n_tables && i < 32; i++)
		if (nl_table_accept_unowned(&t->want->tables[i], &t->have->tables[i]))
			tr->unowned |= 1u << i;
	r = nl_diff_compute(t->have, t->want, false, &tr->diff);
	if (r < 0)
		return fail(tr, r, "computing the difference");
	tr->rs = t->rs;
	tr->want = t->want;
	tr->have = t->have;
	t->rs = NULL;
	t->want = t->have = NULL;
	return 0;
}

struct pod_status {
	const struct ap_opts *o;
	const struct np_inventory *inv;
};

static int status_pod(void *arg, const struct podnet_target *pt, struct nft_sock **s,
		      struct ap_target_report *tr)
{
	const struct pod_status *ps = arg;
	struct target t = { .ro = &pt->ro, .table_flags = ps->o->table_flags, .s = *s };
	int r = target_build(&t, ps->inv, NULL, tr);
	if (r == 0)
		r = target_compare(&t, tr);
	target_free(&t);
	return r;
}

int ap_status(const struct ap_opts *o, const struct np_inventory *inv, struct ap_report *rep)
{
	report_init(rep);
	struct ap_target_report *tr = &rep->targets[0];
	struct target t = { .ro = &o->ro, .table_flags = o->table_flags };
	int r = target_build(&t, inv, NULL, tr);
	if (r == 0 && (r = nft_sock_open(&t.s)) < 0)
		fail(tr, r, "nf_tables netlink socket");
	if (r == 0)
		r = target_compare(&t, tr);
	nft_sock_close(t.s);
	target_free(&t);
	if (report_result(rep, tr, r) < 0)
		return r;
	struct pod_status ps = { .o = o, .inv = inv };
	each_pod(inv, &o->ro, status_pod, &ps, rep);
	return rep->failed ? -EIO : 0;
}

/* ---- flush ---- */

/* Removes table inet TABLE (and table bridge TABLE-spoof, with spoof) over s, in one
 * transaction. */
static int destroy_tables(struct nft_sock *s, const char *table, bool spoof,
			  struct np_diags *errors)
{
	struct nl_batch *b = nl_batch_new(nft_sock_seq(s, 16));
	nl_batch_destroy_table(b, table, NFPROTO_INET);
	if (spoof) {
		char name[256];
		snprintf(name, sizeof(name), "%s-spoof", table);
		nl_batch_destroy_table(b, name, NFPROTO_BRIDGE);
	}
	nl_batch_finish(b, true);
	int r = nft_send_batch(s, b, true, errors);
	nl_batch_free(b);
	return r;
}

static int flush_pod(void *arg, const struct podnet_target *pt, struct nft_sock **s,
		     struct ap_target_report *tr)
{
	const char *table = arg;
	struct np_diags kernel;
	np_diags_init(&kernel);
	int r = destroy_tables(*s, table, false, &kernel);
	if (r < 0)
		np_diag_add(&tr->errors, NP_SEV_ERROR, NULL, 0, NULL, 0, 0,
			    "removing table inet %s in %s: %s", table, pt->netns,
			    kernel.n ? kernel.v[0].msg : strerror(-r));
	np_diags_free(&kernel);
	return r;
}

int ap_flush(const char *table, const char *state_dir, struct ap_report *rep)
{
	report_init(rep);
	struct ap_target_report *tr = &rep->targets[0];
	struct nft_sock *s = NULL;
	int r = nft_sock_open(&s);
	if (r < 0)
		fail(tr, r, "nf_tables netlink socket");
	else
		r = destroy_tables(s, table, true, &tr->errors);
	nft_sock_close(s);
	report_result(rep, tr, r);
	if (!state_dir)
		return r;
	/* the endpoint records alone say which netns may hold a table of ours */
	struct np_inventory *inv = np_inventory_new();
	char err[1024];
	bool records = endpoints_merge(inv, state_dir, NULL, err, sizeof(err)) >= 0;
	if (!records)
		np_diag_add(&rep->errors, NP_SEV_ERROR, NULL, 0, NULL, 0, 0, "%s", err);
	const struct rs_options every = { 0 };
	each_pod(inv, &every, flush_pod, (void *)table, rep);
	np_inventory_free(inv);
	return r == 0 && (!records || rep->failed) ? -EIO : r;
}
