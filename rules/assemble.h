/* assemble.h — the inet table made of fragments (frag.h), exactly as one pass over everything
 * would have built it: assembled whole, or patched from the last table with the fragments a
 * change replaced, so that a small change costs in proportion to itself. */
#ifndef NETPOL_ASSEMBLE_H
#define NETPOL_ASSEMBLE_H

#include <stdbool.h>
#include <stddef.h>

#include "addrcount.h"
#include "frag.h"

/* What the last assembled table is made of, for the next one to be patched from it: per set
 * name, how many rules of every fragment use it and which fragments hold it; the dispatch maps
 * with every pod's elements; each set's use count in table order. */
struct asm_state {
	struct strmap book;      /* set name -> (uintptr_t) one entry (assemble.c) */
	struct rs_frag *maps[4]; /* ing4, ing6, egr4, egr6 (build_disp_maps) with their elements */
	struct addr_count *keys[4]; /* per map: the pods with an element of each address (one
				       pass keeps the first of several: a patch gives up there) */
	size_t *refs;            /* per set of the last table: the rules that use it */
	size_t n_refs;
	const char **unused;     /* sets the last patch left without a rule using them (in the
				    table's arena; the names are valid as long as the change's
				    fragments) */
	size_t n_unused;
};

void asm_state_free(struct asm_state *as);

/* The sets, maps, chains and counters of t from disp (the dispatch's fragment) and v[0..n) (every
 * other fragment, in build order), in arena a. t's name, family and comment are the caller's.
 * as then describes t. */
void assemble_table(struct asm_state *as, struct rs_frag *disp, struct rs_frag *const *v, size_t n,
		    struct np_arena *a, struct rs_table *t);

/* What a patch takes out and puts in. The dispatch's fragment may be the same in both. */
struct asm_change {
	struct rs_frag *disp_old, *disp;
	struct rs_frag *const *gone;  /* fragments taken out (old versions) */
	size_t n_gone;
	struct rs_frag *const *added; /* fragments put in (new versions) */
	size_t n_added;
};

/* t made from old (the table as assembles described in as made it) by the change, with its
 * delta; as then describes t. Returns 0, or -1 when the change cannot be patched in (a name in
 * two fragments, the dispatch's own map elements changed, as does not match old): as is then
 * unusable until the next assemble_table. */
int assemble_patch(struct asm_state *as, const struct rs_table *old, const struct asm_change *ch,
		   struct np_arena *a, struct rs_table *t);

/* The number of rules that use set name in the last table as (0: none, or unknown). */
size_t asm_refs(const struct asm_state *as, const char *name);
/* Fragment f no longer holds set name (a set built apart the cache drops): as forgets it. */
void asm_forget(struct asm_state *as, const char *name, const struct rs_frag *f);

/* Sorted a, less the elements of del, plus those of add (every array sorted by
 * btable_elem_cmp), in arena ar; NULL when an element of del is missing from a or one of add
 * is there already. */
struct rs_elem *asm_elems_patch(struct np_arena *ar, const struct rs_elem *a, size_t n,
				const struct rs_elem *del, size_t n_del, const struct rs_elem *add,
				size_t n_add, size_t *n_out);
/* del and add less the elements they share (a pod taken out and put back as it was), sorted by
 * btable_elem_cmp; *n_del, *n_add updated. */
void asm_elems_cancel(struct rs_elem *del, size_t *n_del, struct rs_elem *add, size_t *n_add);

#endif
