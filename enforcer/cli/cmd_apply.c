/* netpol apply DIR — program netpol's tables in the current network namespace through
 * libnftnl + libmnl (no nft binary, no libnftables): load DIR, then the apply pipeline (build
 * the IR, read back what the kernel holds in our tables, send the difference — or a full
 * replace when a table is absent or not understood — as one transaction, then cut the live
 * connections the change no longer allows), for the node's tables and for the own table of
 * each macvlan pod inside its netns. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply.h"
#include "cli.h"
#include "clock.h"
#include "cmd_common.h"
#include "ctl.h"

/* The node's tables: what was done, and with --stats what it took. */
static void print_report(const struct apply_opts *o, const struct ap_report *rep)
{
	const struct ap_target_report *node = &rep->targets[0];
	char line[512];
	printf("netpol: %s\n", ap_target_describe(node, o->check, line, sizeof(line)));
	if (!o->stats)
		return;
	static const char *const tables[] = { "netpol", "netpol-spoof" };
	for (size_t i = 0; i < 2; i++)
		if (node->replace_why[i][0])
			printf("  table %s: full replace: %s\n", tables[i], node->replace_why[i]);
	const struct nl_batch_stats *st = &node->stats;
	printf("  messages %zu, bytes %zu: tables %zu, sets %zu, chains %zu, rules %zu, "
	       "counters %zu, elements +%zu -%zu, deletes %zu\n",
	       st->msgs, node->bytes, st->tables, st->sets, st->chains, st->rules, st->counters,
	       st->elems_add, st->elems_del, st->deletes);
	printf("  time: load+build %.1f ms, read-back %.1f ms, diff+batch %.1f ms, kernel %.1f ms, "
	       "conntrack %.1f ms (%zu connections cut, %zu restored), total %.1f ms\n",
	       o->ms_load + node->ms_build, node->ms_read, node->ms_diff, node->ms_kernel,
	       node->ms_ct, node->ct_revoked, node->ct_restored, o->ms_load + rep->ms_total);
}

/* A macvlan pod's own table. Returns 1 when it failed. */
static int print_pod(const struct apply_opts *o, const struct ap_target_report *t)
{
	if (t->gone) {
		printf("netpol: pod %s: netns %s is gone; nothing to do\n", t->pod, t->netns);
		return 0;
	}
	if (t->read_error)
		fprintf(stderr, "netpol: pod %s: reading back its table failed (%s); replacing it\n",
			t->pod, strerror(-t->read_error));
	if (t->result < 0 && t->stats.msgs) { /* the kernel's answer (or none) */
		for (size_t i = 0; i < t->errors.n && i < 8; i++)
			fprintf(stderr, "netpol: error: pod %s: %s\n", t->pod, t->errors.v[i].msg);
		fprintf(stderr, "netpol: pod %s: apply in netns %s failed: %s\n", t->pod, t->netns,
			t->result == -EINVAL || t->result == -EPERM
				? "the kernel rejected the transaction; nothing was changed"
				: "the outcome is unknown; run apply again");
		return 1;
	}
	if (t->result < 0) {
		for (size_t i = 0; i < t->errors.n; i++)
			fprintf(stderr, "netpol: pod %s: %s\n", t->pod, t->errors.v[i].msg);
		return 1;
	}
	if (t->ct_error)
		fprintf(stderr, "netpol: warning: pod %s: conntrack clean-up failed: %s\n", t->pod,
			strerror(-t->ct_error));
	char line[1024];
	printf("netpol: %s\n", ap_target_describe(t, o->check, line, sizeof(line)));
	return 0;
}

/* The kernel refused our tables (EPERM): another process holds the owner flag. Says who and
 * what to do instead, then the kernel's own words for the first message only (every message
 * of the batch fails the same way). */
static void print_owned(const char *state_dir, const struct np_diags *errors)
{
	json_t *st = cmd_policyd_status(state_dir);
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

/* The node's tables were not changed, or with an unknown outcome. Returns the exit status. */
static int print_failed(const struct apply_opts *o, int r, const struct ap_report *rep)
{
	const struct ap_target_report *node = &rep->targets[0];
	if (r == -EPERM) /* who owns it, not the kernel's bare EPERM per message */
		print_owned(o->state_dir, &node->errors);
	else
		cmd_print_kernel_errors(&node->errors);
	if (r == -EINVAL)
		fprintf(stderr, "netpol: apply failed: the kernel rejected the transaction; "
			"nothing was changed\n");
	else if (r != -EPERM && node->stats.msgs)
		fprintf(stderr, "netpol: apply failed: the outcome is unknown; run apply "
			"again (it re-reads the kernel)\n");
	return 1;
}

/* The node's tables hold the ruleset: what was done there, then in each macvlan pod. Returns
 * the exit status. */
static int print_applied(const struct apply_opts *o, const struct ap_ctx *ctx,
			 const struct ap_report *rep)
{
	print_report(o, rep);
	if (ap_ctx_table_flags(ctx) != (uint32_t)o->table_flags)
		printf("netpol: the kernel refused the persist flag (before 6.9): the tables are "
		       "unowned; they stay in force after netpol exits, and other processes can "
		       "change them\n");
	if (rep->targets[0].ct_error)
		fprintf(stderr, "netpol: warning: conntrack step failed: %s\n",
			strerror(-rep->targets[0].ct_error));
	int rc = 0;
	for (size_t i = 1; i < rep->n_targets; i++)
		rc |= print_pod(o, &rep->targets[i]);
	return rc;
}

int cmd_apply(int argc, char **argv)
{
	struct apply_opts o;
	int rc = cmd_parse_apply_opts("apply", argc, argv, &o);
	if (rc >= 0)
		return rc;
	double t0 = clock_now_ms();
	struct np_inventory *inv = NULL;
	rc = cmd_load_inventory(&o, &inv);
	if (rc)
		return rc;
	o.ms_load = clock_now_ms() - t0;
	struct ap_opts ao = cmd_ap_opts(&o);
	struct ap_ctx *ctx = NULL;
	int r = ap_ctx_new(&ao, &ctx);
	if (r < 0) {
		fprintf(stderr, "netpol: apply context: %s\n", strerror(-r));
		np_inventory_free(inv);
		return 1;
	}
	struct ap_report rep;
	r = ap_apply(ctx, inv, o.full ? AP_FULL : 0, &rep);
	rc = r < 0 ? print_failed(&o, r, &rep) : print_applied(&o, ctx, &rep);
	fflush(stdout);
	if (r == 0 && o.hold_ms > 0) { /* tests: the owner flag holds while this socket is open */
		struct timespec ts = { o.hold_ms / 1000, (o.hold_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	ap_report_free(&rep);
	ap_ctx_free(ctx);
	return rc;
}
