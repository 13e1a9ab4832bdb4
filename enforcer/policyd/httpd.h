/* httpd.h — a small HTTP endpoint (libmicrohttpd) driven by the daemon's own event loop: no
 * thread, so the handler reads the daemon's state directly. GET only. Every socket is
 * non-blocking, so a slow client never holds the loop; what clients can take is bounded:
 * HTTPD_MAX_CONNECTIONS at once, HTTPD_MAX_PER_IP from one address, HTTPD_MEMORY per
 * connection (a request's header and body: a larger request is refused), HTTPD_IDLE_S of
 * silence, and HTTPD_LIFETIME_S in all (a client trickling a byte now and then, slowloris, is
 * cut there). */
#ifndef NETPOL_ENFORCER_HTTPD_H
#define NETPOL_ENFORCER_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#include "evloop.h"

#define HTTPD_MAX_CONNECTIONS 32u
#define HTTPD_MAX_PER_IP 8u
#define HTTPD_MEMORY (16u * 1024)
#define HTTPD_IDLE_S 10u
#define HTTPD_LIFETIME_S 30

struct httpd;

/* One query argument, decoded ("?verdict=DROPPED&x" gives {verdict, DROPPED}, {x, ""}). */
struct httpd_arg {
	const char *key, *value;
};

/* A GET: its path (no query) and its query arguments in the order given (a key may repeat);
 * valid while the handler runs. */
struct httpd_req {
	const char *path;
	const struct httpd_arg *args;
	size_t n_args;
};

/* The first value of key, or NULL. */
const char *httpd_req_arg(const struct httpd_req *rq, const char *key);

/* Answers a GET: returns the HTTP status and sets *body (malloc'ed) and *ctype. Every answer
 * carries a Content-Security-Policy of default-src 'self' (no inline script, no other origin),
 * nosniff, no referrer and no caching. */
typedef int (*httpd_fn)(void *data, const struct httpd_req *rq, char **body, const char **ctype);

/* Listens on addr ("127.0.0.1:9753", "[::1]:9753"). 0, -EINVAL for a bad address, or -errno. */
int httpd_new(const char *addr, struct evloop *l, httpd_fn fn, void *data, struct httpd **out);
void httpd_free(struct httpd *h);
/* Lets the server expire idle connections and cuts those past HTTPD_LIFETIME_S; call now and
 * then (once a second is plenty). NULL-safe. */
void httpd_tick(struct httpd *h);
/* Connections open now (0 for NULL). */
unsigned httpd_connections(const struct httpd *h);

#endif
