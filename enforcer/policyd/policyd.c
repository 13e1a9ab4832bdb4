/* policyd — the node daemon: keeps netpol's tables in step with a directory of Kubernetes
 * objects and the state directory's endpoint records. Options and wiring only; the daemon is
 * pd.c beside it.
 *
 *   policyd --policy-dir DIR [--state-dir S] [--node NAME] [--metrics ADDR|none] [--reject]
 *           [--no-spoof] [--resync 180s] [--allow-mass-delete] [--control-clients N]
 *           [--control-idle 30s] [--audit] [--flows all|none] [--flow-buffer N]
 *           [--nflog-group N] [--flow-log FILE [--flow-log-size SIZE] [--flow-log-backups N]]
 *   policyd --store etcd://H:P[,H:P...] --node NAME [--host-addr ADDR] [--lease-ttl 60s]
 *           [--store-prefix /netpol/] [--policy-dir DIR] [--state-dir S] ...
 *   policyd --cleanup [--state-dir S]     remove netpol's tables (the daemon never does) */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "apply.h"
#include "duration.h"
#include "evloop.h"
#include "pd.h"

static void log_stderr(void *arg, const char *line)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char when[32];
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	fprintf(stderr, "policyd %s.%03ld: %s\n", when, ts.tv_nsec / 1000000, line);
}

/* policyd --cleanup: the pipeline's flush, here and in every recorded macvlan pod's netns
 * (the daemon itself never removes the tables). Returns the exit status. */
static int cleanup_tables(const char *state_dir)
{
	struct ap_report rep;
	int r = ap_flush("netpol", state_dir, &rep);
	for (size_t i = 0; i < rep.errors.n; i++)
		fprintf(stderr, "policyd: %s\n", rep.errors.v[i].msg);
	for (size_t i = 0; i < rep.n_targets; i++) {
		const struct ap_target_report *t = &rep.targets[i];
		for (size_t j = 0; j < t->errors.n; j++)
			fprintf(stderr, "policyd: %s%s%s%s\n", t->pod ? "pod " : "",
				t->pod ? t->pod : "", t->pod ? ": " : "", t->errors.v[j].msg);
		if (t->pod && t->result == 0 && !t->gone)
			printf("policyd: removed table inet netpol in netns %s (pod %s)\n", t->netns,
			       t->pod);
	}
	if (r == 0)
		printf("policyd: removed table inet netpol and table bridge netpol-spoof\n");
	ap_report_free(&rep);
	return r < 0 ? 1 : 0;
}

/* "4096", "10M", "512k": bytes (or a count); -1 when malformed. */
static long long parse_size(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (end == s || v < 0)
		return -1;
	long long mult = !*end ? 1 : !strcmp(end, "k") || !strcmp(end, "K") ? 1 << 10
		       : !strcmp(end, "M") ? 1 << 20 : !strcmp(end, "G") ? 1 << 30 : -1;
	return mult < 0 ? -1 : v * mult;
}

/* "START" or "START:MAX" bytes (tests: the flows' receive buffers). */
static int parse_rcvbuf(const char *s, size_t out[2])
{
	char first[64];
	const char *colon = strchr(s, ':');
	snprintf(first, sizeof(first), "%.*s", colon ? (int)(colon - s) : (int)strlen(s), s);
	long long a = parse_size(first), b = colon ? parse_size(colon + 1) : a;
	if (a <= 0 || b < a)
		return -1;
	out[0] = (size_t)a;
	out[1] = (size_t)b;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: policyd --policy-dir DIR [--state-dir DIR] [--node NAME]\n"
		   "               [--metrics ADDR:PORT|none] [--reject] [--no-spoof]\n"
		   "               [--resync DURATION] [--allow-mass-delete]\n"
		   "               [--control-clients N] [--control-idle DURATION] [--audit]\n"
		   "               [--flows all|none] [--flow-buffer N] [--nflog-group N]\n"
		   "               [--flow-log FILE [--flow-log-size SIZE] [--flow-log-backups N]]\n"
		   "               [--store etcd://H:P[,H:P...] --node NAME [--host-addr ADDR]\n"
		   "                [--lease-ttl DURATION] [--store-prefix P]]\n"
		   "       policyd --cleanup [--state-dir DIR]\n");
}

/* The flows' options (the letters parse_opts hands over). Returns -1 to go on, else 2. */
static int flow_opt(int c, const char *arg, struct pd_opts *o)
{
	long long v = 0;
	switch (c) {
	case 'F':
		if (strcmp(arg, "all") && strcmp(arg, "none"))
			break;
		o->no_flows = !strcmp(arg, "none");
		return -1;
	case 'U':
		o->audit = true;
		return -1;
	case 'B':
		if ((v = parse_size(arg)) < 1)
			break;
		o->flow_buffer = (size_t)v;
		return -1;
	case 'N':
		if ((v = parse_size(arg)) < 1 || v > 65535)
			break;
		o->nflog_group = (uint16_t)v;
		return -1;
	case 'f':
		o->flow_log = arg;
		return -1;
	case 'Z':
		if ((v = parse_size(arg)) < 1)
			break;
		o->flow_log_size = (size_t)v;
		return -1;
	case 'X':
		if ((v = parse_size(arg)) < 0 || v > 1000)
			break;
		o->flow_log_backups = (int)v;
		return -1;
	case 'Q':
		if (parse_rcvbuf(arg, o->nflog_rcvbuf) < 0)
			break;
		return -1;
	case 'W':
		if (parse_rcvbuf(arg, o->ct_rcvbuf) < 0)
			break;
		return -1;
	}
	fprintf(stderr, "policyd: bad value '%s'\n", arg ? arg : "");
	return 2;
}

/* Parses the options into o. Returns -1 to go on, else the exit status (usage printed). */
static int parse_opts(int argc, char **argv, struct pd_opts *o, bool *cleanup)
{
	static const struct option opts[] = {
		{ "policy-dir", required_argument, NULL, 'p' },
		{ "state-dir", required_argument, NULL, 'D' },
		{ "node", required_argument, NULL, 'n' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "reject", no_argument, NULL, 'r' },
		{ "no-spoof", no_argument, NULL, 's' },
		{ "resync", required_argument, NULL, 'R' },
		{ "allow-mass-delete", no_argument, NULL, 'A' },
		{ "no-owner", no_argument, NULL, 'O' },
		{ "no-monitor", no_argument, NULL, 'M' },   /* tests */
		{ "inject-error", no_argument, NULL, 'I' }, /* tests */
		{ "test-old-kernel", no_argument, NULL, 'K' }, /* tests: the pre-6.9 fallback */
		{ "test-monitor-delay", required_argument, NULL, 'T' }, /* tests */
		{ "gap", required_argument, NULL, 'g' },
		{ "grace", required_argument, NULL, 'G' },
		{ "control-clients", required_argument, NULL, 'c' },
		{ "control-idle", required_argument, NULL, 'i' },
		{ "cleanup", no_argument, NULL, 'C' },
		{ "store", required_argument, NULL, 'e' },
		{ "store-prefix", required_argument, NULL, 'P' },
		{ "host-addr", required_argument, NULL, 'a' },
		{ "lease-ttl", required_argument, NULL, 'L' },
		{ "audit", no_argument, NULL, 'U' },
		{ "flows", required_argument, NULL, 'F' },
		{ "flow-buffer", required_argument, NULL, 'B' },
		{ "nflog-group", required_argument, NULL, 'N' },
		{ "flow-log", required_argument, NULL, 'f' },
		{ "flow-log-size", required_argument, NULL, 'Z' },
		{ "flow-log-backups", required_argument, NULL, 'X' },
		{ "nflog-rcvbuf", required_argument, NULL, 'Q' }, /* tests: overflow on purpose */
		{ "ct-rcvbuf", required_argument, NULL, 'W' },    /* tests */
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		long long ms;
		switch (c) {
		case 'p': o->policy_dir = optarg; break;
		case 'D': o->state_dir = optarg; break;
		case 'n': o->node = optarg; break;
		case 'm': o->metrics_addr = strcmp(optarg, "none") ? optarg : NULL; break;
		case 'r': o->reject = true; break;
		case 's': o->no_spoof = true; break;
		case 'A': o->allow_mass_delete = true; break;
		case 'O': o->no_owner = true; break;
		case 'M': o->no_monitor = true; break;
		case 'I': o->inject_error = true; break;
		case 'K': o->test_old_kernel = true; break;
		case 'C': *cleanup = true; break;
		case 'e': o->store = optarg; break;
		case 'P': o->store_prefix = optarg; break;
		case 'a': o->host_addr = optarg; break;
		case 'c': {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);
			if (*end || n < 1 || n > 100000) {
				fprintf(stderr, "policyd: --control-clients wants 1 to 100000\n");
				return 2;
			}
			o->ctl_max_clients = n;
			break;
		}
		case 'R':
		case 'g':
		case 'G':
		case 'i':
		case 'L':
		case 'T':
			if ((ms = duration_parse_ms(optarg)) < 0) {
				fprintf(stderr, "policyd: bad duration '%s' (e.g. 180s, 500ms, 3m)\n",
					optarg);
				return 2;
			}
			if (c == 'R')
				o->resync_ms = ms;
			else if (c == 'i')
				o->ctl_idle_ms = ms > 0 ? ms : 1;
			else if (c == 'g')
				o->gap_ms = (double)ms;
			else if (c == 'T')
				o->test_monitor_delay_ms = ms;
			else if (c == 'L')
				o->lease_ttl_s = ms < 1000 ? 1 : (long)(ms / 1000);
			else
				o->grace_ms = (double)ms;
			break;
		case 'U': case 'F': case 'B': case 'N': case 'f': case 'Z': case 'X': case 'Q':
		case 'W':
			if (flow_opt(c, optarg, o) >= 0)
				return 2;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || (!*cleanup && !o->policy_dir && !o->store)) {
		usage(stderr);
		return 2;
	}
	if (o->store && !o->node) {
		fprintf(stderr, "policyd: --store needs --node NAME (this host's name in the store)\n");
		return 2;
	}
	return -1;
}

/* Every control connection is a descriptor: the soft limit is raised (up to the hard one) to
 * hold them all beside the daemon's own (inotify, netlink, HTTP, pods' netns); with a hard
 * limit too low for that, fewer control connections are held. */
static void fit_fd_limit(struct pd_opts *o)
{
	const rlim_t own = 256;
	rlim_t want = (rlim_t)o->ctl_max_clients + own;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < want) {
		o->ctl_max_clients = rl.rlim_cur > 2 * own ? (size_t)(rl.rlim_cur - own) : 64;
		fprintf(stderr, "policyd: open files limited to %llu: at most %zu control "
			"connections\n", (unsigned long long)rl.rlim_cur, o->ctl_max_clients);
	}
}

/* The daemon, until SIGTERM or SIGINT. Returns the exit status. */
static int run(struct pd_opts *o)
{
	signal(SIGPIPE, SIG_IGN);
	fit_fd_limit(o);
	struct evloop *l = NULL;
	struct pd *d = NULL;
	char err[1024] = "";
	int r = evloop_new(&l);
	if (r == 0)
		r = pd_new(o, l, &d, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "policyd: %s\n", err[0] ? err : strerror(-r));
		evloop_free(l);
		return 1;
	}
	r = pd_run(d);
	pd_free(d);
	evloop_free(l);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct pd_opts o = { .state_dir = "/run/netpol", .metrics_addr = "127.0.0.1:9753",
			     .resync_ms = 180000, .gap_ms = 20, .grace_ms = 100, .lease_ttl_s = 60,
			     .flow_log_backups = -1,
			     .ctl_max_clients = 1024, .ctl_idle_ms = 30000, .log = log_stderr };
	bool cleanup = false;
	int rc = parse_opts(argc, argv, &o, &cleanup);
	if (rc >= 0)
		return rc;
	/* the store's objects alone: an empty directory stands for --policy-dir */
	char empty[4096];
	if (!o.policy_dir) {
		snprintf(empty, sizeof(empty), "%s/policies", o.state_dir);
		mkdir(o.state_dir, 0700);
		mkdir(empty, 0700);
		o.policy_dir = empty;
	}
	return cleanup ? cleanup_tables(o.state_dir) : run(&o);
}
