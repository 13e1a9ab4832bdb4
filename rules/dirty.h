/* dirty.h — which fragments a change between two inventories touches (see dirty.c): the keys
 * of the policy and pod fragments to build again, and the sets built apart whose pods changed. */
#ifndef NETPOL_DIRTY_H
#define NETPOL_DIRTY_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "model.h"
#include "strmap.h"

/* One object that differs between two inventories: old version, new version (either may be
 * NULL: added, removed). */
struct change {
	const void *o, *n;
};

struct dirty {
	struct np_arena *tmp;                    /* set by the caller: keys go here */
	const struct np_inventory *prev, *inv;
	bool all;                                /* rebuild everything */
	struct strmap pols, pods;                /* keys of the fragments to rebuild */
	struct strmap sets;                      /* sets built apart whose pods changed */
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

/* What changed from prev (NULL: everything) to inv. d->tmp must be set. */
void dirty_compute(struct dirty *d, const struct np_inventory *prev,
		   const struct np_inventory *inv);
void dirty_free(struct dirty *d);
/* Whether key is in m (d->pols, d->pods, ...), or everything is dirty. */
bool dirty_has(const struct dirty *d, const struct strmap *m, const char *key);
/* "ns/name" (or "name"), in a: what fragments are known by. */
const char *dirty_key(struct np_arena *a, const char *ns, const char *name);

#endif
