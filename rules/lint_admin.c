/* lint_admin.c — warnings about admin-tier policies that are valid but probably not what their
 * author meant: two policies of one tier and priority over the same pods (the API leaves their
 * order open; netpol orders them by name), Pass in the Baseline tier (it only reaches the
 * default, allow), and a rule that can never match because an earlier rule of the same policy
 * always matches first. */
#include <stdio.h>
#include <string.h>

#include "lint.h"

static void warn(struct np_diags *d, const struct np_admin_policy *ap, const char *ptr,
		 const char *msg)
{
	np_diag_add(d, NP_SEV_WARNING, ap->ref.src, ap->ref.doc, ptr ? ptr : ap->ref.ptr, 0, 0,
		    "%s %s: %s", ap->kind, ap->name, msg);
}

static bool sel_equal(const struct np_selector *a, const struct np_selector *b)
{
	if (!a || !b)
		return a == b;
	if (a->match_labels.n != b->match_labels.n || a->n_exprs != b->n_exprs)
		return false;
	for (size_t i = 0; i < a->match_labels.n; i++)
		if (strcmp(a->match_labels.v[i].key, b->match_labels.v[i].key) ||
		    strcmp(a->match_labels.v[i].value, b->match_labels.v[i].value))
			return false;
	for (size_t i = 0; i < a->n_exprs; i++) {
		const struct np_sel_expr *x = &a->exprs[i], *y = &b->exprs[i];
		if (strcmp(x->key, y->key) || x->op != y->op || x->n_values != y->n_values)
			return false;
		for (size_t j = 0; j < x->n_values; j++)
			if (strcmp(x->values[j], y->values[j]))
				return false;
	}
	return true;
}

static bool is_all(const struct np_selector *s)
{
	return !s || np_selector_is_empty(s);
}

/* Does the earlier rule's peer list match every address one peer of a later rule matches? */
static bool peers_cover(const struct np_rule *early, const struct np_peer *p)
{
	bool all4 = false, all6 = false;
	for (size_t i = 0; i < early->n_peers; i++) {
		const struct np_peer *e = &early->peers[i];
		if (e->ipblock && e->ipblock->cidr.prefix == 0)
			*(e->ipblock->cidr.addr.family == 4 ? &all4 : &all6) = true;
	}
	if (all4 && all6 && !p->ipblock)
		return true; /* networks 0.0.0.0/0 and ::/0 match pods and nodes too */
	for (size_t i = 0; i < early->n_peers; i++) {
		const struct np_peer *e = &early->peers[i];
		if (e->ipblock && p->ipblock) {
			if (np_cidr_contains_cidr(&e->ipblock->cidr, &p->ipblock->cidr))
				return true;
		} else if (e->node_sel && p->node_sel) {
			if (is_all(e->node_sel) || sel_equal(e->node_sel, p->node_sel))
				return true;
		} else if (!e->ipblock && !e->node_sel && !p->ipblock && !p->node_sel) {
			if (is_all(e->ns_sel) && is_all(e->pod_sel))
				return true;
			if (sel_equal(e->ns_sel, p->ns_sel) &&
			    (is_all(e->pod_sel) || sel_equal(e->pod_sel, p->pod_sel)))
				return true;
		}
	}
	return false;
}

static bool port_covers(const struct np_port *e, const struct np_port *p)
{
	if (e->name || p->name)
		return e->name && p->name && !strcmp(e->name, p->name) &&
		       (e->any_proto || (!p->any_proto && e->proto == p->proto));
	uint16_t ehi = e->end_port ? e->end_port : e->port, phi = p->end_port ? p->end_port : p->port;
	return e->proto == p->proto && e->port <= p->port && phi <= ehi;
}

/* Does every flow the later rule matches also match the earlier one? */
static bool rule_covers(const struct np_rule *early, const struct np_rule *late)
{
	for (size_t i = 0; i < late->n_peers; i++)
		if (!peers_cover(early, &late->peers[i]))
			return false;
	if (!early->n_ports)
		return true;
	if (!late->n_ports)
		return false;
	for (size_t i = 0; i < late->n_ports; i++) {
		size_t j = 0;
		while (j < early->n_ports && !port_covers(&early->ports[j], &late->ports[i]))
			j++;
		if (j == early->n_ports)
			return false;
	}
	return true;
}

static void lint_rules(const struct np_admin_policy *ap, const struct np_rule *rules, size_t n,
		       const char *dir, struct np_diags *d)
{
	for (size_t i = 0; i < n; i++) {
		char msg[400];
		if (rules[i].action == NP_ACT_PASS && ap->tier == NP_TIER_BASELINE) {
			snprintf(msg, sizeof(msg), "%s[%zu]: Pass in the Baseline tier goes to the "
				 "default, which allows: here it means the same as Accept", dir, i);
			warn(d, ap, rules[i].ptr, msg);
		}
		for (size_t j = 0; j < i; j++) {
			if (!rule_covers(&rules[j], &rules[i]))
				continue;
			snprintf(msg, sizeof(msg), "rule %s[%zu] can never match: %s[%zu]%s%s%s "
				 "matches every flow it does, first", dir, i, dir, j,
				 rules[j].name ? " (" : "", rules[j].name ? rules[j].name : "",
				 rules[j].name ? ")" : "");
			warn(d, ap, rules[i].ptr, msg);
			break;
		}
	}
}

static bool subjects_overlap(const struct np_inventory *inv, const struct np_admin_policy *a,
			     const struct np_admin_policy *b)
{
	if (!inv->n_pods) /* nothing to compare with: the same subject at least */
		return sel_equal(&a->subj_ns, &b->subj_ns) && sel_equal(a->subj_pod, b->subj_pod);
	for (size_t i = 0; i < inv->n_pods; i++)
		if (np_admin_selects_pod(inv, a, &inv->pods[i]) &&
		    np_admin_selects_pod(inv, b, &inv->pods[i]))
			return true;
	return false;
}

void np_lint_admin(const struct np_inventory *inv, struct np_diags *d)
{
	for (size_t i = 0; i < inv->n_admins; i++) {
		const struct np_admin_policy *ap = &inv->admins[i];
		lint_rules(ap, ap->in, ap->n_in, "ingress", d);
		lint_rules(ap, ap->out, ap->n_out, "egress", d);
		/* admins are sorted by (tier, priority, name): equal priorities are neighbours */
		for (size_t j = i + 1; j < inv->n_admins; j++) {
			const struct np_admin_policy *b = &inv->admins[j];
			if (b->tier != ap->tier || b->priority != ap->priority)
				break;
			if (!subjects_overlap(inv, ap, b))
				continue;
			char msg[600], ptr[512];
			snprintf(ptr, sizeof(ptr), "%s/spec/priority", b->ref.ptr ? b->ref.ptr : "");
			snprintf(msg, sizeof(msg), "same tier and priority (%d) as %s %s over the same "
				 "pods: the API leaves their order open; netpol evaluates %s first (by "
				 "name)", ap->priority, ap->kind, ap->name, ap->name);
			warn(d, b, ptr, msg);
		}
	}
}
