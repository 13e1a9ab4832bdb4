/* ctindex.h — the live connections of this network namespace, kept from conntrack events.
 *
 * One dump loads the kernel's table; from then on NEW and DESTROY events keep the index
 * current. Two users share it: the conntrack step after a narrowing change finds the
 * connections the change may cut by address, instead of dumping the whole table after every
 * commit (a dump of 100,000 entries takes hundreds of milliseconds and grows with the table;
 * a lookup grows with what the change touched); and the flow collector sees every allowed
 * connection begin and end, with its counters.
 *
 * Events can be lost (the socket's receive buffer overflows under a burst: ENOBUFS). Then the
 * buffer grows, up to a bound, and the index is marked stale: its owner reloads it with
 * ctix_resync before trusting it again. Never "reliable" delivery: with it the kernel drops
 * packets whose event it cannot deliver, which an enforcer must not cause. */
#ifndef NETPOL_ENFORCER_CTINDEX_H
#define NETPOL_ENFORCER_CTINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctrange.h"

struct nf_conntrack;

/* One direction of a connection as conntrack keeps it. */
struct ct_tuple {
	uint8_t src[16], dst[16]; /* IPv4 in the first 4 bytes */
	uint16_t sport, dport;    /* TCP, UDP, SCTP; host order */
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id;         /* ICMP echo; host order */
};

struct ct_conn {
	uint32_t id;              /* the kernel's id: unique among live entries */
	uint32_t mark;
	uint32_t status;          /* IPS_* bits */
	uint16_t zone;
	uint8_t family;           /* 4 or 6 */
	uint8_t proto;            /* IPPROTO_* */
	struct ct_tuple orig, reply;
	double seen_ms;           /* CLOCK_MONOTONIC ms when the index learned of it */
	uint64_t start_ns;        /* the kernel's start time (nf_conntrack_timestamp), or 0 */
};

/* LOST: the kernel dropped events (ENOBUFS), at least lost of them (each overflow is one at
 * least: how many it cost is unknown); conn is NULL. */
enum ct_event_type { CT_EVENT_NEW, CT_EVENT_DESTROY, CT_EVENT_LOST };

struct ct_event {
	enum ct_event_type type;
	const struct ct_conn *conn;
	bool counters;            /* DESTROY with nf_conntrack_acct on: the counters below */
	uint64_t packets[2], bytes[2]; /* [0] original direction, [1] reply */
	uint64_t stop_ns;         /* DESTROY with nf_conntrack_timestamp on */
	uint64_t lost;            /* LOST: overflows seen in one read */
};

/* Called for each event read; conn is valid only during the call. */
typedef void (*ct_event_fn)(void *arg, const struct ct_event *ev);

struct ctix;

int ctix_new(struct ctix **out);
void ctix_free(struct ctix *x);

/* Subscribes to NEW and DESTROY events of this netns on a nonblocking socket whose receive
 * buffer starts at rcvbuf bytes and may grow to rcvbuf_max, then loads the table with one dump
 * (so nothing created before the subscription is missed). 0 or -errno. */
int ctix_open(struct ctix *x, size_t rcvbuf, size_t rcvbuf_max);
/* The event socket to poll for input, or -1 before ctix_open. */
int ctix_fd(const struct ctix *x);

/* Every event read from now on is also handed to fn (the flow collector), and the losses of each
 * read as one CT_EVENT_LOST after its events; NULL: none. */
void ctix_set_listener(struct ctix *x, ct_event_fn fn, void *arg);

/* Reads every queued event into the index (and to the listener). Returns the number read, or
 * -ENOBUFS when events were lost (the buffer has grown, the index is stale, the loss counted;
 * the events read before the loss were delivered), or another -errno. Whoever is about to
 * trust the index (the conntrack step right after a commit) reads first. */
int ctix_read(struct ctix *x);
/* The same, reading at most max events: an event loop under a flood of them serves its other
 * sources between reads (the socket stays readable; the next round reads on). */
int ctix_read_some(struct ctix *x, size_t max);

/* Events were lost since the last resync: the index may miss connections or keep dead ones. */
bool ctix_stale(const struct ctix *x);
/* Reloads the index from a dump of the kernel's table and clears the stale flag. Queued events
 * are read first (the loss they may report is what the dump repairs). 0 or -errno. */
int ctix_resync(struct ctix *x);

struct ctix_stats {
	size_t live;              /* connections in the index */
	size_t marked_revoked;    /* of those, carrying RS_CT_MARK_REVOKED */
	uint64_t news, destroys;  /* events read */
	uint64_t losses;          /* ENOBUFS seen */
	uint64_t resyncs;         /* dumps, the first included */
	size_t rcvbuf;            /* the receive buffer now */
	size_t bytes;             /* memory the index holds */
};
void ctix_stats_get(const struct ctix *x, struct ctix_stats *st);

/* Visits, once each, every live connection with an address of either tuple in one of a's
 * ranges (a may be NULL), and every one whose mark has a bit of marked_mask. fn returning
 * non-zero stops the walk, and that value is returned; else 0. The index must not change
 * during the walk, except through ctix_mark_set. */
typedef int (*ctix_visit_fn)(void *arg, const struct ct_conn *c);
int ctix_query(struct ctix *x, const struct ct_affected *a, uint32_t marked_mask,
	       ctix_visit_fn fn, void *arg);

/* Records that the kernel's entry id now carries mark (after the caller updated it). */
void ctix_mark_set(struct ctix *x, uint32_t id, uint32_t mark);
/* Forgets id (the kernel deleted it, or said it no longer exists). */
void ctix_forget(struct ctix *x, uint32_t id);

/* The connection an object of libnetfilter_conntrack describes (a dump's or an event's). */
void ctix_conn_from_nfct(const struct nf_conntrack *ct, struct ct_conn *out);
/* A libnetfilter_conntrack object naming c's kernel entry (original tuple and zone), for an
 * update or a delete; free it with nfct_destroy. */
struct nf_conntrack *ctix_conn_nfct(const struct ct_conn *c);

#endif
