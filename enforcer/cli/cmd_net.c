/* cmd_net.c — `netpol net create|ls|inspect|rm|attach|detach|sync|gc`: docker-network-like
 * management of container networks (netsetup/network.h), in the state directory or in etcd
 * (netsetup/netstore.h). Runs in the node's netns. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "duration.h"
#include "intent.h"
#include "model.h"
#include "netstore.h"
#include "network.h"
#include "nodes.h"
#include "statedir.h"
#include "xalloc.h"

static const char usage_text[] =
	"usage: netpol net COMMAND [--state-dir DIR] [--store URL [--store-prefix P] [--node NAME]] ...\n"
	"  create NAME --driver bridge|macvlan|overlay|host [--subnet CIDR]... [--gateway IP]...\n"
	"         [--ip-range CIDR]... [--parent IF] [--mode bridge|private|vepa] [--vni N]\n"
	"         [--peer ADDR]... [--nodes DIR] [--mtu N] [--masquerade] [--hairpin] [--bridge IF]\n"
	"  ls\n"
	"  inspect NAME...\n"
	"  rm NAME... [--force] [--local]   --local: only this host's side of a shared overlay\n"
	"  attach NAME --netns PATH|NAME [--id ID] [--ifname IF] [--ip ADDR]... [--pod NS/NAME]\n"
	"         [--labels k=v,...] [--node NAME]\n"
	"  detach NAME --id ID\n"
	"  sync NAME          re-create this host's side; reprogram overlay peers\n"
	"  gc [NAME...] [--grace DURATION]   release addresses of hosts gone longer (default 10m)\n"
	"The store defaults to $NETPOL_STORE, else the state directory, which defaults to\n"
	"$NETPOL_STATE_DIR, else " NS_DEFAULT_STATE_DIR " (with --store etcd://...: this host's own part,\n"
	"default " NS_DEFAULT_RUN_DIR ", where the local policyd --store names the node).\n"
	"Exit status 3: the store is unavailable (existing endpoints are unaffected).\n";

enum {
	OPT_STATE = 1000, OPT_DRIVER, OPT_SUBNET, OPT_GATEWAY, OPT_RANGE, OPT_PARENT, OPT_MODE,
	OPT_VNI, OPT_PEER, OPT_NODES, OPT_MTU, OPT_MASQ, OPT_HAIRPIN, OPT_BRIDGE, OPT_FORCE,
	OPT_NETNS, OPT_ID, OPT_IFNAME, OPT_IP, OPT_POD, OPT_LABELS, OPT_LOCAL, OPT_HELP,
	OPT_STORE, OPT_PREFIX, OPT_NODE, OPT_GRACE,
};

static const struct option options[] = {
	{ "state-dir", required_argument, NULL, OPT_STATE },
	{ "driver", required_argument, NULL, OPT_DRIVER },
	{ "subnet", required_argument, NULL, OPT_SUBNET },
	{ "gateway", required_argument, NULL, OPT_GATEWAY },
	{ "ip-range", required_argument, NULL, OPT_RANGE },
	{ "parent", required_argument, NULL, OPT_PARENT },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "vni", required_argument, NULL, OPT_VNI },
	{ "peer", required_argument, NULL, OPT_PEER },
	{ "nodes", required_argument, NULL, OPT_NODES },
	{ "mtu", required_argument, NULL, OPT_MTU },
	{ "masquerade", no_argument, NULL, OPT_MASQ },
	{ "hairpin", no_argument, NULL, OPT_HAIRPIN },
	{ "bridge", required_argument, NULL, OPT_BRIDGE },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ "id", required_argument, NULL, OPT_ID },
	{ "ifname", required_argument, NULL, OPT_IFNAME },
	{ "ip", required_argument, NULL, OPT_IP },
	{ "pod", required_argument, NULL, OPT_POD },
	{ "labels", required_argument, NULL, OPT_LABELS },
	{ "local", no_argument, NULL, OPT_LOCAL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "store", required_argument, NULL, OPT_STORE },
	{ "store-prefix", required_argument, NULL, OPT_PREFIX },
	{ "node", required_argument, NULL, OPT_NODE },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ NULL, 0, NULL, 0 },
};

struct net_args {
	const char *state_dir;
	struct ns_store_conf store;
	long grace_s;
	bool force, local;
	struct ns_network net;
	const char *driver, *mode;
	struct ns_prefix subnets[4], ranges[4];
	struct ns_ip gateways[4];
	size_t n_subnets, n_ranges, n_gateways;
	struct ns_attach_req att;
	char **pos; /* positional arguments after the subcommand */
	int n_pos;
};

static int bad(const char *what, const char *val)
{
	fprintf(stderr, "netpol net: bad %s '%s'\n", what, val);
	return 2;
}

static int parse_u32(const char *s, unsigned long max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* Parses argv (argv[0] is the subcommand); returns 0, or an exit status. */
static int parse(int argc, char **argv, struct net_args *a)
{
	int c;

	optind = 1;
	opterr = 1;
	a->state_dir = getenv("NETPOL_STATE_DIR");
	a->store.url = getenv("NETPOL_STORE");
	a->store.prefix = getenv("NETPOL_STORE_PREFIX");
	a->grace_s = 600;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case OPT_STATE: a->state_dir = optarg; break;
		case OPT_DRIVER: a->driver = optarg; break;
		case OPT_SUBNET:
			if (a->n_subnets == 4 || ns_prefix_parse(optarg, &a->subnets[a->n_subnets++]) < 0)
				return bad("--subnet", optarg);
			break;
		case OPT_GATEWAY:
			if (a->n_gateways == 4 || ns_ip_parse(optarg, &a->gateways[a->n_gateways++]) < 0)
				return bad("--gateway", optarg);
			break;
		case OPT_RANGE:
			if (a->n_ranges == 4 || ns_prefix_parse(optarg, &a->ranges[a->n_ranges++]) < 0)
				return bad("--ip-range", optarg);
			break;
		case OPT_PARENT:
			if (strlen(optarg) >= NS_IFNAMSIZ)
				return bad("--parent", optarg);
			snprintf(a->net.parent, sizeof(a->net.parent), "%s", optarg);
			break;
		case OPT_BRIDGE:
			if (strlen(optarg) >= NS_IFNAMSIZ)
				return bad("--bridge", optarg);
			snprintf(a->net.bridge, sizeof(a->net.bridge), "%s", optarg);
			break;
		case OPT_MODE: a->mode = optarg; break;
		case OPT_VNI:
			if (parse_u32(optarg, 0xffffff, &a->net.vni) < 0 || !a->net.vni)
				return bad("--vni", optarg);
			break;
		case OPT_MTU:
			if (parse_u32(optarg, 65535, &a->net.mtu) < 0 || a->net.mtu < 68)
				return bad("--mtu", optarg);
			break;
		case OPT_PEER:
			if (a->net.n_peers == NS_MAX_PEERS ||
			    ns_ip_parse(optarg, &a->net.peers[a->net.n_peers++]) < 0)
				return bad("--peer", optarg);
			break;
		case OPT_NODES:
			if (!realpath(optarg, a->net.nodes_dir))
				return bad("--nodes (no such directory)", optarg);
			break;
		case OPT_MASQ: a->net.masquerade = true; break;
		case OPT_HAIRPIN: a->net.hairpin = true; break;
		case OPT_FORCE: a->force = true; break;
		case OPT_LOCAL: a->local = true; break;
		case OPT_NETNS: a->att.netns = optarg; break;
		case OPT_ID: a->att.id = optarg; break;
		case OPT_IFNAME: a->att.ifname = optarg; break;
		case OPT_IP:
			if (a->att.n_ips == NS_MAX_SUBNETS || ns_ip_parse(optarg, &a->att.ips[a->att.n_ips++]) < 0)
				return bad("--ip", optarg);
			break;
		case OPT_POD: a->att.pod = optarg; break;
		case OPT_LABELS: a->att.labels = optarg; break;
		case OPT_STORE: a->store.url = optarg; break;
		case OPT_PREFIX: a->store.prefix = optarg; break;
		case OPT_NODE: a->store.node = a->att.node = optarg; break;
		case OPT_GRACE: {
			long long ms = duration_parse_ms(optarg);
			if (ms < 0)
				return bad("--grace", optarg);
			a->grace_s = (long)(ms / 1000);
			break;
		}
		case 'h':
		case OPT_HELP:
			fputs(usage_text, stdout);
			return 1;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	a->pos = argv + optind;
	a->n_pos = argc - optind;
	return 0;
}

/* Builds the definition's pools: gateways and ranges go with the subnet of their family. */
static int build_pools(struct net_args *a)
{
	struct ns_network *net = &a->net;
	char buf[NS_PREFIX_STRLEN];

	for (size_t i = 0; i < a->n_subnets; i++) {
		if (net->n_pools == NS_MAX_SUBNETS) {
			fprintf(stderr, "netpol net: at most one IPv4 and one IPv6 subnet\n");
			return 2;
		}
		net->pools[net->n_pools++].subnet = a->subnets[i];
	}
	for (size_t i = 0; i < a->n_gateways + a->n_ranges; i++) {
		bool gw = i < a->n_gateways;
		int fam = gw ? a->gateways[i].family : a->ranges[i - a->n_gateways].ip.family;
		size_t k;
		for (k = 0; k < net->n_pools && net->pools[k].subnet.ip.family != fam; k++)
			;
		if (k == net->n_pools) {
			fprintf(stderr, "netpol net: %s %s has no subnet of its family\n",
				gw ? "--gateway" : "--ip-range",
				gw ? ns_ip_format(&a->gateways[i], buf)
				   : ns_prefix_format(&a->ranges[i - a->n_gateways], buf));
			return 2;
		}
		if (gw)
			net->pools[k].gateway = a->gateways[i];
		else
			net->pools[k].range = a->ranges[i - a->n_gateways];
	}
	return 0;
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s)
		puts(s);
	free(s);
}

/* Exit status 3 says the store could not be reached: scripts tell it from a refusal. */
#define EXIT_STORE 3

static int fail_rc(int rc, const struct ns_error *e)
{
	if (ns_store_unavailable(rc)) {
		fprintf(stderr, "netpol net: %s; existing endpoints and policy are unaffected\n",
			e->msg);
		return EXIT_STORE;
	}
	fprintf(stderr, "netpol net: %s\n", e->msg);
	return 1;
}

static int fail(const struct ns_error *e)
{
	return fail_rc(0, e);
}

static int do_create(struct ns_ctx *ctx, struct net_args *a)
{
	struct ns_error e = { "" };
	int rc;

	if (a->n_pos != 1) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (strlen(a->pos[0]) >= sizeof(a->net.name))
		return bad("network name", a->pos[0]);
	snprintf(a->net.name, sizeof(a->net.name), "%s", a->pos[0]);
	if (ns_driver_parse(a->driver ? a->driver : "bridge", &a->net.driver) < 0)
		return bad("--driver", a->driver);
	if (a->mode) {
		if (!strcmp(a->mode, "bridge"))
			a->net.mode = NS_MACVLAN_BRIDGE;
		else if (!strcmp(a->mode, "private"))
			a->net.mode = NS_MACVLAN_PRIVATE;
		else if (!strcmp(a->mode, "vepa"))
			a->net.mode = NS_MACVLAN_VEPA;
		else
			return bad("--mode", a->mode);
	}
	if ((rc = build_pools(a)))
		return rc;
	if ((rc = ns_network_create(ctx, &a->net, &e)) < 0)
		return fail_rc(rc, &e);
	puts(a->net.id);
	return 0;
}

static int do_ls(struct ns_ctx *ctx)
{
	struct ns_error e = { "" };
	json_t *names, *nm;
	size_t i;
	int rc;

	if ((rc = ns_network_names(ctx, &names, &e)) < 0)
		return fail_rc(rc, &e);
	printf("%-20s %-8s %-12s %-34s %s\n", "NAME", "DRIVER", "ID", "SUBNETS", "ENDPOINTS");
	json_array_foreach(names, i, nm) {
		json_t *j;
		const char *name = json_string_value(nm);
		char subnets[128] = "", buf[NS_PREFIX_STRLEN];
		struct ns_network net;
		if (ns_network_inspect(ctx, name, &j, &e) < 0 || ns_network_load(ctx, name, &net, &e) < 0) {
			fprintf(stderr, "netpol net: %s\n", e.msg);
			continue;
		}
		for (size_t k = 0; k < net.n_pools; k++)
			snprintf(subnets + strlen(subnets), sizeof(subnets) - strlen(subnets), "%s%s",
				 k ? "," : "", ns_prefix_format(&net.pools[k].subnet, buf));
		printf("%-20s %-8s %-12.12s %-34s %zu\n", name, ns_driver_name(net.driver), net.id,
		       subnets[0] ? subnets : "-", json_object_size(json_object_get(j, "Containers")));
		json_decref(j);
	}
	json_decref(names);
	return 0;
}

static int do_inspect(struct ns_ctx *ctx, struct net_args *a)
{
	struct ns_error e = { "" };
	json_t *arr = json_array(), *j;
	int status = 0;

	if (a->n_pos < 1) {
		json_decref(arr);
		fputs(usage_text, stderr);
		return 2;
	}
	for (int i = 0; i < a->n_pos; i++) {
		int rc = ns_network_inspect(ctx, a->pos[i], &j, &e);
		if (rc < 0) {
			status = fail_rc(rc, &e);
			continue;
		}
		json_array_append_new(arr, j);
	}
	if (json_array_size(arr))
		print_json(arr);
	json_decref(arr);
	return status;
}

static int do_rm(struct ns_ctx *ctx, struct net_args *a)
{
	struct ns_error e = { "" };
	int status = 0;

	if (a->n_pos < 1) {
		fputs(usage_text, stderr);
		return 2;
	}
	for (int i = 0; i < a->n_pos; i++) {
		int rc = ns_network_remove(ctx, a->pos[i], a->force, a->local, &e);
		if (rc < 0)
			status = fail_rc(rc, &e);
		else
			puts(a->pos[i]);
	}
	return status;
}

/* Whether --pod NS/NAME names a pod a Pod object could be (the record's names go into the
 * ruleset); why in buf. */
static bool pod_invalid(const char *pod, char *buf, size_t size)
{
	char ns[128];
	const char *slash = strchr(pod, '/'), *why;
	if (!slash || (size_t)(slash - pod) >= sizeof(ns)) {
		snprintf(buf, size, "bad --pod '%s' (want NAMESPACE/NAME)", pod);
		return true;
	}
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - pod), pod);
	if ((why = np_check_dns_label(ns)))
		snprintf(buf, size, "bad --pod '%s': namespace %s", pod, why);
	else if ((why = np_check_container_name(slash + 1)))
		snprintf(buf, size, "bad --pod '%s': name %s", pod, why);
	return why != NULL;
}

static int do_attach(struct ns_ctx *ctx, struct net_args *a)
{
	struct ns_error e = { "" };
	struct ns_endpoint *ep;
	json_t *j;
	int rc;

	if (a->n_pos != 1) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (a->att.pod && pod_invalid(a->att.pod, e.msg, sizeof(e.msg)))
		return fail(&e);
	if ((rc = ns_network_attach(ctx, a->pos[0], &a->att, &ep, &e)) < 0) {
		if (ns_store_unavailable(rc))
			ns_error_wrap(&e, rc, "cannot attach to network %s", a->pos[0]);
		return fail_rc(rc, &e);
	}
	j = ns_endpoint_to_json(ep);
	print_json(j);
	json_decref(j);
	ns_endpoint_free(ep);
	return 0;
}

static int do_detach(struct ns_ctx *ctx, struct net_args *a)
{
	struct ns_error e = { "" };

	int rc;

	if (a->n_pos != 1 || !a->att.id) {
		fputs(usage_text, stderr);
		return 2;
	}
	if ((rc = ns_network_detach(ctx, a->pos[0], a->att.id, &e)) < 0)
		return fail_rc(rc, &e);
	if (rc == 1) /* detached here; the store hears of it when it is back */
		fprintf(stderr, "netpol net: %s\n", e.msg);
	return 0;
}

static int do_sync(struct ns_ctx *ctx, struct net_args *a)
{
	struct ns_error e = { "" };
	int rc;

	if (a->n_pos != 1) {
		fputs(usage_text, stderr);
		return 2;
	}
	if ((rc = ns_network_sync(ctx, a->pos[0], &e)) < 0)
		return fail_rc(rc, &e);
	return 0;
}

/* What an operation settled besides its own work (a killed attach or detach): on stderr. */
static void say_note(void *arg, const char *msg)
{
	fprintf(stderr, "netpol net: %s\n", msg);
}

/* gc's first part: what killed attaches and detaches left in the named networks (all when
 * none is named), settled (netsetup/intent.h), one line each. */
static void gc_intents(struct ns_ctx *ctx, struct net_args *a)
{
	json_t *names = NULL, *r;
	struct ns_network net;
	size_t i;

	if (!a->n_pos && ns_network_names(ctx, &names, NULL) < 0)
		return;
	for (size_t k = 0; k < (a->n_pos ? (size_t)a->n_pos : json_array_size(names)); k++) {
		const char *name = a->n_pos ? a->pos[k] : json_string_value(json_array_get(names, k));
		json_t *report = json_array();
		if (ns_network_load(ctx, name, &net, NULL) == 0)
			ns_intent_sweep(ctx, &net, report);
		json_array_foreach(report, i, r)
			printf("%s %s: %s\n", json_string_value(json_object_get(r, "network")),
			       json_string_value(json_object_get(r, "owner")),
			       json_string_value(json_object_get(r, "note")));
		json_decref(report);
	}
	json_decref(names);
}

static int do_gc(struct ns_ctx *ctx, struct net_args *a)
{
	struct ns_error e = { "" };
	json_t *report = json_array(), *r;
	int rc = 0, status = 0;
	size_t i;

	gc_intents(ctx, a);
	for (int k = 0; k < (a->n_pos ? a->n_pos : 1) && rc == 0; k++)
		rc = ctx->store->ops->gc(ctx->store, a->n_pos ? a->pos[k] : NULL, a->grace_s, report, &e);
	if (rc < 0)
		status = fail_rc(rc, &e);
	json_array_foreach(report, i, r)
		printf("%s %s %s (owner %s): %s\n", json_string_value(json_object_get(r, "network")),
		       json_string_value(json_object_get(r, "address")),
		       json_is_true(json_object_get(r, "released")) ? "released" : "kept",
		       json_string_value(json_object_get(r, "owner")),
		       json_string_value(json_object_get(r, "why")));
	json_decref(report);
	return status;
}

int cmd_net(int argc, char **argv)
{
	struct net_args *a;
	struct ns_error e = { "" };
	struct ns_ctx *ctx;
	const char *sub;
	int rc;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	a = xcalloc(1, sizeof(*a));
	if ((rc = parse(argc - 1, argv + 1, a))) {
		free(a);
		return rc == 1 ? 0 : rc;
	}
	if (statedir_check(a->state_dir ? a->state_dir : NS_DEFAULT_STATE_DIR, e.msg,
			   sizeof(e.msg)) < 0) {
		free(a);
		return fail(&e);
	}
	ctx = ns_ctx_open(a->state_dir, &a->store, false, &e);
	if (!ctx) {
		free(a);
		return fail(&e);
	}
	ctx->node_addrs = nodes_load_addrs;
	ctx->note = say_note;
	if (!strcmp(sub, "create"))
		rc = do_create(ctx, a);
	else if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
		rc = do_ls(ctx);
	else if (!strcmp(sub, "inspect"))
		rc = do_inspect(ctx, a);
	else if (!strcmp(sub, "rm") || !strcmp(sub, "remove"))
		rc = do_rm(ctx, a);
	else if (!strcmp(sub, "attach"))
		rc = do_attach(ctx, a);
	else if (!strcmp(sub, "detach"))
		rc = do_detach(ctx, a);
	else if (!strcmp(sub, "sync"))
		rc = do_sync(ctx, a);
	else if (!strcmp(sub, "gc"))
		rc = do_gc(ctx, a);
	else {
		fprintf(stderr, "netpol net: unknown command '%s'\n%s", sub, usage_text);
		rc = 2;
	}
	ns_ctx_free(ctx);
	free(a);
	return rc;
}
