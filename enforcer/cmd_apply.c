/* netpol apply|status|flush — program, compare and remove netpol's tables in the current
 * network namespace through libnftnl + libmnl (no nft binary, no libnftables).
 *
 * apply: load DIR, build the IR, read back what the kernel holds in our tables, send the
 * difference (or a full replace when a table is absent or not understood) as one transaction,
 * then delete conntrack entries of flows the change may have cut off. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ct.h"
#include "emit_nl.h"
#include "endpoints.h"
#include "load.h"
#include "nft.h"
#include "podnet.h"
#include "ruleset.h"

struct apply_opts {
	struct rs_options ro;
	const char *dir;
	const char *state_dir; /* merge netsetup's endpoint records, and serialize writers */
	bool full, check, stats, no_ct, inject;
	long hold_ms;
	long table_flags; /* tests: nft 1.0.6 cannot list PERSIST in JSON (it reads past its flag
			     names), so the listing comparisons apply with 0 */
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int parse_opts(const char *cmd, int argc, char **argv, struct apply_opts *o)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'n' },
		{ "reject", no_argument, NULL, 'r' },
		{ "no-spoof", no_argument, NULL, 's' },
		{ "full", no_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 'c' },
		{ "stats", no_argument, NULL, 'S' },
		{ "no-conntrack", no_argument, NULL, 'C' },
		{ "hold-ms", required_argument, NULL, 'H' },      /* tests: keep the socket open */
		{ "inject-error", no_argument, NULL, 'I' },       /* tests: add a rule the kernel rejects */
		{ "table-flags", required_argument, NULL, 'T' },  /* tests: see apply_opts */
		{ "state-dir", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	memset(o, 0, sizeof(*o));
	o->table_flags = NL_TABLE_F_OWNER | NL_TABLE_F_PERSIST;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': o->ro.node = optarg; break;
		case 'r': o->ro.reject = true; break;
		case 's': o->ro.no_spoof_table = true; break;
		case 'f': o->full = true; break;
		case 'c': o->check = true; break;
		case 'S': o->stats = true; break;
		case 'C': o->no_ct = true; break;
		case 'H': o->hold_ms = atol(optarg); break;
		case 'I': o->inject = true; break;
		case 'T': o->table_flags = strtol(optarg, NULL, 0); break;
		case 'D': o->state_dir = optarg; break;
		case 'h':
			printf("usage: netpol %s DIR [--node NAME] [--reject] [--no-spoof] "
			       "[--state-dir DIR]%s\n", cmd,
			       strcmp(cmd, "apply") ? ""
						    : " [--full] [--check] [--stats] [--no-conntrack]");
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: netpol %s DIR [--node NAME]\n", cmd);
		return 2;
	}
	o->dir = argv[optind];
	return -1;
}

/* br_netfilter hands bridged pod traffic to the inet hooks only with these on (per netns). */
static int ensure_br_netfilter(void)
{
	static const char *const knobs[] = { "/proc/sys/net/bridge/bridge-nf-call-iptables",
					     "/proc/sys/net/bridge/bridge-nf-call-ip6tables" };
	for (size_t i = 0; i < 2; i++) {
		char v[8] = { 0 };
		int fd = open(knobs[i], O_RDONLY);
		if (fd < 0) {
			fprintf(stderr, "netpol: %s: %s: bridged pod traffic would bypass the policy; "
				"load br_netfilter (modprobe br_netfilter)\n", knobs[i], strerror(errno));
			return -1;
		}
		ssize_t n = read(fd, v, sizeof(v) - 1);
		close(fd);
		if (n > 0 && v[0] == '1')
			continue;
		fd = open(knobs[i], O_WRONLY);
		if (fd < 0 || write(fd, "1\n", 2) != 2) {
			fprintf(stderr, "netpol: cannot enable %s: %s\n", knobs[i], strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* Kernel errors in the order of the batch; a rejected table (EPERM: another process owns it)
 * fails every message, so only the first few are shown. */
static void print_kernel_errors(const struct np_diags *d)
{
	const size_t max = 8;
	for (size_t i = 0; i < d->n && i < max; i++)
		fprintf(stderr, "netpol: error: %s\n", d->v[i].msg);
	if (d->errors > max)
		fprintf(stderr, "netpol: ... and %zu more errors\n", d->errors - max);
}

/* Tests (--inject-error): append to the first policy chain a rule the kernel rejects (a jump
 * to a chain that does not exist), attributed like that chain's first rule, to show that a
 * rejected batch changes nothing and that the error names the policy. */
static void inject_bad_rule(struct nl_batch *b, const struct nl_table *t)
{
	const char *chain = t->n_chains ? t->chains[0].name : "missing";
	const char *origin = "test-only injected rule";
	for (size_t i = 0; i < t->n_chains; i++) {
		const struct rs_chain *c = t->chains[i].ir;
		if (c && c->n_rules && c->rules[0].origin && !strncmp(c->rules[0].origin, "policy", 6)) {
			chain = c->name;
			origin = c->rules[0].origin;
			break;
		}
	}
	nl_batch_add_bad_rule(b, t->name, t->family, chain, origin);
}

/* Every writer of the ruleset that shares a state directory (netpol apply, policyd,
 * netpol-cni) holds an exclusive flock on STATE_DIR/ruleset.lock from read-back to commit, so
 * two diffs are never computed against the same kernel state. Returns the fd (or -1 without a
 * state directory); -2 on failure. */
static int lock_ruleset(const char *state_dir)
{
	if (!state_dir)
		return -1;
	char path[4096];
	snprintf(path, sizeof(path), "%s/ruleset.lock", state_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		fprintf(stderr, "netpol: lock %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -2;
	}
	return fd;
}

/* Loads and builds; prints errors. 0, 2 (input errors) or 1. */
static int load_and_build(const struct apply_opts *o, struct np_inventory **inv,
			  struct rs_ruleset **rs, struct nl_state **want)
{
	if (cli_load_inventory(o->dir, inv) < 0)
		return 2;
	char err[1024];
	if (o->state_dir && endpoints_merge(*inv, o->state_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "netpol: %s\n", err);
		return 2;
	}
	int r = ruleset_build(*inv, &o->ro, rs);
	if (r == 0)
		r = nl_state_from_ruleset(*rs, want);
	for (size_t i = 0; r == 0 && i < (*want)->n_tables; i++)
		(*want)->tables[i].flags = (uint32_t)o->table_flags;
	if (r < 0) {
		fprintf(stderr, "netpol: building the ruleset: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}

static struct podnet_opts podnet_opts_of(const struct apply_opts *o)
{
	return (struct podnet_opts){ .ro = o->ro, .table_flags = (uint32_t)o->table_flags,
				     .full = o->full, .check = o->check, .no_ct = o->no_ct };
}

static int open_sock(struct nft_sock **s)
{
	int r = nft_sock_open(s);
	if (r < 0)
		fprintf(stderr, "netpol: nf_tables netlink socket: %s\n", strerror(-r));
	return r;
}

int cmd_apply(int argc, char **argv)
{
	struct apply_opts o;
	int rc = parse_opts("apply", argc, argv, &o);
	if (rc >= 0)
		return rc;
	double t0 = now_ms();
	struct np_inventory *inv = NULL;
	struct rs_ruleset *rs = NULL;
	struct nl_state *want = NULL, *have = NULL;
	struct nl_diff *diff = NULL;
	struct nl_batch *b = NULL;
	struct nft_sock *s = NULL;
	struct np_diags diags;
	int lock = -1;
	np_diags_init(&diags);
	rc = load_and_build(&o, &inv, &rs, &want);
	if (rc)
		goto out;
	double t_build = now_ms();
	rc = 1;
	if (ensure_br_netfilter() < 0 || open_sock(&s) < 0 || (lock = lock_ruleset(o.state_dir)) == -2)
		goto out;
	int r = o.full ? 0 : nft_read_state(s, want, &have);
	if (r < 0) {
		/* a read-back we cannot trust is the "unclear" case: replace everything */
		fprintf(stderr, "netpol: reading back our tables failed (%s); replacing them\n",
			strerror(-r));
		o.full = true;
	}
	double t_read = now_ms();
	nl_diff_compute(have, want, o.full, &diff);
	/* a batch never holds a million messages: reserve that many seqs for it */
	b = nl_batch_new(nft_sock_seq(s, 1u << 20));
	nl_batch_add_diff(b, diff);
	if (o.inject)
		inject_bad_rule(b, &want->tables[0]);
	nl_batch_finish(b, !o.check);
	double t_diff = now_ms();
	r = nft_send_batch(s, b, !o.check, &diags);
	double t_send = now_ms();
	if (r < 0) {
		print_kernel_errors(&diags);
		fprintf(stderr, "netpol: apply failed: %s\n",
			r == -EINVAL ? "the kernel rejected the transaction; nothing was changed"
				     : "the outcome is unknown; run apply again (it re-reads the kernel)");
		goto out;
	}
	size_t ct_deleted = 0;
	double t_ct = t_send;
	if (!o.check && !o.no_ct && diff->changes) {
		struct ct_affected aff;
		ct_affected_from_diff(diff, &aff);
		r = ct_flush_affected(&aff, &ct_deleted);
		if (r < 0)
			fprintf(stderr, "netpol: warning: conntrack clean-up failed: %s\n", strerror(-r));
		ct_affected_free(&aff);
		t_ct = now_ms();
	}
	const struct nl_batch_stats *st = nl_batch_stats(b);
	const char *mode = "incremental";
	for (size_t i = 0; i < diff->n_tables; i++)
		if (diff->tables[i].replace)
			mode = "full replace";
	if (o.check)
		printf("netpol: check passed (%s, %zu messages; nothing committed)\n", mode, st->msgs);
	else if (!diff->changes)
		printf("netpol: in sync; nothing to change\n");
	else
		printf("netpol: applied (%s, %zu changes)\n", mode, diff->changes);
	for (size_t i = 0; i < diff->n_tables; i++)
		if (diff->tables[i].replace && o.stats)
			printf("  table %s: full replace: %s\n", diff->tables[i].cur->name,
			       diff->tables[i].replace);
	if (o.stats) {
		printf("  messages %zu, bytes %zu: tables %zu, sets %zu, chains %zu, rules %zu, "
		       "counters %zu, elements +%zu -%zu, deletes %zu\n",
		       st->msgs, nl_batch_len(b), st->tables, st->sets, st->chains, st->rules,
		       st->counters, st->elems_add, st->elems_del, st->deletes);
		printf("  time: load+build %.1f ms, read-back %.1f ms, diff+batch %.1f ms, "
		       "kernel %.1f ms, conntrack %.1f ms (%zu entries deleted), total %.1f ms\n",
		       t_build - t0, t_read - t_build, t_diff - t_read, t_send - t_diff,
		       t_ct - t_send, ct_deleted, now_ms() - t0);
	}
	/* macvlan pods: their own table inside their own netns */
	struct podnet_opts po = podnet_opts_of(&o);
	if (podnet_apply(inv, &po))
		goto out;
	fflush(stdout);
	if (o.hold_ms > 0) { /* tests: the owner flag holds while this socket is open */
		struct timespec ts = { o.hold_ms / 1000, (o.hold_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	rc = 0;
out:
	if (lock >= 0)
		close(lock);
	nl_batch_free(b);
	nl_diff_free(diff);
	nl_state_free(have);
	nl_state_free(want);
	nft_sock_close(s);
	ruleset_free(rs);
	np_inventory_free(inv);
	np_diags_free(&diags);
	return rc;
}

static void print_set_diff(const struct nl_set_diff *sd)
{
	char buf[256];
	if (!sd->old) {
		printf("  missing set %s\n", sd->cur->name);
		return;
	}
	if (!sd->cur) {
		printf("  extra set %s\n", sd->old->name);
		return;
	}
	for (size_t i = 0; i < sd->n_add; i++)
		printf("  set %s: missing element %s\n", sd->cur->name,
		       nl_elem_str(sd->cur, sd->add[i], buf, sizeof(buf)));
	for (size_t i = 0; i < sd->n_del; i++)
		printf("  set %s: extra element %s\n", sd->old->name,
		       nl_elem_str(sd->old, sd->del[i], buf, sizeof(buf)));
}

int cmd_status(int argc, char **argv)
{
	struct apply_opts o;
	int rc = parse_opts("status", argc, argv, &o);
	if (rc >= 0)
		return rc;
	struct np_inventory *inv = NULL;
	struct rs_ruleset *rs = NULL;
	struct nl_state *want = NULL, *have = NULL;
	struct nl_diff *diff = NULL;
	struct nft_sock *s = NULL;
	rc = load_and_build(&o, &inv, &rs, &want);
	if (rc)
		goto out;
	rc = 1;
	if (open_sock(&s) < 0)
		goto out;
	int r = nft_read_state(s, want, &have);
	if (r < 0) {
		fprintf(stderr, "netpol: reading back our tables: %s\n", strerror(-r));
		goto out;
	}
	nl_diff_compute(have, want, false, &diff);
	bool drift = false;
	for (size_t i = 0; i < diff->n_tables; i++) {
		const struct nl_table_diff *td = &diff->tables[i];
		const char *fam = td->cur->family == NFPROTO_BRIDGE ? "bridge" : "inet";
		if (td->replace) {
			drift = true;
			printf("table %s %s: %s\n", fam, td->cur->name,
			       td->old && td->old->present ? td->replace : "absent");
			if (!td->old || !td->old->present)
				continue;
		}
		size_t n = td->n_sets + td->n_chains + td->n_counters;
		if (!n) {
			if (!td->replace)
				printf("table %s %s: in sync\n", fam, td->cur->name);
			continue;
		}
		drift = true;
		if (!td->replace)
			printf("table %s %s: drifted\n", fam, td->cur->name);
		for (size_t j = 0; !td->replace && j < td->n_sets; j++)
			print_set_diff(&td->sets[j]);
		for (size_t j = 0; !td->replace && j < td->n_chains; j++) {
			const struct nl_chain_diff *cd = &td->chains[j];
			if (!cd->old)
				printf("  missing chain %s\n", cd->cur->name);
			else if (!cd->cur)
				printf("  extra chain %s\n", cd->old->name);
			else if (cd->recreate)
				printf("  chain %s: comment differs\n", cd->cur->name);
			else
				printf("  chain %s: rules differ (%zu in the kernel, %zu expected)\n",
				       cd->cur->name, cd->old->n_rules, cd->cur->n_rules);
		}
		for (size_t j = 0; !td->replace && j < td->n_counters; j++)
			printf("  %s counter %s\n", td->counters[j].cur ? "missing" : "extra",
			       td->counters[j].cur ? td->counters[j].cur->name
						   : td->counters[j].old->name);
	}
	struct podnet_opts po = podnet_opts_of(&o);
	if (podnet_status(inv, &po))
		drift = true;
	printf("%s\n", drift ? "drifted" : "in sync");
	/* per-policy allowed counters: the counter comment says which policy and direction */
	for (size_t i = 0; have && i < have->n_tables; i++)
		for (size_t j = 0; j < have->tables[i].n_counters; j++) {
			const struct nl_counter *k = &have->tables[i].counters[j];
			const char *label = k->comment ? k->comment : k->name;
			size_t len = strlen(label);
			if (len > 8 && !strcmp(label + len - 8, " allowed"))
				len -= 8;
			printf("%.*s: %llu packets, %llu bytes\n", (int)len, label,
			       (unsigned long long)k->packets, (unsigned long long)k->bytes);
		}
	rc = drift ? 1 : 0;
out:
	nl_diff_free(diff);
	nl_state_free(have);
	nl_state_free(want);
	nft_sock_close(s);
	ruleset_free(rs);
	np_inventory_free(inv);
	return rc;
}

int cmd_flush(int argc, char **argv)
{
	const char *table = "netpol", *state_dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && !strcmp(argv[i], "--table")) {
			table = argv[++i];
		} else if (i + 1 < argc && !strcmp(argv[i], "--state-dir")) {
			state_dir = argv[++i]; /* also the tables inside macvlan pods' netns */
		} else {
			bool help = !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help");
			fprintf(help ? stdout : stderr,
				"usage: netpol flush [--table NAME] [--state-dir DIR]\n");
			return help ? 0 : 2;
		}
	}
	struct nft_sock *s = NULL;
	if (open_sock(&s) < 0)
		return 1;
	char spoof[256];
	snprintf(spoof, sizeof(spoof), "%s-spoof", table);
	struct nl_batch *b = nl_batch_new(nft_sock_seq(s, 16));
	nl_batch_destroy_table(b, table, NFPROTO_INET);
	nl_batch_destroy_table(b, spoof, NFPROTO_BRIDGE);
	nl_batch_finish(b, true);
	struct np_diags diags;
	np_diags_init(&diags);
	int r = nft_send_batch(s, b, true, &diags);
	if (r < 0)
		print_kernel_errors(&diags);
	else
		printf("netpol: removed table inet %s and table bridge %s\n", table, spoof);
	np_diags_free(&diags);
	nl_batch_free(b);
	nft_sock_close(s);
	if (state_dir && podnet_flush(state_dir, table))
		r = -1;
	return r < 0 ? 1 : 0;
}
