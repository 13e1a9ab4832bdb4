/* agent.c — see agent.h. Three strands, each a small state machine driven by answers and the
 * timer: the lease (grant, register, keep alive, re-grant when lost), the watch (list,
 * reconcile, watch from the listed revision, reopen or re-list), and the queue of releases.
 * What the watch learns is kept in four maps (endpoints, nodes, networks, objects), which
 * the overlay programming and the callbacks read. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "driver.h"
#include "netstore.h"
#include "netstore_etcd.h"
#include "vec.h"
#include "xalloc.h"

#define RETRY_MS 500          /* a failed lease call is tried again this often */
#define BACKOFF_MIN_MS 100    /* the watch reopens after this, doubling up to */
#define BACKOFF_MAX_MS 1000
#define FLUSH_MS 1000         /* queued releases, and networks new here, are looked at this often */

struct arec {                 /* an endpoint record */
	char *key;
	struct ns_endpoint ep;
};
struct anode {
	char *name;
	struct ns_ip addr;
};
struct anet {
	char *name;
	struct ns_network def;
	int programmed;           /* ifindex of the device last reconciled in full; 0: none */
};
struct aobj {
	char *name;
	int64_t mod_rev;
};

/* An asynchronous call's context, kept so the agent can free it when it goes first. */
struct job {
	struct ns_agent *a;
	void (*done)(struct job *j, int rc, struct etcd_resp *r, const char *why);
	struct ek_release rel;
	char *text;
	struct job *next;
};

struct ns_agent {
	struct ns_agent_opts o;
	char *url, *prefix, *node, *state_dir;
	char self_text[64];
	struct ns_ip self;
	struct etcd *e;
	struct ns_ctx *ctx;       /* netlink in the host's netns, for the overlay */
	struct job *jobs;
	/* the lease */
	int64_t lease;
	bool registered, lease_busy;
	double next_ka;
	/* the watch */
	struct etcd_watch *w;
	bool listing, watching;
	int64_t rev;
	double reopen_at, backoff;
	/* what it learned */
	struct arec *recs;
	size_t n_recs, cap_recs;
	struct anode *nodes;
	size_t n_nodes, cap_nodes;
	struct anet *nets;
	size_t n_nets, cap_nets;
	struct aobj *objs;
	size_t n_objs, cap_objs;
	/* the store away */
	bool frozen;
	time_t frozen_since;
	int64_t frozen_rev;
	char why[512];
	/* queued releases */
	bool flushing;
	double next_flush;
	size_t pending;
};

static void alog(struct ns_agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void alog(struct ns_agent *a, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (a->o.log)
		a->o.log(a->o.arg, line);
}

/* ---- the store away, and back ---- */

static void store_failed(struct ns_agent *a, const char *why)
{
	snprintf(a->why, sizeof(a->why), "%s", why ? why : "no answer");
	if (a->frozen)
		return;
	a->frozen = true;
	a->frozen_since = time(NULL);
	a->frozen_rev = a->rev;
	alog(a, "store %s unavailable (%s): state frozen at revision %lld; what is programmed "
	     "stays, attaches fail until it is back", a->url, a->why, (long long)a->rev);
}

static void store_ok(struct ns_agent *a)
{
	if (!a->frozen)
		return;
	a->frozen = false;
	alog(a, "store %s is back after %lld s; catching up from revision %lld", a->url,
	     (long long)(time(NULL) - a->frozen_since), (long long)a->frozen_rev);
}

/* ---- calls ---- */

static void job_done(void *arg, int rc, struct etcd_resp *r, const char *why)
{
	struct job *j = arg, **pp;

	for (pp = &j->a->jobs; *pp && *pp != j; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = j->next;
	j->done(j, rc, r, why);
	free(j->text);
	free(j);
}

/* Starts an asynchronous call (body consumed); done runs with the answer. */
static struct job *call(struct ns_agent *a, const char *path, json_t *body, unsigned flags,
			void (*done)(struct job *, int, struct etcd_resp *, const char *))
{
	struct job *j = xcalloc(1, sizeof(*j));
	int rc;

	j->a = a;
	j->done = done;
	rc = etcd_call_async(a->e, path, body, flags, job_done, j);
	json_decref(body);
	if (rc < 0) {
		free(j);
		return NULL;
	}
	j->next = a->jobs;
	a->jobs = j;
	return j;
}

static void arm(struct ns_agent *a);

/* ---- maps ---- */

static struct arec *rec_find(struct ns_agent *a, const char *key)
{
	for (size_t i = 0; i < a->n_recs; i++)
		if (!strcmp(a->recs[i].key, key))
			return &a->recs[i];
	return NULL;
}

static void rec_drop(struct ns_agent *a, struct arec *r)
{
	free(r->key);
	json_decref(r->ep.labels);
	*r = a->recs[--a->n_recs];
}

static struct anet *net_find(struct ns_agent *a, const char *name)
{
	for (size_t i = 0; i < a->n_nets; i++)
		if (!strcmp(a->nets[i].name, name))
			return &a->nets[i];
	return NULL;
}

static struct anode *node_find(struct ns_agent *a, const char *name)
{
	for (size_t i = 0; i < a->n_nodes; i++)
		if (!strcmp(a->nodes[i].name, name))
			return &a->nodes[i];
	return NULL;
}

static struct aobj *obj_find(struct ns_agent *a, const char *name)
{
	for (size_t i = 0; i < a->n_objs; i++)
		if (!strcmp(a->objs[i].name, name))
			return &a->objs[i];
	return NULL;
}

static bool remote(const struct ns_agent *a, const struct ns_endpoint *ep)
{
	return ep->node[0] && strcmp(ep->node, a->node);
}

/* ---- the overlay ---- */

/* Every registered host's address plus the definition's own peers. *out: malloc'ed. */
static size_t peers_of(struct ns_agent *a, const struct ns_network *def, struct ns_ip **out)
{
	size_t n = 0;

	*out = xcalloc(a->n_nodes + def->n_peers + 1, sizeof(**out));
	for (size_t i = 0; i < a->n_nodes; i++)
		(*out)[n++] = a->nodes[i].addr;
	for (size_t i = 0; i < def->n_peers; i++)
		(*out)[n++] = def->peers[i];
	return n;
}

/* Reprograms network n's device here from the maps, dropping what is not there any more. */
static void net_reconcile(struct ns_agent *a, struct anet *n)
{
	struct ns_endpoint *eps;
	struct ns_ip *peers;
	struct ns_error err;
	size_t k = 0, np;
	int vx;

	if (n->def.driver != NS_DRIVER_OVERLAY || ns_overlay_device(a->ctx, &n->def, &vx, NULL) < 0)
		return;
	eps = xcalloc(a->n_recs + 1, sizeof(*eps));
	for (size_t i = 0; i < a->n_recs; i++)
		if (!strcmp(a->recs[i].ep.network, n->name))
			eps[k++] = a->recs[i].ep; /* shallow: only read */
	np = peers_of(a, &n->def, &peers);
	if (ns_overlay_program(a->ctx, vx, &a->self, peers, np, eps, k, true, &err) < 0)
		alog(a, "overlay %s: %s", n->name, err.msg);
	else
		n->programmed = vx;
	free(peers);
	free(eps);
}

/* One remote endpoint, added (or its entries removed). */
static void ep_program(struct ns_agent *a, const struct ns_endpoint *ep, bool add)
{
	struct anet *n = net_find(a, ep->network);
	struct ns_error err;
	int vx, rc;

	if (!n || n->def.driver != NS_DRIVER_OVERLAY || ns_overlay_device(a->ctx, &n->def, &vx, NULL) < 0)
		return;
	if (add)
		rc = ns_overlay_program(a->ctx, vx, &a->self, NULL, 0, ep, 1, false, &err);
	else
		rc = ns_overlay_forget(a->ctx, vx, ep, &err);
	if (rc < 0)
		alog(a, "overlay %s, endpoint %s: %s", n->name, ep->id, err.msg);
}

/* A host came or went: its flood entry on every overlay here. */
static void node_program(struct ns_agent *a, const struct ns_ip *addr, bool add)
{
	struct ns_error err;
	int vx;

	if (ns_ip_equal(addr, &a->self))
		return;
	for (size_t i = 0; i < a->n_nets; i++) {
		const struct ns_network *def = &a->nets[i].def;
		bool configured = false;
		if (def->driver != NS_DRIVER_OVERLAY || ns_overlay_device(a->ctx, def, &vx, NULL) < 0)
			continue;
		for (size_t k = 0; k < def->n_peers; k++)
			configured |= ns_ip_equal(&def->peers[k], addr);
		if ((add || !configured) && ns_overlay_flood(a->ctx, vx, addr, add, &err) < 0)
			alog(a, "overlay %s: flood entry: %s", def->name, err.msg);
	}
}

static bool ep_same(const struct ns_endpoint *x, const struct ns_endpoint *y)
{
	return !memcmp(x->mac, y->mac, 6) && ns_ip_equal(&x->host, &y->host) &&
	       x->n_addrs == y->n_addrs && !memcmp(x->addrs, y->addrs, sizeof(x->addrs));
}

/* ---- what the watch says ---- */

static void ep_put(struct ns_agent *a, const char *key, const struct etcd_kv *kv)
{
	struct arec *r = rec_find(a, key);
	struct ns_endpoint ep = { 0 };
	json_t *j = json_loads(kv->value, 0, NULL);
	struct anet *n;
	int vx;

	if (!j || ns_endpoint_from_json(j, &ep, NULL) < 0) {
		json_decref(j);
		json_decref(ep.labels);
		return;
	}
	json_decref(j);
	if (r && remote(a, &r->ep) && !ep_same(&r->ep, &ep))
		ep_program(a, &r->ep, false);
	if (!r) {
		r = &VEC_PUSH(a->recs, a->n_recs, a->cap_recs);
		r->key = xstrdup(key);
	} else {
		json_decref(r->ep.labels);
	}
	r->ep = ep;
	if (remote(a, &ep)) {
		ep_program(a, &ep, true);
		if (a->o.endpoints_changed)
			a->o.endpoints_changed(a->o.arg);
	} else if ((n = net_find(a, ep.network)) && n->def.driver == NS_DRIVER_OVERLAY) {
		/* this host's first endpoint there: its side is new, program it whole (what the
		 * attach itself programmed may predate events the agent has seen since); a claim
		 * comes before the attach makes the side: look again in a moment (check_local) */
		if (ns_overlay_device(a->ctx, &n->def, &vx, NULL) < 0)
			a->next_flush = clock_now_ms() + 50;
		else if (n->programmed != vx)
			net_reconcile(a, n);
	}
}

static void ep_del(struct ns_agent *a, const char *key)
{
	struct arec *r = rec_find(a, key);
	bool was_remote;

	if (!r)
		return;
	was_remote = remote(a, &r->ep);
	if (was_remote)
		ep_program(a, &r->ep, false);
	rec_drop(a, r);
	if (was_remote && a->o.endpoints_changed)
		a->o.endpoints_changed(a->o.arg);
}

static void node_put(struct ns_agent *a, const char *name, const struct etcd_kv *kv)
{
	json_t *j = json_loads(kv->value, 0, NULL);
	const char *addr = json_string_value(json_object_get(j, "host_addr"));
	struct anode *n = node_find(a, name);
	struct ns_ip ip;

	if (addr && ns_ip_parse(addr, &ip) == 0) {
		if (n && !ns_ip_equal(&n->addr, &ip))
			node_program(a, &n->addr, false);
		if (!n) {
			n = &VEC_PUSH(a->nodes, a->n_nodes, a->cap_nodes);
			n->name = xstrdup(name);
		}
		n->addr = ip;
		node_program(a, &ip, true);
	}
	json_decref(j);
}

static void gone_noted(struct job *j, int rc, struct etcd_resp *r, const char *why)
{
}

static void node_del(struct ns_agent *a, const char *name)
{
	struct anode *n = node_find(a, name);
	char since[64], *k;
	json_t *cmps, *ok;

	if (!n)
		return;
	node_program(a, &n->addr, false);
	free(n->name);
	*n = a->nodes[--a->n_nodes];
	if (!strcmp(name, a->node))
		return;
	/* when its lease expired: netpol net gc releases its addresses a grace after that */
	k = ek_key(a->prefix, "gone/%s", name);
	snprintf(since, sizeof(since), "{\"since\":%lld}", (long long)time(NULL));
	cmps = json_array();
	ok = json_array();
	json_array_append_new(cmps, etcd_cmp_absent(k));
	json_array_append_new(ok, etcd_op_put(k, since, 0));
	call(a, "/v3/kv/txn", etcd_txn(cmps, ok, NULL), 0, gone_noted);
	free(k);
}

static void net_put(struct ns_agent *a, const char *name, const struct etcd_kv *kv)
{
	json_t *j = json_loads(kv->value, 0, NULL);
	struct anet *n = net_find(a, name);
	struct ns_network def;

	if (j && ns_network_from_json(j, &def, NULL) == 0) {
		if (!n) {
			n = &VEC_PUSH(a->nets, a->n_nets, a->cap_nets);
			n->name = xstrdup(name);
		}
		n->def = def;
		n->programmed = 0;
		net_reconcile(a, n);
	}
	json_decref(j);
}

static void net_del(struct ns_agent *a, const char *name)
{
	struct anet *n = net_find(a, name);

	if (n) {
		free(n->name);
		*n = a->nets[--a->n_nets];
	}
}

static void obj_put(struct ns_agent *a, const char *name, const struct etcd_kv *kv)
{
	struct aobj *o = obj_find(a, name);

	if (o && o->mod_rev == kv->mod_rev)
		return;
	if (!o) {
		o = &VEC_PUSH(a->objs, a->n_objs, a->cap_objs);
		o->name = xstrdup(name);
	}
	o->mod_rev = kv->mod_rev;
	if (a->o.object)
		a->o.object(a->o.arg, name, kv->value, kv->value_len);
}

static void obj_del(struct ns_agent *a, const char *name)
{
	struct aobj *o = obj_find(a, name);

	if (!o)
		return;
	if (a->o.object)
		a->o.object(a->o.arg, name, NULL, 0);
	free(o->name); /* name may be it: told first */
	*o = a->objs[--a->n_objs];
}

/* One key's news (kv NULL: deleted). */
static void apply(struct ns_agent *a, const char *key, const struct etcd_kv *kv)
{
	size_t plen = strlen(a->prefix);
	const char *rest;

	if (strncmp(key, a->prefix, plen))
		return;
	rest = key + plen;
	if (!strncmp(rest, "endpoints/", 10))
		kv ? ep_put(a, key, kv) : ep_del(a, key);
	else if (!strncmp(rest, "nodes/", 6))
		kv ? node_put(a, rest + 6, kv) : node_del(a, rest + 6);
	else if (!strncmp(rest, "networks/", 9))
		kv ? net_put(a, rest + 9, kv) : net_del(a, rest + 9);
	else if (!strncmp(rest, "objects/", 8))
		kv ? obj_put(a, rest + 8, kv) : obj_del(a, rest + 8);
}

/* ---- the watch ---- */

static void watch_open(struct ns_agent *a);

static void reopen_later(struct ns_agent *a)
{
	a->backoff = a->backoff ? a->backoff * 2 : BACKOFF_MIN_MS;
	if (a->backoff > BACKOFF_MAX_MS)
		a->backoff = BACKOFF_MAX_MS;
	a->reopen_at = clock_now_ms() + a->backoff;
	arm(a);
}

static void list_start(struct ns_agent *a);

static void on_watch(void *arg, int rc, struct etcd_resp *r, const char *why)
{
	struct ns_agent *a = arg;

	if (rc < 0 || r->is_error) {
		if (rc == 0) { /* an error message: the stream is useless now */
			etcd_watch_close(a->w);
			why = r->error;
		}
		a->w = NULL;
		if (a->watching)
			alog(a, "watch ended (%s); reopening from revision %lld", why ? why : "",
			     (long long)a->rev + 1);
		else
			store_failed(a, why);
		a->watching = false;
		reopen_later(a);
		return;
	}
	if (r->canceled) {
		etcd_watch_close(a->w);
		a->w = NULL;
		a->watching = false;
		if (r->compact_revision)
			alog(a, "watch from revision %lld was compacted (at %lld): listing again",
			     (long long)a->rev + 1, (long long)r->compact_revision);
		list_start(a);
		return;
	}
	if (r->created) {
		a->watching = true;
		a->backoff = 0;
		store_ok(a);
	}
	for (size_t i = 0; i < r->n_events; i++) {
		const struct etcd_event *ev = &r->events[i];
		apply(a, ev->kv.key, ev->is_delete ? NULL : &ev->kv);
	}
	if (r->revision > a->rev)
		a->rev = r->revision;
	if (r->n_events)
		arm(a); /* an event may have moved a check closer (ep_put) */
}

static void watch_open(struct ns_agent *a)
{
	json_t *req = etcd_range_req(a->prefix, true);
	char start[32];

	a->reopen_at = 0;
	snprintf(start, sizeof(start), "%lld", (long long)a->rev + 1);
	json_object_set_new(req, "start_revision", json_string(start));
	json_object_set_new(req, "prev_kv", json_true());
	if (etcd_watch_open(a->e, req, on_watch, a, &a->w) < 0) {
		a->w = NULL;
		reopen_later(a);
	}
	json_decref(req);
}

/* A list: the maps become what it says, the overlays are reconciled in full, and the objects
 * and endpoints that changed are told. */
static void list_apply(struct ns_agent *a, const struct etcd_resp *r)
{
	size_t plen = strlen(a->prefix);
	bool changed = false;

	/* what is gone since the maps were made */
	for (size_t i = 0; i < a->n_recs;) {
		if (ek_kv_find(r, a->recs[i].key) == NULL) {
			changed |= remote(a, &a->recs[i].ep);
			ep_del(a, a->recs[i].key);
		} else {
			i++;
		}
	}
	for (size_t i = 0; i < a->n_objs;) {
		char *k = ek_key(a->prefix, "objects/%s", a->objs[i].name);
		bool there = ek_kv_find(r, k) != NULL;
		free(k);
		if (there)
			i++;
		else
			obj_del(a, a->objs[i].name);
	}
	while (a->n_nodes) {
		free(a->nodes[a->n_nodes - 1].name);
		a->n_nodes--;
	}
	/* networks and nodes first: the endpoints are programmed onto them */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < r->n_kvs; i++) {
			const char *rest = r->kvs[i].key + plen;
			bool first = !strncmp(rest, "networks/", 9) || !strncmp(rest, "nodes/", 6);
			if (first == (pass == 0))
				apply(a, r->kvs[i].key, &r->kvs[i]);
		}
	for (size_t i = 0; i < a->n_nets; i++)
		net_reconcile(a, &a->nets[i]);
	if (changed && a->o.endpoints_changed)
		a->o.endpoints_changed(a->o.arg);
}

static void list_done(struct job *j, int rc, struct etcd_resp *r, const char *why)
{
	struct ns_agent *a = j->a;

	a->listing = false;
	if (rc < 0) {
		store_failed(a, why);
		reopen_later(a);
		return;
	}
	store_ok(a);
	list_apply(a, r);
	a->rev = r->revision;
	if (a->o.listed)
		a->o.listed(a->o.arg);
	watch_open(a);
}

static void list_start(struct ns_agent *a)
{
	a->listing = true;
	a->reopen_at = 0;
	if (!call(a, "/v3/kv/range", etcd_range_req(a->prefix, true), ETCD_READ, list_done)) {
		a->listing = false;
		reopen_later(a);
	}
}

/* ---- this host's records, put back under a new lease ---- */

static void reput_written(struct job *j, int rc, struct etcd_resp *r, const char *why)
{
	if (rc < 0)
		alog(j->a, "putting endpoint %s/%s back: %s", j->rel.network, j->rel.id, why);
}

/* Step two: the record where it is missing or under an old lease, each address key where it
 * is missing; an address another endpoint holds now is said loudly (it was released by a gc
 * while this host was cut off: two endpoints have it). */
static void reput_read(struct job *j, int rc, struct etcd_resp *r, const char *why)
{
	struct ns_agent *a = j->a;
	json_t *cmps = json_array(), *ops = json_array();
	char *kep = ek_key(a->prefix, "endpoints/%s/%s", j->rel.network, j->rel.id);
	char *val = ek_ipam_value(j->rel.id, j->rel.node, j->rel.created);
	const struct etcd_kv *kv;

	if (rc < 0)
		goto out;
	kv = ek_kv_find(r, kep);
	if (!kv || kv->lease != a->lease) {
		json_array_append_new(cmps, kv ? etcd_cmp_mod(kep, kv->mod_rev) : etcd_cmp_absent(kep));
		json_array_append_new(ops, etcd_op_put(kep, j->text, a->lease));
	}
	for (size_t i = 0; i < j->rel.n_addrs; i++) {
		char *k = ek_key(a->prefix, "ipam/%s/%s", j->rel.network, j->rel.addrs[i]);
		if (!(kv = ek_kv_find(r, k))) {
			json_array_append_new(cmps, etcd_cmp_absent(k));
			json_array_append_new(ops, etcd_op_put(k, val, 0));
		} else if (strcmp(kv->value, val)) {
			alog(a, "address %s of endpoint %s/%s is held by another endpoint in the store "
			     "(%s): two endpoints have it", j->rel.addrs[i], j->rel.network, j->rel.id,
			     kv->value);
		}
		free(k);
	}
	if (json_array_size(ops)) {
		struct job *w = call(a, "/v3/kv/txn", etcd_txn(cmps, ops, NULL), 0, reput_written);
		if (w)
			w->rel = j->rel;
		cmps = ops = NULL;
	}
out:
	json_decref(cmps);
	json_decref(ops);
	free(kep);
	free(val);
}

/* Every record in the state directory's copies (this host's endpoints). */
static size_t reput_all(struct ns_agent *a)
{
	char dir[4096], path[8192];
	struct dirent *de, *fe;
	size_t n = 0;
	DIR *d, *f;

	snprintf(dir, sizeof(dir), "%s/endpoints", a->state_dir);
	if (!(d = opendir(dir)))
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!(f = opendir(path)))
			continue;
		while ((fe = readdir(f))) {
			struct ns_endpoint ep = { 0 };
			json_t *j;
			struct job *job;
			if (fe->d_name[0] == '.' || !strstr(fe->d_name, ".json"))
				continue;
			snprintf(path, sizeof(path), "%s/%s/%s", dir, de->d_name, fe->d_name);
			if (!(j = json_load_file(path, 0, NULL)))
				continue;
			if (ns_endpoint_from_json(j, &ep, NULL) == 0 && !strcmp(ep.node, a->node)) {
				json_t *rec = ns_endpoint_to_json(&ep);
				struct ek_release rel;
				ek_release_of(&ep, &rel);
				if ((job = call(a, "/v3/kv/txn", ek_release_read(a->prefix, &rel), ETCD_READ,
						reput_read))) {
					job->rel = rel;
					job->text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
					n++;
				}
				json_decref(rec);
			}
			json_decref(ep.labels);
			json_decref(j);
		}
		closedir(f);
	}
	closedir(d);
	return n;
}

/* ---- the lease ---- */

static long ka_ms(const struct ns_agent *a)
{
	long ms = a->o.lease_ttl_s * 1000 / 3;

	return ms < 300 ? 300 : ms;
}

static void lease_grant(struct ns_agent *a);

static void registered(struct job *j, int rc, struct etcd_resp *r, const char *why)
{
	struct ns_agent *a = j->a;
	struct ek_agent reg = { 0 };
	struct ns_error err;
	size_t n;

	a->lease_busy = false;
	if (rc == -ENOENT) { /* the lease expired meanwhile */
		a->lease = 0;
		a->next_ka = 0;
	} else if (rc < 0) {
		store_failed(a, why);
		a->next_ka = clock_now_ms() + RETRY_MS;
	} else {
		a->registered = true;
		a->next_ka = clock_now_ms() + ka_ms(a);
		snprintf(reg.node, sizeof(reg.node), "%s", a->node);
		snprintf(reg.host_addr, sizeof(reg.host_addr), "%s", a->self_text);
		snprintf(reg.store, sizeof(reg.store), "%s", a->url);
		snprintf(reg.prefix, sizeof(reg.prefix), "%s", a->prefix);
		reg.lease = a->lease;
		if (ek_agent_write(a->state_dir, &reg, &err) < 0)
			alog(a, "%s", err.msg);
		n = reput_all(a);
		alog(a, "node %s registered at %s under lease %lld (TTL %ld s)%s", a->node,
		     a->self_text, (long long)a->lease, a->o.lease_ttl_s,
		     n ? "; its endpoints put back under it" : "");
	}
	arm(a);
}

static void node_register(struct ns_agent *a)
{
	json_t *ok = json_array(), *v;
	char *kn = ek_key(a->prefix, "nodes/%s", a->node), *kg = ek_key(a->prefix, "gone/%s", a->node);
	char since[32], *text;
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	v = json_pack("{s:s,s:s,s:s,s:s}", "name", a->node, "host_addr", a->self_text, "agent",
		      "policyd", "since", since);
	text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	json_array_append_new(ok, etcd_op_put(kn, text, a->lease));
	json_array_append_new(ok, etcd_op_delete(kg, false));
	a->lease_busy = call(a, "/v3/kv/txn", etcd_txn(json_array(), ok, NULL), 0, registered) != NULL;
	json_decref(v);
	free(text);
	free(kn);
	free(kg);
}

static void granted(struct job *j, int rc, struct etcd_resp *r, const char *why)
{
	struct ns_agent *a = j->a;

	a->lease_busy = false;
	if (rc < 0 || r->lease_id <= 0) {
		store_failed(a, why ? why : "lease grant refused");
		a->next_ka = clock_now_ms() + RETRY_MS;
		arm(a);
		return;
	}
	a->lease = r->lease_id;
	node_register(a);
	arm(a);
}

static void lease_grant(struct ns_agent *a)
{
	char ttl[32];

	snprintf(ttl, sizeof(ttl), "%ld", a->o.lease_ttl_s);
	a->registered = false;
	a->lease_busy = call(a, "/v3/lease/grant", json_pack("{s:s}", "TTL", ttl), 0, granted) != NULL;
}

static void kept_alive(struct job *j, int rc, struct etcd_resp *r, const char *why)
{
	struct ns_agent *a = j->a;

	a->lease_busy = false;
	if (rc < 0) {
		store_failed(a, why);
		a->next_ka = clock_now_ms() + RETRY_MS;
	} else if (r->ttl <= 0) {
		/* an expired lease answers 200 without a TTL: this host was cut off longer than
		 * the TTL and its records are gone from the store */
		alog(a, "lease %lld expired: registering again and putting this host's endpoints "
		     "back", (long long)a->lease);
		a->lease = 0;
		a->registered = false;
		a->next_ka = 0;
		store_ok(a);
	} else {
		a->next_ka = clock_now_ms() + ka_ms(a);
		store_ok(a);
	}
	arm(a);
}

static void lease_step(struct ns_agent *a)
{
	char id[32];

	if (!a->lease) {
		lease_grant(a);
	} else if (!a->registered) {
		node_register(a);
	} else {
		snprintf(id, sizeof(id), "%lld", (long long)a->lease);
		a->lease_busy = call(a, "/v3/lease/keepalive", json_pack("{s:s}", "ID", id), 0,
				     kept_alive) != NULL;
	}
	if (!a->lease_busy)
		a->next_ka = clock_now_ms() + RETRY_MS;
}

/* ---- networks new on this host ---- */

/* An attach's claim reaches the watch before the attach has made the network's side here, so
 * that record could not trigger the first full programming of it (ep_put); every network with
 * an endpoint of this host whose device is not the one last reconciled is reconciled now. */
static void check_local(struct ns_agent *a)
{
	for (size_t i = 0; i < a->n_nets; i++) {
		struct anet *n = &a->nets[i];
		bool mine = false;
		int vx;
		for (size_t k = 0; k < a->n_recs && !mine; k++)
			mine = !remote(a, &a->recs[k].ep) && !strcmp(a->recs[k].ep.network, n->name);
		if (mine && n->def.driver == NS_DRIVER_OVERLAY &&
		    ns_overlay_device(a->ctx, &n->def, &vx, NULL) == 0 && n->programmed != vx)
			net_reconcile(a, n);
	}
}

/* ---- queued releases ---- */

static void released(struct job *j, int rc, struct etcd_resp *r, const char *why)
{
	struct ns_agent *a = j->a;

	a->flushing = a->pending > 1;
	a->pending--;
	if (rc < 0)
		return;
	ek_pending_done(a->state_dir, &j->rel);
	alog(a, "queued release of endpoint %s/%s sent", j->rel.network, j->rel.id);
}

static void release_read(struct job *j, int rc, struct etcd_resp *r, const char *why)
{
	struct ns_agent *a = j->a;
	json_t *txn = rc == 0 ? ek_release_txn(a->prefix, &j->rel, r) : NULL;
	struct job *w;

	if (rc < 0 || !txn) {
		if (rc == 0)
			released(j, 0, NULL, NULL); /* nothing of it left: done */
		else
			a->pending--;
		a->flushing = a->pending > 0;
		return;
	}
	if ((w = call(a, "/v3/kv/txn", txn, 0, released)))
		w->rel = j->rel;
}

static void flush(struct ns_agent *a)
{
	struct ek_release *v;
	size_t n;

	if (a->flushing || a->frozen || !a->registered || ek_pending_list(a->state_dir, &v, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct job *j = call(a, "/v3/kv/txn", ek_release_read(a->prefix, &v[i]), ETCD_READ,
				     release_read);
		if (j) {
			j->rel = v[i];
			a->pending++;
		}
	}
	a->flushing = a->pending > 0;
	free(v);
}

/* ---- timer ---- */

static void arm(struct ns_agent *a)
{
	double now = clock_now_ms(), next = a->next_flush;

	if (!a->lease_busy && a->next_ka < next)
		next = a->next_ka;
	if (a->reopen_at && a->reopen_at < next)
		next = a->reopen_at;
	if (a->o.timer)
		a->o.timer(a->o.arg, next <= now ? 1 : (long)(next - now + 0.999));
}

void ns_agent_on_timer(struct ns_agent *a)
{
	double now = clock_now_ms();

	if (!a->lease_busy && now >= a->next_ka)
		lease_step(a);
	if (a->reopen_at && now >= a->reopen_at && !a->listing && !a->w) {
		if (a->rev)
			watch_open(a);
		else
			list_start(a);
	}
	if (now >= a->next_flush) {
		flush(a);
		check_local(a);
		a->next_flush = now + FLUSH_MS;
	}
	arm(a);
}

void ns_agent_on_fd(struct ns_agent *a, int fd, uint32_t events)
{
	etcd_on_fd(a->e, fd, events);
}

void ns_agent_on_timeout(struct ns_agent *a)
{
	etcd_on_timeout(a->e);
}

/* ---- life ---- */

/* The address the kernel would send from toward the first store endpoint. */
static int source_toward(const char *url, struct ns_ip *out)
{
	const char *hp = url + strlen("etcd://");
	size_t n = strcspn(hp, ",");
	char host[128];
	const char *colon = memrchr(hp, ':', n);
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	struct ns_ip dst;
	int fd, rc = 0;

	if (!colon || (size_t)(colon - hp) >= sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	if (ns_ip_parse(host, &dst) < 0)
		return -EINVAL;
	if ((fd = socket(dst.family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (dst.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(2379);
		memcpy(&sin->sin_addr, dst.a, 4);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(2379);
		memcpy(&sin6->sin6_addr, dst.a, 16);
		len = sizeof(*sin6);
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		rc = -errno;
	close(fd);
	if (rc < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	out->family = ss.ss_family;
	memcpy(out->a, ss.ss_family == AF_INET ? (void *)&((struct sockaddr_in *)&ss)->sin_addr
					       : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr,
	       ss.ss_family == AF_INET ? 4 : 16);
	return 0;
}

int ns_agent_new(const struct ns_agent_opts *o, struct ns_agent **out, struct ns_error *err)
{
	struct ns_agent *a = xcalloc(1, sizeof(*a));
	const char *prefix = o->prefix && *o->prefix ? o->prefix : NS_STORE_PREFIX;
	struct ns_store_conf conf = { o->url, prefix, o->node };
	int rc;

	a->o = *o;
	a->url = xstrdup(o->url);
	a->prefix = prefix[strlen(prefix) - 1] == '/' ? xstrdup(prefix) : xasprintf("%s/", prefix);
	a->node = xstrdup(o->node);
	a->state_dir = xstrdup(o->state_dir);
	if (!ns_name_valid(o->node, 253)) {
		rc = ns_error_set(err, -EINVAL, "bad node name '%s'", o->node);
		goto fail;
	}
	if (o->host_addr ? ns_ip_parse(o->host_addr, &a->self) : source_toward(o->url, &a->self)) {
		rc = ns_error_set(err, -EINVAL, "%s: no underlay address (give --host-addr)",
				  o->host_addr ? o->host_addr : "the first store endpoint");
		goto fail;
	}
	ns_ip_format(&a->self, a->self_text);
	if ((rc = etcd_new(o->url, &a->e, err)) < 0)
		goto fail;
	etcd_set_loop(a->e, &o->loop);
	if (!(a->ctx = ns_ctx_open(o->state_dir, &conf, false, err))) {
		rc = -EIO;
		goto fail;
	}
	a->next_flush = clock_now_ms() + FLUSH_MS;
	lease_grant(a);
	list_start(a);
	arm(a);
	*out = a;
	return 0;
fail:
	ns_agent_free(a);
	return rc;
}

void ns_agent_free(struct ns_agent *a)
{
	if (!a)
		return;
	etcd_free(a->e); /* no callback runs after this: the jobs are ours to free */
	while (a->jobs) {
		struct job *j = a->jobs;
		a->jobs = j->next;
		free(j->text);
		free(j);
	}
	for (size_t i = 0; i < a->n_recs; i++) {
		free(a->recs[i].key);
		json_decref(a->recs[i].ep.labels);
	}
	for (size_t i = 0; i < a->n_nodes; i++)
		free(a->nodes[i].name);
	for (size_t i = 0; i < a->n_nets; i++)
		free(a->nets[i].name);
	for (size_t i = 0; i < a->n_objs; i++)
		free(a->objs[i].name);
	free(a->recs);
	free(a->nodes);
	free(a->nets);
	free(a->objs);
	ns_ctx_free(a->ctx);
	free(a->url);
	free(a->prefix);
	free(a->node);
	free(a->state_dir);
	free(a);
}

size_t ns_agent_endpoints(const struct ns_agent *a, const struct ns_endpoint **v, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n_recs; i++) {
		if (!remote(a, &a->recs[i].ep))
			continue;
		if (n < max)
			v[n] = &a->recs[i].ep;
		n++;
	}
	return n;
}

bool ns_agent_has_object(const struct ns_agent *a, const char *name)
{
	return obj_find((struct ns_agent *)a, name) != NULL;
}

void ns_agent_status(const struct ns_agent *a, struct ns_agent_status *out)
{
	memset(out, 0, sizeof(*out));
	out->node = a->node;
	out->host_addr = a->self_text;
	out->url = a->url;
	out->registered = a->registered;
	out->lease = a->lease;
	out->watching = a->watching;
	out->revision = a->rev;
	out->frozen = a->frozen;
	out->frozen_since = a->frozen_since;
	out->frozen_revision = a->frozen_rev;
	out->why = a->why;
	out->nodes = a->n_nodes;
	out->endpoints = a->n_recs;
	out->remote = ns_agent_endpoints(a, NULL, 0);
	out->objects = a->n_objs;
	out->pending = a->pending;
}
