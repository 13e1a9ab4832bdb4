/* netstore_etcd.h — the etcd store's key layout, and what the backend (netstore_etcd.c) and
 * the host's agent (agent.c) share (netstore_etcd_keys.c). Inside netsetup only.
 *
 * Keys, under the prefix (--store-prefix, default /netpol/); values are JSON:
 *   networks/NAME            the definition (as networks/NAME.json)        no lease
 *   vni/N                    the overlay network that holds VNI N           no lease
 *   ipam/NAME/ADDR           {"owner":ID,"node":NODE,"created":T}           no lease
 *   endpoints/NAME/ID        the record (as endpoints/NAME/ID.json)         its host's lease
 *   nodes/NODE               {"name","host_addr","agent","since"}           its own lease
 *   gone/NODE                {"since":T}: when the node's lease expired     no lease
 *   objects/NS/KIND/NAME     a Kubernetes object (netpol store put)         no lease
 * An allocation is one transaction: create-if-absent on the endpoint key and on every address
 * key, all or nothing. Addresses carry no lease: when a host dies its endpoints leave every
 * other host with its lease, but its addresses stay taken until `netpol net gc` releases them
 * after a grace (never reused on their own, which across a partition would mean duplicates).
 *
 * The state directory (this host's part): endpoints/NAME/ID.json and networks/NAME.json,
 * copies of what it attached; agent.json, the registration of the local agent; pending/
 * NAME/ID.json, releases the store could not take yet. */
#ifndef NETSETUP_NETSTORE_ETCD_H
#define NETSETUP_NETSTORE_ETCD_H

#include <stdbool.h>
#include <stdint.h>

#include "etcd.h"
#include "network.h"

/* prefix + the formatted rest, malloc'ed. */
char *ek_key(const char *prefix, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The kv of key among r's, or NULL. */
const struct etcd_kv *ek_kv_find(const struct etcd_resp *r, const char *key);

/* The local agent's registration (STATE/agent.json). */
struct ek_agent {
	char node[254];
	char host_addr[64];
	int64_t lease;
	char store[512], prefix[256];
};
int ek_agent_read(const char *state_dir, struct ek_agent *out);
int ek_agent_write(const char *state_dir, const struct ek_agent *a, struct ns_error *err);

/* The value of an address key. */
char *ek_ipam_value(const char *id, const char *node, const char *created);

/* What to release: an endpoint's record and address keys, as long as they still name it
 * (id, node, created). */
struct ek_release {
	char network[64], id[128], node[254], created[32];
	char addrs[NS_MAX_SUBNETS][64];
	size_t n_addrs;
};
void ek_release_of(const struct ns_endpoint *ep, struct ek_release *r);
/* Step one: a transaction reading every key of r at one revision. */
json_t *ek_release_read(const char *prefix, const struct ek_release *r);
/* Step two, from step one's answer: deletes of those that still name it, each guarded by its
 * mod revision; NULL when none does (nothing to do). */
json_t *ek_release_txn(const char *prefix, const struct ek_release *r,
		       const struct etcd_resp *read);
/* Queues r in STATE/pending (sent by the agent when the store is back), and lists the queue:
 * *out an array of the files' contents. */
int ek_pending_add(const char *state_dir, const struct ek_release *r, struct ns_error *err);
int ek_pending_list(const char *state_dir, struct ek_release **out, size_t *n);
void ek_pending_done(const char *state_dir, const struct ek_release *r);

#endif
