/* flowring.h — the last N flow records, in order, each with a sequence number that only grows
 * (1, 2, ...), so a reader holds a cursor ("since") and learns exactly how many records the
 * ring dropped under it (a reader slower than the collector). policyd keeps one; its control
 * socket's `flows` request and (later) its HTTP API read it through the same cursor. */
#ifndef NETPOL_ENFORCER_FLOWRING_H
#define NETPOL_ENFORCER_FLOWRING_H

#include <stddef.h>
#include <stdint.h>

#include "flowrec.h"

struct flow_ring;

/* A ring of cap records (at least 1). */
struct flow_ring *flow_ring_new(size_t cap);
void flow_ring_free(struct flow_ring *r);

/* Moves rec into the ring (rec is left empty), dropping the oldest when full; rec gets the
 * next sequence number, which is returned. */
uint64_t flow_ring_push(struct flow_ring *r, struct flow_rec *rec);
/* The sequence number of the oldest record held (== next when empty), and of the next push. */
uint64_t flow_ring_first(const struct flow_ring *r);
uint64_t flow_ring_next(const struct flow_ring *r);
size_t flow_ring_cap(const struct flow_ring *r);
/* The record seq, or NULL when it is no longer (or not yet) held. */
const struct flow_rec *flow_ring_get(const struct flow_ring *r, uint64_t seq);
/* Where a reader wanting the last n records f matches starts: the seq of the n-th newest
 * match (every match when fewer), or next when none. */
uint64_t flow_ring_last(const struct flow_ring *r, const struct flow_filter *f, size_t n);

#endif
