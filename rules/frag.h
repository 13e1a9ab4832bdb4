/* frag.h — fragments: what one policy, one local pod, one set built apart or the dispatch
 * contributes to the inet table, finished (elements sorted, unused sets dropped, rules hashed)
 * in an arena of its own and reference counted, so that later builds take it as it is while its
 * inputs stay the same. The top layer of the ruleset builder: it hands the builders (build.h)
 * tables to fill and finishes what they filled; cache.c keeps fragments between builds and
 * assemble.c makes the inet table of them. */
#ifndef NETPOL_FRAG_H
#define NETPOL_FRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "btable.h"
#include "build.h"
#include "ruleset.h"
#include "strmap.h"

struct rs_frag {
	size_t refs; /* the cache, and every ruleset assembled from it */
	struct np_arena *arena;
	struct rs_table t;
	size_t *set_refs;        /* per set of t: rules of this fragment that use it */
	struct build_disp *disp; /* a pod's dispatch elements */
	size_t n_disp;
	const char **uses;       /* sets of other fragments its rules use, and how often */
	size_t *use_refs;
	size_t n_uses;
};

/* A new fragment (one reference: the caller's), empty; the table that fills it goes to its
 * arena. */
struct rs_frag *frag_new(void);
/* f becomes what t was filled with (t is finished), with disp as its dispatch elements. */
void frag_finish(struct rs_frag *f, struct btable *t, const struct build_disp *disp,
		 size_t n_disp);
/* f becomes the one set t was filled with. */
void frag_finish_set(struct rs_frag *f, struct btable *t);
/* f becomes the one set s: finished already, its strings and elements in f's arena. */
void frag_hold_set(struct rs_frag *f, const struct rs_set *s);
/* A new fragment holding a copy of set s with elements e[0..n) instead of its own, and p (may
 * be NULL) as how they differ from an earlier version. */
struct rs_frag *frag_new_set(const struct rs_set *s, const struct rs_elem *e, size_t n,
			     const struct rs_set_patch *p);
/* Every rule of t gets a comment "np:" + a hash of its own text (in a), so that a chain read
 * back from the kernel can be compared with the IR as a list of hashes. */
void frag_hash_rules(struct np_arena *a, struct rs_table *t);
/* Drops a reference; the last frees f. NULL-safe. */
void frag_release(struct rs_frag *f);
/* Takes a reference; returns f. */
static inline struct rs_frag *frag_ref(struct rs_frag *f)
{
	f->refs++;
	return f;
}

/* Fragments in order, each holding a reference. */
struct frag_list {
	struct rs_frag **v;
	size_t n, cap;
};
void frag_list_add(struct frag_list *l, struct rs_frag *f);
void frag_list_free(struct frag_list *l);

/* Fragments by key ("ns/name", or a set's name), each holding a reference; the keys are the
 * map's own. A zeroed struct is an empty map. Iterate over idx.v (key NULL: a free slot). */
struct frag_map {
	struct strmap idx; /* key -> (uintptr_t) fragment */
};
void frag_map_free(struct frag_map *m);
struct rs_frag *frag_map_get(const struct frag_map *m, const char *key);
/* Takes a reference of f for the map, releasing the one it replaces. */
void frag_map_put(struct frag_map *m, const char *key, struct rs_frag *f);
/* Releases key's fragment (absent: nothing happens). */
void frag_map_del(struct frag_map *m, const char *key);
static inline struct rs_frag *frag_map_at(const struct frag_map *m, size_t slot)
{
	return (struct rs_frag *)(uintptr_t)m->idx.v[slot].val;
}

/* The sets built apart of one build (peer sets, egress named-port sets): each a fragment of its
 * own, built once per build by the first policy that wants it and used by every policy with the
 * same peers. The builder is told of each (builder_shared_put). */
struct frag_shared {
	struct builder *b;
	struct frag_map now;         /* this build's */
	struct frag_list made;       /* the same, in the order they were made */
	struct frag_map *old;        /* the last build's, NULL when rebuilding everything */
	const struct strmap *stale;  /* the sets of old a change may have moved pods in or out of
					(dirty.sets); a peer set of old not in it is taken as it
					is. NULL: none is */
};
void frag_shared_free(struct frag_shared *s);
struct rs_frag *frag_shared_get(const struct frag_shared *s, const char *name);
/* f is this build's set name (a reference is taken). */
void frag_shared_put(struct frag_shared *s, const char *name, struct rs_frag *f);
/* Builds the set w wants anew. */
void frag_shared_build(struct frag_shared *s, const struct build_want *w);
/* Every set of w this build does not have yet: an unchanged peer set of the last build as it
 * is (its name is a hash of its selectors: same name, same pods), anything else built anew.
 * Empties w. */
void frag_shared_want(struct frag_shared *s, struct build_wants *w);

#endif
