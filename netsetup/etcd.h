/* etcd.h — a client of etcd v3 through its JSON gateway (POST /v3/kv/range, /v3/kv/txn,
 * /v3/lease/..., /v3/watch). etcd's native API is gRPC; the gateway is its documented HTTP
 * form, so libcurl and jansson are all it takes (no gRPC or protobuf stack).
 *
 * The gateway's rules, which every request and the parser follow: keys and values are base64;
 * int64 fields are JSON strings; fields holding their default are omitted (no "succeeded" is
 * false, no "kvs" is none, no "type" is PUT); every call is a POST.
 *
 * Two ways to call. Blocking calls (etcd_call: the CLI's) go through one keep-alive curl
 * handle per endpoint, and fail over to the next endpoint when one cannot take the request.
 * Asynchronous calls and watches (the agent's) run on a curl multi handle whose sockets and
 * timer the caller puts on its own event loop (struct etcd_loop), so a stream and many requests
 * share one thread and never block it.
 *
 * Every request carries the gateway form of clientv3.WithRequireLeader: a member that has
 * lost its leader answers "no leader" at once instead of holding the request (and a watch on
 * it ends instead of going silent), so a store without quorum is found out in milliseconds. */
#ifndef NETSETUP_ETCD_H
#define NETSETUP_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "nl.h"

/* ---- responses (etcd_json.c) ---- */

struct etcd_kv {
	char *key, *value;          /* decoded, NUL-terminated (value "" when absent) */
	size_t value_len;
	int64_t create_rev, mod_rev, version, lease;
};

struct etcd_event {
	bool is_delete;
	struct etcd_kv kv;          /* a DELETE's kv has only key and mod_rev */
	struct etcd_kv prev;        /* with prev_kv requested: the value before */
	bool has_prev;
};

/* One response, or one message of a watch stream, parsed. */
struct etcd_resp {
	int64_t revision;           /* header.revision */
	bool succeeded;             /* txn */
	struct etcd_kv *kvs;        /* range; txn: those of every response_range, in order */
	size_t n_kvs;
	int64_t count, deleted;     /* range count; deleted by delete_range (txn: summed) */
	int64_t lease_id, ttl;      /* lease grant and keepalive; ttl 0 when absent */
	/* watch */
	bool created, canceled;
	int64_t compact_revision, watch_id;
	struct etcd_event *events;
	size_t n_events;
	/* an error answer: {"error":"...","code":N} or, in a stream, {"error":{...}} */
	bool is_error;
	int code;                   /* gRPC code */
	char error[256];
};

/* Parses one gateway answer (a whole unary body, or one line of a watch stream) into out,
 * which the caller frees with etcd_resp_free even on failure. 0, or -EBADMSG with the reason
 * in err. This is the one place etcd's JSON is read: a fuzz target can call it alone. */
int etcd_parse(const char *buf, size_t len, struct etcd_resp *out, char *err, size_t errlen);
void etcd_resp_free(struct etcd_resp *r);

/* ---- building requests (etcd_json.c) ---- */

/* A base64 JSON string of s (n bytes; n == (size_t)-1: strlen). */
json_t *etcd_b64(const char *s, size_t n);
/* The range end that makes key a prefix (its last byte plus one), malloc'ed. */
char *etcd_prefix_end(const char *prefix);
/* {"key","range_end"?} for a key or, with prefix, every key under it. */
json_t *etcd_range_req(const char *key, bool prefix);
/* Transaction pieces: compares and operations. */
json_t *etcd_cmp_absent(const char *key);              /* create_revision == 0 */
json_t *etcd_cmp_none_under(const char *prefix);       /* no key under prefix */
json_t *etcd_cmp_mod(const char *key, int64_t rev);    /* mod_revision == rev */
json_t *etcd_op_put(const char *key, const char *value, int64_t lease);
json_t *etcd_op_delete(const char *key, bool prefix);
json_t *etcd_op_range(const char *key, bool prefix);
/* {"compare":cmps,"success":ok,"failure":fail}; steals the three arrays (fail may be NULL). */
json_t *etcd_txn(json_t *cmps, json_t *ok, json_t *fail);

/* ---- the client (etcd.c) ---- */

struct etcd;

/* The caller's event loop, for asynchronous calls and watches. */
struct etcd_loop {
	void *arg;
	/* Watch fd for events (EPOLLIN and/or EPOLLOUT), replacing what was asked before for it;
	 * events 0: stop watching fd. Call etcd_on_fd when it fires. */
	void (*fd)(void *arg, int fd, uint32_t events);
	/* Call etcd_on_timeout in ms milliseconds (replacing the previous request); -1: not. */
	void (*timer)(void *arg, long ms);
};

/* The endpoints of url ("etcd://H:P[,H:P...]"); a bad url is -EINVAL with err set. */
int etcd_new(const char *url, struct etcd **out, struct ns_error *err);
/* Ends every call and watch in flight without calling back. NULL-safe. */
void etcd_free(struct etcd *e);
/* The url it was made from (for messages). */
const char *etcd_url(const struct etcd *e);
/* Per-request limits in ms (defaults: connect 1000, whole request 3000). */
void etcd_set_timeouts(struct etcd *e, long connect_ms, long request_ms);

/* Flags of a call. */
enum {
	ETCD_READ = 1,   /* repeatable: retried on another endpoint even after a timeout */
	ETCD_ANY = 2,    /* a serializable read: any live member answers, leader or not (the
			    request goes without the require-leader header) */
};

/* Blocking call of path ("/v3/kv/txn") with body. Tries the endpoints in turn, starting from
 * the last one that answered: on an endpoint that refuses the connection or has no leader
 * the request was not carried out, so the next is tried. Returns 0 with *out filled (free it
 * with etcd_resp_free; it is zeroed on failure), or:
 *   -EHOSTUNREACH  no endpoint could take it (err names each endpoint and why): not applied
 *   -ETIMEDOUT     a write was sent and not answered in time: its outcome is unknown (etcd
 *                  may apply it later), read back before doing anything else
 *   other          etcd refused it (err has etcd's message; -ENOENT: lease not found,
 *                  -ERANGE: revision compacted) */
int etcd_call(struct etcd *e, const char *path, json_t *body, unsigned flags,
	      struct etcd_resp *out, struct ns_error *err);

/* Asynchronous calls and watches need the loop first. */
void etcd_set_loop(struct etcd *e, const struct etcd_loop *loop);
void etcd_on_fd(struct etcd *e, int fd, uint32_t events);
void etcd_on_timeout(struct etcd *e);

/* Completion of an asynchronous call: rc and resp as etcd_call's (resp NULL when rc < 0;
 * it is freed after the callback returns), why: the error's text. */
typedef void (*etcd_done_fn)(void *arg, int rc, struct etcd_resp *resp, const char *why);
/* Starts the call; fn runs from etcd_on_fd or etcd_on_timeout. 0 or -errno. */
int etcd_call_async(struct etcd *e, const char *path, json_t *body, unsigned flags,
		    etcd_done_fn fn, void *arg);

/* A watch: one streaming POST /v3/watch with body {"create_request":...}. fn gets each
 * message (rc 0), then once the stream ends or fails rc < 0 with why; the watch is gone then
 * (the caller opens a new one). A cancelled or compacted watch does not end the HTTP stream
 * by itself: the caller closes it. */
struct etcd_watch;
int etcd_watch_open(struct etcd *e, json_t *create_req, etcd_done_fn fn, void *arg,
		    struct etcd_watch **out);
/* Ends the stream without a callback. NULL-safe; callable from the watch's own callback. */
void etcd_watch_close(struct etcd_watch *w);

#endif
