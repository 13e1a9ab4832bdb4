/* eval.h — the NetworkPolicy v1 semantics as a pure function over the model: is a flow allowed,
 * and why. Independent of the kernel and of the ruleset IR, so it can judge both (netpol reach,
 * netpol explain, and the tests that compare the kernel's behaviour with it).
 *
 * A flow is allowed iff egress is allowed at the source AND ingress at the destination. A pod is
 * isolated in a direction iff some policy selecting it has that direction in its effective
 * policyTypes; an isolated side is allowed only if some rule of a selecting policy matches
 * (union of rules); a non-isolated side is allowed. Host-network pods are never isolated; a pod
 * reaching itself is always allowed; an address outside the cluster enforces nothing itself.
 *
 * The cluster admin tiers wrap that decision, per direction: Admin-tier policies first (by
 * priority, then name), where the first matching rule of a policy decides (Accept allows, Deny
 * drops, Pass skips the rest of the tier); then NetworkPolicy, which decides alone for a pod it
 * isolates in that direction; then Baseline-tier policies the same way (Pass: the default);
 * then the default, allow.
 *
 * Audit mode: a drop decided by policies that all carry netpol.io/audit (a pod chain's end
 * whose isolating policies are all audited, an audited admin policy's Deny), or any drop when
 * the evaluator is told the whole node audits (np_eval_set_audit), lets the packet through as
 * the ruleset does: the side is allowed, with audit set (it "would drop (audit)"). */
#ifndef NETPOL_EVAL_H
#define NETPOL_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* One end of a flow: a pod of the inventory, or a bare address (pod == NULL). addr is the
 * address the flow uses (for a pod: its first address of the flow's family). */
struct np_endpoint {
	const struct np_pod *pod;
	struct np_addr addr;
};

struct np_flow {
	struct np_endpoint src, dst;
	enum np_proto proto;
	uint16_t port;
};

/* Why one side (egress at the source, ingress at the destination) decided as it did. */
enum np_side_why {
	NP_WHY_NOT_ISOLATED,  /* no policy selecting the pod has this direction: allowed */
	NP_WHY_RULE,          /* isolated, and a rule matched: allowed */
	NP_WHY_NO_RULE,       /* isolated, and no rule of the isolating policies matched: dropped */
	NP_WHY_LOOPBACK,      /* the pod talks to itself: allowed */
	NP_WHY_HOST_NETWORK,  /* host-network pods are never isolated: allowed */
	NP_WHY_EXTERNAL,      /* a bare address outside the cluster enforces nothing: allowed */
	NP_WHY_FROM_NODE,     /* traffic to or from the pod's own node (a Node InternalIP of its
			       * nodeName, or a host-network pod there) is never filtered: allowed */
	NP_WHY_ADMIN,         /* an Admin-tier rule (Accept or Deny) decided: sv->admin, admin_rule */
	NP_WHY_BASELINE,      /* a Baseline-tier rule (Accept or Deny) decided */
};

#define NP_EVAL_ALL SIZE_MAX /* peer/port index when the rule has no peers / no ports */

struct np_side_verdict {
	bool allowed;         /* the packet passes this side (an audited drop passes) */
	bool audit;           /* it passes only because the drop is audited: without audit mode
				 this side would drop it (why and the policies say which drop) */
	enum np_side_why why;
	bool isolated;
	const struct np_policy **isolating; /* the policies isolating this side, in inventory order */
	size_t n_isolating;
	/* NP_WHY_RULE: the first matching policy, its rule index (in ingress[]/egress[]), and the
	 * peer and port indexes that matched (NP_EVAL_ALL when the rule has none). */
	const struct np_policy *policy;
	size_t rule, peer, port;
	/* NP_WHY_ADMIN / NP_WHY_BASELINE: the deciding admin policy and rule index (peer, port as
	 * above). */
	const struct np_admin_policy *admin;
	size_t admin_rule;
	/* A Pass taken on the way, per tier (NULL when none): the policy and its rule index. An
	 * Admin Pass hands the flow to NetworkPolicy, a Baseline Pass to the default (allow). */
	const struct np_admin_policy *pass_admin, *pass_baseline;
	size_t pass_admin_rule, pass_baseline_rule;
};

struct np_verdict {
	bool allowed;
	struct np_side_verdict egress;  /* at the source */
	struct np_side_verdict ingress; /* at the destination */
};

/* An evaluator over one finished inventory (which must outlive it). It precomputes which
 * policies isolate each pod, so a verdict costs O(policies selecting the two pods). */
struct np_eval;

/* Returns NULL only when out of memory. */
struct np_eval *np_eval_new(const struct np_inventory *inv);
/* Frees ev; its inventory may already be gone (policyd's commit frees the model it replaced
 * before the flow collector moves to the new one). */
void np_eval_free(struct np_eval *ev);
/* Audit mode for the whole node (policyd --audit, netpol apply --audit): every drop passes,
 * audited. */
void np_eval_set_audit(struct np_eval *ev, bool node_audit);

/* Fills *out with pod's endpoint for family (4 or 6): 0, or -EADDRNOTAVAIL when the pod has no
 * address of that family (it cannot be an end of such a flow). */
int np_endpoint_pod(const struct np_pod *pod, int family, struct np_endpoint *out);
/* Fills *out for an address: the pod (not host-network) that owns it when there is one, else a
 * bare address. Always 0. */
int np_endpoint_addr(const struct np_inventory *inv, const struct np_addr *addr,
		     struct np_endpoint *out);

/* The policies isolating pod (of ev's inventory) in one direction, in inventory order (*n = 0:
 * none); owned by ev. */
const struct np_policy *const *np_eval_isolating(const struct np_eval *ev,
						 const struct np_pod *pod, bool ingress, size_t *n);

/* Does the flow pass (an audited drop passes)? No allocation; false for a malformed flow
 * (families differ). */
bool np_eval_allowed(const struct np_eval *ev, const struct np_flow *flow);

/* The verdict with its reasons: 0, or -EINVAL when the two ends' families differ. On success
 * *out owns allocated lists: release them with np_verdict_clear. */
int np_eval_explain(const struct np_eval *ev, const struct np_flow *flow, struct np_verdict *out);
void np_verdict_clear(struct np_verdict *v);

const char *np_side_why_str(enum np_side_why why);

#endif
