/* driver.h — one table of operations per attachment driver (bridge, macvlan, overlay, host).
 * network.c owns records and IPAM; a driver only touches interfaces. */
#ifndef NETSETUP_DRIVER_H
#define NETSETUP_DRIVER_H

#include <stdbool.h>

#include "network.h"

/* Contract of each hook, written once:
 *  check    — validate a new network's options and fill the driver's defaults (bridge name,
 *             MTU); no side effects.
 *  setup    — make the node side exist; idempotent. full = also the network-wide extras that
 *             an attach need not repeat (sysctls, nat table, stale overlay entries).
 *  teardown — remove the node side; absent pieces are fine.
 *  attach   — create the container's interface in netns_fd from ep (ifname, host_ifname,
 *             addresses, gateways already set), fill ep->mac (and ep->host); on failure remove
 *             everything it created.
 *  detach   — remove what attach created; the container netns may be gone. */
struct ns_driver_ops {
	enum ns_driver_kind kind;
	const char *name;
	int (*check)(struct ns_ctx *ctx, struct ns_network *net, struct ns_error *err);
	int (*setup)(struct ns_ctx *ctx, const struct ns_network *net, bool full,
		     struct ns_error *err);
	int (*teardown)(struct ns_ctx *ctx, const struct ns_network *net, struct ns_error *err);
	int (*attach)(struct ns_ctx *ctx, const struct ns_network *net, struct ns_endpoint *ep,
		      int netns_fd, struct ns_error *err);
	int (*detach)(struct ns_ctx *ctx, const struct ns_network *net,
		      const struct ns_endpoint *ep, struct ns_error *err);
};

extern const struct ns_driver_ops ns_driver_bridge, ns_driver_macvlan, ns_driver_overlay,
	ns_driver_host;

const struct ns_driver_ops *ns_driver_ops_get(enum ns_driver_kind kind);

/* Shared by bridge and overlay: the bridge with its gateway addresses, and a veth into the
 * container enslaved to it with addresses and default routes (driver_bridge.c). */
int ns_bridge_ensure(struct ns_ctx *ctx, const struct ns_network *net, unsigned int mtu,
		     int *ifindex, struct ns_error *err);
int ns_bridge_attach_veth(struct ns_ctx *ctx, const struct ns_network *net,
			  struct ns_endpoint *ep, int netns_fd, unsigned int mtu,
			  struct ns_error *err);
/* The bridge driver's hooks that overlay reuses as they are. */
int ns_bridge_check(struct ns_ctx *ctx, struct ns_network *net, struct ns_error *err);
int ns_bridge_teardown(struct ns_ctx *ctx, const struct ns_network *net, struct ns_error *err);
int ns_bridge_detach(struct ns_ctx *ctx, const struct ns_network *net,
		     const struct ns_endpoint *ep, struct ns_error *err);
/* Inside the container: lo up, addresses on ifname, default routes via the gateways, MAC read
 * back into ep->mac. */
int ns_container_configure(int netns_fd, struct ns_endpoint *ep, unsigned int mtu,
			   struct ns_error *err);

/* Overlay: this host's underlay address (the peer address configured here), its link index
 * and MTU (driver_overlay.c). */
int ns_overlay_self(struct ns_ctx *ctx, const struct ns_network *net, struct ns_ip *self,
		    int *ifindex, unsigned int *mtu, struct ns_error *err);
/* All peer addresses: --peer flags plus InternalIP of Node objects in nodes_dir. */
int ns_overlay_peers(const struct ns_network *net, struct ns_ip *out, size_t max, size_t *n,
		     struct ns_error *err);

#endif
