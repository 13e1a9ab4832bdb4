/* httpd.h — a small HTTP endpoint (libmicrohttpd) driven by the daemon's own event loop: no
 * thread, so the handler reads the daemon's state directly. GET only. Every socket is
 * non-blocking, so a slow client never holds the loop; what clients can take is bounded:
 * HTTPD_MAX_CONNECTIONS at once, HTTPD_MAX_PER_IP from one address, HTTPD_MEMORY per
 * connection (a request's header and body: a larger request is refused), HTTPD_IDLE_S of
 * silence, and HTTPD_LIFETIME_S in all (a client trickling a byte now and then, slowloris, is
 * cut there). */
#ifndef NETPOL_ENFORCER_HTTPD_H
#define NETPOL_ENFORCER_HTTPD_H

#include "evloop.h"

#define HTTPD_MAX_CONNECTIONS 32u
#define HTTPD_MAX_PER_IP 8u
#define HTTPD_MEMORY (16u * 1024)
#define HTTPD_IDLE_S 10u
#define HTTPD_LIFETIME_S 30

struct httpd;

/* Answers a GET of path: returns the HTTP status and sets *body (malloc'ed) and *ctype. */
typedef int (*httpd_fn)(void *data, const char *path, char **body, const char **ctype);

/* Listens on addr ("127.0.0.1:9753", "[::1]:9753"). 0, -EINVAL for a bad address, or -errno. */
int httpd_new(const char *addr, struct evloop *l, httpd_fn fn, void *data, struct httpd **out);
void httpd_free(struct httpd *h);
/* Lets the server expire idle connections and cuts those past HTTPD_LIFETIME_S; call now and
 * then (once a second is plenty). NULL-safe. */
void httpd_tick(struct httpd *h);
/* Connections open now (0 for NULL). */
unsigned httpd_connections(const struct httpd *h);

#endif
