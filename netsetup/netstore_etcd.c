/* netstore_etcd.c — etcd v3 as the store (netstore.h; keys in netstore_etcd.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "netstore.h"
#include "netstore_etcd.h"
#include "vec.h"
#include "xalloc.h"

#define CLAIM_TRIES 32 /* conflicts retried before an allocation gives up */
#define CLAIM_SPREAD 16 /* after a conflict, one of the lowest this many free addresses */

struct estore {
	struct ns_store st;        /* first: the ops see this */
	struct etcd *e;
	char *prefix;
	char node[254];
	int64_t lease;             /* the node's lease; 0 until resolved */
	/* the attach in progress: its endpoint key's revision after the claim, the record the
	 * claim wrote, and what the attach reads, from one request (struct snap) */
	struct ek_release claim;
	int64_t claim_rev;
	char *claim_text;
	struct snap {
		char net[64];
		bool valid;
		struct etcd_resp r;  /* the taken addresses (keys), the hosts, the records */
	} snap;
};

static struct estore *es_of(struct ns_store *st)
{
	return (struct estore *)st;
}

/* ---- calls ---- */

/* How long an operation keeps trying a store that has no leader or does not answer (an
 * election after a member died takes about a second), and how long one request may take:
 * worst case an attach fails after PATIENCE + 2 REQUEST (the last try, its read-back once),
 * 7 s, under the 10 s it is allowed. */
#define PATIENCE_MS 4000
#define REQUEST_MS 1500
#define RETRY_PAUSE_US 100000

enum { CALL_ONCE = 0x100 }; /* no patience: one pass over the endpoints */

/* A blocking call; body is consumed. Tried again while the store is unavailable, up to the
 * patience (unless CALL_ONCE): every operation sent this way is safe to repeat (its
 * compares make a repeat fail when an earlier try was applied, and the caller then finds its
 * own value). -ETIMEDOUT when the last try failed and any try's outcome is unknown. */
static int call(struct estore *es, const char *path, json_t *body, unsigned flags,
		struct etcd_resp *r, struct ns_error *err)
{
	double end = clock_now_ms() + PATIENCE_MS;
	bool unknown = false;
	int rc;

	for (;;) {
		rc = etcd_call(es->e, path, body, flags & 0xff, r, err);
		unknown |= rc == -ETIMEDOUT;
		if (!ns_store_unavailable(rc) || (flags & CALL_ONCE) ||
		    clock_now_ms() + RETRY_PAUSE_US / 1000 >= end)
			break;
		usleep(RETRY_PAUSE_US);
	}
	json_decref(body);
	if (rc == -EHOSTUNREACH && unknown)
		rc = -ETIMEDOUT;
	if (rc == -EHOSTUNREACH)
		ns_error_wrap(err, rc, "the store %s is unavailable", etcd_url(es->e));
	else if (rc == -ETIMEDOUT)
		ns_error_wrap(err, rc, "the store %s did not answer in time", etcd_url(es->e));
	return rc;
}

enum { RANGE_PREFIX = 1, RANGE_KEYS_ONLY = 2, RANGE_LINEARIZABLE = 4, RANGE_ONCE = 8 };

/* A range; serializable unless asked (a member without quorum still answers, from what it has:
 * enough for definitions and the taken set, which the transactions then check). */
static int range(struct estore *es, const char *key, unsigned how, struct etcd_resp *r,
		 struct ns_error *err)
{
	json_t *req = etcd_range_req(key, how & RANGE_PREFIX);

	if (!(how & RANGE_LINEARIZABLE))
		json_object_set_new(req, "serializable", json_true());
	if (how & RANGE_KEYS_ONLY)
		json_object_set_new(req, "keys_only", json_true());
	return call(es, "/v3/kv/range", req,
		    ETCD_READ | (how & RANGE_LINEARIZABLE ? 0 : ETCD_ANY) |
			    (how & RANGE_ONCE ? CALL_ONCE : 0), r, err);
}

/* ---- what one attach reads ---- */

/* A serializable range as a transaction's operation. */
static json_t *snap_op(struct estore *es, const char *sub, bool keys_only)
{
	char *k = ek_key(es->prefix, "%s", sub);
	json_t *op = etcd_op_range(k, true), *rr = json_object_get(op, "request_range");

	free(k);
	json_object_set_new(rr, "serializable", json_true());
	if (keys_only)
		json_object_set_new(rr, "keys_only", json_true());
	return op;
}

/* An attach asks the store which addresses are taken (its claim), which hosts there are and
 * which endpoints the network has (the overlay's setup): one read-only transaction answers all
 * three at one revision, a round trip instead of three. Its ranges are serializable, so the
 * member answers from what it has, at once (the claim's compares are what keeps addresses
 * unique; a stale answer costs a retry). Dropped when the attach ends. */
static int snap_load(struct estore *es, const char *net, struct ns_error *err)
{
	json_t *ops = json_array();
	char sub[128];
	int rc;

	etcd_resp_free(&es->snap.r);
	es->snap.valid = false;
	snprintf(sub, sizeof(sub), "ipam/%s/", net);
	json_array_append_new(ops, snap_op(es, sub, true));
	json_array_append_new(ops, snap_op(es, "nodes/", false));
	snprintf(sub, sizeof(sub), "endpoints/%s/", net);
	json_array_append_new(ops, snap_op(es, sub, false));
	rc = call(es, "/v3/kv/txn", etcd_txn(json_array(), ops, NULL), ETCD_READ | ETCD_ANY,
		  &es->snap.r, err);
	if (rc < 0)
		return rc;
	snprintf(es->snap.net, sizeof(es->snap.net), "%s", net);
	es->snap.valid = true;
	return 0;
}

static void snap_drop(struct estore *es)
{
	etcd_resp_free(&es->snap.r);
	es->snap.valid = false;
}

/* The snapshot's kvs under prefix+sub, as a response of their own (shallow: not to be freed
 * with etcd_resp_free); false when there is no snapshot for net (NULL: any). */
static bool snap_get(struct estore *es, const char *net, const char *sub, struct etcd_resp *out)
{
	char *k = ek_key(es->prefix, "%s", sub);
	size_t n = strlen(k);

	memset(out, 0, sizeof(*out));
	if (!es->snap.valid || (net && strcmp(net, es->snap.net))) {
		free(k);
		return false;
	}
	for (size_t i = 0; i < es->snap.r.n_kvs; i++) {
		if (strncmp(es->snap.r.kvs[i].key, k, n))
			continue;
		if (!out->kvs)
			out->kvs = &es->snap.r.kvs[i];
		out->n_kvs++;
	}
	out->revision = es->snap.r.revision;
	free(k);
	return true;
}

/* ---- this host: its node name and lease ---- */

static int lease_from_store(struct estore *es, struct ns_error *err)
{
	struct etcd_resp r;
	char *k = ek_key(es->prefix, "nodes/%s", es->node);
	int rc = range(es, k, 0, &r, err);

	free(k);
	if (rc < 0)
		return rc;
	es->lease = r.n_kvs ? r.kvs[0].lease : 0;
	etcd_resp_free(&r);
	if (!es->lease)
		return ns_error_set(err, -ENOLINK,
				    "no netpol agent is registered as node %s in %s (run policyd --store %s "
				    "--node %s on that host)", es->node, etcd_url(es->e), etcd_url(es->e),
				    es->node);
	return 0;
}

/* The node records are attached as (--node, else the local agent's) and its lease. */
static int resolve_node(struct estore *es, struct ns_error *err)
{
	struct ek_agent a;
	bool have = ek_agent_read(es->st.state_dir, &a) == 0;

	if (es->lease)
		return 0;
	if (!es->node[0] && have)
		snprintf(es->node, sizeof(es->node), "%s", a.node);
	if (!es->node[0])
		return ns_error_set(err, -EINVAL,
				    "which node is this? pass --node NAME, or run policyd --store %s --node "
				    "NAME --state-dir %s here", etcd_url(es->e), es->st.state_dir);
	if (have && !strcmp(a.node, es->node) && a.lease) {
		es->lease = a.lease;
		return 0;
	}
	return lease_from_store(es, err);
}

/* ---- local copies ---- */

static void cache_path(struct estore *es, const char *kind, const char *net, const char *id,
		       char *buf, size_t n)
{
	if (id)
		snprintf(buf, n, "%s/%s/%s/%s.json", es->st.state_dir, kind, net, id);
	else
		snprintf(buf, n, "%s/%s/%s.json", es->st.state_dir, kind, net);
}

static int parse_record(const char *text, struct ns_endpoint *ep, struct ns_error *err)
{
	json_t *j = json_loads(text, 0, NULL);
	int rc;

	if (!j)
		return ns_error_set(err, -EBADMSG, "unreadable endpoint record in the store");
	rc = ns_endpoint_from_json(j, ep, err);
	json_decref(j);
	return rc;
}

static char *record_text(const struct ns_endpoint *ep)
{
	json_t *j = ns_endpoint_to_json(ep);
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(j);
	if (!s)
		abort();
	return s;
}

/* ---- definitions ---- */

static int etcd_net_get(struct ns_store *st, const char *name, json_t **out, struct ns_error *err)
{
	struct estore *es = es_of(st);
	struct etcd_resp r;
	char *k = ek_key(es->prefix, "networks/%s", name), path[4096];
	int rc = range(es, k, 0, &r, err);

	free(k);
	if (ns_store_unavailable(rc)) {
		/* a definition this host used: what a detach needs while the store is away */
		cache_path(es, "networks", name, NULL, path, sizeof(path));
		if ((*out = json_load_file(path, 0, NULL)))
			return 0;
		return rc;
	}
	if (rc < 0)
		return rc;
	if (!r.n_kvs) {
		etcd_resp_free(&r);
		return ns_error_set(err, -ENOENT, "network %s not found", name);
	}
	*out = json_loads(r.kvs[0].value, 0, NULL);
	etcd_resp_free(&r);
	if (!*out)
		return ns_error_set(err, -EBADMSG, "network %s: unreadable definition in the store", name);
	return 0;
}

/* The names under prefix+sub (the path component right after it), sorted and unique. */
static int names_under(struct estore *es, const char *sub, json_t **out, struct ns_error *err)
{
	struct etcd_resp r;
	char *k = ek_key(es->prefix, "%s", sub);
	size_t klen = strlen(k);
	int rc = range(es, k, RANGE_PREFIX | RANGE_KEYS_ONLY, &r, err);

	free(k);
	if (rc < 0)
		return rc;
	*out = json_array();
	/* keys come sorted, so equal names are neighbours */
	for (size_t i = 0; i < r.n_kvs; i++) {
		const char *name = r.kvs[i].key + klen;
		size_t n = strcspn(name, "/");
		json_t *last = json_array_get(*out, json_array_size(*out) - 1);
		if (!n || (last && strlen(json_string_value(last)) == n &&
			   !strncmp(json_string_value(last), name, n)))
			continue;
		json_array_append_new(*out, json_stringn(name, n));
	}
	etcd_resp_free(&r);
	return 0;
}

static int etcd_net_names(struct ns_store *st, json_t **out, struct ns_error *err)
{
	return names_under(es_of(st), "networks/", out, err);
}

static int etcd_net_reserve(struct ns_store *st, const struct ns_network *net,
			    struct ns_error *err)
{
	struct estore *es = es_of(st);
	json_t *cmps = json_array(), *ok = json_array(), *fail = json_array(), *j;
	char *kn = ek_key(es->prefix, "networks/%s", net->name), *kv = NULL, *def, vni[16];
	struct etcd_resp r;
	int rc;

	j = ns_network_to_json(net);
	def = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	json_array_append_new(cmps, etcd_cmp_absent(kn));
	json_array_append_new(ok, etcd_op_put(kn, def, 0));
	json_array_append_new(fail, etcd_op_range(kn, false));
	if (net->driver == NS_DRIVER_OVERLAY) { /* a VNI is one network's across every host */
		kv = ek_key(es->prefix, "vni/%u", net->vni);
		json_array_append_new(cmps, etcd_cmp_absent(kv));
		json_array_append_new(ok, etcd_op_put(kv, net->name, 0));
		json_array_append_new(fail, etcd_op_range(kv, false));
	}
	rc = call(es, "/v3/kv/txn", etcd_txn(cmps, ok, fail), 0, &r, err);
	if (rc == 0 && !r.succeeded && ek_kv_find(&r, kn) && !strcmp(ek_kv_find(&r, kn)->value, def))
		r.succeeded = true; /* an earlier try that did not answer in time was applied */
	if (rc == 0 && !r.succeeded) {
		snprintf(vni, sizeof(vni), "%u", net->vni);
		rc = ns_error_set(err, -EEXIST, "network %s already exists", net->name);
		for (size_t i = 0; i < r.n_kvs && !ek_kv_find(&r, kn); i++)
			if (kv && !strcmp(r.kvs[i].key, kv))
				rc = ns_error_set(err, -EEXIST, "VNI %s is already used by network %s", vni,
						  r.kvs[i].value);
	}
	etcd_resp_free(&r);
	free(def);
	free(kn);
	free(kv);
	return rc;
}

static int etcd_net_commit(struct ns_store *st, const struct ns_network *net,
			   struct ns_error *err)
{
	return 0; /* the reservation stored the whole definition */
}

static void etcd_net_unreserve(struct ns_store *st, const struct ns_network *net)
{
	struct estore *es = es_of(st);
	json_t *ops = json_array();
	char *k = ek_key(es->prefix, "networks/%s", net->name);
	struct etcd_resp r;

	json_array_append_new(ops, etcd_op_delete(k, false));
	free(k);
	if (net->driver == NS_DRIVER_OVERLAY) {
		k = ek_key(es->prefix, "vni/%u", net->vni);
		json_array_append_new(ops, etcd_op_delete(k, false));
		free(k);
	}
	if (call(es, "/v3/kv/txn", etcd_txn(json_array(), ops, NULL), 0, &r, NULL) == 0)
		etcd_resp_free(&r);
}

static int etcd_net_delete(struct ns_store *st, const struct ns_network *net,
			   struct ns_error *err)
{
	struct estore *es = es_of(st);
	json_t *cmps = json_array(), *ok = json_array();
	char *eps = ek_key(es->prefix, "endpoints/%s/", net->name), path[4096], *k;
	struct etcd_resp r;
	int rc;

	/* only while no host has an endpoint there: one may have attached since we looked */
	json_array_append_new(cmps, etcd_cmp_none_under(eps));
	k = ek_key(es->prefix, "networks/%s", net->name);
	json_array_append_new(ok, etcd_op_delete(k, false));
	free(k);
	k = ek_key(es->prefix, "ipam/%s/", net->name);
	json_array_append_new(ok, etcd_op_delete(k, true));
	free(k);
	if (net->driver == NS_DRIVER_OVERLAY) {
		k = ek_key(es->prefix, "vni/%u", net->vni);
		json_array_append_new(ok, etcd_op_delete(k, false));
		free(k);
	}
	rc = call(es, "/v3/kv/txn", etcd_txn(cmps, ok, NULL), 0, &r, err);
	free(eps);
	if (rc < 0)
		return rc;
	if (!r.succeeded)
		rc = ns_error_set(err, -EBUSY, "network %s has endpoints attached on other hosts; "
				  "detach them there", net->name);
	etcd_resp_free(&r);
	cache_path(es, "networks", net->name, NULL, path, sizeof(path));
	if (rc == 0)
		unlink(path);
	return rc;
}

/* ---- records ---- */

static int etcd_ep_list(struct ns_store *st, const char *network, struct ns_endpoint **out,
			size_t *n, struct ns_error *err)
{
	struct estore *es = es_of(st);
	struct etcd_resp r;
	char *k = ek_key(es->prefix, "endpoints/%s/", network);
	bool snap = snap_get(es, network, k + strlen(es->prefix), &r);
	int rc = snap ? 0 : range(es, k, RANGE_PREFIX, &r, err);

	free(k);
	if (rc < 0)
		return rc;
	*out = xcalloc(r.n_kvs + 1, sizeof(**out));
	*n = 0;
	for (size_t i = 0; i < r.n_kvs; i++) {
		if (parse_record(r.kvs[i].value, &(*out)[*n], NULL) < 0) {
			json_decref((*out)[*n].labels); /* someone else's bad record: skipped */
			memset(&(*out)[*n], 0, sizeof(**out));
			continue;
		}
		(*n)++;
	}
	if (!snap)
		etcd_resp_free(&r);
	return 0;
}

static int etcd_ep_networks(struct ns_store *st, json_t **out, struct ns_error *err)
{
	return names_under(es_of(st), "endpoints/", out, err);
}

static int etcd_ep_get(struct ns_store *st, const char *network, const char *id,
		       struct ns_endpoint **out, struct ns_error *err)
{
	struct estore *es = es_of(st);
	char path[4096 + 256], *k;
	struct etcd_resp r;
	struct ns_endpoint *ep;
	json_t *j;
	int rc;

	/* this host's own first: its copy is there even while the store is away */
	cache_path(es, "endpoints", network, id, path, sizeof(path));
	if ((j = json_load_file(path, 0, NULL))) {
		ep = ns_endpoint_new();
		rc = ns_endpoint_from_json(j, ep, err);
		json_decref(j);
		if (rc < 0) {
			ns_endpoint_free(ep);
			return rc;
		}
		*out = ep;
		return 0;
	}
	k = ek_key(es->prefix, "endpoints/%s/%s", network, id);
	rc = range(es, k, 0, &r, err);
	free(k);
	if (rc < 0)
		return rc;
	if (!r.n_kvs) {
		etcd_resp_free(&r);
		return ns_error_set(err, -ENOENT, "no endpoint %s in network %s", id, network);
	}
	ep = ns_endpoint_new();
	rc = parse_record(r.kvs[0].value, ep, err);
	etcd_resp_free(&r);
	if (rc < 0) {
		ns_endpoint_free(ep);
		return rc;
	}
	*out = ep;
	return 0;
}

static int put_record(struct estore *es, const struct ns_endpoint *ep, struct ns_error *err)
{
	char *k = ek_key(es->prefix, "endpoints/%s/%s", ep->network, ep->id), *v = record_text(ep);
	char path[4096 + 256];
	json_t *j;
	struct etcd_resp r;
	int rc = call(es, "/v3/kv/put",
		      json_pack("{s:o,s:o,s:I}", "key", etcd_b64(k, (size_t)-1), "value",
				etcd_b64(v, (size_t)-1), "lease", (json_int_t)es->lease),
		      0, &r, err);

	free(k);
	free(v);
	if (rc < 0)
		return rc;
	etcd_resp_free(&r);
	cache_path(es, "endpoints", ep->network, ep->id, path, sizeof(path));
	j = ns_endpoint_to_json(ep);
	rc = ns_json_write(path, j, false, err);
	json_decref(j);
	return rc;
}

static int etcd_ep_save(struct ns_store *st, const struct ns_endpoint *ep, struct ns_error *err)
{
	struct estore *es = es_of(st);
	int rc = resolve_node(es, err);

	return rc < 0 ? rc : put_record(es, ep, err);
}

static int etcd_ep_forget(struct ns_store *st, const char *network, const char *id,
			  struct ns_error *err)
{
	struct estore *es = es_of(st);
	char *k = ek_key(es->prefix, "endpoints/%s/%s", network, id), path[4096 + 256];
	struct etcd_resp r;
	int rc = call(es, "/v3/kv/deleterange", etcd_range_req(k, false), 0, &r, err);

	free(k);
	if (rc < 0)
		return rc;
	etcd_resp_free(&r);
	cache_path(es, "endpoints", network, id, path, sizeof(path));
	unlink(path);
	return 0;
}

/* ---- attach ---- */

static int etcd_ep_reserve(struct ns_store *st, const char *network, const char *id,
			   struct ns_error *err)
{
	/* the id is claimed with the addresses, in one transaction (etcd_ep_claim); what this
	 * host is, and its lease, are known first or the attach stops here */
	struct estore *es = es_of(st);
	int rc = resolve_node(es, err);

	return rc < 0 ? rc : snap_load(es, network, err);
}

struct taken {
	char **v;
	size_t n, cap;
	unsigned skip; /* free addresses to pass over: spreads hosts that collided */
};

static bool is_taken(const struct ns_ip *ip, void *arg)
{
	struct taken *t = arg;
	char buf[NS_IP_STRLEN];

	ns_ip_format(ip, buf);
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i], buf))
			return true;
	if (t->skip) {
		t->skip--;
		return true;
	}
	return false;
}

/* Pool p's pick: the lowest free address, or after a conflict (spread) one of the lowest
 * CLAIM_SPREAD free ones at random, as flannel spreads hosts over its free subnets: hosts
 * that all take the lowest keep colliding. */
static int pick(const struct ns_ipam_pool *p, struct taken *t, bool spread, struct ns_ip *out)
{
	unsigned r = 0;

	if (spread && getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = 0;
	t->skip = r % CLAIM_SPREAD;
	if (ns_ipam_pick(p, is_taken, t, out) == 0)
		return 0;
	t->skip = 0; /* fewer free than the spread: the lowest */
	return ns_ipam_pick(p, is_taken, t, out);
}

static void taken_free(struct taken *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
}

/* The addresses held in network net, into t: the attach's snapshot, read again when asked
 * (fresh: after a conflict). */
static int taken_load(struct estore *es, const char *net, bool fresh, struct taken *t,
		      struct ns_error *err)
{
	char *k = ek_key(es->prefix, "ipam/%s/", net);
	size_t klen = strlen(k);
	struct etcd_resp r;
	int rc = fresh || !es->snap.valid ? snap_load(es, net, err) : 0;

	if (rc == 0)
		snap_get(es, net, k + strlen(es->prefix), &r);
	free(k);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < r.n_kvs; i++)
		VEC_PUSH(t->v, t->n, t->cap) = xstrdup(r.kvs[i].key + klen);
	return 0;
}

/* One claim transaction for the record ep (addresses set) and its address keys. */
static json_t *claim_txn(struct estore *es, const struct ns_endpoint *ep, char **kep)
{
	json_t *cmps = json_array(), *ok = json_array(), *fail = json_array();
	char *rec = record_text(ep), *val = ek_ipam_value(ep->id, ep->node, ep->created), ip[64];

	*kep = ek_key(es->prefix, "endpoints/%s/%s", ep->network, ep->id);
	json_array_append_new(cmps, etcd_cmp_absent(*kep));
	json_array_append_new(ok, etcd_op_put(*kep, rec, es->lease));
	json_array_append_new(fail, etcd_op_range(*kep, false));
	for (size_t i = 0; i < ep->n_addrs; i++) {
		char *k = ek_key(es->prefix, "ipam/%s/%s", ep->network,
				 ns_ip_format(&ep->addrs[i].ip, ip));
		json_array_append_new(cmps, etcd_cmp_absent(k));
		json_array_append_new(ok, etcd_op_put(k, val, 0));
		json_array_append_new(fail, etcd_op_range(k, false));
		free(k);
	}
	free(rec);
	free(val);
	return etcd_txn(cmps, ok, fail);
}

/* After a claim that did not answer in time: was it applied? 0 (yes: claim_rev set), or the
 * error to report, with a release queued should it be applied later. */
static int claim_readback(struct estore *es, const struct ns_endpoint *ep, const char *kep,
			  struct ns_error *err)
{
	struct etcd_resp r;
	struct ns_error e2;
	char *rec = record_text(ep);
	int rc = range(es, kep, RANGE_LINEARIZABLE | RANGE_ONCE, &r, &e2);
	bool applied = rc == 0 && r.n_kvs && !strcmp(r.kvs[0].value, rec);

	free(rec);
	if (applied) {
		es->claim_rev = r.kvs[0].mod_rev;
		etcd_resp_free(&r);
		return 0;
	}
	if (rc == 0)
		etcd_resp_free(&r);
	/* etcd may still apply it (a timed-out write is not a failed one): should it, the
	 * agent's release removes it once the store is back */
	ek_release_of(ep, &es->claim);
	ek_pending_add(es->st.state_dir, &es->claim, NULL);
	snprintf(e2.msg, sizeof(e2.msg), "%s", err->msg);
	return ns_error_set(err, -ETIMEDOUT, "%s; re-checked: %s (a release is queued in case it "
			    "is applied later)", e2.msg,
			    rc == 0 ? "not applied" : "the store could not say");
}

/* The failure branch of a claim: which key was taken. 0: a chosen address was (retry); 1:
 * the record is this very claim (an earlier try that did not answer in time was applied:
 * es->claim_rev set); else the error. */
static int claim_conflict(struct estore *es, const struct ns_endpoint *ep, const char *kep,
			  const struct ns_ip *want, const struct etcd_resp *r, struct taken *t,
			  struct ns_error *err)
{
	char buf[NS_IP_STRLEN], *rec = record_text(ep);
	const struct etcd_kv *mine = ek_kv_find(r, kep);
	bool ours = mine && !strcmp(mine->value, rec);

	free(rec);
	if (ours) {
		es->claim_rev = mine->mod_rev;
		return 1;
	}
	for (size_t i = 0; i < r->n_kvs; i++) {
		const char *key = r->kvs[i].key;
		if (!strcmp(key, kep))
			return ns_error_set(err, -EEXIST, "endpoint %s is already attached to network %s",
					    ep->id, ep->network);
		for (size_t k = 0; k < ep->n_addrs; k++) {
			const char *a = strrchr(key, '/') + 1;
			json_t *h;
			if (strcmp(a, ns_ip_format(&ep->addrs[k].ip, buf)))
				continue;
			if (!want[k].family) {
				VEC_PUSH(t->v, t->n, t->cap) = xstrdup(a);
				continue;
			}
			h = json_loads(r->kvs[i].value, 0, NULL);
			ns_error_set(err, -EADDRINUSE, "address %s is already in use by %s", a,
				     json_string_value(json_object_get(h, "owner")) ?: "another endpoint");
			json_decref(h);
			return -EADDRINUSE;
		}
	}
	return 0;
}

static int etcd_ep_claim(struct ns_store *st, const struct ns_network *net, struct ns_endpoint *ep,
			 const struct ns_ip *wanted, size_t n_wanted, struct ns_error *err)
{
	struct estore *es = es_of(st);
	struct ns_ip want[NS_MAX_SUBNETS], got[NS_MAX_SUBNETS];
	struct taken t = { 0 };
	char pbuf[NS_PREFIX_STRLEN];
	int rc;

	if ((rc = ns_ipam_wanted(net->pools, net->n_pools, wanted, n_wanted, want, err)) < 0)
		return rc;
	snprintf(ep->node, sizeof(ep->node), "%s", es->node);
	es->claim_rev = 0;
	if (net->n_pools && (rc = taken_load(es, net->name, false, &t, err)) < 0)
		return rc;
	for (int try = 0; try < CLAIM_TRIES; try++) {
		struct etcd_resp r;
		char *kep;
		int c;
		for (size_t i = 0; i < net->n_pools; i++) {
			got[i] = want[i];
			if (!got[i].family && pick(&net->pools[i], &t, try > 0, &got[i]) < 0) {
				rc = ns_error_set(err, -ENOSPC, "no free address left in %s",
						  ns_prefix_format(&net->pools[i].range, pbuf));
				goto out;
			}
		}
		ns_endpoint_set_addrs(ep, net, got);
		rc = call(es, "/v3/kv/txn", claim_txn(es, ep, &kep), 0, &r, err);
		if (rc == -ENOENT && try == 0 && (es->lease = 0, (rc = lease_from_store(es, err)) == 0)) {
			free(kep); /* the agent renewed its lease since it wrote agent.json */
			continue;
		}
		if (rc == -ETIMEDOUT)
			rc = claim_readback(es, ep, kep, err);
		if (rc == 0 && !es->claim_rev && r.succeeded)
			es->claim_rev = r.revision;
		else if (rc == 0 && !es->claim_rev && (c = claim_conflict(es, ep, kep, want, &r, &t, err)) < 0)
			rc = c;
		etcd_resp_free(&r);
		free(kep);
		if (rc < 0 || es->claim_rev)
			goto out;
		/* others are claiming too: what they took since the list */
		taken_free(&t);
		memset(&t, 0, sizeof(t));
		if (net->n_pools && (rc = taken_load(es, net->name, true, &t, err)) < 0)
			goto out;
	}
	rc = ns_error_set(err, -EAGAIN, "no address claimed in network %s after %d conflicts with "
			  "other hosts", net->name, CLAIM_TRIES);
out:
	taken_free(&t);
	if (rc == 0) {
		ek_release_of(ep, &es->claim);
		free(es->claim_text);
		es->claim_text = record_text(ep);
	}
	return rc;
}

/* Writes this host's copies: the record (what policyd reads for local pods) and the
 * definition it was attached to (what a detach needs while the store is away). */
static int cache_write(struct estore *es, const struct ns_network *net,
		       const struct ns_endpoint *ep, struct ns_error *err)
{
	char path[4096 + 256];
	json_t *j;
	bool same;
	int rc;

	cache_path(es, "networks", net->name, NULL, path, sizeof(path));
	j = json_load_file(path, 0, NULL);
	/* a definition never changes once created; one of the same name made again has a new id */
	same = j && !strcmp(json_string_value(json_object_get(j, "id")) ?: "", net->id);
	json_decref(j);
	if (!same) {
		j = ns_network_to_json(net);
		rc = ns_json_write(path, j, false, err);
		json_decref(j);
		if (rc < 0)
			return rc;
	}
	cache_path(es, "endpoints", ep->network, ep->id, path, sizeof(path));
	j = ns_endpoint_to_json(ep);
	rc = ns_json_write(path, j, false, err);
	json_decref(j);
	return rc;
}

static int etcd_ep_commit(struct ns_store *st, const struct ns_network *net,
			  const struct ns_endpoint *ep, struct ns_error *err)
{
	struct estore *es = es_of(st);
	char *k, *v = record_text(ep);
	json_t *cmps, *ok;
	struct etcd_resp r;
	int rc;

	snap_drop(es);
	if (es->claim_text && !strcmp(v, es->claim_text)) {
		/* the claim wrote the whole record (driver.h, prepare): nothing more to say */
		free(v);
		es->claim_rev = 0;
		return cache_write(es, net, ep, err);
	}
	k = ek_key(es->prefix, "endpoints/%s/%s", ep->network, ep->id);
	cmps = json_array();
	ok = json_array();
	/* the complete record replaces the claim, as long as it is still ours */
	json_array_append_new(cmps, etcd_cmp_mod(k, es->claim_rev));
	json_array_append_new(ok, etcd_op_put(k, v, es->lease));
	rc = call(es, "/v3/kv/txn", etcd_txn(cmps, ok, NULL), 0, &r, err);
	if (rc == -ETIMEDOUT || (rc == 0 && !r.succeeded)) {
		/* an earlier try may have been applied (then this one's compare failed) */
		struct ns_error e2;
		etcd_resp_free(&r);
		if (range(es, k, RANGE_LINEARIZABLE | RANGE_ONCE, &r, &e2) == 0 && r.n_kvs &&
		    !strcmp(r.kvs[0].value, v))
			rc = 0, r.succeeded = true;
	}
	if (rc == 0 && !r.succeeded)
		rc = ns_error_set(err, -ESTALE, "the claim of endpoint %s in network %s was removed "
				  "meanwhile", ep->id, ep->network);
	etcd_resp_free(&r);
	free(k);
	free(v);
	if (rc == 0) {
		es->claim_rev = 0;
		rc = cache_write(es, net, ep, err);
	}
	return rc;
}

/* Sends a release: read what still names the endpoint, delete that. */
static int release_now(struct estore *es, const struct ek_release *rel, struct ns_error *err)
{
	struct etcd_resp r;
	json_t *txn;
	/* no patience: a detach is done here at once, and queues what the store cannot take */
	int rc = call(es, "/v3/kv/txn", ek_release_read(es->prefix, rel), ETCD_READ | CALL_ONCE, &r,
		      err);

	if (rc < 0)
		return rc;
	txn = ek_release_txn(es->prefix, rel, &r);
	etcd_resp_free(&r);
	if (!txn)
		return 0;
	rc = call(es, "/v3/kv/txn", txn, CALL_ONCE, &r, err);
	/* a change in between (the record rewritten by the agent) fails it: the next release
	 * of the queue, or gc, takes what is left */
	etcd_resp_free(&r);
	return rc;
}

static void etcd_ep_abort(struct ns_store *st, const struct ns_network *net,
			  const struct ns_endpoint *ep)
{
	struct estore *es = es_of(st);
	struct ns_error e;

	snap_drop(es);
	if (!es->claim_rev)
		return;
	es->claim_rev = 0;
	if (ns_store_unavailable(release_now(es, &es->claim, &e)))
		ek_pending_add(es->st.state_dir, &es->claim, NULL);
}

static int etcd_ep_release(struct ns_store *st, const struct ns_network *net,
			   const struct ns_endpoint *ep, struct ns_error *err)
{
	struct estore *es = es_of(st);
	struct ek_release rel;
	char path[4096 + 256], why[512];
	int rc;

	ek_release_of(ep, &rel);
	rc = release_now(es, &rel, err);
	if (ns_store_unavailable(rc)) {
		/* the interface is gone already: the detach is done here, its release waits */
		snprintf(why, sizeof(why), "%s", err->msg);
		if ((rc = ek_pending_add(es->st.state_dir, &rel, err)) < 0)
			return rc;
		ns_error_set(err, 1, "%s; the release of endpoint %s is queued and is sent when the "
			     "store is back", why, ep->id);
		rc = 1;
	}
	if (rc < 0)
		return rc;
	cache_path(es, "endpoints", ep->network, ep->id, path, sizeof(path));
	unlink(path);
	return rc;
}

/* ---- gc: the addresses of hosts that are gone ---- */

/* When node's lease was seen expired (gone/NODE), or 0 when never: then noted as now. */
static time_t gone_since(struct estore *es, const struct etcd_resp *r, const char *node,
			 time_t now)
{
	char *k = ek_key(es->prefix, "gone/%s", node), since[64];
	const struct etcd_kv *kv = ek_kv_find(r, k);
	struct etcd_resp w;
	time_t t = 0;

	if (kv) {
		json_t *j = json_loads(kv->value, 0, NULL);
		t = (time_t)json_integer_value(json_object_get(j, "since"));
		json_decref(j);
	} else {
		json_t *cmps = json_array(), *ok = json_array();
		snprintf(since, sizeof(since), "{\"since\":%lld}", (long long)now);
		json_array_append_new(cmps, etcd_cmp_absent(k));
		json_array_append_new(ok, etcd_op_put(k, since, 0));
		if (call(es, "/v3/kv/txn", etcd_txn(cmps, ok, NULL), 0, &w, NULL) == 0)
			etcd_resp_free(&w);
	}
	free(k);
	return t;
}

/* One address key: released when its owner's record is gone and its host has been gone for
 * the grace. Adds what it decided to report. */
static void gc_one(struct estore *es, const struct etcd_resp *r, const struct etcd_kv *kv,
		   size_t ipam_len, long grace_s, time_t now, json_t *report)
{
	json_t *v = json_loads(kv->value, 0, NULL);
	const char *owner = json_string_value(json_object_get(v, "owner"));
	const char *node = json_string_value(json_object_get(v, "node"));
	const char *rest = kv->key + ipam_len, *slash = strchr(rest, '/');
	char net[64], why[256], *k;
	bool released = false;
	time_t since;

	if (!owner || !node || !slash || slash - rest >= (long)sizeof(net))
		goto out;
	snprintf(net, sizeof(net), "%.*s", (int)(slash - rest), rest);
	k = ek_key(es->prefix, "endpoints/%s/%s", net, owner);
	if (ek_kv_find(r, k)) { /* attached: not ours to judge */
		free(k);
		goto out;
	}
	free(k);
	k = ek_key(es->prefix, "nodes/%s", node);
	if (ek_kv_find(r, k)) {
		snprintf(why, sizeof(why), "no record, but host %s is alive: its agent releases it", node);
	} else if (!(since = gone_since(es, r, node, now))) {
		snprintf(why, sizeof(why), "host %s is gone (noted now): released by a gc after %lds",
			 node, grace_s);
	} else if (now - since < grace_s) {
		snprintf(why, sizeof(why), "host %s gone for %llds, under the grace of %lds", node,
			 (long long)(now - since), grace_s);
	} else {
		json_t *cmps = json_array(), *ok = json_array();
		struct etcd_resp w;
		json_array_append_new(cmps, etcd_cmp_mod(kv->key, kv->mod_rev));
		json_array_append_new(ok, etcd_op_delete(kv->key, false));
		released = call(es, "/v3/kv/txn", etcd_txn(cmps, ok, NULL), 0, &w, NULL) == 0 &&
			   w.succeeded;
		etcd_resp_free(&w);
		snprintf(why, sizeof(why), "host %s gone for %llds", node, (long long)(now - since));
	}
	free(k);
	json_array_append_new(report, json_pack("{s:s,s:s,s:s,s:s,s:b,s:s}", "network", net,
						"address", slash + 1, "owner", owner, "node", node,
						"released", released, "why", why));
out:
	json_decref(v);
}

static int etcd_gc(struct ns_store *st, const char *network, long grace_s, json_t *report,
		   struct ns_error *err)
{
	struct estore *es = es_of(st);
	static const char *const subs[] = { "ipam/", "endpoints/", "nodes/", "gone/" };
	json_t *ops = json_array();
	char *ipam = network ? ek_key(es->prefix, "ipam/%s/", network) : ek_key(es->prefix, "ipam/");
	size_t ipam_len = strlen(es->prefix) + strlen("ipam/");
	struct etcd_resp r;
	time_t now = time(NULL);
	int rc;

	/* everything at one revision: an address is judged against the records of that moment */
	json_array_append_new(ops, etcd_op_range(ipam, true));
	for (size_t i = 1; i < 4; i++) {
		char *k = ek_key(es->prefix, "%s", subs[i]);
		json_array_append_new(ops, etcd_op_range(k, true));
		free(k);
	}
	rc = call(es, "/v3/kv/txn", etcd_txn(json_array(), ops, NULL), ETCD_READ, &r, err);
	if (rc == 0) {
		for (size_t i = 0; i < r.n_kvs; i++)
			if (!strncmp(r.kvs[i].key, ipam, strlen(ipam)))
				gc_one(es, &r, &r.kvs[i], ipam_len, grace_s, now, report);
		etcd_resp_free(&r);
	}
	free(ipam);
	return rc;
}

/* ---- Kubernetes objects (netpol store) ---- */

static int etcd_obj_put(struct ns_store *st, const char *name, const char *json,
			struct ns_error *err)
{
	struct estore *es = es_of(st);
	char *k = ek_key(es->prefix, "objects/%s", name);
	struct etcd_resp r;
	int rc = call(es, "/v3/kv/put",
		      json_pack("{s:o,s:o}", "key", etcd_b64(k, (size_t)-1), "value",
				etcd_b64(json, (size_t)-1)), 0, &r, err);

	free(k);
	etcd_resp_free(&r);
	return rc;
}

static int etcd_obj_del(struct ns_store *st, const char *name, struct ns_error *err)
{
	struct estore *es = es_of(st);
	char *k = ek_key(es->prefix, "objects/%s", name);
	struct etcd_resp r;
	int rc = call(es, "/v3/kv/deleterange", etcd_range_req(k, false), 0, &r, err);

	free(k);
	if (rc == 0 && !r.deleted)
		rc = ns_error_set(err, -ENOENT, "no object %s in the store", name);
	etcd_resp_free(&r);
	return rc;
}

static int etcd_obj_list(struct ns_store *st, json_t **out, struct ns_error *err)
{
	struct estore *es = es_of(st);
	char *k = ek_key(es->prefix, "objects/");
	size_t klen = strlen(k);
	struct etcd_resp r;
	int rc = range(es, k, RANGE_PREFIX | RANGE_LINEARIZABLE, &r, err);

	free(k);
	if (rc < 0)
		return rc;
	*out = json_object();
	for (size_t i = 0; i < r.n_kvs; i++) {
		json_t *j = json_loads(r.kvs[i].value, 0, NULL);
		json_object_set_new(*out, r.kvs[i].key + klen, j ? j : json_null());
	}
	etcd_resp_free(&r);
	return 0;
}

/* ---- hosts ---- */

static int etcd_node_addrs(struct ns_store *st, struct ns_ip *out, size_t max, size_t *n,
			   struct ns_error *err)
{
	struct estore *es = es_of(st);
	struct etcd_resp r;
	char *k = ek_key(es->prefix, "nodes/");
	bool snap = snap_get(es, NULL, "nodes/", &r);
	int rc = snap ? 0 : range(es, k, RANGE_PREFIX, &r, err);

	free(k);
	*n = 0;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < r.n_kvs && *n < max; i++) {
		json_t *j = json_loads(r.kvs[i].value, 0, NULL);
		const char *a = json_string_value(json_object_get(j, "host_addr"));
		if (a && ns_ip_parse(a, &out[*n]) == 0)
			(*n)++;
		json_decref(j);
	}
	if (!snap)
		etcd_resp_free(&r);
	return 0;
}

static void etcd_describe(struct ns_store *st, json_t *out)
{
	struct estore *es = es_of(st);

	json_object_set_new(out, "Backend", json_string("etcd"));
	json_object_set_new(out, "Endpoints", json_string(etcd_url(es->e)));
	json_object_set_new(out, "Prefix", json_string(es->prefix));
	json_object_set_new(out, "StateDir", json_string(st->state_dir));
}

static void etcd_free_store(struct ns_store *st)
{
	struct estore *es = es_of(st);

	etcd_free(es->e);
	snap_drop(es);
	free(es->claim_text);
	free(es->prefix);
	free(st->state_dir);
	free(es);
}

static const struct ns_store_ops etcd_ops = {
	.name = "etcd",
	.free = etcd_free_store,
	.net_get = etcd_net_get,
	.net_names = etcd_net_names,
	.net_reserve = etcd_net_reserve,
	.net_commit = etcd_net_commit,
	.net_unreserve = etcd_net_unreserve,
	.net_delete = etcd_net_delete,
	.ep_list = etcd_ep_list,
	.ep_networks = etcd_ep_networks,
	.ep_get = etcd_ep_get,
	.ep_save = etcd_ep_save,
	.ep_forget = etcd_ep_forget,
	.ep_reserve = etcd_ep_reserve,
	.ep_claim = etcd_ep_claim,
	.ep_commit = etcd_ep_commit,
	.ep_abort = etcd_ep_abort,
	.ep_release = etcd_ep_release,
	.node_addrs = etcd_node_addrs,
	.describe = etcd_describe,
	.gc = etcd_gc,
	.obj_put = etcd_obj_put,
	.obj_del = etcd_obj_del,
	.obj_list = etcd_obj_list,
};

int ns_store_etcd_open(const char *state_dir, const struct ns_store_conf *conf, bool readonly,
		       struct ns_store **out, struct ns_error *err)
{
	struct estore *es = xcalloc(1, sizeof(*es));
	const char *prefix = conf->prefix && *conf->prefix ? conf->prefix : NS_STORE_PREFIX;
	const char *t = getenv("NETPOL_STORE_TIMEOUT_MS");
	int rc;

	es->st.ops = &etcd_ops;
	es->st.state_dir = xstrdup(state_dir);
	/* keys are PREFIX/kind/...: a prefix without its closing slash gets one */
	es->prefix = prefix[strlen(prefix) - 1] == '/' ? xstrdup(prefix) : xasprintf("%s/", prefix);
	if (conf->node)
		snprintf(es->node, sizeof(es->node), "%s", conf->node);
	if ((rc = etcd_new(conf->url, &es->e, err)) < 0) {
		etcd_free_store(&es->st);
		return rc;
	}
	etcd_set_timeouts(es->e, 1000, t && atol(t) > 0 ? atol(t) : REQUEST_MS);
	if (!readonly && access(state_dir, F_OK) < 0 && mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		etcd_free_store(&es->st);
		return ns_error_set(err, rc, "state directory %s: %s", state_dir, strerror(-rc));
	}
	*out = &es->st;
	return 0;
}
