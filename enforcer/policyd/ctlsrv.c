/* ctlsrv.c — see ctlsrv.h. Connections sit on one list in order of their last activity (the
 * head idle longest), so the idle sweep and the eviction at the cap look at the head only. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "ctlsrv.h"
#include "xalloc.h"

struct ctlsrv_conn {
	struct ctlsrv *srv;
	int fd;
	struct evsource *src;
	uint32_t events;          /* what the source waits for now */
	char *in;                 /* received, not yet handled; never more than max_line + 1 */
	size_t in_len;
	char *out;                /* replies not yet sent */
	size_t out_len, out_off;
	double last_ms;           /* last byte received or sent */
	bool replied, eof, closing;
	bool taken;               /* the handler took the socket for a stream (ctlsrv_take) */
	struct ctlsrv_conn *prev, *next;
};

struct ctlsrv {
	struct evloop *l;
	int fd, spare_fd;         /* spare: given up to accept and drop a client at EMFILE */
	struct evsource *src, *t_sweep;
	char *path;
	struct ctlsrv_opts o;
	struct ctlsrv_conn *head, *tail; /* by last activity, oldest first */
	struct ctlsrv_stats st;
};

/* ---- the activity list ---- */

static void unlink_conn(struct ctlsrv *s, struct ctlsrv_conn *c)
{
	*(c->prev ? &c->prev->next : &s->head) = c->next;
	*(c->next ? &c->next->prev : &s->tail) = c->prev;
	c->prev = c->next = NULL;
}

static void append_conn(struct ctlsrv *s, struct ctlsrv_conn *c)
{
	c->prev = s->tail;
	*(s->tail ? &s->tail->next : &s->head) = c;
	s->tail = c;
}

static void touch(struct ctlsrv_conn *c)
{
	c->last_ms = clock_now_ms();
	if (c->srv->tail != c) {
		unlink_conn(c->srv, c);
		append_conn(c->srv, c);
	}
}

/* Forgets a connection; its socket is closed unless a handler took it. */
static void conn_close(struct ctlsrv_conn *c)
{
	struct ctlsrv *s = c->srv;
	evloop_source_del(s->l, c->src);
	if (!c->taken)
		close(c->fd);
	unlink_conn(s, c);
	s->st.clients--;
	free(c->in);
	free(c->out);
	free(c);
}

/* ---- output ---- */

/* Sends what the socket takes now. false: the connection is gone. */
static bool flush_out(struct ctlsrv_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->out_off += (size_t)n;
			touch(c);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			return true;
		} else {
			return false;
		}
	}
	c->out_len = c->out_off = 0;
	return true;
}

static void queue_line(struct ctlsrv_conn *c, char *text)
{
	size_t len = strlen(text);
	c->out = xrealloc(c->out, c->out_len + len + 1);
	memcpy(c->out + c->out_len, text, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
}

void ctlsrv_reply(struct ctlsrv_conn *c, json_t *reply)
{
	c->replied = true;
	char *text = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	if (!text)
		abort();
	queue_line(c, text);
	free(text);
}

int ctlsrv_take(struct ctlsrv_conn *c)
{
	c->replied = c->taken = true;
	/* out of the loop now: the taker registers the fd itself (on_conn forgets c next) */
	evloop_source_del(c->srv->l, c->src);
	c->src = NULL;
	return c->fd;
}

static void reply_error(struct ctlsrv_conn *c, const char *msg)
{
	ctlsrv_reply(c, json_pack("{s:b,s:s}", "ok", 0, "error", msg));
}

/* ---- input ---- */

static void handle_line(struct ctlsrv_conn *c, const char *line, size_t len)
{
	json_error_t err;
	json_t *req = json_loadb(line, len, 0, &err);
	c->replied = false;
	if (!json_is_object(req)) {
		json_decref(req);
		reply_error(c, "a request is one JSON object per line");
		return;
	}
	c->srv->o.fn(c->srv->o.data, c, req);
	json_decref(req);
	if (!c->replied)
		reply_error(c, "no reply");
}

/* Handles the first complete line received, or refuses a line that reached max_line without
 * its end (the connection then closes once that is said). false: nothing to handle. */
static bool handle_input(struct ctlsrv_conn *c)
{
	char *nl = memchr(c->in, '\n', c->in_len);
	if (nl) {
		size_t used = (size_t)(nl + 1 - c->in);
		handle_line(c, c->in, used - 1);
		memmove(c->in, nl + 1, c->in_len - used);
		c->in_len -= used;
		return true;
	}
	if (c->in_len > c->srv->o.max_line) {
		char msg[96];
		snprintf(msg, sizeof(msg), "request line longer than %zu bytes: closing",
			 c->srv->o.max_line);
		reply_error(c, msg);
		c->closing = true;
		c->srv->st.closed_long_line++;
		return true;
	}
	return false;
}

/* Reads what fits (the buffer holds max_line + 1 bytes: one byte more than a line may have,
 * so an overlong line is seen) or the end of input. false: the connection failed. */
static bool read_input(struct ctlsrv_conn *c)
{
	size_t room = c->srv->o.max_line + 1 - c->in_len;
	while (room > 0 && !c->eof) {
		ssize_t n = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);
		if (n > 0) {
			c->in_len += (size_t)n;
			room -= (size_t)n;
			touch(c);
		} else if (n == 0) {
			c->eof = true; /* what came before the shutdown is still answered */
		} else if (errno == EINTR) {
			continue;
		} else {
			return errno == EAGAIN;
		}
	}
	return true;
}

/* Lines one connection gets handled per wake-up: a client pipelining requests takes turns
 * with every other source of the loop. */
#define LINES_PER_TURN 16

/* What to wait for: output while a reply is queued; a turn of its own when its turn ended with
 * lines left (the socket is writable, so EPOLLOUT comes back at once, after the other sources);
 * input while there is room and more may come. EPOLLRDHUP is never asked for: a half-closed
 * peer that reads nothing would report it forever. */
static void rearm(struct ctlsrv_conn *c, bool more)
{
	uint32_t want = 0;
	if (c->out_len || more)
		want = EPOLLOUT;
	else if (!c->eof && !c->closing && c->in_len <= c->srv->o.max_line)
		want = EPOLLIN;
	if (want != c->events && evloop_source_mod(c->srv->l, c->src, want) == 0)
		c->events = want;
}

/* Serves one connection: sends what is queued; while nothing is, handles a complete line, or
 * reads more. Replies go out in order, one request at a time, so a client that does not read
 * is served no further and holds at most one reply. */
static void on_conn(void *data, uint32_t events)
{
	struct ctlsrv_conn *c = data;
	bool ok = true, more = false;
	for (int lines = 0; ok;) {
		if (!(ok = flush_out(c)) || c->out_len || c->closing)
			break;
		if (lines == LINES_PER_TURN) {
			more = memchr(c->in, '\n', c->in_len) != NULL;
			break;
		}
		if (handle_input(c)) {
			if (c->taken) {
				conn_close(c);
				return;
			}
			lines++;
			continue;
		}
		size_t before = c->in_len;
		if (c->eof || !(ok = read_input(c)) || (c->in_len == before && !c->eof))
			break;
	}
	/* done: the peer is gone; or a refusal is out; or it shut down and all is answered (a
	 * last line without its end is not a request) */
	if (!ok || (events & EPOLLERR) ||
	    (!c->out_len && (c->closing || (c->eof && !memchr(c->in, '\n', c->in_len))))) {
		conn_close(c);
		return;
	}
	rearm(c, more);
}

/* ---- accepting ---- */

static bool peer_allowed(struct ctlsrv *s, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return false;
	if (cr.uid == 0 || cr.uid == geteuid())
		return true;
	s->st.refused_peer++;
	static const char msg[] = "{\"ok\":false,\"error\":\"permission denied: the control "
				  "socket serves root and policyd's own user only\"}\n";
	if (send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* the refusal is said when it can be; the connection closes either way */
	}
	if (s->o.refused)
		s->o.refused(s->o.data, (unsigned)cr.uid, cr.pid);
	return false;
}

/* Out of file descriptors: the spare one makes room to accept the client and close it at
 * once (else the listening socket stays readable and the loop spins on it). */
static void shed_one(struct ctlsrv *s)
{
	if (s->spare_fd < 0)
		return;
	close(s->spare_fd);
	int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		close(fd);
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void on_accept(void *data, uint32_t events)
{
	struct ctlsrv *s = data;
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				shed_one(s);
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		if (!peer_allowed(s, fd)) {
			close(fd);
			continue;
		}
		if (s->st.clients >= s->o.max_clients) {
			conn_close(s->head);
			s->st.closed_evicted++;
		}
		struct ctlsrv_conn *c = xcalloc(1, sizeof(*c));
		c->srv = s;
		c->fd = fd;
		c->in = xmalloc(s->o.max_line + 1);
		c->events = EPOLLIN;
		c->last_ms = clock_now_ms();
		c->src = evloop_source_add(s->l, fd, c->events, on_conn, c);
		if (!c->src) {
			close(fd);
			free(c->in);
			free(c);
			continue;
		}
		append_conn(s, c);
		s->st.clients++;
		s->st.accepted++;
	}
}

static void on_sweep(void *data, uint32_t events)
{
	struct ctlsrv *s = data;
	double now = clock_now_ms();
	while (s->head && now - s->head->last_ms >= (double)s->o.idle_ms) {
		conn_close(s->head);
		s->st.closed_idle++;
	}
}

/* ---- life cycle ---- */

static int listen_at(const char *path)
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
	/* a burst of connections (1,000 clients at once) waits in the backlog, not refused */
	if (r < 0 || listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int ctlsrv_new(const char *path, const struct ctlsrv_opts *o, struct evloop *l,
	       struct ctlsrv **out)
{
	int fd = listen_at(path);
	if (fd < 0)
		return fd;
	struct ctlsrv *s = xcalloc(1, sizeof(*s));
	*s = (struct ctlsrv){ .l = l, .fd = fd, .o = *o };
	s->o.max_clients = o->max_clients ? o->max_clients : 1024;
	s->o.idle_ms = o->idle_ms > 0 ? o->idle_ms : 30000;
	s->o.max_line = o->max_line ? o->max_line : 64 * 1024;
	s->path = xstrdup(path);
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	s->src = evloop_source_add(l, fd, EPOLLIN, on_accept, s);
	s->t_sweep = evloop_timer_add(l, on_sweep, s);
	if (!s->src || !s->t_sweep) {
		int r = -errno;
		ctlsrv_free(s);
		return r;
	}
	/* an idle connection goes between idle_ms and 1.25 idle_ms (at most a second late) */
	long long every = s->o.idle_ms / 4 < 1000 ? (s->o.idle_ms / 4 ? s->o.idle_ms / 4 : 1) : 1000;
	evloop_timer_arm(s->t_sweep, every, every);
	*out = s;
	return 0;
}

void ctlsrv_free(struct ctlsrv *s)
{
	if (!s)
		return;
	while (s->head)
		conn_close(s->head);
	evloop_source_del(s->l, s->src);
	evloop_timer_del(s->l, s->t_sweep);
	close(s->fd);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	unlink(s->path);
	free(s->path);
	free(s);
}

void ctlsrv_stats_get(const struct ctlsrv *s, struct ctlsrv_stats *out)
{
	*out = s->st;
}
