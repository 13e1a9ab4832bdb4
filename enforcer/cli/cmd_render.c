/* netpol render DIR [--node NAME] [--reject] [--no-spoof] — the dry run: prints the complete
 * nftables script that enforces DIR on that node. Touches no kernel state. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_common.h"
#include "endpoints.h"
#include "load.h"
#include "netstore.h"
#include "podnet.h"
#include "ruleset.h"

/* Each macvlan pod's own table, under a comment naming its netns. 0 or -EIO. */
static int render_pods(const struct np_inventory *inv, const struct rs_options *ro)
{
	struct podnet_target *pt = NULL;
	size_t n = 0;
	int rc = 0;
	podnet_targets(inv, ro, &pt, &n);
	for (size_t i = 0; i < n; i++) {
		struct rs_ruleset *rs = NULL;
		int r = ruleset_build(inv, &pt[i].ro, &rs);
		if (r < 0) {
			fprintf(stderr, "netpol: pod %s: building its ruleset: %s\n", pt[i].pod,
				strerror(-r));
			rc = -EIO;
			continue;
		}
		printf("# in netns %s (pod %s, macvlan)\n", pt[i].netns, pt[i].pod);
		if (emit_text_write(rs, stdout) < 0)
			rc = -EIO;
		ruleset_free(rs);
	}
	podnet_targets_free(pt, n);
	return rc;
}

int cmd_render(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'n' },
		{ "reject", no_argument, NULL, 'r' },
		{ "no-spoof", no_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "audit", no_argument, NULL, 'A' },
		{ "nflog-group", required_argument, NULL, 'G' },
		{ "store", required_argument, NULL, 'E' },
		{ "store-prefix", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct rs_options ro = { 0 };
	const char *state_dir = NULL;
	struct ns_store_conf store = { getenv("NETPOL_STORE"), getenv("NETPOL_STORE_PREFIX"), NULL };
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': ro.node = optarg; break;
		case 'r': ro.reject = true; break;
		case 's': ro.no_spoof_table = true; break;
		case 'S': state_dir = optarg; break;
		case 'A': ro.audit = true; break;
		case 'G':
			if (cmd_parse_nflog_group(optarg, &ro.log_group) < 0)
				return 2;
			break;
		case 'E': store.url = optarg; break;
		case 'P': store.prefix = optarg; break;
		case 'h':
			printf("usage: netpol render DIR [--node NAME] [--reject] [--no-spoof] [--audit] "
			       "[--nflog-group N] [--state-dir DIR [--store URL]]\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: netpol render DIR [--node NAME] [--reject] [--no-spoof] [--state-dir DIR [--store URL]]\n");
		return 2;
	}
	if (cmd_state_dir_trusted(state_dir) < 0)
		return 2;
	struct np_inventory *inv = NULL;
	if (cli_load_inventory(argv[optind], &inv) < 0)
		return 2;
	if (state_dir && cmd_merge_endpoints(inv, state_dir, &store) < 0) {
		np_inventory_free(inv);
		return 2;
	}
	struct rs_ruleset *rs = NULL;
	int rc = ruleset_build(inv, &ro, &rs);
	if (rc < 0) {
		fprintf(stderr, "netpol: render: %s\n", strerror(-rc));
		np_inventory_free(inv);
		return 1;
	}
	/* macvlan pods' own tables follow, each under a comment naming its netns */
	if (emit_text_write(rs, stdout) < 0 || render_pods(inv, &ro) < 0 ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "netpol: render: cannot write the ruleset\n");
		rc = -EIO;
	}
	ruleset_free(rs);
	np_inventory_free(inv);
	return rc < 0 ? 1 : 0;
}
