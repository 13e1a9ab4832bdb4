/* pd_marker.c — the commit marker in policyd (marker.h): checked at start, consulted by the
 * first sync, written after each commit. */
#include <errno.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "endpoints.h"
#include "pd_int.h"
#include "sdnotify.h"

void pd_marker_init(struct pd *d)
{
	const struct pd_opts *o = &d->o;
	if (!o->state_dir || o->store || o->inject_error || marker_here(&d->mk_here) < 0)
		return;
	d->mk_self = marker_self(o);
}

static int table_handle(struct pd *d, uint64_t *handle)
{
	int r = d->mk_sock ? 0 : nft_sock_open(&d->mk_sock);
	return r < 0 ? r : nft_table_handle(d->mk_sock, NFPROTO_INET, TABLE_INET, handle);
}

/* Why the marker cannot be trusted, or NULL when it can (then m holds it). */
static const char *check(struct pd *d, struct marker *m, char *why, size_t size)
{
	uint64_t files = 0, eps = 0, handle = 0;
	uint32_t gen = 0;
	char err[512];
	int r = marker_read(d->o.state_dir, m);
	if (r == -ENOENT)
		return "none was written";
	if (r < 0)
		return "it is not whole";
	if (!marker_same_place(m, &d->mk_here))
		return "it was written in another boot or netns";
	if (store_dir_digest(d->o.policy_dir, &files) < 0)
		return "the policy directory cannot be read whole";
	if (endpoints_digest(d->o.state_dir, &eps, err, sizeof(err)) < 0)
		return "the endpoint records cannot be read";
	if (marker_inputs(d->mk_self, files, eps) != m->inputs)
		return "the policy files, endpoint records, options or program changed since";
	/* what the generation cannot tell: bridged traffic must meet the tables (a sysctl
	 * reset while policyd was down); the full path says why it cannot go on */
	if (ap_ensure_br_netfilter(err, sizeof(err)) < 0)
		return "br_netfilter is not as the tables need it";
	if (table_handle(d, &handle) < 0 || handle != m->table)
		return "our table is not the one committed";
	if ((r = nft_genid(d->mk_sock, &gen)) < 0) {
		snprintf(why, size, "the ruleset generation cannot be read: %s", strerror(-r));
		return why;
	}
	if (gen != m->gen) {
		snprintf(why, size, "the netns's ruleset was committed since (generation %u, the "
			 "marker's %u)", gen, m->gen);
		return why;
	}
	return NULL;
}

bool pd_marker_start(struct pd *d)
{
	if (!d->mk_self)
		return false;
	struct marker m;
	char buf[160];
	const char *why = check(d, &m, buf, sizeof(buf));
	if (why) {
		pd_log(d, "commit marker: %s; reading everything", why);
		return false;
	}
	d->mk = m;
	d->mk_trust = true;
	d->fast_ready = true;
	ap_ctx_expect_gen(d->ap, m.gen);
	pd_log(d, "ready: our tables hold the last commit of these inputs (commit marker, "
	       "generation %u) in %.1f ms since start; building the model", m.gen,
	       clock_now_ms() - d->started_ms);
	sdnotify_send("READY=1");
	return true;
}

unsigned pd_marker_flags(struct pd *d)
{
	if (!d->mk_self)
		return 0;
	bool trust = d->mk_trust && d->sync_inputs == d->mk.inputs;
	d->mk_trust = false; /* the first sync only */
	return trust ? AP_TRUSTED : 0;
}

/* A marker that is not rewritten goes stale, which is safe: it names a generation the kernel
 * has left (this commit moved it), so the next start reads everything. That is all that
 * happens when the generation is unknown, with macvlan pods (their own tables are not
 * covered), while the last good copies are not saved, or when the state directory is full or
 * read-only (the marker is left as it is: removing it would free the space the last good
 * copies are waiting for). */
void pd_marker_save(struct pd *d, const struct ap_report *rep)
{
	if (!d->mk_self)
		return;
	const struct ap_target_report *node = &rep->targets[0];
	struct marker m = d->mk_here;
	m.inputs = d->sync_inputs;
	/* nor while the last good copies lag behind the commit: a start would build from them */
	bool ok = rep->n_targets == 1 && !store_lkg_pending(d->store) && ap_ctx_gen(d->ap, &m.gen);
	if (ok && (!d->mk_last.inputs || node->mode == AP_MODE_FULL || node->read_back))
		ok = table_handle(d, &m.table) == 0;
	else
		m.table = d->mk_last.table;
	if (!ok) {
		memset(&d->mk_last, 0, sizeof(d->mk_last));
		return;
	}
	if (!memcmp(&m, &d->mk_last, sizeof(m)))
		return;
	int r = marker_write(d->o.state_dir, &m);
	if (r < 0) {
		if (!d->mk_failed)
			pd_log(d, "commit marker: %s (the next start reads everything)",
			       strerror(-r));
		d->mk_failed = true;
		memset(&d->mk_last, 0, sizeof(d->mk_last));
		return;
	}
	d->mk_failed = false;
	d->mk_last = m;
}

void pd_marker_free(struct pd *d)
{
	nft_sock_close(d->mk_sock);
	d->mk_sock = NULL;
}
