/* cmd_common.c — see cmd_common.h. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_common.h"
#include "ctl.h"
#include "endpoints.h"
#include "load.h"
#include "netstore.h"
#include "statedir.h"

int cmd_parse_apply_opts(const char *cmd, int argc, char **argv, struct apply_opts *o)
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
		{ "audit", no_argument, NULL, 'A' },
		{ "nflog-group", required_argument, NULL, 'G' },
		{ "store", required_argument, NULL, 'E' },
		{ "store-prefix", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	memset(o, 0, sizeof(*o));
	o->store = getenv("NETPOL_STORE");
	o->store_prefix = getenv("NETPOL_STORE_PREFIX");
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
		case 'A': o->ro.audit = true; break;
		case 'G':
			if (cmd_parse_nflog_group(optarg, &o->ro.log_group) < 0)
				return 2;
			break;
		case 'E': o->store = optarg; break;
		case 'P': o->store_prefix = optarg; break;
		case 'h':
			printf("usage: netpol %s DIR [--node NAME] [--reject] [--no-spoof] [--audit] "
			       "[--nflog-group N] [--state-dir DIR [--store URL [--store-prefix P]]]%s\n", cmd,
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
	return cmd_state_dir_trusted(o->state_dir) < 0 ? 2 : -1;
}

int cmd_state_dir_trusted(const char *state_dir)
{
	char why[1024];
	if (!state_dir || statedir_check(state_dir, why, sizeof(why)) == 0)
		return 0;
	fprintf(stderr, "netpol: %s\n", why);
	return -1;
}

int cmd_parse_nflog_group(const char *s, uint16_t *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < 1 || v > 65535) {
		fprintf(stderr, "netpol: bad --nflog-group '%s' (1-65535)\n", s);
		return -1;
	}
	*out = (uint16_t)v;
	return 0;
}

struct ap_opts cmd_ap_opts(const struct apply_opts *o)
{
	return (struct ap_opts){ .ro = o->ro, .state_dir = o->state_dir,
				 .table_flags = (uint32_t)o->table_flags, .check = o->check,
				 .no_ct = o->no_ct, .inject_error = o->inject };
}

int cmd_load_inventory(const struct apply_opts *o, struct np_inventory **inv)
{
	if (cli_load_inventory(o->dir, inv) < 0)
		return 2;
	struct ns_store_conf store = { o->store, o->store_prefix, NULL };
	if (o->state_dir && cmd_merge_endpoints(*inv, o->state_dir, &store) < 0) {
		np_inventory_free(*inv);
		*inv = NULL;
		return 2;
	}
	return 0;
}

int cmd_merge_endpoints(struct np_inventory *inv, const char *state_dir,
			const struct ns_store_conf *store)
{
	char err[1024];
	struct np_diags notes;
	np_diags_init(&notes);
	int r = endpoints_merge_from(inv, state_dir, store, &notes, NULL, err, sizeof(err));
	cli_print_diags(stderr, &notes, NP_SEV_WARNING);
	np_diags_free(&notes);
	if (r < 0)
		fprintf(stderr, "netpol: %s\n", err);
	return r < 0 ? -1 : 0;
}

void cmd_print_kernel_errors(const struct np_diags *d)
{
	const size_t max = 8;
	for (size_t i = 0; i < d->n && i < max; i++)
		fprintf(stderr, "netpol: error: %s\n", d->v[i].msg);
	if (d->errors > max)
		fprintf(stderr, "netpol: ... and %zu more errors\n", d->errors - max);
}

json_t *cmd_policyd_status(const char *state_dir)
{
	char path[4096], *reply = NULL;
	ctl_sock_path(state_dir ? state_dir : DEFAULT_STATE_DIR, path, sizeof(path));
	if (ctl_request(path, "{\"cmd\":\"status\"}", 2000, &reply) < 0)
		return NULL;
	json_t *j = json_loads(reply, 0, NULL);
	free(reply);
	return j;
}
