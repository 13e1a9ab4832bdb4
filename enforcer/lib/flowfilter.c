/* flowfilter.c — flow_filter (flowrec.h): hubble observe's filters over flow records. Each
 * value is kept as given (the filter goes over the control socket as the same strings) and
 * parsed once into what matching needs. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flowrec.h"
#include "vec.h"
#include "xalloc.h"

enum key { K_VERDICT, K_NAMESPACE, K_POD, K_FROM_POD, K_TO_POD, K_IP, K_PORT, K_PROTOCOL,
	   K_POLICY, K_SINCE, K_N };

static const char *const key_names[K_N] = { "verdict", "namespace", "pod", "from-pod",
					     "to-pod", "ip", "port", "protocol", "policy",
					     "since" };

/* One value of a key, parsed. */
struct crit {
	char *text;                 /* as given (since: the absolute time it became) */
	char *a, *b;                /* pods: namespace, name prefix; policy: left, right */
	struct np_cidr cidr;
	unsigned u;                 /* verdict, port, protocol bits */
};

struct flow_filter {
	struct crit *v[K_N];
	size_t n[K_N], cap[K_N];
	int64_t since_ns;
};

struct flow_filter *flow_filter_new(void)
{
	return xcalloc(1, sizeof(struct flow_filter));
}

void flow_filter_free(struct flow_filter *f)
{
	if (!f)
		return;
	for (int k = 0; k < K_N; k++) {
		for (size_t i = 0; i < f->n[k]; i++) {
			free(f->v[k][i].text);
			free(f->v[k][i].a);
			free(f->v[k][i].b);
		}
		free(f->v[k]);
	}
	free(f);
}

/* "NS/NAME" or "NAME" (then ns is dflt, NULL allowed): both malloc'ed. */
static int split_slash(const char *s, const char *dflt, char **a, char **b)
{
	const char *slash = strchr(s, '/');
	if (slash && (slash == s || !slash[1] || strchr(slash + 1, '/')))
		return -EINVAL;
	*a = slash ? xstrndup(s, (size_t)(slash - s)) : dflt ? xstrdup(dflt) : NULL;
	*b = xstrdup(slash ? slash + 1 : s);
	return 0;
}

enum { P_TCP = 1, P_UDP = 2, P_SCTP = 4, P_ICMP4 = 8, P_ICMP6 = 16 };

static int parse_protocol(const char *s, unsigned *out)
{
	static const struct {
		const char *name;
		unsigned bits;
	} names[] = { { "tcp", P_TCP }, { "udp", P_UDP }, { "sctp", P_SCTP },
		      { "icmp", P_ICMP4 | P_ICMP6 }, { "icmpv4", P_ICMP4 }, { "icmpv6", P_ICMP6 } };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i].name)) {
			*out = names[i].bits;
			return 0;
		}
	return -EINVAL;
}

/* "30s", "5m", "2h", "1d" (a plain number is seconds): ns. */
static int parse_duration(const char *s, int64_t *ns)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -EINVAL;
	double mult = !*end || !strcmp(end, "s") ? 1 : !strcmp(end, "ms") ? 1e-3
		    : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600 : !strcmp(end, "d") ? 86400
		    : -1;
	if (mult < 0)
		return -EINVAL;
	*ns = (int64_t)(v * mult * 1e9);
	return 0;
}

static int parse_crit(enum key k, const char *value, struct crit *c, struct flow_filter *f)
{
	long v;
	char *end;
	int64_t ns;
	switch (k) {
	case K_VERDICT: {
		enum flow_verdict fv;
		if (flow_verdict_parse(value, &fv) < 0)
			return -EINVAL;
		c->u = 1u << fv;
		return 0;
	}
	case K_NAMESPACE:
		return *value ? 0 : -EINVAL;
	case K_POD:
	case K_FROM_POD:
	case K_TO_POD:
		return split_slash(value, "default", &c->a, &c->b);
	case K_POLICY:
		return split_slash(value, NULL, &c->a, &c->b);
	case K_IP:
		if (np_cidr_parse(value, &c->cidr, NULL) == 0)
			return 0;
		if (np_addr_parse(value, &c->cidr.addr) < 0)
			return -EINVAL;
		c->cidr.prefix = c->cidr.addr.family == 4 ? 32 : 128;
		return 0;
	case K_PORT:
		v = strtol(value, &end, 10);
		if (!*value || *end || v < 0 || v > 65535)
			return -EINVAL;
		c->u = (unsigned)v;
		return 0;
	case K_PROTOCOL:
		return parse_protocol(value, &c->u);
	case K_SINCE:
		if (flow_time_parse(value, &ns) < 0) {
			if (parse_duration(value, &ns) < 0)
				return -EINVAL;
			ns = flow_now_ns() - ns;
		}
		if (!f->n[K_SINCE] || ns > f->since_ns) /* the latest bound holds */
			f->since_ns = ns;
		char t[40];
		c->text = xstrdup(flow_time_str(ns, t));
		return 0;
	case K_N:
		break;
	}
	return -EINVAL;
}

int flow_filter_add(struct flow_filter *f, const char *key, const char *value, char *err,
		    size_t errlen)
{
	static const char *const hints[K_N] = {
		"FORWARDED, DROPPED or AUDIT (ALLOWED, DENIED, AUDITED)", "a namespace",
		"[NS/]POD", "[NS/]POD", "[NS/]POD", "an address or CIDR", "a port 0-65535",
		"tcp, udp, sctp, icmp, icmpv4 or icmpv6", "NS/NAME, KIND/NAME or NAME",
		"a duration (30s, 5m, 2h, 1d) or an RFC 3339 time" };
	int k;
	for (k = 0; k < K_N && strcmp(key, key_names[k]); k++)
		;
	if (k == K_N) {
		snprintf(err, errlen, "unknown filter %s", key);
		return -EINVAL;
	}
	struct crit c = { 0 };
	if (parse_crit((enum key)k, value, &c, f) < 0) {
		free(c.a);
		free(c.b);
		free(c.text);
		snprintf(err, errlen, "bad --%s '%s' (want %s)", key, value, hints[k]);
		return -EINVAL;
	}
	if (!c.text)
		c.text = xstrdup(value);
	VEC_PUSH(f->v[k], f->n[k], f->cap[k]) = c;
	return 0;
}

json_t *flow_filter_json(const struct flow_filter *f)
{
	json_t *o = json_object();
	for (int k = 0; k < K_N; k++) {
		if (!f->n[k])
			continue;
		json_t *a = json_array();
		for (size_t i = 0; i < f->n[k]; i++)
			json_array_append_new(a, json_string(f->v[k][i].text));
		json_object_set_new(o, key_names[k], a);
	}
	return o;
}

int flow_filter_from_json(const json_t *j, struct flow_filter **out, char *err, size_t errlen)
{
	struct flow_filter *f = flow_filter_new();
	const char *key;
	json_t *vals;
	if (j && !json_is_object(j)) {
		snprintf(err, errlen, "a filter is an object of string arrays");
		flow_filter_free(f);
		return -EINVAL;
	}
	json_object_foreach((json_t *)j, key, vals) {
		size_t i;
		json_t *v;
		if (!json_is_array(vals)) {
			snprintf(err, errlen, "filter %s: want an array of strings", key);
			flow_filter_free(f);
			return -EINVAL;
		}
		json_array_foreach(vals, i, v) {
			if (!json_is_string(v) ||
			    flow_filter_add(f, key, json_string_value(v), err, errlen) < 0) {
				if (!json_is_string(v))
					snprintf(err, errlen, "filter %s: want strings", key);
				flow_filter_free(f);
				return -EINVAL;
			}
		}
	}
	*out = f;
	return 0;
}

/* ---- matching ---- */

static bool pod_is(const struct flow_end *e, const struct crit *c)
{
	return e->pod && !strcmp(e->ns, c->a) && !strncmp(e->pod, c->b, strlen(c->b));
}

static unsigned proto_bit(uint8_t p)
{
	return p == IPPROTO_TCP ? P_TCP : p == IPPROTO_UDP ? P_UDP : p == IPPROTO_SCTP ? P_SCTP
	     : p == IPPROTO_ICMP ? P_ICMP4 : p == IPPROTO_ICMPV6 ? P_ICMP6 : 0;
}

/* "NS/NAME": that namespaced policy, or KIND/NAME of a cluster-scoped one (kind written
 * short: CNP/x, or whole); "NAME": a cluster-scoped policy of that name. */
static bool policy_is(const struct flow_policy *p, const struct crit *c)
{
	if (strcmp(p->name, c->b))
		return false;
	if (!c->a)
		return !p->ns[0];
	if (p->ns[0])
		return !strcmp(p->ns, c->a);
	static const char *const kinds[][2] = { { "CNP", "ClusterNetworkPolicy" },
						{ "ANP", "AdminNetworkPolicy" },
						{ "BANP", "BaselineAdminNetworkPolicy" } };
	for (size_t i = 0; i < 3; i++)
		if (!strcmp(p->kind, kinds[i][1]))
			return !strcmp(c->a, kinds[i][0]) || !strcmp(c->a, kinds[i][1]);
	return !strcmp(c->a, p->kind);
}

static bool pols_have(const struct flow_pols *l, const struct crit *c)
{
	for (size_t i = 0; i < l->n; i++)
		if (policy_is(&l->v[i], c))
			return true;
	return false;
}

/* Whether one value of key k matches (the caller: no value at all matches everything). */
static bool crit_match(enum key k, const struct crit *c, const struct flow_rec *r)
{
	bool ports = r->proto == IPPROTO_TCP || r->proto == IPPROTO_UDP || r->proto == IPPROTO_SCTP;
	switch (k) {
	case K_VERDICT:
		return (c->u >> r->verdict) & 1;
	case K_NAMESPACE:
		return (r->src.pod && !strcmp(r->src.ns, c->text)) ||
		       (r->dst.pod && !strcmp(r->dst.ns, c->text));
	case K_POD:
		return pod_is(&r->src, c) || pod_is(&r->dst, c);
	case K_FROM_POD:
		return pod_is(&r->src, c);
	case K_TO_POD:
		return pod_is(&r->dst, c);
	case K_IP:
		return np_cidr_contains(&c->cidr, &r->src.addr) ||
		       np_cidr_contains(&c->cidr, &r->dst.addr);
	case K_PORT:
		return ports && (r->src.port == c->u || r->dst.port == c->u);
	case K_PROTOCOL:
		return (c->u & proto_bit(r->proto)) != 0;
	case K_POLICY:
		for (int s = 0; s < 2; s++)
			if (pols_have(&r->side[s].denied, c) || pols_have(&r->side[s].allowed, c) ||
			    pols_have(&r->side[s].isolated, c))
				return true;
		return false;
	case K_SINCE:
	case K_N:
		break;
	}
	return true;
}

bool flow_filter_match(const struct flow_filter *f, const struct flow_rec *r)
{
	if (!f || r->event == FLOW_EV_LOST)
		return true;
	if (f->n[K_SINCE] && r->time_ns < f->since_ns)
		return false;
	for (int k = 0; k < K_SINCE; k++) {
		bool any = !f->n[k];
		for (size_t i = 0; i < f->n[k] && !any; i++)
			any = crit_match((enum key)k, &f->v[k][i], r);
		if (!any)
			return false;
	}
	return true;
}
