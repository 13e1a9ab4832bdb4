/* ctlsrv.c — see ctlsrv.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlsrv.h"
#include "xalloc.h"

#define CONN_MAX 64
#define LINE_MAX_LEN (64 * 1024) /* requests are one short object; more is a broken client */

struct ctlsrv_conn {
	struct ctlsrv *srv;
	int fd;
	struct evsource *src;
	char *buf;
	size_t len, cap;
	bool replied, dead;
	bool taken;            /* the handler took the socket (a stream): never closed here */
	struct ctlsrv_conn *next;
};

struct ctlsrv {
	struct evloop *l;
	int fd;
	struct evsource *src;
	char *path;
	ctlsrv_fn fn;
	void *data;
	struct ctlsrv_conn *conns;
	size_t n_conns;
};

static void conn_close(struct ctlsrv_conn *c)
{
	struct ctlsrv *s = c->srv;
	evloop_source_del(s->l, c->src);
	if (!c->taken)
		close(c->fd);
	for (struct ctlsrv_conn **pp = &s->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	s->n_conns--;
	free(c->buf);
	free(c);
}

void ctlsrv_reply(struct ctlsrv_conn *c, json_t *reply)
{
	c->replied = true;
	char *text = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	if (!text)
		abort();
	size_t len = strlen(text), off = 0;
	text[len] = '\n'; /* json_dumps' NUL becomes the line end */
	len++;
	while (off < len) {
		ssize_t n = send(c->fd, text + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			c->dead = true; /* gone, or too slow for a 1 s send timeout */
			break;
		}
	}
	free(text);
}

int ctlsrv_take(struct ctlsrv_conn *c)
{
	c->replied = c->taken = c->dead = true;
	/* out of the loop now: the taker registers the fd itself */
	evloop_source_del(c->srv->l, c->src);
	c->src = NULL;
	return c->fd;
}

static void handle_line(struct ctlsrv_conn *c, char *line)
{
	json_error_t err;
	json_t *req = json_loads(line, 0, &err);
	c->replied = false;
	if (!json_is_object(req)) {
		json_decref(req);
		ctlsrv_reply(c, json_pack("{s:b,s:s}", "ok", 0, "error",
					  "a request is one JSON object per line"));
		return;
	}
	c->srv->fn(c->srv->data, c, req);
	json_decref(req);
	if (!c->replied)
		ctlsrv_reply(c, json_pack("{s:b,s:s}", "ok", 0, "error", "no reply"));
}

static void on_conn(void *data, uint32_t events)
{
	struct ctlsrv_conn *c = data;
	for (;;) {
		if (c->len + 1024 > c->cap) {
			if (c->cap >= LINE_MAX_LEN) {
				c->dead = true;
				break;
			}
			c->buf = xrealloc(c->buf, c->cap = c->cap ? c->cap * 2 : 4096);
		}
		ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			c->dead = true;
			break;
		}
		c->len += (size_t)n;
		char *nl;
		while (!c->dead && (nl = memchr(c->buf, '\n', c->len))) {
			*nl = 0;
			handle_line(c, c->buf);
			size_t used = (size_t)(nl + 1 - c->buf);
			memmove(c->buf, nl + 1, c->len - used);
			c->len -= used;
		}
		if (c->dead)
			break;
	}
	if (c->dead || (events & (EPOLLHUP | EPOLLERR)))
		conn_close(c);
}

static bool peer_allowed(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return false;
	return cr.uid == 0 || cr.uid == geteuid();
}

static void on_accept(void *data, uint32_t events)
{
	struct ctlsrv *s = data;
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (s->n_conns >= CONN_MAX || !peer_allowed(fd)) {
			close(fd);
			continue;
		}
		/* replies are short; a client that does not read them within 1 s is dropped
		 * rather than stalling the daemon */
		struct timeval tv = { 1, 0 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		struct ctlsrv_conn *c = xcalloc(1, sizeof(*c));
		c->srv = s;
		c->fd = fd;
		c->src = evloop_source_add(s->l, fd, EPOLLIN | EPOLLRDHUP, on_conn, c);
		if (!c->src) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		s->conns = c;
		s->n_conns++;
	}
}

int ctlsrv_new(const char *path, struct evloop *l, ctlsrv_fn fn, void *data, struct ctlsrv **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* a socket file left by a killed policyd is replaced; a live one is not */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(probe);
		close(fd);
		return -EADDRINUSE;
	}
	if (probe >= 0)
		close(probe);
	unlink(path);
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 16) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	struct ctlsrv *s = xcalloc(1, sizeof(*s));
	*s = (struct ctlsrv){ .l = l, .fd = fd, .fn = fn, .data = data };
	s->path = xstrdup(path);
	s->src = evloop_source_add(l, fd, EPOLLIN, on_accept, s);
	if (!s->src) {
		r = -errno;
		ctlsrv_free(s);
		return r;
	}
	*out = s;
	return 0;
}

void ctlsrv_free(struct ctlsrv *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	evloop_source_del(s->l, s->src);
	close(s->fd);
	unlink(s->path);
	free(s->path);
	free(s);
}
