/* reach.c — see reach.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reach.h"
#include "xalloc.h"

struct reach_pod *reach_pods(const struct np_inventory *inv, int family, const char *ns,
			     size_t *n)
{
	struct reach_pod *v = xcalloc(inv->n_pods ? inv->n_pods : 1, sizeof(*v));
	*n = 0;
	for (size_t i = 0; i < inv->n_pods; i++) {
		const struct np_pod *pod = &inv->pods[i];
		if (pod->host_network || (ns && strcmp(pod->ns, ns)) ||
		    np_endpoint_pod(pod, family, &v[*n].ep) < 0)
			continue;
		v[*n].pod = pod;
		snprintf(v[*n].label, sizeof(v[*n].label), "%s/%s", pod->ns, pod->name);
		(*n)++;
	}
	return v;
}

/* The cell of one flow: 0, 1 or REACH_AUDIT. */
static unsigned char reach_cell(const struct np_eval *ev, const struct np_flow *f)
{
	if (!np_eval_allowed(ev, f))
		return 0;
	struct np_verdict v;
	if (np_eval_explain(ev, f, &v) < 0)
		return 1;
	bool audit = v.egress.audit || v.ingress.audit;
	np_verdict_clear(&v);
	return audit ? REACH_AUDIT : 1;
}

unsigned char *reach_matrix(const struct np_eval *ev, const struct reach_pod *pods, size_t n,
			    enum np_proto proto, uint16_t port)
{
	unsigned char *m = xcalloc(n ? n * n : 1, 1);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			struct np_flow f = { .src = pods[i].ep, .dst = pods[j].ep, .proto = proto,
					     .port = port };
			m[i * n + j] = reach_cell(ev, &f);
		}
	return m;
}

json_t *reach_json(const struct reach_pod *pods, size_t n, const unsigned char *m,
		   enum np_proto proto, uint16_t port, int family)
{
	json_t *root = json_pack("{s:{s:s,s:i,s:i}}", "probe", "protocol", np_proto_name(proto),
				 "port", (int)port, "family", family);
	json_t *jpods = json_array();
	json_t *matrix = json_array();
	if (!root || !jpods || !matrix)
		abort();
	for (size_t i = 0; i < n; i++) {
		json_t *row = json_array();
		json_array_append_new(jpods, json_string(pods[i].label));
		for (size_t j = 0; j < n; j++)
			json_array_append_new(row, json_integer(m[i * n + j]));
		json_array_append_new(matrix, row);
	}
	json_object_set_new(root, "pods", jpods);
	json_object_set_new(root, "matrix", matrix);
	return root;
}

int reach_parse_proto(const char *s, enum np_proto *out)
{
	if (!s || !strcasecmp(s, "TCP"))
		*out = NP_PROTO_TCP;
	else if (!strcasecmp(s, "UDP"))
		*out = NP_PROTO_UDP;
	else if (!strcasecmp(s, "SCTP"))
		*out = NP_PROTO_SCTP;
	else
		return -EINVAL;
	return 0;
}

int reach_parse_port(const char *s, uint16_t *out)
{
	char *end;
	errno = 0;
	long v = s ? strtol(s, &end, 10) : 0;
	if (!s || !*s || *end || errno || v < 1 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int reach_parse_port_proto(const char *s, uint16_t *port, enum np_proto *proto)
{
	char pbuf[32];
	const char *slash = strchr(s, '/');
	size_t plen = slash ? (size_t)(slash - s) : strlen(s);
	if (plen >= sizeof(pbuf))
		return -EINVAL;
	if (reach_parse_proto(slash ? slash + 1 : NULL, proto) < 0)
		return -EPROTONOSUPPORT;
	memcpy(pbuf, s, plen);
	pbuf[plen] = 0;
	return reach_parse_port(pbuf, port);
}

const char *reach_endpoint_name(const struct np_endpoint *ep, char *buf, size_t size)
{
	char a[64];
	if (ep->pod)
		snprintf(buf, size, "%s/%s", ep->pod->ns, ep->pod->name);
	else
		snprintf(buf, size, "%s", np_addr_str(&ep->addr, a));
	return buf;
}

static json_t *admin_rule_json(const struct np_admin_policy *ap, bool ingress, size_t rule)
{
	const struct np_rule *r = ingress ? &ap->in[rule] : &ap->out[rule];
	json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:s,s:s?}", "tier", np_tier_name(ap->tier), "kind",
			      ap->kind, "policy", ap->name, "rule", (int)rule, "action",
			      np_action_name(r->action), "name", r->name);
	if (!o)
		abort();
	return o;
}

static json_t *side_json(const struct np_endpoint *ep, const struct np_side_verdict *sv,
			 bool ingress)
{
	char name[300], pol[600];
	json_t *iso = json_array();
	for (size_t i = 0; i < sv->n_isolating; i++) {
		snprintf(pol, sizeof(pol), "%s/%s", sv->isolating[i]->ns, sv->isolating[i]->name);
		json_array_append_new(iso, json_string(pol));
	}
	json_t *o = json_pack("{s:s,s:b,s:s,s:b,s:o}", "at", reach_endpoint_name(ep, name, sizeof(name)),
			      "allowed", sv->allowed, "why", np_side_why_str(sv->why), "isolated",
			      sv->isolated, "isolating", iso);
	if (!o)
		abort();
	if (sv->audit) /* verdicts without audit mode keep their old shape */
		json_object_set_new(o, "audit", json_true());
	if (sv->why == NP_WHY_ADMIN || sv->why == NP_WHY_BASELINE)
		json_object_set_new(o, "decided_by", admin_rule_json(sv->admin, ingress, sv->admin_rule));
	json_t *passes = json_array();
	if (sv->pass_admin)
		json_array_append_new(passes, admin_rule_json(sv->pass_admin, ingress,
							      sv->pass_admin_rule));
	if (sv->pass_baseline)
		json_array_append_new(passes, admin_rule_json(sv->pass_baseline, ingress,
							      sv->pass_baseline_rule));
	if (json_array_size(passes)) /* NetworkPolicy-only verdicts keep their old shape */
		json_object_set_new(o, "passes", passes);
	else
		json_decref(passes);
	if (sv->why == NP_WHY_RULE) {
		snprintf(pol, sizeof(pol), "%s/%s", sv->policy->ns, sv->policy->name);
		json_object_set_new(o, "policy", json_string(pol));
		json_object_set_new(o, "rule", json_integer((json_int_t)sv->rule));
		/* null: the rule has no peers (every peer) / no ports (every port) */
		json_object_set_new(o, "peer", sv->peer == NP_EVAL_ALL ? json_null() :
						      json_integer((json_int_t)sv->peer));
		json_object_set_new(o, "port", sv->port == NP_EVAL_ALL ? json_null() :
						      json_integer((json_int_t)sv->port));
	}
	return o;
}

const char *reach_verdict_word(const struct np_verdict *vd)
{
	if (vd->allowed && (vd->egress.audit || vd->ingress.audit))
		return "AUDIT";
	return vd->allowed ? "ALLOWED" : "DROPPED";
}

json_t *reach_explain_json(const struct np_flow *f, const struct np_verdict *vd, int family)
{
	char sn[300], dn[300], sa[64], da[64];
	json_t *root = json_pack(
		"{s:s,s:b,s:{s:s,s:s,s:s,s:s,s:s,s:i,s:i},s:o,s:o}", "verdict",
		reach_verdict_word(vd), "allowed", vd->allowed, "flow", "from",
		reach_endpoint_name(&f->src, sn, sizeof(sn)), "to",
		reach_endpoint_name(&f->dst, dn, sizeof(dn)), "from_addr",
		np_addr_str(&f->src.addr, sa), "to_addr", np_addr_str(&f->dst.addr, da), "protocol",
		np_proto_name(f->proto), "port", (int)f->port, "family", family, "egress",
		side_json(&f->src, &vd->egress, false), "ingress",
		side_json(&f->dst, &vd->ingress, true));
	if (!root)
		abort();
	return root;
}
