/* netpol apply|status|flush — program, compare and remove netpol's tables in the current
 * network namespace through libnftnl + libmnl (no nft binary, no libnftables).
 *
 * apply: load DIR, build the IR, read back what the kernel holds in our tables, send the
 * difference (or a full replace when a table is absent or not understood) as one transaction,
 * then delete conntrack entries of flows the change may have cut off. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "cli.h"
#include "ct.h"
#include "ctl.h"
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
	double ms_load;
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
		{ "test-old-kernel", no_argument, NULL, 'K' },    /* tests: NL_TABLE_F_UNKNOWN */
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
		case 'K': o->table_flags |= NL_TABLE_F_UNKNOWN; break;
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

/* Loads DIR and merges the endpoint records; prints errors. 0 or 2 (input errors). */
static int load_inventory(const struct apply_opts *o, struct np_inventory **inv)
{
	if (cli_load_inventory(o->dir, inv) < 0)
		return 2;
	char err[1024];
	if (o->state_dir && endpoints_merge(*inv, o->state_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "netpol: %s\n", err);
		np_inventory_free(*inv);
		*inv = NULL;
		return 2;
	}
	return 0;
}

/* Loads and builds; prints errors. 0, 2 (input errors) or 1. */
static int load_and_build(const struct apply_opts *o, struct np_inventory **inv,
			  struct rs_ruleset **rs, struct nl_state **want)
{
	int rc = load_inventory(o, inv);
	if (rc)
		return rc;
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

static const char *const mode_names[] = { "in sync", "incremental", "full replace" };

static void print_report(const struct apply_opts *o, const struct ap_report *rep)
{
	const char *mode = mode_names[rep->mode == AP_MODE_NONE ? AP_MODE_INCREMENTAL : rep->mode];
	if (o->check)
		printf("netpol: check passed (%s, %zu messages; nothing committed)\n", mode,
		       rep->stats.msgs);
	else if (!rep->changes)
		printf("netpol: in sync; nothing to change\n");
	else
		printf("netpol: applied (%s, %zu changes)\n", mode, rep->changes);
	if (!o->stats)
		return;
	static const char *const tables[] = { "netpol", "netpol-spoof" };
	for (size_t i = 0; i < 2; i++)
		if (rep->replace_why[i][0])
			printf("  table %s: full replace: %s\n", tables[i], rep->replace_why[i]);
	const struct nl_batch_stats *st = &rep->stats;
	printf("  messages %zu, bytes %zu: tables %zu, sets %zu, chains %zu, rules %zu, "
	       "counters %zu, elements +%zu -%zu, deletes %zu\n",
	       st->msgs, rep->bytes, st->tables, st->sets, st->chains, st->rules, st->counters,
	       st->elems_add, st->elems_del, st->deletes);
	printf("  time: load+build %.1f ms, read-back %.1f ms, diff+batch %.1f ms, kernel %.1f ms, "
	       "conntrack %.1f ms (%zu connections cut, %zu restored), total %.1f ms\n",
	       o->ms_load + rep->ms_build, rep->ms_read, rep->ms_diff, rep->ms_kernel, rep->ms_ct,
	       rep->ct_revoked, rep->ct_restored, o->ms_load + rep->ms_total);
}

#define DEFAULT_STATE_DIR "/run/netpol"

/* Asks policyd for its status on STATE/policyd.sock; the reply, or NULL when none runs. */
static json_t *policyd_status(const char *state_dir)
{
	char path[4096], *reply = NULL;
	ctl_sock_path(state_dir ? state_dir : DEFAULT_STATE_DIR, path, sizeof(path));
	if (ctl_request(path, "{\"cmd\":\"status\"}", 2000, &reply) < 0)
		return NULL;
	json_t *j = json_loads(reply, 0, NULL);
	free(reply);
	return j;
}

/* The kernel refused our tables (EPERM): another process holds the owner flag. Says who and
 * what to do instead, then the kernel's own words for the first message only (every message
 * of the batch fails the same way). */
static void print_owned(const char *state_dir, const struct np_diags *errors)
{
	json_t *st = policyd_status(state_dir);
	const char *dir = st ? json_string_value(json_object_get(st, "policy_dir")) : NULL;
	fprintf(stderr, "netpol: apply refused: %s owns netpol's tables; nothing was changed.\n"
		"netpol: while policyd runs, change the ruleset through it: edit the files in its "
		"policy directory%s%s%s (it applies them at once), or make it re-read everything "
		"with SIGHUP or {\"cmd\":\"reload\"} on %s/%s\n",
		st ? "policyd" : "another process (policyd?)", dir ? " (" : "", dir ? dir : "",
		dir ? ")" : "", state_dir ? state_dir : DEFAULT_STATE_DIR, CTL_SOCK_NAME);
	if (errors->n)
		fprintf(stderr, "netpol: (the kernel refused the first message: %s)\n",
			errors->v[0].msg);
	json_decref(st);
}

/* netpol status while policyd runs: what policyd says about itself, first. */
static void print_policyd_status(const char *state_dir)
{
	json_t *st = policyd_status(state_dir);
	if (!st)
		return;
	printf("policyd: pid %lld, generation %lld, tables %s, %s\n",
	       (long long)json_integer_value(json_object_get(st, "pid")),
	       (long long)json_integer_value(json_object_get(st, "generation")),
	       json_string_value(json_object_get(st, "tables")),
	       json_is_true(json_object_get(st, "ready")) ? "ready" : "not ready");
	const char *why = json_string_value(json_object_get(st, "not_ready"));
	const char *pending = json_string_value(json_object_get(st, "pending"));
	if (why)
		printf("policyd: %s\n", why);
	if (pending && !json_is_true(json_object_get(st, "synced")))
		printf("policyd: not in sync: a written change is pending (%s); the comparison "
		       "below is with the files as they are now\n", pending);
	json_decref(st);
}

int cmd_reload(int argc, char **argv)
{
	const char *state_dir = DEFAULT_STATE_DIR;
	if (argc == 3 && !strcmp(argv[1], "--state-dir")) {
		state_dir = argv[2];
	} else if (argc != 1) {
		fprintf(stderr, "usage: netpol reload [--state-dir DIR]\n");
		return 2;
	}
	char path[4096], *reply = NULL;
	ctl_sock_path(state_dir, path, sizeof(path));
	/* a reload of a large directory parses everything again: give it minutes */
	int r = ctl_request(path, "{\"cmd\":\"reload\",\"wait\":true}", 300000, &reply);
	if (r < 0) {
		fprintf(stderr, "netpol: reload: no policyd answers on %s: %s\n", path, strerror(-r));
		return 1;
	}
	json_t *j = json_loads(reply, 0, NULL);
	bool ok = json_is_true(json_object_get(j, "ok"));
	printf("%s\n", reply);
	json_decref(j);
	free(reply);
	return ok ? 0 : 1;
}

int cmd_apply(int argc, char **argv)
{
	struct apply_opts o;
	int rc = parse_opts("apply", argc, argv, &o);
	if (rc >= 0)
		return rc;
	double t0 = now_ms();
	struct np_inventory *inv = NULL;
	rc = load_inventory(&o, &inv);
	if (rc)
		return rc;
	o.ms_load = now_ms() - t0;
	struct ap_opts ao = { .ro = o.ro, .state_dir = o.state_dir,
			      .table_flags = (uint32_t)o.table_flags, .check = o.check,
			      .no_ct = o.no_ct, .inject_error = o.inject };
	struct ap_ctx *ctx = NULL;
	struct ap_report rep;
	if (ap_ctx_new(&ao, &ctx) < 0)
		abort();
	int r = ap_apply(ctx, inv, o.full ? AP_FULL : 0, &rep);
	if (r < 0) {
		if (r == -EPERM) /* who owns it, not the kernel's bare EPERM per message */
			print_owned(o.state_dir, &rep.errors);
		else
			print_kernel_errors(&rep.errors);
		if (r == -EINVAL)
			fprintf(stderr, "netpol: apply failed: the kernel rejected the transaction; "
				"nothing was changed\n");
		else if (r != -EPERM && rep.stats.msgs)
			fprintf(stderr, "netpol: apply failed: the outcome is unknown; run apply "
				"again (it re-reads the kernel)\n");
		rc = 1;
		goto out;
	}
	print_report(&o, &rep);
	if (ap_ctx_table_flags(ctx) != (uint32_t)o.table_flags)
		printf("netpol: the kernel refused the persist flag (before 6.9): the tables are "
		       "unowned; they stay in force after netpol exits, and other processes can "
		       "change them\n");
	if (rep.ct_error)
		fprintf(stderr, "netpol: warning: conntrack step failed: %s\n",
			strerror(-rep.ct_error));
	/* macvlan pods: their own table inside their own netns, with the flags the kernel took */
	struct podnet_opts po = podnet_opts_of(&o);
	po.table_flags = ap_ctx_table_flags(ctx);
	if (podnet_apply(ap_ctx_model(ctx), &po))
		rc = 1;
	fflush(stdout);
	if (o.hold_ms > 0) { /* tests: the owner flag holds while this socket is open */
		struct timespec ts = { o.hold_ms / 1000, (o.hold_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
out:
	ap_report_free(&rep);
	ap_ctx_free(ctx);
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
	print_policyd_status(o.state_dir);
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
	for (size_t i = 0; i < have->n_tables && i < want->n_tables; i++)
		if (nl_table_accept_unowned(&want->tables[i], &have->tables[i]))
			printf("table %s %s: unowned (no owner and persist flags)\n",
			       want->tables[i].family == NFPROTO_BRIDGE ? "bridge" : "inet",
			       want->tables[i].name);
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
	struct np_diags diags;
	np_diags_init(&diags);
	int r = ap_flush(table, state_dir, &diags);
	if (diags.n)
		print_kernel_errors(&diags);
	else if (r == 0)
		printf("netpol: removed table inet %s and table bridge %s-spoof\n", table, table);
	np_diags_free(&diags);
	return r < 0 ? 1 : 0;
}
