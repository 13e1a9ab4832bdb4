/* btable.h — a table being filled: the sets, chains, rules and counters a builder adds, in an
 * arena the table is handed (a fragment's, or the ruleset's), finished into a struct rs_table
 * (ruleset.h) sorted the one way every build sorts. The builders (build.h) fill tables; the
 * fragment layer (frag.h) creates them, finishes them and assembles what they became. */
#ifndef NETPOL_BTABLE_H
#define NETPOL_BTABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "ruleset.h"
#include "strmap.h"

/* A set being filled: its elements grow in a malloc'ed array, moved to the arena when it is
 * finished. */
struct bset {
	struct rs_set s;
	size_t cap;
	size_t refs; /* rules that use it, counted when the table is finished */
};

struct btable {
	const char *name;     /* copied to the finished table, as are family and comment */
	enum rs_family family;
	const char *comment;
	struct np_arena *a;   /* where everything the table holds goes */
	struct bset *sets;
	size_t n_sets, cap_sets;
	struct rs_chain *chains;
	size_t n_chains, cap_chains;
	struct rs_counter *counters;
	size_t n_counters, cap_counters;
	struct strmap set_idx; /* set name -> index into sets */
	/* the rules of the open chain grow here and are copied to the arena, exactly sized, when
	 * it is closed (a doubling array in the arena would leave every old copy behind) */
	struct rs_rule *scratch;
	size_t n_scratch, cap_scratch;
	bool open; /* the last chain still takes rules (in scratch) */
};

/* An empty table whose contents go to arena a. */
void btable_init(struct btable *t, struct np_arena *a);
/* Empties t (initialised, and finished if it was filled) for a new table in arena a, keeping
 * the buffer its rules grow in: tables filled one after the other allocate it once. */
void btable_reset(struct btable *t, struct np_arena *a);
/* Frees what t still holds (after btable_finish: its rule buffer only). */
void btable_fini(struct btable *t);

/* Names, in arena a: a short valid nft name, prefix + text (+ suffix), hashed when too long;
 * prefix + 12 hex digits of canon's hash; a comment (at most 127 bytes, no double quote). */
const char *btable_name(struct np_arena *a, const char *prefix, const char *text,
			const char *suffix);
const char *btable_hashname(struct np_arena *a, const char *prefix, const char *canon);
const char *btable_comment(struct np_arena *a, const char *text);

/* The set named name, created when new (created says which). */
struct bset *btable_set(struct btable *t, const char *name, enum rs_key key, bool interval,
			bool *created);
/* A new, zeroed element of s. */
struct rs_elem *bset_add(struct bset *s);
void bset_add_addr(struct bset *s, const struct np_addr *a);
/* A verdict map (created empty), and one "addr : goto target" element of the map named map. */
void btable_map(struct btable *t, const char *name, enum rs_key key);
void btable_map_add(struct btable *t, const char *map, const struct np_addr *addr,
		    const char *target);
void btable_counter(struct btable *t, const char *name, const char *comment);

/* Starts a chain (closing the one open); its rules go in with btable_rule until the next one
 * or btable_finish. */
struct rs_chain *btable_chain(struct btable *t, const char *name);
/* A new, zeroed rule at the end of the open chain c; valid until the next call. */
struct rs_rule *btable_rule(struct btable *t, struct rs_chain *c);
/* Appends a match to rule r. */
void btable_match(struct rs_rule *r, enum rs_match_kind kind, const char *set, uint8_t family);

/* What btable_finish says of how the table's rules use sets: per set of the finished table,
 * the rules that use it; and the sets they use that the table does not hold (a shared set, or a
 * map of another table), with how many rules use each. In the table's arena. */
struct btable_uses {
	size_t *set_refs;
	const char **names;
	size_t *refs;
	size_t n;
};
/* Sorts everything (maps first in creation order, then sets by use and name; base chains first,
 * then chains by name; counters by name), drops sets no rule uses (a rule whose set was empty was
 * left out), finishes the sets and moves them into the arena, as out. uses may be NULL. t can
 * then be reset for another table, or freed with btable_fini. */
void btable_finish(struct btable *t, struct rs_table *out, struct btable_uses *uses);
/* Sorts and dedups a set's elements (interval sets are normalized already; named ports of
 * several container ports may repeat) and moves them into arena a, as out. */
void bset_finish(struct np_arena *a, struct rs_set *s, struct rs_set *out);

/* The orders btable_finish sorts by (a struct bset, rs_elem, rs_chain, rs_counter). */
int bset_cmp(const void *x, const void *y);
int btable_elem_cmp(const void *x, const void *y);
int btable_chain_cmp(const void *x, const void *y);
int btable_counter_cmp(const void *x, const void *y);

#endif
