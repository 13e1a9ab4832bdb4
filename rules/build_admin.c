/* build_admin.c — the cluster admin tiers in the kernel, in the same table as NetworkPolicy.
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
 * the other direction's base chain still runs), Deny = drop, Pass = goto the chain that holds
 * the rest of the dispatch (tier-np-DIR: NetworkPolicy, Baseline, accept) in the Admin tier, or
 * accept (the default) in the Baseline tier. A tier chain that finds no match ends the same way.
 * Every path ends in a verdict, so nothing relies on what `return` from a goto'd chain does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_int.h"

static const char *const map_names[2][2][2] = {
	/* [baseline][ingress][v6] */
	{ { "aegr4", "aegr6" }, { "aing4", "aing6" } },
	{ { "begr4", "begr6" }, { "bing4", "bing6" } },
};

static const char *np_chain(bool ingress)
{
	return ingress ? "tier-np-in" : "tier-np-out";
}

void build_admin_maps(struct builder *b)
{
	if (!b->inv->n_admins)
		return;
	for (int t = 0; t < 2; t++)
		for (int d = 0; d < 2; d++)
			for (int f = 0; f < 2; f++)
				build_map(b, map_names[t][d][f], f ? RS_KEY_IPV6 : RS_KEY_IPV4);
}

static void vmap_rules(struct builder *b, struct rs_chain *c, bool ingress, const char *map4,
		       const char *map6)
{
	struct rs_rule *r = build_rule(b, c);
	r->verdict = ingress ? RS_V_DADDR_VMAP : RS_V_SADDR_VMAP;
	r->target = map4;
	r->family = 4;
	r = build_rule(b, c);
	r->verdict = ingress ? RS_V_DADDR_VMAP : RS_V_SADDR_VMAP;
	r->target = map6;
	r->family = 6;
}

void build_admin_dispatch(struct builder *b, struct rs_chain *c, bool ingress, bool baseline)
{
	if (!b->inv->n_admins)
		return;
	vmap_rules(b, c, ingress, map_names[baseline][ingress][0], map_names[baseline][ingress][1]);
}

/* The shim a policy rule expands under: admin peers always name their namespaces, and the
 * kind/name pair ("CNP/egress-tcp") is unique, so it serves where a NetworkPolicy's
 * namespace/name would (set origins, named-port set names). */
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

/* One admin policy's chain for a direction; returns its name. */
static const char *policy_chain(struct builder *b, const struct np_admin_policy *ap,
				const struct build_targets *tg, bool ingress)
{
	struct np_policy shim = shim_of(ap);
	const char *text = np_arena_printf(b->a, "%s/%s", ap->short_kind, ap->name);
	const char *dir = ingress ? "-in" : "-out";
	const char *name = build_name(b, "apol-", text, dir);
	struct rs_chain *c = build_chain(b, name);
	c->comment = build_comment(b, np_arena_printf(b->a, "%s tier %s priority %d %s", text,
						      np_tier_name(ap->tier), ap->priority,
						      ingress ? "ingress" : "egress"));
	c->origin = np_arena_printf(b->a, "%s %s %s", ap->kind, ap->name,
				    ingress ? "ingress" : "egress");
	const struct np_rule *rules = ingress ? ap->in : ap->out;
	size_t n = ingress ? ap->n_in : ap->n_out;
	for (size_t i = 0; i < n; i++) {
		const struct np_rule *r = &rules[i];
		char suffix[32];
		snprintf(suffix, sizeof(suffix), "%s-%zu", dir, i);
		struct build_verdict v = { RS_V_ACCEPT, NULL, build_name(b, "cnt-", text, suffix) };
		build_counter(b, v.counter,
			      build_comment(b, np_arena_printf(b->a, "%s %s[%zu] %s%s%s", text,
							       ingress ? "ingress" : "egress", i,
							       np_action_name(r->action),
							       r->name ? " " : "",
							       r->name ? r->name : "")));
		if (r->action == NP_ACT_DENY) {
			v.verdict = RS_V_DROP;
		} else if (r->action == NP_ACT_PASS && ap->tier == NP_TIER_ADMIN) {
			v.verdict = RS_V_GOTO; /* skip the rest of the Admin tier */
			v.target = np_chain(ingress);
		}
		build_rule_expand(b, c, &shim, tg, r, i, ingress, &v);
	}
	return name;
}

struct seq {
	const char *key;   /* the policy chain names, joined */
	const char *chain; /* its tier chain */
};

/* The tier chain for one list of policy chains (created once per distinct list). */
static const char *tier_chain(struct builder *b, struct seq **seqs, size_t *n_seqs,
			      const char **chains, const char **texts, size_t n, bool ingress,
			      bool baseline)
{
	size_t len = 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(chains[i]) + 1;
	char *key = malloc(len), *listed = malloc(len + 4 * n);
	if (!key || !listed)
		abort();
	key[0] = listed[0] = 0;
	for (size_t i = 0; i < n; i++) {
		strcat(strcat(key, chains[i]), " ");
		strcat(strcat(listed, i ? ", " : ""), texts[i]);
	}
	for (size_t i = 0; i < *n_seqs; i++)
		if (!strcmp((*seqs)[i].key, key)) {
			free(key);
			free(listed);
			return (*seqs)[i].chain;
		}
	const char *prefix = baseline ? (ingress ? "bl-in-" : "bl-out-")
				      : (ingress ? "adm-in-" : "adm-out-");
	const char *name = build_hashname(b, prefix, key);
	struct rs_chain *c = build_chain(b, name);
	c->comment = build_comment(b, np_arena_printf(b->a, "%s tier %s: %s",
						      baseline ? "Baseline" : "Admin",
						      ingress ? "ingress" : "egress", listed));
	c->origin = np_arena_printf(b->a, "%s tier %s chain", baseline ? "Baseline" : "Admin",
				    ingress ? "ingress" : "egress");
	for (size_t i = 0; i < n; i++) {
		struct rs_rule *r = build_rule(b, c);
		r->verdict = RS_V_JUMP;
		r->target = chains[i];
	}
	/* no rule decided: the next tier (Admin), or the default (Baseline) */
	struct rs_rule *r = build_rule(b, c);
	if (baseline) {
		r->verdict = RS_V_ACCEPT;
	} else {
		r->verdict = RS_V_GOTO;
		r->target = np_chain(ingress);
	}
	*seqs = realloc(*seqs, (*n_seqs + 1) * sizeof(**seqs));
	if (!*seqs)
		abort();
	(*seqs)[(*n_seqs)++] = (struct seq){ np_arena_strdup(b->a, key), name };
	free(key);
	free(listed);
	return name;
}

/* tier-np-DIR: where the Admin tier hands over (a Pass, or no match): NetworkPolicy, then the
 * Baseline tier, then the default. */
static void np_handover_chain(struct builder *b, bool ingress)
{
	struct rs_chain *c = build_chain(b, np_chain(ingress));
	c->comment = build_comment(b, np_arena_printf(b->a, "%s after the Admin tier: "
							   "NetworkPolicy, Baseline, allow",
						      ingress ? "ingress" : "egress"));
	c->origin = np_arena_printf(b->a, "%s tier hand-over chain", ingress ? "ingress" : "egress");
	vmap_rules(b, c, ingress, ingress ? "ing4" : "egr4", ingress ? "ing6" : "egr6");
	vmap_rules(b, c, ingress, map_names[1][ingress][0], map_names[1][ingress][1]);
	build_rule(b, c)->verdict = RS_V_ACCEPT;
}

void build_admin_tiers(struct builder *b)
{
	const struct np_inventory *inv = b->inv;
	size_t na = inv->n_admins;
	if (!na)
		return;
	np_handover_chain(b, false);
	np_handover_chain(b, true);
	/* the local pods each admin policy selects */
	struct build_targets *tg = calloc(na, sizeof(*tg));
	size_t **sel = calloc(na, sizeof(*sel));
	const char **chain_in = calloc(na, sizeof(char *)), **chain_out = calloc(na, sizeof(char *));
	const char **texts = calloc(na, sizeof(char *)), **list = calloc(na, sizeof(char *));
	const char **tlist = calloc(na, sizeof(char *));
	if (!tg || !sel || !chain_in || !chain_out || !texts || !list || !tlist)
		abort();
	for (size_t i = 0; i < na; i++) {
		const struct np_admin_policy *ap = &inv->admins[i];
		texts[i] = np_arena_printf(b->a, "%s/%s", ap->short_kind, ap->name);
		for (size_t p = 0; p < inv->n_pods; p++) {
			const struct np_pod *pod = &inv->pods[p];
			if (!build_pod_is_local(b, pod) || !np_admin_selects_pod(inv, ap, pod))
				continue;
			if (!sel[i] || !(tg[i].n & (tg[i].n - 1))) {
				sel[i] = realloc(sel[i], (tg[i].n ? tg[i].n * 2 : 1) * sizeof(size_t));
				if (!sel[i])
					abort();
			}
			sel[i][tg[i].n++] = p;
		}
		tg[i].v = sel[i];
		if (!tg[i].n)
			continue; /* selects no local pod: nothing would jump to it */
		if (ap->n_in)
			chain_in[i] = policy_chain(b, ap, &tg[i], true);
		if (ap->n_out)
			chain_out[i] = policy_chain(b, ap, &tg[i], false);
	}
	/* per local pod, direction and tier: its policies in evaluation order → a tier chain */
	struct seq *seqs = NULL;
	size_t n_seqs = 0;
	for (size_t p = 0; p < inv->n_pods; p++) {
		const struct np_pod *pod = &inv->pods[p];
		if (!build_pod_is_local(b, pod))
			continue;
		for (int baseline = 0; baseline < 2; baseline++)
			for (int ingress = 0; ingress < 2; ingress++) {
				size_t n = 0;
				for (size_t i = 0; i < na; i++) {
					const char *ch = ingress ? chain_in[i] : chain_out[i];
					if (!ch || inv->admins[i].tier != (baseline ? NP_TIER_BASELINE
										    : NP_TIER_ADMIN))
						continue;
					/* tg[i] is ascending: is p in it? */
					size_t lo = 0, hi = tg[i].n;
					while (lo < hi) {
						size_t mid = (lo + hi) / 2;
						if (tg[i].v[mid] < p)
							lo = mid + 1;
						else
							hi = mid;
					}
					if (lo == tg[i].n || tg[i].v[lo] != p)
						continue;
					list[n] = ch;
					tlist[n++] = texts[i];
				}
				if (!n)
					continue;
				const char *target = tier_chain(b, &seqs, &n_seqs, list, tlist, n,
								ingress, baseline);
				for (size_t k = 0; k < pod->n_ips; k++)
					build_map_add(b,
						      map_names[baseline][ingress][pod->ips[k].family == 6],
						      &pod->ips[k], target);
			}
	}
	free(seqs);
	for (size_t i = 0; i < na; i++)
		free(sel[i]);
	free(sel);
	free(tg);
	free(chain_in);
	free(chain_out);
	free(texts);
	free(list);
	free(tlist);
}
