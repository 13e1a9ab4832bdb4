/* pd_api.c — policyd's page and its JSON (see pd_api.h): the embedded files under /ui/, and
 * under /api/v1/ the flows of the ring (the records as flowrec.h renders them, filtered as
 * `netpol flows` filters), the evaluator's reach with what the ring observed laid over it, the
 * policies with their kernel counters, and explain with the nft rule and its live counter.
 * Everything is read from the daemon's state between two events of its loop; nothing here
 * writes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowring.h"
#include "pd_api.h"
#include "pd_flows.h"
#include "pd_int.h"
#include "reach.h"
#include "ruleset.h"
#include "uifiles.h"
#include "xalloc.h"

#define FLOWS_LIMIT_DEFAULT 500
/* The pods one reach answer may hold: its n x n verdicts are computed on the daemon's loop
 * (256 pods: 65,536 verdicts, tens of milliseconds), and a page cannot show more anyway. */
#define REACH_MAX_PODS 256

static int reply(json_t *j, int status, char **body, const char **ctype)
{
	*body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	*ctype = "application/json";
	if (!*body) { /* a string jansson refused: never abort on what a client sent */
		*body = xstrdup("{\"error\":\"internal: the answer could not be rendered\"}");
		return 500;
	}
	return status;
}

static int fail(int status, const char *msg, char **body, const char **ctype)
{
	return reply(json_pack("{s:s}", "error", msg), status, body, ctype);
}

/* Every query argument is UTF-8 (what JSON can carry back, e.g. in an error naming it):
 * jansson's own check. */
static bool args_utf8(const struct httpd_req *rq)
{
	for (size_t i = 0; i < rq->n_args; i++) {
		json_t *k = json_string(rq->args[i].key), *v = json_string(rq->args[i].value);
		bool ok = k && v;
		json_decref(k);
		json_decref(v);
		if (!ok)
			return false;
	}
	return true;
}

/* ---- /api/v1/flows ---- */

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static bool no_policy(const struct flow_rec *r)
{
	for (int s = 0; s < 2; s++)
		if (r->side[s].denied.n || r->side[s].allowed.n || r->side[s].isolated.n)
			return false;
	return true;
}

/* The query's filters, as `netpol flows` takes them (flow_filter_add's keys); "since" that is
 * a number is the cursor, not a time; no-policy, since, limit are this endpoint's. */
static int flows_filter(const struct httpd_req *rq, struct flow_filter *f, char *err,
			size_t errlen)
{
	for (size_t i = 0; i < rq->n_args; i++) {
		const struct httpd_arg *a = &rq->args[i];
		if (!strcmp(a->key, "limit") || !strcmp(a->key, "no-policy") ||
		    (!strcmp(a->key, "since") && all_digits(a->value)) || !*a->value)
			continue;
		if (flow_filter_add(f, a->key, a->value, err, errlen) < 0)
			return -EINVAL;
	}
	return 0;
}

static int api_flows(struct pd *d, const struct httpd_req *rq, char **body, const char **ctype)
{
	uint64_t model_seq;
	const struct flow_ring *ring = pd_flows_ring(d, &model_seq);
	if (!ring)
		return reply(json_pack("{s:b,s:[]}", "collecting", 0, "flows"), 200, body, ctype);
	char err[256];
	struct flow_filter *f = flow_filter_new();
	if (flows_filter(rq, f, err, sizeof(err)) < 0) {
		flow_filter_free(f);
		return fail(400, err, body, ctype);
	}
	const char *v = httpd_req_arg(rq, "limit"), *since = httpd_req_arg(rq, "since");
	size_t limit = v && all_digits(v) ? strtoul(v, NULL, 10) : FLOWS_LIMIT_DEFAULT;
	if (!limit || limit > flow_ring_cap(ring))
		limit = flow_ring_cap(ring);
	bool nopol = httpd_req_arg(rq, "no-policy") != NULL;
	uint64_t first = flow_ring_first(ring), next = flow_ring_next(ring), lost = 0, seq;
	bool cursor = since && all_digits(since);
	if (cursor) {
		/* from the cursor on, the oldest limit of them: next_seq is where the reader goes
		 * on, so a burst larger than limit is read over several polls, never skipped */
		seq = strtoull(since, NULL, 10);
		if (seq < first) {
			lost = first - (seq ? seq : 1); /* sequence numbers start at 1 */
			seq = first;
		}
	} else {
		seq = nopol ? first : flow_ring_last(ring, f, limit);
	}
	json_t *arr = json_array();
	for (; seq < next; seq++) {
		const struct flow_rec *r = flow_ring_get(ring, seq);
		if (!r || !flow_filter_match(f, r) ||
		    (nopol && (r->event == FLOW_EV_LOST || !no_policy(r))))
			continue;
		json_array_append_new(arr, flow_rec_json(r));
		if (cursor && json_array_size(arr) == limit) {
			next = seq + 1;
			break;
		}
		if (json_array_size(arr) > limit)
			json_array_remove(arr, 0); /* no cursor: the newest limit of them */
	}
	flow_filter_free(f);
	return reply(json_pack("{s:b,s:I,s:I,s:I,s:I,s:o}", "collecting", 1, "first_seq",
			       (json_int_t)first, "next_seq", (json_int_t)next, "model_seq",
			       (json_int_t)model_seq, "lost", (json_int_t)lost, "flows", arr),
		     200, body, ctype);
}

/* ---- /api/v1/reach ---- */

static uint8_t ipproto(enum np_proto p)
{
	return p == NP_PROTO_UDP ? 17 : p == NP_PROTO_SCTP ? 132 : 6;
}

static const struct reach_pod *find_pod(const struct reach_pod *pods, size_t n,
					const struct flow_end *e, size_t *at)
{
	for (size_t i = 0; e->pod && i < n; i++)
		if (!strcmp(pods[i].pod->ns, e->ns) && !strcmp(pods[i].pod->name, e->pod)) {
			*at = i;
			return &pods[i];
		}
	return NULL;
}

/* What the ring saw of each cell since the last commit: new connections (FORWARDED), drops
 * (DROPPED), audited drops (AUDIT), of the probe's protocol and port. A connection's close and a
 * record judged by an earlier ruleset say nothing of this one. obs[(i * n + j) * 3 + verdict]. */
static uint64_t *observe(struct pd *d, const struct reach_pod *pods, size_t n, uint8_t proto,
			 uint16_t port, int family)
{
	uint64_t *obs = xcalloc(n ? n * n * 3 : 1, sizeof(*obs)), model_seq;
	const struct flow_ring *ring = pd_flows_ring(d, &model_seq);
	if (!ring)
		return obs;
	uint64_t seq = model_seq > flow_ring_first(ring) ? model_seq : flow_ring_first(ring);
	for (; seq < flow_ring_next(ring); seq++) {
		const struct flow_rec *r = flow_ring_get(ring, seq);
		size_t i, j;
		if (!r || (r->event != FLOW_EV_NEW && r->event != FLOW_EV_LOG) || r->proto != proto ||
		    r->dst.port != port || r->family != family || r->is_reply == 1 ||
		    !find_pod(pods, n, &r->src, &i) || !find_pod(pods, n, &r->dst, &j))
			continue;
		obs[(i * n + j) * 3 + r->verdict] += r->folded ? r->folded : 1;
	}
	return obs;
}

static const char *cell_word(unsigned char m)
{
	return m == REACH_AUDIT ? "audit" : m ? "allowed" : "dropped";
}

/* The evaluator's cell against what was observed: a drop where it allows, a connection where it
 * drops (an audited drop is a pass with an AUDIT record). */
static bool mismatch(unsigned char m, const uint64_t *o)
{
	if (m == 0)
		return o[FLOW_FORWARDED] || o[FLOW_AUDIT];
	if (m == 1)
		return o[FLOW_DROPPED] || o[FLOW_AUDIT];
	return o[FLOW_DROPPED] || o[FLOW_FORWARDED];
}

static json_t *observed_json(const struct reach_pod *pods, size_t n, const unsigned char *m,
			     const uint64_t *obs, json_t **mismatches)
{
	json_t *rows = json_array();
	*mismatches = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *row = json_array();
		for (size_t j = 0; j < n; j++) {
			const uint64_t *o = &obs[(i * n + j) * 3];
			json_array_append_new(row, json_pack("{s:I,s:I,s:I}", "forwarded",
							     (json_int_t)o[FLOW_FORWARDED], "dropped",
							     (json_int_t)o[FLOW_DROPPED], "audit",
							     (json_int_t)o[FLOW_AUDIT]));
			if (mismatch(m[i * n + j], o))
				json_array_append_new(
					*mismatches,
					json_pack("{s:s,s:s,s:s,s:I,s:I,s:I}", "from", pods[i].label,
						  "to", pods[j].label, "evaluator",
						  cell_word(m[i * n + j]), "forwarded",
						  (json_int_t)o[FLOW_FORWARDED], "dropped",
						  (json_int_t)o[FLOW_DROPPED], "audit",
						  (json_int_t)o[FLOW_AUDIT]));
		}
		json_array_append_new(rows, row);
	}
	return rows;
}

static json_t *namespaces_json(const struct np_inventory *inv)
{
	json_t *a = json_array();
	for (size_t i = 0; inv && i < inv->n_nss; i++)
		json_array_append_new(a, json_string(inv->nss[i].name));
	return a;
}

static int api_reach(struct pd *d, const struct httpd_req *rq, char **body, const char **ctype)
{
	const struct np_inventory *inv = ap_ctx_model(d->ap);
	enum np_proto proto;
	uint16_t port = 80;
	const char *fam = httpd_req_arg(rq, "family"), *ns = httpd_req_arg(rq, "namespace");
	int family = fam && !strcmp(fam, "6") ? 6 : 4;
	if (reach_parse_proto(httpd_req_arg(rq, "protocol"), &proto) < 0)
		return fail(400, "protocol: TCP, UDP or SCTP", body, ctype);
	if (httpd_req_arg(rq, "port") && reach_parse_port(httpd_req_arg(rq, "port"), &port) < 0)
		return fail(400, "port: 1 to 65535", body, ctype);
	if (fam && strcmp(fam, "4") && strcmp(fam, "6"))
		return fail(400, "family: 4 or 6", body, ctype);
	if (!inv)
		return fail(503, "no model yet (the first sync is not done)", body, ctype);
	if (ns && !*ns)
		ns = NULL;
	size_t n;
	struct reach_pod *pods = reach_pods(inv, family, ns, &n);
	if (n > REACH_MAX_PODS) {
		free(pods);
		char msg[200];
		snprintf(msg, sizeof(msg), "%zu pods: at most %d at once; pick a namespace", n,
			 REACH_MAX_PODS);
		return reply(json_pack("{s:s,s:o}", "error", msg, "namespaces", namespaces_json(inv)),
			     400, body, ctype);
	}
	struct np_eval *ev = np_eval_new(inv);
	if (!ev)
		abort();
	np_eval_set_audit(ev, d->o.audit);
	unsigned char *m = reach_matrix(ev, pods, n, proto, port);
	np_eval_free(ev);
	uint64_t *obs = observe(d, pods, n, ipproto(proto), port, family);
	json_t *j = reach_json(pods, n, m, proto, port, family), *mism;
	json_object_set_new(j, "observed", observed_json(pods, n, m, obs, &mism));
	json_object_set_new(j, "mismatches", mism);
	json_object_set_new(j, "namespace", json_string(ns ? ns : ""));
	json_object_set_new(j, "namespaces", namespaces_json(inv));
	json_object_set_new(j, "generation", json_integer((json_int_t)d->generation));
	free(obs);
	free(m);
	free(pods);
	return reply(j, 200, body, ctype);
}

/* ---- the kernel's counters ---- */

/* Our table's counters now; false when they cannot be read (*c then empty). */
static bool read_counters(struct pd *d, struct nft_counters *c)
{
	memset(c, 0, sizeof(*c));
	if ((!d->scrape && nft_sock_open(&d->scrape) < 0) ||
	    nft_read_counters(d->scrape, TABLE_INET, 1 /* NFPROTO_INET */, c) < 0) {
		memset(c, 0, sizeof(*c));
		return false;
	}
	return true;
}

/* A policy's allow counter: its comment is "NS/NAME ingress allowed" (rules/build.c). */
static const struct nft_counter_val *allow_counter(const struct nft_counters *c, const char *ns,
						   const char *name, bool ingress)
{
	char want[600];
	snprintf(want, sizeof(want), "%s/%s %s allowed", ns, name, ingress ? "ingress" : "egress");
	for (size_t i = 0; i < c->n_named; i++)
		if (!strcmp(c->named[i].comment, want))
			return &c->named[i];
	return NULL;
}

/* The chain of our table whose comment is comment, or NULL. */
static const char *chain_by_comment(struct pd *d, const char *comment)
{
	const struct nl_state *st = ap_ctx_state(d->ap);
	for (size_t i = 0; st && i < st->n_tables; i++)
		for (size_t j = 0; j < st->tables[i].n_chains; j++) {
			const struct nl_chain *ch = &st->tables[i].chains[j];
			if (ch->comment && !strcmp(ch->comment, comment))
				return ch->name;
		}
	return NULL;
}

static bool chain_exists(struct pd *d, const char *name)
{
	const struct nl_state *st = ap_ctx_state(d->ap);
	for (size_t i = 0; st && i < st->n_tables; i++)
		for (size_t j = 0; j < st->tables[i].n_chains; j++)
			if (!strcmp(st->tables[i].chains[j].name, name))
				return true;
	return false;
}

/* ---- /api/v1/policies ---- */

/* The newest record naming policy ns/name in any of its lists, or NULL. */
static const struct flow_rec *last_hit(const struct flow_ring *ring, const char *ns,
				       const char *name)
{
	if (!ring)
		return NULL;
	for (uint64_t seq = flow_ring_next(ring); seq-- > flow_ring_first(ring);) {
		const struct flow_rec *r = flow_ring_get(ring, seq);
		for (int s = 0; r && s < 2; s++) {
			const struct flow_pols *ls[] = { &r->side[s].allowed, &r->side[s].denied };
			for (int k = 0; k < 2; k++)
				for (size_t i = 0; i < ls[k]->n; i++)
					if (ls[k]->v[i].ns && !strcmp(ls[k]->v[i].ns, ns) &&
					    !strcmp(ls[k]->v[i].name, name))
						return r;
		}
	}
	return NULL;
}

static json_t *policy_json(struct pd *d, const struct np_policy *pol,
			   const struct nft_counters *c, const struct flow_ring *ring)
{
	const struct np_inventory *inv = ap_ctx_model(d->ap);
	json_t *pods = json_array(), *dirs = json_array(), *hits = json_object();
	for (size_t i = 0; i < inv->n_pods; i++)
		if (np_policy_selects_pod(pol, &inv->pods[i]))
			json_array_append_new(pods, json_sprintf("%s/%s", inv->pods[i].ns,
								 inv->pods[i].name));
	uint64_t total = 0;
	for (int in = 1; in >= 0; in--) {
		if (!(in ? pol->ingress : pol->egress))
			continue;
		json_array_append_new(dirs, json_string(in ? "ingress" : "egress"));
		const struct nft_counter_val *v = allow_counter(c, pol->ns, pol->name, in);
		json_object_set_new(hits, in ? "ingress" : "egress",
				    v ? json_integer((json_int_t)v->packets) : json_null());
		total += v ? v->packets : 0;
	}
	const struct flow_rec *r = last_hit(ring, pol->ns, pol->name);
	char t[40];
	json_t *j = json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:I,s:b,s:b}", "kind", "NetworkPolicy",
			      "namespace", pol->ns, "name", pol->name, "directions", dirs,
			      "pods", pods, "hits", hits, "hits_total", (json_int_t)total,
			      "never_hit", total == 0 && !r, "audit", pol->audit);
	json_object_set_new(j, "last_hit", r ? json_string(flow_time_str(r->time_ns, t))
					     : json_null());
	return j;
}

static int api_policies(struct pd *d, const struct httpd_req *rq, char **body,
			const char **ctype)
{
	const struct np_inventory *inv = ap_ctx_model(d->ap);
	if (!inv)
		return fail(503, "no model yet (the first sync is not done)", body, ctype);
	struct nft_counters c;
	bool counters = read_counters(d, &c);
	uint64_t model_seq;
	const struct flow_ring *ring = pd_flows_ring(d, &model_seq);
	json_t *pols = json_array(), *open = json_array();
	for (size_t i = 0; i < inv->n_pols; i++)
		json_array_append_new(pols, policy_json(d, &inv->pols[i], &c, ring));
	/* pods no policy isolates in either direction: default allow */
	for (size_t i = 0; i < inv->n_pods; i++) {
		const struct np_pod *p = &inv->pods[i];
		bool iso = false;
		for (size_t k = 0; k < inv->n_pols && !iso; k++)
			iso = np_policy_selects_pod(&inv->pols[k], p);
		if (!iso && !p->host_network)
			json_array_append_new(open, json_sprintf("%s/%s", p->ns, p->name));
	}
	nft_counters_free(&c);
	return reply(json_pack("{s:b,s:I,s:o,s:o}", "counters", counters, "generation",
			       (json_int_t)d->generation, "policies", pols, "no_policy", open),
		     200, body, ctype);
}

/* ---- /api/v1/explain ---- */

/* NS/POD of inv or an address: 0, -EINVAL, -ENOENT. */
static int parse_end(const struct np_inventory *inv, const char *s, int family,
		     struct np_endpoint *out)
{
	struct np_addr a;
	if (np_addr_parse(s, &a) == 0) {
		if (a.family != family)
			return -EINVAL;
		return np_endpoint_addr(inv, &a, out);
	}
	const char *slash = strchr(s, '/');
	char ns[256];
	if (!slash || slash == s || (size_t)(slash - s) >= sizeof(ns))
		return -EINVAL;
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - s), s);
	const struct np_pod *pod = np_inventory_pod(inv, ns, slash + 1);
	if (!pod)
		return -ENOENT;
	return np_endpoint_pod(pod, family, out) < 0 ? -EINVAL : 0;
}

/* The nft side of one side's verdict: the policy chain and its allow counter, or the pod
 * chain's drop point (what it logged, what it dropped), live. */
static json_t *side_nft(struct pd *d, const struct nft_counters *c, const struct np_endpoint *ep,
			const struct np_side_verdict *sv, bool ingress)
{
	const char *dir = ingress ? "ingress" : "egress";
	char buf[600];
	if (sv->why == NP_WHY_RULE) {
		snprintf(buf, sizeof(buf), "%s/%s %s", sv->policy->ns, sv->policy->name, dir);
		const struct nft_counter_val *v =
			allow_counter(c, sv->policy->ns, sv->policy->name, ingress);
		const char *chain = chain_by_comment(d, buf);
		json_t *j = json_pack("{s:s,s:s?,s:s,s:i}", "kind", "allow", "chain", chain, "rule",
				      dir, "index", (int)sv->rule);
		if (v)
			json_object_set_new(j, "counter",
					    json_pack("{s:s,s:s,s:I,s:I}", "name", v->name, "comment",
						      v->comment, "packets", (json_int_t)v->packets,
						      "bytes", (json_int_t)v->bytes));
		return j;
	}
	if (sv->why == NP_WHY_ADMIN || sv->why == NP_WHY_BASELINE) {
		/* an admin rule's counter: its comment is "CNP/NAME ingress[1] Deny ..." */
		int n = snprintf(buf, sizeof(buf), "%s/%s %s[%zu] ", sv->admin->short_kind,
				 sv->admin->name, dir, sv->admin_rule);
		json_t *j = json_pack("{s:s,s:s,s:i}", "kind", "admin", "rule", dir, "index",
				      (int)sv->admin_rule);
		for (size_t i = 0; n > 0 && i < c->n_named; i++)
			if (!strncmp(c->named[i].comment, buf, (size_t)n))
				json_object_set_new(
					j, "counter",
					json_pack("{s:s,s:s,s:I,s:I}", "name", c->named[i].name,
						  "comment", c->named[i].comment, "packets",
						  (json_int_t)c->named[i].packets, "bytes",
						  (json_int_t)c->named[i].bytes));
		return j;
	}
	if (sv->why != NP_WHY_NO_RULE || !ep->pod)
		return json_null();
	struct rs_log_point lp = { .audit = sv->audit, .ingress = ingress };
	char prefix[RS_LOG_PREFIX_MAX];
	rs_log_pod_id(ep->pod->ns, ep->pod->name, lp.id);
	rs_log_prefix(&lp, prefix);
	snprintf(buf, sizeof(buf), "%s-%s/%s", ingress ? "ing" : "egr", ep->pod->ns,
		 ep->pod->name);
	json_t *j = json_pack("{s:s,s:s?,s:s}", "kind", sv->audit ? "audit" : "drop", "chain",
			      chain_exists(d, buf) ? buf : NULL, "log_prefix", prefix);
	for (size_t i = 0; i < c->n_points; i++)
		if (!strcmp(c->points[i].prefix, prefix))
			json_object_set_new(j, "counter",
					    json_pack("{s:I,s:I}", "logged",
						      (json_int_t)c->points[i].logged, "packets",
						      (json_int_t)c->points[i].ended));
	return j;
}

static int api_explain(struct pd *d, const struct httpd_req *rq, char **body,
		       const char **ctype)
{
	const struct np_inventory *inv = ap_ctx_model(d->ap);
	const char *from = httpd_req_arg(rq, "from"), *to = httpd_req_arg(rq, "to");
	const char *port = httpd_req_arg(rq, "port"), *fam = httpd_req_arg(rq, "family");
	int family = fam && !strcmp(fam, "6") ? 6 : 4;
	if (!from || !to || !port)
		return fail(400, "from=NS/POD|IP, to=NS/POD|IP and port=PORT[/PROTO] are needed",
			    body, ctype);
	if (!inv)
		return fail(503, "no model yet (the first sync is not done)", body, ctype);
	char msg[600];
	struct np_flow f = { 0 };
	if (reach_parse_port_proto(port, &f.port, &f.proto) < 0)
		return fail(400, "port: PORT or PORT/TCP|UDP|SCTP", body, ctype);
	const char *bad = parse_end(inv, from, family, &f.src) < 0 ? from
			  : parse_end(inv, to, family, &f.dst) < 0 ? to : NULL;
	if (bad) {
		snprintf(msg, sizeof(msg), "%s: neither a pod of the model nor an IPv%d address",
			 bad, family);
		return fail(404, msg, body, ctype);
	}
	struct np_eval *ev = np_eval_new(inv);
	if (!ev)
		abort();
	np_eval_set_audit(ev, d->o.audit);
	struct np_verdict vd;
	if (np_eval_explain(ev, &f, &vd) < 0) {
		np_eval_free(ev);
		return fail(400, "the two ends are of different families", body, ctype);
	}
	json_t *j = reach_explain_json(&f, &vd, family);
	struct nft_counters c;
	bool counters = read_counters(d, &c);
	json_object_set_new(json_object_get(j, "egress"), "nft",
			    side_nft(d, &c, &f.src, &vd.egress, false));
	json_object_set_new(json_object_get(j, "ingress"), "nft",
			    side_nft(d, &c, &f.dst, &vd.ingress, true));
	json_object_set_new(j, "counters", json_boolean(counters));
	json_object_set_new(j, "generation", json_integer((json_int_t)d->generation));
	nft_counters_free(&c);
	np_verdict_clear(&vd);
	np_eval_free(ev);
	return reply(j, 200, body, ctype);
}

/* ---- dispatch ---- */

static int ui_file(const char *name, char **body, const char **ctype)
{
	if (!*name)
		name = "index.html";
	for (const struct ui_file *u = ui_files; u->name; u++)
		if (!strcmp(u->name, name)) {
			*body = xmalloc(u->len + 1);
			memcpy(*body, u->data, u->len);
			(*body)[u->len] = 0;
			*ctype = u->ctype;
			return 200;
		}
	return 0;
}

int pd_api_serve(struct pd *d, const struct httpd_req *rq, char **body, const char **ctype)
{
	const char *p = rq->path;
	if (!strncmp(p, "/ui/", 4))
		return ui_file(p + 4, body, ctype);
	if (strncmp(p, "/api/v1/", 8))
		return 0;
	p += 8;
	if (!args_utf8(rq))
		return fail(400, "query arguments must be UTF-8", body, ctype);
	if (!strcmp(p, "flows"))
		return api_flows(d, rq, body, ctype);
	if (!strcmp(p, "reach"))
		return api_reach(d, rq, body, ctype);
	if (!strcmp(p, "policies"))
		return api_policies(d, rq, body, ctype);
	if (!strcmp(p, "explain"))
		return api_explain(d, rq, body, ctype);
	return 0;
}
