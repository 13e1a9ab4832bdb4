/* evloop.h — the daemon's event loop: one epoll set of sources, each an fd with its own
 * callback, so a new event source (flow logs, conntrack events, a store watch) registers itself
 * without the loop knowing what it is. Timers are sources too (timerfd). Single-threaded. */
#ifndef NETPOL_ENFORCER_EVLOOP_H
#define NETPOL_ENFORCER_EVLOOP_H

#include <stdint.h>

struct evloop;
struct evsource;

/* Called with the epoll events that fired (EPOLLIN, EPOLLHUP, ...). */
typedef void (*evloop_fn)(void *data, uint32_t events);

/* 0 or -errno. */
int evloop_new(struct evloop **out);
/* Frees the loop and every source still registered (their fds are not closed: they belong to
 * whoever registered them). */
void evloop_free(struct evloop *l);

/* Registers fd for events (EPOLLIN...). Returns the source or NULL (errno set). */
struct evsource *evloop_source_add(struct evloop *l, int fd, uint32_t events, evloop_fn fn,
				   void *data);
/* Changes what a source waits for (EPOLLIN, EPOLLOUT, ...). 0 or -errno. */
int evloop_source_mod(struct evloop *l, struct evsource *s, uint32_t events);
/* Unregisters a source; safe from inside any callback (the struct is reclaimed later). NULL-safe. */
void evloop_source_del(struct evloop *l, struct evsource *s);

/* A timer source (timerfd, CLOCK_MONOTONIC): fn runs when it expires. NULL on error. */
struct evsource *evloop_timer_add(struct evloop *l, evloop_fn fn, void *data);
/* (Re)arms a timer: first expiry after ms (0 disarms; use 1 for "as soon as possible"), then
 * every interval_ms (0: once). */
void evloop_timer_arm(struct evsource *t, long long ms, long long interval_ms);
/* Removes a timer source and closes its timerfd. NULL-safe. */
void evloop_timer_del(struct evloop *l, struct evsource *t);

/* Waits up to timeout_ms (-1: forever) and dispatches what fired. Returns the number of sources
 * dispatched, or -errno (EINTR is returned as 0). */
int evloop_run_once(struct evloop *l, int timeout_ms);

#endif
