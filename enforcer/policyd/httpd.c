/* httpd.c — see httpd.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "clock.h"
#include "httpd.h"
#include "xalloc.h"

/* A connection's socket and when it opened, for the lifetime cap and the half-closed cut. */
struct hconn {
	struct MHD_Connection *conn;
	int fd;
	double opened_ms;
	struct hconn *prev, *next;
};

struct httpd {
	struct MHD_Daemon *d;
	struct evloop *l;
	struct evsource *src, *t_again;
	httpd_fn fn;
	void *data;
	struct hconn *conns; /* oldest last */
};

/* Query arguments a request may carry; more is refused (400). */
#define HTTPD_MAX_ARGS 64

struct args {
	struct httpd_arg v[HTTPD_MAX_ARGS];
	size_t n;
	bool overflow;
};

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	struct args *a = cls;
	if (a->n == HTTPD_MAX_ARGS) {
		a->overflow = true;
		return MHD_NO;
	}
	a->v[a->n++] = (struct httpd_arg){ .key = key, .value = value ? value : "" };
	return MHD_YES;
}

const char *httpd_req_arg(const struct httpd_req *rq, const char *key)
{
	for (size_t i = 0; i < rq->n_args; i++)
		if (!strcmp(rq->args[i].key, key))
			return rq->args[i].value;
	return NULL;
}

/* What every answer carries: the page's scripts and styles come from this server only, and
 * nothing inline runs (an injected <script> would not); it is never framed, sniffed or cached. */
static void add_headers(struct MHD_Response *r, const char *ctype)
{
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; base-uri 'none'; form-action 'self'; "
				"frame-ancestors 'none'");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cache-Control", "no-store");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct httpd *h = cls;
	char *body = NULL;
	const char *ctype = "text/plain; charset=utf-8";
	int status;
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		body = xstrdup("GET only\n");
	} else {
		struct args a = { .n = 0 };
		MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg, &a);
		struct httpd_req rq = { .path = url, .args = a.v, .n_args = a.n };
		if (a.overflow) {
			status = MHD_HTTP_BAD_REQUEST;
			body = xasprintf("at most %d query arguments\n", HTTPD_MAX_ARGS);
		} else {
			status = h->fn(h->data, &rq, &body, &ctype);
		}
	}
	if (!body)
		body = xstrdup("");
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	add_headers(r, ctype);
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct httpd *h = cls;
	struct hconn *c = *socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c = xcalloc(1, sizeof(*c));
		c->conn = conn;
		c->fd = ci ? ci->connect_fd : -1;
		c->opened_ms = clock_now_ms();
		c->next = h->conns;
		if (h->conns)
			h->conns->prev = c;
		h->conns = c;
		*socket_context = c;
	} else if (c) {
		*(c->prev ? &c->prev->next : &h->conns) = c->next;
		if (c->next)
			c->next->prev = c->prev;
		free(c);
		*socket_context = NULL;
	}
}

/* Runs the library, then arms the timer for when it asks to run again: its sockets are
 * edge-triggered inside its own epoll set, so work it could not finish in one run (a request
 * that filled its buffer and must be refused, a connection to close) gives no new event; its
 * timeout is what says so (0: at once). */
/* A client that shut its side down with no request under way will send no request: its
 * connection is cut (the library, 0.9.75 on epoll, does not read an end of input that came
 * with the last bytes, and would keep such a connection until its idle timeout). Under way:
 * unread bytes, or an answer queued (it may still be sending). */
static void cut_half_closed(struct httpd *h)
{
	for (struct hconn *c = h->conns; c; c = c->next) {
		struct pollfd p = { .fd = c->fd, .events = POLLRDHUP };
		int unread = 1;
		if (c->fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP)) &&
		    ioctl(c->fd, FIONREAD, &unread) == 0 && unread == 0 &&
		    !MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_HTTP_STATUS))
			shutdown(c->fd, SHUT_RDWR);
	}
}

static void run(struct httpd *h)
{
	MHD_run(h->d);
	cut_half_closed(h);
	MHD_UNSIGNED_LONG_LONG ms;
	if (MHD_get_timeout(h->d, &ms) == MHD_YES)
		evloop_timer_arm(h->t_again, ms ? (long long)ms : 1, 0);
}

static void on_ready(void *data, uint32_t events)
{
	run(data);
}

/* "IP:PORT" or "[IP6]:PORT" */
static int parse_addr(const char *addr, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon = strrchr(addr, ':');
	if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535)
		return -EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		size_t n = strlen(host);
		if (n < 3 || host[n - 1] != ']')
			return -EINVAL;
		host[n - 1] = 0;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -EINVAL;
}

int httpd_new(const char *addr, struct evloop *l, httpd_fn fn, void *data, struct httpd **out)
{
	struct sockaddr_storage ss;
	int r = parse_addr(addr, &ss);
	if (r < 0)
		return r;
	struct httpd *h = xcalloc(1, sizeof(*h));
	*h = (struct httpd){ .l = l, .fn = fn, .data = data };
	unsigned flags = MHD_USE_EPOLL | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	errno = 0;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &ss,
				MHD_OPTION_CONNECTION_TIMEOUT, HTTPD_IDLE_S,
				MHD_OPTION_CONNECTION_LIMIT, HTTPD_MAX_CONNECTIONS,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, HTTPD_MAX_PER_IP,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTPD_MEMORY,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_END);
	if (!h->d) {
		free(h);
		return errno ? -errno : -EADDRINUSE;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	h->src = info ? evloop_source_add(l, info->epoll_fd, EPOLLIN, on_ready, h) : NULL;
	h->t_again = evloop_timer_add(l, on_ready, h);
	if (!h->src || !h->t_again) {
		evloop_source_del(l, h->src);
		evloop_timer_del(l, h->t_again);
		MHD_stop_daemon(h->d);
		free(h);
		return -EIO;
	}
	*out = h;
	return 0;
}

void httpd_tick(struct httpd *h)
{
	if (!h)
		return;
	/* past its lifetime, a connection's socket is shut down under the library, which then
	 * sees its end and closes it (it has no call to close one itself) */
	double now = clock_now_ms();
	for (struct hconn *c = h->conns; c; c = c->next)
		if (c->fd >= 0 && now - c->opened_ms >= HTTPD_LIFETIME_S * 1000.0)
			shutdown(c->fd, SHUT_RDWR);
	run(h);
}

unsigned httpd_connections(const struct httpd *h)
{
	const union MHD_DaemonInfo *i =
		h ? MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS) : NULL;
	return i ? i->num_connections : 0;
}

void httpd_free(struct httpd *h)
{
	if (!h)
		return;
	evloop_source_del(h->l, h->src);
	evloop_timer_del(h->l, h->t_again);
	MHD_stop_daemon(h->d);
	free(h);
}
