/* flowcol.c — see flowcol.h. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "flowcol.h"
#include "podaddr.h"
#include "xalloc.h"

/* A local pod by the id its log prefixes carry. */
struct pod_id {
	char id[RS_LOG_ID_LEN + 1];
	const struct np_pod *pod;
};

/* The tuple a drop record folds on, with its drop point. */
struct fold_key {
	char prefix[RS_LOG_PREFIX_MAX];
	uint8_t family, proto, icmp_type, icmp_code;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
};

struct flowcol {
	char *node;
	flowcol_sink sink;
	void *arg;
	const struct np_inventory *inv;
	struct rs_options ro;
	struct np_eval *ev;
	struct podaddr *pods;
	struct pod_id *ids;      /* sorted by id */
	size_t n_ids;
	struct nflog *nl;
	struct flow_rec pending; /* the drop record the next packet may fold into */
	struct fold_key pending_key;
	bool has_pending;
	bool built;               /* inv's evaluator and indexes are made (model_build) */
	struct flowcol_stats st;
};

static int pod_id_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pod_id *)a)->id, ((const struct pod_id *)b)->id);
}

static void model_free(struct flowcol *c)
{
	np_eval_free(c->ev);
	podaddr_free(c->pods);
	free(c->ids);
	c->ev = NULL;
	c->pods = NULL;
	c->ids = NULL;
	c->n_ids = 0;
	c->inv = NULL;
	c->built = false;
}

void flowcol_set_model(struct flowcol *c, const struct np_inventory *inv,
		       const struct rs_options *ro)
{
	model_free(c);
	if (!inv)
		return;
	c->inv = inv;
	c->ro = ro ? *ro : (struct rs_options){ 0 };
}

/* The evaluator and the indexes of the model, made when a record first needs them rather than
 * at every sync (a pod event's sync would pay for an index of every pod of the cluster). They
 * are a cache of c->inv: made from a const collector too. */
static void model_build(const struct flowcol *cc)
{
	struct flowcol *c = (struct flowcol *)cc;
	const struct np_inventory *inv = c->inv;
	if (c->built || !inv)
		return;
	c->built = true;
	if (!(c->ev = np_eval_new(inv)))
		abort();
	np_eval_set_audit(c->ev, c->ro.audit);
	c->pods = podaddr_new(inv);
	c->ids = xcalloc(inv->n_pods ? inv->n_pods : 1, sizeof(*c->ids));
	for (size_t i = 0; i < inv->n_pods; i++) {
		if (!ruleset_pod_local(&c->ro, &inv->pods[i]))
			continue;
		rs_log_pod_id(inv->pods[i].ns, inv->pods[i].name, c->ids[c->n_ids].id);
		c->ids[c->n_ids++].pod = &inv->pods[i];
	}
	qsort(c->ids, c->n_ids, sizeof(*c->ids), pod_id_cmp);
}

int flowcol_new(const char *node, flowcol_sink sink, void *arg, struct flowcol **out)
{
	struct flowcol *c = xcalloc(1, sizeof(*c));
	c->node = node ? xstrdup(node) : NULL;
	c->sink = sink;
	c->arg = arg;
	flow_rec_init(&c->pending);
	*out = c;
	return 0;
}

void flowcol_free(struct flowcol *c)
{
	if (!c)
		return;
	model_free(c);
	nflog_free(c->nl);
	flow_rec_clear(&c->pending);
	free(c->node);
	free(c);
}

void flowcol_stats_get(const struct flowcol *c, struct flowcol_stats *st)
{
	*st = c->st;
	if (c->nl)
		nflog_stats_get(c->nl, &st->nflog);
}

static void emit(struct flowcol *c, struct flow_rec *r)
{
	if (r->event != FLOW_EV_LOST)
		c->st.flows[r->verdict][r->dir] += r->folded;
	c->sink(c->arg, r);
	flow_rec_clear(r); /* whatever the sink left */
}

static void emit_lost(struct flowcol *c, const char *source, uint64_t n)
{
	struct flow_rec r;
	flow_rec_init(&r);
	r.event = FLOW_EV_LOST;
	r.time_ns = flow_now_ns();
	r.node = flow_rec_strdup(&r, c->node);
	r.lost_source = flow_rec_strdup(&r, source);
	r.lost = n;
	emit(c, &r);
}

/* ---- naming: ends and policies ---- */

static void fill_end(struct flow_rec *r, struct flow_end *e, const struct np_endpoint *ep)
{
	e->addr = ep->addr;
	if (!ep->pod)
		return;
	const struct np_pod *p = ep->pod;
	e->ns = flow_rec_strdup(r, p->ns);
	e->pod = flow_rec_strdup(r, p->name);
	e->labels = flow_rec_alloc(r, (p->labels.n + 1) * sizeof(char *));
	char buf[1024];
	for (size_t i = 0; i < p->labels.n; i++) {
		snprintf(buf, sizeof(buf), "k8s:%s=%s", p->labels.v[i].key, p->labels.v[i].value);
		e->labels[e->n_labels++] = flow_rec_strdup(r, buf);
	}
	/* what Hubble adds to every pod's labels */
	snprintf(buf, sizeof(buf), "k8s:io.kubernetes.pod.namespace=%s", p->ns);
	e->labels[e->n_labels++] = flow_rec_strdup(r, buf);
}

static void add_admin(struct flow_rec *r, struct flow_pols *l, const struct np_admin_policy *ap)
{
	flow_pols_add(r, l, ap->kind, "", ap->name);
}

/* "ingress[0].from[1].ports[0]": the rule, and the peer and port that matched when the rule
 * has any. */
static const char *rule_path(struct flow_rec *r, bool ingress, size_t rule, size_t peer,
			     size_t port)
{
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "%s[%zu]", ingress ? "ingress" : "egress", rule);
	if (peer != NP_EVAL_ALL)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, ".%s[%zu]", ingress ? "from" : "to",
			      peer);
	if (port != NP_EVAL_ALL)
		snprintf(buf + n, sizeof(buf) - (size_t)n, ".ports[%zu]", port);
	return flow_rec_strdup(r, buf);
}

/* One side's verdict into the record: the isolating policies, the rule that allowed it, or
 * what denied it (or would have: an audited drop is listed as denied, the record says AUDIT). */
static void fill_side(struct flow_rec *r, int s, const struct np_side_verdict *sv)
{
	struct flow_side *fs = &r->side[s];
	bool ingress = s == FLOW_SIDE_INGRESS;
	bool denied = !sv->allowed || sv->audit;
	for (size_t i = 0; i < sv->n_isolating; i++)
		flow_pols_add(r, &fs->isolated, "NetworkPolicy", sv->isolating[i]->ns,
			      sv->isolating[i]->name);
	switch (sv->why) {
	case NP_WHY_RULE:
		flow_pols_add(r, &fs->allowed, "NetworkPolicy", sv->policy->ns, sv->policy->name);
		fs->rule = rule_path(r, ingress, sv->rule, sv->peer, sv->port);
		break;
	case NP_WHY_NO_RULE:
		for (size_t i = 0; denied && i < sv->n_isolating; i++)
			flow_pols_add(r, &fs->denied, "NetworkPolicy", sv->isolating[i]->ns,
				      sv->isolating[i]->name);
		break;
	case NP_WHY_ADMIN:
	case NP_WHY_BASELINE:
		add_admin(r, denied ? &fs->denied : &fs->allowed, sv->admin);
		fs->rule = rule_path(r, ingress, sv->admin_rule, NP_EVAL_ALL, NP_EVAL_ALL);
		break;
	default:
		break;
	}
}

/* Names both ends and judges the flow against the model: what each side said. Returns
 * whether it passes (an audited drop passes), *audit whether only because of audit. */
static bool judge(struct flowcol *c, struct flow_rec *r, const struct np_flow *f, bool *audit)
{
	fill_end(r, &r->src, &f->src);
	fill_end(r, &r->dst, &f->dst);
	*audit = false;
	struct np_verdict v;
	model_build(c);
	if (!c->ev || np_eval_explain(c->ev, f, &v) < 0)
		return true;
	fill_side(r, FLOW_SIDE_EGRESS, &v.egress);
	fill_side(r, FLOW_SIDE_INGRESS, &v.ingress);
	*audit = v.egress.audit || v.ingress.audit;
	bool pass = v.allowed;
	np_verdict_clear(&v);
	return pass;
}

static bool is_local(const struct flowcol *c, const struct np_pod *p)
{
	return p && ruleset_pod_local(&c->ro, p);
}

/* ---- conntrack: connections start and end ---- */

static void ct_record(struct flowcol *c, const struct ct_event *e)
{
	const struct ct_conn *k = e->conn;
	struct np_flow f;
	model_build(c);
	if (!c->pods)
		return;
	podaddr_conn_flow(c->pods, k, &f);
	if (!f.src.pod && !f.dst.pod) {
		c->st.skipped++; /* the node's own traffic, or traffic that passes through */
		return;
	}
	struct flow_rec r;
	flow_rec_init(&r);
	r.event = e->type == CT_EVENT_NEW ? FLOW_EV_NEW : FLOW_EV_CLOSE;
	r.time_ns = flow_now_ns();
	r.node = flow_rec_strdup(&r, c->node);
	r.family = k->family;
	r.proto = k->proto;
	r.is_reply = 0;
	r.ct_id = k->id;
	r.dir = is_local(c, f.src.pod) ? FLOW_EGRESS : is_local(c, f.dst.pod) ? FLOW_INGRESS
									     : FLOW_DIR_UNKNOWN;
	if (f.port) {
		r.src.port = k->orig.sport;
		r.dst.port = f.port;
	} else if (k->proto == IPPROTO_ICMP || k->proto == IPPROTO_ICMPV6) {
		r.icmp_type = k->orig.icmp_type;
		r.icmp_code = k->orig.icmp_code;
	}
	bool audit;
	judge(c, &r, &f, &audit);
	r.cut = k->mark & RS_CT_MARK_REVOKED;
	r.verdict = r.cut ? FLOW_DROPPED : audit ? FLOW_AUDIT : FLOW_FORWARDED;
	if (r.verdict != FLOW_FORWARDED && (r.side[0].denied.n || r.side[1].denied.n))
		/* the direction is the side that denies it (or would) */
		r.dir = r.side[FLOW_SIDE_INGRESS].denied.n ? FLOW_INGRESS : FLOW_EGRESS;
	if (e->type == CT_EVENT_DESTROY) {
		r.has_stats = e->counters;
		memcpy(r.packets, e->packets, sizeof(r.packets));
		memcpy(r.bytes, e->bytes, sizeof(r.bytes));
		if (k->start_ns && e->stop_ns >= k->start_ns)
			r.duration_ns = (int64_t)(e->stop_ns - k->start_ns);
		else if (k->seen_ms > 0)
			r.duration_ns = (int64_t)((clock_now_ms() - k->seen_ms) * 1e6);
	}
	emit(c, &r);
}

void flowcol_ct_event(void *arg, const struct ct_event *e)
{
	struct flowcol *c = arg;
	if (e->type == CT_EVENT_LOST) {
		/* how many each overflow cost is unknown: at least one */
		c->st.lost_conntrack += e->lost;
		emit_lost(c, "conntrack", e->lost);
		return;
	}
	ct_record(c, e);
}

/* ---- NFLOG: drops ---- */

/* The addresses and transport header of a logged packet into the key (and r's l4 fields). */
static int parse_packet(const struct nflog_pkt *p, struct fold_key *k, uint8_t *tcp_flags)
{
	const uint8_t *d = p->payload;
	size_t len = p->len, off;
	uint8_t proto;
	bool first_frag = true;
	if (p->family == 4) {
		if (len < 20 || (d[0] >> 4) != 4)
			return -EINVAL;
		off = (size_t)(d[0] & 0xf) * 4;
		proto = d[9];
		first_frag = ((d[6] & 0x1f) | d[7]) == 0;
		memcpy(k->src, d + 12, 4);
		memcpy(k->dst, d + 16, 4);
	} else {
		if (len < 40 || (d[0] >> 4) != 6)
			return -EINVAL;
		off = 40;
		proto = d[6];
		memcpy(k->src, d + 8, 16);
		memcpy(k->dst, d + 24, 16);
		/* hop-by-hop, routing, destination options: skip to the transport header */
		while ((proto == 0 || proto == 43 || proto == 60) && off + 8 <= len) {
			proto = d[off];
			off += ((size_t)d[off + 1] + 1) * 8;
		}
	}
	k->family = p->family;
	k->proto = proto;
	if (!first_frag || off + 4 > len)
		return 0;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP) {
		k->sport = (uint16_t)(d[off] << 8 | d[off + 1]);
		k->dport = (uint16_t)(d[off + 2] << 8 | d[off + 3]);
		if (proto == IPPROTO_TCP && off + 14 <= len)
			*tcp_flags = d[off + 13];
	} else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		k->icmp_type = d[off];
		k->icmp_code = d[off + 1];
	}
	return 0;
}

static const struct np_pod *pod_by_id(const struct flowcol *c, const char *id)
{
	struct pod_id key;
	model_build(c);
	snprintf(key.id, sizeof(key.id), "%s", id);
	const struct pod_id *hit = bsearch(&key, c->ids, c->n_ids, sizeof(*c->ids), pod_id_cmp);
	return hit ? hit->pod : NULL;
}

static void endpoint_of(const struct flowcol *c, uint8_t family, const uint8_t *a,
			struct np_endpoint *e)
{
	struct np_addr addr = { .family = family };
	memcpy(addr.b, a, family == 4 ? 4 : 16);
	model_build(c);
	if (c->pods) {
		podaddr_endpoint(c->pods, &addr, e);
	} else {
		e->pod = NULL;
		e->addr = addr;
	}
}

static void flush_pending(struct flowcol *c)
{
	if (c->has_pending)
		emit(c, &c->pending);
	c->has_pending = false;
}

/* A drop record of the packet at point lp. */
static void drop_record(struct flowcol *c, const struct nflog_pkt *p, const struct fold_key *k,
			const struct rs_log_point *lp, uint8_t tcp_flags, struct flow_rec *r)
{
	struct np_flow f = { .proto = (enum np_proto)k->proto, .port = k->dport };
	endpoint_of(c, k->family, k->src, &f.src);
	endpoint_of(c, k->family, k->dst, &f.dst);
	/* the prefix names the pod of its end (the address may have moved on since) */
	const struct np_pod *pod = lp->admin ? NULL : pod_by_id(c, lp->id);
	if (pod)
		(lp->ingress ? &f.dst : &f.src)->pod = pod;
	r->event = FLOW_EV_LOG;
	r->time_ns = p->time_ns ? p->time_ns : flow_now_ns();
	r->node = flow_rec_strdup(r, c->node);
	r->verdict = lp->audit ? FLOW_AUDIT : FLOW_DROPPED;
	r->dir = lp->ingress ? FLOW_INGRESS : FLOW_EGRESS;
	r->family = k->family;
	r->proto = k->proto;
	r->is_reply = 0;
	r->src.port = k->sport;
	r->dst.port = k->dport;
	r->icmp_type = k->icmp_type;
	r->icmp_code = k->icmp_code;
	r->tcp_flags = tcp_flags;
	bool audit;
	judge(c, r, &f, &audit);
	/* the kernel dropped it there: the isolating policies denied it, whatever the model
	 * says now (a change may have allowed it since) */
	struct flow_side *s = &r->side[lp->ingress ? FLOW_SIDE_INGRESS : FLOW_SIDE_EGRESS];
	for (size_t i = 0; !s->denied.n && !s->allowed.n && i < s->isolated.n; i++)
		flow_pols_add(r, &s->denied, s->isolated.v[i].kind, s->isolated.v[i].ns,
			      s->isolated.v[i].name);
}

static void on_packet(void *arg, const struct nflog_pkt *p)
{
	struct flowcol *c = arg;
	struct rs_log_point lp;
	struct fold_key k = { 0 };
	uint8_t tcp_flags = 0;
	if (rs_log_prefix_parse(p->prefix, &lp) < 0 || parse_packet(p, &k, &tcp_flags) < 0) {
		c->st.skipped++; /* another user of the group, or a packet we cannot read */
		return;
	}
	snprintf(k.prefix, sizeof(k.prefix), "%s", p->prefix);
	if (c->has_pending && !memcmp(&k, &c->pending_key, sizeof(k))) {
		c->pending.folded++;
		return;
	}
	flush_pending(c);
	drop_record(c, p, &k, &lp, tcp_flags, &c->pending);
	c->pending_key = k;
	c->has_pending = true;
}

static void on_nflog_lost(void *arg, uint64_t n)
{
	struct flowcol *c = arg;
	flush_pending(c);
	c->st.lost_nflog += n;
	emit_lost(c, "nflog", n);
}

int flowcol_nflog_open(struct flowcol *c, uint16_t group, size_t rcvbuf, size_t rcvbuf_max)
{
	nflog_free(c->nl);
	c->nl = NULL;
	return nflog_open(group, rcvbuf, rcvbuf_max, &c->nl);
}

int flowcol_nflog_fd(const struct flowcol *c)
{
	return c->nl ? nflog_fd(c->nl) : -1;
}

int flowcol_nflog_read(struct flowcol *c)
{
	if (!c->nl)
		return -EBADF;
	int r = nflog_read(c->nl, on_packet, on_nflog_lost, c);
	flush_pending(c);
	return r < 0 ? r : 0;
}

int flowcol_point(const struct flowcol *c, const char *prefix, const struct np_pod **pod,
		  bool *ingress, const struct np_policy *const **pols, size_t *n)
{
	struct rs_log_point lp;
	model_build(c);
	if (!c->ev || rs_log_prefix_parse(prefix, &lp) < 0)
		return -ENOENT;
	*pod = NULL;
	*ingress = lp.ingress;
	*pols = NULL;
	*n = 0;
	if (lp.admin)
		return 0;
	if (!(*pod = pod_by_id(c, lp.id)))
		return -ENOENT;
	*pols = np_eval_isolating(c->ev, *pod, lp.ingress, n);
	return 0;
}

/* ---- the netns ---- */

static int write_sysctl(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	int r = fputs(value, f) < 0 ? -EIO : 0;
	if (fclose(f) != 0 && !r)
		r = -errno;
	return r;
}

int flowcol_enable_acct(void)
{
	int r = write_sysctl("/proc/sys/net/netfilter/nf_conntrack_acct", "1\n");
	int t = write_sysctl("/proc/sys/net/netfilter/nf_conntrack_timestamp", "1\n");
	return r < 0 ? r : t;
}
