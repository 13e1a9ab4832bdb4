/* flowrec.c — see flowrec.h: a record's memory, and the record as Hubble's JSON and back. The
 * filters are in flowfilter.c. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "arena.h"
#include "flowrec.h"

/* ---- memory: every string and list of a record in its own arena, freed at once ---- */

void flow_rec_init(struct flow_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->folded = 1;
	r->is_reply = -1;
	r->duration_ns = -1;
}

void flow_rec_clear(struct flow_rec *r)
{
	if (!r)
		return;
	np_arena_free(r->mem);
	flow_rec_init(r);
}

void flow_rec_move(struct flow_rec *dst, struct flow_rec *src)
{
	flow_rec_clear(dst);
	*dst = *src;
	flow_rec_init(src);
}

void *flow_rec_alloc(struct flow_rec *r, size_t n)
{
	if (!r->mem)
		r->mem = np_arena_new();
	return np_arena_alloc(r->mem, n);
}

const char *flow_rec_strdup(struct flow_rec *r, const char *s)
{
	if (!s)
		return NULL;
	if (!r->mem)
		r->mem = np_arena_new();
	return np_arena_strdup(r->mem, s);
}

void flow_pols_add(struct flow_rec *r, struct flow_pols *l, const char *kind, const char *ns,
		   const char *name)
{
	/* lists hold one to a few policies: a copy per append costs nothing */
	struct flow_policy *v = flow_rec_alloc(r, (l->n + 1) * sizeof(*v));
	if (l->n)
		memcpy(v, l->v, l->n * sizeof(*v));
	v[l->n] = (struct flow_policy){ flow_rec_strdup(r, kind), flow_rec_strdup(r, ns ? ns : ""),
					flow_rec_strdup(r, name) };
	l->v = v;
	l->n++;
}

/* ---- names ---- */

static const char *const verdicts[] = { "FORWARDED", "DROPPED", "AUDIT" };
static const char *const dirs[] = { "TRAFFIC_DIRECTION_UNKNOWN", "INGRESS", "EGRESS" };
static const char *const events[] = { "log", "new", "close", "lost" };

const char *flow_verdict_name(enum flow_verdict v)
{
	return v < FLOW_N_VERDICTS ? verdicts[v] : "VERDICT_UNKNOWN";
}

int flow_verdict_parse(const char *s, enum flow_verdict *out)
{
	static const char *const aliases[] = { "ALLOWED", "DENIED", "AUDITED" };
	for (int i = 0; i < FLOW_N_VERDICTS; i++)
		if (!strcasecmp(s, verdicts[i]) || !strcasecmp(s, aliases[i])) {
			*out = (enum flow_verdict)i;
			return 0;
		}
	return -EINVAL;
}

const char *flow_dir_name(enum flow_dir d)
{
	return d < FLOW_N_DIRS ? dirs[d] : dirs[0];
}

const char *flow_event_name(enum flow_event e)
{
	return e < FLOW_N_EVENTS ? events[e] : "?";
}

/* ---- time ---- */

int64_t flow_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *flow_time_str(int64_t ns, char *buf)
{
	time_t s = (time_t)(ns / 1000000000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t n = strftime(buf, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, 40 - n, ".%09lldZ", (long long)(ns % 1000000000));
	return buf;
}

int flow_time_parse(const char *s, int64_t *ns)
{
	struct tm tm = { 0 };
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	int64_t frac = 0;
	if (*p == '.') {
		int digits = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 9)
				frac = frac * 10 + (*p - '0');
		if (!digits)
			return -EINVAL;
		for (; digits < 9; digits++)
			frac *= 10;
	}
	long off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -EINVAL;
		off = (hh * 60 + mm) * 60 * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	*ns = ((int64_t)timegm(&tm) - off) * 1000000000 + frac;
	return 0;
}

/* ---- to JSON ---- */

static json_t *pols_json(const struct flow_pols *l)
{
	json_t *a = json_array();
	for (size_t i = 0; i < l->n; i++) {
		json_t *o = json_pack("{s:s}", "kind", l->v[i].kind);
		if (l->v[i].ns && l->v[i].ns[0])
			json_object_set_new(o, "namespace", json_string(l->v[i].ns));
		json_object_set_new(o, "name", json_string(l->v[i].name));
		json_array_append_new(a, o);
	}
	return a;
}

static void set_pols(json_t *o, const char *key, const struct flow_pols *l)
{
	if (l->n)
		json_object_set_new(o, key, pols_json(l));
}

static json_t *end_json(const struct flow_end *e)
{
	json_t *o = json_object(), *labels = json_array();
	if (e->pod) {
		json_object_set_new(o, "namespace", json_string(e->ns));
		json_object_set_new(o, "pod_name", json_string(e->pod));
		for (size_t i = 0; i < e->n_labels; i++)
			json_array_append_new(labels, json_string(e->labels[i]));
	} else {
		json_array_append_new(labels, json_string("reserved:world"));
	}
	json_object_set_new(o, "labels", labels);
	return o;
}

static const struct {
	uint8_t bit;
	const char *name;
} tcp_flags[] = { { 0x02, "SYN" }, { 0x10, "ACK" }, { 0x01, "FIN" }, { 0x04, "RST" },
		  { 0x08, "PSH" }, { 0x20, "URG" }, { 0x40, "ECE" }, { 0x80, "CWR" } };

static json_t *l4_json(const struct flow_rec *r)
{
	const char *name = r->proto == IPPROTO_TCP ? "TCP" : r->proto == IPPROTO_UDP ? "UDP"
			 : r->proto == IPPROTO_SCTP ? "SCTP" : NULL;
	if (name) {
		json_t *p = json_pack("{s:i,s:i}", "source_port", (int)r->src.port,
				      "destination_port", (int)r->dst.port);
		if (r->proto == IPPROTO_TCP && r->tcp_flags) {
			json_t *f = json_object();
			for (size_t i = 0; i < sizeof(tcp_flags) / sizeof(tcp_flags[0]); i++)
				if (r->tcp_flags & tcp_flags[i].bit)
					json_object_set_new(f, tcp_flags[i].name, json_true());
			json_object_set_new(p, "flags", f);
		}
		return json_pack("{s:o}", name, p);
	}
	if (r->proto == IPPROTO_ICMP || r->proto == IPPROTO_ICMPV6)
		return json_pack("{s:{s:i,s:i}}", r->proto == IPPROTO_ICMP ? "ICMPv4" : "ICMPv6",
				 "type", (int)r->icmp_type, "code", (int)r->icmp_code);
	return NULL;
}

static json_t *netpol_json(const struct flow_rec *r)
{
	static const char *const side_names[2] = { "ingress", "egress" };
	json_t *o = json_pack("{s:I,s:s}", "seq", (json_int_t)r->seq, "event",
			      flow_event_name(r->event));
	for (int s = 0; s < 2; s++) {
		char key[32];
		snprintf(key, sizeof(key), "%s_isolated_by", side_names[s]);
		set_pols(o, key, &r->side[s].isolated);
		snprintf(key, sizeof(key), "%s_rule", side_names[s]);
		if (r->side[s].rule)
			json_object_set_new(o, key, json_string(r->side[s].rule));
	}
	if (r->has_stats)
		json_object_set_new(o, "stats",
				    json_pack("{s:I,s:I,s:I,s:I}", "packets_src_to_dst",
					      (json_int_t)r->packets[0], "bytes_src_to_dst",
					      (json_int_t)r->bytes[0], "packets_dst_to_src",
					      (json_int_t)r->packets[1], "bytes_dst_to_src",
					      (json_int_t)r->bytes[1]));
	json_object_set_new(o, "folded", json_integer((json_int_t)r->folded));
	if (r->event == FLOW_EV_NEW || r->event == FLOW_EV_CLOSE)
		json_object_set_new(o, "ct_id", json_integer((json_int_t)r->ct_id));
	if (r->duration_ns >= 0)
		json_object_set_new(o, "duration_ms",
				    json_real((double)r->duration_ns / 1e6));
	if (r->cut)
		json_object_set_new(o, "cut", json_true());
	return o;
}

static json_t *lost_json(const struct flow_rec *r)
{
	char t[40];
	/* the kernel's sockets are Hubble's PERF_EVENT_RING_BUFFER (kernel to agent); a reader
	 * falling behind the ring is HUBBLE_RING_BUFFER. netpol.source says which exactly. */
	const char *src = r->lost_source && !strcmp(r->lost_source, "ring") ? "HUBBLE_RING_BUFFER"
									    : "PERF_EVENT_RING_BUFFER";
	json_t *o = json_pack("{s:{s:s,s:I},s:s}", "lost_events", "source", src,
			      "num_events_lost", (json_int_t)r->lost, "time",
			      flow_time_str(r->time_ns, t));
	if (r->node)
		json_object_set_new(o, "node_name", json_string(r->node));
	json_object_set_new(o, "netpol", json_pack("{s:I,s:s,s:s}", "seq", (json_int_t)r->seq,
						   "event", "lost", "source",
						   r->lost_source ? r->lost_source : "unknown"));
	return o;
}

static json_t *flow_json(const struct flow_rec *r)
{
	char t[40], sa[64], da[64];
	json_t *o = json_pack("{s:s,s:s}", "time", flow_time_str(r->time_ns, t), "verdict",
			      flow_verdict_name(r->verdict));
	if (r->verdict == FLOW_DROPPED)
		json_object_set_new(o, "drop_reason_desc", json_string("POLICY_DENIED"));
	if (r->family) /* a record read without its addresses has none */
		json_object_set_new(o, "IP", json_pack("{s:s,s:s,s:s}", "source",
						       np_addr_str(&r->src.addr, sa), "destination",
						       np_addr_str(&r->dst.addr, da), "ipVersion",
						       r->family == 6 ? "IPv6" : "IPv4"));
	json_t *l4 = l4_json(r);
	if (l4)
		json_object_set_new(o, "l4", l4);
	json_object_set_new(o, "source", end_json(&r->src));
	json_object_set_new(o, "destination", end_json(&r->dst));
	json_object_set_new(o, "Type", json_string("L3_L4"));
	if (r->node)
		json_object_set_new(o, "node_name", json_string(r->node));
	/* Hubble's numbers: 1/133 a drop (policy denied), 5 a policy verdict */
	json_object_set_new(o, "event_type", r->verdict == FLOW_DROPPED
						     ? json_pack("{s:i,s:i}", "type", 1, "sub_type", 133)
						     : json_pack("{s:i}", "type", 5));
	json_object_set_new(o, "traffic_direction", json_string(flow_dir_name(r->dir)));
	if (r->is_reply >= 0)
		json_object_set_new(o, "is_reply", json_boolean(r->is_reply));
	set_pols(o, "ingress_denied_by", &r->side[FLOW_SIDE_INGRESS].denied);
	set_pols(o, "egress_denied_by", &r->side[FLOW_SIDE_EGRESS].denied);
	set_pols(o, "ingress_allowed_by", &r->side[FLOW_SIDE_INGRESS].allowed);
	set_pols(o, "egress_allowed_by", &r->side[FLOW_SIDE_EGRESS].allowed);
	json_object_set_new(o, "netpol", netpol_json(r));
	return o;
}

json_t *flow_rec_json(const struct flow_rec *r)
{
	return r->event == FLOW_EV_LOST ? lost_json(r) : flow_json(r);
}

json_t *flow_rec_envelope(const struct flow_rec *r)
{
	if (r->event == FLOW_EV_LOST)
		return lost_json(r);
	char t[40];
	json_t *o = json_pack("{s:o}", "flow", flow_json(r));
	if (r->node)
		json_object_set_new(o, "node_name", json_string(r->node));
	json_object_set_new(o, "time", json_string(flow_time_str(r->time_ns, t)));
	return o;
}

/* ---- from JSON ---- */

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_int_t jint(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (json_is_string(v)) /* proto3 JSON writes 64-bit integers as strings */
		return strtoll(json_string_value(v), NULL, 10);
	return json_is_number(v) ? (json_int_t)json_number_value(v) : 0;
}

static void pols_from(struct flow_rec *r, const json_t *a, struct flow_pols *l)
{
	size_t i;
	json_t *p;
	json_array_foreach(a, i, p) {
		const char *name = jstr(p, "name");
		if (name)
			flow_pols_add(r, l, jstr(p, "kind") ? jstr(p, "kind") : "",
				      jstr(p, "namespace"), name);
	}
}

static void end_from(struct flow_rec *r, const json_t *o, struct flow_end *e)
{
	const char *pod = jstr(o, "pod_name");
	if (pod && *pod) {
		e->pod = flow_rec_strdup(r, pod);
		e->ns = flow_rec_strdup(r, jstr(o, "namespace") ? jstr(o, "namespace") : "");
	}
	json_t *labels = json_object_get(o, "labels");
	size_t n = json_array_size(labels), i;
	json_t *l;
	e->labels = flow_rec_alloc(r, (n ? n : 1) * sizeof(char *));
	json_array_foreach(labels, i, l)
		if (json_is_string(l))
			e->labels[e->n_labels++] = flow_rec_strdup(r, json_string_value(l));
}

static void l4_from(struct flow_rec *r, const json_t *l4)
{
	static const struct {
		const char *key;
		uint8_t proto;
	} ports[] = { { "TCP", IPPROTO_TCP }, { "UDP", IPPROTO_UDP }, { "SCTP", IPPROTO_SCTP } };
	for (size_t i = 0; i < 3; i++) {
		json_t *p = json_object_get(l4, ports[i].key);
		if (!p)
			continue;
		r->proto = ports[i].proto;
		r->src.port = (uint16_t)jint(p, "source_port");
		r->dst.port = (uint16_t)jint(p, "destination_port");
		json_t *f = json_object_get(p, "flags");
		for (size_t k = 0; f && k < sizeof(tcp_flags) / sizeof(tcp_flags[0]); k++)
			if (json_is_true(json_object_get(f, tcp_flags[k].name)))
				r->tcp_flags |= tcp_flags[k].bit;
	}
	json_t *icmp = json_object_get(l4, "ICMPv4");
	r->proto = icmp ? IPPROTO_ICMP : r->proto;
	if (!icmp && (icmp = json_object_get(l4, "ICMPv6")))
		r->proto = IPPROTO_ICMPV6;
	if (icmp) {
		r->icmp_type = (uint8_t)jint(icmp, "type");
		r->icmp_code = (uint8_t)jint(icmp, "code");
	}
}

static void netpol_from(struct flow_rec *r, const json_t *o)
{
	static const char *const side_names[2] = { "ingress", "egress" };
	if (!o)
		return;
	r->seq = (uint64_t)jint(o, "seq");
	for (int e = 0; e < FLOW_N_EVENTS; e++)
		if (jstr(o, "event") && !strcmp(jstr(o, "event"), events[e]))
			r->event = (enum flow_event)e;
	for (int s = 0; s < 2; s++) {
		char key[32];
		snprintf(key, sizeof(key), "%s_isolated_by", side_names[s]);
		pols_from(r, json_object_get(o, key), &r->side[s].isolated);
		snprintf(key, sizeof(key), "%s_rule", side_names[s]);
		r->side[s].rule = flow_rec_strdup(r, jstr(o, key));
	}
	json_t *st = json_object_get(o, "stats");
	if (st) {
		r->has_stats = true;
		r->packets[0] = (uint64_t)jint(st, "packets_src_to_dst");
		r->bytes[0] = (uint64_t)jint(st, "bytes_src_to_dst");
		r->packets[1] = (uint64_t)jint(st, "packets_dst_to_src");
		r->bytes[1] = (uint64_t)jint(st, "bytes_dst_to_src");
	}
	if (json_object_get(o, "folded"))
		r->folded = (uint64_t)jint(o, "folded");
	r->ct_id = (uint32_t)jint(o, "ct_id");
	json_t *d = json_object_get(o, "duration_ms");
	if (json_is_number(d))
		r->duration_ns = (int64_t)(json_number_value(d) * 1e6);
	r->cut = json_is_true(json_object_get(o, "cut"));
	r->lost_source = flow_rec_strdup(r, jstr(o, "source"));
}

static int lost_from(const json_t *env, const json_t *lost, struct flow_rec *r)
{
	r->event = FLOW_EV_LOST;
	r->lost = (uint64_t)jint(lost, "num_events_lost");
	const char *t = jstr(env, "time");
	if (t)
		flow_time_parse(t, &r->time_ns);
	r->node = flow_rec_strdup(r, jstr(env, "node_name"));
	netpol_from(r, json_object_get(env, "netpol"));
	r->event = FLOW_EV_LOST;
	if (!r->lost_source)
		r->lost_source = flow_rec_strdup(r, jstr(lost, "source"));
	return 0;
}

/* The addresses; a flow without them (an exporter's field mask may leave IP out) has family
 * 0. */
static int ip_from(struct flow_rec *r, const json_t *ip)
{
	const char *s = jstr(ip, "source"), *d = jstr(ip, "destination");
	if (!ip)
		return 0;
	if (!s || !d || np_addr_parse(s, &r->src.addr) < 0 || np_addr_parse(d, &r->dst.addr) < 0)
		return -EINVAL;
	r->family = r->src.addr.family;
	return 0;
}

int flow_rec_from_json(const json_t *j, struct flow_rec *r)
{
	flow_rec_init(r);
	if (!json_is_object(j))
		return -EINVAL;
	json_t *lost = json_object_get(j, "lost_events");
	if (lost)
		return lost_from(j, lost, r);
	const json_t *f = json_object_get(j, "flow");
	if (!f)
		f = j;
	const char *t = jstr(f, "time") ? jstr(f, "time") : jstr(j, "time");
	enum flow_verdict v;
	if (!t || flow_time_parse(t, &r->time_ns) < 0 || !jstr(f, "verdict") ||
	    flow_verdict_parse(jstr(f, "verdict"), &v) < 0 || ip_from(r, json_object_get(f, "IP")) < 0) {
		flow_rec_clear(r);
		return -EINVAL;
	}
	r->verdict = v;
	l4_from(r, json_object_get(f, "l4"));
	end_from(r, json_object_get(f, "source"), &r->src);
	end_from(r, json_object_get(f, "destination"), &r->dst);
	const char *node = jstr(f, "node_name") ? jstr(f, "node_name") : jstr(j, "node_name");
	r->node = flow_rec_strdup(r, node);
	const char *dir = jstr(f, "traffic_direction");
	for (int d = 0; dir && d < FLOW_N_DIRS; d++)
		if (!strcmp(dir, dirs[d]))
			r->dir = (enum flow_dir)d;
	json_t *reply = json_object_get(f, "is_reply");
	r->is_reply = json_is_boolean(reply) ? json_is_true(reply) : -1;
	pols_from(r, json_object_get(f, "ingress_denied_by"), &r->side[FLOW_SIDE_INGRESS].denied);
	pols_from(r, json_object_get(f, "egress_denied_by"), &r->side[FLOW_SIDE_EGRESS].denied);
	pols_from(r, json_object_get(f, "ingress_allowed_by"), &r->side[FLOW_SIDE_INGRESS].allowed);
	pols_from(r, json_object_get(f, "egress_allowed_by"), &r->side[FLOW_SIDE_EGRESS].allowed);
	/* netpol's own fields: in the flow (what netpol prints), or beside it */
	const json_t *np = json_object_get(f, "netpol");
	netpol_from(r, np ? np : json_object_get(j, "netpol"));
	if (r->event == FLOW_EV_LOST)
		r->event = FLOW_EV_LOG;
	return 0;
}
