/* netpol status DIR — compares what the kernel holds in netpol's tables (the node's, and each
 * macvlan pod's own inside its netns) with what DIR says they should hold, names what differs,
 * and shows the per-policy allowed counters. Exit status 0 in sync, 1 drifted or unreadable. */
#include <linux/netfilter.h>
#include <stdio.h>
#include <string.h>

#include "apply.h"
#include "cli.h"
#include "cmd_common.h"

/* What policyd collects of flows; above all, a taken NFLOG group (drops not recorded). */
static void print_policyd_flows(const json_t *f)
{
	if (!f)
		return;
	if (!json_is_true(json_object_get(f, "collecting"))) {
		printf("policyd: flows: off\n");
		return;
	}
	long long group = (long long)json_integer_value(json_object_get(f, "nflog_group"));
	const char *nflog = json_string_value(json_object_get(f, "nflog"));
	const json_t *lost = json_object_get(f, "lost");
	if (nflog && strcmp(nflog, "bound"))
		printf("policyd: flows: NFLOG group %lld %s: drops are NOT recorded (policyd "
		       "--nflog-group picks another)\n", group, nflog);
	printf("policyd: flows: %lld records (ring of %lld), drops from NFLOG group %lld%s, "
	       "lost %lld (nflog) %lld (conntrack)%s\n",
	       (long long)json_integer_value(json_object_get(f, "next_seq")) - 1,
	       (long long)json_integer_value(json_object_get(f, "buffer")), group,
	       nflog && strcmp(nflog, "bound") ? " (not bound)" : "",
	       (long long)json_integer_value(json_object_get(lost, "nflog")),
	       (long long)json_integer_value(json_object_get(lost, "conntrack")),
	       json_is_true(json_object_get(f, "audit")) ? "; audit mode" : "");
}

/* netpol status while policyd runs: what policyd says about itself, first. */
static void print_policyd_status(const char *state_dir)
{
	json_t *st = cmd_policyd_status(state_dir);
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
	print_policyd_flows(json_object_get(st, "flows"));
	if (pending && !json_is_true(json_object_get(st, "synced")))
		printf("policyd: not in sync: a written change is pending (%s); the comparison "
		       "below is with the files as they are now\n", pending);
	json_decref(st);
}

static const char *family_name(const struct nl_table *t)
{
	return t->family == NFPROTO_BRIDGE ? "bridge" : "inet";
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

static void print_chain_diff(const struct nl_chain_diff *cd)
{
	if (!cd->old)
		printf("  missing chain %s\n", cd->cur->name);
	else if (!cd->cur)
		printf("  extra chain %s\n", cd->old->name);
	else if (cd->recreate)
		printf("  chain %s: comment differs\n", cd->cur->name);
	else
		printf("  chain %s: rules differ (%zu in the kernel, %zu expected)\n", cd->cur->name,
		       cd->old->n_rules, cd->cur->n_rules);
}

/* One node table: in sync, absent, replaced (why) or drifted (every differing object). Returns
 * whether it differs. */
static bool print_node_table(const struct nl_table_diff *td)
{
	const char *fam = family_name(td->cur);
	bool present = td->old && td->old->present;
	if (td->replace)
		printf("table %s %s: %s\n", fam, td->cur->name, present ? td->replace : "absent");
	if (td->replace && !present)
		return true;
	if (!td->n_sets && !td->n_chains && !td->n_counters) {
		if (!td->replace)
			printf("table %s %s: in sync\n", fam, td->cur->name);
		return td->replace != NULL;
	}
	if (td->replace)
		return true;
	printf("table %s %s: drifted\n", fam, td->cur->name);
	for (size_t j = 0; j < td->n_sets; j++)
		print_set_diff(&td->sets[j]);
	for (size_t j = 0; j < td->n_chains; j++)
		print_chain_diff(&td->chains[j]);
	for (size_t j = 0; j < td->n_counters; j++)
		printf("  %s counter %s\n", td->counters[j].cur ? "missing" : "extra",
		       td->counters[j].cur ? td->counters[j].cur->name : td->counters[j].old->name);
	return true;
}

/* The node's tables. Returns whether they differ from what they should hold. */
static bool print_node(const struct ap_target_report *t)
{
	for (size_t i = 0; i < t->want->n_tables; i++)
		if (t->unowned & (1u << i))
			printf("table %s %s: unowned (no owner and persist flags)\n",
			       family_name(&t->want->tables[i]), t->want->tables[i].name);
	bool drift = false;
	for (size_t i = 0; i < t->diff->n_tables; i++)
		drift |= print_node_table(&t->diff->tables[i]);
	return drift;
}

/* Per-policy allowed counters: the counter comment says which policy and direction. */
static void print_node_counters(const struct nl_state *have)
{
	for (size_t i = 0; i < have->n_tables; i++)
		for (size_t j = 0; j < have->tables[i].n_counters; j++) {
			const struct nl_counter *k = &have->tables[i].counters[j];
			const char *label = k->comment ? k->comment : k->name;
			size_t len = strlen(label);
			if (len > 8 && !strcmp(label + len - 8, " allowed"))
				len -= 8;
			printf("%.*s: %llu packets, %llu bytes\n", (int)len, label,
			       (unsigned long long)k->packets, (unsigned long long)k->bytes);
		}
}

/* One line per differing object kind of a pod's table, naming the objects. */
static void print_names(const char *what, const char *const *names, size_t n)
{
	if (!n)
		return;
	printf("  %s differ:", what);
	for (size_t i = 0; i < n; i++)
		printf(" %s", names[i]);
	printf("\n");
}

/* A pod's table: in sync, absent, replaced (why) or drifted (which sets, chains, counters).
 * Returns whether it differs. */
static bool print_pod_table(const struct nl_table_diff *td)
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

/* A macvlan pod's own table and its counters. Returns whether it differs (or could not be
 * compared). */
static bool print_pod(const struct ap_target_report *t)
{
	if (t->gone) { /* nothing of ours is left there to compare */
		printf("netpol: pod %s: netns %s is gone; nothing to do\n", t->pod, t->netns);
		return false;
	}
	if (t->read_error)
		fprintf(stderr, "netpol: pod %s: reading back its table: %s\n", t->pod,
			strerror(-t->read_error));
	for (size_t i = 0; i < t->errors.n; i++)
		fprintf(stderr, "netpol: pod %s: %s\n", t->pod, t->errors.v[i].msg);
	if (t->result < 0)
		return true;
	printf("pod %s (macvlan, netns %s):\n", t->pod, t->netns);
	for (size_t i = 0; i < t->want->n_tables; i++)
		if (t->unowned & (1u << i))
			printf("  table %s: unowned (no owner and persist flags)\n",
			       t->want->tables[i].name);
	bool drift = false;
	for (size_t i = 0; i < t->diff->n_tables; i++)
		drift |= print_pod_table(&t->diff->tables[i]);
	for (size_t i = 0; i < t->have->n_tables; i++)
		for (size_t j = 0; j < t->have->tables[i].n_counters; j++) {
			const struct nl_counter *k = &t->have->tables[i].counters[j];
			printf("  %s: %llu packets, %llu bytes\n", k->comment ? k->comment : k->name,
			       (unsigned long long)k->packets, (unsigned long long)k->bytes);
		}
	return drift;
}

int cmd_status(int argc, char **argv)
{
	struct apply_opts o;
	int rc = cmd_parse_apply_opts("status", argc, argv, &o);
	if (rc >= 0)
		return rc;
	print_policyd_status(o.state_dir);
	struct np_inventory *inv = NULL;
	rc = cmd_load_inventory(&o, &inv);
	if (rc)
		return rc;
	struct ap_opts ao = cmd_ap_opts(&o);
	struct ap_report rep;
	ap_status(&ao, inv, &rep);
	const struct ap_target_report *node = &rep.targets[0];
	if (node->result < 0) {
		if (node->read_error)
			fprintf(stderr, "netpol: reading back our tables: %s\n",
				strerror(-node->read_error));
		for (size_t i = 0; i < node->errors.n; i++)
			fprintf(stderr, "netpol: %s\n", node->errors.v[i].msg);
		rc = 1;
		goto out;
	}
	bool drift = print_node(node);
	for (size_t i = 1; i < rep.n_targets; i++)
		drift |= print_pod(&rep.targets[i]);
	printf("%s\n", drift ? "drifted" : "in sync");
	print_node_counters(node->have);
	rc = drift ? 1 : 0;
out:
	ap_report_free(&rep);
	np_inventory_free(inv);
	return rc;
}
