/* etcd.c — see etcd.h: the transport (libcurl), endpoint failover, asynchronous calls and
 * watch streams on the caller's event loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <curl/curl.h>

#include "etcd.h"
#include "xalloc.h"

#define CONNECT_MS 1000
#define REQUEST_MS 3000

struct buf {
	char *p;
	size_t n, cap;
};

/* An asynchronous call, or a watch (a call that answers many times; see struct etcd_watch). */
struct areq {
	struct etcd *e;
	CURL *h;
	char *path, *body;
	unsigned flags;
	size_t ep, tried;          /* the endpoint in use, how many were tried */
	struct buf in;
	char why[1024];            /* the reasons of the endpoints that failed so far */
	etcd_done_fn fn;
	void *arg;
	bool is_watch, done, dead;
	CURLcode cc;
	struct areq *next;
};

struct etcd_watch {
	struct areq a;
};

struct etcd {
	char *url;
	char **eps;                /* "http://H:P" */
	size_t n_eps, cur;         /* cur: the last endpoint that answered */
	CURL **easy;               /* one keep-alive handle per endpoint, for blocking calls */
	long connect_ms, request_ms;
	struct curl_slist *hdrs, *hdrs_any; /* with and without the require-leader header */
	CURLM *multi;
	struct etcd_loop loop;
	struct areq *reqs;
	int dispatching;
};

/* ---- endpoints ---- */

static void add_endpoint(struct etcd *e, const char *hp, size_t n)
{
	e->eps = xreallocarray(e->eps, e->n_eps + 1, sizeof(*e->eps));
	e->eps[e->n_eps++] = xasprintf("http://%.*s", (int)n, hp);
}

int etcd_new(const char *url, struct etcd **out, struct ns_error *err)
{
	struct etcd *e;
	const char *p;

	if (strncmp(url, "etcd://", 7) || !url[7])
		return ns_error_set(err, -EINVAL, "bad store '%s' (want etcd://HOST:PORT[,HOST:PORT...])",
				    url);
	e = xcalloc(1, sizeof(*e));
	e->url = xstrdup(url);
	for (p = url + 7; *p;) {
		size_t n = strcspn(p, ",");
		if (n == 0 || memchr(p, '/', n) || !memchr(p, ':', n)) {
			etcd_free(e);
			return ns_error_set(err, -EINVAL, "bad store endpoint '%.*s' in '%s' (want HOST:PORT)",
					    (int)n, p, url);
		}
		add_endpoint(e, p, n);
		p += n + (p[n] == ',');
	}
	curl_global_init(CURL_GLOBAL_DEFAULT); /* reference counted by libcurl */
	e->easy = xcalloc(e->n_eps, sizeof(*e->easy));
	e->connect_ms = CONNECT_MS;
	e->request_ms = REQUEST_MS;
	/* the gateway form of clientv3.WithRequireLeader (etcd.h) */
	e->hdrs_any = curl_slist_append(NULL, "Content-Type: application/json");
	e->hdrs_any = curl_slist_append(e->hdrs_any, "Expect:"); /* no 100-continue round trip */
	e->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	e->hdrs = curl_slist_append(e->hdrs, "Expect:");
	e->hdrs = curl_slist_append(e->hdrs, "Grpc-Metadata-hasleader: true");
	*out = e;
	return 0;
}

static void areq_free(struct areq *a)
{
	if (a->h) {
		curl_multi_remove_handle(a->e->multi, a->h);
		curl_easy_cleanup(a->h);
	}
	free(a->path);
	free(a->body);
	free(a->in.p);
	free(a);
}

void etcd_free(struct etcd *e)
{
	if (!e)
		return;
	while (e->reqs) {
		struct areq *a = e->reqs;
		e->reqs = a->next;
		areq_free(a);
	}
	if (e->multi)
		curl_multi_cleanup(e->multi);
	for (size_t i = 0; i < e->n_eps; i++) {
		if (e->easy && e->easy[i])
			curl_easy_cleanup(e->easy[i]);
		free(e->eps[i]);
	}
	if (e->easy)
		curl_global_cleanup();
	curl_slist_free_all(e->hdrs);
	curl_slist_free_all(e->hdrs_any);
	free(e->easy);
	free(e->eps);
	free(e->url);
	free(e);
}

const char *etcd_url(const struct etcd *e)
{
	return e->url;
}

void etcd_set_timeouts(struct etcd *e, long connect_ms, long request_ms)
{
	e->connect_ms = connect_ms;
	e->request_ms = request_ms;
}

/* ---- one HTTP exchange ---- */

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;

	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

static void setup_handle(struct etcd *e, CURL *h, size_t ep, const char *path, const char *body,
			 struct buf *in, bool stream, unsigned flags)
{
	char url[512];

	snprintf(url, sizeof(url), "%s%s", e->eps[ep], path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, flags & ETCD_ANY ? e->hdrs_any : e->hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, in);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, e->connect_ms);
	/* a watch lasts as long as it is wanted; TCP keepalive finds a peer that vanished */
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, stream ? 0L : e->request_ms);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 5L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 2L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	in->n = 0;
	if (in->p)
		in->p[0] = '\0';
}

/* What an exchange's outcome means for the request. */
enum outcome {
	OUT_OK,
	OUT_NEXT,     /* not carried out: another endpoint may take it */
	OUT_UNKNOWN,  /* a write sent and not answered: it may yet be applied */
	OUT_FAIL,     /* etcd refused it: the same anywhere */
};

static int errno_of_code(int code)
{
	switch (code) {
	case 3: return -EINVAL;   /* InvalidArgument */
	case 5: return -ENOENT;   /* NotFound: lease not found */
	case 6: return -EEXIST;   /* AlreadyExists */
	case 8: return -E2BIG;    /* ResourceExhausted: request too large */
	case 9: return -EEXIST;   /* FailedPrecondition: lease already exists */
	case 11: return -ERANGE;  /* OutOfRange: revision compacted */
	default: return -EPROTO;
	}
}

/* Classifies one exchange on endpoint ep; on OUT_OK *resp is parsed (caller frees), otherwise
 * why (of size n) gets this endpoint's reason and *rc the errno for OUT_FAIL. */
static enum outcome classify(struct etcd *e, CURL *h, size_t ep, CURLcode cc,
			     const struct buf *in, unsigned flags, struct etcd_resp *resp,
			     int *rc, char *why, size_t n)
{
	char perr[256] = "";
	long http = 0;
	curl_off_t pre = 0;

	memset(resp, 0, sizeof(*resp));
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
	curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &pre);
	if (cc != CURLE_OK) {
		bool sent = pre > 0 && cc != CURLE_COULDNT_CONNECT;
		if (cc == CURLE_OPERATION_TIMEDOUT && sent)
			snprintf(why, n, "%s: no answer in %ld ms", e->eps[ep], e->request_ms);
		else
			snprintf(why, n, "%s: %s", e->eps[ep], curl_easy_strerror(cc));
		return sent && !(flags & ETCD_READ) ? OUT_UNKNOWN : OUT_NEXT;
	}
	if (etcd_parse(in->p ? in->p : "", in->n, resp, perr, sizeof(perr)) < 0) {
		etcd_resp_free(resp);
		snprintf(why, n, "%s: HTTP %ld, unreadable answer (%s)", e->eps[ep], http, perr);
		*rc = -EBADMSG;
		return http >= 500 ? OUT_NEXT : OUT_FAIL;
	}
	if (http == 200 && !resp->is_error)
		return OUT_OK;
	snprintf(why, n, "%s: %s", e->eps[ep], resp->is_error ? resp->error : "HTTP error");
	*rc = errno_of_code(resp->code);
	etcd_resp_free(resp);
	if (http < 500)
		return OUT_FAIL;
	/* refused before it was proposed: nothing happened */
	if (strstr(why, "no leader") || strstr(why, "not capable") || strstr(why, "stopped"))
		return OUT_NEXT;
	return flags & ETCD_READ ? OUT_NEXT : OUT_UNKNOWN;
}

static void append_why(char *all, size_t n, const char *one)
{
	size_t len = strlen(all);

	snprintf(all + len, n - len, "%s%s", len ? "; " : "", one);
}

int etcd_call(struct etcd *e, const char *path, json_t *body, unsigned flags,
	      struct etcd_resp *out, struct ns_error *err)
{
	char *text = json_dumps(body, JSON_COMPACT), all[1024] = "", why[512];
	struct buf in = { 0 };
	int rc = 0;

	if (!text)
		abort();
	memset(out, 0, sizeof(*out));
	for (size_t k = 0; k < e->n_eps; k++) {
		size_t i = (e->cur + k) % e->n_eps;
		enum outcome o;
		CURLcode cc;
		if (!e->easy[i] && !(e->easy[i] = curl_easy_init()))
			abort();
		setup_handle(e, e->easy[i], i, path, text, &in, false, flags);
		cc = curl_easy_perform(e->easy[i]);
		o = classify(e, e->easy[i], i, cc, &in, flags, out, &rc, why, sizeof(why));
		if (o == OUT_NEXT) {
			append_why(all, sizeof(all), why);
			continue;
		}
		e->cur = i;
		if (o == OUT_OK)
			rc = 0;
		else if (o == OUT_UNKNOWN)
			rc = ns_error_set(err, -ETIMEDOUT, "%s", why);
		else
			rc = ns_error_set(err, rc, "%s", why);
		goto out;
	}
	rc = ns_error_set(err, -EHOSTUNREACH, "%s", all);
out:
	free(text);
	free(in.p);
	return rc;
}

/* ---- the event loop side ---- */

static int sock_cb(CURL *h, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct etcd *e = userp;
	uint32_t ev = 0;

	if (what != CURL_POLL_REMOVE)
		ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	e->loop.fd(e->loop.arg, s, ev);
	return 0;
}

static int timer_cb(CURLM *m, long ms, void *userp)
{
	struct etcd *e = userp;

	e->loop.timer(e->loop.arg, ms);
	return 0;
}

void etcd_set_loop(struct etcd *e, const struct etcd_loop *loop)
{
	e->loop = *loop;
	if (!(e->multi = curl_multi_init()))
		abort();
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
}

static int areq_start(struct areq *a)
{
	struct etcd *e = a->e;

	if (!a->h && !(a->h = curl_easy_init()))
		abort();
	setup_handle(e, a->h, a->ep, a->path, a->body, &a->in, a->is_watch, a->flags);
	curl_easy_setopt(a->h, CURLOPT_PRIVATE, a);
	a->done = false;
	return curl_multi_add_handle(e->multi, a->h) == CURLM_OK ? 0 : -EIO;
}

static struct areq *areq_new(struct etcd *e, const char *path, json_t *body, unsigned flags,
			     etcd_done_fn fn, void *arg, size_t size)
{
	struct areq *a = xcalloc(1, size);

	a->e = e;
	a->path = xstrdup(path);
	if (!(a->body = json_dumps(body, JSON_COMPACT)))
		abort();
	a->flags = flags;
	a->ep = e->cur;
	a->fn = fn;
	a->arg = arg;
	return a;
}

static int areq_add(struct areq *a)
{
	int rc = areq_start(a);

	if (rc < 0) {
		areq_free(a);
		return rc;
	}
	a->next = a->e->reqs;
	a->e->reqs = a;
	return 0;
}

int etcd_call_async(struct etcd *e, const char *path, json_t *body, unsigned flags,
		    etcd_done_fn fn, void *arg)
{
	return areq_add(areq_new(e, path, body, flags, fn, arg, sizeof(struct areq)));
}

int etcd_watch_open(struct etcd *e, json_t *create_req, etcd_done_fn fn, void *arg,
		    struct etcd_watch **out)
{
	json_t *body = json_pack("{s:O}", "create_request", create_req);
	struct areq *a = areq_new(e, "/v3/watch", body, ETCD_READ, fn, arg, sizeof(struct etcd_watch));
	int rc;

	json_decref(body);
	a->is_watch = true;
	if ((rc = areq_add(a)) < 0)
		return rc;
	*out = (struct etcd_watch *)a;
	return 0;
}

static void areq_kill(struct areq *a)
{
	a->dead = true;
	if (a->h) {
		curl_multi_remove_handle(a->e->multi, a->h);
		curl_easy_cleanup(a->h);
		a->h = NULL;
	}
}

void etcd_watch_close(struct etcd_watch *w)
{
	if (w)
		areq_kill(&w->a);
}

/* A watch's complete lines, each one message, to its callback. */
static void watch_deliver(struct areq *a)
{
	char *start = a->in.p, *nl;

	while (!a->dead && start && (nl = memchr(start, '\n', a->in.n - (size_t)(start - a->in.p)))) {
		struct etcd_resp r;
		char perr[256];
		if (nl > start) {
			if (etcd_parse(start, (size_t)(nl - start), &r, perr, sizeof(perr)) == 0)
				a->fn(a->arg, 0, &r, NULL);
			else
				a->fn(a->arg, -EBADMSG, NULL, perr);
			etcd_resp_free(&r);
		}
		start = nl + 1;
	}
	if (!a->dead && start && start != a->in.p) {
		a->in.n -= (size_t)(start - a->in.p);
		memmove(a->in.p, start, a->in.n + 1);
	}
}

/* A finished exchange: the answer to the callback, or the next endpoint tried. */
static void areq_finish(struct areq *a)
{
	struct etcd *e = a->e;
	struct etcd_resp r = { 0 };
	char why[512];
	int rc = 0;
	enum outcome o;

	if (a->is_watch) {
		/* what came before the end was delivered; a stream that ended (the member shut
		 * down or lost its leader, or never answered) is the caller's to reopen */
		long http = 0;
		curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, &http);
		if (a->cc != CURLE_OK)
			snprintf(why, sizeof(why), "%s: %s", e->eps[a->ep], curl_easy_strerror(a->cc));
		else if (http != 200 && etcd_parse(a->in.p ? a->in.p : "", a->in.n, &r, why, 1) == 0 &&
			 r.is_error)
			snprintf(why, sizeof(why), "%s: %s", e->eps[a->ep], r.error);
		else if (http != 200)
			snprintf(why, sizeof(why), "%s: HTTP %ld", e->eps[a->ep], http);
		else
			snprintf(why, sizeof(why), "%s: the watch stream ended", e->eps[a->ep]);
		etcd_resp_free(&r);
		e->cur = (a->ep + 1) % e->n_eps; /* the next open goes elsewhere */
		areq_kill(a);
		a->fn(a->arg, -ECONNRESET, NULL, why);
		return;
	}
	o = classify(e, a->h, a->ep, a->cc, &a->in, a->flags, &r, &rc, why, sizeof(why));
	if (o == OUT_NEXT && ++a->tried < e->n_eps) {
		append_why(a->why, sizeof(a->why), why);
		curl_multi_remove_handle(e->multi, a->h);
		a->ep = (a->ep + 1) % e->n_eps;
		if (areq_start(a) == 0)
			return;
	}
	areq_kill(a);
	if (o == OUT_OK) {
		e->cur = a->ep;
		a->fn(a->arg, 0, &r, NULL);
		etcd_resp_free(&r);
		return;
	}
	append_why(a->why, sizeof(a->why), why);
	rc = o == OUT_NEXT ? -EHOSTUNREACH : o == OUT_UNKNOWN ? -ETIMEDOUT : rc;
	a->fn(a->arg, rc, NULL, a->why);
}

/* After curl ran: finished exchanges noted, then every callback run (outside libcurl's own
 * callbacks, where adding or removing a handle is not allowed), then the dead reclaimed. */
static void dispatch(struct etcd *e)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(e->multi, &left))) {
		struct areq *a = NULL;
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&a);
		if (a) {
			a->done = true;
			a->cc = m->data.result;
		}
	}
	if (e->dispatching++)
		goto out; /* a callback's etcd_on_* re-entered: the outer round finishes */
	for (struct areq *a = e->reqs; a; a = a->next) {
		if (a->dead)
			continue;
		if (a->is_watch)
			watch_deliver(a);
		if (a->done && !a->dead)
			areq_finish(a);
	}
	for (struct areq **pp = &e->reqs; *pp;) {
		struct areq *a = *pp;
		if (a->dead) {
			*pp = a->next;
			areq_free(a);
		} else {
			pp = &a->next;
		}
	}
out:
	e->dispatching--;
}

void etcd_on_fd(struct etcd *e, int fd, uint32_t events)
{
	int running, mask = 0;

	if (events & EPOLLIN)
		mask |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		mask |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		mask |= CURL_CSELECT_ERR;
	curl_multi_socket_action(e->multi, fd, mask, &running);
	dispatch(e);
}

void etcd_on_timeout(struct etcd *e)
{
	int running;

	curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	dispatch(e);
}
