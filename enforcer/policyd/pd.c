/* pd.c — see pd.h. The flow of one sync: events only mark files dirty (no kernel I/O); a sync
 * re-reads those files into the store (per-file last good), commits the store's pending
 * changes (unless the mass-delete guard or a deleted file's grace keeps some back), merges the
 * per-file objects with the endpoint records into one inventory and hands it to ap_apply,
 * which diffs against the last commit and sends one transaction. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "ctl.h"
#include "endpoints.h"
#include "pd_int.h"
#include "sdnotify.h"
#include "statedir.h"
#include "xalloc.h"

void pd_log(struct pd *d, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (d->o.log)
		d->o.log(d->o.log_arg, line);
}

const char *pd_table_mode(const struct pd *d)
{
	uint32_t f = ap_ctx_table_flags(d->ap);
	if ((f & NL_TABLE_F_OWNER) && (f & NL_TABLE_F_PERSIST))
		return "owner+persist";
	if (f & NL_TABLE_F_OWNER)
		return "owner";
	return d->o.no_owner ? "unowned (--no-owner)"
			     : "unowned (the kernel refused the persist flag: before 6.9)";
}

const char *pd_pending(struct pd *d)
{
	int queued = 0;
	if (ioctl(watch_fd(d->watch), FIONREAD, &queued) < 0)
		queued = 0;
	if (queued > 0 || watch_events_any(&d->ev))
		return "file events not read yet";
	if (d->endpoints_dirty)
		return "endpoint records changed";
	if (pd_store_pending(d))
		return "objects in the store changed";
	if (!d->dir_missing && store_pending_any(d->store))
		return d->mass_held ? "removals held back by the mass-delete guard"
				    : "policy files changed (a deletion waits out its grace, or a "
				      "burst coalesces)";
	if (d->full_pending || d->readback_pending)
		return "a read-back of the kernel is due";
	return NULL;
}

const char *pd_unready_why(struct pd *d, char *buf, size_t size)
{
	size_t held = store_held_count(d->store);
	const char *pending = pd_pending(d);
	if (d->dir_missing)
		snprintf(buf, size, "policy directory %s is missing; the last good state stays",
			 d->o.policy_dir);
	else if (pd_store_unready(d, buf, size))
		; /* the store is away: said in buf */
	else if (!d->first_done)
		snprintf(buf, size, "first sync not done%s%s", d->last_error[0] ? ": " : "",
			 d->last_error);
	else if (!d->last_ok)
		snprintf(buf, size, "last sync failed: %s", d->last_error);
	else if (d->mass_held)
		snprintf(buf, size, "%zu objects held back by the mass-delete guard (SIGHUP or "
			 "{\"cmd\":\"reload\"} applies the deletion)", d->mass_held);
	else if (d->state_error[0])
		snprintf(buf, size, "state directory: %s", d->state_error);
	else if (held) {
		size_t off = (size_t)snprintf(buf, size, "%zu file%s held at last good content:",
					      held, held == 1 ? "" : "s");
		for (size_t i = 0; i < held && off < size; i++) {
			struct store_held h;
			store_held_get(d->store, i, &h);
			struct tm tm;
			char since[32];
			gmtime_r(&h.since, &tm);
			strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
			off += (size_t)snprintf(buf + off, size - off, "\n%s (since %s): %s", h.name,
						since, h.error);
		}
	} else if (pending)
		snprintf(buf, size, "changes written are not enforced yet: %s", pending);
	else
		return NULL;
	return buf;
}

static void notify_status(struct pd *d)
{
	struct store_totals t;
	store_totals_get(d->store, &t);
	char msg[512], held[64] = "";
	if (t.held)
		snprintf(held, sizeof(held), "; %zu held at last good content", t.held);
	snprintf(msg, sizeof(msg), "STATUS=generation %llu: %zu policies, %zu pods from %zu files%s%s",
		 d->generation, t.policies, t.pods, t.files, held,
		 d->last_ok ? "" : "; last sync failed");
	sdnotify_send(msg);
}

/* ---- reading what changed ---- */

/* Applies what the queued events name to the store. Returns the number of files changed. */
static int take_events(struct pd *d, double now)
{
	struct watch_events *ev = &d->ev;
	int changed = 0;
	if (ev->t_first && (!d->t_oldest || ev->t_first < d->t_oldest))
		d->t_oldest = ev->t_first;
	d->st.overflows += ev->overflows;
	if (ev->overflows)
		pd_log(d, "inotify queue overflowed (events were lost): re-reading the whole policy "
		       "directory and the endpoint records");
	if (ev->endpoints)
		d->endpoints_dirty = true;
	bool present = watch_dir_present(d->watch);
	if (ev->rescan || d->rescan_pending || (d->dir_missing && present)) {
		int r = store_rescan(d->store, now);
		d->st.rescans++;
		if (r < 0) { /* missing: keep everything as it is until it comes back */
			if (!d->dir_missing)
				pd_log(d, "policy directory %s: %s; keeping the last good state",
				       d->o.policy_dir, strerror(-r));
			d->dir_missing = true;
		} else {
			if (d->dir_missing)
				pd_log(d, "policy directory %s is back", d->o.policy_dir);
			d->dir_missing = false;
			changed += r;
		}
		d->rescan_pending = false;
	} else if (!present) {
		if (!d->dir_missing)
			pd_log(d, "policy directory %s is gone; keeping the last good state",
			       d->o.policy_dir);
		d->dir_missing = true;
	} else {
		for (size_t i = 0; i < ev->n; i++) {
			enum store_refresh r = store_file_refresh(d->store, ev->names[i], now);
			changed += r != STORE_SAME;
		}
	}
	watch_events_clear(ev);
	return changed;
}

static void log_held(struct pd *d)
{
	size_t n = store_held_count(d->store);
	for (size_t i = 0; i < n; i++) {
		struct store_held h;
		store_held_get(d->store, i, &h);
		pd_log(d, "%s: held at %s:\n%s", h.name,
		       h.has_good ? "its last good content" : "nothing (it never parsed)", h.error);
	}
}

/* ---- the sync ---- */

/* SYNC_NOW: a request (sync, reload) promises every change written before it: deletions
 * still in their grace are decided now, by reading their directory entries again. */
enum { SYNC_READBACK = 1, SYNC_FULL = 2, SYNC_ALLOW_REMOVALS = 4, SYNC_NOW = 8 };


static void monitor_start(void *data, uint32_t events);

static void arm_sync(struct pd *d, double ms)
{
	evloop_timer_arm(d->t_sync, ms < 1 ? 1 : (long long)(ms + 0.999), 0);
	d->sync_armed = true;
}

/* Builds the inventory for the current store content and endpoint records. */
static int merged_inventory(struct pd *d, struct np_inventory **out)
{
	struct np_diags diags;
	np_diags_init(&diags);
	struct np_inventory *inv = NULL;
	/* the records: duplicates across files (the first in file name order is kept), endpoint
	 * records left out */
	int r = store_inventory_merge(d->store, &inv, &diags);
	if (r == 0 && d->o.state_dir) {
		char err[900];
		uint64_t eps = 0;
		int m = endpoints_merge_from(inv, d->o.state_dir, NULL, &diags, &eps, err,
					     sizeof(err));
		/* what this merge is made of, for the commit marker to name */
		if (m >= 0 && d->mk_self)
			d->sync_inputs = marker_inputs(d->mk_self, store_digest(d->store), eps);
		if (m < 0) {
			snprintf(d->last_error, sizeof(d->last_error), "endpoint records: %s", err);
			np_inventory_free(inv);
			np_diags_free(&diags);
			return m;
		}
	}
	if (r == 0 && d->agent)
		pd_store_merge(d, inv, &diags);
	np_diags_locate(&diags);
	for (size_t i = 0; r == 0 && i < diags.n; i++) {
		char line[2048];
		np_diag_format(&diags.v[i], line, sizeof(line));
		pd_log(d, "%s", line);
	}
	np_diags_free(&diags);
	*out = inv;
	return r;
}

/* The node's errors (a failed apply's): kernel errors naming the policy, or why it could not
 * run. */
static void log_kernel_errors(struct pd *d, const struct ap_report *rep)
{
	if (!rep->n_targets)
		return;
	const struct np_diags *e = &rep->targets[0].errors;
	for (size_t i = 0; i < e->n && i < 8; i++)
		pd_log(d, "kernel: %s", e->v[i].msg);
	if (e->errors > 8)
		pd_log(d, "kernel: ... and %zu more errors", e->errors - 8);
}

static struct ap_opts ap_opts_of(const struct pd_opts *o)
{
	struct ap_opts ao = { .state_dir = o->state_dir };
	ao.ro.node = o->node;
	ao.ro.reject = o->reject;
	ao.ro.no_spoof_table = o->no_spoof;
	ao.ro.audit = o->audit;
	ao.ro.log_group = o->nflog_group;
	ao.table_flags = o->no_owner ? 0 : NL_TABLE_F_OWNER | NL_TABLE_F_PERSIST;
	if (o->test_old_kernel && ao.table_flags)
		ao.table_flags |= NL_TABLE_F_UNKNOWN;
	ao.inject_error = o->inject_error;
	return ao;
}

/* What a sync takes in first: the queued file events (and with SYNC_NOW the deletions still in
 * their grace, decided now) into the store, and the flags' requests. Returns the number of
 * files changed. */
static int sync_take(struct pd *d, double t0, unsigned flags)
{
	int files = take_events(d, t0);
	if ((flags & SYNC_NOW) && !d->dir_missing)
		files += store_gone_recheck(d->store, t0);
	if (flags & SYNC_READBACK)
		d->readback_pending = true;
	if (flags & SYNC_FULL)
		d->full_pending = true;
	if (flags & SYNC_ALLOW_REMOVALS)
		d->allow_removals_once = true;
	return files;
}

/* Commits the store's pending changes, but for what the mass-delete guard holds back (a
 * change removing over half of the objects waits for an operator: SIGHUP, reload, unless
 * --allow-mass-delete) and deletions still in their grace (a timer then wakes the next sync).
 * Returns the number committed. */
static size_t sync_commit_store(struct pd *d, double t0, unsigned flags)
{
	struct store_totals tot;
	store_totals_get(d->store, &tot);
	size_t removed = store_pending_removed(d->store);
	bool allow = d->o.allow_mass_delete || d->allow_removals_once || removed * 2 <= tot.objects;
	double wait = 0;
	/* while the directory is missing nothing it held is taken as deleted */
	double grace = d->first_done && !(flags & SYNC_NOW) ? d->o.grace_ms : 0;
	size_t committed = d->dir_missing ? 0 : store_pending_commit(d->store, allow, t0, grace,
								    &wait);
	size_t still = store_pending_removed(d->store);
	if (!allow && still && still != d->mass_held)
		pd_log(d, "held back: these changes would remove %zu of %zu objects; SIGHUP or "
		       "{\"cmd\":\"reload\"} applies them (or run with --allow-mass-delete)",
		       still, tot.objects);
	d->mass_held = allow ? 0 : still;
	d->allow_removals_once = false;
	if (wait > 0)
		arm_sync(d, wait);
	return committed;
}

/* Whether anything is there for the kernel: a commit, changed endpoint records, a due
 * read-back, or the first sync (not before the policy directory exists). */
static bool sync_needed(struct pd *d, size_t committed)
{
	bool need = committed || d->endpoints_dirty || d->readback_pending || d->full_pending ||
		    pd_store_pending(d) || !d->first_done;
	if (!need || (d->dir_missing && !d->first_done)) {
		if (!d->first_done && d->dir_missing)
			snprintf(d->last_error, sizeof(d->last_error), "waiting for %s",
				 d->o.policy_dir);
		return false;
	}
	return true;
}

/* Merges the store with the endpoint records and applies the result; a transaction the kernel
 * rejects is retried once as a full replace (*full then set). *ms_merge: the first merge's
 * time. rep is filled in every case. */
static int sync_apply(struct pd *d, bool readback, bool *full, double *ms_merge,
		      struct ap_report *rep)
{
	struct np_inventory *inv = NULL;
	double t_merge = clock_now_ms();
	int r = merged_inventory(d, &inv);
	*ms_merge = clock_now_ms() - t_merge;
	if (r < 0) {
		memset(rep, 0, sizeof(*rep)); /* no target was tried: an empty report */
		return r;
	}
	unsigned flags = (readback ? AP_READBACK : 0) | (*full ? AP_FULL : 0) | pd_marker_flags(d);
	r = ap_apply(d->ap, inv, flags, rep);
	if (r != -EINVAL)
		return r;
	/* rejected: the previous ruleset stays; say which policy, then try once more as a full
	 * replace */
	d->st.kernel_rejections++;
	log_kernel_errors(d, rep);
	ap_report_free(rep);
	pd_log(d, "the kernel rejected the transaction; retrying as a full replace");
	*full = true;
	if ((r = merged_inventory(d, &inv)) < 0)
		return r;
	return ap_apply(d->ap, inv, AP_FULL, rep);
}

/* A failed sync: the previous ruleset stays; it is said, and retried in a second with a
 * read-back (the outcome may be unknown: trust nothing). */
static int sync_failed(struct pd *d, const char *trigger, int r, const struct ap_report *rep)
{
	const struct np_diags *errors = rep->n_targets ? &rep->targets[0].errors : NULL;
	log_kernel_errors(d, rep);
	if (errors && errors->n)
		snprintf(d->last_error, sizeof(d->last_error), "%s", errors->v[0].msg);
	else if (r != -EINVAL && !d->last_error[0])
		snprintf(d->last_error, sizeof(d->last_error), "%s", strerror(-r));
	pd_log(d, "sync (%s) failed: %s; the previous ruleset stays; retrying in 1 s", trigger,
	       d->last_error);
	d->last_ok = false;
	d->readback_pending = true;
	arm_sync(d, 1000);
	notify_status(d);
	return r;
}

/* Writes the last good copies due. A failure (the state directory full or read-only) leaves
 * enforcement as it is, but a restart would enforce older copies: it is logged when it starts
 * and when it changes, makes /readyz and status say so, and is tried again every second until
 * it succeeds, which is logged too. */
static void save_lkg(struct pd *d)
{
	int err = 0;
	char why[sizeof(d->state_error)];
	if (store_lkg_flush(d->store, &err) == 0) {
		if (d->state_error[0])
			pd_log(d, "last good copies saved again in %s/lkg", d->o.state_dir);
		d->state_error[0] = 0;
		evloop_timer_arm(d->t_lkg, 0, 0);
		return;
	}
	d->st.lkg_failures++;
	snprintf(why, sizeof(why), "saving last good copies in %s/lkg: %s (enforcement goes on; "
		 "a restart would start from older copies until this succeeds)",
		 d->o.state_dir ? d->o.state_dir : "", strerror(err));
	if (strcmp(why, d->state_error))
		pd_log(d, "%s; retrying every second", why);
	snprintf(d->state_error, sizeof(d->state_error), "%s", why);
	evloop_timer_arm(d->t_lkg, 1000, 0);
}

static void on_lkg_retry(void *data, uint32_t events)
{
	struct pd *d = data;
	if (store_lkg_pending(d->store))
		save_lkg(d);
}

/* After a commit: the new generation and its figures, the last good copies saved, memory
 * given back. */
static void sync_committed(struct pd *d, const char *trigger, size_t committed, bool full,
			   const struct ap_report *rep, double t_end)
{
	const struct ap_target_report *node = &rep->targets[0];
	d->last_ok = true;
	d->last_error[0] = 0;
	d->generation++;
	if (node->stats.msgs)
		d->st.commits++;
	if (node->drift) {
		d->st.drift_repairs++;
		pd_log(d, "drift repaired (%s): our tables differed from the last commit in %zu "
		       "places", trigger, node->drift);
	}
	d->st.conns_cut += node->ct_revoked;
	d->st.conns_restored += node->ct_restored;
	if (d->t_oldest && committed) {
		metrics_hist_observe(&d->st.delay, (t_end - d->t_oldest) / 1e3);
		d->t_oldest = 0;
	}
	store_retired_free(d->store); /* the context's model is now the new merge */
	if (d->agent)
		pd_store_committed(d);
	save_lkg(d);
	/* the previous model, IR and kernel state were just freed (after a big sync, the file
	 * texts too): give the pages back, or the peak of a sync stays resident. Not after every
	 * sync: the next one would fault them all in again (measured: 4x slower under churn), so
	 * at once after a big one (the first is: a start read everything), else once things
	 * are quiet for 2 s. */
	if (committed > 16 || full || !d->first_done)
		malloc_trim(0);
	else
		evloop_timer_arm(d->t_trim, 2000, 0);
}

/* The macvlan pods' own tables: what changed there, and what failed (a pod in sync, or
 * whose netns is gone, says nothing). A pod's failure leaves the node's commit standing. */
static void log_pods(struct pd *d, const struct ap_report *rep)
{
	char line[1024];
	for (size_t i = 1; i < rep->n_targets; i++) {
		const struct ap_target_report *t = &rep->targets[i];
		for (size_t j = 0; j < t->errors.n && j < 8; j++)
			pd_log(d, "pod %s: %s", t->pod, t->errors.v[j].msg);
		if (t->result < 0)
			pd_log(d, "pod %s (macvlan, netns %s): its table was not synced", t->pod,
			       t->netns);
		else if (t->changes)
			pd_log(d, "%s", ap_target_describe(t, false, line, sizeof(line)));
		if (t->ct_error)
			pd_log(d, "pod %s: conntrack step failed: %s", t->pod, strerror(-t->ct_error));
	}
}

static void log_sync(struct pd *d, const char *trigger, size_t committed, double ms_parse,
		     double ms_merge, const struct ap_report *rep, double ms_total)
{
	static const char *const modes[] = { "in sync", "incremental", "full replace" };
	const struct ap_target_report *node = &rep->targets[0];
	const struct rs_build_stats *b = &rep->build;
	pd_log(d, "sync %llu (%s): %zu file%s changed, %s, %zu changes in %zu messages; "
	       "parse %.1f ms, merge %.1f ms, build %.1f ms (rebuilt %zu of %zu policies, %zu of "
	       "%zu pods), read-back %.1f ms, diff %.1f ms, kernel %.1f ms, conntrack %.1f ms "
	       "(%zu judged%s), total %.1f ms; %zu connections cut",
	       d->generation, trigger, committed, committed == 1 ? "" : "s", modes[node->mode],
	       node->changes, node->stats.msgs, ms_parse, ms_merge, node->ms_build, b->pols_built,
	       b->pols_built + b->pols_reused, b->pods_built, b->pods_built + b->pods_reused,
	       node->ms_read, node->ms_diff, node->ms_kernel, node->ms_ct, node->ct_judged,
	       node->ct_judged ? (node->ct_indexed ? ", indexed" : ", by a dump") : "", ms_total,
	       node->ct_revoked);
	if (node->ct_error)
		pd_log(d, "conntrack step failed: %s", strerror(-node->ct_error));
}

/* Runs one sync now: take in what changed, commit it to the store, apply. Returns 0 (applied,
 * or nothing to apply) or -errno (nothing changed in the kernel). trigger names the cause in
 * the log. */
static int pd_sync(struct pd *d, const char *trigger, unsigned flags)
{
	double t0 = clock_now_ms();
	if (d->sync_armed) {
		evloop_timer_arm(d->t_sync, 0, 0);
		d->sync_armed = false;
	}
	int files = sync_take(d, t0, flags);
	double ms_parse = clock_now_ms() - t0;
	if (files && store_held_count(d->store))
		log_held(d);
	size_t committed = sync_commit_store(d, t0, flags);
	if (!sync_needed(d, committed))
		return 0;
	bool readback = d->readback_pending, full = d->full_pending;
	d->endpoints_dirty = d->readback_pending = d->full_pending = false;

	struct ap_report rep;
	double ms_merge;
	int r = sync_apply(d, readback, &full, &ms_merge, &rep);
	double t_end = clock_now_ms();
	enum ap_mode mode = rep.n_targets ? rep.targets[0].mode : AP_MODE_NONE;
	int kind = mode == AP_MODE_FULL || full ? PD_KIND_FULL : PD_KIND_INCREMENTAL;
	d->st.syncs[kind][r == 0 ? PD_OK : PD_ERROR]++;
	metrics_hist_observe(&d->st.duration[kind], (t_end - t0) / 1e3);
	d->last_sync_end = t_end;
	if (r < 0) {
		sync_failed(d, trigger, r, &rep);
		ap_report_free(&rep);
		return r;
	}
	bool rep_trusted = rep.targets[0].trusted;
	pd_flows_model(d); /* before the previous model's memory goes */
	sync_committed(d, trigger, committed, full, &rep, t_end);
	pd_marker_save(d, &rep);
	log_pods(d, &rep);
	log_sync(d, trigger, committed, ms_parse, ms_merge, &rep, t_end - t0);
	ap_report_free(&rep);
	if (!d->first_done) {
		d->first_done = true;
		if (d->fast_ready)
			pd_log(d, "model built: first sync done in %.1f ms since start (tables %s%s)",
			       t_end - d->started_ms, pd_table_mode(d),
			       rep_trusted ? "; the kernel trusted, not read back" : "");
		else
			pd_log(d, "ready: first sync done in %.1f ms since start (tables %s)",
			       t_end - d->started_ms, pd_table_mode(d));
		sdnotify_send("READY=1");
		if (!d->o.no_monitor && d->o.test_monitor_delay_ms > 0)
			evloop_timer_arm(d->t_mon, d->o.test_monitor_delay_ms, 0);
		else if (!d->o.no_monitor)
			monitor_start(d, 0);
	}
	notify_status(d);
	return 0;
}

/* ---- event sources ---- */

static void on_watch(void *data, uint32_t events)
{
	struct pd *d = data;
	int r = watch_read(d->watch, &d->ev);
	if (r < 0)
		pd_log(d, "inotify: %s", strerror(-r));
	if (!watch_events_any(&d->ev) || d->sync_armed)
		return;
	/* leading edge: at once when idle; right after a sync, wait out the gap so a burst
	 * coalesces into the next transaction */
	double since = clock_now_ms() - d->last_sync_end;
	if (since >= d->o.gap_ms)
		pd_sync(d, "inotify", 0);
	else
		arm_sync(d, d->o.gap_ms - since);
}

static void on_sync_timer(void *data, uint32_t events)
{
	struct pd *d = data;
	const char *trigger = d->armed_for ? d->armed_for : "inotify";
	d->sync_armed = false;
	d->armed_for = NULL;
	pd_sync(d, trigger, 0);
}

void pd_changed(struct pd *d, const char *trigger)
{
	if (d->sync_armed)
		return;
	/* never at once: the caller is in the middle of taking news in (a whole list) */
	double since = clock_now_ms() - d->last_sync_end;
	d->armed_for = trigger;
	arm_sync(d, since >= d->o.gap_ms ? 1 : d->o.gap_ms - since);
}

static void on_monitor(void *data, uint32_t events)
{
	struct pd *d = data;
	int n = nftmon_read(d->mon, ap_ctx_portid(d->ap));
	if (n <= 0 || !d->first_done)
		return;
	d->st.foreign_changes += (uint64_t)n;
	pd_log(d, "another process changed our tables (%d notifications): reading back", n);
	pd_sync(d, "monitor", SYNC_READBACK);
}

/* The nf_tables monitor, started once the first sync committed: every listener makes the
 * kernel build a notification per object of a commit (a first full replace of 10,000 pods:
 * ~100,000 of them, most of its kernel time). What happened between that commit and the
 * subscription is told by the generation: unless our own read-back and commits explain it,
 * our tables are read back at once. */
static void monitor_start(void *data, uint32_t events)
{
	struct pd *d = data;
	static const char *const tables[] = { TABLE_INET, TABLE_SPOOF };
	int r = nftmon_new(tables, 2, &d->mon);
	if (r == 0 && !(d->mon_src = evloop_source_add(d->l, nftmon_fd(d->mon), EPOLLIN,
						       on_monitor, d)))
		r = errno ? -errno : -ENOMEM;
	if (r < 0) {
		pd_log(d, "nf_tables monitor: %s; others' changes to our tables are repaired by "
		       "the periodic resync only", strerror(-r));
		nftmon_free(d->mon);
		d->mon = NULL;
		return;
	}
	if (ap_ctx_gen_explained(d->ap) != 1) {
		pd_log(d, "the ruleset changed since our first commit, or cannot be told: reading "
		       "our tables back");
		d->readback_pending = true;
		arm_sync(d, 1);
	}
}

/* ---- conntrack events ---- */

/* Events read per wake-up: under a flood of new connections the loop still serves a policy
 * change (inotify) between reads; a sync drains the rest before trusting the index. */
#define CT_READ_BATCH 1024

static void on_conntrack(void *data, uint32_t events)
{
	struct pd *d = data;
	int r = ctix_read_some(d->ctix, CT_READ_BATCH);
	if (r == -ENOBUFS) {
		/* the index may be wrong until reloaded: until then the conntrack step dumps the
		 * kernel's table (ct_revoke falls back by itself); reload once the burst is over.
		 * Said once a burst: a flood overflows at every read */
		if (!d->ct_lost_said)
			pd_log(d, "conntrack events were lost (receive buffer overflowed): the "
			       "connection index is reloaded from the kernel's table 500 ms after "
			       "the last loss");
		d->ct_lost_said = true;
		evloop_timer_arm(d->t_ctresync, 500, 0);
	} else if (r < 0) {
		pd_log(d, "conntrack events: %s", strerror(-r));
	}
}

static void on_ctresync(void *data, uint32_t events)
{
	struct pd *d = data;
	double t0 = clock_now_ms();
	d->ct_lost_said = false;
	int r = ctix_resync(d->ctix);
	struct ctix_stats xs;
	ctix_stats_get(d->ctix, &xs);
	if (r < 0) {
		d->st.ct_resyncs_failed++;
		pd_log(d, "reloading the connection index: %s; retrying in 1 s", strerror(-r));
		evloop_timer_arm(d->t_ctresync, 1000, 0);
	} else {
		pd_log(d, "connection index reloaded: %zu live connections in %.1f ms", xs.live,
		       clock_now_ms() - t0);
	}
}

/* The index of live connections: one dump now, events after. Without it (conntrack events
 * not available) the conntrack step dumps the table after each narrowing commit, as netpol
 * apply does. */
static void ctindex_start(struct pd *d)
{
	/* 4 MiB holds a burst of ~20,000 events; it doubles on loss up to 64 MiB */
	size_t rb = d->o.ct_rcvbuf[0] ? d->o.ct_rcvbuf[0] : 4u << 20;
	size_t max = d->o.ct_rcvbuf[1] ? d->o.ct_rcvbuf[1] : d->o.ct_rcvbuf[0] ? rb : 64u << 20;
	int r = ctix_new(&d->ctix);
	if (r == 0)
		r = ctix_open(d->ctix, rb, max);
	if (r == 0 && !(d->ct_src = evloop_source_add(d->l, ctix_fd(d->ctix), EPOLLIN,
						       on_conntrack, d)))
		r = -errno;
	if (r < 0) {
		pd_log(d, "conntrack events unavailable (%s): the conntrack step will dump the "
		       "table after each narrowing change", strerror(-r));
		evloop_source_del(d->l, d->ct_src);
		d->ct_src = NULL;
		ctix_free(d->ctix);
		d->ctix = NULL;
		return;
	}
	ap_ctx_set_ctindex(d->ap, d->ctix);
}

static void on_trim(void *data, uint32_t events)
{
	malloc_trim(0);
}

static void on_resync(void *data, uint32_t events)
{
	pd_sync(data, "resync", SYNC_READBACK);
}

static void reload(struct pd *d, const char *why)
{
	char msg[128];
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)(clock_now_ms() * 1000));
	sdnotify_send(msg);
	watch_read(d->watch, &d->ev);
	d->rescan_pending = true;
	d->endpoints_dirty = true;
	pd_sync(d, why, SYNC_READBACK | SYNC_ALLOW_REMOVALS | SYNC_NOW);
	sdnotify_send("READY=1");
}

static void on_signal(void *data, uint32_t events)
{
	struct pd *d = data;
	struct signalfd_siginfo si;
	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			pd_log(d, "SIGHUP: re-reading everything and the kernel");
			reload(d, "SIGHUP");
		} else {
			pd_log(d, "signal %u: exiting; the ruleset stays in force", si.ssi_signo);
			sdnotify_send("STOPPING=1");
			d->exiting = true;
		}
	}
}

static void on_tick(void *data, uint32_t events)
{
	struct pd *d = data;
	double now = clock_now_ms();
	if (d->wd_usec && now - d->last_wd_ms >= d->wd_usec / 2000.0) {
		sdnotify_send("WATCHDOG=1");
		d->last_wd_ms = now;
	}
	httpd_tick(d->http);
}

/* ---- control socket ---- */

static json_t *held_json(struct pd *d)
{
	json_t *a = json_array();
	size_t n = store_held_count(d->store);
	for (size_t i = 0; i < n; i++) {
		struct store_held h;
		store_held_get(d->store, i, &h);
		json_array_append_new(a, json_pack("{s:s,s:I,s:s,s:b}", "file", h.name, "since",
						   (json_int_t)h.since, "error", h.error,
						   "last_good_enforced", h.has_good));
	}
	return a;
}

static json_t *status_json(struct pd *d)
{
	struct store_totals t;
	store_totals_get(d->store, &t);
	char why[4096];
	const char *unready = pd_unready_why(d, why, sizeof(why));
	json_t *j = json_pack("{s:b,s:I,s:I,s:b,s:b,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "ok", 1,
			      "pid", (json_int_t)getpid(), "generation",
			      (json_int_t)d->generation, "ready", unready == NULL, "last_sync_ok",
			      d->last_ok, "tables", pd_table_mode(d), "policy_dir",
			      d->o.policy_dir, "files", (json_int_t)t.files, "policies",
			      (json_int_t)t.policies, "pods", (json_int_t)t.pods, "namespaces",
			      (json_int_t)t.namespaces, "drift_repairs",
			      (json_int_t)d->st.drift_repairs, "mass_delete_held",
			      (json_int_t)d->mass_held, "connections_cut",
			      (json_int_t)d->st.conns_cut);
	/* synced: every change written so far is in the kernel (none pending) */
	const char *pending = pd_pending(d);
	json_object_set_new(j, "synced", json_boolean(d->first_done && d->last_ok && !pending));
	if (pending)
		json_object_set_new(j, "pending", json_string(pending));
	json_object_set_new(j, "held", held_json(d));
	json_object_set_new(j, "flows", pd_flows_status(d));
	struct ctlsrv_stats cs;
	ctlsrv_stats_get(d->ctl, &cs);
	json_object_set_new(j, "control", json_pack("{s:I,s:I,s:I,s:I,s:I}", "clients",
						    (json_int_t)cs.clients, "refused_peer",
						    (json_int_t)cs.refused_peer, "closed_idle",
						    (json_int_t)cs.closed_idle, "closed_evicted",
						    (json_int_t)cs.closed_evicted, "closed_long_line",
						    (json_int_t)cs.closed_long_line));
	if (d->agent)
		json_object_set_new(j, "store", pd_store_status(d));
	if (unready)
		json_object_set_new(j, "not_ready", json_string(unready));
	if (d->last_error[0])
		json_object_set_new(j, "last_error", json_string(d->last_error));
	if (d->state_error[0])
		json_object_set_new(j, "state_error", json_string(d->state_error));
	return j;
}

static void on_request(void *data, struct ctlsrv_conn *c, json_t *req)
{
	struct pd *d = data;
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	int r = 0;
	if (!cmd) {
		ctlsrv_reply(c, json_pack("{s:b,s:s}", "ok", 0, "error", "no \"cmd\""));
		return;
	}
	if (!strcmp(cmd, "status")) {
		ctlsrv_reply(c, status_json(d));
		return;
	}
	if (!strcmp(cmd, "flows")) {
		pd_flows_request(d, c, req);
		return;
	}
	if (!strcmp(cmd, "sync")) {
		/* whatever was written before this request is in the queue now: read it all, so
		 * the commit includes it */
		watch_read(d->watch, &d->ev);
		r = pd_sync(d, "sync request", SYNC_NOW);
	} else if (!strcmp(cmd, "reload")) {
		reload(d, "reload request");
		r = d->last_ok ? 0 : -EIO;
	} else if (!strcmp(cmd, "resync")) {
		watch_read(d->watch, &d->ev);
		uint64_t before = d->st.drift_repairs;
		r = pd_sync(d, "resync request", SYNC_READBACK | SYNC_NOW);
		if (r == 0) {
			ctlsrv_reply(c, json_pack("{s:b,s:I,s:b}", "ok", 1, "generation",
						  (json_int_t)d->generation, "repaired",
						  d->st.drift_repairs != before));
			return;
		}
	} else {
		ctlsrv_reply(c, json_pack("{s:b,s:s}", "ok", 0, "error",
					  "unknown cmd (status, sync, reload, resync, flows)"));
		return;
	}
	if (r < 0 || !d->first_done)
		ctlsrv_reply(c, json_pack("{s:b,s:s,s:I}", "ok", 0, "error",
					  d->last_error[0] ? d->last_error : strerror(r ? -r : EAGAIN),
					  "generation", (json_int_t)d->generation));
	else
		ctlsrv_reply(c, json_pack("{s:b,s:I,s:I}", "ok", 1, "generation",
					  (json_int_t)d->generation, "held",
					  (json_int_t)store_held_count(d->store)));
}

/* Another user's connection to the control socket: said in the log, at most every 10 s (a
 * loop of attempts must not flood it). */
static void on_ctl_refused(void *data, unsigned uid, int pid)
{
	struct pd *d = data;
	double now = clock_now_ms();
	if (d->last_refusal_log && now - d->last_refusal_log < 10000) {
		d->refusals_unlogged++;
		return;
	}
	pd_log(d, "control socket: refused a connection of uid %u (pid %d): only root and "
	       "policyd's own user are served%s", uid, pid,
	       d->refusals_unlogged ? " (and more refused since the last such line)" : "");
	d->last_refusal_log = now;
	d->refusals_unlogged = 0;
}

/* ---- life cycle ---- */

static int fail(char *err, size_t errlen, int r, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(-r));
	return r;
}

static void load_lkg(struct pd *d)
{
	int lkg = store_lkg_load(d->store);
	if (lkg > 0)
		pd_log(d, "last good copies of %d files loaded (what the previous run enforced)",
		       lkg);
}

/* The state directory, the apply context, the control socket and the last good copies (when
 * a commit marker is kept, those wait for pd_run: a restart the marker vouches for is READY
 * before they are read). */
static int open_state(struct pd *d, char *err, size_t errlen)
{
	const struct pd_opts *o = &d->o;
	char path[4096];
	int r;
	if (o->state_dir && (r = statedir_check(o->state_dir, err, errlen)) < 0)
		return r;
	if (o->state_dir && mkdir(o->state_dir, 0700) < 0 && errno != EEXIST)
		return fail(err, errlen, -errno, o->state_dir);
	struct ap_opts ao = ap_opts_of(o);
	if ((r = ap_ctx_new(&ao, &d->ap)) < 0)
		return fail(err, errlen, r, "apply context");
	if (o->state_dir) {
		ctl_sock_path(o->state_dir, path, sizeof(path));
		struct ctlsrv_opts co = { .fn = on_request, .data = d, .refused = on_ctl_refused,
					  .max_clients = o->ctl_max_clients,
					  .idle_ms = o->ctl_idle_ms };
		if ((r = ctlsrv_new(path, &co, d->l, &d->ctl)) < 0) {
			if (r == -EADDRINUSE)
				snprintf(err, errlen, "%s: another policyd answers there", path);
			else
				fail(err, errlen, r, path);
			return r;
		}
		snprintf(path, sizeof(path), "%s/lkg", o->state_dir);
	}
	if ((r = store_new(o->policy_dir, o->state_dir ? path : NULL, &d->store)) < 0)
		return fail(err, errlen, r, "last good copies");
	pd_marker_init(d);
	if (!d->mk_self)
		load_lkg(d);
	return 0;
}

/* What the daemon listens to: inotify, the nf_tables monitor, signals, HTTP. */
static int open_sources(struct pd *d, char *err, size_t errlen)
{
	const struct pd_opts *o = &d->o;
	int r;
	/* the watch exists before the scan, so nothing written meanwhile is missed */
	if ((r = watch_new(o->policy_dir, o->state_dir, &d->watch)) < 0)
		return fail(err, errlen, r, "inotify");
	d->rescan_pending = true;
	d->endpoints_dirty = true;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		return fail(err, errlen, -errno, "signalfd");
	if (o->metrics_addr &&
	    (r = httpd_new(o->metrics_addr, d->l, pd_http_serve, d, &d->http)) < 0)
		return fail(err, errlen, r, o->metrics_addr);
	return 0;
}

/* The sources and timers in the event loop; the tick (twice per watchdog interval, at most
 * once a second) and the periodic resync armed. */
static int add_to_loop(struct pd *d, char *err, size_t errlen)
{
	struct evloop *l = d->l;
	d->watch_src = evloop_source_add(l, watch_fd(d->watch), EPOLLIN, on_watch, d);
	d->sig_src = evloop_source_add(l, d->sigfd, EPOLLIN, on_signal, d);
	d->t_sync = evloop_timer_add(l, on_sync_timer, d);
	d->t_resync = evloop_timer_add(l, on_resync, d);
	d->t_tick = evloop_timer_add(l, on_tick, d);
	d->t_trim = evloop_timer_add(l, on_trim, d);
	d->t_ctresync = evloop_timer_add(l, on_ctresync, d);
	d->t_lkg = evloop_timer_add(l, on_lkg_retry, d);
	d->t_mon = evloop_timer_add(l, monitor_start, d);
	if (!d->watch_src || !d->sig_src || !d->t_sync || !d->t_resync ||
	    !d->t_tick || !d->t_trim || !d->t_ctresync || !d->t_lkg || !d->t_mon)
		return fail(err, errlen, -errno, "event loop");
	int r = d->o.store ? pd_store_open(d, err, errlen) : 0;
	if (r < 0)
		return r;
	d->wd_usec = sdnotify_watchdog_usec();
	long long tick = 1000;
	if (d->wd_usec && (long long)(d->wd_usec / 2000) < tick)
		tick = (long long)(d->wd_usec / 2000) > 0 ? (long long)(d->wd_usec / 2000) : 1;
	evloop_timer_arm(d->t_tick, tick, tick);
	if (d->o.resync_ms > 0)
		evloop_timer_arm(d->t_resync, d->o.resync_ms, d->o.resync_ms);
	return 0;
}

int pd_new(const struct pd_opts *o, struct evloop *l, struct pd **out, char *err, size_t errlen)
{
	struct pd *d = xcalloc(1, sizeof(*d));
	d->o = *o;
	d->l = l;
	d->sigfd = -1;
	d->started_ms = clock_now_ms();
	int r = open_state(d, err, errlen);
	if (r == 0)
		r = open_sources(d, err, errlen);
	if (r == 0)
		r = add_to_loop(d, err, errlen);
	if (r < 0) {
		pd_free(d);
		return r;
	}
	*out = d;
	return 0;
}

int pd_run(struct pd *d)
{
	/* a restart whose inputs and tables are as its last commit left them is READY at once;
	 * the model is built after */
	if (d->mk_self)
		pd_marker_start(d);
	/* after a READY on the marker: the index's first load dumps the conntrack table (0.3 s
	 * with 100,000 entries), and the collector listens to the index */
	ctindex_start(d);
	pd_flows_start(d);
	if (d->mk_self)
		load_lkg(d);
	sdnotify_send("STATUS=reading the policy directory");
	pd_sync(d, "start", 0);
	if (d->wd_usec) {
		sdnotify_send("WATCHDOG=1");
		d->last_wd_ms = clock_now_ms();
	}
	while (!d->exiting) {
		int r = evloop_run_once(d->l, -1);
		if (r < 0) {
			pd_log(d, "event loop: %s", strerror(-r));
			return r;
		}
	}
	return 0;
}

void pd_free(struct pd *d)
{
	if (!d)
		return;
	evloop_source_del(d->l, d->watch_src);
	evloop_source_del(d->l, d->mon_src);
	evloop_source_del(d->l, d->sig_src);
	evloop_timer_del(d->l, d->t_sync);
	evloop_timer_del(d->l, d->t_resync);
	evloop_timer_del(d->l, d->t_tick);
	evloop_timer_del(d->l, d->t_trim);
	evloop_timer_del(d->l, d->t_ctresync);
	evloop_timer_del(d->l, d->t_lkg);
	evloop_timer_del(d->l, d->t_mon);
	evloop_source_del(d->l, d->ct_src);
	pd_store_close(d);
	httpd_free(d->http);
	pd_flows_free(d); /* its readers first, and before the model it names records from */
	ctlsrv_free(d->ctl);
	nftmon_free(d->mon);
	watch_free(d->watch);
	watch_events_free(&d->ev);
	/* the context's model points into the store: free it first */
	ap_ctx_free(d->ap);
	ctix_free(d->ctix);
	store_free(d->store);
	nft_sock_close(d->scrape);
	pd_marker_free(d);
	if (d->sigfd >= 0)
		close(d->sigfd);
	free(d);
}
