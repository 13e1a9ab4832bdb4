/* driver.h — one table of operations per attachment driver (bridge, macvlan, overlay, host),
 * as iproute2 has one link_util per link kind and systemd-networkd one NetDevVTable per netdev
 * kind. network.c owns definitions, endpoint records and IPAM, and never asks which driver it
 * holds: what differs between drivers is a hook or a field here. A driver only touches
 * interfaces. drivers.c is the registry; driver_KIND.c fills one table each. */
#ifndef NETSETUP_DRIVER_H
#define NETSETUP_DRIVER_H

#include <stdbool.h>

#include <jansson.h>

#include "network.h"

/* Contract of each field and hook, written once:
 *  in_node_netns — endpoints share the node's netns (host): an attach names no container
 *             netns and gets no interface; the network has no subnets. Otherwise an attach
 *             needs a netns, gets an interface (--ifname, eth0 by default) and one address
 *             from each of the network's subnets, which it must have.
 *  check    — validate a new network's options and fill the driver's defaults (bridge name,
 *             MTU); no side effects.
 *  setup    — make the node side exist; idempotent. full = also the network-wide extras that
 *             an attach need not repeat (sysctls, stale overlay entries).
 *  teardown — remove the node side; absent pieces are fine.
 *  prepare  — fill the record fields attach would set that need no interface (host_ifname,
 *             host), before the store claims the endpoint: an etcd store then writes the
 *             whole record in the claim's one transaction; may be NULL.
 *  attach   — create the container's interface in netns_fd from ep (ifname, addresses,
 *             gateways already set), fill ep->mac and the record's driver fields (host_ifname,
 *             host); on failure remove everything it created.
 *  detach   — remove what attach created; the container netns may be gone. -EREMOTE for an
 *             endpoint that lives on another host (only that host can remove it).
 *  inspect  — add the driver's own options to the Options object of `netpol net inspect`
 *             (network.c adds the common ones: bridge, mtu, masquerade); may be NULL.
 *  is_local — set local[i] to whether eps[i], a record of net, was attached on this host;
 *             fails when this host has no place in net at all. NULL: the network does not
 *             span hosts and every record is this host's (inspect's Scope is "local"; with
 *             is_local it is "global"). */
struct ns_driver_ops {
	enum ns_driver_kind kind;
	const char *name;
	bool in_node_netns;
	int (*check)(struct ns_ctx *ctx, struct ns_network *net, struct ns_error *err);
	int (*setup)(struct ns_ctx *ctx, const struct ns_network *net, bool full,
		     struct ns_error *err);
	int (*teardown)(struct ns_ctx *ctx, const struct ns_network *net, struct ns_error *err);
	int (*prepare)(struct ns_ctx *ctx, const struct ns_network *net, struct ns_endpoint *ep,
		       struct ns_error *err);
	int (*attach)(struct ns_ctx *ctx, const struct ns_network *net, struct ns_endpoint *ep,
		      int netns_fd, struct ns_error *err);
	int (*detach)(struct ns_ctx *ctx, const struct ns_network *net,
		      const struct ns_endpoint *ep, struct ns_error *err);
	void (*inspect)(const struct ns_network *net, json_t *options);
	int (*is_local)(struct ns_ctx *ctx, const struct ns_network *net,
			const struct ns_endpoint *eps, size_t n, bool *local, struct ns_error *err);
};

extern const struct ns_driver_ops ns_driver_bridge, ns_driver_macvlan, ns_driver_overlay,
	ns_driver_host;

/* The table of a valid kind (one ns_driver_parse or ns_network_from_json produced). */
const struct ns_driver_ops *ns_driver_ops_get(enum ns_driver_kind kind);

/* The bridge driver's pieces overlay builds on (driver_bridge.c): the bridge with its gateway
 * addresses, a veth from it into the container (named after network and endpoint, in
 * ep->host_ifname) configured by ns_container_configure, and the hooks overlay reuses. */
int ns_bridge_ensure(struct ns_ctx *ctx, const struct ns_network *net, unsigned int mtu,
		     int *ifindex, struct ns_error *err);
int ns_bridge_attach_veth(struct ns_ctx *ctx, const struct ns_network *net,
			  struct ns_endpoint *ep, int netns_fd, unsigned int mtu,
			  struct ns_error *err);
int ns_bridge_check(struct ns_ctx *ctx, struct ns_network *net, struct ns_error *err);
int ns_bridge_prepare(struct ns_ctx *ctx, const struct ns_network *net, struct ns_endpoint *ep,
		      struct ns_error *err);
int ns_bridge_teardown(struct ns_ctx *ctx, const struct ns_network *net, struct ns_error *err);
int ns_bridge_detach(struct ns_ctx *ctx, const struct ns_network *net,
		     const struct ns_endpoint *ep, struct ns_error *err);
void ns_bridge_inspect(const struct ns_network *net, json_t *options);

/* The overlay's pieces the host's agent (agent.h) programs from what it learns by watch. */

/* The vxlan device of net on this host: 0 with *ifindex, -ENODEV when the host has no side of
 * net (nothing to program there). */
int ns_overlay_device(struct ns_ctx *ctx, const struct ns_network *net, int *ifindex,
		      struct ns_error *err);
/* Programs vxlan device vx: a flood entry to each peer but self, FDB and neighbour entries for
 * each endpoint of eps that lives on another host; with full, drops the FDB entries (flood
 * ones included) that are neither. */
int ns_overlay_program(struct ns_ctx *ctx, int vx, const struct ns_ip *self,
		       const struct ns_ip *peers, size_t n_peers, const struct ns_endpoint *eps,
		       size_t n, bool full, struct ns_error *err);
/* Removes a remote endpoint's FDB and neighbour entries (absent ones are fine). */
int ns_overlay_forget(struct ns_ctx *ctx, int vx, const struct ns_endpoint *ep,
		      struct ns_error *err);
/* Adds or removes the flood entry to peer. */
int ns_overlay_flood(struct ns_ctx *ctx, int vx, const struct ns_ip *peer, bool add,
		     struct ns_error *err);

/* macvlan's mode names, as definitions store them ("bridge", "private", "vepa"). */
const char *ns_macvlan_mode_name(enum ns_macvlan_mode mode);
int ns_macvlan_mode_parse(const char *s, enum ns_macvlan_mode *out);

#endif
