/* apply.c — see apply.h. */
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "ct.h"
#include "nft.h"
#include "podnet.h"

struct ap_ctx {
	struct ap_opts o;
	struct nft_sock *s;
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

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int ap_ctx_new(const struct ap_opts *o, struct ap_ctx **out)
{
	struct ap_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
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

const struct np_inventory *ap_ctx_model(const struct ap_ctx *c)
{
	return c->inv;
}

const struct nl_state *ap_ctx_state(const struct ap_ctx *c)
{
	return c->state;
}

void ap_report_free(struct ap_report *rep)
{
	if (rep)
		np_diags_free(&rep->errors);
}

int ap_lock(const char *state_dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/ruleset.lock", state_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
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

static int fail(struct ap_report *rep, int err, const char *what)
{
	np_diag_add(&rep->errors, NP_SEV_ERROR, NULL, 0, NULL, 0, 0, "%s: %s", what, strerror(-err));
	return err;
}

/* Kernel-side conntrack step: cut the live flows the new model no longer allows (and give back
 * the ones it allows again). */
static void run_conntrack(struct ap_ctx *c, const struct nl_diff *diff,
			  const struct np_inventory *inv, struct ap_report *rep)
{
	double t = now_ms();
	struct ct_affected aff;
	ct_affected_from_diff(diff, &aff);
	struct ct_stats st = { 0 };
	rep->ct_error = ct_revoke(&aff, inv, &c->o.ro, c->ix, &st);
	rep->ct_revoked = st.revoked;
	rep->ct_restored = st.restored;
	rep->ct_judged = st.candidates;
	rep->ct_indexed = st.indexed;
	ct_affected_free(&aff);
	rep->ms_ct = now_ms() - t;
}

int ap_apply(struct ap_ctx *c, struct np_inventory *inv, unsigned flags, struct ap_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	np_diags_init(&rep->errors);
	double t0 = now_ms();
	struct rs_ruleset *rs = NULL;
	struct nl_state *want = NULL, *have = NULL;
	struct nl_diff *diff = NULL;
	struct nl_batch *b = NULL;
	int lock = -1, r;
	char why[512];

	/* the cache was left by the build of the last commit's model (c->inv), or reset */
	r = ruleset_build_cached(inv, c->inv, c->cache, &rep->build, &rs);
	if (r == 0)
		r = nl_state_from_ruleset_reusing(rs, c->state, &want);
	if (r < 0) {
		r = fail(rep, r, "building the ruleset");
		goto out;
	}
	for (size_t i = 0; i < want->n_tables; i++)
		want->tables[i].flags = c->o.table_flags;
	rep->ms_build = now_ms() - t0;

	if ((r = ap_ensure_br_netfilter(why, sizeof(why))) < 0) {
		np_diag_add(&rep->errors, NP_SEV_ERROR, NULL, 0, NULL, 0, 0, "%s", why);
		goto out;
	}
	if (!c->s && (r = nft_sock_open(&c->s)) < 0) {
		r = fail(rep, r, "nf_tables netlink socket");
		goto out;
	}
	if (c->o.state_dir && (lock = ap_lock(c->o.state_dir)) < 0) {
		r = lock;
		np_diag_add(&rep->errors, NP_SEV_ERROR, NULL, 0, NULL, 0, 0,
			    "lock %s/ruleset.lock: %s", c->o.state_dir, strerror(-r));
		goto out;
	}
	double t_read = now_ms();
	bool full = flags & AP_FULL;
	const struct nl_state *base = NULL;
	if (!full && (flags & AP_READBACK || !c->state)) {
		r = nft_read_state(c->s, want, &have);
		if (r < 0) /* a read-back we cannot trust is the "unclear" case: replace it all */
			full = true;
		base = have;
		rep->read_back = true;
		struct nl_diff *drift = NULL;
		if (r == 0 && c->state && nl_diff_compute(have, c->state, false, &drift) == 0)
			rep->drift = drift->changes;
		nl_diff_free(drift);
	} else if (!full) {
		base = c->state;
	}
	rep->ms_read = now_ms() - t_read;

	double t_diff = now_ms();
	for (;;) {
		r = nl_diff_compute(base, want, full, &diff);
		if (r < 0) {
			r = fail(rep, r, "computing the difference");
			goto out;
		}
		/* a batch never holds a million messages: reserve that many seqs for it */
		b = nl_batch_new(nft_sock_seq(c->s, 1u << 20));
		nl_batch_add_diff(b, diff);
		if (c->o.inject_error)
			inject_bad_rule(b, &want->tables[0]);
		nl_batch_finish(b, !c->o.check);
		rep->ms_diff = now_ms() - t_diff;
		rep->changes = diff->changes;
		rep->mode = diff->changes ? AP_MODE_INCREMENTAL : AP_MODE_NONE;
		for (size_t i = 0; i < diff->n_tables && i < 2; i++)
			if (diff->tables[i].replace) {
				rep->mode = AP_MODE_FULL;
				snprintf(rep->replace_why[i], sizeof(rep->replace_why[i]), "%s",
					 diff->tables[i].replace);
			}
		rep->stats = *nl_batch_stats(b);
		rep->bytes = nl_batch_len(b);

		double t_send = now_ms();
		/* sent even without changes: its NEWTABLE claims (or re-claims) the tables'
		 * ownership */
		r = nft_send_batch(c->s, b, !c->o.check, &rep->errors);
		rep->ms_kernel = now_ms() - t_send;
		if (r == -EINVAL && persist_refused(c, &rep->errors)) {
			/* before 6.9: an owned table would die with this process (fail open), so
			 * go without the owner flag; the monitor and resync repair others' edits */
			c->o.table_flags &= ~(uint32_t)(NL_TABLE_F_PERSIST | NL_TABLE_F_OWNER |
							NL_TABLE_F_UNKNOWN);
			for (size_t i = 0; i < want->n_tables; i++)
				want->tables[i].flags = c->o.table_flags;
			np_diags_free(&rep->errors);
			np_diags_init(&rep->errors);
			nl_batch_free(b);
			nl_diff_free(diff);
			b = NULL;
			diff = NULL;
			continue;
		}
		break;
	}
	if (r < 0) {
		/* rejected: the kernel holds what it held; unknown: read it back next time */
		if ((r != -EINVAL && r != -EPERM) || rep->read_back || !c->state)
			ap_ctx_invalidate(c);
		goto out;
	}
	if (!c->o.check && !c->o.no_ct && diff->changes)
		run_conntrack(c, diff, inv, rep);
	/* the commit is the new base; the previous model and state go (a check's model is kept
	 * as well, for the caller; its state is not what the kernel holds) */
	forget(c);
	c->inv = inv;
	c->rs = rs;
	c->state = c->o.check ? NULL : want;
	if (c->o.check)
		nl_state_free(want);
	inv = NULL;
	rs = NULL;
	want = NULL;
	r = 0;
out:
	if (r < 0) /* inv goes: what the cache holds was built for it */
		rs_cache_reset(c->cache);
	if (lock >= 0)
		close(lock);
	nl_batch_free(b);
	nl_diff_free(diff);
	nl_state_free(have);
	nl_state_free(want);
	ruleset_free(rs);
	np_inventory_free(inv);
	rep->ms_total = now_ms() - t0;
	return r;
}

int ap_flush(const char *table, const char *state_dir, struct np_diags *errors)
{
	struct nft_sock *s = NULL;
	int r = nft_sock_open(&s);
	if (r < 0) {
		np_diag_add(errors, NP_SEV_ERROR, NULL, 0, NULL, 0, 0,
			    "nf_tables netlink socket: %s", strerror(-r));
		return r;
	}
	char spoof[256];
	snprintf(spoof, sizeof(spoof), "%s-spoof", table);
	struct nl_batch *b = nl_batch_new(nft_sock_seq(s, 16));
	nl_batch_destroy_table(b, table, NFPROTO_INET);
	nl_batch_destroy_table(b, spoof, NFPROTO_BRIDGE);
	nl_batch_finish(b, true);
	r = nft_send_batch(s, b, true, errors);
	nl_batch_free(b);
	nft_sock_close(s);
	if (state_dir && podnet_flush(state_dir, table) && r == 0)
		r = -EIO;
	return r;
}
