/* endpoints.c — see endpoints.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "endpoints.h"
#include "hash.h"
#include "inventory.h"
#include "netstore.h"
#include "network.h"

static void to_addr(const struct ns_ip *ip, struct np_addr *out)
{
	memset(out, 0, sizeof(*out));
	out->family = ip->family == AF_INET ? 4 : 6;
	memcpy(out->b, ip->a, ip->family == AF_INET ? 4 : 16);
}

static const char *node_of(const struct np_inventory *inv, const struct ns_ip *host)
{
	if (!host->family)
		return NULL;
	struct np_addr a;
	to_addr(host, &a);
	for (size_t i = 0; i < inv->n_nodes; i++)
		for (size_t j = 0; j < inv->nodes[i].n_addrs; j++)
			if (!np_addr_cmp(&inv->nodes[i].addrs[j], &a))
				return inv->nodes[i].name;
	return NULL;
}

static void fill_from(struct np_inventory *inv, struct np_pod *pod, const struct ns_endpoint *ep)
{
	struct np_arena *a = inv->arena;
	if (pod->n_ips == 0 && ep->n_addrs) {
		pod->ips = np_arena_alloc(a, ep->n_addrs * sizeof(*pod->ips));
		for (size_t i = 0; i < ep->n_addrs; i++)
			to_addr(&ep->addrs[i].ip, &pod->ips[pod->n_ips++]);
	}
	if (!pod->host_if && ep->host_ifname[0])
		pod->host_if = np_arena_strdup(a, ep->host_ifname);
	pod->attach = np_arena_strdup(a, ep->driver);
	if (ep->netns[0])
		pod->netns = np_arena_strdup(a, ep->netns);
	if (!strcmp(ep->driver, "host"))
		pod->host_network = true;
}

static void new_pod(struct np_inventory *inv, const struct ns_endpoint *ep)
{
	struct np_arena *a = inv->arena;
	struct np_pod *pod = np_inventory_add_pod(inv);
	pod->ns = np_arena_strdup(a, ep->pod_ns);
	pod->name = np_arena_strdup(a, ep->pod_name);
	pod->node = ep->node[0] ? np_arena_strdup(a, ep->node) : node_of(inv, &ep->host);
	size_t n = ep->labels ? json_object_size(ep->labels) : 0;
	pod->labels.v = np_arena_alloc(a, (n + 1) * sizeof(*pod->labels.v));
	const char *k;
	json_t *v;
	if (ep->labels)
		json_object_foreach(ep->labels, k, v) {
			if (!json_is_string(v))
				continue;
			pod->labels.v[pod->labels.n].key = np_arena_strdup(a, k);
			pod->labels.v[pod->labels.n++].value = np_arena_strdup(a, json_string_value(v));
		}
	np_labels_sort(&pod->labels);
	fill_from(inv, pod, ep);
}

/* Why the record's pod cannot enter the model (its names are not ones a Pod object could have:
 * the parser never lets such a name through, and they name chains and set elements in the
 * ruleset's text, where a quote or a space would break it), or NULL. why holds the text.
 * Labels are taken as they are (a runtime may pass any, podman an image's): no selector can
 * name an invalid one, and they reach the text only in comments, which are sanitized. */
static const char *record_invalid(const struct ns_endpoint *ep, char *why, size_t size)
{
	const char *w;
	if ((w = np_check_dns_label(ep->pod_ns)))
		snprintf(why, size, "pod namespace \"%s\" %s", ep->pod_ns, w);
	else if ((w = np_check_container_name(ep->pod_name)))
		snprintf(why, size, "pod name \"%s\" %s", ep->pod_name, w);
	else if (ep->host_ifname[0] && (w = np_check_ifname(ep->host_ifname)))
		snprintf(why, size, "host interface \"%s\" %s", ep->host_ifname, w);
	return w ? why : NULL;
}

static struct np_pod *find_pod(struct np_inventory *inv, size_t n_loaded, const char *ns,
			       const char *name)
{
	struct np_inventory loaded = *inv;
	loaded.n_pods = n_loaded;
	const struct np_pod *p = np_inventory_pod(&loaded, ns, name);
	if (p)
		return &inv->pods[p - inv->pods];
	for (size_t i = n_loaded; i < inv->n_pods; i++)
		if (!strcmp(inv->pods[i].ns, ns) && !strcmp(inv->pods[i].name, name))
			return &inv->pods[i];
	return NULL;
}

enum { MERGE_LEFT_OUT = -1, MERGE_FILLED, MERGE_ADDED };

/* Merges one record into inv (whose first n_loaded pods are sorted): MERGE_ADDED when it added
 * a pod, MERGE_LEFT_OUT (with a warning in notes) when its names cannot be a pod's. */
static int merge_one(struct np_inventory *inv, size_t n_loaded, const struct ns_endpoint *ep,
		     struct np_diags *notes)
{
	char why[512];
	if (record_invalid(ep, why, sizeof(why))) {
		if (notes)
			np_diag_add(notes, NP_SEV_WARNING, NULL, 0, NULL, 0, 0,
				    "endpoint record %s/%s: %s: its pod is left out", ep->network,
				    ep->id, why);
		return MERGE_LEFT_OUT;
	}
	struct np_pod *p = find_pod(inv, n_loaded, ep->pod_ns, ep->pod_name);
	if (p) {
		fill_from(inv, p, ep);
		return MERGE_FILLED;
	}
	new_pod(inv, ep);
	return MERGE_ADDED;
}

void endpoints_merge_records(struct np_inventory *inv, const struct ns_endpoint *const *v,
			     size_t n, struct np_diags *notes)
{
	const size_t n_loaded = inv->n_pods;
	bool added = false;
	for (size_t i = 0; i < n; i++)
		if (v[i]->pod_ns[0] && v[i]->pod_name[0])
			added |= merge_one(inv, n_loaded, v[i], notes) == MERGE_ADDED;
	if (added) /* pods sorted again, namespaces named only by records added */
		np_inventory_finish_tail(inv, n_loaded);
}

static uint64_t ip_hash(const struct ns_ip *ip, uint64_t h)
{
	struct np_addr a = { 0 };
	if (ip->family)
		to_addr(ip, &a);
	return np_hash(&a, sizeof(a), h);
}

/* What a record brings into the model, hashed: the fields new_pod and fill_from take (and its
 * name, so two records of one pod count twice). */
static uint64_t record_hash(const struct ns_endpoint *ep)
{
	uint64_t h = NP_HASH_INIT;
	const char *strs[] = { ep->network, ep->id, ep->driver, ep->netns, ep->host_ifname,
			       ep->pod_ns, ep->pod_name, ep->node };
	for (size_t i = 0; i < sizeof(strs) / sizeof(*strs); i++)
		h = np_hash(strs[i], strlen(strs[i]) + 1, h);
	for (size_t i = 0; i < ep->n_addrs; i++)
		h = ip_hash(&ep->addrs[i].ip, h);
	h = ip_hash(&ep->host, h);
	char *labels = ep->labels ? json_dumps(ep->labels, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	if (labels)
		h = np_hash(labels, strlen(labels) + 1, h);
	free(labels);
	return h;
}

/* The digest so far, with ep next: chained in the walk's order (network, then record file
 * name), which the merge depends on (the first record of a pod gives its labels). */
static uint64_t digest_step(uint64_t h, const struct ns_endpoint *ep)
{
	uint64_t r = record_hash(ep);
	return np_hash(&r, sizeof(r), h);
}

/* Every record under state_dir (or the store) that names a pod, through fn, in the same order
 * every time for the same records. Returns 0 or -errno with err set. */
typedef void record_fn(void *arg, const struct ns_endpoint *ep);

static int each_record(const char *state_dir, const struct ns_store_conf *store, record_fn *fn,
		       void *arg, char *err, size_t errlen)
{
	struct ns_error e = { { 0 } };
	/* only reads records: a render must not create the state directory or open sockets */
	struct ns_ctx *ctx = ns_ctx_open(state_dir, store, true, &e);
	if (!ctx) {
		snprintf(err, errlen, "%s", e.msg);
		return -EINVAL;
	}
	json_t *names = NULL;
	/* every network with records, defined here or not: a chained CNI plugin records the
	 * pods of a network netsetup never created */
	int rc = ns_endpoint_networks(ctx, &names, &e);
	if (rc < 0) {
		snprintf(err, errlen, "%s %s: %s", store && store->url ? "store" : "state directory",
			 store && store->url ? store->url : state_dir, e.msg);
		ns_ctx_free(ctx);
		return rc;
	}
	size_t i;
	json_t *name;
	json_array_foreach(names, i, name) {
		struct ns_endpoint *eps = NULL;
		size_t n = 0;
		rc = ns_endpoints_load(ctx, json_string_value(name), &eps, &n, &e);
		if (rc < 0) {
			snprintf(err, errlen, "network %s: %s", json_string_value(name), e.msg);
			break;
		}
		for (size_t j = 0; j < n; j++)
			if (eps[j].pod_ns[0] && eps[j].pod_name[0])
				fn(arg, &eps[j]);
		ns_endpoints_free(eps, n);
	}
	json_decref(names);
	ns_ctx_free(ctx);
	return rc < 0 ? rc : 0;
}

struct merge_walk {
	struct np_inventory *inv;
	size_t n_loaded;
	struct np_diags *notes;
	int merged;
	bool added;
	uint64_t digest;
};

static void merge_cb(void *arg, const struct ns_endpoint *ep)
{
	struct merge_walk *w = arg;
	int m = merge_one(w->inv, w->n_loaded, ep, w->notes);
	w->added |= m == MERGE_ADDED;
	w->merged += m != MERGE_LEFT_OUT;
	w->digest = digest_step(w->digest, ep);
}

static void digest_cb(void *arg, const struct ns_endpoint *ep)
{
	*(uint64_t *)arg = digest_step(*(uint64_t *)arg, ep);
}

int endpoints_merge(struct np_inventory *inv, const char *state_dir, struct np_diags *notes,
		    char *err, size_t errlen)
{
	return endpoints_merge_from(inv, state_dir, NULL, notes, NULL, err, errlen);
}

int endpoints_merge_from(struct np_inventory *inv, const char *state_dir,
			 const struct ns_store_conf *store, struct np_diags *notes,
			 uint64_t *digest, char *err, size_t errlen)
{
	/* lookups must only see the sorted pods loaded from files: pods appended here are found
	 * by a linear scan of the tail until np_inventory_finish sorts everything again */
	struct merge_walk w = { .inv = inv, .n_loaded = inv->n_pods, .notes = notes,
				.digest = NP_HASH_INIT };
	int rc = each_record(state_dir, store, merge_cb, &w, err, errlen);
	if (w.added)
		np_inventory_finish_tail(inv, w.n_loaded);
	if (digest)
		*digest = w.digest;
	return rc < 0 ? rc : w.merged;
}

int endpoints_digest(const char *state_dir, uint64_t *digest, char *err, size_t errlen)
{
	*digest = NP_HASH_INIT;
	return each_record(state_dir, NULL, digest_cb, digest, err, errlen);
}
