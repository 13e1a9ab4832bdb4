/* ruleset.h — the intermediate ruleset: tables, sets, maps, counters, chains and rules in the
 * small vocabulary netpol needs. Built from a resolved inventory (ruleset_build), printed as nft
 * text (emit_text) or turned into one libnftnl batch (emit_nl). Emitting cannot fail on user
 * input: every check happened before the IR was built.
 *
 * Everything is deterministic: arrays are in the order they are emitted, set elements sorted
 * and, for interval sets, disjoint and merged. */
#ifndef NETPOL_RULESET_H
#define NETPOL_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"

/* Set key types (nft datatypes). */
enum rs_key {
	RS_KEY_IPV4,            /* ipv4_addr */
	RS_KEY_IPV6,            /* ipv6_addr */
	RS_KEY_PROTO_PORT,      /* inet_proto . inet_service */
	RS_KEY_IPV4_PROTO_PORT, /* ipv4_addr . inet_proto . inet_service */
	RS_KEY_IPV6_PROTO_PORT, /* ipv6_addr . inet_proto . inet_service */
	RS_KEY_IFNAME,          /* ifname */
	RS_KEY_IFNAME_IPV4,     /* ifname . ipv4_addr */
	RS_KEY_IFNAME_IPV6,     /* ifname . ipv6_addr */
};

/* One element. Fields not in the key type are zero. Ranges are inclusive (lo..hi); for a
 * non-interval set lo == hi. */
struct rs_elem {
	struct np_addr addr_lo, addr_hi;
	uint8_t proto;
	uint16_t port_lo, port_hi;
	char ifname[16];
	const char *target; /* verdict maps: chain to goto */
};

/* How a set's elements differ from an earlier version of the same set (every array sorted,
 * del a subset of base, add disjoint from it): a set patched rather than built again says so,
 * and its kernel state is then patched too instead of every element being encoded again. */
struct rs_set_patch {
	const struct rs_elem *base; /* the earlier version's elems */
	size_t n_base;
	const struct rs_elem *del, *add;
	size_t n_del, n_add;
};

struct rs_set {
	const char *name;
	const char *comment; /* may be NULL; at most 127 bytes */
	enum rs_key key;
	bool interval;       /* flags interval (one element may be a range) */
	bool vmap;           /* verdict map: type KEY : verdict, every element has a target */
	struct rs_elem *elems;
	size_t n_elems;
	const char *origin;  /* what built it, for kernel error messages ("policy ns/name ...") */
	const struct rs_set_patch *patch; /* NULL: not known */
};

struct rs_counter {
	const char *name;
	const char *comment;
};

/* Matches, in rule order. Each names its own nft dependency (nfproto, l4proto) implicitly:
 * emitters add "meta nfproto" before ip/ip6 payloads. */
enum rs_match_kind {
	RS_M_CT_ESTABLISHED,  /* ct state established,related */
	RS_M_CT_INVALID,      /* ct state invalid */
	RS_M_CT_MARK_BIT,     /* ct mark and MARK != 0 */
	RS_M_ICMPV6_ND,       /* icmpv6 type { nd-router-solicit .. nd-redirect } (133-137) */
	RS_M_SADDR_IN,        /* ip[6] saddr @set          (family from the set's key) */
	RS_M_DADDR_IN,        /* ip[6] daddr @set */
	RS_M_SADDR_EQ,        /* ip[6] saddr ADDR */
	RS_M_DADDR_EQ,        /* ip[6] daddr ADDR */
	RS_M_L4_PORT_IN,      /* meta l4proto . th dport @set */
	RS_M_DADDR_L4_PORT_IN,/* ip[6] daddr . meta l4proto . th dport @set */
	RS_M_L4PROTO_EQ,      /* meta l4proto PROTO */
	RS_M_IIF_NOT_IN,      /* iifname != @set             (bridge table) */
	RS_M_IIF_SADDR_IN,    /* iifname . ip[6] saddr @set  (bridge table) */
	RS_M_IIF_ARP_SADDR_IN,/* iifname . arp saddr ip @set (bridge table) */
};

struct rs_match {
	enum rs_match_kind kind;
	const char *set;       /* *_IN kinds */
	uint8_t family;        /* 4 or 6 for address matches */
	struct np_addr addr;   /* *_EQ */
	uint8_t proto;         /* RS_M_L4PROTO_EQ */
	uint32_t mark;         /* RS_M_CT_MARK_BIT */
};

/* The conntrack mark bit netpol sets on a live connection that a policy change no longer
 * allows: every base chain drops its packets, in both directions, first thing. Kept on the
 * entry (rather than deleting it) so a mid-stream packet from either end can never be picked up
 * as a new, allowed flow in the reverse direction; cleared if a later change allows it again. */
#define RS_CT_MARK_REVOKED 0x00200000u

/* Every point where policy drops (a pod chain's end, the Admin and Baseline tiers' Deny)
 * first logs the packet to NFLOG, rate-limited, with a short prefix that userspace maps back:
 * the kernel caps a prefix at 127 bytes, and a namespace and pod name may take 317. The prefix
 * is "np:V:D:ID": V is D (dropped) or U (audit: logged and let through), D is I (ingress) or E
 * (egress), ID is the pod's id (rs_log_pod_id: 12 hex digits of the hash of "NS/NAME", so the
 * same pod always has the same prefix and a render stays byte-identical) or "admin" for the
 * tiers' Deny rules (the tuple then says which pod, and the evaluator which rule). */
#define RS_LOG_GROUP_DEFAULT 100
#define RS_LOG_ID_LEN 12
#define RS_LOG_PREFIX_MAX 32

struct rs_log_point {
	bool audit;   /* U */
	bool ingress; /* I */
	bool admin;   /* the tiers' Deny rules: no pod id */
	char id[RS_LOG_ID_LEN + 1];
};

/* The id of pod NS/NAME in log prefixes. */
void rs_log_pod_id(const char *ns, const char *name, char id[RS_LOG_ID_LEN + 1]);
/* The prefix of a log point, into buf (RS_LOG_PREFIX_MAX bytes), returned. */
const char *rs_log_prefix(const struct rs_log_point *p, char *buf);
/* Parses a prefix: 0, or -EINVAL when it is not one of netpol's. */
int rs_log_prefix_parse(const char *prefix, struct rs_log_point *out);

enum rs_verdict_kind {
	RS_V_NONE,     /* no verdict (a counting rule) */
	RS_V_ACCEPT,
	RS_V_DROP,
	RS_V_JUMP,
	RS_V_GOTO,
	RS_V_SADDR_VMAP, /* ip[6] saddr vmap @map */
	RS_V_DADDR_VMAP, /* ip[6] daddr vmap @map */
	RS_V_REJECT_TCP, /* reject with tcp reset */
	RS_V_REJECT,     /* reject with icmpx admin-prohibited */
};

struct rs_rule {
	struct rs_match m[4];
	size_t n_m;
	const char *counter;   /* counter name "x" (named counter), or NULL */
	bool anon_counter;     /* plain "counter" */
	bool log;              /* limit rate 10/second burst 20 packets log prefix P group G
				  (with anon_counter, the counter follows: it counts what was
				  logged, and the drop rule after it what was dropped) */
	const char *log_prefix;
	uint16_t log_group;
	enum rs_verdict_kind verdict;
	const char *target;    /* JUMP/GOTO chain, or vmap name */
	uint8_t family;        /* vmap key family */
	const char *comment;   /* "np:<hash of the rule's text>", set by ruleset_build for every
				  rule so a chain read back from the kernel can be compared as a
				  list of hashes */
	const char *origin;    /* for kernel error messages */
};

enum rs_hook { RS_HOOK_NONE, RS_HOOK_PREROUTING, RS_HOOK_INPUT, RS_HOOK_FORWARD,
	       RS_HOOK_OUTPUT, RS_HOOK_POSTROUTING };

struct rs_chain {
	const char *name;
	const char *comment;
	enum rs_hook hook;   /* RS_HOOK_NONE: regular chain */
	int prio;            /* base chains, absolute: "filter" is 0 in inet, -200 in bridge */
	bool policy_drop;    /* base chains; netpol always uses accept */
	struct rs_rule *rules;
	size_t n_rules;
	const char *origin;
};

enum rs_family { RS_FAMILY_INET, RS_FAMILY_BRIDGE };

/* Where the objects of one array of a table (sets, chains or counters) moved between two
 * versions of the table: the indexes the earlier version's objects left from and the indexes
 * the later version's new objects went to (both ascending); every other object is the same, in
 * the same order. */
struct rs_edit {
	const size_t *del, *ins;
	size_t n_del, n_ins;
};

struct rs_table;

/* A table made by patching an earlier one (ruleset_build_cached after a small change): what
 * differs from it. Kernel states and diffs use it to touch only what moved. */
struct rs_delta {
	const struct rs_table *base; /* the earlier table; compared by address only (it may be
					gone by the time the delta is read) */
	struct rs_edit sets, chains, counters;
};

struct rs_table {
	const char *name;
	enum rs_family family;
	const char *comment;
	struct rs_set *sets;     /* maps and sets, in emit order */
	size_t n_sets;
	struct rs_counter *counters;
	size_t n_counters;
	struct rs_chain *chains; /* base chains first, then regular chains */
	size_t n_chains;
	const struct rs_delta *delta; /* NULL: not made by a patch */
};

struct rs_frag;

struct rs_ruleset {
	struct rs_table *tables;
	size_t n_tables;
	struct np_arena *arena; /* owns everything above, except what the fragments own */
	struct rs_frag **frags; /* the per-object pieces the tables are made of */
	size_t n_frags;
	size_t refs;            /* the caller's, and the cache's that built it (the next build
				   patches it) */
};

/* Options for building. */
struct rs_options {
	const char *node;         /* pods whose spec.nodeName equals this are local; NULL = all */
	bool reject;              /* end pod chains with reject instead of drop */
	bool no_spoof_table;      /* leave out the bridge anti-spoofing table */
	bool netns_local;         /* build for one pod's own netns (macvlan: sibling traffic never
				     reaches the node): ingress on input, egress on output, no
				     forward chains and no anti-spoofing table */
	const char *local_pod;    /* "ns/name": only this pod is local (with netns_local) */
	const char *table_name;   /* default "netpol" */
	bool audit;               /* audit mode for the whole node: every drop point logs and lets
				     through (as if every policy carried netpol.io/audit) */
	uint16_t log_group;       /* the NFLOG group drop points log to; 0: RS_LOG_GROUP_DEFAULT */
};

/* Builds the ruleset for inv. Never fails on input that passed np_inventory_load (returns
 * -ENOMEM only). */
int ruleset_build(const struct np_inventory *inv, const struct rs_options *opt,
		  struct rs_ruleset **out);
void ruleset_free(struct rs_ruleset *rs);

/* What one build leaves for the next: the IR objects each policy and each local pod
 * contributed, so a build after a small change rebuilds only what the change touches. */
struct rs_cache;

struct rs_build_stats {
	bool full;                          /* nothing was reused */
	size_t pols_built, pols_reused;     /* policy fragments */
	size_t pods_built, pods_reused;     /* local pod fragments */
	size_t changed;                     /* objects that differ from the previous inventory */
};

/* A cache for builds with opt (copied; its strings must outlive the cache). */
int rs_cache_new(const struct rs_options *opt, struct rs_cache **out);
void rs_cache_free(struct rs_cache *c);
/* Forgets every fragment: the next build rebuilds everything. */
void rs_cache_reset(struct rs_cache *c);

/* Exactly ruleset_build(inv, the cache's options), but reusing the cache's fragment of every
 * policy and pod that is the same in inv as in prev and depends on nothing that changed.
 * prev must be the inventory of the cache's last build, still alive (NULL, or after
 * rs_cache_reset: everything is built). The cache then holds this build's fragments. st may be
 * NULL. Returns 0 or -ENOMEM. */
int ruleset_build_cached(const struct np_inventory *inv, const struct np_inventory *prev,
			 struct rs_cache *cache, struct rs_build_stats *st,
			 struct rs_ruleset **out);

/* Whether the table built with opt dispatches pod p (it is enforced here): not host-network,
 * has an address, on opt->node (or opt->local_pod), and not a macvlan endpoint (those have
 * their own netns table) unless building for that netns. */
bool ruleset_pod_local(const struct rs_options *opt, const struct np_pod *p);

/* Lookup helpers for emitters and readback. */
const struct rs_set *ruleset_table_set(const struct rs_table *t, const char *name);
const struct rs_chain *ruleset_table_chain(const struct rs_table *t, const char *name);

/* nft text. Full replace script ("table X / delete table X / table X { ... }") for every table.
 * Returns a malloc'ed NUL-terminated string. */
char *emit_text(const struct rs_ruleset *rs);
/* The same text written to f in pieces, so a large ruleset is never held twice; returns 0 or
 * -EIO. */
int emit_text_write(const struct rs_ruleset *rs, FILE *f);

/* The text of one rule without its comment (what the comment hash is computed over). */
char *emit_text_rule(const struct rs_table *t, const struct rs_rule *r);

#endif
