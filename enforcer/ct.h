/* ct.h — after a change that narrows what is allowed, established flows would keep flowing
 * (`ct state established,related accept` comes first): delete the conntrack entries of flows
 * that may no longer be allowed, so their next packet is evaluated again. A still-allowed TCP
 * flow is picked up again as new (nf_conntrack_tcp_loose), so over-deleting costs nothing. */
#ifndef NETPOL_CT_H
#define NETPOL_CT_H

#include <stddef.h>
#include <stdint.h>

#include "emit_nl.h"

/* Address ranges whose flows may have lost permission. */
struct ct_affected {
	struct ct_range {
		uint8_t family; /* 4 or 6 */
		uint8_t lo[16], hi[16];
	} *v;
	size_t n, cap;
};

/* From an applied diff of the inet table(s): the keys of dispatch-map elements added (a pod
 * newly isolated or its chain changed), addresses removed from peer and named-port sets, and
 * every isolated pod when a chain or port set changed or the table was replaced whole. */
void ct_affected_from_diff(const struct nl_diff *d, struct ct_affected *out);
void ct_affected_free(struct ct_affected *a);

/* Deletes the conntrack entries (this netns) whose original or reply addresses fall in a.
 * Returns 0 and the count in *deleted, or -errno. */
int ct_flush_affected(const struct ct_affected *a, size_t *deleted);

#endif
