/* netpol flush [--table NAME] [--state-dir DIR] — removes netpol's tables from this netns (and
 * with --state-dir from the netns of every macvlan pod recorded there), through the pipeline's
 * flush. */
#include <stdio.h>
#include <string.h>

#include "apply.h"
#include "cli.h"
#include "cmd_common.h"

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
	if (cmd_state_dir_trusted(state_dir) < 0)
		return 2;
	struct ap_report rep;
	int r = ap_flush(table, state_dir, &rep);
	for (size_t i = 0; i < rep.errors.n; i++)
		fprintf(stderr, "netpol: %s\n", rep.errors.v[i].msg);
	for (size_t i = 1; i < rep.n_targets; i++) {
		const struct ap_target_report *t = &rep.targets[i];
		for (size_t j = 0; j < t->errors.n; j++)
			fprintf(stderr, "netpol: pod %s: %s\n", t->pod, t->errors.v[j].msg);
		if (t->result == 0 && !t->gone)
			printf("netpol: removed table inet %s in netns %s (pod %s)\n", table, t->netns,
			       t->pod);
	}
	if (rep.targets[0].errors.n)
		cmd_print_kernel_errors(&rep.targets[0].errors);
	else if (r == 0)
		printf("netpol: removed table inet %s and table bridge %s-spoof\n", table, table);
	ap_report_free(&rep);
	return r < 0 ? 1 : 0;
}
