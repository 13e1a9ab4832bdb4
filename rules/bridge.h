/* bridge.h — the bridge table (anti-spoofing, build_spoof) as fragments: built whole from every
 * local pod, or patched from the last build's with the elements of the pods that changed, so a
 * pod event does not visit every local pod. */
#ifndef NETPOL_BRIDGE_H
#define NETPOL_BRIDGE_H

#include "dirty.h"
#include "frag.h"

struct bridge_state {
	struct rs_frag *base;    /* the table as last built whole */
	struct rs_frag *sets[3]; /* build_spoof_sets as they are now (NULL: base's) */
	struct strmap ifs;       /* host interface -> local pods that have it (keys malloc'ed) */
};

void bridge_state_free(struct bridge_state *bs);
/* t built whole from b's local pods (its arrays in arena a); bs then describes it. */
void bridge_build(struct bridge_state *bs, struct builder *b, struct np_arena *a,
		  struct rs_table *t);
/* t made from old (bs's last table) with the elements of the pods that changed (old and new
 * versions; either may be NULL), with its delta. Returns 0, or -1 when it cannot be (two local
 * pods with one host interface): bs must then be built whole. */
int bridge_patch(struct bridge_state *bs, const struct rs_options *opt, const struct change *pods,
		 size_t n, const struct rs_table *old, struct np_arena *a, struct rs_table *t);
/* The fragments bs's table is made of, each added to l. */
void bridge_frags(const struct bridge_state *bs, struct frag_list *l);

#endif
