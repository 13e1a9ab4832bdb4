/* lint.c — warnings for valid policies that select nothing, name ports nobody has, or cut pods
 * off from DNS. Every warning points into the policy's own file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lint.h"
#include "xalloc.h"

static void warn(struct np_diags *d, const struct np_policy *pol, const char *ptr,
		 const char *suffix, const char *msg)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s%s", ptr ? ptr : pol->ref.ptr ? pol->ref.ptr : "", suffix);
	np_diag_add(d, NP_SEV_WARNING, pol->ref.src, pol->ref.doc, p, 0, 0, "policy %s/%s: %s",
		    pol->ns, pol->name, msg);
}

static bool pod_has_port(const struct np_pod *pod, const char *name, enum np_proto proto)
{
	for (size_t i = 0; i < pod->n_ports; i++)
		if (pod->ports[i].name && !strcmp(pod->ports[i].name, name) &&
		    pod->ports[i].proto == proto)
			return true;
	return false;
}

static bool ns_selected(const struct np_inventory *inv, const struct np_selector *sel)
{
	for (size_t i = 0; i < inv->n_nss; i++)
		if (np_selector_matches(sel, &inv->nss[i].labels))
			return true;
	return false;
}

static void lint_peers(const struct np_inventory *inv, const struct np_policy *pol,
		       const struct np_rule *r, struct np_diags *d)
{
	for (size_t k = 0; k < r->n_peers; k++) {
		const struct np_peer *peer = &r->peers[k];
		if (peer->ipblock)
			continue;
		bool any = false;
		for (size_t i = 0; i < inv->n_pods && !any; i++)
			any = np_peer_selects_pod(inv, pol->ns, peer, &inv->pods[i]);
		if (any)
			continue;
		if (!peer->ns_sel)
			warn(d, pol, peer->ptr, "", "peer selects no pod");
		else if (!ns_selected(inv, peer->ns_sel))
			warn(d, pol, peer->ptr, "", "peer selects no pod and no namespace");
	}
}

/* ingress: the policy's own pods are the destinations; egress: any pod may be */
static void lint_named_ports(const struct np_inventory *inv, const struct np_policy *pol,
			     const struct np_rule *r, bool ingress, struct np_diags *d)
{
	for (size_t k = 0; k < r->n_ports; k++) {
		const struct np_port *pt = &r->ports[k];
		if (!pt->name)
			continue;
		bool found = false;
		size_t lo = 0, hi = inv->n_pods;
		if (ingress)
			np_inventory_ns_pods(inv, pol->ns, &lo, &hi);
		for (size_t i = lo; i < hi && !found; i++) {
			const struct np_pod *pod = &inv->pods[i];
			if (ingress && !np_policy_selects_pod(pol, pod))
				continue;
			found = pod_has_port(pod, pt->name, pt->proto);
		}
		if (found)
			continue;
		char msg[256];
		snprintf(msg, sizeof(msg), "named port \"%s\" (%s) is defined by no %s", pt->name,
			 np_proto_name(pt->proto),
			 ingress ? "pod this policy selects" : "pod (egress matches it on no pod)");
		warn(d, pol, pt->ptr, "/port", msg);
	}
}

/* Could this rule let traffic to port 53 of proto out? Named ports count when some pod
 * defines that name as 53. */
static bool rule_allows_53(const struct np_inventory *inv, const struct np_rule *r,
			   enum np_proto proto)
{
	if (!r->n_ports)
		return true;
	for (size_t k = 0; k < r->n_ports; k++) {
		const struct np_port *pt = &r->ports[k];
		if (pt->proto != proto)
			continue;
		if (!pt->name && (!pt->port || pt->port == 53 ||
				  (pt->end_port && pt->port <= 53 && 53 <= pt->end_port)))
			return true;
		for (size_t i = 0; pt->name && i < inv->n_pods; i++)
			for (size_t j = 0; j < inv->pods[i].n_ports; j++) {
				const struct np_container_port *cp = &inv->pods[i].ports[j];
				if (cp->name && !strcmp(cp->name, pt->name) && cp->proto == proto &&
				    cp->port == 53)
					return true;
			}
	}
	return false;
}

static bool pod_reaches_dns(const struct np_inventory *inv, const struct np_pod *pod)
{
	for (size_t i = 0; i < inv->n_pols; i++) {
		const struct np_policy *p = &inv->pols[i];
		if (!p->egress || !np_policy_selects_pod(p, pod))
			continue;
		for (size_t k = 0; k < p->n_out; k++)
			if (rule_allows_53(inv, &p->out[k], NP_PROTO_UDP) ||
			    rule_allows_53(inv, &p->out[k], NP_PROTO_TCP))
				return true;
	}
	return false;
}

/* dns[i]: pod i reaches port 53 (1), does not (0), not computed yet (-1); computed once per
 * pod, since every egress policy selecting a pod asks the same question */
static void lint_pods(const struct np_inventory *inv, const struct np_policy *pol,
		      signed char *dns, struct np_diags *d)
{
	size_t selected = 0, host = 0;
	const struct np_pod *first_host = NULL, *no_dns = NULL;
	size_t lo, hi;
	np_inventory_ns_pods(inv, pol->ns, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		const struct np_pod *pod = &inv->pods[i];
		if (np_policy_selects_pod(pol, pod)) {
			selected++;
			if (pol->egress && !no_dns && dns[i] < 0)
				dns[i] = pod_reaches_dns(inv, pod);
			if (pol->egress && !no_dns && !dns[i])
				no_dns = pod;
		} else if (pod->host_network && np_selector_matches(&pol->pod_sel, &pod->labels)) {
			if (!host++)
				first_host = pod;
		}
	}
	char msg[512];
	if (host) {
		snprintf(msg, sizeof(msg),
			 "selects %zu host-network pod%s (%s/%s%s); host-network pods are never "
			 "isolated",
			 host, host > 1 ? "s" : "", first_host->ns, first_host->name,
			 host > 1 ? ", ..." : "");
		warn(d, pol, NULL, "/spec/podSelector", msg);
	} else if (!selected) {
		warn(d, pol, NULL, "/spec/podSelector", "selects no pod");
	}
	if (no_dns) {
		snprintf(msg, sizeof(msg),
			 "pod %s/%s cannot reach DNS (UDP or TCP port 53) under any egress policy "
			 "selecting it; name resolution will fail",
			 no_dns->ns, no_dns->name);
		warn(d, pol, NULL, pol->n_out ? "/spec/egress" : "/spec", msg);
	}
}

void np_lint(const struct np_inventory *inv, struct np_diags *d)
{
	signed char *dns = xmalloc(inv->n_pods + 1);
	memset(dns, -1, inv->n_pods + 1);
	for (size_t i = 0; i < inv->n_pols; i++) {
		const struct np_policy *pol = &inv->pols[i];
		/* rules for a direction policyTypes leaves out are ignored by Kubernetes */
		if (!pol->ingress && pol->n_in)
			warn(d, pol, NULL, "/spec/ingress",
			     "ingress rules are ignored: policyTypes does not include Ingress");
		if (!pol->egress && pol->n_out)
			warn(d, pol, NULL, "/spec/egress",
			     "egress rules are ignored: policyTypes does not include Egress");
		if (!inv->n_pods)
			continue;
		lint_pods(inv, pol, dns, d);
		for (size_t k = 0; pol->ingress && k < pol->n_in; k++) {
			lint_peers(inv, pol, &pol->in[k], d);
			lint_named_ports(inv, pol, &pol->in[k], true, d);
		}
		for (size_t k = 0; pol->egress && k < pol->n_out; k++) {
			lint_peers(inv, pol, &pol->out[k], d);
			lint_named_ports(inv, pol, &pol->out[k], false, d);
		}
	}
	free(dns);
	np_lint_admin(inv, d);
}
