/* driver_overlay.c — VXLAN overlay spanning hosts, as Docker overlay and flannel's vxlan
 * backend build it: on each host the network's bridge plus one vxlan device (VNI, UDP 4789,
 * local underlay address, learning off) enslaved to it. Peers come from --peer addresses and
 * the Node objects the caller reads (struct ns_ctx); every other peer gets an all-zero flood
 * FDB entry (head-end replication, no multicast), and every remote endpoint a permanent FDB
 * entry (its MAC -> its host) plus a neighbour entry on the vxlan device, which answers ARP/ND
 * itself (proxy) so resolution never crosses the underlay. The state directory is the cluster store the hosts share. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "driver.h"
#include "netstore.h"
#include "xalloc.h"

static void vxlan_name(const struct ns_network *net, char buf[NS_IFNAMSIZ])
{
	snprintf(buf, NS_IFNAMSIZ, "npvx%u", net->vni);
}

static void add_peer(struct ns_ip *out, size_t max, size_t *n, const struct ns_ip *ip)
{
	for (size_t i = 0; i < *n; i++)
		if (ns_ip_equal(&out[i], ip))
			return;
	if (*n < max)
		out[(*n)++] = *ip;
}

/* Every host's underlay address, this one's included: the definition's --peer addresses, the
 * hosts registered in the store (netstore.h: an etcd store's agents), then those of the Node
 * objects in its nodes directory, which the program running us reads (struct ns_ctx). */
static int overlay_peers(struct ns_ctx *ctx, const struct ns_network *net, struct ns_ip *out,
			 size_t *n, struct ns_error *err)
{
	struct ns_ip nodes[NS_MAX_PEERS];
	size_t n_nodes = 0;
	int rc;

	*n = 0;
	for (size_t i = 0; i < net->n_peers; i++)
		add_peer(out, NS_MAX_PEERS, n, &net->peers[i]);
	if ((rc = ctx->store->ops->node_addrs(ctx->store, nodes, NS_MAX_PEERS, &n_nodes, err)) < 0)
		return rc;
	for (size_t i = 0; i < n_nodes; i++)
		add_peer(out, NS_MAX_PEERS, n, &nodes[i]);
	if (!net->nodes_dir[0])
		return 0;
	if (!ctx->node_addrs)
		return ns_error_set(err, -EOPNOTSUPP,
				    "overlay %s: its peers include the Node objects in %s, which "
				    "this program does not read", net->name, net->nodes_dir);
	if ((rc = ctx->node_addrs(net->nodes_dir, nodes, NS_MAX_PEERS, &n_nodes, err)) < 0)
		return rc;
	for (size_t i = 0; i < n_nodes; i++)
		add_peer(out, NS_MAX_PEERS, n, &nodes[i]);
	return 0;
}

/* This host's underlay address (the first peer address configured here), its link and MTU. */
static int overlay_self(struct ns_ctx *ctx, const struct ns_network *net, struct ns_ip *self,
			int *ifindex, unsigned int *mtu, struct ns_error *err)
{
	struct ns_ip peers[NS_MAX_PEERS];
	struct ns_link_info li;
	size_t n;
	int rc, idx;

	if ((rc = overlay_peers(ctx, net, peers, &n, err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		rc = ns_addr_find(ctx->nl, &peers[i], &idx, NULL, err);
		if (rc == -ENOENT)
			continue;
		if (rc < 0 || (rc = ns_link_get_index(ctx->nl, idx, &li, err)) < 0)
			return rc;
		*self = peers[i];
		*ifindex = idx;
		*mtu = li.mtu;
		return 0;
	}
	return ns_error_set(err, -EADDRNOTAVAIL,
			    "overlay %s: none of its %zu peer addresses is configured on this host",
			    net->name, n);
}

static int overlay_check(struct ns_ctx *ctx, struct ns_network *net, struct ns_error *err)
{
	struct ns_ip peers[NS_MAX_PEERS];
	size_t n;
	int rc;

	if (net->vni == 0 || net->vni > 0xffffff)
		return ns_error_set(err, -EINVAL, "the overlay driver needs --vni 1..16777215");
	if (net->parent[0])
		return ns_error_set(err, -EINVAL, "the overlay driver takes no --parent");
	if ((rc = overlay_peers(ctx, net, peers, &n, err)) < 0)
		return rc;
	if (!n)
		return ns_error_set(err, -EINVAL, "the overlay driver needs --peer ADDR or --nodes DIR%s",
				    strcmp(ctx->store->ops->name, "dir")
					    ? ", or hosts registered in the store (policyd --store)" : "");
	return ns_bridge_check(ctx, net, err);
}

struct stale_scan {
	const struct ns_endpoint *eps;
	size_t n;
	const struct ns_ip *self;
	const struct ns_ip *peers; /* with prune_flood: the flood entries to keep */
	size_t n_peers;
	bool prune_flood;
	struct ns_fdb_entry stale[256];
	size_t n_stale;
};

static void stale_cb(const struct ns_fdb_entry *e, void *data)
{
	static const uint8_t zero[6];
	struct stale_scan *s = data;

	if (!e->dst.family || s->n_stale == 256)
		return;
	if (!memcmp(e->mac, zero, 6)) {
		if (!s->prune_flood)
			return;
		for (size_t i = 0; i < s->n_peers; i++)
			if (ns_ip_equal(&s->peers[i], &e->dst))
				return;
		s->stale[s->n_stale++] = *e;
		return;
	}
	for (size_t i = 0; i < s->n; i++)
		if (!memcmp(s->eps[i].mac, e->mac, 6) && ns_ip_equal(&s->eps[i].host, &e->dst) &&
		    !ns_ip_equal(&s->eps[i].host, s->self))
			return;
	s->stale[s->n_stale++] = *e;
}

static bool is_remote(const struct ns_endpoint *ep, const struct ns_ip *self)
{
	static const uint8_t zero[6];

	return ep->host.family && !ns_ip_equal(&ep->host, self) && memcmp(ep->mac, zero, 6);
}

/* FDB + neighbour entries of the remote endpoints in eps; with full, drops the entries of
 * endpoints that are gone (and with s->prune_flood, flood entries to hosts that are). */
static int program_eps(struct ns_ctx *ctx, int vx, struct stale_scan *s, bool full,
		       struct ns_error *err)
{
	int rc;

	for (size_t i = 0; i < s->n; i++) {
		const struct ns_endpoint *ep = &s->eps[i];
		if (!is_remote(ep, s->self))
			continue;
		if ((rc = ns_fdb_add(ctx->nl, vx, ep->mac, &ep->host, false, err)) < 0)
			return rc;
		for (size_t k = 0; k < ep->n_addrs; k++)
			if ((rc = ns_neigh_add(ctx->nl, vx, &ep->addrs[k].ip, ep->mac, err)) < 0)
				return rc;
	}
	if (!full)
		return 0;
	rc = ns_fdb_list(ctx->nl, vx, stale_cb, s, err);
	for (size_t i = 0; rc == 0 && i < s->n_stale; i++) {
		rc = ns_fdb_del(ctx->nl, vx, s->stale[i].mac, &s->stale[i].dst, err);
		if (rc == -ENOENT)
			rc = 0;
	}
	return rc;
}

/* Programs every remote endpoint of the network (FDB + neighbours on the vxlan device); with
 * full, also drops entries of endpoints that are gone. */
static int program_remote(struct ns_ctx *ctx, const struct ns_network *net, int vx,
			  const struct ns_ip *self, bool full, struct ns_error *err)
{
	struct ns_endpoint *eps;
	struct stale_scan *s;
	size_t n;
	int rc;

	if ((rc = ns_endpoints_load(ctx, net->name, &eps, &n, err)) < 0)
		return rc;
	s = xcalloc(1, sizeof(*s));
	s->eps = eps;
	s->n = n;
	s->self = self;
	rc = program_eps(ctx, vx, s, full, err);
	free(s);
	ns_endpoints_free(eps, n);
	return rc;
}

int ns_overlay_device(struct ns_ctx *ctx, const struct ns_network *net, int *ifindex,
		      struct ns_error *err)
{
	struct ns_link_info vx;
	char name[NS_IFNAMSIZ];
	int rc;

	vxlan_name(net, name);
	if ((rc = ns_link_get(ctx->nl, name, &vx, err)) < 0)
		return rc;
	*ifindex = vx.ifindex;
	return 0;
}

int ns_overlay_program(struct ns_ctx *ctx, int vx, const struct ns_ip *self,
		       const struct ns_ip *peers, size_t n_peers, const struct ns_endpoint *eps,
		       size_t n, bool full, struct ns_error *err)
{
	static const uint8_t flood[6];
	struct stale_scan *s;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n_peers; i++)
		if (!ns_ip_equal(&peers[i], self))
			rc = ns_fdb_add(ctx->nl, vx, flood, &peers[i], true, err);
	if (rc < 0)
		return rc;
	s = xcalloc(1, sizeof(*s));
	*s = (struct stale_scan){ .eps = eps, .n = n, .self = self, .peers = peers,
				  .n_peers = n_peers, .prune_flood = true };
	rc = program_eps(ctx, vx, s, full, err);
	free(s);
	return rc;
}

int ns_overlay_forget(struct ns_ctx *ctx, int vx, const struct ns_endpoint *ep,
		      struct ns_error *err)
{
	static const uint8_t zero[6];
	int rc;

	/* a record still without its MAC or host (an attach's claim) was never programmed; and
	 * an all-zero MAC would name the flood entries */
	if (!ep->host.family || !memcmp(ep->mac, zero, 6))
		return 0;
	rc = ns_fdb_del(ctx->nl, vx, ep->mac, &ep->host, err);

	if (rc < 0 && rc != -ENOENT)
		return rc;
	for (size_t k = 0; k < ep->n_addrs; k++)
		if ((rc = ns_neigh_del(ctx->nl, vx, &ep->addrs[k].ip, err)) < 0 && rc != -ENOENT)
			return rc;
	return 0;
}

int ns_overlay_flood(struct ns_ctx *ctx, int vx, const struct ns_ip *peer, bool add,
		     struct ns_error *err)
{
	static const uint8_t flood[6];
	int rc = add ? ns_fdb_add(ctx->nl, vx, flood, peer, true, err)
		     : ns_fdb_del(ctx->nl, vx, flood, peer, err);

	return rc == -ENOENT ? 0 : rc;
}

static int overlay_setup(struct ns_ctx *ctx, const struct ns_network *net, bool full,
			 struct ns_error *err)
{
	static const uint8_t flood[6];
	struct ns_link_spec spec = { .kind = "vxlan", .netns_fd = -1, .up = true };
	struct ns_ip self, peers[NS_MAX_PEERS];
	struct ns_link_info vx;
	unsigned int ul_mtu, mtu;
	char name[NS_IFNAMSIZ];
	int ul, br, rc;
	size_t n;

	if ((rc = overlay_self(ctx, net, &self, &ul, &ul_mtu, err)) < 0)
		return rc;
	mtu = net->mtu ? net->mtu : ul_mtu - NS_VXLAN_OVERHEAD;
	if ((rc = ns_bridge_ensure(ctx, net, mtu, &br, err)) < 0)
		return rc;
	vxlan_name(net, name);
	rc = ns_link_get(ctx->nl, name, &vx, err);
	if (rc == -ENODEV) {
		spec.name = name;
		spec.mtu = mtu;
		spec.master = br;
		spec.vxlan.vni = net->vni;
		spec.vxlan.local = self;
		spec.vxlan.dev = ul;
		spec.vxlan.learning = false;
		spec.vxlan.proxy = true;
		rc = ns_link_add(ctx->nl, &spec, err);
		if ((rc < 0 && rc != -EEXIST) || (rc = ns_link_get(ctx->nl, name, &vx, err)) < 0)
			return rc;
	} else if (rc < 0) {
		return rc;
	}
	if ((rc = overlay_peers(ctx, net, peers, &n, err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (!ns_ip_equal(&peers[i], &self) &&
		    (rc = ns_fdb_add(ctx->nl, vx.ifindex, flood, &peers[i], true, err)) < 0)
			return rc;
	return program_remote(ctx, net, vx.ifindex, &self, full, err);
}

static int overlay_teardown(struct ns_ctx *ctx, const struct ns_network *net,
			    struct ns_error *err)
{
	char name[NS_IFNAMSIZ];
	int rc;

	vxlan_name(net, name);
	rc = ns_link_del(ctx->nl, name, err);
	if (rc < 0 && rc != -ENODEV)
		return rc;
	return ns_bridge_teardown(ctx, net, err);
}

static int overlay_prepare(struct ns_ctx *ctx, const struct ns_network *net,
			   struct ns_endpoint *ep, struct ns_error *err)
{
	unsigned int ul_mtu;
	int ul;

	ns_bridge_prepare(ctx, net, ep, err);
	return overlay_self(ctx, net, &ep->host, &ul, &ul_mtu, err);
}

static int overlay_attach(struct ns_ctx *ctx, const struct ns_network *net,
			  struct ns_endpoint *ep, int netns_fd, struct ns_error *err)
{
	unsigned int ul_mtu;
	int ul, rc;

	if ((rc = overlay_self(ctx, net, &ep->host, &ul, &ul_mtu, err)) < 0)
		return rc;
	return ns_bridge_attach_veth(ctx, net, ep, netns_fd,
				     net->mtu ? net->mtu : ul_mtu - NS_VXLAN_OVERHEAD, err);
}

static int overlay_is_local(struct ns_ctx *ctx, const struct ns_network *net,
			    const struct ns_endpoint *eps, size_t n, bool *local,
			    struct ns_error *err)
{
	struct ns_ip self;
	unsigned int mtu;
	int ul, rc;

	if ((rc = overlay_self(ctx, net, &self, &ul, &mtu, err)) < 0)
		return rc;
	/* A record without a host address is an attach still in progress, somewhere. */
	for (size_t i = 0; i < n; i++)
		local[i] = ns_ip_equal(&eps[i].host, &self);
	return 0;
}

static int overlay_detach(struct ns_ctx *ctx, const struct ns_network *net,
			  const struct ns_endpoint *ep, struct ns_error *err)
{
	char buf[NS_IP_STRLEN];
	bool local;

	/* Its veth is on its own host; "detaching" it from here would only orphan it there. */
	if (ep->host.family && (overlay_is_local(ctx, net, ep, 1, &local, NULL) < 0 || !local))
		return ns_error_set(err, -EREMOTE, "endpoint %s lives on host %s; detach it there",
				    ep->id, ns_ip_format(&ep->host, buf));
	return ns_bridge_detach(ctx, net, ep, err);
}

static void overlay_inspect(const struct ns_network *net, json_t *options)
{
	json_t *peers = json_array();
	char buf[NS_IP_STRLEN];

	json_object_set_new(options, "vxlan_id", json_integer(net->vni));
	for (size_t i = 0; i < net->n_peers; i++)
		json_array_append_new(peers, json_string(ns_ip_format(&net->peers[i], buf)));
	json_object_set_new(options, "peers", peers);
	if (net->nodes_dir[0])
		json_object_set_new(options, "nodes_dir", json_string(net->nodes_dir));
	ns_bridge_inspect(net, options);
}

const struct ns_driver_ops ns_driver_overlay = {
	.kind = NS_DRIVER_OVERLAY,
	.name = "overlay",
	.check = overlay_check,
	.setup = overlay_setup,
	.teardown = overlay_teardown,
	.prepare = overlay_prepare,
	.attach = overlay_attach,
	.detach = overlay_detach,
	.inspect = overlay_inspect,
	.is_local = overlay_is_local,
};
