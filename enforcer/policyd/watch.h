/* watch.h — inotify on directories, never on single files: the policy directory (and its parent,
 * to see it removed, recreated or re-pointed as a symlink), and the state directory's endpoint
 * records (STATE/endpoints/NET/ID.json). Events are hints: the caller re-reads what they name. */
#ifndef NETPOL_ENFORCER_WATCH_H
#define NETPOL_ENFORCER_WATCH_H

#include <stdbool.h>
#include <stddef.h>

struct watch;

/* What a read of the queue found. */
struct watch_events {
	char **names;       /* policy files (base names) that may have changed, deleted, created */
	size_t n, cap;
	bool rescan;        /* re-list the whole policy directory: queue overflow, a ConfigMap
			       "..data" swap (changed keys get no event of their own), or the
			       directory came back */
	bool endpoints;     /* an endpoint record may have changed */
	bool dir;           /* the policy directory itself went away or came back */
	size_t overflows;   /* IN_Q_OVERFLOW seen */
	double t_first;     /* clock_now_ms() of the read that brought the first event (0: none) */
};

/* Watches policy_dir and state_dir/endpoints (state_dir may be NULL). The policy directory may
 * be missing: its parent is watched for it to appear. 0 or -errno. */
int watch_new(const char *policy_dir, const char *state_dir, struct watch **out);
void watch_free(struct watch *w);
int watch_fd(const struct watch *w);
/* Is the policy directory there (watched)? */
bool watch_dir_present(const struct watch *w);

/* Reads every queued event without blocking and adds what they say to ev. 0 or -errno. */
int watch_read(struct watch *w, struct watch_events *ev);
/* Empties ev (keeps its buffer). */
void watch_events_clear(struct watch_events *ev);
void watch_events_free(struct watch_events *ev);
bool watch_events_any(const struct watch_events *ev);

#endif
