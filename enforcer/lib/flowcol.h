/* flowcol.h — the flow collector: turns what the kernel reports into flow records named by pod
 * and policy (flowrec.h).
 *
 *   drops     the packets the ruleset's drop points log (nflog.h): each prefix names the pod
 *             and direction (ruleset.h, log prefixes), the packet the other end; DROPPED, or
 *             AUDIT for an audited drop point
 *   allowed   conntrack NEW and DESTROY events (the connection index's listener, ctindex.h):
 *             a record when a connection starts and one when it ends, with its bytes and
 *             packets both ways (nf_conntrack_acct)
 *
 * Which policy allowed a connection, and which isolate or denied it, the evaluator says,
 * re-judging the flow against the model of the last commit (the mapping follows each commit:
 * flowcol_set_model). It costs the datapath nothing (no rule writes a mark or logs allowed
 * packets) and names the first rule in the ruleset's order that matches, the one the kernel
 * took (tests/bench/RESULTS.md has the measured cost of it and of the alternatives).
 *
 * A connection's records say EGRESS when its source is a pod enforced here, else INGRESS (one
 * record a connection, even between two local pods: it names the policies of both ends); an
 * AUDIT or a cut one says the side that would drop it.
 *
 * Consecutive drops of the same tuple at the same point read in one batch fold into one
 * record (netpol.folded counts them). Losses (NFLOG overflow or sequence gap, conntrack
 * overflow) become loss records and are counted. Records go to the caller's sink. */
#ifndef NETPOL_ENFORCER_FLOWCOL_H
#define NETPOL_ENFORCER_FLOWCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctindex.h"
#include "flowrec.h"
#include "model.h"
#include "nflog.h"
#include "ruleset.h"

/* Takes rec (move it out with flow_rec_move, or clear it). */
typedef void (*flowcol_sink)(void *arg, struct flow_rec *rec);

struct flowcol;

/* node: every record's node_name (NULL: none). */
int flowcol_new(const char *node, flowcol_sink sink, void *arg, struct flowcol **out);
void flowcol_free(struct flowcol *c);

/* Records are named from inv, the model the ruleset was built from with ro (local pods, the
 * node's audit); both must stay alive until the next call or flowcol_free. NULL: records carry
 * addresses only. */
void flowcol_set_model(struct flowcol *c, const struct np_inventory *inv,
		       const struct rs_options *ro);

/* Binds NFLOG group (nflog_open's errors: -EBUSY when taken). */
int flowcol_nflog_open(struct flowcol *c, uint16_t group, size_t rcvbuf, size_t rcvbuf_max);
/* The NFLOG socket to poll, or -1 when none is bound. */
int flowcol_nflog_fd(const struct flowcol *c);
/* Reads every queued packet into records. 0 or -errno. */
int flowcol_nflog_read(struct flowcol *c);

/* The connection index's listener (ctix_set_listener(ix, flowcol_ct_event, c)). */
void flowcol_ct_event(void *arg, const struct ct_event *ev);

/* A drop point of the model by its log prefix: the pod (NULL for the tiers' "admin" points),
 * the direction, and the policies isolating the pod there (*pols: valid until the next
 * flowcol_set_model). 0, or -ENOENT when the model has no such point. */
int flowcol_point(const struct flowcol *c, const char *prefix, const struct np_pod **pod,
		  bool *ingress, const struct np_policy *const **pols, size_t *n);

struct flowcol_stats {
	uint64_t flows[FLOW_N_VERDICTS][FLOW_N_DIRS]; /* records made, folded ones included */
	uint64_t lost_nflog, lost_conntrack;          /* events lost (at least) */
	uint64_t skipped;    /* conntrack entries with no pod at either end, packets with a prefix
				not netpol's */
	struct nflog_stats nflog;
};
void flowcol_stats_get(const struct flowcol *c, struct flowcol_stats *st);

/* Turns on conntrack accounting (bytes and packets per connection) and timestamps in this
 * netns: per-netns sysctls, which count only connections created afterwards. 0 or -errno. */
int flowcol_enable_acct(void);

#endif
