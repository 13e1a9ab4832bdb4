/* cmd_preview.c — `netpol preview DIR`: what applying DIR would cut, before anything is
 * applied.
 *
 *   netpol preview DIR [--state-dir S] [--node NAME] [--audit]
 *       the live connections of this netns's conntrack table that DIR's ruleset would cut:
 *       each judged exactly as the conntrack step after an apply judges it (ct_denied_here),
 *       with its pods, port, age and bytes
 *   netpol preview DIR --against CURRENT [--state-dir S] [--node NAME] [--audit]
 *       from the evaluator alone (no kernel): every pod pair and port whose verdict differs
 *       between CURRENT and DIR, the ports taken as the ranges over which no policy of either
 *       changes its answer
 *
 * Exit status: 0 nothing would be cut, 1 something would (a live connection, or a pod pair and
 * port allowed now and dropped after), 2 an error: for scripts and CI gates. */
#include <errno.h>
#include <getopt.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cli.h"
#include "cmd_common.h"
#include "ct.h"
#include "ctindex.h"
#include "eval.h"
#include "podaddr.h"
#include "vec.h"
#include "xalloc.h"

struct preview_opts {
	const char *dir, *against, *state_dir;
	struct rs_options ro;
};

static const char *proto_text(uint8_t p)
{
	return p == IPPROTO_TCP ? "TCP" : p == IPPROTO_UDP ? "UDP" : p == IPPROTO_SCTP ? "SCTP"
	     : p == IPPROTO_ICMP ? "ICMPv4" : p == IPPROTO_ICMPV6 ? "ICMPv6" : "IP";
}

static const char *end_text(const struct np_endpoint *e, char *buf, size_t size)
{
	char a[64];
	if (e->pod)
		snprintf(buf, size, "%s/%s", e->pod->ns, e->pod->name);
	else
		snprintf(buf, size, "%s", np_addr_str(&e->addr, a));
	return buf;
}

/* Which side would drop it, and by what. */
static void why_text(const struct np_eval *ev, const struct np_flow *f, char *buf, size_t size)
{
	struct np_verdict v;
	buf[0] = 0;
	if (np_eval_explain(ev, f, &v) < 0)
		return;
	const struct np_side_verdict *sv = !v.egress.allowed ? &v.egress : &v.ingress;
	char at[300];
	size_t off = (size_t)snprintf(buf, size, "%s at %s: ", sv == &v.egress ? "egress" : "ingress",
				      end_text(sv == &v.egress ? &f->src : &f->dst, at, sizeof(at)));
	if (sv->why == NP_WHY_ADMIN || sv->why == NP_WHY_BASELINE) {
		snprintf(buf + off, size - off, "%s/%s %s[%zu] Deny", sv->admin->short_kind,
			 sv->admin->name, sv == &v.egress ? "egress" : "ingress", sv->admin_rule);
	} else {
		off += (size_t)snprintf(buf + off, size - off, "no rule of ");
		for (size_t i = 0; i < sv->n_isolating && off < size; i++)
			off += (size_t)snprintf(buf + off, size - off, "%s%s/%s", i ? ", " : "",
						sv->isolating[i]->ns, sv->isolating[i]->name);
		if (off < size)
			snprintf(buf + off, size - off, " allows it");
	}
	np_verdict_clear(&v);
}

/* ---- the live table ---- */

struct live_conn {
	struct ct_conn c;
	bool counters;
	uint64_t bytes[2];
	uint8_t tcp_state;
};

struct live {
	struct live_conn *v;
	size_t n, cap;
};

static int dump_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct live *l = data;
	struct live_conn *e = &VEC_PUSH(l->v, l->n, l->cap);
	memset(e, 0, sizeof(*e));
	ctix_conn_from_nfct(ct, &e->c);
	if (nfct_attr_is_set(ct, ATTR_ORIG_COUNTER_BYTES) > 0) {
		e->counters = true;
		e->bytes[0] = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_BYTES);
		e->bytes[1] = nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_BYTES);
	}
	if (e->c.proto == IPPROTO_TCP)
		e->tcp_state = nfct_get_attr_u8(ct, ATTR_TCP_STATE);
	return NFCT_CB_CONTINUE;
}

static int dump_live(struct live *l)
{
	struct nfct_handle *h = nfct_open(CONNTRACK, 0);
	if (!h)
		return errno ? -errno : -EIO;
	nfct_callback_register(h, NFCT_T_ALL, dump_cb, l);
	uint32_t family = AF_UNSPEC;
	int r = nfct_query(h, NFCT_Q_DUMP, &family) < 0 ? -errno : 0;
	nfct_close(h);
	return r;
}

/* An established connection: TCP past its handshake and not closing; any other entry. */
static bool established(const struct live_conn *e)
{
	return e->c.proto != IPPROTO_TCP || e->tcp_state == 3 /* TCP_CONNTRACK_ESTABLISHED */;
}

static void print_cut(const struct live_conn *e, const struct np_flow *f, const char *why)
{
	char s[300], d[300], age[32] = "-", bytes[96] = "-";
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	if (e->c.start_ns && now_ns >= (int64_t)e->c.start_ns)
		snprintf(age, sizeof(age), "%.1fs", (double)(now_ns - (int64_t)e->c.start_ns) / 1e9);
	if (e->counters)
		snprintf(bytes, sizeof(bytes), "%llu -> / %llu <-", (unsigned long long)e->bytes[0],
			 (unsigned long long)e->bytes[1]);
	char port[16] = "";
	if (f->port)
		snprintf(port, sizeof(port), ":%u", (unsigned)f->port);
	printf("%s -> %s%s %s  age %s  bytes %s  (%s)\n", end_text(&f->src, s, sizeof(s)),
	       end_text(&f->dst, d, sizeof(d)), port, proto_text(e->c.proto), age, bytes, why);
}

static int preview_live(const struct preview_opts *o, const struct np_inventory *inv)
{
	struct live l = { 0 };
	int r = dump_live(&l);
	if (r < 0) {
		fprintf(stderr, "netpol preview: reading the conntrack table: %s\n", strerror(-r));
		free(l.v);
		return 2;
	}
	struct np_eval *ev = np_eval_new(inv);
	if (!ev)
		abort();
	np_eval_set_audit(ev, o->ro.audit);
	struct podaddr *pa = podaddr_new(inv);
	size_t cut = 0, judged = 0;
	for (size_t i = 0; i < l.n; i++) {
		const struct live_conn *e = &l.v[i];
		if ((e->c.mark & RS_CT_MARK_REVOKED) || !established(e))
			continue; /* already cut, or not (yet, or any longer) a connection */
		struct np_flow f;
		podaddr_conn_flow(pa, &e->c, &f);
		if (!f.src.pod && !f.dst.pod)
			continue;
		judged++;
		if (!ct_denied_here(ev, &o->ro, &f))
			continue;
		char why[1024];
		why_text(ev, &f, why, sizeof(why));
		print_cut(e, &f, why);
		cut++;
	}
	printf("%zu of %zu live connections between pods would be cut by applying %s\n", cut,
	       judged, o->dir);
	podaddr_free(pa);
	np_eval_free(ev);
	free(l.v);
	return cut ? 1 : 0;
}

/* ---- against another directory: verdict changes ---- */

struct bounds {
	uint16_t *v;
	size_t n, cap;
};

static void bound(struct bounds *b, unsigned port)
{
	if (port >= 1 && port <= 65535)
		VEC_PUSH(b->v, b->n, b->cap) = (uint16_t)port;
}

static int u16_cmp(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static void rule_bounds(const struct np_inventory *inv, const struct np_rule *r,
			enum np_proto proto, struct bounds *b)
{
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct np_port *p = &r->ports[i];
		if (!p->any_proto && p->proto != proto)
			continue;
		if (p->name) { /* every port a pod gives that name */
			for (size_t k = 0; k < inv->n_pods; k++)
				for (size_t j = 0; j < inv->pods[k].n_ports; j++)
					if (inv->pods[k].ports[j].name &&
					    !strcmp(inv->pods[k].ports[j].name, p->name)) {
						bound(b, inv->pods[k].ports[j].port);
						bound(b, inv->pods[k].ports[j].port + 1u);
					}
		} else if (p->port) {
			bound(b, p->port);
			bound(b, (p->end_port ? p->end_port : p->port) + 1u);
		}
	}
}

/* The ports where some rule of either inventory starts or stops matching: between two of
 * them every port gets the same verdict, so one probe each covers every port. */
static void port_bounds(const struct np_inventory *a, const struct np_inventory *b,
			enum np_proto proto, struct bounds *out)
{
	bound(out, 1);
	const struct np_inventory *invs[2] = { a, b };
	for (int k = 0; k < 2; k++) {
		const struct np_inventory *inv = invs[k];
		for (size_t i = 0; i < inv->n_pols; i++) {
			for (size_t r = 0; r < inv->pols[i].n_in; r++)
				rule_bounds(inv, &inv->pols[i].in[r], proto, out);
			for (size_t r = 0; r < inv->pols[i].n_out; r++)
				rule_bounds(inv, &inv->pols[i].out[r], proto, out);
		}
		for (size_t i = 0; i < inv->n_admins; i++) {
			for (size_t r = 0; r < inv->admins[i].n_in; r++)
				rule_bounds(inv, &inv->admins[i].in[r], proto, out);
			for (size_t r = 0; r < inv->admins[i].n_out; r++)
				rule_bounds(inv, &inv->admins[i].out[r], proto, out);
		}
	}
	qsort(out->v, out->n, sizeof(*out->v), u16_cmp);
	size_t n = 0;
	for (size_t i = 0; i < out->n; i++)
		if (!n || out->v[n - 1] != out->v[i])
			out->v[n++] = out->v[i];
	out->n = n;
}

/* The verdict of one probe in one inventory: 0 dropped, 1 passes (an audited drop passes). */
static int verdict_of(const struct np_eval *ev, const struct np_pod *s, const struct np_pod *d,
		      int family, enum np_proto proto, uint16_t port)
{
	struct np_flow f = { .proto = proto, .port = port };
	if (np_endpoint_pod(s, family, &f.src) < 0 || np_endpoint_pod(d, family, &f.dst) < 0)
		return -1;
	return np_eval_allowed(ev, &f);
}

struct change_ctx {
	const struct np_inventory *cur, *next;
	struct np_eval *ev_cur, *ev_next;
	size_t cut, opened;
};

/* A run of ports with the same verdicts (was, now per family). */
struct run {
	int was[2], now[2];
	unsigned lo, hi;
};

static void print_run(struct change_ctx *cx, const struct np_pod *s, const struct np_pod *d,
		      const char *proto, bool ports, const struct run *r)
{
	for (int cut = 1; cut >= 0; cut--) {
		/* cut: allowed -> dropped; opened: dropped -> allowed */
		bool f[2];
		for (int fam = 0; fam < 2; fam++)
			f[fam] = r->was[fam] >= 0 && r->now[fam] >= 0 && r->was[fam] == cut &&
				 r->now[fam] == !cut;
		if (!f[0] && !f[1])
			continue;
		char range[32] = "";
		if (ports)
			snprintf(range, sizeof(range), r->lo == r->hi ? " %u" : " %u-%u", r->lo, r->hi);
		printf("%s/%s -> %s/%s %s%s: %s (%s%s%s)\n", s->ns, s->name, d->ns, d->name, proto,
		       range, cut ? "allowed -> dropped" : "dropped -> allowed", f[0] ? "IPv4" : "",
		       f[0] && f[1] ? ", " : "", f[1] ? "IPv6" : "");
		*(cut ? &cx->cut : &cx->opened) += 1;
	}
}

/* The probes of one pod pair (both pods in both inventories): per protocol, each range of
 * ports between two bounds, neighbouring ranges with the same verdicts merged; then ICMP. */
static void pair_changes(struct change_ctx *cx, const struct np_pod *s0, const struct np_pod *d0,
			 const struct np_pod *s1, const struct np_pod *d1,
			 const struct bounds b[3])
{
	static const enum np_proto protos[4] = { NP_PROTO_TCP, NP_PROTO_UDP, NP_PROTO_SCTP,
						 (enum np_proto)IPPROTO_ICMP };
	for (int pi = 0; pi < 4; pi++) {
		size_t nb = pi < 3 ? b[pi].n : 1;
		struct run run = { .lo = 0 };
		for (size_t k = 0; k <= nb; k++) {
			struct run cur = { .lo = k < nb && pi < 3 ? b[pi].v[k] : 0 };
			for (int fam = 0; k < nb && fam < 2; fam++) {
				enum np_proto pr = pi == 3 && fam ? (enum np_proto)IPPROTO_ICMPV6
								  : protos[pi];
				cur.was[fam] = verdict_of(cx->ev_cur, s0, d0, fam ? 6 : 4, pr, cur.lo);
				cur.now[fam] = verdict_of(cx->ev_next, s1, d1, fam ? 6 : 4, pr, cur.lo);
			}
			bool same = k && k < nb && !memcmp(cur.was, run.was, sizeof(run.was)) &&
				    !memcmp(cur.now, run.now, sizeof(run.now));
			if (same)
				continue;
			if (k) {
				run.hi = k < nb ? cur.lo - 1u : 65535;
				print_run(cx, s1, d1, pi < 3 ? np_proto_name(protos[pi]) : "ICMP", pi < 3,
					  &run);
			}
			run = cur;
		}
	}
}

static int preview_against(const struct preview_opts *o, const struct np_inventory *next,
			   const struct np_inventory *cur)
{
	struct change_ctx cx = { .cur = cur, .next = next, .ev_cur = np_eval_new(cur),
				 .ev_next = np_eval_new(next) };
	if (!cx.ev_cur || !cx.ev_next)
		abort();
	np_eval_set_audit(cx.ev_cur, o->ro.audit);
	np_eval_set_audit(cx.ev_next, o->ro.audit);
	struct bounds b[3] = { { 0 } };
	static const enum np_proto protos[3] = { NP_PROTO_TCP, NP_PROTO_UDP, NP_PROTO_SCTP };
	for (int i = 0; i < 3; i++)
		port_bounds(cur, next, protos[i], &b[i]);
	for (size_t i = 0; i < next->n_pods; i++) {
		const struct np_pod *s1 = &next->pods[i];
		const struct np_pod *s0 = np_inventory_pod(cur, s1->ns, s1->name);
		if (!s0 || s1->host_network)
			continue;
		for (size_t j = 0; j < next->n_pods; j++) {
			const struct np_pod *d1 = &next->pods[j];
			const struct np_pod *d0 = np_inventory_pod(cur, d1->ns, d1->name);
			if (d0 && d1 != s1 && !d1->host_network)
				pair_changes(&cx, s0, d0, s1, d1, b);
		}
	}
	printf("%zu pod pair and port ranges would be cut, %zu opened, by applying %s over %s\n",
	       cx.cut, cx.opened, o->dir, o->against);
	for (int i = 0; i < 3; i++)
		free(b[i].v);
	np_eval_free(cx.ev_cur);
	np_eval_free(cx.ev_next);
	return cx.cut ? 1 : 0;
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: netpol preview DIR [--against CURRENT] [--state-dir S] [--node NAME] "
		   "[--audit]\n");
}

static int parse_preview_opts(int argc, char **argv, struct preview_opts *o)
{
	static const struct option opts[] = {
		{ "against", required_argument, NULL, 'a' },
		{ "state-dir", required_argument, NULL, 'D' },
		{ "node", required_argument, NULL, 'n' },
		{ "audit", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': o->against = optarg; break;
		case 'D': o->state_dir = optarg; break;
		case 'n': o->ro.node = optarg; break;
		case 'A': o->ro.audit = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	o->dir = argv[optind];
	return -1;
}

int cmd_preview(int argc, char **argv)
{
	struct preview_opts o = { 0 };
	int rc = parse_preview_opts(argc, argv, &o);
	if (rc >= 0)
		return rc;
	struct np_inventory *next = NULL, *cur = NULL;
	struct apply_opts a = { .dir = o.dir, .state_dir = o.state_dir };
	if (cmd_load_inventory(&a, &next))
		return 2;
	if (o.against) {
		a.dir = o.against;
		if (cmd_load_inventory(&a, &cur)) {
			np_inventory_free(next);
			return 2;
		}
		rc = preview_against(&o, next, cur);
	} else {
		rc = preview_live(&o, next);
	}
	np_inventory_free(cur);
	np_inventory_free(next);
	return rc;
}
