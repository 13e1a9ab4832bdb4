/* httpd.h — a small HTTP endpoint (libmicrohttpd) driven by the daemon's own event loop: no
 * thread, so the handler reads the daemon's state directly. GET only. */
#ifndef NETPOL_ENFORCER_HTTPD_H
#define NETPOL_ENFORCER_HTTPD_H

#include "evloop.h"

struct httpd;

/* Answers a GET of path: returns the HTTP status and sets *body (malloc'ed) and *ctype. */
typedef int (*httpd_fn)(void *data, const char *path, char **body, const char **ctype);

/* Listens on addr ("127.0.0.1:9753", "[::1]:9753"). 0, -EINVAL for a bad address, or -errno. */
int httpd_new(const char *addr, struct evloop *l, httpd_fn fn, void *data, struct httpd **out);
void httpd_free(struct httpd *h);
/* Lets the server expire idle connections; call now and then (once a second is plenty). */
void httpd_tick(struct httpd *h);

#endif
