/* network.h — named, persistent container networks and their endpoints.
 *
 * Definitions, address leases and endpoint records live in a store (netstore.h): the state
 * directory by default (networks/NAME.json, ipam/NAME.json, endpoints/NAME/ID.json, each
 * written whole and durably), or etcd for many hosts. The node side of a network (bridge,
 * vxlan device, host veth ends, nat table) lives in the netns the caller runs in; containers
 * are reached through their netns path. */
#ifndef NETSETUP_NETWORK_H
#define NETSETUP_NETWORK_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "ip.h"
#include "ipam.h"
#include "link.h"
#include "nl.h"

#define NS_DEFAULT_STATE_DIR "/var/lib/netpol"
#define NS_DEFAULT_RUN_DIR "/run/netpol" /* with an etcd store: this host's own part */
#define NS_MAX_SUBNETS 2 /* one IPv4 and one IPv6 */
#define NS_MAX_PEERS 64
#define NS_VXLAN_OVERHEAD 50 /* outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 */

enum ns_driver_kind { NS_DRIVER_BRIDGE, NS_DRIVER_MACVLAN, NS_DRIVER_OVERLAY, NS_DRIVER_HOST };

struct ns_network {
	char name[64];
	char id[33];          /* 32 hex digits, random at creation */
	char created[32];     /* RFC 3339 UTC */
	enum ns_driver_kind driver;
	struct ns_ipam_pool pools[NS_MAX_SUBNETS];
	size_t n_pools;
	char bridge[NS_IFNAMSIZ]; /* bridge and overlay: the node's bridge */
	char parent[NS_IFNAMSIZ]; /* macvlan: the lower device */
	enum ns_macvlan_mode mode;
	uint32_t vni;              /* overlay */
	unsigned int mtu;          /* 0: derived (overlay: underlay - 50) or kernel default */
	bool masquerade;
	bool hairpin;
	struct ns_ip peers[NS_MAX_PEERS]; /* overlay: hosts' underlay addresses (--peer) */
	size_t n_peers;
	char nodes_dir[512];       /* overlay: and those of the Node objects here (ns_ctx) */
};

struct ns_endpoint {
	char network[64];
	char id[128];
	char driver[16];
	char netns[512];           /* path; "" for host endpoints */
	char ifname[NS_IFNAMSIZ];  /* inside the container */
	char host_ifname[NS_IFNAMSIZ]; /* node side veth end; "" for macvlan and host */
	struct ns_prefix addrs[NS_MAX_SUBNETS];
	size_t n_addrs;
	struct ns_ip gateways[NS_MAX_SUBNETS];
	uint8_t mac[6];
	struct ns_ip host;         /* overlay: underlay address of the host it lives on */
	char pod_ns[128], pod_name[256]; /* optional --pod NS/NAME */
	json_t *labels;            /* object of strings; owned */
	char created[32];
	/* set when a CNI runtime made the attachment: the CNI network name and the container id
	 * of the (containerID, ifname) pair, so CNI GC can tell which records are its own */
	char cni_network[64];
	char container_id[128];
	char node[254];            /* the Kubernetes node it was attached on, when the attacher
				     knows it (netpol-cni's "node"); "" otherwise */
};

/* Reads the underlay addresses (InternalIP) of the Node objects in dir into out[0..*n), at most
 * max of them. 0, or -errno with err set when dir cannot be read. */
typedef int ns_node_addrs_fn(const char *dir, struct ns_ip *out, size_t max, size_t *n,
			     struct ns_error *err);

struct ns_store;
struct ns_store_conf;

/* The context every operation runs in. */
struct ns_ctx {
	char *state_dir;
	struct ns_store *store;    /* where definitions, leases and records live */
	struct ns_nl *nl;          /* socket in the node netns (the caller's) */
	/* Where an overlay defined with a nodes directory (--nodes) gets the peers named there,
	 * each time it needs them: netsetup reads no Kubernetes objects, the program that opens
	 * the context does and sets this (enforcer/lib/nodes.h). NULL: an operation that needs
	 * such an overlay's peers fails with -EOPNOTSUPP. */
	ns_node_addrs_fn *node_addrs;
	/* Where an operation says what it did besides its own work: an attach or detach killed
	 * earlier that it settled (intent.h), a record it skipped as invalid. The program sets it
	 * (its stderr, its log); NULL: said nowhere. */
	void (*note)(void *arg, const char *msg);
	void *note_arg;
};

/* Passes a formatted message to ctx->note, if set. */
void ns_ctx_note(struct ns_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Opens a context on the store conf names (NULL: the state directory) with state_dir (NULL:
 * NS_DEFAULT_STATE_DIR, or NS_DEFAULT_RUN_DIR with an etcd store). readonly: for reading
 * records only (no directories created, no netlink socket). NULL on failure (err). */
struct ns_ctx *ns_ctx_open(const char *state_dir, const struct ns_store_conf *conf,
			   bool readonly, struct ns_error *err);
/* Opens a context on state_dir (NULL: the default) as the store, creating its directories. */
struct ns_ctx *ns_ctx_new(const char *state_dir, struct ns_error *err);
/* A context for reading records only (no directories created, no netlink socket): what
 * readers such as `netpol render --state-dir` need, so a dry run changes nothing. */
struct ns_ctx *ns_ctx_new_readonly(const char *state_dir);
void ns_ctx_free(struct ns_ctx *ctx);

const char *ns_driver_name(enum ns_driver_kind d);
int ns_driver_parse(const char *s, enum ns_driver_kind *out);

/* Checks net (name, subnets, driver options), fills defaults (gateway = first host, bridge
 * name, id, created), sets the node side up and saves the definition. -EEXIST if it exists. */
int ns_network_create(struct ns_ctx *ctx, struct ns_network *net, struct ns_error *err);
int ns_network_load(struct ns_ctx *ctx, const char *name, struct ns_network *out,
		    struct ns_error *err);
/* Names of all networks, sorted; a JSON array of strings (caller decrefs). */
int ns_network_names(struct ns_ctx *ctx, json_t **out, struct ns_error *err);
/* Removes a network: refused with -EBUSY while endpoints exist unless force, which detaches
 * them first (an overlay endpoint on another host cannot be detached from here: -EREMOTE).
 * The node side goes too. local_only removes just this host's side (for an overlay whose
 * definition other hosts still share) and keeps definition, leases and other hosts' records. */
int ns_network_remove(struct ns_ctx *ctx, const char *name, bool force, bool local_only,
		      struct ns_error *err);
/* docker-network-inspect-like JSON of the definition and its endpoints (caller decrefs). */
int ns_network_inspect(struct ns_ctx *ctx, const char *name, json_t **out, struct ns_error *err);
/* Re-creates the node side (idempotent) and, for overlay, reprograms every remote endpoint. */
int ns_network_sync(struct ns_ctx *ctx, const char *name, struct ns_error *err);

struct ns_attach_req {
	const char *netns;         /* path or name; NULL only for host networks */
	const char *id;            /* NULL: derived from the netns name */
	const char *ifname;        /* NULL: eth0 */
	struct ns_ip ips[NS_MAX_SUBNETS]; /* static requests */
	size_t n_ips;
	const char *pod;           /* "NS/NAME" or NULL */
	const char *labels;        /* "k=v,k2=v2" or NULL */
	const char *cni_network;   /* CNI attachments: see struct ns_endpoint; else NULL */
	const char *container_id;
	const char *node;          /* see struct ns_endpoint; NULL: unknown */
};

/* Attaches a container; on failure nothing is left (no interface, lease or record). On success
 * *out (may be NULL) receives the record; free it with ns_endpoint_free. */
int ns_network_attach(struct ns_ctx *ctx, const char *name, const struct ns_attach_req *req,
		      struct ns_endpoint **out, struct ns_error *err);
/* Detaches; works when the container netns is already gone. -ENOENT if no such endpoint.
 * 1: done here, but the store was away: the release of its record and addresses is queued
 * and sent when the store returns (err says so). */
int ns_network_detach(struct ns_ctx *ctx, const char *name, const char *id,
		      struct ns_error *err);

struct ns_endpoint *ns_endpoint_new(void);
void ns_endpoint_free(struct ns_endpoint *ep);
json_t *ns_endpoint_to_json(const struct ns_endpoint *ep);
int ns_endpoint_from_json(json_t *j, struct ns_endpoint *ep, struct ns_error *err);
json_t *ns_network_to_json(const struct ns_network *net);
int ns_network_from_json(json_t *j, struct ns_network *net, struct ns_error *err);

/* A stable 32-bit hash (FNV-1a) of "a/b", for interface names derived from long names. */
uint32_t ns_name_hash(const char *a, const char *b);

/* Writes ep as STATE/endpoints/NETWORK/ID.json (whole; in the state directory not fsync'ed:
 * netstore_dir.c says why), creating the network's endpoint directory: the record of an
 * attachment made by someone else (a chained CNI plugin records the interface the previous
 * plugin created). */
int ns_endpoint_save(struct ns_ctx *ctx, const struct ns_endpoint *ep, struct ns_error *err);
/* Reads STATE/endpoints/NETWORK/ID.json into a new record (free with ns_endpoint_free);
 * -ENOENT when there is none. */
int ns_endpoint_get(struct ns_ctx *ctx, const char *network, const char *id,
		    struct ns_endpoint **out, struct ns_error *err);
/* Removes a record written by ns_endpoint_save; absent is success. */
int ns_endpoint_forget(struct ns_ctx *ctx, const char *network, const char *id,
		       struct ns_error *err);
/* Names of every network that has endpoint records (STATE/endpoints/NAME/), sorted, whether
 * or not a definition exists (records of chained CNI attachments have none). */
int ns_endpoint_networks(struct ns_ctx *ctx, json_t **out, struct ns_error *err);
/* Whether s is a valid network name or endpoint id (the CNI rule: alphanumeric first, then
 * [A-Za-z0-9_.-], at most max characters). */
bool ns_name_valid(const char *s, size_t max);

/* ---- used by the drivers (driver.h) ---- */

/* Loads every endpoint record of a network; *out is a malloc'd array (free each with
 * ns_endpoint_free's contents via ns_endpoints_free). */
int ns_endpoints_load(struct ns_ctx *ctx, const char *network, struct ns_endpoint **out,
		      size_t *n, struct ns_error *err);
void ns_endpoints_free(struct ns_endpoint *v, size_t n);

#endif
