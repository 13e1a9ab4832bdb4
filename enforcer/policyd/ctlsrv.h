/* ctlsrv.h — the server side of policyd's control socket (protocol: ctl.h). It accepts
 * connections of root (or of policyd's own uid) only, checked by the peer's credentials
 * (SO_PEERCRED) on every connection, whatever the socket file's mode; splits their input into
 * lines, parses each as a JSON object and hands it to the daemon's handler, which answers with
 * ctlsrv_reply. No client can stall the loop or exhaust it: replies are queued and sent as the
 * client reads them (a client that does not read gets no further request served), a request
 * line has a length cap, idle connections are closed, and the number of connections is
 * bounded, the one idle longest giving way to a new one. */
#ifndef NETPOL_ENFORCER_CTLSRV_H
#define NETPOL_ENFORCER_CTLSRV_H

#include <stdint.h>

#include <jansson.h>

#include "evloop.h"

struct ctlsrv;
struct ctlsrv_conn;

/* Called once per request line; must call ctlsrv_reply exactly once before returning. */
typedef void (*ctlsrv_fn)(void *data, struct ctlsrv_conn *c, json_t *req);

struct ctlsrv_opts {
	ctlsrv_fn fn;
	void *data;
	/* Told of each connection refused by its credentials, with its uid and pid: the daemon's
	 * log says who tried. May be NULL. */
	void (*refused)(void *data, unsigned uid, int pid);
	size_t max_clients;  /* connections held at once (0: 1024) */
	long long idle_ms;   /* a connection neither sending nor reading for this long is
				closed (0: 30 s) */
	size_t max_line;     /* a longer request line gets an error reply, then the connection
				is closed (0: 64 KiB) */
};

/* What the server did, for status and /metrics. */
struct ctlsrv_stats {
	size_t clients;              /* connections open now */
	uint64_t accepted;           /* connections served */
	uint64_t refused_peer;       /* refused: another user's */
	uint64_t closed_idle;        /* closed after idle_ms of nothing */
	uint64_t closed_evicted;     /* closed to make room at max_clients */
	uint64_t closed_long_line;   /* closed after a line longer than max_line */
};

/* Listens on path (mode 0600, backlog SOMAXCONN). A stale socket file is replaced;
 * -EADDRINUSE when another process answers there. */
int ctlsrv_new(const char *path, const struct ctlsrv_opts *o, struct evloop *l,
	       struct ctlsrv **out);
/* Closes every connection and removes the socket file. NULL-safe. */
void ctlsrv_free(struct ctlsrv *s);

/* Queues reply (a JSON object; the reference is stolen) as one line, sending what the socket
 * takes now. */
void ctlsrv_reply(struct ctlsrv_conn *c, json_t *reply);
/* Instead of one reply: the handler takes the connection's socket for a stream of lines
 * (policyd's flows request) and closes it itself; the server forgets the connection once the
 * handler returns (input after this request is not read here, and the stream counts neither
 * against max_clients nor for the idle sweep: its taker bounds its own). Counts as the reply.
 * Returns the fd. */
int ctlsrv_take(struct ctlsrv_conn *c);

void ctlsrv_stats_get(const struct ctlsrv *s, struct ctlsrv_stats *out);

#endif
