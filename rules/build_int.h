/* build_int.h — what the ruleset builder's files (build.c, build_admin.c) share. Internal to
 * rules/build*.c; ruleset.h is the builder's public API. */
#ifndef NETPOL_BUILD_INT_H
#define NETPOL_BUILD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "addrcount.h"
#include "arena.h"
#include "ruleset.h"
#include "sbuf.h"
#include "strmap.h"

/* "ns/name" (or "name"), in a: what fragments are known by. */
const char *build_key(struct np_arena *a, const char *ns, const char *name);

/* One object that differs between two inventories: old version, new version (either may be
 * NULL: added, removed). */
struct change {
	const void *o, *n;
};

/* What changed between the inventory of the last build and this one, as the fragments to
 * rebuild (build_dirty.c). */
struct build_dirty {
	struct np_arena *tmp;                    /* set by the caller: keys go here */
	const struct np_inventory *prev, *inv;
	bool all;                                /* rebuild everything */
	struct strmap pols, pods;                /* keys of the fragments to rebuild */
	struct strmap sets;                      /* peer sets whose pods changed */
	struct strmap pol_sets;                  /* policies with such a set, whose fragment
						    stays unless the set's emptiness changed */
	size_t changed;                          /* objects that differ */
	const struct change *pod_changes;        /* the pods that differ (np_pod) */
	size_t n_pod_changes, n_ns_changes;
	/* the pods whose peer-set membership may have changed, when sets can be patched: the
	 * pods that differ, or after namespace relabels (and no pod change) every pod of those
	 * namespaces; NULL: rebuild dirty sets whole */
	const struct change *set_changes;
	size_t n_set_changes;
};
void build_dirty_compute(struct build_dirty *d, const struct np_inventory *prev,
			 const struct np_inventory *inv);
void build_dirty_mark(struct build_dirty *d, struct strmap *m, const char *ns, const char *name);
bool build_dirty_has(const struct build_dirty *d, const struct strmap *m, const char *key);
/* The address counts for d->inv: from those of d->prev, or counted anew (c NULL, or d->all). */
struct addr_count *addr_count_update(struct addr_count *c, const struct build_dirty *d);

/* pol's ingress (dir 0) or egress (dir 1) rules. */
static inline const struct np_rule *build_rules(const struct np_policy *pol, int dir, size_t *n)
{
	*n = dir ? pol->n_out : pol->n_in;
	return dir ? pol->out : pol->in;
}

/* The names of the named-port sets (IPv4, IPv6) of rule rule_idx of pol. */
void build_named_names(struct np_arena *a, const struct np_policy *pol, size_t rule_idx,
		       bool ingress, const char *out[2]);
/* The names of the peer sets (IPv4, IPv6) of rule r of pol. */
void build_peer_names(struct np_arena *a, const struct np_policy *pol, const struct np_rule *r,
		      const char *out[2]);

/* A set under construction: its elements grow in a malloc'ed array, copied to the arena at
 * the end. */
struct bset {
	struct rs_set s;
	size_t cap;
	size_t refs; /* rules that use it, counted when the table is finished */
};

struct btable {
	struct bset *sets;
	size_t n_sets, cap_sets;
	struct rs_chain *chains;
	size_t n_chains, cap_chains;
	struct rs_counter *counters;
	size_t n_counters, cap_counters;
	struct strmap set_idx;
};

struct frag_map;

struct frag_disp {
	uint8_t map; /* index into the dispatch maps */
	struct rs_elem e;
};

/* What one policy, one local pod, or everything else (maps, base chains, admin tiers)
 * contributes to the inet table: finished (elements sorted, unused sets dropped, rules hashed)
 * in an arena of its own, so later builds take it as it is while its inputs stay the same. */
struct rs_frag {
	size_t refs; /* the cache, and every ruleset assembled from it */
	struct np_arena *arena;
	struct rs_table t;
	size_t *set_refs;       /* per set of t: rules of this fragment that use it */
	struct frag_disp *disp; /* a pod's dispatch elements */
	size_t n_disp;
	const char **uses;      /* shared sets (other fragments') its rules use, and how often */
	size_t *use_refs;
	size_t n_uses;
};

struct podlist {
	size_t *v; /* indexes into inv->pods, ascending, unique */
	size_t n, cap;
};

struct builder {
	const struct np_inventory *inv;
	const struct rs_options *opt;
	struct np_arena *a;   /* where what is being built goes: a fragment's arena, or the
				 ruleset's */
	struct np_arena *tmp; /* what lives for one build only (pod lists, caches) */
	struct btable inet;
	/* rules of the chain being built grow here and are copied to the arena, exactly sized,
	 * when it is done (a doubling array in the arena would leave every old copy behind) */
	struct rs_rule *scratch;
	size_t n_scratch, cap_scratch;
	struct btable *cur_table;
	size_t cur_chain;
	/* pods selected by a rule's selector peers, by the peers' canonical text */
	struct strmap peer_cache;
	struct podlist *lists;
	size_t n_lists, cap_lists;
	/* peer sets by name, each a fragment of its own: built once per build, by the first
	 * policy that needs it, and shared by every policy with the same peers */
	struct frag_map *shared;
	struct frag_map *old_shared;     /* the last build's, NULL when rebuilding everything */
	const struct addr_count *addrs;  /* pods per address, of inv */
	/* the local pods (indexes into inv->pods, ascending) */
	size_t *local;
	size_t n_local;
	/* per policy: indexes of the pods its spec.podSelector selects (computed when first
	 * needed: a build that reuses a policy's fragment never needs them) */
	size_t **sel_pods;
	size_t *n_sel_pods;
};

/* Local pods a policy selects (indexes into inv->pods): where ingress named ports resolve. */
struct build_targets {
	const size_t *v;
	size_t n;
};

/* How every nft rule of one policy rule ends: its verdict (and jump/goto target) and the
 * named counter it counts into (NULL: none). */
struct build_verdict {
	enum rs_verdict_kind verdict;
	const char *target;
	const char *counter;
};

/* Helpers of build.c. */
bool build_pod_is_local(const struct builder *b, const struct np_pod *p);
const char *build_name(struct builder *b, const char *prefix, const char *text, const char *suffix);
const char *build_hashname(struct builder *b, const char *prefix, const char *canon);
const char *build_comment(struct builder *b, const char *text);
/* Starts a regular chain of the inet table; rules go in with build_rule until the next one. */
struct rs_chain *build_chain(struct builder *b, const char *name);
struct rs_rule *build_rule(struct builder *b, struct rs_chain *c);
void build_counter(struct builder *b, const char *name, const char *comment);
/* A verdict map of the inet table (created empty), and one "addr : goto target" element. */
void build_map(struct builder *b, const char *name, enum rs_key key);
void build_map_add(struct builder *b, const char *map, const struct np_addr *addr,
		   const char *target);
/* One rule of a policy as nft rules in the open chain c (see build.c). */
void build_rule_expand(struct builder *b, struct rs_chain *c, const struct np_policy *pol,
		       const struct build_targets *tg, const struct np_rule *r, size_t ri,
		       bool ingress, const struct build_verdict *v);

/* The admin tiers (build_admin.c). Everything is added only when the inventory has admin
 * policies, so a NetworkPolicy-only ruleset is unchanged by them. */
/* Creates the tier dispatch maps (call right after the NetworkPolicy maps). */
void build_admin_maps(struct builder *b);
/* Appends the dispatch rules of the tier before (admin) or after (baseline) NetworkPolicy to
 * a base chain of direction ingress. */
void build_admin_dispatch(struct builder *b, struct rs_chain *c, bool ingress, bool baseline);
/* The tier chains and dispatch elements for every local pod an admin policy selects. */
void build_admin_tiers(struct builder *b);

/* build_frag.c, for build.c: a new fragment (what the builder makes goes into its arena and
 * table), and the build's shared sets by name (put hands over the caller's reference). */
struct rs_frag *build_frag_begin(struct builder *b);
struct rs_frag *build_shared_get(struct builder *b, const char *name);
void build_shared_put(struct builder *b, const char *name, struct rs_frag *f);

/* build.c's builders that build_frag.c assembles fragments with. */
struct addr_ctx {
	struct bset *set;
	uint8_t family;
};

struct named_ctx {
	struct builder *b;
	struct bset *set;
	const struct np_rule *rule;
	uint8_t family;
};

struct bset *build_table_set(struct builder *b, struct btable *t, const char *name,
			      enum rs_key key, bool interval, bool *created);
void build_add_pod_addrs(void *ctx, const struct np_pod *pod);
bool build_rule_has_selector_peer(const struct np_rule *r);
const char *build_peer_set(struct builder *b, const struct np_policy *pol,
			   const struct np_rule *r, uint8_t family);
bool build_rule_has_ipblock(const struct np_rule *r, uint8_t family);
bool build_rule_has_numeric_port(const struct np_rule *r);
bool build_rule_has_named_port(const struct np_rule *r);
void build_add_named_pod(void *ctx, const struct np_pod *pod);
const char *build_named_set(struct builder *b, const struct np_policy *pol,
			     const struct build_targets *tg, const struct np_rule *r,
			     size_t rule_idx, bool ingress, uint8_t family);
const char *build_policy_text(struct builder *b, const struct np_policy *pol);
void build_sel_of(struct builder *b, size_t i);
void build_policy_chain(struct builder *b, const struct np_policy *pol, size_t pol_idx,
			 bool ingress);
void build_pod_chain(struct builder *b, const struct np_pod *pod, bool ingress,
		      const char **policy_chains, size_t n_policy_chains, const char *policies);
void build_base_chain(struct builder *b, const char *name, enum rs_hook hook, int prio,
		       enum rs_verdict_kind vmap, const char *map4, const char *map6);
int build_elem_cmp(const void *x, const void *y);
bool build_elem_eq(const struct rs_elem *a, const struct rs_elem *b);
int build_set_cmp(const void *x, const void *y);
int build_chain_cmp(const void *x, const void *y);
int build_counter_cmp(const void *x, const void *y);
void build_set_finish(struct builder *b, struct rs_set *s, struct rs_set *out);
void build_table_finish(struct builder *b, struct btable *bt, struct rs_table *t,
			 struct rs_frag *f);
void build_spoof(struct builder *b, struct rs_table *t);

#endif
