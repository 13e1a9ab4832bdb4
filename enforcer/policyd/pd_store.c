/* pd_store.c — policyd as the host's agent on an etcd store (--store etcd://...): the agent
 * (netsetup/agent.h) on the daemon's event loop, with its sockets and timers as sources; the
 * endpoints it learns on other hosts fed into the inventory as pods; the Kubernetes objects
 * under the store's objects/ kept as a second per-file store (store.h) beside the policy
 * directory's, one "file" per object, with last good copies. What the agent knew is kept in
 * the state directory too, so a restart while the store is away enforces what was enforced
 * (frozen, not broken). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "agent.h"
#include "clock.h"
#include "endpoints.h"
#include "netstore.h"
#include "pd_int.h"
#include "xalloc.h"

struct curl_fd {
	struct pd_store *ps;
	int fd;
	struct evsource *src;
};

struct pd_store {
	struct pd *d;
	struct ns_agent *agent;
	struct store *objs;             /* objects/NS/KIND/NAME, as "NS_KIND_NAME.json" */
	struct curl_fd **fds;
	size_t n_fds;
	struct evsource *t_curl, *t_agent;
	bool objs_pending;              /* an object changed and is not applied yet */
	bool listed;                    /* the agent's first list is in */
	bool remote_dirty;              /* the remote endpoints changed since they were saved */
	struct ns_endpoint *saved;      /* the remote endpoints of the last run, until then */
	size_t n_saved;
};

/* ---- the loop ---- */

static void on_curl_fd(void *data, uint32_t events)
{
	struct curl_fd *cf = data;
	ns_agent_on_fd(cf->ps->agent, cf->fd, events);
}

static void loop_fd(void *arg, int fd, uint32_t events)
{
	struct pd_store *ps = arg;
	size_t i;
	for (i = 0; i < ps->n_fds && ps->fds[i]->fd != fd; i++)
		;
	if (!events) {
		if (i == ps->n_fds)
			return;
		evloop_source_del(ps->d->l, ps->fds[i]->src);
		free(ps->fds[i]); /* the source's data: the loop calls nothing for a deleted one */
		ps->fds[i] = ps->fds[--ps->n_fds];
		return;
	}
	if (i < ps->n_fds) {
		evloop_source_mod(ps->d->l, ps->fds[i]->src, events);
		return;
	}
	struct curl_fd *cf = xcalloc(1, sizeof(*cf));
	*cf = (struct curl_fd){ .ps = ps, .fd = fd };
	if (!(cf->src = evloop_source_add(ps->d->l, fd, events, on_curl_fd, cf))) {
		pd_log(ps->d, "store: watching socket %d: %s", fd, strerror(errno));
		free(cf);
		return;
	}
	ps->fds = xreallocarray(ps->fds, ps->n_fds + 1, sizeof(*ps->fds));
	ps->fds[ps->n_fds++] = cf;
}

static void arm_timer(struct evsource *t, long ms)
{
	/* evloop_timer_arm(0) disarms: "now" is the next millisecond */
	evloop_timer_arm(t, ms < 0 ? 0 : ms == 0 ? 1 : ms, 0);
}

static void loop_timer(void *arg, long ms)
{
	arm_timer(((struct pd_store *)arg)->t_curl, ms);
}

static void agent_timer(void *arg, long ms)
{
	arm_timer(((struct pd_store *)arg)->t_agent, ms);
}

static void on_curl_timer(void *data, uint32_t events)
{
	ns_agent_on_timeout(((struct pd_store *)data)->agent);
}

static void on_agent_timer(void *data, uint32_t events)
{
	ns_agent_on_timer(((struct pd_store *)data)->agent);
}

/* ---- what the agent tells ---- */

static void agent_log(void *arg, const char *line)
{
	pd_log(((struct pd_store *)arg)->d, "store: %s", line);
}

/* The remote endpoints as they were last enforced: kept for a restart while the store is
 * away. Whole, not durable: they describe this boot's network. */
static void save_remote(struct pd_store *ps)
{
	const struct ns_endpoint *v[4096];
	size_t n = ns_agent_endpoints(ps->agent, v, 4096);
	json_t *arr = json_array();
	char path[4096];
	struct ns_error e;
	for (size_t i = 0; i < n && i < 4096; i++)
		json_array_append_new(arr, ns_endpoint_to_json(v[i]));
	snprintf(path, sizeof(path), "%s/store-remote.json", ps->d->o.state_dir);
	if (ns_json_write(path, arr, false, &e) < 0)
		pd_log(ps->d, "store: %s", e.msg);
	json_decref(arr);
}

static void load_saved(struct pd_store *ps)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/store-remote.json", ps->d->o.state_dir);
	json_t *arr = json_load_file(path, 0, NULL), *v;
	size_t i;
	if (!json_is_array(arr)) {
		json_decref(arr);
		return;
	}
	ps->saved = xcalloc(json_array_size(arr) + 1, sizeof(*ps->saved));
	json_array_foreach(arr, i, v)
		if (ns_endpoint_from_json(v, &ps->saved[ps->n_saved], NULL) == 0)
			ps->n_saved++;
	json_decref(arr);
	if (ps->n_saved)
		pd_log(ps->d, "store: %zu endpoints on other hosts from the last run, until the "
		       "store is listed", ps->n_saved);
}

static void drop_saved(struct pd_store *ps)
{
	ns_endpoints_free(ps->saved, ps->n_saved);
	ps->saved = NULL;
	ps->n_saved = 0;
}

static void endpoints_changed(void *arg)
{
	struct pd_store *ps = arg;
	if (!ps->listed) {
		ps->listed = true;
		drop_saved(ps);
	}
	ps->remote_dirty = true;
	ps->d->endpoints_dirty = true;
	pd_changed(ps->d, "store");
}

/* "NS/KIND/NAME" as a file name: Kubernetes names, kinds and namespaces hold no '_'. */
static void file_name(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s.json", name);
	for (char *p = buf; *p; p++)
		if (*p == '/')
			*p = '_';
}

static void object(void *arg, const char *name, const char *text, size_t len)
{
	struct pd_store *ps = arg;
	char fname[1024], label[1024];
	double now = clock_now_ms();
	file_name(name, fname, sizeof(fname));
	snprintf(label, sizeof(label), "store:objects/%s", name);
	enum store_refresh r = text ? store_text_refresh(ps->objs, fname, label, text, len, now)
				    : store_text_gone(ps->objs, fname, now);
	if (r == STORE_SAME)
		return;
	if (r == STORE_BAD) {
		struct store_held h;
		for (size_t i = 0; i < store_held_count(ps->objs); i++) {
			store_held_get(ps->objs, i, &h);
			if (!strcmp(h.name, fname))
				pd_log(ps->d, "store: object %s is held at %s:\n%s", name,
				       h.has_good ? "its last good content" : "nothing", h.error);
		}
		return;
	}
	ps->objs_pending = true;
	pd_changed(ps->d, "store");
}

/* After a list: objects of the last run's copies that the store no longer has go. */
static void drop_unlisted(struct pd_store *ps)
{
	double now = clock_now_ms();
	bool gone = false;
	for (size_t i = 0; store_name(ps->objs, i); i++) {
		char name[1024];
		snprintf(name, sizeof(name), "%s", store_name(ps->objs, i));
		name[strlen(name) > 5 ? strlen(name) - 5 : 0] = '\0'; /* .json */
		for (char *p = name; *p; p++)
			if (*p == '_' && p != name)
				*p = '/';
		if (!ns_agent_has_object(ps->agent, name))
			gone |= store_text_gone(ps->objs, store_name(ps->objs, i), now) != STORE_SAME;
	}
	if (gone) {
		ps->objs_pending = true;
		pd_changed(ps->d, "store");
	}
}

static void listed(void *arg)
{
	struct pd_store *ps = arg;
	drop_unlisted(ps);
	if (!ps->listed) {
		ps->listed = true;
		drop_saved(ps);
		ps->remote_dirty = true;
		ps->d->endpoints_dirty = true;
		pd_changed(ps->d, "store");
	}
}

/* ---- the daemon's side ---- */

int pd_store_open(struct pd *d, char *err, size_t errlen)
{
	const struct pd_opts *o = &d->o;
	struct pd_store *ps = xcalloc(1, sizeof(*ps));
	char lkg[4096];
	int r;
	ps->d = d;
	d->agent = ps;
	snprintf(lkg, sizeof(lkg), "%s/lkg-store", o->state_dir);
	if ((r = store_new("store:objects", lkg, &ps->objs)) < 0) {
		snprintf(err, errlen, "%s: %s", lkg, strerror(-r));
		return r;
	}
	if ((r = store_lkg_load(ps->objs)) > 0)
		pd_log(d, "store: last good copies of %d objects loaded", r);
	store_pending_commit(ps->objs, true, clock_now_ms(), 0, NULL);
	load_saved(ps);
	ps->t_curl = evloop_timer_add(d->l, on_curl_timer, ps);
	ps->t_agent = evloop_timer_add(d->l, on_agent_timer, ps);
	if (!ps->t_curl || !ps->t_agent) {
		snprintf(err, errlen, "event loop: %s", strerror(errno));
		return -errno;
	}
	struct ns_agent_opts ao = {
		.url = o->store, .prefix = o->store_prefix, .node = o->node,
		.host_addr = o->host_addr, .state_dir = o->state_dir,
		.lease_ttl_s = o->lease_ttl_s,
		.loop = { .arg = ps, .fd = loop_fd, .timer = loop_timer },
		.timer = agent_timer, .arg = ps, .log = agent_log,
		.endpoints_changed = endpoints_changed, .object = object, .listed = listed,
	};
	struct ns_error e;
	if ((r = ns_agent_new(&ao, &ps->agent, &e)) < 0) {
		snprintf(err, errlen, "%s", e.msg);
		return r;
	}
	return 0;
}

void pd_store_close(struct pd *d)
{
	struct pd_store *ps = d->agent;
	if (!ps)
		return;
	ns_agent_free(ps->agent);
	for (size_t i = 0; i < ps->n_fds; i++) {
		evloop_source_del(d->l, ps->fds[i]->src);
		free(ps->fds[i]);
	}
	free(ps->fds);
	evloop_timer_del(d->l, ps->t_curl);
	evloop_timer_del(d->l, ps->t_agent);
	store_free(ps->objs);
	drop_saved(ps);
	free(ps);
	d->agent = NULL;
}

void pd_store_merge(struct pd *d, struct np_inventory *inv, struct np_diags *notes)
{
	struct pd_store *ps = d->agent;
	store_pending_commit(ps->objs, true, clock_now_ms(), 0, NULL);
	ps->objs_pending = false;
	store_inventory_add(ps->objs, inv);
	struct np_diags diags;
	np_diags_init(&diags);
	np_inventory_finish(inv, &diags);
	np_diags_free(&diags);
	size_t n = ps->listed ? ns_agent_endpoints(ps->agent, NULL, 0) : ps->n_saved;
	const struct ns_endpoint **v = xcalloc(n + 1, sizeof(*v));
	if (ps->listed)
		ns_agent_endpoints(ps->agent, v, n);
	else
		for (size_t i = 0; i < n; i++)
			v[i] = &ps->saved[i];
	endpoints_merge_records(inv, v, n, notes);
	free(v);
}

void pd_store_committed(struct pd *d)
{
	struct pd_store *ps = d->agent;
	int e = 0;
	store_retired_free(ps->objs);
	if (store_lkg_flush(ps->objs, &e))
		pd_log(d, "store: saving last good copies: %s", strerror(e));
	if (ps->listed && ps->remote_dirty)
		save_remote(ps);
	ps->remote_dirty = false;
}

bool pd_store_pending(struct pd *d)
{
	return d->agent && d->agent->objs_pending;
}

static void when(time_t t, char *buf, size_t size)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *pd_store_unready(struct pd *d, char *buf, size_t size)
{
	struct ns_agent_status st;
	char since[32];
	if (!d->agent)
		return NULL;
	ns_agent_status(d->agent->agent, &st);
	if (!st.frozen)
		return NULL;
	when(st.frozen_since, since, sizeof(since));
	snprintf(buf, size, "store %s unavailable since %s (%s): state frozen at revision %lld; "
		 "what the kernel holds stays", st.url, since, st.why, (long long)st.frozen_revision);
	return buf;
}

json_t *pd_store_status(struct pd *d)
{
	struct ns_agent_status st;
	char since[32];
	ns_agent_status(d->agent->agent, &st);
	json_t *j = json_pack("{s:s,s:s,s:s,s:b,s:I,s:b,s:I,s:b,s:I,s:I,s:I,s:I,s:I}", "url",
			      st.url, "node", st.node, "host_addr", st.host_addr, "registered",
			      st.registered, "lease", (json_int_t)st.lease, "watching", st.watching,
			      "revision", (json_int_t)st.revision, "frozen", st.frozen, "nodes",
			      (json_int_t)st.nodes, "endpoints", (json_int_t)st.endpoints,
			      "remote_endpoints", (json_int_t)st.remote, "objects",
			      (json_int_t)st.objects, "pending_releases", (json_int_t)st.pending);
	if (st.frozen) {
		when(st.frozen_since, since, sizeof(since));
		json_object_set_new(j, "frozen_since", json_string(since));
		json_object_set_new(j, "frozen_revision", json_integer(st.frozen_revision));
		json_object_set_new(j, "why", json_string(st.why));
	}
	return j;
}
