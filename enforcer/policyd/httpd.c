/* httpd.c — see httpd.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "httpd.h"
#include "xalloc.h"

struct httpd {
	struct MHD_Daemon *d;
	struct evloop *l;
	struct evsource *src;
	httpd_fn fn;
	void *data;
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

static void on_ready(void *data, uint32_t events)
{
	MHD_run(((struct httpd *)data)->d);
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
				MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_CONNECTION_LIMIT, 32u,
				MHD_OPTION_END);
	if (!h->d) {
		free(h);
		return errno ? -errno : -EADDRINUSE;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	h->src = info ? evloop_source_add(l, info->epoll_fd, EPOLLIN, on_ready, h) : NULL;
	if (!h->src) {
		MHD_stop_daemon(h->d);
		free(h);
		return -EIO;
	}
	*out = h;
	return 0;
}

void httpd_tick(struct httpd *h)
{
	if (h)
		MHD_run(h->d);
}

void httpd_free(struct httpd *h)
{
	if (!h)
		return;
	evloop_source_del(h->l, h->src);
	MHD_stop_daemon(h->d);
	free(h);
}
