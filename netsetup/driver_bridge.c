/* driver_bridge.c — the bridge driver: a bridge on the node holding the gateway addresses, a
 * veth per container enslaved to it. overlay builds on these pieces (driver.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/if.h>

#include "addr.h"
#include "container.h"
#include "driver.h"

int ns_bridge_ensure(struct ns_ctx *ctx, const struct ns_network *net, unsigned int mtu,
		     int *ifindex, struct ns_error *err)
{
	struct ns_link_spec spec = { .kind = "bridge", .name = net->bridge, .netns_fd = -1,
				     .mtu = mtu, .up = true };
	struct ns_link_info li;
	int rc;

	rc = ns_link_get(ctx->nl, net->bridge, &li, err);
	if (rc == -ENODEV) {
		rc = ns_link_add(ctx->nl, &spec, err);
		/* -EEXIST: a concurrent attach made it first, which is just as good. */
		if ((rc < 0 && rc != -EEXIST) || (rc = ns_link_get(ctx->nl, net->bridge, &li, err)) < 0)
			return rc;
		if (rc == 0) {
			/* Pin the bridge MAC: left alone it follows the lowest port MAC and changes as
			 * containers come and go, which stales every container's gateway ARP entry. */
			struct ns_link_change ch = NS_LINK_CHANGE_NONE;
			ch.mac = li.mac;
			if ((rc = ns_link_set(ctx->nl, li.ifindex, &ch, err)) < 0)
				return rc;
		}
	} else if (rc < 0) {
		return rc;
	}
	if (strcmp(li.kind, "bridge"))
		return ns_error_set(err, -EEXIST, "interface %s exists and is not a bridge",
				    net->bridge);
	for (size_t i = 0; i < net->n_pools; i++) {
		struct ns_prefix gw = { net->pools[i].gateway, net->pools[i].subnet.len };
		if (gw.ip.family && (rc = ns_addr_add(ctx->nl, li.ifindex, &gw, true, err)) < 0)
			return ns_error_wrap(err, rc, "bridge %s", net->bridge);
	}
	if (!(li.flags & IFF_UP)) {
		struct ns_link_change ch = NS_LINK_CHANGE_NONE;
		ch.up = 1;
		if ((rc = ns_link_set(ctx->nl, li.ifindex, &ch, err)) < 0)
			return rc;
	}
	if (ifindex)
		*ifindex = li.ifindex;
	return 0;
}

/* Routing between the bridge and elsewhere needs forwarding on in this (node) netns. */
static int forwarding_on(const struct ns_network *net, struct ns_error *err)
{
	int rc;

	for (size_t i = 0; i < net->n_pools; i++) {
		const char *key = net->pools[i].subnet.ip.family == AF_INET
					  ? "net/ipv4/ip_forward"
					  : "net/ipv6/conf/all/forwarding";
		if ((rc = ns_sysctl_write(-1, key, "1", err)) < 0)
			return rc;
	}
	return 0;
}

int ns_bridge_attach_veth(struct ns_ctx *ctx, const struct ns_network *net,
			  struct ns_endpoint *ep, int netns_fd, unsigned int mtu,
			  struct ns_error *err)
{
	struct ns_link_spec spec = { .kind = "veth", .name = ep->host_ifname, .netns_fd = -1,
				     .mtu = mtu, .up = true };
	struct ns_link_info br, host;
	int rc;

	ns_bridge_prepare(ctx, net, ep, NULL);
	if ((rc = ns_link_get(ctx->nl, net->bridge, &br, err)) < 0)
		return rc;
	spec.master = br.ifindex;
	spec.veth.peer_name = ep->ifname;
	spec.veth.peer_netns_fd = netns_fd;
	/* the container end has the record's MAC from birth: how a recovery tells the interface
	 * a killed attach made from one of the same name that is another's (intent.h) */
	spec.veth.peer_mac = ep->mac[0] & 0x02 ? ep->mac : NULL; /* chosen: locally administered */
	if ((rc = ns_link_add(ctx->nl, &spec, err)) < 0)
		return rc;
	if (net->hairpin &&
	    ((rc = ns_link_get(ctx->nl, ep->host_ifname, &host, err)) < 0 ||
	     (rc = ns_link_set_hairpin(ctx->nl, host.ifindex, true, err)) < 0))
		goto del_veth;
	if ((rc = ns_container_configure(netns_fd, ep, err)) < 0)
		goto del_veth;
	return 0;
del_veth:
	/* Deleting one end deletes the pair, so the container is left as it was. */
	ns_link_del(ctx->nl, ep->host_ifname, NULL);
	return rc;
}

int ns_bridge_prepare(struct ns_ctx *ctx, const struct ns_network *net, struct ns_endpoint *ep,
		      struct ns_error *err)
{
	/* The node-side end, named after network and endpoint: unique on the node, and the name
	 * a later detach (from the record) deletes. */
	snprintf(ep->host_ifname, sizeof(ep->host_ifname), "np%08x",
		 ns_name_hash(net->name, ep->id));
	return 0;
}

int ns_bridge_check(struct ns_ctx *ctx, struct ns_network *net, struct ns_error *err)
{
	if (!net->bridge[0]) {
		/* "np-NAME" when it fits in IFNAMSIZ, else a hash so names stay unique. */
		if (strlen(net->name) <= 12)
			snprintf(net->bridge, sizeof(net->bridge), "np-%.12s", net->name);
		else
			snprintf(net->bridge, sizeof(net->bridge), "np-%08x",
				 ns_name_hash(net->name, ""));
	}
	if (net->masquerade) {
		bool v4 = false;
		for (size_t i = 0; i < net->n_pools; i++)
			v4 |= net->pools[i].subnet.ip.family == AF_INET;
		if (!v4)
			return ns_error_set(err, -EINVAL, "--masquerade needs an IPv4 subnet");
	}
	return 0;
}

static int bridge_setup(struct ns_ctx *ctx, const struct ns_network *net, bool full,
			struct ns_error *err)
{
	int rc = ns_bridge_ensure(ctx, net, net->mtu, NULL, err);

	if (rc == 0 && full)
		rc = forwarding_on(net, err);
	return rc;
}

int ns_bridge_teardown(struct ns_ctx *ctx, const struct ns_network *net,
			   struct ns_error *err)
{
	int rc = ns_link_del(ctx->nl, net->bridge, err);

	return rc == -ENODEV ? 0 : rc;
}

static int bridge_attach(struct ns_ctx *ctx, const struct ns_network *net,
			 struct ns_endpoint *ep, int netns_fd, struct ns_error *err)
{
	return ns_bridge_attach_veth(ctx, net, ep, netns_fd, net->mtu, err);
}

int ns_bridge_detach(struct ns_ctx *ctx, const struct ns_network *net,
			 const struct ns_endpoint *ep, struct ns_error *err)
{
	/* When the container netns is gone the pair went with it: -ENODEV is success. */
	int rc = ep->host_ifname[0] ? ns_link_del(ctx->nl, ep->host_ifname, err) : 0;

	return rc == -ENODEV ? 0 : rc;
}

void ns_bridge_inspect(const struct ns_network *net, json_t *options)
{
	json_object_set_new(options, "hairpin", json_boolean(net->hairpin));
}

const struct ns_driver_ops ns_driver_bridge = {
	.kind = NS_DRIVER_BRIDGE,
	.name = "bridge",
	.check = ns_bridge_check,
	.setup = bridge_setup,
	.teardown = ns_bridge_teardown,
	.prepare = ns_bridge_prepare,
	.attach = bridge_attach,
	.detach = ns_bridge_detach,
	.inspect = ns_bridge_inspect,
};
