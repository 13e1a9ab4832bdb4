/* eval.c — the NetworkPolicy v1 verdict for one flow, straight from the API reference, with no
 * knowledge of nftables: it is the oracle the kernel ruleset is tested against, so it must stay
 * simple enough to check by reading. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "xalloc.h"

/* What selects one pod, found the first time a verdict needs it: a judge of a handful of flows
 * (the conntrack step after a change) must not pay for every pod of a 10,000-pod cluster. */
struct pod_sel {
	bool done;
	const struct np_policy **in, **out;  /* the policies isolating it, per direction */
	size_t n_in, n_out;
	const struct np_admin_policy **adm;  /* admin policies whose subject selects it, in
						evaluation order */
	size_t n_adm;
};

struct np_eval {
	const struct np_inventory *inv;
	bool audit;          /* the whole node audits */
	struct pod_sel *sel; /* per pod (index into inv->pods) */
	size_t n_pods;       /* inv->n_pods: freeing needs no inventory (it may be gone) */
};

/* The selections of pod i, computed on first use. The cache is not part of what an evaluator
 * means, so verdicts keep taking a const evaluator. */
static const struct pod_sel *pod_sel(const struct np_eval *cev, size_t i)
{
	struct np_eval *ev = (struct np_eval *)cev;
	struct pod_sel *ps = &ev->sel[i];
	if (ps->done)
		return ps;
	const struct np_inventory *inv = ev->inv;
	const struct np_pod *pod = &inv->pods[i];
	ps->in = xcalloc(inv->n_pols, sizeof(*ps->in));
	ps->out = xcalloc(inv->n_pols, sizeof(*ps->out));
	for (size_t j = 0; j < inv->n_pols; j++) {
		const struct np_policy *pol = &inv->pols[j];
		if (!(pol->ingress || pol->egress) || !np_policy_selects_pod(pol, pod))
			continue;
		if (pol->ingress)
			ps->in[ps->n_in++] = pol;
		if (pol->egress)
			ps->out[ps->n_out++] = pol;
	}
	ps->adm = xcalloc(inv->n_admins, sizeof(*ps->adm));
	for (size_t j = 0; j < inv->n_admins; j++)
		if (np_admin_selects_pod(inv, &inv->admins[j], pod))
			ps->adm[ps->n_adm++] = &inv->admins[j];
	ps->done = true;
	return ps;
}

struct np_eval *np_eval_new(const struct np_inventory *inv)
{
	struct np_eval *ev = calloc(1, sizeof(*ev));
	if (!ev)
		return NULL;
	ev->inv = inv;
	ev->n_pods = inv->n_pods;
	ev->sel = xcalloc(inv->n_pods, sizeof(*ev->sel));
	return ev;
}

void np_eval_set_audit(struct np_eval *ev, bool node_audit)
{
	ev->audit = node_audit;
}

void np_eval_free(struct np_eval *ev)
{
	if (!ev)
		return;
	for (size_t i = 0; i < ev->n_pods; i++) {
		free(ev->sel[i].in);
		free(ev->sel[i].out);
		free(ev->sel[i].adm);
	}
	free(ev->sel);
	free(ev);
}

int np_endpoint_pod(const struct np_pod *pod, int family, struct np_endpoint *out)
{
	for (size_t i = 0; i < pod->n_ips; i++) {
		if (pod->ips[i].family != family)
			continue;
		out->pod = pod;
		out->addr = pod->ips[i];
		return 0;
	}
	return -EADDRNOTAVAIL;
}

int np_endpoint_addr(const struct np_inventory *inv, const struct np_addr *addr,
		     struct np_endpoint *out)
{
	out->pod = NULL;
	out->addr = *addr;
	/* A host-network pod's address is its node's: traffic from it is the node's, not a pod's. */
	for (size_t i = 0; i < inv->n_pods; i++) {
		const struct np_pod *pod = &inv->pods[i];
		if (pod->host_network)
			continue;
		for (size_t j = 0; j < pod->n_ips; j++)
			if (!np_addr_cmp(&pod->ips[j], addr)) {
				out->pod = pod;
				return 0;
			}
	}
	return 0;
}

/* The policies isolating pod in one direction. */
static const struct np_policy *const *isolating(const struct np_eval *ev, const struct np_pod *pod,
						 bool ingress, size_t *n)
{
	const struct np_inventory *inv = ev->inv;
	if (pod < inv->pods || pod >= inv->pods + inv->n_pods) {
		*n = 0; /* not a pod of this inventory: nothing selects it */
		return NULL;
	}
	const struct pod_sel *ps = pod_sel(ev, (size_t)(pod - inv->pods));
	*n = ingress ? ps->n_in : ps->n_out;
	return ingress ? ps->in : ps->out;
}

const struct np_policy *const *np_eval_isolating(const struct np_eval *ev,
						 const struct np_pod *pod, bool ingress, size_t *n)
{
	return isolating(ev, pod, ingress, n);
}

static bool ipblock_contains(const struct np_ipblock *b, const struct np_addr *a)
{
	if (b->cidr.addr.family != a->family || !np_cidr_contains(&b->cidr, a))
		return false;
	for (size_t i = 0; i < b->n_except; i++)
		if (np_cidr_contains(&b->except[i], a))
			return false;
	return true;
}

/* Does peer (of a policy in policy_ns) match the far end of the flow? Selectors match pods;
 * an ipBlock matches by the flow's address, a pod's too (as a packet's address is matched: a
 * pod's other addresses do not count). */
static bool peer_matches(const struct np_inventory *inv, const char *policy_ns,
			 const struct np_peer *peer, const struct np_endpoint *far)
{
	if (peer->ipblock)
		return ipblock_contains(peer->ipblock, &far->addr);
	if (peer->node_sel) /* a host-network pod's address is its node's */
		return (!far->pod || far->pod->host_network) &&
		       np_node_sel_has_addr(inv, peer->node_sel, &far->addr);
	return far->pod && np_peer_selects_pod(inv, policy_ns, peer, far->pod);
}

/* Does ports[] entry e admit the flow? Named ports resolve on the destination pod, by name and
 * protocol; a bare address has none, and neither has a host-network pod: its address is the
 * node's (np_endpoint_addr), so naming it must not change the answer, and the ruleset's
 * named-port sets leave it out too. */
static bool port_matches(const struct np_port *e, const struct np_flow *f)
{
	if (!e->any_proto && e->proto != f->proto)
		return false;
	if (e->name) {
		const struct np_pod *dst = f->dst.pod;
		if (!dst || dst->host_network)
			return false;
		for (size_t i = 0; i < dst->n_ports; i++) {
			const struct np_container_port *cp = &dst->ports[i];
			if (cp->name && !strcmp(cp->name, e->name) && cp->proto == f->proto &&
			    cp->port == f->port)
				return true;
		}
		return false;
	}
	if (e->port == 0)
		return true; /* protocol only: every port of it */
	uint16_t hi = e->end_port ? e->end_port : e->port;
	return f->port >= e->port && f->port <= hi;
}

/* Does rule admit the flow? Returns the peer and port indexes that matched. */
static bool rule_matches(const struct np_inventory *inv, const struct np_policy *pol,
			 const struct np_rule *r, const struct np_endpoint *far,
			 const struct np_flow *f, size_t *peer_i, size_t *port_i)
{
	*peer_i = NP_EVAL_ALL;
	*port_i = NP_EVAL_ALL;
	if (r->n_peers) {
		size_t i;
		for (i = 0; i < r->n_peers; i++)
			if (peer_matches(inv, pol->ns, &r->peers[i], far))
				break;
		if (i == r->n_peers)
			return false;
		*peer_i = i;
	}
	if (r->n_ports) {
		size_t i;
		for (i = 0; i < r->n_ports; i++)
			if (port_matches(&r->ports[i], f))
				break;
		if (i == r->n_ports)
			return false;
		*port_i = i;
	}
	return true;
}

/* Is far the node that self runs on? Its Node object's InternalIPs, or a host-network pod
 * scheduled there (its address is the node's). Traffic to and from the pod's own node is always
 * allowed (the NetworkPolicy concepts page; kubelet probes, node-local DNS): the node's own
 * traffic to its pods takes the output path, and a pod's traffic to its node the input path,
 * neither of which netpol filters. */
static bool own_node(const struct np_inventory *inv, const struct np_pod *self,
			  const struct np_endpoint *far)
{
	if (!self->node)
		return false;
	if (far->pod)
		return far->pod->host_network && far->pod->node && !strcmp(far->pod->node, self->node);
	for (size_t i = 0; i < inv->n_nodes; i++)
		if (!strcmp(inv->nodes[i].name, self->node))
			for (size_t j = 0; j < inv->nodes[i].n_addrs; j++)
				if (!np_addr_cmp(&inv->nodes[i].addrs[j], &far->addr))
					return true;
	for (size_t i = 0; i < inv->n_pods; i++) {
		const struct np_pod *p = &inv->pods[i];
		if (p->host_network && p->node && !strcmp(p->node, self->node))
			for (size_t j = 0; j < p->n_ips; j++)
				if (!np_addr_cmp(&p->ips[j], &far->addr))
					return true;
	}
	return false;
}

/* One admin tier for self, per direction: the first matching rule of each selecting policy, in
 * order. Returns true when Accept or Deny decided (sv filled); false to go on (a Pass taken is
 * recorded in sv). */
static bool tier_eval(const struct np_eval *ev, const struct np_flow *f, bool ingress,
		      enum np_tier tier, struct np_side_verdict *sv)
{
	const struct np_endpoint *self = ingress ? &f->dst : &f->src;
	const struct np_endpoint *far = ingress ? &f->src : &f->dst;
	const struct np_inventory *inv = ev->inv;
	if (self->pod < inv->pods || self->pod >= inv->pods + inv->n_pods)
		return false;
	const struct pod_sel *ps = pod_sel(ev, (size_t)(self->pod - inv->pods));
	for (size_t k = 0; k < ps->n_adm; k++) {
		const struct np_admin_policy *ap = ps->adm[k];
		if (ap->tier != tier)
			continue;
		const struct np_rule *rules = ingress ? ap->in : ap->out;
		size_t n = ingress ? ap->n_in : ap->n_out;
		/* the rule matcher wants a policy for its namespace; admin peers always name
		 * their namespaces, so an empty one serves */
		static const struct np_policy cluster = { .ns = "", .name = "" };
		for (size_t r = 0; r < n; r++) {
			size_t peer_i, port_i;
			if (!rule_matches(inv, &cluster, &rules[r], far, f, &peer_i, &port_i))
				continue;
			if (rules[r].action == NP_ACT_PASS) {
				if (tier == NP_TIER_ADMIN) {
					sv->pass_admin = ap;
					sv->pass_admin_rule = r;
				} else {
					sv->pass_baseline = ap;
					sv->pass_baseline_rule = r;
				}
				return false; /* the rest of this tier is skipped */
			}
			sv->allowed = rules[r].action == NP_ACT_ACCEPT;
			if (!sv->allowed && (ap->audit || ev->audit))
				sv->allowed = sv->audit = true; /* logged, let through */
			sv->why = tier == NP_TIER_ADMIN ? NP_WHY_ADMIN : NP_WHY_BASELINE;
			sv->admin = ap;
			sv->admin_rule = r;
			sv->peer = peer_i;
			sv->port = port_i;
			return true;
		}
	}
	return false;
}

/* Decides one side. With want_list, sv->isolating is an allocated copy of the isolating
 * policies; without, it is left NULL (np_eval_allowed allocates nothing). */
static void side_eval(const struct np_eval *ev, const struct np_flow *f, bool ingress,
		      bool want_list, struct np_side_verdict *sv)
{
	const struct np_endpoint *self = ingress ? &f->dst : &f->src;
	const struct np_endpoint *far = ingress ? &f->src : &f->dst;

	memset(sv, 0, sizeof(*sv));
	sv->allowed = true;
	if (!self->pod) {
		sv->why = NP_WHY_EXTERNAL;
		return;
	}
	if (self->pod->host_network) {
		sv->why = NP_WHY_HOST_NETWORK;
		return;
	}
	if (f->src.pod == f->dst.pod) {
		sv->why = NP_WHY_LOOPBACK;
		return;
	}
	/* like the two above, decided before isolation: no policy is consulted */
	if (own_node(ev->inv, self->pod, far)) {
		sv->why = NP_WHY_FROM_NODE;
		return;
	}
	if (tier_eval(ev, f, ingress, NP_TIER_ADMIN, sv))
		return;
	size_t n;
	const struct np_policy *const *pols = isolating(ev, self->pod, ingress, &n);
	if (!n) {
		/* not isolated by NetworkPolicy: the Baseline tier, then the default (allow) */
		if (!tier_eval(ev, f, ingress, NP_TIER_BASELINE, sv))
			sv->why = NP_WHY_NOT_ISOLATED;
		return;
	}
	sv->isolated = true;
	if (want_list) {
		sv->isolating = xcalloc(n, sizeof(*sv->isolating));
		memcpy(sv->isolating, pols, n * sizeof(*pols));
		sv->n_isolating = n;
	}
	for (size_t i = 0; i < n; i++) {
		const struct np_policy *pol = pols[i];
		const struct np_rule *rules = ingress ? pol->in : pol->out;
		size_t n_rules = ingress ? pol->n_in : pol->n_out;
		for (size_t r = 0; r < n_rules; r++) {
			size_t peer_i, port_i;
			if (!rule_matches(ev->inv, pol, &rules[r], far, f, &peer_i, &port_i))
				continue;
			sv->why = NP_WHY_RULE;
			sv->policy = pol;
			sv->rule = r;
			sv->peer = peer_i;
			sv->port = port_i;
			return;
		}
	}
	sv->why = NP_WHY_NO_RULE;
	/* the pod chain's end logs and lets through when every isolating policy audits */
	bool audit = true;
	for (size_t i = 0; i < n; i++)
		audit &= pols[i]->audit;
	sv->allowed = sv->audit = audit || ev->audit;
}

static bool flow_valid(const struct np_flow *f)
{
	return f->src.addr.family == f->dst.addr.family &&
	       (f->src.addr.family == 4 || f->src.addr.family == 6);
}

bool np_eval_allowed(const struct np_eval *ev, const struct np_flow *flow)
{
	struct np_side_verdict sv;
	if (!flow_valid(flow))
		return false;
	side_eval(ev, flow, false, false, &sv);
	if (!sv.allowed)
		return false;
	side_eval(ev, flow, true, false, &sv);
	return sv.allowed;
}

int np_eval_explain(const struct np_eval *ev, const struct np_flow *flow, struct np_verdict *out)
{
	if (!flow_valid(flow))
		return -EINVAL;
	/* Both sides are always evaluated, even when egress already drops, so explain can name
	 * every policy in the way. */
	side_eval(ev, flow, false, true, &out->egress);
	side_eval(ev, flow, true, true, &out->ingress);
	out->allowed = out->egress.allowed && out->ingress.allowed;
	return 0;
}

void np_verdict_clear(struct np_verdict *v)
{
	if (!v)
		return;
	free(v->egress.isolating);
	free(v->ingress.isolating);
	memset(v, 0, sizeof(*v));
}

const char *np_side_why_str(enum np_side_why why)
{
	switch (why) {
	case NP_WHY_NOT_ISOLATED:
		return "not isolated";
	case NP_WHY_RULE:
		return "allowed by a rule";
	case NP_WHY_NO_RULE:
		return "no rule allows it";
	case NP_WHY_LOOPBACK:
		return "a pod reaching itself is always allowed";
	case NP_WHY_HOST_NETWORK:
		return "host-network pods are never isolated";
	case NP_WHY_EXTERNAL:
		return "outside the cluster: not enforced here";
	case NP_WHY_FROM_NODE:
		return "to or from the pod's own node: never filtered";
	case NP_WHY_ADMIN:
		return "decided by an Admin-tier rule";
	case NP_WHY_BASELINE:
		return "decided by a Baseline-tier rule";
	}
	return "?";
}
