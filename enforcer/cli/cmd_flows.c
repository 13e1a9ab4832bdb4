/* cmd_flows.c — `netpol flows`: flow records as `hubble observe` shows them, from policyd's
 * ring over its control socket (found through --state-dir), from a file of JSON lines
 * (netpol's flow log or Hubble's own output), or collected here with --collect in a netns
 * where policyd does not run.
 *
 *   netpol flows [--state-dir S] [--last N | --all] [--follow] [--since D|T] [FILTERS]
 *                [-o compact|json|table] [--input-file FILE|-]
 *   netpol flows --collect [DIR] [--state-dir S] [--node NAME] [--nflog-group N] [--audit]
 *                [FILTERS] [-o ...]
 *   FILTERS: --verdict V --namespace NS --pod P --from-pod P --to-pod P --ip A --port N
 *            --protocol P --policy P (repeated: any of them; different ones: all) */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_common.h"
#include "ctindex.h"
#include "ctl.h"
#include "flowcol.h"
#include "flowrec.h"
#include "load.h"
#include "xalloc.h"

enum output { OUT_COMPACT, OUT_JSON, OUT_TABLE };

struct flows_opts {
	const char *state_dir, *input, *dir, *node;
	long last;               /* -1: every record */
	bool follow, collect, audit, all;
	uint16_t group;
	enum output out;
	struct flow_filter *filter;
	bool has_since;
};

/* ---- printing ---- */

static const char *end_text(const struct flow_end *e, uint8_t proto, char *buf, size_t size)
{
	char a[64];
	bool ports = proto == 6 || proto == 17 || proto == 132;
	int n = e->pod ? snprintf(buf, size, "%s/%s", e->ns, e->pod)
		       : snprintf(buf, size, "%s", e->addr.family ? np_addr_str(&e->addr, a) : "?");
	if (ports && n >= 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, ":%u", (unsigned)e->port);
	return buf;
}

/* "x/deny (NetworkPolicy), CNP/guard (ClusterNetworkPolicy)" */
static void pols_text(const struct flow_pols *l, const char *rule, char *buf, size_t size)
{
	size_t off = 0;
	for (size_t i = 0; i < l->n && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s%s%s%s%s (%s)", i ? ", " : "",
					l->v[i].ns[0] ? l->v[i].ns : "", l->v[i].ns[0] ? "/" : "",
					l->v[i].name, rule && l->n == 1 ? " " : "",
					rule && l->n == 1 ? rule : "", l->v[i].kind);
}

/* Who decided: the denying policies of the record's direction (DROPPED, AUDIT), or what
 * allowed it at each end. */
static void policy_text(const struct flow_rec *r, char *buf, size_t size)
{
	char a[1024] = "", b[1024] = "";
	buf[0] = 0;
	if (r->verdict != FLOW_FORWARDED) {
		for (int s = 0; s < 2 && !a[0]; s++) {
			int side = r->dir == FLOW_EGRESS ? 1 - s : s;
			pols_text(&r->side[side].denied, r->side[side].rule, a, sizeof(a));
		}
		if (a[0])
			snprintf(buf, size, "%s", a);
		return;
	}
	pols_text(&r->side[FLOW_SIDE_EGRESS].allowed, r->side[FLOW_SIDE_EGRESS].rule, a, sizeof(a));
	pols_text(&r->side[FLOW_SIDE_INGRESS].allowed, r->side[FLOW_SIDE_INGRESS].rule, b,
		  sizeof(b));
	snprintf(buf, size, "%s%s%s", a, a[0] && b[0] ? ", " : "", b);
}

static void l4_text(const struct flow_rec *r, char *buf, size_t size)
{
	static const struct {
		uint8_t bit;
		const char *name;
	} flags[] = { { 0x02, "SYN" }, { 0x10, "ACK" }, { 0x01, "FIN" }, { 0x04, "RST" } };
	buf[0] = 0;
	if (r->proto == 6) {
		size_t off = (size_t)snprintf(buf, size, "TCP");
		for (size_t i = 0; i < 4 && r->tcp_flags; i++)
			if (r->tcp_flags & flags[i].bit)
				off += (size_t)snprintf(buf + off, size - off, "%s%s",
							off == 3 ? " Flags: " : ", ", flags[i].name);
	} else if (r->proto == 1 || r->proto == 58) {
		snprintf(buf, size, "ICMPv%d type %u code %u", r->proto == 1 ? 4 : 6,
			 (unsigned)r->icmp_type, (unsigned)r->icmp_code);
	} else {
		snprintf(buf, size, "%s", r->proto == 17 ? "UDP" : r->proto == 132 ? "SCTP" : "IP");
	}
}

static void stats_text(const struct flow_rec *r, char *buf, size_t size)
{
	buf[0] = 0;
	if (r->event == FLOW_EV_CLOSE && r->has_stats)
		snprintf(buf, size, "closed: %llu packets %llu bytes ->, %llu packets %llu bytes <-",
			 (unsigned long long)r->packets[0], (unsigned long long)r->bytes[0],
			 (unsigned long long)r->packets[1], (unsigned long long)r->bytes[1]);
	else if (r->event == FLOW_EV_CLOSE)
		snprintf(buf, size, "closed");
	else if (r->event == FLOW_EV_NEW)
		snprintf(buf, size, "new");
	else if (r->folded > 1)
		snprintf(buf, size, "x%llu", (unsigned long long)r->folded);
}

static const char *when_text(int64_t ns, char *buf, size_t size)
{
	time_t s = (time_t)(ns / 1000000000);
	struct tm tm;
	localtime_r(&s, &tm);
	size_t n = strftime(buf, size, "%b %e %H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03lld", (long long)(ns % 1000000000 / 1000000));
	return buf;
}

static const char *dir_word(enum flow_dir d)
{
	return d == FLOW_INGRESS ? "ingress" : d == FLOW_EGRESS ? "egress" : "-";
}

/* One line a flow, like hubble observe's compact output. */
static void print_compact(const struct flow_rec *r)
{
	char t[40], s[600], d[600], p[2048], l4[64], st[160];
	when_text(r->time_ns, t, sizeof(t));
	if (r->event == FLOW_EV_LOST) {
		printf("%s: EVENTS LOST: %llu (%s)\n", t, (unsigned long long)r->lost,
		       r->lost_source ? r->lost_source : "?");
		return;
	}
	policy_text(r, p, sizeof(p));
	l4_text(r, l4, sizeof(l4));
	stats_text(r, st, sizeof(st));
	printf("%s: %s -> %s %s %s%s%s (%s)%s%s\n", t, end_text(&r->src, r->proto, s, sizeof(s)),
	       end_text(&r->dst, r->proto, d, sizeof(d)), dir_word(r->dir),
	       flow_verdict_name(r->verdict), p[0] ? " BY " : "", p, l4, st[0] ? " " : "", st);
}

static const char *const table_head[] = { "TIMESTAMP", "SOURCE", "DESTINATION", "DIRECTION",
					   "VERDICT", "POLICY", "SUMMARY" };
#define TABLE_COLS 7
static const int table_widths[TABLE_COLS] = { 19, 28, 28, 9, 9, 40, 20 };

static void print_table_row(const struct flow_rec *r)
{
	char t[40], s[600], d[600], p[2048], l4[64], st[160], sum[256];
	when_text(r->time_ns, t, sizeof(t));
	if (r->event == FLOW_EV_LOST) {
		printf("%-*s EVENTS LOST: %llu (%s)\n", table_widths[0], t,
		       (unsigned long long)r->lost, r->lost_source ? r->lost_source : "?");
		return;
	}
	policy_text(r, p, sizeof(p));
	l4_text(r, l4, sizeof(l4));
	stats_text(r, st, sizeof(st));
	snprintf(sum, sizeof(sum), "%s%s%s", l4, st[0] ? " " : "", st);
	const char *cells[TABLE_COLS] = { t, end_text(&r->src, r->proto, s, sizeof(s)),
					  end_text(&r->dst, r->proto, d, sizeof(d)),
					  dir_word(r->dir), flow_verdict_name(r->verdict),
					  p[0] ? p : "-", sum };
	for (int i = 0; i < TABLE_COLS; i++)
		printf(i + 1 < TABLE_COLS ? "%-*s " : "%.*s\n", i + 1 < TABLE_COLS ? table_widths[i]
										     : 1000,
		       cells[i]);
}

/* One record in the chosen output. j is the record as read (json is printed bare, as it came:
 * a Hubble line keeps every field it had). */
static void print_record(const struct flows_opts *o, const json_t *j, const struct flow_rec *r)
{
	if (o->out == OUT_JSON) {
		const json_t *f = json_object_get(j, "flow");
		json_dumpf(f && !json_object_get(j, "lost_events") ? f : j, stdout, JSON_COMPACT);
		putchar('\n');
	} else if (o->out == OUT_TABLE) {
		print_table_row(r);
	} else {
		print_compact(r);
	}
	fflush(stdout);
}

static void print_table_head(const struct flows_opts *o)
{
	if (o->out != OUT_TABLE)
		return;
	for (int i = 0; i < TABLE_COLS; i++)
		printf(i + 1 < TABLE_COLS ? "%-*s " : "%.*s\n", i + 1 < TABLE_COLS ? table_widths[i]
										     : 1000,
		       table_head[i]);
}

/* ---- from policyd ---- */

struct stream_ctx {
	const struct flows_opts *o;
	bool header;
	int rc;
};

static int on_line(void *arg, const char *line)
{
	struct stream_ctx *sc = arg;
	json_t *j = json_loads(line, 0, NULL);
	if (!j)
		return 0;
	if (!sc->header) {
		sc->header = true;
		if (!json_is_true(json_object_get(j, "ok"))) {
			fprintf(stderr, "netpol flows: policyd: %s\n",
				json_string_value(json_object_get(j, "error")));
			sc->rc = 1;
			json_decref(j);
			return 1;
		}
		const char *nl = json_string_value(json_object_get(j, "nflog"));
		if (nl && strcmp(nl, "bound"))
			fprintf(stderr, "netpol flows: policyd: NFLOG group %lld %s: drops are not "
				"recorded\n", (long long)json_integer_value(json_object_get(j, "nflog_group")), nl);
		print_table_head(sc->o);
		json_decref(j);
		return 0;
	}
	struct flow_rec r;
	if (flow_rec_from_json(j, &r) == 0)
		print_record(sc->o, j, &r);
	flow_rec_clear(&r);
	json_decref(j);
	return 0;
}

static int from_policyd(const struct flows_opts *o)
{
	json_t *req = json_pack("{s:s,s:b,s:o}", "cmd", "flows", "follow", o->follow, "filter",
				flow_filter_json(o->filter));
	if (o->last >= 0)
		json_object_set_new(req, "last", json_integer(o->last));
	char *text = json_dumps(req, JSON_COMPACT), path[4096];
	json_decref(req);
	ctl_sock_path(o->state_dir ? o->state_dir : DEFAULT_STATE_DIR, path, sizeof(path));
	struct stream_ctx sc = { .o = o };
	int r = ctl_stream(path, text, 5000, on_line, &sc);
	free(text);
	if (r == -ENOENT || r == -ECONNREFUSED) {
		fprintf(stderr, "netpol flows: no policyd answers on %s (in a netns where none runs: "
			"netpol flows --collect; a file: --input-file)\n", path);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "netpol flows: %s: %s\n", path, strerror(-r));
		return 1;
	}
	return sc.rc;
}

/* ---- from a file ---- */

struct kept {
	json_t *j;
	struct flow_rec r;
};

static int from_file(const struct flows_opts *o)
{
	FILE *f = strcmp(o->input, "-") ? fopen(o->input, "r") : stdin;
	if (!f) {
		fprintf(stderr, "netpol flows: %s: %s\n", o->input, strerror(errno));
		return 1;
	}
	/* the last N matches: a ring of them (every match when N < 0) */
	size_t cap = o->last >= 0 ? (size_t)o->last : 1024, n = 0, head = 0, bad = 0, lineno = 0;
	struct kept *keep = xcalloc(cap ? cap : 1, sizeof(*keep));
	char *line = NULL;
	size_t len = 0;
	while (getline(&line, &len, f) >= 0) {
		lineno++;
		json_t *j = json_loads(line, JSON_DECODE_ANY, NULL);
		struct kept k = { .j = j };
		if (!j || flow_rec_from_json(j, &k.r) < 0) {
			if (line[strspn(line, " \t\r\n")]) /* blank lines are no records */
				bad++;
			json_decref(j);
			continue;
		}
		if (!flow_filter_match(o->filter, &k.r) || !cap) {
			json_decref(j);
			flow_rec_clear(&k.r);
			continue;
		}
		if (o->last < 0 && n == cap)
			keep = xreallocarray(keep, cap *= 2, sizeof(*keep));
		struct kept *slot = &keep[(head + n) % cap];
		if (n == cap) { /* full: the oldest goes */
			json_decref(slot->j);
			flow_rec_clear(&slot->r);
			head = (head + 1) % cap;
		} else {
			n++;
		}
		*slot = k;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	print_table_head(o);
	for (size_t i = 0; i < n; i++) {
		struct kept *k = &keep[(head + i) % cap];
		print_record(o, k->j, &k->r);
		json_decref(k->j);
		flow_rec_clear(&k->r);
	}
	free(keep);
	if (bad)
		fprintf(stderr, "netpol flows: %s: %zu of %zu lines are no flow records\n", o->input,
			bad, lineno);
	return 0;
}

/* ---- collected here ---- */

struct collect_ctx {
	const struct flows_opts *o;
};

static void collect_sink(void *arg, struct flow_rec *r)
{
	struct collect_ctx *cc = arg;
	if (!flow_filter_match(cc->o->filter, r))
		return;
	json_t *j = flow_rec_json(r);
	print_record(cc->o, j, r);
	json_decref(j);
}

/* The model records are named from: DIR (with the endpoint records of --state-dir), or none. */
static int collect_model(const struct flows_opts *o, struct np_inventory **inv)
{
	*inv = NULL;
	if (!o->dir)
		return 0;
	struct apply_opts ao = { .dir = o->dir, .state_dir = o->state_dir };
	return cmd_load_inventory(&ao, inv) ? -1 : 0;
}

static int collect_loop(struct flowcol *col, struct ctix *ix)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	struct pollfd p[3] = { { flowcol_nflog_fd(col), POLLIN, 0 },
			       { ix ? ctix_fd(ix) : -1, POLLIN, 0 }, { sfd, POLLIN, 0 } };
	for (;;) {
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[2].revents)
			break;
		if (p[0].revents)
			flowcol_nflog_read(col);
		if (p[1].revents && ctix_read(ix) == -ENOBUFS)
			ctix_resync(ix); /* the loss is a record already; the index must be right */
	}
	close(sfd);
	return 0;
}

static int collect(const struct flows_opts *o)
{
	struct np_inventory *inv;
	if (collect_model(o, &inv) < 0)
		return 2;
	struct rs_options ro = { .node = o->node, .audit = o->audit,
				 .log_group = o->group ? o->group : RS_LOG_GROUP_DEFAULT };
	struct collect_ctx cc = { .o = o };
	struct flowcol *col;
	char host[256] = "localhost";
	gethostname(host, sizeof(host) - 1);
	flowcol_new(o->node ? o->node : host, collect_sink, &cc, &col);
	flowcol_set_model(col, inv, &ro);
	int r = flowcol_enable_acct();
	if (r < 0)
		fprintf(stderr, "netpol flows: turning on nf_conntrack_acct: %s: no byte counts\n",
			strerror(-r));
	r = flowcol_nflog_open(col, ro.log_group, 2u << 20, 32u << 20);
	if (r < 0) {
		fprintf(stderr, "netpol flows: NFLOG group %u: %s%s\n", ro.log_group, strerror(-r),
			r == -EBUSY ? " (another process reads it: policyd? then run netpol flows "
				      "without --collect)" : "");
		flowcol_free(col);
		np_inventory_free(inv);
		return 1;
	}
	struct ctix *ix = NULL;
	if (ctix_new(&ix) == 0 && (r = ctix_open(ix, 4u << 20, 64u << 20)) == 0) {
		ctix_set_listener(ix, flowcol_ct_event, col);
	} else {
		fprintf(stderr, "netpol flows: conntrack events: %s: connections are not recorded\n",
			strerror(-r));
		ctix_free(ix);
		ix = NULL;
	}
	print_table_head(o);
	collect_loop(col, ix);
	ctix_free(ix);
	flowcol_free(col);
	np_inventory_free(inv);
	return 0;
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: netpol flows [--state-dir S] [--last N | --all] [--follow] [--since D|T]\n"
		   "                    [FILTERS] [-o compact|json|table] [--input-file FILE|-]\n"
		   "       netpol flows --collect [DIR] [--state-dir S] [--node NAME] "
		   "[--nflog-group N] [--audit] [FILTERS] [-o ...]\n"
		   "FILTERS: --verdict FORWARDED|DROPPED|AUDIT (ALLOWED|DENIED|AUDITED) "
		   "--namespace NS --pod [NS/]POD\n"
		   "         --from-pod P --to-pod P --ip ADDR|CIDR --port N --protocol "
		   "tcp|udp|sctp|icmp --policy NS/NAME\n");
}

static int parse_output(const char *s, enum output *out)
{
	static const char *const names[] = { "compact", "json", "table" };
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, names[i]) || (i == OUT_JSON && !strcmp(s, "jsonpb"))) {
			*out = (enum output)i;
			return 0;
		}
	fprintf(stderr, "netpol flows: bad -o '%s' (compact, json or table)\n", s);
	return -1;
}

/* The filters go into o->filter by their option names. */
static int parse_flows_opts(int argc, char **argv, struct flows_opts *o)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 'D' }, { "last", required_argument, NULL, 'l' },
		{ "all", no_argument, NULL, 'a' }, { "follow", no_argument, NULL, 'f' },
		{ "input-file", required_argument, NULL, 'i' }, { "output", required_argument, NULL, 'o' },
		{ "collect", no_argument, NULL, 'c' }, { "node", required_argument, NULL, 'N' },
		{ "nflog-group", required_argument, NULL, 'G' }, { "audit", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ "since", required_argument, NULL, 1 }, { "verdict", required_argument, NULL, 1 },
		{ "namespace", required_argument, NULL, 1 }, { "pod", required_argument, NULL, 1 },
		{ "from-pod", required_argument, NULL, 1 }, { "to-pod", required_argument, NULL, 1 },
		{ "ip", required_argument, NULL, 1 }, { "port", required_argument, NULL, 1 },
		{ "protocol", required_argument, NULL, 1 }, { "policy", required_argument, NULL, 1 },
		{ 0 },
	};
	int c, idx;
	char err[256], *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "fo:n:h", opts, &idx)) != -1) {
		switch (c) {
		case 1:
		case 'n':
			if (flow_filter_add(o->filter, c == 'n' ? "namespace" : opts[idx].name, optarg,
					    err, sizeof(err)) < 0) {
				fprintf(stderr, "netpol flows: %s\n", err);
				return 2;
			}
			o->has_since |= c == 1 && !strcmp(opts[idx].name, "since");
			break;
		case 'D': o->state_dir = optarg; break;
		case 'l':
			o->last = strtol(optarg, &end, 10);
			if (!*optarg || *end || o->last < 0) {
				fprintf(stderr, "netpol flows: bad --last '%s'\n", optarg);
				return 2;
			}
			break;
		case 'a': o->all = true; break;
		case 'f': o->follow = true; break;
		case 'i': o->input = optarg; break;
		case 'o':
			if (parse_output(optarg, &o->out) < 0)
				return 2;
			break;
		case 'c': o->collect = true; break;
		case 'N': o->node = optarg; break;
		case 'G':
			if (cmd_parse_nflog_group(optarg, &o->group) < 0)
				return 2;
			break;
		case 'A': o->audit = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc && o->collect)
		o->dir = argv[optind++];
	if (optind != argc || (o->input && (o->collect || o->follow))) {
		usage(stderr);
		return 2;
	}
	/* hubble observe's default: the last 20, unless following, since, or --all */
	if (o->last == -2)
		o->last = o->all || o->has_since || o->follow ? -1 : 20;
	return -1;
}

int cmd_flows(int argc, char **argv)
{
	struct flows_opts o = { .last = -2, .filter = flow_filter_new() };
	int rc = parse_flows_opts(argc, argv, &o);
	if (rc < 0)
		rc = o.collect ? collect(&o) : o.input ? from_file(&o) : from_policyd(&o);
	flow_filter_free(o.filter);
	return rc;
}
