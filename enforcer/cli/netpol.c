/* netpol — the command line: validate, render, simulate and apply NetworkPolicy; manage
 * networks. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} commands[] = {
	{ "check", cmd_check, "check DIR [--strict] [--json]      validate policies, report every error" },
	{ "render", cmd_render, "render DIR [--node NAME]           print the nftables ruleset (dry run)" },
	{ "reach", cmd_reach, "reach DIR [--port P] [--protocol X] pod x pod truth table" },
	{ "explain", cmd_explain, "explain DIR --from X --to Y --port P/PROTO  why a flow is allowed or dropped" },
	{ "apply", cmd_apply, "apply DIR [--node NAME]            program the kernel (this netns)" },
	{ "status", cmd_status, "status DIR [--node NAME]           kernel vs DIR: in sync or drifted, counters" },
	{ "flush", cmd_flush, "flush                              remove netpol's tables" },
	{ "flows", cmd_flows, "flows [--follow] [--last N] [FILTERS] [-o FMT]  flow records (policyd, --collect, --input-file)" },
	{ "preview", cmd_preview, "preview DIR [--against CURRENT]   live connections (or verdicts) DIR would cut" },
	{ "reload", cmd_reload, "reload [--state-dir DIR]           policyd: re-read everything, repair, wait" },
	{ "net", cmd_net, "net create|ls|inspect|rm|attach|detach|sync|gc ...  container networks" },
	{ "store", cmd_store, "store put DIR | rm NS/KIND/NAME... | ls   objects for every host's policyd (etcd)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: netpol COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].help);
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "netpol: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
