/* patch.h — the sets built apart that a change moved pods in or out of, brought up to date for
 * a policy whose fragment is otherwise reused: patched from their last version when they can be,
 * built anew when not. */
#ifndef NETPOL_PATCH_H
#define NETPOL_PATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "addrcount.h"
#include "dirty.h"
#include "frag.h"

struct patch {
	struct frag_shared *shared;
	const struct dirty *dirty;
	const struct addr_count *addrs; /* pods per address, of dirty->inv */
	struct np_arena *tmp;
};

/* Policy i's fragment f stays, but sets built apart it uses (d->sets) may have changed: brings
 * them up to date in p->shared, and says whether f still holds (a set that became empty, or
 * stopped being, changes which rules the chain has). */
bool patch_refresh(const struct patch *p, size_t i, const struct rs_frag *f);

#endif
