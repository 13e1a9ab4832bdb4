/* podnet.c — see podnet.h. Every per-pod operation runs with the thread inside the pod's netns
 * (the nf_tables and conntrack sockets are opened there and keep that netns) and returns to the
 * node's netns before the next pod. */
#include <errno.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct.h"
#include "emit_nl.h"
#include "endpoints.h"
#include "nft.h"
#include "nl.h"
#include "podnet.h"

bool podnet_pod_wanted(const struct np_pod *pod, const char *node)
{
	if (!pod->attach || strcmp(pod->attach, "macvlan") || !pod->netns || !pod->netns[0])
		return false;
	if (pod->host_network || pod->n_ips == 0)
		return false;
	return !node || !pod->node || !strcmp(pod->node, node);
}

/* Enters the netns at path. -ENOENT (or -EINVAL: a stale mount point that is no longer a
 * netns) means the pod's netns is gone, which is no error: nothing of ours is left to enforce. */
static int enter_netns(const char *path, int *saved, struct ns_error *e)
{
	int fd;
	int r = ns_netns_open(path, &fd, e);
	if (r < 0)
		return r;
	/* a record naming the netns we run in would have the one-pod table replace the node's
	 * (same name): refuse it */
	struct stat pod, self;
	if (fstat(fd, &pod) == 0 && stat("/proc/thread-self/ns/net", &self) == 0 &&
	    pod.st_dev == self.st_dev && pod.st_ino == self.st_ino) {
		close(fd);
		return ns_error_set(e, -EBUSY, "%s is the node's own network namespace; a pod's "
				    "table would replace the node's: skipped", path);
	}
	r = ns_netns_enter(fd, saved, e);
	close(fd);
	return r;
}

static bool netns_gone(int r)
{
	return r == -ENOENT || r == -EINVAL;
}

typedef int (*pod_fn)(const struct np_pod *pod, const struct rs_ruleset *rs, void *arg);

/* Builds each wanted pod's one-pod ruleset and calls fn with it; 1 if any call (or build)
 * failed, else 0. */
static int each_pod(const struct np_inventory *inv, const struct rs_options *ro, pod_fn fn,
		    void *arg)
{
	int rc = 0;
	for (size_t i = 0; i < inv->n_pods; i++) {
		const struct np_pod *pod = &inv->pods[i];
		if (!podnet_pod_wanted(pod, ro->node))
			continue;
		char id[512];
		snprintf(id, sizeof(id), "%s/%s", pod->ns, pod->name);
		struct rs_options po = *ro;
		po.netns_local = true;
		po.local_pod = id;
		struct rs_ruleset *rs = NULL;
		int r = ruleset_build(inv, &po, &rs);
		if (r < 0) {
			fprintf(stderr, "netpol: pod %s: building its ruleset: %s\n", id, strerror(-r));
			rc = 1;
			continue;
		}
		if (fn(pod, rs, arg))
			rc = 1;
		ruleset_free(rs);
	}
	return rc;
}

/* The pod's netns entered and an nf_tables socket opened there; what both apply and status
 * start from. Returns 0, 1 (failed, reported) or 2 (netns gone, reported; nothing to do). */
struct pod_session {
	int saved;
	struct nft_sock *s;
	struct nl_state *want, *have;
	struct nl_diff *diff;
};

static int session_open(const struct np_pod *pod, const struct rs_ruleset *rs, uint32_t flags,
			struct pod_session *ps)
{
	struct ns_error e = { { 0 } };
	memset(ps, 0, sizeof(*ps));
	ps->saved = -1;
	int r = enter_netns(pod->netns, &ps->saved, &e);
	if (r < 0) {
		if (netns_gone(r)) {
			printf("netpol: pod %s/%s: netns %s is gone; nothing to do\n", pod->ns,
			       pod->name, pod->netns);
			return 2;
		}
		fprintf(stderr, "netpol: pod %s/%s: %s\n", pod->ns, pod->name, e.msg);
		return 1;
	}
	r = nl_state_from_ruleset(rs, &ps->want);
	if (r == 0)
		r = nft_sock_open(&ps->s);
	if (r < 0) {
		fprintf(stderr, "netpol: pod %s/%s: nf_tables socket in %s: %s\n", pod->ns, pod->name,
			pod->netns, strerror(-r));
		return 1;
	}
	for (size_t i = 0; i < ps->want->n_tables; i++)
		ps->want->tables[i].flags = flags;
	return 0;
}

/* Back to the node's netns; frees everything. Returns rc, or 1 if the way back failed. */
static int session_close(const struct np_pod *pod, struct pod_session *ps, int rc)
{
	nl_diff_free(ps->diff);
	nl_state_free(ps->have);
	nl_state_free(ps->want);
	nft_sock_close(ps->s);
	struct ns_error e = { { 0 } };
	if (ps->saved >= 0 && ns_netns_restore(ps->saved, &e) < 0) {
		fprintf(stderr, "netpol: pod %s/%s: %s\n", pod->ns, pod->name, e.msg);
		return 1;
	}
	return rc;
}

/* Closing an nf_tables socket after a commit that deleted objects waits for the kernel's
 * deferred destroy work (an RCU grace period, ~12 ms here): closed one by one, N changed pods
 * cost N grace periods. Sockets are kept and closed together, so the first close waits once
 * and the rest find nothing pending (20 pods: ~280 -> ~30 ms). Bounded to stay far below the
 * fd limit. */
#define KEEP_SOCKS 128

struct apply_ctx {
	const struct podnet_opts *o;
	const struct np_inventory *inv;
	struct nft_sock *socks[KEEP_SOCKS];
	size_t n_socks;
};

static void close_kept(struct apply_ctx *c)
{
	for (size_t i = 0; i < c->n_socks; i++)
		nft_sock_close(c->socks[i]);
	c->n_socks = 0;
}

static int apply_one(const struct np_pod *pod, const struct rs_ruleset *rs, void *arg)
{
	struct apply_ctx *c = arg;
	const struct podnet_opts *o = c->o;
	struct pod_session ps;
	int rc = session_open(pod, rs, o->table_flags, &ps);
	if (rc)
		return session_close(pod, &ps, rc == 2 ? 0 : 1);
	bool full = o->full;
	int r = full ? 0 : nft_read_state(ps.s, ps.want, &ps.have);
	if (r < 0) {
		fprintf(stderr, "netpol: pod %s/%s: reading back its table failed (%s); replacing it\n",
			pod->ns, pod->name, strerror(-r));
		full = true;
	}
	nl_diff_compute(ps.have, ps.want, full, &ps.diff);
	struct nl_batch *b = nl_batch_new(nft_sock_seq(ps.s, 1u << 20));
	nl_batch_add_diff(b, ps.diff);
	nl_batch_finish(b, !o->check);
	struct np_diags diags;
	np_diags_init(&diags);
	r = nft_send_batch(ps.s, b, !o->check, &diags);
	nl_batch_free(b);
	if (r < 0) {
		for (size_t i = 0; i < diags.n && i < 8; i++)
			fprintf(stderr, "netpol: error: pod %s/%s: %s\n", pod->ns, pod->name,
				diags.v[i].msg);
		fprintf(stderr, "netpol: pod %s/%s: apply in netns %s failed: %s\n", pod->ns,
			pod->name, pod->netns,
			r == -EINVAL || r == -EPERM ? "the kernel rejected the transaction; nothing was changed"
				     : "the outcome is unknown; run apply again");
		np_diags_free(&diags);
		return session_close(pod, &ps, 1);
	}
	np_diags_free(&diags);
	if (!o->check && !o->no_ct && ps.diff->changes) {
		/* the pod's own conntrack table: the thread is still in its netns */
		struct ct_affected aff;
		struct ct_stats cs;
		struct rs_options ro = o->ro;
		ro.netns_local = true;
		char id[512];
		snprintf(id, sizeof(id), "%s/%s", pod->ns, pod->name);
		ro.local_pod = id;
		ct_affected_from_diff(ps.diff, &aff);
		r = ct_revoke(&aff, c->inv, &ro, NULL, &cs);
		if (r < 0)
			fprintf(stderr, "netpol: warning: pod %s/%s: conntrack clean-up failed: %s\n",
				pod->ns, pod->name, strerror(-r));
		ct_affected_free(&aff);
	}
	const char *mode = ps.diff->n_tables && ps.diff->tables[0].replace ? "full replace"
									     : "incremental";
	printf("netpol: pod %s/%s (macvlan, netns %s): ", pod->ns, pod->name, pod->netns);
	if (o->check)
		printf("check passed (%s; nothing committed)\n", mode);
	else if (!ps.diff->changes)
		printf("in sync; nothing to change\n");
	else
		printf("applied (%s, %zu changes)\n", mode, ps.diff->changes);
	if (c->n_socks == KEEP_SOCKS)
		close_kept(c);
	c->socks[c->n_socks++] = ps.s;
	ps.s = NULL;
	return session_close(pod, &ps, 0);
}

int podnet_apply(const struct np_inventory *inv, const struct podnet_opts *o)
{
	struct apply_ctx c = { .o = o, .inv = inv };
	int rc = each_pod(inv, &o->ro, apply_one, &c);
	close_kept(&c);
	return rc;
}

/* One line per differing object kind, naming the objects. */
static void print_names(const char *what, const char *const *names, size_t n)
{
	if (!n)
		return;
	printf("  %s differ:", what);
	for (size_t i = 0; i < n; i++)
		printf(" %s", names[i]);
	printf("\n");
}

static bool report_table(const struct nl_table_diff *td)
{
	const char *name = td->cur->name;
	if (td->replace) {
		printf("  table inet %s: %s\n", name,
		       td->old && td->old->present ? td->replace : "absent");
		return true;
	}
	if (!td->n_sets && !td->n_chains && !td->n_counters) {
		printf("  table inet %s: in sync\n", name);
		return false;
	}
	printf("  table inet %s: drifted\n", name);
	const char *names[64];
	size_t n = 0;
	for (size_t j = 0; j < td->n_sets && n < 64; j++)
		names[n++] = td->sets[j].cur ? td->sets[j].cur->name : td->sets[j].old->name;
	print_names("sets", names, n);
	n = 0;
	for (size_t j = 0; j < td->n_chains && n < 64; j++)
		names[n++] = td->chains[j].cur ? td->chains[j].cur->name : td->chains[j].old->name;
	print_names("chains", names, n);
	n = 0;
	for (size_t j = 0; j < td->n_counters && n < 64; j++)
		names[n++] = td->counters[j].cur ? td->counters[j].cur->name
						 : td->counters[j].old->name;
	print_names("counters", names, n);
	return true;
}

static int status_one(const struct np_pod *pod, const struct rs_ruleset *rs, void *arg)
{
	const struct podnet_opts *o = arg;
	struct pod_session ps;
	int rc = session_open(pod, rs, o->table_flags, &ps);
	if (rc) /* a gone netns has nothing of ours left to compare */
		return session_close(pod, &ps, rc == 2 ? 0 : 1);
	int r = nft_read_state(ps.s, ps.want, &ps.have);
	if (r < 0) {
		fprintf(stderr, "netpol: pod %s/%s: reading back its table: %s\n", pod->ns, pod->name,
			strerror(-r));
		return session_close(pod, &ps, 1);
	}
	printf("pod %s/%s (macvlan, netns %s):\n", pod->ns, pod->name, pod->netns);
	for (size_t i = 0; i < ps.have->n_tables && i < ps.want->n_tables; i++)
		if (nl_table_accept_unowned(&ps.want->tables[i], &ps.have->tables[i]))
			printf("  table %s: unowned (no owner and persist flags)\n",
			       ps.want->tables[i].name);
	nl_diff_compute(ps.have, ps.want, false, &ps.diff);
	bool drift = false;
	for (size_t i = 0; i < ps.diff->n_tables; i++)
		drift |= report_table(&ps.diff->tables[i]);
	for (size_t i = 0; i < ps.have->n_tables; i++)
		for (size_t j = 0; j < ps.have->tables[i].n_counters; j++) {
			const struct nl_counter *k = &ps.have->tables[i].counters[j];
			const char *label = k->comment ? k->comment : k->name;
			printf("  %s: %llu packets, %llu bytes\n", label,
			       (unsigned long long)k->packets, (unsigned long long)k->bytes);
		}
	return session_close(pod, &ps, drift ? 1 : 0);
}

int podnet_status(const struct np_inventory *inv, const struct podnet_opts *o)
{
	return each_pod(inv, &o->ro, status_one, (void *)o);
}

static int render_one(const struct np_pod *pod, const struct rs_ruleset *rs, void *arg)
{
	FILE *f = arg;
	fprintf(f, "# in netns %s (pod %s/%s, macvlan)\n", pod->netns, pod->ns, pod->name);
	return emit_text_write(rs, f) < 0;
}

int podnet_render(const struct np_inventory *inv, const struct rs_options *ro, FILE *f)
{
	return each_pod(inv, ro, render_one, f) ? -EIO : 0;
}

static int flush_one(const struct np_pod *pod, const char *table)
{
	struct ns_error e = { { 0 } };
	int saved = -1;
	int r = enter_netns(pod->netns, &saved, &e);
	if (netns_gone(r))
		return 0;
	if (r < 0) {
		fprintf(stderr, "netpol: pod %s/%s: %s\n", pod->ns, pod->name, e.msg);
		return 1;
	}
	struct nft_sock *s = NULL;
	struct np_diags diags;
	np_diags_init(&diags);
	r = nft_sock_open(&s);
	if (r == 0) {
		struct nl_batch *b = nl_batch_new(nft_sock_seq(s, 16));
		nl_batch_destroy_table(b, table, NFPROTO_INET);
		nl_batch_finish(b, true);
		r = nft_send_batch(s, b, true, &diags);
		nl_batch_free(b);
	}
	nft_sock_close(s);
	if (r < 0)
		fprintf(stderr, "netpol: pod %s/%s: removing table inet %s in %s: %s\n", pod->ns,
			pod->name, table, pod->netns,
			diags.n ? diags.v[0].msg : strerror(-r));
	else
		printf("netpol: removed table inet %s in netns %s (pod %s/%s)\n", table, pod->netns,
		       pod->ns, pod->name);
	np_diags_free(&diags);
	if (ns_netns_restore(saved, &e) < 0) {
		fprintf(stderr, "netpol: %s\n", e.msg);
		return 1;
	}
	return r < 0;
}

int podnet_flush(const char *state_dir, const char *table)
{
	/* the endpoint records alone say which netns may hold a table of ours */
	struct np_inventory *inv = np_inventory_new();
	char err[1024];
	int rc = 0;
	if (endpoints_merge(inv, state_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "netpol: %s\n", err);
		rc = 1;
	}
	for (size_t i = 0; i < inv->n_pods; i++)
		if (podnet_pod_wanted(&inv->pods[i], NULL) && flush_one(&inv->pods[i], table))
			rc = 1;
	np_inventory_free(inv);
	return rc;
}
