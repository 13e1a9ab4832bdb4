/* watch.c — see watch.h. Why each event matters: README.md here, "What it watches": editors rename
 * and recreate, kubectl cp and git write in place, the kubelet swaps a "..data" symlink. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "model.h"
#include "vec.h"
#include "watch.h"
#include "xalloc.h"

#define DIR_MASK                                                                          \
	(IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | \
	 IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)
#define PARENT_MASK (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR)

enum wkind { W_STATE, W_EPS, W_NET };

struct wstate { /* a watch on the state directory tree */
	int wd;
	enum wkind kind;
};

struct watch {
	int fd;
	char *dir, *parent, *base; /* the policy directory, its parent and its name there */
	int wd_dir, wd_parent;
	char *state_dir;
	struct wstate *st;
	size_t n_st, cap_st;
};

static void events_add_name(struct watch_events *ev, const char *name)
{
	for (size_t i = 0; i < ev->n; i++)
		if (!strcmp(ev->names[i], name))
			return;
	VEC_PUSH(ev->names, ev->n, ev->cap) = xstrdup(name);
}

void watch_events_clear(struct watch_events *ev)
{
	for (size_t i = 0; i < ev->n; i++)
		free(ev->names[i]);
	ev->n = 0;
	ev->rescan = ev->endpoints = ev->dir = false;
	ev->overflows = 0;
	ev->t_first = 0;
}

void watch_events_free(struct watch_events *ev)
{
	watch_events_clear(ev);
	free(ev->names);
	ev->names = NULL;
	ev->cap = 0;
}

bool watch_events_any(const struct watch_events *ev)
{
	return ev->n || ev->rescan || ev->endpoints || ev->dir;
}

static void st_add(struct watch *w, const char *path, enum wkind kind)
{
	int wd = inotify_add_watch(w->fd, path, DIR_MASK);
	if (wd < 0)
		return; /* not there (yet): its parent's watch sees it created */
	for (size_t i = 0; i < w->n_st; i++)
		if (w->st[i].wd == wd)
			return;
	VEC_PUSH(w->st, w->n_st, w->cap_st) = (struct wstate){ wd, kind };
}

/* Watches STATE/endpoints and every network directory under it. */
static void st_scan(struct watch *w)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/endpoints", w->state_dir);
	st_add(w, path, W_EPS);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char *sub = xasprintf("%s/%s", path, de->d_name);
		st_add(w, sub, W_NET);
		free(sub);
	}
	closedir(d);
}

static bool dir_attach(struct watch *w)
{
	int wd = inotify_add_watch(w->fd, w->dir, DIR_MASK);
	if (w->wd_dir >= 0 && w->wd_dir != wd)
		inotify_rm_watch(w->fd, w->wd_dir);
	w->wd_dir = wd;
	return wd >= 0;
}

int watch_new(const char *policy_dir, const char *state_dir, struct watch **out)
{
	struct watch *w = xcalloc(1, sizeof(*w));
	w->wd_dir = w->wd_parent = -1;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		int e = -errno;
		free(w);
		return e;
	}
	size_t len = strlen(policy_dir);
	while (len > 1 && policy_dir[len - 1] == '/')
		len--;
	w->dir = xstrndup(policy_dir, len);
	char *slash = strrchr(w->dir, '/');
	if (!slash) {
		w->parent = xstrdup(".");
		w->base = xstrdup(w->dir);
	} else {
		w->parent = slash == w->dir ? xstrdup("/")
					    : xstrndup(w->dir, (size_t)(slash - w->dir));
		w->base = xstrdup(slash + 1);
	}
	w->wd_parent = inotify_add_watch(w->fd, w->parent, PARENT_MASK);
	dir_attach(w);
	if (state_dir) {
		w->state_dir = xstrdup(state_dir);
		st_add(w, state_dir, W_STATE);
		st_scan(w);
	}
	*out = w;
	return 0;
}

void watch_free(struct watch *w)
{
	if (!w)
		return;
	close(w->fd);
	free(w->dir);
	free(w->parent);
	free(w->base);
	free(w->state_dir);
	free(w->st);
	free(w);
}

int watch_fd(const struct watch *w)
{
	return w->fd;
}

bool watch_dir_present(const struct watch *w)
{
	return w->wd_dir >= 0;
}

static const struct wstate *st_find(const struct watch *w, int wd)
{
	for (size_t i = 0; i < w->n_st; i++)
		if (w->st[i].wd == wd)
			return &w->st[i];
	return NULL;
}

static void st_forget(struct watch *w, int wd)
{
	for (size_t i = 0; i < w->n_st; i++)
		if (w->st[i].wd == wd) {
			w->st[i] = w->st[--w->n_st];
			return;
		}
}

/* An event in the policy directory. */
static void on_dir_event(struct watch *w, const struct inotify_event *e, struct watch_events *ev)
{
	if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
		/* gone (or moved away): keep everything as it is until it comes back */
		if (e->mask & IN_MOVE_SELF)
			inotify_rm_watch(w->fd, w->wd_dir);
		if (!(e->mask & IN_DELETE_SELF))
			w->wd_dir = -1;
		ev->dir = true;
		if (dir_attach(w)) /* already back (rename over it) */
			ev->rescan = true;
		return;
	}
	if (!e->len)
		return;
	if (!strncmp(e->name, "..", 2)) {
		/* kubelet AtomicWriter: "..data" is renamed over; the visible names are symlinks
		 * through it, so a changed key produces no event of its own */
		if (e->mask & (IN_MOVED_TO | IN_CREATE))
			ev->rescan = true;
		return;
	}
	if (!np_path_wanted(e->name))
		return; /* editor leftovers: .swp, ~, 4913, dotfiles */
	if (e->mask & IN_CREATE) {
		/* a new regular file is written next: its CLOSE_WRITE says when it is whole. A new
		 * symlink (ConfigMap key) or hard link is whole at once. */
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", w->dir, e->name);
		if (lstat(path, &st) < 0 || (S_ISREG(st.st_mode) && st.st_size == 0))
			return;
	}
	events_add_name(ev, e->name);
}

static void on_state_event(struct watch *w, const struct wstate *s, const struct inotify_event *e,
			   struct watch_events *ev)
{
	int wd = s->wd;
	enum wkind kind = s->kind;
	if (e->mask & IN_IGNORED) {
		st_forget(w, wd);
		ev->endpoints = true;
		return;
	}
	if (kind == W_STATE) {
		if (e->len && !strcmp(e->name, "endpoints")) {
			st_scan(w);
			ev->endpoints = true;
		}
		return;
	}
	if (e->len && e->name[0] == '.')
		return; /* temporary files of an atomic record write */
	if (kind == W_EPS && (e->mask & (IN_CREATE | IN_MOVED_TO)))
		st_scan(w); /* a new network: watch it, and read what is already in it */
	ev->endpoints = true;
}

int watch_read(struct watch *w, struct watch_events *ev)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(w->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		double t_read = clock_now_ms();
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;
			p += sizeof(*e) + e->len;
			if (e->mask & IN_Q_OVERFLOW) {
				ev->overflows++;
				ev->rescan = ev->endpoints = true;
				if (w->state_dir)
					st_scan(w);
				continue;
			}
			if (e->wd == w->wd_parent && e->wd != w->wd_dir) {
				if (e->len && !strcmp(e->name, w->base)) {
					bool was = w->wd_dir >= 0;
					ev->dir = true;
					if (dir_attach(w) || was)
						ev->rescan = true;
				}
				continue;
			}
			if (e->wd == w->wd_dir) {
				on_dir_event(w, e, ev);
				continue;
			}
			const struct wstate *s = st_find(w, e->wd);
			if (s)
				on_state_event(w, s, e, ev);
		}
		/* the clock starts at the read that brought the first event that matters (not,
		 * say, our own writes of last good copies into the state directory) */
		if (!ev->t_first && watch_events_any(ev))
			ev->t_first = t_read;
	}
}
