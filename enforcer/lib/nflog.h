/* nflog.h — the packets the ruleset logs (its drop points' `log group N`), read from
 * nfnetlink_log over libmnl on a nonblocking socket an event loop polls.
 *
 * Only one socket can bind a group in a netns (tcpdump -i nflog:N, ulogd and this one exclude
 * each other): a taken group is -EBUSY, and the caller says so. Loss is never silent: when the
 * socket's receive buffer overflows (ENOBUFS) the buffer grows, up to a bound, and the gap in
 * the kernel's per-group sequence numbers says exactly how many packets were lost; each loss is
 * reported to the caller, and counted. */
#ifndef NETPOL_ENFORCER_NFLOG_H
#define NETPOL_ENFORCER_NFLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One logged packet; its pointers are valid only during the callback. */
struct nflog_pkt {
	const char *prefix;        /* the log statement's prefix ("" when none) */
	uint8_t family;            /* 4 or 6 */
	const uint8_t *payload;    /* from the network header, at most the copy range */
	size_t len;
	uint8_t hook;              /* NF_INET_* */
	int64_t time_ns;           /* the kernel's timestamp (realtime), or 0 (not on every hook) */
	uint32_t indev, outdev;    /* ifindex, 0 when none */
};

typedef void (*nflog_pkt_fn)(void *arg, const struct nflog_pkt *p);
/* n packets were lost (at least n, when the kernel cannot tell more). */
typedef void (*nflog_lost_fn)(void *arg, uint64_t n);

struct nflog_stats {
	uint64_t packets;   /* read */
	uint64_t lost;      /* reported lost */
	uint64_t enobufs;   /* overflows of the receive buffer */
	size_t rcvbuf;      /* the receive buffer now, as the kernel counts it (twice what was asked
			       for: SO_RCVBUF's own convention) */
};

struct nflog;

/* Binds group in this netns, copying the first 128 bytes of each packet (IP and transport
 * headers), with sequence numbers, and batches flushed within 10 ms; the receive buffer starts
 * at rcvbuf and may grow to rcvbuf_max (as asked for: the kernel doubles both). 0, -EBUSY when another socket has bound the group, or
 * another -errno. */
int nflog_open(uint16_t group, size_t rcvbuf, size_t rcvbuf_max, struct nflog **out);
/* Unbinds (closing the socket does) and frees. NULL-safe. */
void nflog_free(struct nflog *n);
int nflog_fd(const struct nflog *n);

/* Reads every queued packet, each to fn, each loss to lost. Returns the number of packets
 * read, or -errno (a loss is no error). */
int nflog_read(struct nflog *n, nflog_pkt_fn fn, nflog_lost_fn lost, void *arg);
void nflog_stats_get(const struct nflog *n, struct nflog_stats *st);

#endif
