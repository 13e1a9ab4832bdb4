/* emit_nl.h — the ruleset IR as nf_tables netlink messages (libnftnl objects in one batch
 * buffer), and the "state" form both the IR and a kernel read-back are reduced to so they can be
 * compared and diffed. No sockets here: enforcer/lib/nft.c sends the buffer and fills states from
 * the kernel.
 *
 * A state holds, per table, what the kernel would hold: sets with their elements in canonical
 * form (sorted, intervals as inclusive [lo, hi] whatever the set backend), chains with the list
 * of their rules' comments (every rule carries "np:<hash of its text>", see ruleset.h), named
 * counters. Two states are diffed into a list of per-object changes; a diff becomes either an
 * incremental batch or, when a table is absent or not understood, a full replace of that table. */
#ifndef NETPOL_EMIT_NL_H
#define NETPOL_EMIT_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ruleset.h"

#define NL_KEY_MAX 32 /* longest key we use: ifname . ipv6_addr (16 + 16 bytes) */

/* Kernel constants the Debian 12 uapi headers and libnftnl 1.2.4 predate. */
#define NL_TABLE_F_OWNER 0x2
#define NL_TABLE_F_PERSIST 0x4 /* 6.9+: the table outlives its owner and can be re-claimed */
/* Tests: a flag no kernel knows. NEWTABLE refuses it with EOPNOTSUPP, exactly as kernels before
 * 6.9 refuse PERSIST, so the unowned fallback runs for real on a new kernel. */
#define NL_TABLE_F_UNKNOWN 0x80000000u
#define NL_MSG_DESTROYTABLE 26 /* 6.3+: delete if it exists */

/* One element in canonical form: key and inclusive end in kernel byte layout (every field
 * padded to 4 bytes, network byte order). hi == lo for a single value. */
struct nl_elem {
	uint8_t lo[NL_KEY_MAX], hi[NL_KEY_MAX];
	const char *chain; /* verdict maps: the goto target */
};

struct nl_elems_blk;
struct ix;

struct nl_set {
	const char *name, *comment;
	uint32_t flags, key_type, key_len, data_type; /* as NFTA_SET_* carry them */
	struct nl_elem *elems;                        /* sorted by (lo, hi, chain) */
	size_t n_elems;
	bool garbled;             /* read back elements we cannot decode: never equal */
	const struct rs_set *ir;  /* the IR set (states built from a ruleset only) */
	struct nl_elems_blk *blk; /* elems, when shared between states (reference counted) */
	/* elems made by patching those of an earlier state's namesake (the IR set's patch): its
	 * blk, the elements taken out (pointers into it) and put in (into elems). A diff against
	 * that state takes these instead of comparing every element. */
	struct nl_elems_blk *from; /* (a reference: its address is never another's) */
	const struct nl_elem **from_del, **from_add;
	size_t n_from_del, n_from_add;
};

struct nl_chain {
	const char *name, *comment, *type; /* type: "filter" for base chains, NULL otherwise */
	bool base;
	uint32_t hook, policy;
	int32_t prio;
	const char **rules; /* each rule's comment ("np:<hash>"), NULL for a rule without one;
			       NULL in a state built from the IR, whose rules carry them */
	size_t n_rules;
	const struct rs_chain *ir;
};

struct nl_counter {
	const char *name, *comment;
	uint64_t packets, bytes; /* read back only */
};

struct nl_table {
	const char *name;
	uint32_t family; /* NFPROTO_INET or NFPROTO_BRIDGE */
	bool present;    /* read back: the kernel has it */
	uint32_t flags;
	const char *comment;
	struct nl_set *sets;
	size_t n_sets, cap_sets;
	struct nl_chain *chains;
	size_t n_chains, cap_chains;
	struct nl_counter *counters;
	size_t n_counters, cap_counters;
	const struct rs_table *ir;
	struct ix *ix[3]; /* name indexes of sets, chains, counters: built by the first diff that
			     needs them, kept for the next (a state does not change once built) */
};

struct nl_state {
	struct nl_table *tables;
	size_t n_tables;
	struct np_arena *arena; /* strings, rule lists */
};

struct nl_state *nl_state_new(void);
void nl_state_free(struct nl_state *st);
/* Appends an empty table (read-back side); the pointer is valid until the next append. */
struct nl_table *nl_state_add_table(struct nl_state *st, const char *name, uint32_t family);
struct nl_set *nl_table_add_set(struct nl_state *st, struct nl_table *t);
struct nl_chain *nl_table_add_chain(struct nl_state *st, struct nl_table *t);
struct nl_counter *nl_table_add_counter(struct nl_state *st, struct nl_table *t);
/* Sorts a set's elements into canonical order. */
void nl_set_sort(struct nl_set *s);

/* The state the kernel holds once rs is installed. */
int nl_state_from_ruleset(const struct rs_ruleset *rs, struct nl_state **out);
/* The same, sharing with prev (the state of an earlier ruleset; both must still be alive) the
 * encoded elements of every set whose IR elements are the very same memory (a fragment that
 * ruleset_build_cached reused, so the same content): only what was rebuilt is encoded again,
 * and nl_diff_compute sees at once that such a set did not change; a set patched from prev's
 * (rs_set.patch) is patched here too. When a table of rs was patched from the one prev's
 * namesake was made from (rs_table.delta), only the objects the delta names are made anew and
 * the rest is copied from prev. prev may be NULL. */
int nl_state_from_ruleset_reusing(const struct rs_ruleset *rs, const struct nl_state *prev,
				  struct nl_state **out);

/* Key layout of an IR key type: nft datatype id, length, per-field lengths (zero-terminated,
 * for NFTNL_SET_DESC_CONCAT) and the number of fields. */
struct nl_keyinfo {
	uint32_t type, len;
	uint8_t field_len[4];
	unsigned n_fields;
};
void nl_key_info(enum rs_key key, struct nl_keyinfo *out);
uint32_t nl_set_flags(const struct rs_set *s);
/* Encodes an IR element (canonical form; interval sets carry the inclusive end in hi). */
void nl_elem_encode(const struct rs_set *s, const struct rs_elem *e, struct nl_elem *out);

/* An element as a set dump returns it, for nl_set_add_kernel_elems. */
struct nl_raw_elem {
	uint8_t key[NL_KEY_MAX], key_end[NL_KEY_MAX];
	uint32_t key_len, key_end_len; /* 0: absent */
	uint32_t flags;                /* NFT_SET_ELEM_INTERVAL_END */
	const char *chain;             /* verdict: goto/jump target, or NULL */
};
/* Turns dumped elements into canonical ones: single-field interval sets (rbtree) come as
 * boundary pairs [start, end+1) in any order, with nft's key-0 end marker and an unpaired last
 * start for a range up to all-ones; concatenated interval sets (pipapo) as KEY..KEY_END.
 * Elements it cannot pair mark the set garbled. The set's flags and key_len must be set. */
void nl_set_add_kernel_elems(struct nl_state *st, struct nl_set *s,
			     const struct nl_raw_elem *raw, size_t n);

/* Text of an element, "10.0.0.0-10.0.0.255", "tcp . 80", "veth1 . 10.0.0.1 : goto x". */
const char *nl_elem_str(const struct nl_set *s, const struct nl_elem *e, char *buf, size_t size);

/* ---- diff ---- */

struct nl_set_diff {
	const struct nl_set *old, *cur; /* either may be NULL: created / removed */
	const struct nl_elem **del, **add;
	size_t n_del, n_add;
};

struct nl_chain_diff {
	const struct nl_chain *old, *cur; /* either may be NULL */
	bool rewrite;                     /* both present, rules differ */
	bool recreate;                    /* both present, comment differs: delete and create
					     again (only chains no rule jumps to; the map
					     elements pointing at it are deleted and re-added) */
};

struct nl_counter_diff {
	const struct nl_counter *old, *cur;
};

struct nl_table_diff {
	const struct nl_table *old, *cur;
	const char *replace; /* why the table is replaced whole, or NULL (incremental) */
	struct nl_set_diff *sets;
	size_t n_sets;
	struct nl_chain_diff *chains;
	size_t n_chains;
	struct nl_counter_diff *counters;
	size_t n_counters;
};

struct nl_diff {
	struct nl_table_diff *tables;
	size_t n_tables;
	size_t changes; /* objects created/removed/rewritten + elements added/removed */
	struct np_arena *arena;
};

/* Compares what the kernel holds (old, tables matched by name and family) with what should be
 * there (cur). force_full: replace every table whole. Tables only in old are left alone. When
 * cur's table was made from a ruleset table patched from the one old's was made from, only the
 * objects the patch names are compared (the rest are the same): the result is the same as
 * comparing everything (nl_diff_compute_all). */
int nl_diff_compute(const struct nl_state *old, const struct nl_state *cur, bool force_full,
		    struct nl_diff **out);
/* The same, comparing every object (tests prove the two agree). */
int nl_diff_compute_all(const struct nl_state *old, const struct nl_state *cur, bool force_full,
			struct nl_diff **out);
void nl_diff_free(struct nl_diff *d);
/* For a status, not an apply: a table the kernel holds (have) without the persist flag that
 * want asks for is unowned (a kernel before 6.9 refuses the flag; policyd --no-owner), a mode
 * rather than drift. Then want takes have's flags, so a diff compares the content only, and
 * true is returned. */
bool nl_table_accept_unowned(struct nl_table *want, const struct nl_table *have);

/* ---- batch ---- */

/* What one message was about, for mapping the kernel's errors back (seq, ext-ack offset). */
struct nl_msgref {
	uint32_t seq;
	uint32_t len;        /* message length (split element lists share one seq) */
	const char *origin;  /* IR origin ("policy ns/name ingress rule 2"), may be NULL */
	const char *what;    /* "rule in chain x", "elements of set y", ... */
	uint32_t n_sub;      /* expressions of a rule / elements of an element list */
	uint32_t *sub_off;   /* their offsets inside the message */
	const void **sub_ptr;  /* rules: a string saying what each expression matches;
				  elements: the struct nl_elem each one encodes */
	const struct nl_set *set;
};

struct nl_batch_stats {
	size_t msgs, tables, sets, chains, rules, elems_add, elems_del, counters, deletes;
};

struct nl_batch;

/* A batch whose first message gets seq; grows as objects are added. */
struct nl_batch *nl_batch_new(uint32_t seq);
void nl_batch_free(struct nl_batch *b);
/* Everything a diff says, in the order the kernel needs it. */
void nl_batch_add_diff(struct nl_batch *b, const struct nl_diff *d);
/* Deletes a table if it exists (DESTROYTABLE). */
void nl_batch_destroy_table(struct nl_batch *b, const char *name, uint32_t family);
/* Test-only: a rule that jumps to a chain that does not exist, attributed to origin. */
void nl_batch_add_bad_rule(struct nl_batch *b, const char *table, uint32_t family,
			   const char *chain, const char *origin);
/* Closes the batch. commit false: leave out BATCH_END, so the kernel checks and aborts. */
void nl_batch_finish(struct nl_batch *b, bool commit);
/* The buffer, as iovecs (at most max; returns how many are needed). */
int nl_batch_iovec(struct nl_batch *b, struct iovec *iov, size_t max);
size_t nl_batch_len(struct nl_batch *b);
uint32_t nl_batch_end_seq(const struct nl_batch *b);
const struct nl_batch_stats *nl_batch_stats(const struct nl_batch *b);
/* "policy ns/name ingress rule 2 (rule in chain pol-x-in, expression 3: lookup @s)": what the
 * message with seq (and length len, 0 if unknown) at ext-ack offset off (0: unknown) was. */
void nl_batch_describe(const struct nl_batch *b, uint32_t seq, uint32_t len, uint32_t off,
		       char *buf, size_t size);

#endif
