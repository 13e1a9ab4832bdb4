/* ctlsrv.h — the server side of policyd's control socket (protocol: ctl.h). It accepts
 * connections of root (or of policyd's own uid) only, splits their input into lines, parses each
 * as a JSON object and hands it to the daemon's handler, which answers with ctlsrv_reply. */
#ifndef NETPOL_ENFORCER_CTLSRV_H
#define NETPOL_ENFORCER_CTLSRV_H

#include <jansson.h>

#include "evloop.h"

struct ctlsrv;
struct ctlsrv_conn;

/* Called once per request line; must call ctlsrv_reply exactly once before returning. */
typedef void (*ctlsrv_fn)(void *data, struct ctlsrv_conn *c, json_t *req);

/* Listens on path (mode 0600). A stale socket file is replaced; -EADDRINUSE when another
 * process answers there. */
int ctlsrv_new(const char *path, struct evloop *l, ctlsrv_fn fn, void *data, struct ctlsrv **out);
/* Closes every connection and removes the socket file. NULL-safe. */
void ctlsrv_free(struct ctlsrv *s);

/* Sends reply (a JSON object; the reference is stolen) as one line. */
void ctlsrv_reply(struct ctlsrv_conn *c, json_t *reply);
/* Instead of one reply: the handler takes the connection's socket for a stream of lines
 * (policyd's flows request) and closes it itself; the server forgets the connection (input
 * after this request is not read here). Counts as the reply. Returns the fd. */
int ctlsrv_take(struct ctlsrv_conn *c);

#endif
