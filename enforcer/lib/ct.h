/* ct.h — after a change that narrows what is allowed, established flows would keep flowing
 * (`ct state established,related accept` comes first). Each live connection that may have lost
 * permission is judged against the new model by the evaluator, in its original direction; one
 * this node no longer allows gets the RS_CT_MARK_REVOKED conntrack mark, which every base chain
 * drops first, in both directions.
 *
 * Why a mark and not deletion: a deleted entry is re-created by the next packet, and with
 * nf_conntrack_tcp_loose (the default) a mid-stream segment from the *server* side — its
 * retransmission of unacknowledged data — is picked up as a new flow server -> client, which
 * policy may allow; every later client segment is then its reply. A UDP response in flight does
 * the same. A marked entry keeps matching both directions, so no packet of the cut connection
 * can start a new flow. Genuinely new connections (another source port) are unaffected. */
#ifndef NETPOL_CT_H
#define NETPOL_CT_H

#include <stddef.h>
#include <stdint.h>

#include "ctrange.h"
#include "emit_nl.h"
#include "model.h"
#include "ruleset.h"


/* From an applied diff of the inet table(s): the keys of dispatch-map elements added (a pod
 * newly isolated or its chain changed), addresses removed from peer and named-port sets, and
 * every isolated pod when a chain or port set changed or the table was replaced whole. */
void ct_affected_from_diff(const struct nl_diff *d, struct ct_affected *out);

struct ct_stats {
	size_t revoked;  /* connections marked: no longer allowed here */
	size_t restored; /* marked connections the model allows again: mark cleared */
	size_t deleted;  /* entries of other protocols (ICMP, ...) in a, deleted: their next
			    packet is judged by the ruleset as new */
	size_t candidates; /* connections judged */
	bool indexed;      /* found through the index (else a dump of the kernel's table) */
};

struct ctix;
struct np_eval;
struct np_flow;

/* Does a side the table built with ro enforces deny f (egress at a local source, ingress at a
 * local destination)? An audited drop passes (with ev told the node's audit): no. What the
 * conntrack step cuts, and netpol preview lists. */
bool ct_denied_here(const struct np_eval *ev, const struct rs_options *ro,
		    const struct np_flow *f);

/* Judges the conntrack entries of this netns against inv as the table built with ro enforces
 * it (only the ends ro makes local count): TCP, UDP and SCTP entries with an address in a, and
 * every entry already marked, are marked or unmarked; other protocols in a are deleted.
 * With an index that is not stale (ctindex.h) the entries are found there and the index is
 * kept in step; a change that narrows nothing, with nothing marked, costs nothing. Without
 * one (or when it is stale) they are found by a dump of the kernel's table.
 * Returns 0, or -errno (counts so far in *st). */
int ct_revoke(const struct ct_affected *a, const struct np_inventory *inv,
	      const struct rs_options *ro, struct ctix *ix, struct ct_stats *st);

#endif
