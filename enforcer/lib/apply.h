/* apply.h — the one apply pipeline that `netpol apply`, policyd and netpol-cni share:
 * inventory → ruleset IR → read back (or the last commit) → diff → one nf_tables transaction →
 * conntrack, run for every target: the node's tables in the current netns, then the own table
 * of each macvlan pod inside its netns (podnet.h). A context keeps the last committed model and
 * the node's kernel state between calls, so a resident caller (policyd) diffs against what it
 * committed last instead of reading the kernel back each time. `netpol status` (ap_status) and
 * flush (ap_flush) walk the same targets. Nothing here prints: each target's outcome and errors
 * are returned in a report. */
#ifndef NETPOL_ENFORCER_APPLY_H
#define NETPOL_ENFORCER_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "emit_nl.h"
#include "model.h"
#include "ruleset.h"

struct ap_opts {
	struct rs_options ro;
	const char *state_dir; /* writers serialize on STATE/ruleset.lock; NULL: no lock */
	uint32_t table_flags;  /* NL_TABLE_F_OWNER | NL_TABLE_F_PERSIST unless set otherwise */
	bool check;            /* the kernel validates the transaction; nothing is committed */
	bool no_ct;            /* leave conntrack entries alone */
	bool inject_error;     /* tests: add a rule the kernel rejects */
};

enum ap_mode { AP_MODE_NONE, AP_MODE_INCREMENTAL, AP_MODE_FULL };

enum {
	AP_FULL = 1 << 0,     /* replace every target's tables whole */
	AP_READBACK = 1 << 1, /* read the kernel back even though the context trusts its last
				 commit (periodic resync, drift) */
	AP_TRUSTED = 1 << 2,  /* the caller knows that this model built the node's tables at
				 the generation ap_ctx_expect_gen set (policyd's commit marker): if
				 the kernel is still at it, no read-back, nothing to change (the
				 transaction still re-claims the tables). Ignored when the context
				 has a last commit, or with AP_READBACK or AP_FULL */
};

/* What one target's apply, status or flush came to. */
struct ap_target_report {
	char *pod;                  /* the macvlan pod ("ns/name") whose own table this is;
				       NULL: the node's tables */
	char *netns;                /* the netns that holds them; NULL: the current one */
	int result;                 /* 0, or -errno (for the node: what ap_apply returns) */
	bool gone;                  /* the pod's netns no longer exists: nothing of ours is left
				       to enforce there, which is no error */
	struct np_diags errors;     /* what went wrong: kernel errors naming the policy, or why
				       a step could not run (the node's entry also holds what
				       stopped the whole apply: the lock, br_netfilter) */

	/* apply */
	enum ap_mode mode;
	size_t changes;             /* 0: the kernel already held it */
	struct nl_batch_stats stats; /* msgs > 0: a transaction was sent (a failure then is the
					kernel's answer, or a lost one) */
	size_t bytes;
	char replace_why[2][96];    /* per table (inet, bridge): why it was replaced whole */
	bool read_back;             /* the kernel was read back for this diff */
	bool trusted;               /* AP_TRUSTED held: the diff started from the model's own
				       state, the kernel being at the expected generation */
	int read_error;             /* the read-back failed (-errno): the tables were replaced
				       whole (ap_status: nothing could be compared) */
	size_t drift;               /* with a read-back: what differed from the last commit
				       (changes someone else made to our tables) */
	size_t ct_revoked;          /* live connections cut (no longer allowed) */
	size_t ct_restored;         /* previously cut connections allowed again */
	int ct_error;               /* the conntrack step failed (-errno); the ruleset is in */
	size_t ct_judged;           /* connections the conntrack step judged */
	bool ct_indexed;            /* it found them in the index (else by a dump) */
	double ms_build, ms_read, ms_diff, ms_kernel, ms_ct;

	/* status (ap_status): the tables as built (from rs, which want points into) and as the
	 * kernel holds them, the difference (have → want), and which of want's tables the kernel
	 * holds unowned (bit i: tables[i] has no owner and persist flags; a mode, not drift: want
	 * took its flags) */
	struct rs_ruleset *rs;
	struct nl_state *want, *have;
	struct nl_diff *diff;
	unsigned unowned;
};

struct ap_report {
	struct ap_target_report *targets; /* [0]: the node's tables, always there; then the own
					     table of each macvlan pod, in inventory order */
	size_t n_targets, cap_targets;
	size_t failed;                    /* targets whose result is < 0 */
	struct np_diags errors;           /* what concerns no single target (ap_flush: the
					     endpoint records could not be read) */
	struct rs_build_stats build;      /* what the node's build rebuilt and what it reused */
	double ms_total;
};

struct ap_ctx;

/* A context for opts (copied; its strings must outlive the context). 0 or -ENOMEM. */
int ap_ctx_new(const struct ap_opts *o, struct ap_ctx **out);
void ap_ctx_free(struct ap_ctx *c);

/* Applies inv, which must have loaded without errors (endpoint records already merged), to
 * every target: the node's tables first, then, once they hold it, each macvlan pod's own
 * table (a pod whose netns is gone is skipped; one that fails does not undo the node's
 * commit, and the next pod is still tried). Takes ownership of inv: it is the context's model
 * after a commit and freed otherwise. Returns the node's outcome: 0 when the kernel holds the
 * ruleset (committed, or already in sync; for a check, when the kernel accepted it), -EINVAL
 * when the kernel rejected the transaction (nothing changed: the previous ruleset stays),
 * -EPERM when another process owns our tables, or another -errno (socket, lock, br_netfilter,
 * or an unknown outcome: the next apply reads the kernel back). Each pod's outcome is in its
 * entry (rep->failed counts every failed target). rep is filled in every case; release it
 * with ap_report_free. */
int ap_apply(struct ap_ctx *c, struct np_inventory *inv, unsigned flags, struct ap_report *rep);
void ap_report_free(struct ap_report *rep);

/* The model of the last commit (with opts.check: of the last accepted check), or NULL. */
const struct np_inventory *ap_ctx_model(const struct ap_ctx *c);
/* The kernel state of the last commit (what our tables hold), or NULL. */
const struct nl_state *ap_ctx_state(const struct ap_ctx *c);
/* The port id of the context's nf_tables socket (0 before the first apply): notifications of
 * its own commits carry it. */
uint32_t ap_ctx_portid(const struct ap_ctx *c);
/* The table flags in force: opts.table_flags, or 0 once the kernel refused NFT_TABLE_F_PERSIST
 * (before 6.9; then tables go without the owner flag so they outlive the process). */
uint32_t ap_ctx_table_flags(const struct ap_ctx *c);
/* The conntrack step finds the connections a narrowing change may cut in ix (ctindex.h, kept
 * current by the caller's event loop) instead of dumping the kernel's table; NULL: dump. */
struct ctix;
void ap_ctx_set_ctindex(struct ap_ctx *c, struct ctix *ix);
/* 1 when the node's ruleset generation now is the one our last read-back and our commits
 * since explain (no one else committed anything in this netns since), 0 when it is not or
 * cannot be known, -errno when it could not be read. A caller that starts watching the
 * nf_tables notifications late (after a first commit too big to be notified cheaply) closes
 * the gap with it. */
int ap_ctx_gen_explained(struct ap_ctx *c);
/* The generation the node's tables are at after our last commit, if known (true): what
 * ap_ctx_gen_explained compares the kernel's with. */
bool ap_ctx_gen(const struct ap_ctx *c, uint32_t *gen);
/* Tells a fresh context the generation the node's tables were left at (AP_TRUSTED). */
void ap_ctx_expect_gen(struct ap_ctx *c, uint32_t gen);
/* Forget the last commit: the next apply reads the kernel back (after a monitor saw someone
 * else change our tables). */
void ap_ctx_invalidate(struct ap_ctx *c);

/* Compares what every target's tables hold with what o's ruleset of inv says they should
 * (netpol status), reading only: each entry gets want, have, diff and unowned. A node that
 * cannot be compared ends the walk (no pod entries). 0 when every target was compared (a pod
 * whose netns is gone counts), else -errno (the node's, or -EIO for a pod). */
int ap_status(const struct ap_opts *o, const struct np_inventory *inv, struct ap_report *rep);

/* Removes netpol's tables: table inet TABLE and table bridge TABLE-spoof from this netns in
 * one transaction (absent ones are no error), and with state_dir, table inet TABLE inside the
 * netns of every macvlan endpoint recorded there. 0, or -errno: the node's, or -EIO when a pod
 * netns failed or the records could not be read. */
int ap_flush(const char *table, const char *state_dir, struct ap_report *rep);

/* Puts a target's apply outcome into words (into buf, returned): "applied (incremental, 3
 * changes)", "in sync; nothing to change" or "check passed (...; nothing committed)"; a pod's
 * led by "pod NS/NAME (macvlan, netns PATH): ". */
const char *ap_target_describe(const struct ap_target_report *t, bool check, char *buf,
			       size_t size);

/* Takes the state directory's writer lock (STATE/ruleset.lock, flock). Returns the fd, or
 * -errno. */
int ap_lock(const char *state_dir);

/* br_netfilter hands bridged pod traffic to the inet hooks only with
 * bridge-nf-call-ip(6)tables on, per netns: turns them on. 0, or -errno with why in err. */
int ap_ensure_br_netfilter(char *err, size_t errlen);

#endif
