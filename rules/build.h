/* build.h — the builders: what one policy, one local pod, the dispatch (maps, base chains, admin
 * tiers), a shared set or the anti-spoofing table puts into the table it is handed (btable.h).
 * They know nothing of fragments, caches or assembly: the fragment layer (frag.h) hands them
 * tables and calls them, never the reverse.
 *
 * Sets several policies share (the peer set of a list of selector peers, an egress named-port
 * set) are built apart, each into a table of its own, before the rules that use them: a builder
 * says which it wants (build_*_wants), the caller builds those it does not have yet
 * (build_shared_set) and tells the builder how many elements each has (builder_shared_put), and
 * a rule whose set has none is left out.
 *
 * Files: build.c (the builder context, peers and their sets, a policy's rules and chains, a
 * pod's chains), build_tiers.c (dispatch maps, base chains, admin tiers; uses build.c's rule
 * expansion), build_spoof.c (the bridge table). */
#ifndef NETPOL_BUILD_H
#define NETPOL_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "btable.h"
#include "ruleset.h"
#include "strmap.h"

struct podlist;
struct build_admin;

/* One build's context: the inventory and options, and what the builders compute once per build
 * and share (in tmp). */
struct builder {
	const struct np_inventory *inv;
	const struct rs_options *opt;
	struct np_arena *tmp;    /* what lives for one build only */
	size_t *local;           /* the local pods (indexes into inv->pods, ascending), once
				    builder_local filled them */
	size_t n_local;
	struct strmap shared;    /* sets built apart this build: name -> element count */
	/* pods selected by a rule's selector peers, by the peers' canonical text */
	struct strmap peer_cache;
	struct podlist *lists;
	size_t n_lists, cap_lists;
	/* per policy: indexes of the pods its spec.podSelector selects (computed when first
	 * needed: a build that reuses a policy's fragment never needs them) */
	size_t **sel_pods;
	size_t *n_sel_pods;
	struct build_admin *admin; /* the admin policies' local subjects (build_tiers.c) */
};

struct builder *builder_new(const struct np_inventory *inv, const struct rs_options *opt);
/* Fills b->local (once per build: a build that patches its last table never needs it). */
void builder_local(struct builder *b);
void builder_free(struct builder *b);
/* The set built apart named name is this build's, with n elements. */
void builder_shared_put(struct builder *b, const char *name, size_t n);

/* A set built apart that a builder wants: the peer set of rule r of pol for one family, or
 * (named) the egress named-port set of rule ri. pol outlives the build. */
struct build_want {
	const char *name;
	const struct np_policy *pol;
	const struct np_rule *r;
	size_t ri;
	uint8_t family;
	bool named;
};

struct build_wants {
	struct build_want *v; /* malloc'ed */
	size_t n, cap;
};

/* Fills t with the one set w names (its name, comment and origin, every element). */
void build_shared_set(struct builder *b, struct btable *t, const struct build_want *w);
/* The elements pod contributes to the set of w (when it is one of the set's peers): what a
 * set patched from its last version adds. */
void build_shared_add_pod(struct builder *b, struct bset *s, const struct build_want *w,
			  const struct np_pod *pod);
/* The names of the peer sets (IPv4, IPv6) of rule r of pol, and of the named-port sets of rule
 * rule_idx of pol (ingress or egress), in a. */
void build_peer_names(struct np_arena *a, const struct np_policy *pol, const struct np_rule *r,
		      const char *out[2]);
void build_named_names(struct np_arena *a, const struct np_policy *pol, size_t rule_idx,
		       bool ingress, const char *out[2]);

/* Policy i: appends to w the sets built apart its chains use, or returns false when it has no
 * chain here (it selects no local pod: nothing would jump to it). */
bool build_policy_wants(struct builder *b, size_t i, struct build_wants *w);
/* Policy i's chain per direction with rules, and their counters (after build_policy_wants). */
void build_policy(struct builder *b, struct btable *t, size_t i);

/* A dispatch element of a local pod: "address : goto its chain" in dispatch map
 * build_disp_maps[map] (0 ing4, 1 ing6, 2 egr4, 3 egr6). */
struct build_disp {
	uint8_t map;
	struct rs_elem e;
};
#define BUILD_POD_DISP 16 /* at most, per pod: 8 addresses, 2 directions */
extern const char *const build_disp_maps[4];
/* Local pod pod's chain per isolated direction (a jump to each selecting policy's chain, in
 * policy order) into t, and its dispatch elements into disp; returns how many. */
size_t build_pod(struct builder *b, struct btable *t, const struct np_pod *pod,
		 struct build_disp disp[BUILD_POD_DISP]);

/* A drop point at the end of chain c (ruleset.h, "log prefixes"): the rate-limited log of p's
 * prefix counting what it logged, then a counting drop (reject under opt->reject, but for the
 * tiers' Deny), or with p->audit a counting accept. */
void build_log_end(struct builder *b, struct btable *t, struct rs_chain *c,
		   const struct rs_log_point *p);

/* The dispatch: the maps, the base chains and the admin tiers (build_tiers.c). They depend on
 * every pod, and are few. */
void build_dispatch_wants(struct builder *b, struct build_wants *w);
void build_dispatch(struct builder *b, struct btable *t);

/* The bridge table that checks pod source addresses (build_spoof.c). */
void build_spoof(struct builder *b, struct btable *t);
/* What one local pod puts in it: elements of its set build_spoof_sets[map] (pod-port,
 * pod-src4, pod-src6). Returns how many. */
size_t build_spoof_pod(const struct np_pod *pod, struct build_disp out[BUILD_POD_DISP]);
extern const char *const build_spoof_sets[3];

/* Facts about a rule the fragment layer asks too. */
bool build_rule_has_selector_peer(const struct np_rule *r);
bool build_rule_has_ipblock(const struct np_rule *r, uint8_t family);
bool build_rule_has_numeric_port(const struct np_rule *r);
bool build_rule_has_named_port(const struct np_rule *r);
/* pol's ingress (dir 0) or egress (dir 1) rules. */
static inline const struct np_rule *build_rules(const struct np_policy *pol, int dir, size_t *n)
{
	*n = dir ? pol->n_out : pol->n_in;
	return dir ? pol->out : pol->in;
}

/* ---- what build.c offers build_tiers.c ---- */

/* Local pods a policy selects (indexes into inv->pods, ascending): where ingress named ports
 * resolve. */
struct build_targets {
	const size_t *v;
	size_t n;
};

/* How every nft rule of one policy rule ends: its verdict (and jump/goto target) and the named
 * counter it counts into (NULL: none). */
struct build_verdict {
	enum rs_verdict_kind verdict;
	const char *target;
	const char *counter;
};

/* Appends to w the sets built apart that rule r (index ri) of pol uses. */
void build_rule_wants(struct builder *b, const struct np_policy *pol,
		      const struct build_targets *tg, const struct np_rule *r, size_t ri,
		      bool ingress, struct build_wants *w);
/* Appends the nft rules of rule r (index ri) of pol to the open chain c of t. */
void build_rule_expand(struct builder *b, struct btable *t, struct rs_chain *c,
		       const struct np_policy *pol, const struct build_targets *tg,
		       const struct np_rule *r, size_t ri, bool ingress,
		       const struct build_verdict *v);

#endif
