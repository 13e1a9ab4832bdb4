/* parse_admin.c — the cluster admin tiers: ClusterNetworkPolicy (policy.networking.k8s.io/
 * v1alpha2) and AdminNetworkPolicy / BaselineAdminNetworkPolicy (v1alpha1), validated as their
 * CRDs validate them (enums, exactly-one-of, list limits, CIDRs, port ranges, the BANP name) and
 * converted into one model, struct np_admin_policy: Allow → Accept, ports → protocols, BANP →
 * tier Baseline. Unknown fields are errors, as in a NetworkPolicy: a misspelt field must never
 * widen or narrow what a cluster guardrail does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "inventory.h"
#include "parse.h"

#define perr np_pctx_error
#define enter np_pctx_enter
#define leave np_pctx_leave

/* What differs between the three kinds. */
struct admin_kind {
	const char *kind, *short_kind;
	bool v1;             /* v1alpha1 shapes: ports[], Allow, namespaceSelector required */
	bool has_tier;       /* spec.tier (CNP) */
	bool has_priority;   /* spec.priority (CNP, ANP) */
	bool pass_allowed;   /* BANP has no Pass */
	bool domain_names;   /* the schema knows domainNames (CNP, ANP) */
	size_t max;          /* rules per direction, peers per rule, ports per rule */
};

static const struct admin_kind CNP = { "ClusterNetworkPolicy", "CNP", false, true, true, true,
				       true, 25 };
static const struct admin_kind ANP = { "AdminNetworkPolicy", "ANP", true, false, true, true,
				       true, 100 };
static const struct admin_kind BANP = { "BaselineAdminNetworkPolicy", "BANP", true, false,
					false, false, false, 100 };

/* Exactly one of keys present (non-null) in obj; returns its index, or -1 after an error. */
static int one_of(struct np_pctx *c, const json_t *obj, const char *const *keys, const char *what)
{
	int found = -1, n = 0;
	for (int i = 0; keys[i]; i++)
		if (np_json_field(obj, keys[i])) {
			if (found < 0)
				found = i;
			n++;
		}
	if (n == 1)
		return found;
	char list[256] = "";
	for (int i = 0; keys[i]; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 i ? (keys[i + 1] ? ", " : " or ") : "", keys[i]);
	perr(c, "%s: exactly one of %s must be set%s", what, list,
	     n ? " (several are)" : "");
	return -1;
}

/* A list of at least 1 and at most max items; NULL (after an error) otherwise. */
static json_t *bounded_array(struct np_pctx *c, const json_t *obj, const char *key, size_t max,
			     bool required)
{
	json_t *v = np_json_get_typed(c, obj, key, JSON_ARRAY);
	size_t save = enter(c, key);
	if (!v && required && !np_json_field(obj, key))
		perr(c, "missing required field \"%s\"", key);
	else if (v && json_array_size(v) == 0)
		perr(c, "%s must have at least 1 item", key);
	else if (v && json_array_size(v) > max)
		perr(c, "%s has %zu items; at most %zu are allowed", key, json_array_size(v), max);
	leave(c, save);
	return v && json_array_size(v) && json_array_size(v) <= max ? v : NULL;
}

static struct np_selector *selector_at(struct np_pctx *c, const json_t *obj, const char *key)
{
	struct np_selector *s = np_arena_alloc(c->inv->arena, sizeof(*s));
	size_t save = enter(c, key);
	np_parse_selector(c, np_json_field(obj, key), s);
	leave(c, save);
	return s;
}

/* pods: {namespaceSelector, podSelector} → ns_sel (empty = all namespaces when optional) and
 * pod_sel. */
static void parse_namespaced_pod(struct np_pctx *c, const json_t *pj, bool ns_required,
				 struct np_selector **ns_sel, struct np_selector **pod_sel)
{
	static const char *const fields[] = { "namespaceSelector", "podSelector", NULL };
	np_json_check_fields(c, pj, fields);
	if (np_json_field(pj, "namespaceSelector")) {
		*ns_sel = selector_at(c, pj, "namespaceSelector");
	} else {
		if (ns_required)
			perr(c, "missing required field \"namespaceSelector\" (use {} for every "
				"namespace)");
		*ns_sel = np_arena_alloc(c->inv->arena, sizeof(**ns_sel));
	}
	if (np_json_field(pj, "podSelector"))
		*pod_sel = selector_at(c, pj, "podSelector");
	else
		perr(c, "missing required field \"podSelector\" (use {} for every pod)");
}

static void parse_subject(struct np_pctx *c, const struct admin_kind *k, const json_t *spec,
			  struct np_admin_policy *ap)
{
	static const char *const keys[] = { "namespaces", "pods", NULL };
	json_t *sj = np_json_get_typed(c, spec, "subject", JSON_OBJECT);
	size_t save = enter(c, "subject");
	if (!sj) {
		if (!np_json_field(spec, "subject"))
			perr(c, "missing required field \"subject\"");
		leave(c, save);
		return;
	}
	np_json_check_fields(c, sj, keys);
	int which = one_of(c, sj, keys, "subject");
	if (which == 0) {
		ap->subj_ns = *selector_at(c, sj, "namespaces");
	} else if (which == 1) {
		json_t *pj = np_json_get_typed(c, sj, "pods", JSON_OBJECT);
		size_t s2 = enter(c, "pods");
		struct np_selector *ns = NULL, *pod = NULL;
		if (pj)
			parse_namespaced_pod(c, pj, k->v1, &ns, &pod);
		if (ns)
			ap->subj_ns = *ns;
		ap->subj_pod = pod;
		leave(c, s2);
	}
	leave(c, save);
}

/* r->peers was sized for every peer the rule can expand to (networks: one per CIDR). */
static struct np_peer *add_peer(struct np_pctx *c, struct np_rule *r)
{
	struct np_peer *p = &r->peers[r->n_peers++];
	memset(p, 0, sizeof(*p));
	p->ptr = np_pctx_here(c);
	return p;
}

/* A networks peer: one ipBlock peer per CIDR, all with the peer's pointer ptr. */
static void parse_networks(struct np_pctx *c, const json_t *pj, const char *ptr,
			   struct np_rule *r)
{
	json_t *nets = bounded_array(c, pj, "networks", 25, true);
	for (size_t i = 0; nets && i < json_array_size(nets); i++) {
		json_t *v = json_array_get(nets, i);
		size_t save = enter(c, "networks");
		np_pctx_enter_i(c, i);
		struct np_cidr cidr;
		bool hb = false;
		char buf[64];
		if (!json_is_string(v)) {
			np_pctx_type_error(c, v, "a string");
		} else if (json_string_length(v) > 43 ||
			   np_cidr_parse(json_string_value(v), &cidr, &hb) < 0) {
			perr(c, "invalid CIDR \"%s\" (want e.g. 10.0.0.0/8 or fd00::/64)",
			     json_string_value(v));
		} else {
			if (hb)
				np_pctx_note(c, "CIDR %s has host bits set; it means %s",
					     json_string_value(v), np_cidr_str(&cidr, buf));
			for (size_t j = 0; j < i; j++)
				if (json_equal(v, json_array_get(nets, j)))
					perr(c, "duplicate entry \"%s\" (networks is a set)",
					     json_string_value(v));
			struct np_peer *p = add_peer(c, r);
			p->ptr = ptr;
			p->ipblock = np_arena_alloc(c->inv->arena, sizeof(*p->ipblock));
			p->ipblock->cidr = cidr;
		}
		leave(c, save);
	}
}

/* One from[]/to[] element (c->p at it). Returns whether the peer can carry named ports. */
static bool parse_peer(struct np_pctx *c, const struct admin_kind *k, const json_t *pj,
		       bool ingress, struct np_rule *r)
{
	static const char *const in_keys[] = { "namespaces", "pods", NULL };
	static const char *const out_keys[] = { "namespaces", "pods", "nodes", "networks",
						"domainNames", NULL };
	const char *const *keys = ingress ? in_keys : out_keys;
	np_json_check_fields(c, pj, keys);
	if (!k->domain_names && np_json_field(pj, "domainNames"))
		return true; /* already an unknown field */
	int which = one_of(c, pj, keys, ingress ? "ingress peer" : "egress peer");
	const char *ptr = np_pctx_here(c);
	struct np_peer *p;
	switch (which) {
	case 0: /* every pod of the matching namespaces */
		p = add_peer(c, r);
		p->ns_sel = selector_at(c, pj, "namespaces");
		return true;
	case 1: {
		json_t *pods = np_json_get_typed(c, pj, "pods", JSON_OBJECT);
		size_t save = enter(c, "pods");
		if (pods) {
			p = add_peer(c, r);
			p->ptr = ptr;
			parse_namespaced_pod(c, pods, k->v1, &p->ns_sel, &p->pod_sel);
		}
		leave(c, save);
		return true;
	}
	case 2:
		p = add_peer(c, r);
		p->node_sel = selector_at(c, pj, "nodes");
		return false;
	case 3:
		parse_networks(c, pj, ptr, r);
		return false;
	case 4: {
		size_t save = enter(c, "domainNames");
		perr(c, "domainNames peers are not supported by netpol (they need DNS answers "
			"snooped on the node); use networks with the addresses instead");
		leave(c, save);
		return false;
	}
	}
	return true;
}

/* An integer 1..65535 at key; 0 after an error. */
static uint16_t port_at(struct np_pctx *c, const json_t *obj, const char *key)
{
	long long v;
	return np_json_get_int(c, obj, key, 1, 65535, &v) ? (uint16_t)v : 0;
}

static void range_at(struct np_pctx *c, const json_t *obj, struct np_port *out)
{
	out->port = port_at(c, obj, "start");
	out->end_port = port_at(c, obj, "end");
	if (out->port && out->end_port && out->port >= out->end_port) {
		perr(c, "start (%u) must be less than end (%u)", out->port, out->end_port);
		out->end_port = 0;
	}
}

static void named_port(struct np_pctx *c, const json_t *v, struct np_port *out)
{
	const char *why;
	if (!json_is_string(v)) {
		np_pctx_type_error(c, v, "a string");
	} else if ((why = np_check_port_name(json_string_value(v)))) {
		perr(c, "invalid port name \"%s\": %s", json_string_value(v), why);
	} else {
		out->name = np_arena_strdup(c->inv->arena, json_string_value(v));
		out->any_proto = true;
	}
}

/* v1alpha2 protocols[] entry: tcp|udp|sctp {destinationPort: {number | range}} or
 * destinationNamedPort. */
static void parse_protocol(struct np_pctx *c, const json_t *pj, struct np_port *out)
{
	static const char *const keys[] = { "tcp", "udp", "sctp", "destinationNamedPort", NULL };
	static const enum np_proto protos[] = { NP_PROTO_TCP, NP_PROTO_UDP, NP_PROTO_SCTP };
	out->ptr = np_pctx_here(c);
	np_json_check_fields(c, pj, keys);
	int which = one_of(c, pj, keys, "protocol");
	if (which < 0)
		return;
	size_t save = enter(c, keys[which]);
	json_t *v = np_json_field(pj, keys[which]);
	if (which == 3) {
		named_port(c, v, out);
		leave(c, save);
		return;
	}
	out->proto = protos[which];
	static const char *const pf[] = { "destinationPort", NULL };
	static const char *const portf[] = { "number", "range", NULL };
	static const char *const rangef[] = { "start", "end", NULL };
	if (!json_is_object(v)) {
		np_pctx_type_error(c, v, "an object");
	} else if (!np_json_field(v, "destinationPort")) {
		/* minProperties: 1 in the CRD; "every port" is range 1-65535 */
		np_json_check_fields(c, v, pf);
		perr(c, "missing required field \"destinationPort\" (for every port of the "
			"protocol, give range {start: 1, end: 65535})");
	} else {
		np_json_check_fields(c, v, pf);
		json_t *dp = np_json_get_typed(c, v, "destinationPort", JSON_OBJECT);
		size_t s2 = enter(c, "destinationPort");
		if (dp) {
			np_json_check_fields(c, dp, portf);
			int w = one_of(c, dp, portf, "destinationPort");
			if (w == 0) {
				out->port = port_at(c, dp, "number");
			} else if (w == 1) {
				json_t *rg = np_json_get_typed(c, dp, "range", JSON_OBJECT);
				size_t s3 = enter(c, "range");
				if (rg) {
					np_json_check_fields(c, rg, rangef);
					range_at(c, rg, out);
				}
				leave(c, s3);
			}
		}
		leave(c, s2);
	}
	leave(c, save);
}

/* v1alpha1 ports[] entry: portNumber {protocol, port} | namedPort | portRange {protocol,
 * start, end}. */
static void parse_v1_port(struct np_pctx *c, const json_t *pj, struct np_port *out)
{
	static const char *const keys[] = { "portNumber", "namedPort", "portRange", NULL };
	static const char *const numf[] = { "protocol", "port", NULL };
	static const char *const rangef[] = { "protocol", "start", "end", NULL };
	out->ptr = np_pctx_here(c);
	np_json_check_fields(c, pj, keys);
	int which = one_of(c, pj, keys, "port");
	if (which < 0)
		return;
	size_t save = enter(c, keys[which]);
	json_t *v = np_json_field(pj, keys[which]);
	if (which == 1) {
		named_port(c, v, out);
	} else if (!json_is_object(v)) {
		np_pctx_type_error(c, v, "an object");
	} else if (which == 0) {
		np_json_check_fields(c, v, numf);
		out->proto = np_json_get_proto(c, v, "protocol");
		out->port = port_at(c, v, "port");
	} else {
		np_json_check_fields(c, v, rangef);
		out->proto = np_json_get_proto(c, v, "protocol");
		range_at(c, v, out);
	}
	leave(c, save);
}

static enum np_action parse_action(struct np_pctx *c, const struct admin_kind *k, const json_t *rj)
{
	const char *a = np_json_get_string(c, rj, "action", true);
	if (!a)
		return NP_ACT_NONE;
	const char *accept = k->v1 ? "Allow" : "Accept";
	if (!strcmp(a, accept))
		return NP_ACT_ACCEPT;
	if (!strcmp(a, "Deny"))
		return NP_ACT_DENY;
	if (!strcmp(a, "Pass") && k->pass_allowed)
		return NP_ACT_PASS;
	size_t save = enter(c, "action");
	const char *hint = "";
	if (!strcmp(a, k->v1 ? "Accept" : "Allow"))
		hint = k->v1 ? " (Accept is the v1alpha2 spelling)" : " (Allow is the v1alpha1 spelling)";
	else if (!strcmp(a, "Pass"))
		hint = " (a BaselineAdminNetworkPolicy has no Pass)";
	perr(c, "unknown action \"%s\" (want %s%s)%s", a, accept,
	     k->pass_allowed ? ", Deny or Pass" : " or Deny", hint);
	leave(c, save);
	return NP_ACT_NONE;
}

static void parse_rules(struct np_pctx *c, const struct admin_kind *k, const json_t *spec,
			bool ingress, struct np_rule **out, size_t *n_out)
{
	const char *key = ingress ? "ingress" : "egress", *peers_key = ingress ? "from" : "to";
	const char *ports_key = k->v1 ? "ports" : "protocols";
	const char *fields[] = { "name", "action", peers_key, ports_key, NULL };
	json_t *rules = np_json_get_typed(c, spec, key, JSON_ARRAY);
	size_t save = enter(c, key);
	if (rules && json_array_size(rules) > k->max) {
		perr(c, "%s has %zu rules; at most %zu are allowed", key, json_array_size(rules),
		     k->max);
		rules = NULL;
	}
	leave(c, save);
	size_t n = rules ? json_array_size(rules) : 0;
	*out = np_arena_alloc(c->inv->arena, (n + 1) * sizeof(**out));
	*n_out = 0;
	NP_EACH_OBJECT(c, rules, key, i, rj, {
		struct np_rule *r = &(*out)[(*n_out)++];
		r->ptr = np_pctx_here(c);
		np_json_check_fields(c, rj, fields);
		const char *name = np_json_get_string(c, rj, "name", false);
		if (name && strlen(name) > 100) {
			size_t s2 = enter(c, "name");
			perr(c, "name is %zu characters; at most 100 are allowed", strlen(name));
			leave(c, s2);
		}
		r->name = name ? np_arena_strdup(c->inv->arena, name) : NULL;
		r->action = parse_action(c, k, rj);
		json_t *peers = bounded_array(c, rj, peers_key, k->max, true);
		json_t *ports = bounded_array(c, rj, ports_key, k->max, false);
		/* networks expand to one peer per CIDR */
		size_t cap = 0;
		for (size_t j = 0; peers && j < json_array_size(peers); j++) {
			json_t *nets = np_json_field(json_array_get(peers, j), "networks");
			cap += json_is_array(nets) ? json_array_size(nets) + 1 : 1;
		}
		r->peers = np_arena_alloc(c->inv->arena, (cap + 1) * sizeof(*r->peers));
		r->ports = np_arena_alloc(c->inv->arena,
					  ((ports ? json_array_size(ports) : 0) + 1) * sizeof(*r->ports));
		bool named_ok = true;
		NP_EACH_OBJECT(c, peers, peers_key, j, pj,
			       named_ok &= parse_peer(c, k, pj, ingress, r));
		NP_EACH_OBJECT(c, ports, ports_key, j, pj, {
			struct np_port *p = &r->ports[r->n_ports++];
			if (k->v1)
				parse_v1_port(c, pj, p);
			else
				parse_protocol(c, pj, p);
			if (p->name && !named_ok)
				perr(c, "a named port cannot be used with networks, nodes or "
					"domainNames peers (they have no container ports)");
		});
	});
}

static void parse_admin(struct np_pctx *c, const json_t *obj, const struct admin_kind *k)
{
	static const char *const top[] = { "apiVersion", "kind", "metadata", "spec", "status", NULL };
	const char *sfields[] = { "subject", "ingress", "egress", k->has_tier ? "tier" : NULL,
				  NULL, NULL };
	if (k->has_priority)
		sfields[k->has_tier ? 4 : 3] = "priority";
	struct np_admin_policy ap;
	struct np_meta m;
	memset(&ap, 0, sizeof(ap));
	ap.ref = (struct np_ref){ c->src, c->doc, np_pctx_here(c) };
	ap.kind = k->kind;
	ap.short_kind = k->short_kind;
	ap.tier = k == &BANP ? NP_TIER_BASELINE : NP_TIER_ADMIN;
	np_json_check_fields(c, obj, top);
	np_parse_meta(c, obj, false, false, &m);
	ap.audit = np_parse_audit(c, &m);
	if (k == &BANP && m.name && strcmp(m.name, "default")) {
		size_t save = enter(c, "metadata");
		enter(c, "name");
		perr(c, "a BaselineAdminNetworkPolicy must be named \"default\" (there is only one), "
			"not \"%s\"", m.name);
		leave(c, save);
	}
	json_t *spec = np_json_get_typed(c, obj, "spec", JSON_OBJECT);
	size_t save = enter(c, "spec");
	if (!spec && !np_json_field(obj, "spec"))
		perr(c, "missing required field \"spec\"");
	if (spec) {
		np_json_check_fields(c, spec, sfields);
		if (k->has_tier) {
			const char *tier = np_json_get_string(c, spec, "tier", true);
			size_t s2 = enter(c, "tier");
			if (tier && !strcmp(tier, "Admin"))
				ap.tier = NP_TIER_ADMIN;
			else if (tier && !strcmp(tier, "Baseline"))
				ap.tier = NP_TIER_BASELINE;
			else if (tier)
				perr(c, "unknown tier \"%s\" (want Admin or Baseline; the enum is "
					"case-sensitive)", tier);
			leave(c, s2);
		}
		long long prio;
		if (k->has_priority && np_json_get_int(c, spec, "priority", 0, 1000, &prio))
			ap.priority = (int)prio;
		parse_subject(c, k, spec, &ap);
		parse_rules(c, k, spec, true, &ap.in, &ap.n_in);
		parse_rules(c, k, spec, false, &ap.out, &ap.n_out);
	}
	leave(c, save);
	if (c->errors)
		return;
	ap.name = np_arena_strdup(c->inv->arena, m.name);
	*np_inventory_add_admin(c->inv) = ap;
}

void np_parse_cnp(struct np_pctx *c, const json_t *obj)
{
	parse_admin(c, obj, &CNP);
}

void np_parse_anp(struct np_pctx *c, const json_t *obj)
{
	parse_admin(c, obj, &ANP);
}

void np_parse_banp(struct np_pctx *c, const json_t *obj)
{
	parse_admin(c, obj, &BANP);
}
