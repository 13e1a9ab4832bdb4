/* evloop.c — see evloop.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "evloop.h"
#include "xalloc.h"

struct evsource {
	int fd;
	evloop_fn fn;
	void *data;
	bool dead, timer;
	struct evsource *next;
};

struct evloop {
	int ep;
	struct evsource *sources; /* live and dead ones; the dead are reclaimed between waits */
};

int evloop_new(struct evloop **out)
{
	struct evloop *l = xcalloc(1, sizeof(*l));
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		int e = -errno;
		free(l);
		return e;
	}
	*out = l;
	return 0;
}

void evloop_free(struct evloop *l)
{
	if (!l)
		return;
	while (l->sources) {
		struct evsource *s = l->sources;
		l->sources = s->next;
		if (s->timer && !s->dead)
			close(s->fd);
		free(s);
	}
	close(l->ep);
	free(l);
}

struct evsource *evloop_source_add(struct evloop *l, int fd, uint32_t events, evloop_fn fn,
				   void *data)
{
	struct evsource *s = xcalloc(1, sizeof(*s));
	*s = (struct evsource){ .fd = fd, .fn = fn, .data = data };
	struct epoll_event ev = { .events = events, .data.ptr = s };
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;
		free(s);
		errno = e;
		return NULL;
	}
	s->next = l->sources;
	l->sources = s;
	return s;
}

int evloop_source_mod(struct evloop *l, struct evsource *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = s };
	return epoll_ctl(l->ep, EPOLL_CTL_MOD, s->fd, &ev) < 0 ? -errno : 0;
}

void evloop_source_del(struct evloop *l, struct evsource *s)
{
	if (!s || s->dead)
		return;
	epoll_ctl(l->ep, EPOLL_CTL_DEL, s->fd, NULL);
	s->dead = true; /* an event for it may still be in this round's array */
}

static void timer_fire(void *data, uint32_t events)
{
	struct evsource *t = data;
	uint64_t n;
	if (read(t->fd, &n, sizeof(n)) != sizeof(n))
		return; /* disarmed or re-armed meanwhile */
	t->fn(t->data, events);
}

struct evsource *evloop_timer_add(struct evloop *l, evloop_fn fn, void *data)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0)
		return NULL;
	struct evsource *t = xcalloc(1, sizeof(*t));
	*t = (struct evsource){ .fd = fd, .fn = fn, .data = data, .timer = true };
	/* the epoll source wraps the timer so the read of the expiry count happens here */
	struct evsource *s = evloop_source_add(l, fd, EPOLLIN, timer_fire, t);
	if (!s) {
		close(fd);
		free(t);
		return NULL;
	}
	t->next = s; /* the wrapper, for evloop_timer_del */
	return t;
}

void evloop_timer_arm(struct evsource *t, long long ms, long long interval_ms)
{
	struct itimerspec its = {
		.it_value = { ms / 1000, (ms % 1000) * 1000000L },
		.it_interval = { interval_ms / 1000, (interval_ms % 1000) * 1000000L },
	};
	timerfd_settime(t->fd, 0, &its, NULL);
}

void evloop_timer_del(struct evloop *l, struct evsource *t)
{
	if (!t)
		return;
	evloop_source_del(l, t->next);
	close(t->fd);
	free(t);
}

int evloop_run_once(struct evloop *l, int timeout_ms)
{
	struct epoll_event ev[32];
	int n = epoll_wait(l->ep, ev, 32, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct evsource *s = ev[i].data.ptr;
		if (!s->dead)
			s->fn(s->data, ev[i].events);
	}
	/* reclaim the sources deleted during this round (or before it) */
	for (struct evsource **pp = &l->sources; *pp;) {
		struct evsource *s = *pp;
		if (s->dead) {
			*pp = s->next;
			free(s);
		} else {
			pp = &s->next;
		}
	}
	return n;
}
