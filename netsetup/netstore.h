/* netstore.h — where network definitions, address leases and endpoint records live: one table
 * of operations per backend, as drivers have theirs (driver.h). network.c calls these and
 * never asks which backend it holds.
 *
 *   dir   the state directory (netstore_dir.c): files under flock, the single-machine default.
 *         Hosts sharing a directory share a store.
 *   etcd  etcd v3 (netstore_etcd.c, etcd.h): many hosts. Allocation is one transaction,
 *         endpoint records carry their host's lease, hosts learn of each other by watch
 *         (agent.h). The state directory then holds this host's own part only: a copy of its
 *         endpoint records and of the definitions they use (what policyd reads for local
 *         pods, and what a detach needs while the store is away), the local agent's
 *         registration, and releases queued while the store was away.
 *
 * Errors every etcd operation may return, besides its own: -EHOSTUNREACH (no endpoint could
 * take the request: nothing happened) and -ETIMEDOUT (a write's outcome is unknown). */
#ifndef NETSETUP_NETSTORE_H
#define NETSETUP_NETSTORE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "network.h"

#define NS_STORE_PREFIX "/netpol/"

/* Which store, as the user chose it (--store, --store-prefix, --node). */
struct ns_store_conf {
	const char *url;    /* "etcd://H:P[,H:P...]"; NULL or "": the state directory itself */
	const char *prefix; /* etcd keys start with it; NULL: NS_STORE_PREFIX */
	const char *node;   /* this host's node name; NULL: the local agent's (agent.h) */
};

struct ns_store {
	const struct ns_store_ops *ops;
	char *state_dir;
};

/* Contract of each operation, written once. Records (struct ns_endpoint) and definitions are
 * netsetup's JSON forms (ns_*_to_json). An empty record or definition is a reservation: an
 * attach or create in progress, or interrupted.
 *  net_get      — the definition; -ENOENT when there is none.
 *  net_names    — names of all networks, sorted (JSON array of strings).
 *  net_reserve  — claims a new name (-EEXIST when taken) before the node side is made;
 *                 net_commit stores the definition, net_unreserve gives the name back.
 *  net_delete   — removes the definition, its leases and its (already detached) records;
 *                 -EBUSY when another host attached one meanwhile.
 *  ep_list      — every record of a network (every host's).
 *  ep_networks  — names of the networks with records, defined or not (chained CNI).
 *  ep_get/save/forget — one record (netpol-cni's own records).
 *  ep_reserve   — claims the endpoint id in a network (-EEXIST: attached already).
 *  ep_claim     — leases one address from each pool, all or nothing (wanted: static
 *                 requests), and sets ep->addrs and ep->gateways; on etcd the record claims
 *                 its id in the same transaction.
 *  ep_commit    — stores the complete record of an attach.
 *  ep_abort     — undoes ep_reserve and ep_claim of an attach that failed.
 *  ep_release   — forgets a detached endpoint's record and leases. 1: the store was away,
 *                 the release is queued and is sent when it returns (err says so).
 *  node_addrs   — underlay addresses of the hosts registered in the store (overlay peers);
 *                 none for a directory.
 *  describe     — the store's part of `netpol net inspect` ("Store").
 *  gc           — releases the addresses of endpoints whose host is gone: its lease expired
 *                 at least grace_s ago (or first seen gone now: noted, released by a later
 *                 gc); network NULL: every network. report gets one object per address
 *                 looked at ({"network","address","owner","node","released","why"}).
 *                 Nothing to do for a directory (its leases go with detach).
 *  obj_put/obj_del/obj_list — Kubernetes objects kept in the store for every host's policyd
 *                 (`netpol store`), named "NAMESPACE/KIND/NAME" ("_cluster" for cluster-scoped
 *                 kinds); obj_list gives {name: object}. -EOPNOTSUPP for a directory. */
struct ns_store_ops {
	const char *name;
	void (*free)(struct ns_store *st);
	int (*net_get)(struct ns_store *st, const char *name, json_t **out, struct ns_error *err);
	int (*net_names)(struct ns_store *st, json_t **out, struct ns_error *err);
	int (*net_reserve)(struct ns_store *st, const struct ns_network *net, struct ns_error *err);
	int (*net_commit)(struct ns_store *st, const struct ns_network *net, struct ns_error *err);
	void (*net_unreserve)(struct ns_store *st, const struct ns_network *net);
	int (*net_delete)(struct ns_store *st, const struct ns_network *net, struct ns_error *err);
	int (*ep_list)(struct ns_store *st, const char *network, struct ns_endpoint **out,
		       size_t *n, struct ns_error *err);
	int (*ep_networks)(struct ns_store *st, json_t **out, struct ns_error *err);
	int (*ep_get)(struct ns_store *st, const char *network, const char *id,
		      struct ns_endpoint **out, struct ns_error *err);
	int (*ep_save)(struct ns_store *st, const struct ns_endpoint *ep, struct ns_error *err);
	int (*ep_forget)(struct ns_store *st, const char *network, const char *id,
			 struct ns_error *err);
	int (*ep_reserve)(struct ns_store *st, const char *network, const char *id,
			  struct ns_error *err);
	int (*ep_claim)(struct ns_store *st, const struct ns_network *net, struct ns_endpoint *ep,
			const struct ns_ip *wanted, size_t n_wanted, struct ns_error *err);
	int (*ep_commit)(struct ns_store *st, const struct ns_network *net,
			 const struct ns_endpoint *ep, struct ns_error *err);
	void (*ep_abort)(struct ns_store *st, const struct ns_network *net,
			 const struct ns_endpoint *ep);
	int (*ep_release)(struct ns_store *st, const struct ns_network *net,
			  const struct ns_endpoint *ep, struct ns_error *err);
	int (*node_addrs)(struct ns_store *st, struct ns_ip *out, size_t max, size_t *n,
			  struct ns_error *err);
	void (*describe)(struct ns_store *st, json_t *out);
	int (*gc)(struct ns_store *st, const char *network, long grace_s, json_t *report,
		  struct ns_error *err);
	int (*obj_put)(struct ns_store *st, const char *name, const char *json,
		       struct ns_error *err);
	int (*obj_del)(struct ns_store *st, const char *name, struct ns_error *err);
	int (*obj_list)(struct ns_store *st, json_t **out, struct ns_error *err);
};

/* Opens the store conf names for state_dir (created unless readonly). */
int ns_store_open(const char *state_dir, const struct ns_store_conf *conf, bool readonly,
		  struct ns_store **out, struct ns_error *err);
void ns_store_free(struct ns_store *st);

/* The backends' constructors (netstore_dir.c, netstore_etcd.c). */
int ns_store_dir_open(const char *state_dir, bool readonly, struct ns_store **out,
		      struct ns_error *err);
int ns_store_etcd_open(const char *state_dir, const struct ns_store_conf *conf, bool readonly,
		       struct ns_store **out, struct ns_error *err);

/* Whether rc (an operation's error) means the store could not be reached or has no quorum
 * (or a write's outcome is unknown): what `netpol` reports with its own exit status. */
bool ns_store_unavailable(int rc);

/* ---- shared by the backends ---- */

/* Sets ep's addresses (pool i's length) and gateways from got[i], one per pool. */
void ns_endpoint_set_addrs(struct ns_endpoint *ep, const struct ns_network *net,
			   const struct ns_ip *got);
/* Writes j to path whole (temporary + rename) and, with durable, fsync'ed; creating the
 * directories above it with mode 0700 when missing. */
int ns_json_write(const char *path, json_t *j, bool durable, struct ns_error *err);

#endif
