/* build_tiers.c — the dispatch: the maps and base chains every packet goes through, and the
 * cluster admin tiers around NetworkPolicy, in the same table.
 *
 * Per direction, each base chain dispatches by pod address in tier order:
 *
 *     ip saddr vmap @aegr4   Admin tier      goto adm-out-HASH  (the pod's Admin policies)
 *     ip saddr vmap @egr4    NetworkPolicy   goto egr-NS/POD    (always ends in accept or drop)
 *     ip saddr vmap @begr4   Baseline tier   goto bl-out-HASH
 *     (policy accept)        the default
 *
 * An element exists only for a local pod an admin policy of that tier selects with rules in
 * that direction, so a pod no admin policy selects pays one more hash miss per tier, whatever
 * the number of pods and policies. A tier chain (adm-/bl-DIR-HASH, shared by every pod with the
 * same policies, named by a hash of their list) jumps each policy's chain in evaluation order;
 * a policy chain's rules end in the rule's action: Accept = accept (ends this base chain only:
 * the other direction's base chain still runs), Deny = goto the direction's logged drop point
 * (tier-deny-DIR; tier-audit-DIR, a logged accept, under audit), Pass = goto the chain that holds
 * the rest of the dispatch (tier-np-DIR: NetworkPolicy, Baseline, accept) in the Admin tier, or
 * accept (the default) in the Baseline tier. A tier chain that finds no match ends the same way.
 * Every path ends in a verdict, so nothing relies on what `return` from a goto'd chain does.
 * Everything admin is added only when the inventory has admin policies, so a NetworkPolicy-only
 * ruleset is unchanged by them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "sbuf.h"

const char *const build_disp_maps[4] = { "ing4", "ing6", "egr4", "egr6" };

static const char *const tier_maps[2][2][2] = {
	/* [baseline][ingress][v6] */
	{ { "aegr4", "aegr6" }, { "aing4", "aing6" } },
	{ { "begr4", "begr6" }, { "bing4", "bing6" } },
};

static const char *np_chain(bool ingress)
{
	return ingress ? "tier-np-in" : "tier-np-out";
}

/* Where a Deny rule goes: the direction's drop point, logged (tier-deny-DIR), or under audit
 * (the policy's annotation, or the node's --audit) its logged accept (tier-audit-DIR). The
 * rule's own named counter has counted it on the way. */
static const char *deny_chain(bool ingress, bool audit)
{
	return audit ? (ingress ? "tier-audit-in" : "tier-audit-out")
		     : (ingress ? "tier-deny-in" : "tier-deny-out");
}

/* An admin policy as a policy rule expands under: admin peers always name their namespaces,
 * and the kind/name pair ("CNP/egress-tcp") is unique, so it serves where a NetworkPolicy's
 * namespace/name would (set origins, named-port set names). */
struct admin_subject {
	struct np_policy shim;
	size_t *v; /* the local pods it selects (indexes into inv->pods, ascending) */
	size_t n, cap;
};

struct build_admin {
	struct admin_subject *v; /* per admin policy */
};

static struct np_policy shim_of(const struct np_admin_policy *ap)
{
	struct np_policy p = { 0 };
	p.ns = ap->short_kind;
	p.name = ap->name;
	p.in = ap->in;
	p.n_in = ap->n_in;
	p.out = ap->out;
	p.n_out = ap->n_out;
	p.ingress = ap->n_in > 0;
	p.egress = ap->n_out > 0;
	p.ref = ap->ref;
	return p;
}

/* The admin policies' shims and the local pods each selects, computed once per build. */
static struct build_admin *admin_subjects(struct builder *b)
{
	const struct np_inventory *inv = b->inv;
	if (b->admin)
		return b->admin;
	builder_local(b);
	b->admin = np_arena_alloc(b->tmp, sizeof(*b->admin));
	b->admin->v = np_arena_alloc(b->tmp, (inv->n_admins + 1) * sizeof(*b->admin->v));
	for (size_t i = 0; i < inv->n_admins; i++) {
		struct admin_subject *s = &b->admin->v[i];
		s->shim = shim_of(&inv->admins[i]);
		for (size_t l = 0; l < b->n_local; l++)
			if (np_admin_selects_pod(inv, &inv->admins[i], &inv->pods[b->local[l]])) {
				ARENA_PUSH(b->tmp, s->v, s->n, s->cap);
				s->v[s->n - 1] = b->local[l];
			}
	}
	return b->admin;
}

void build_dispatch_wants(struct builder *b, struct build_wants *w)
{
	if (!b->inv->n_admins)
		return;
	const struct build_admin *ad = admin_subjects(b);
	for (size_t i = 0; i < b->inv->n_admins; i++) {
		const struct admin_subject *s = &ad->v[i];
		struct build_targets tg = { s->v, s->n };
		for (int dir = 0; s->n && dir < 2; dir++) {
			size_t n_rules;
			const struct np_rule *rules = build_rules(&s->shim, dir, &n_rules);
			for (size_t ri = 0; ri < n_rules; ri++)
				build_rule_wants(b, &s->shim, &tg, &rules[ri], ri, !dir, w);
		}
	}
}

/* ---- maps and base chains ---- */

static void vmap_rules(struct btable *t, struct rs_chain *c, bool ingress, const char *map4,
		       const char *map6)
{
	struct rs_rule *r = btable_rule(t, c);
	r->verdict = ingress ? RS_V_DADDR_VMAP : RS_V_SADDR_VMAP;
	r->target = map4;
	r->family = 4;
	r = btable_rule(t, c);
	r->verdict = ingress ? RS_V_DADDR_VMAP : RS_V_SADDR_VMAP;
	r->target = map6;
	r->family = 6;
}

/* The dispatch rules of the tier before (admin) or after (baseline) NetworkPolicy. */
static void tier_dispatch(struct builder *b, struct btable *t, struct rs_chain *c, bool ingress,
			  bool baseline)
{
	if (b->inv->n_admins)
		vmap_rules(t, c, ingress, tier_maps[baseline][ingress][0],
			   tier_maps[baseline][ingress][1]);
}

static void base_chain(struct builder *b, struct btable *t, const char *name, enum rs_hook hook,
		       int prio, bool ingress)
{
	struct rs_chain *c = btable_chain(t, name);
	c->hook = hook;
	c->prio = prio;
	c->origin = np_arena_printf(t->a, "base chain %s", name);
	/* connections a policy change cut stay cut, both ways (ct.c sets the mark) */
	struct rs_rule *r = btable_rule(t, c);
	r->m[r->n_m].kind = RS_M_CT_MARK_BIT;
	r->m[r->n_m++].mark = RS_CT_MARK_REVOKED;
	r->anon_counter = true;
	r->verdict = RS_V_DROP;
	r = btable_rule(t, c);
	r->m[r->n_m++].kind = RS_M_CT_ESTABLISHED;
	r->verdict = RS_V_ACCEPT;
	/* neighbour discovery from a pod's global address must never hit its egress chain */
	r = btable_rule(t, c);
	r->m[r->n_m++].kind = RS_M_ICMPV6_ND;
	r->verdict = RS_V_ACCEPT;
	tier_dispatch(b, t, c, ingress, false);
	vmap_rules(t, c, ingress, build_disp_maps[ingress ? 0 : 2], build_disp_maps[ingress ? 1 : 3]);
	tier_dispatch(b, t, c, ingress, true);
}

/* ---- admin tiers ---- */

/* One admin policy's chain for a direction; returns its name. */
static const char *policy_chain(struct builder *b, struct btable *t, const struct np_admin_policy *ap,
				const struct admin_subject *s, bool ingress)
{
	struct build_targets tg = { s->v, s->n };
	const char *text = np_arena_printf(t->a, "%s/%s", ap->short_kind, ap->name);
	const char *dir = ingress ? "-in" : "-out";
	const char *name = btable_name(t->a, "apol-", text, dir);
	struct rs_chain *c = btable_chain(t, name);
	c->comment = btable_comment(t->a, np_arena_printf(t->a, "%s tier %s priority %d %s", text,
							  np_tier_name(ap->tier), ap->priority,
							  ingress ? "ingress" : "egress"));
	c->origin = np_arena_printf(t->a, "%s %s %s", ap->kind, ap->name,
				    ingress ? "ingress" : "egress");
	size_t n;
	const struct np_rule *rules = build_rules(&s->shim, !ingress, &n);
	for (size_t i = 0; i < n; i++) {
		const struct np_rule *r = &rules[i];
		char suffix[32];
		snprintf(suffix, sizeof(suffix), "%s-%zu", dir, i);
		struct build_verdict v = { RS_V_ACCEPT, NULL, btable_name(t->a, "cnt-", text, suffix) };
		btable_counter(t, v.counter,
			       btable_comment(t->a, np_arena_printf(t->a, "%s %s[%zu] %s%s%s", text,
								    ingress ? "ingress" : "egress", i,
								    np_action_name(r->action),
								    r->name ? " " : "",
								    r->name ? r->name : "")));
		if (r->action == NP_ACT_DENY) {
			v.verdict = RS_V_GOTO;
			v.target = deny_chain(ingress, ap->audit || b->opt->audit);
		} else if (r->action == NP_ACT_PASS && ap->tier == NP_TIER_ADMIN) {
			v.verdict = RS_V_GOTO; /* skip the rest of the Admin tier */
			v.target = np_chain(ingress);
		}
		build_rule_expand(b, t, c, &s->shim, &tg, r, i, ingress, &v);
	}
	return name;
}

/* tier-np-DIR: where the Admin tier hands over (a Pass, or no match): NetworkPolicy, then the
 * Baseline tier, then the default. */
static void np_handover_chain(struct btable *t, bool ingress)
{
	struct rs_chain *c = btable_chain(t, np_chain(ingress));
	c->comment = btable_comment(t->a, np_arena_printf(t->a, "%s after the Admin tier: "
								"NetworkPolicy, Baseline, allow",
							  ingress ? "ingress" : "egress"));
	c->origin = np_arena_printf(t->a, "%s tier hand-over chain", ingress ? "ingress" : "egress");
	vmap_rules(t, c, ingress, build_disp_maps[ingress ? 0 : 2], build_disp_maps[ingress ? 1 : 3]);
	vmap_rules(t, c, ingress, tier_maps[1][ingress][0], tier_maps[1][ingress][1]);
	btable_rule(t, c)->verdict = RS_V_ACCEPT;
}

/* tier-deny-DIR and tier-audit-DIR: the tiers' drop points (deny_chain). One per direction, so
 * one rate limit logs the Deny drops of every admin policy of the node. */
static void deny_chains(struct builder *b, struct btable *t, bool ingress, bool audit)
{
	const char *what = ingress ? "ingress" : "egress";
	struct rs_chain *c = btable_chain(t, deny_chain(ingress, audit));
	c->comment = btable_comment(t->a, np_arena_printf(t->a, "%s: Admin and Baseline Deny%s",
							  what, audit ? " (audit)" : ""));
	c->origin = np_arena_printf(t->a, "%s tier %s chain", what, audit ? "audit" : "deny");
	struct rs_log_point lp = { .audit = audit, .ingress = ingress, .admin = true };
	build_log_end(b, t, c, &lp);
}

/* The tier chains made so far, by the list of policy chains they jump (joined). */
struct tier_chains {
	struct strmap by_key;
	const char **names;
	size_t n, cap;
};

/* The tier chain for one list of policy chains (texts: the policies, for its comment), created
 * the first time the list is seen. */
static const char *tier_chain(struct builder *b, struct btable *t, struct tier_chains *tc,
			      const char **chains, const char **texts, size_t n, bool ingress,
			      bool baseline)
{
	struct sbuf key = { 0 }, listed = { 0 };
	for (size_t i = 0; i < n; i++) {
		sbuf_puts(&key, chains[i]);
		sbuf_puts(&key, " ");
		sbuf_puts(&listed, i ? ", " : "");
		sbuf_puts(&listed, texts[i]);
	}
	size_t idx;
	const char *name;
	if (strmap_get(&tc->by_key, key.p, &idx)) {
		name = tc->names[idx];
		goto out;
	}
	const char *prefix = baseline ? (ingress ? "bl-in-" : "bl-out-")
				      : (ingress ? "adm-in-" : "adm-out-");
	const char *tier = baseline ? "Baseline" : "Admin";
	const char *what = ingress ? "ingress" : "egress";
	name = btable_hashname(t->a, prefix, key.p);
	struct rs_chain *c = btable_chain(t, name);
	c->comment = btable_comment(t->a, np_arena_printf(t->a, "%s tier %s: %s", tier, what,
							  listed.p));
	c->origin = np_arena_printf(t->a, "%s tier %s chain", tier, what);
	for (size_t i = 0; i < n; i++) {
		struct rs_rule *r = btable_rule(t, c);
		r->verdict = RS_V_JUMP;
		r->target = chains[i];
	}
	/* no rule decided: the next tier (Admin), or the default (Baseline) */
	struct rs_rule *r = btable_rule(t, c);
	if (baseline) {
		r->verdict = RS_V_ACCEPT;
	} else {
		r->verdict = RS_V_GOTO;
		r->target = np_chain(ingress);
	}
	ARENA_PUSH(b->tmp, tc->names, tc->n, tc->cap);
	tc->names[tc->n - 1] = name;
	strmap_put(&tc->by_key, np_arena_strdup(b->tmp, key.p), tc->n - 1);
out:
	free(key.p);
	free(listed.p);
	return name;
}

/* Whether the admin subject s selects pod p (its list is ascending). */
static bool selects(const struct admin_subject *s, size_t p)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->v[mid] < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && s->v[lo] == p;
}

/* The admin policy chains (one per policy, direction with rules and local subject). */
struct tier_policies {
	const char **chain[2]; /* [ingress][policy]: its chain, or NULL */
	const char **text;     /* [policy]: "KIND/name" */
};

/* Local pod p's dispatch elements in the tier maps: per tier and direction, the chain of its
 * policies of that tier, in evaluation order. */
static void pod_tiers(struct builder *b, struct btable *t, const struct tier_policies *tp,
		      struct tier_chains *tc, size_t p, const char **list, const char **tlist)
{
	const struct np_inventory *inv = b->inv;
	const struct np_pod *pod = &inv->pods[p];
	for (int baseline = 0; baseline < 2; baseline++)
		for (int ingress = 0; ingress < 2; ingress++) {
			size_t n = 0;
			for (size_t i = 0; i < inv->n_admins; i++) {
				const char *ch = tp->chain[ingress][i];
				if (!ch ||
				    inv->admins[i].tier != (baseline ? NP_TIER_BASELINE : NP_TIER_ADMIN) ||
				    !selects(&b->admin->v[i], p))
					continue;
				list[n] = ch;
				tlist[n++] = tp->text[i];
			}
			if (!n)
				continue;
			const char *target = tier_chain(b, t, tc, list, tlist, n, ingress, baseline);
			for (size_t k = 0; k < pod->n_ips; k++)
				btable_map_add(t, tier_maps[baseline][ingress][pod->ips[k].family == 6],
					       &pod->ips[k], target);
		}
}

/* The tier chains and dispatch elements for every local pod an admin policy selects. */
static void admin_tiers(struct builder *b, struct btable *t)
{
	const struct np_inventory *inv = b->inv;
	size_t na = inv->n_admins;
	np_handover_chain(t, false);
	np_handover_chain(t, true);
	bool audit = b->opt->audit;
	for (size_t i = 0; i < na; i++)
		audit |= inv->admins[i].audit;
	for (int ingress = 0; ingress < 2; ingress++) {
		deny_chains(b, t, ingress, false);
		if (audit)
			deny_chains(b, t, ingress, true);
	}
	const struct build_admin *ad = admin_subjects(b);
	struct tier_policies tp;
	for (int ingress = 0; ingress < 2; ingress++)
		tp.chain[ingress] = np_arena_alloc(b->tmp, na * sizeof(char *));
	tp.text = np_arena_alloc(b->tmp, na * sizeof(char *));
	for (size_t i = 0; i < na; i++) {
		const struct np_admin_policy *ap = &inv->admins[i];
		tp.text[i] = np_arena_printf(t->a, "%s/%s", ap->short_kind, ap->name);
		if (!ad->v[i].n)
			continue; /* selects no local pod: nothing would jump to it */
		if (ap->n_in)
			tp.chain[1][i] = policy_chain(b, t, ap, &ad->v[i], true);
		if (ap->n_out)
			tp.chain[0][i] = policy_chain(b, t, ap, &ad->v[i], false);
	}
	struct tier_chains tc = { 0 };
	const char **list = np_arena_alloc(b->tmp, na * sizeof(char *));
	const char **tlist = np_arena_alloc(b->tmp, na * sizeof(char *));
	for (size_t l = 0; l < b->n_local; l++)
		pod_tiers(b, t, &tp, &tc, b->local[l], list, tlist);
	strmap_free(&tc.by_key);
}

void build_dispatch(struct builder *b, struct btable *t)
{
	/* maps are created first so they keep this order */
	for (size_t i = 0; i < 4; i++)
		btable_map(t, build_disp_maps[i], i % 2 ? RS_KEY_IPV6 : RS_KEY_IPV4);
	for (int tier = 0; b->inv->n_admins && tier < 2; tier++)
		for (int d = 0; d < 2; d++)
			for (int f = 0; f < 2; f++)
				btable_map(t, tier_maps[tier][d][f], f ? RS_KEY_IPV6 : RS_KEY_IPV4);
	if (b->opt->netns_local) {
		/* inside the pod's own netns: its traffic leaves through output, arrives at input */
		base_chain(b, t, "egress-out", RS_HOOK_OUTPUT, -10, false);
		base_chain(b, t, "ingress-in", RS_HOOK_INPUT, -5, true);
	} else {
		/* no egress chain on input: traffic from a pod to its own node is always allowed
		 * (the NetworkPolicy concepts page), like the node's traffic to its pods */
		base_chain(b, t, "egress-fwd", RS_HOOK_FORWARD, -10, false);
		base_chain(b, t, "ingress-fwd", RS_HOOK_FORWARD, -5, true);
	}
	if (b->inv->n_admins)
		admin_tiers(b, t);
}
