/* driver_overlay.c — VXLAN overlay spanning hosts, as Docker overlay and flannel's vxlan
 * backend build it: on each host the network's bridge plus one vxlan device (VNI, UDP 4789,
 * local underlay address, learning off) enslaved to it. Peers come from --peer addresses and
 * Node objects; every other peer gets an all-zero flood FDB entry (head-end replication, no
 * multicast), and every remote endpoint a permanent FDB entry (its MAC -> its host) plus a
 * neighbour entry on the vxlan device, which answers ARP/ND itself (proxy) so resolution never
 * crosses the underlay. The state directory is the cluster store the hosts share. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>

#include "addr.h"
#include "driver.h"
#include "yamldoc.h"

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

struct node_scan {
	struct ns_ip *out;
	size_t max, *n;
};

/* A Node (or a List of them): status.addresses[] entries of type InternalIP. */
static void node_obj(struct node_scan *s, json_t *obj)
{
	json_t *items = json_object_get(obj, "items"), *addrs, *a;
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	size_t i;

	if (json_is_array(items)) {
		json_array_foreach(items, i, a)
			node_obj(s, a);
		return;
	}
	if (!kind || strcmp(kind, "Node"))
		return;
	addrs = json_object_get(json_object_get(obj, "status"), "addresses");
	json_array_foreach(addrs, i, a) {
		const char *type = json_string_value(json_object_get(a, "type"));
		struct ns_ip ip;
		if (type && !strcmp(type, "InternalIP") &&
		    ns_ip_parse(json_string_value(json_object_get(a, "address")), &ip) == 0)
			add_peer(s->out, s->max, s->n, &ip);
	}
}

static void yaml_doc(void *ctx, int doc, json_t *root)
{
	if (root)
		node_obj(ctx, root);
}

static void yaml_error(void *ctx, int doc, int line, int col, const char *msg)
{
	/* A file we cannot read contributes no peers; `netpol check` reports it properly. */
}

static int read_nodes_dir(const char *dir, struct node_scan *s, struct ns_error *err)
{
	struct np_yaml_sink sink = { s, yaml_doc, yaml_error };
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];

	if (!d)
		return ns_error_set(err, -errno, "nodes directory %s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		const char *dot = strrchr(de->d_name, '.');
		json_t *j;
		if (de->d_name[0] == '.' || !dot)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!strcmp(dot, ".json")) {
			if ((j = json_load_file(path, 0, NULL))) {
				node_obj(s, j);
				json_decref(j);
			}
		} else if (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml")) {
			FILE *f = fopen(path, "re");
			char *text = NULL;
			size_t len = 0;
			if (!f)
				continue;
			FILE *m = open_memstream(&text, &len);
			char buf[8192];
			size_t got;
			while (m && (got = fread(buf, 1, sizeof(buf), f)) > 0)
				fwrite(buf, 1, got, m);
			fclose(f);
			if (m) {
				fclose(m);
				np_yaml_load(text, len, &sink);
			}
			free(text);
		}
	}
	closedir(d);
	return 0;
}

int ns_overlay_peers(const struct ns_network *net, struct ns_ip *out, size_t max, size_t *n,
		     struct ns_error *err)
{
	struct node_scan s = { out, max, n };

	*n = 0;
	for (size_t i = 0; i < net->n_peers; i++)
		add_peer(out, max, n, &net->peers[i]);
	if (net->nodes_dir[0])
		return read_nodes_dir(net->nodes_dir, &s, err);
	return 0;
}

int ns_overlay_self(struct ns_ctx *ctx, const struct ns_network *net, struct ns_ip *self,
		    int *ifindex, unsigned int *mtu, struct ns_error *err)
{
	struct ns_ip peers[NS_MAX_PEERS];
	struct ns_link_info li;
	size_t n;
	int rc, idx;

	if ((rc = ns_overlay_peers(net, peers, NS_MAX_PEERS, &n, err)) < 0)
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
	if ((rc = ns_overlay_peers(net, peers, NS_MAX_PEERS, &n, err)) < 0)
		return rc;
	if (!n)
		return ns_error_set(err, -EINVAL, "the overlay driver needs --peer ADDR or --nodes DIR");
	return ns_bridge_check(ctx, net, err);
}

struct stale_scan {
	const struct ns_endpoint *eps;
	size_t n;
	const struct ns_ip *self;
	struct ns_fdb_entry stale[256];
	size_t n_stale;
};

static void stale_cb(const struct ns_fdb_entry *e, void *data)
{
	static const uint8_t zero[6];
	struct stale_scan *s = data;

	if (!memcmp(e->mac, zero, 6) || !e->dst.family || s->n_stale == 256)
		return;
	for (size_t i = 0; i < s->n; i++)
		if (!memcmp(s->eps[i].mac, e->mac, 6) && ns_ip_equal(&s->eps[i].host, &e->dst) &&
		    !ns_ip_equal(&s->eps[i].host, s->self))
			return;
	s->stale[s->n_stale++] = *e;
}

/* Programs every remote endpoint of the network (FDB + neighbours on the vxlan device); with
 * full, also drops entries of endpoints that are gone. */
static int program_remote(struct ns_ctx *ctx, const struct ns_network *net, int vx,
			  const struct ns_ip *self, bool full, struct ns_error *err)
{
	static const uint8_t zero[6];
	struct ns_endpoint *eps;
	struct stale_scan *s;
	size_t n;
	int rc;

	if ((rc = ns_endpoints_load(ctx, net->name, &eps, &n, err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const struct ns_endpoint *ep = &eps[i];
		if (!ep->host.family || ns_ip_equal(&ep->host, self) || !memcmp(ep->mac, zero, 6))
			continue;
		if ((rc = ns_fdb_add(ctx->nl, vx, ep->mac, &ep->host, false, err)) < 0)
			goto out;
		for (size_t k = 0; k < ep->n_addrs; k++)
			if ((rc = ns_neigh_add(ctx->nl, vx, &ep->addrs[k].ip, ep->mac, err)) < 0)
				goto out;
	}
	if (full) {
		s = calloc(1, sizeof(*s));
		if (!s)
			abort();
		s->eps = eps;
		s->n = n;
		s->self = self;
		rc = ns_fdb_list(ctx->nl, vx, stale_cb, s, err);
		for (size_t i = 0; rc == 0 && i < s->n_stale; i++) {
			rc = ns_fdb_del(ctx->nl, vx, s->stale[i].mac, &s->stale[i].dst, err);
			if (rc == -ENOENT)
				rc = 0;
		}
		free(s);
	}
out:
	ns_endpoints_free(eps, n);
	return rc;
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

	if ((rc = ns_overlay_self(ctx, net, &self, &ul, &ul_mtu, err)) < 0)
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
	if ((rc = ns_overlay_peers(net, peers, NS_MAX_PEERS, &n, err)) < 0)
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

static int overlay_attach(struct ns_ctx *ctx, const struct ns_network *net,
			  struct ns_endpoint *ep, int netns_fd, struct ns_error *err)
{
	unsigned int ul_mtu;
	int ul, rc;

	if ((rc = ns_overlay_self(ctx, net, &ep->host, &ul, &ul_mtu, err)) < 0)
		return rc;
	return ns_bridge_attach_veth(ctx, net, ep, netns_fd,
				     net->mtu ? net->mtu : ul_mtu - NS_VXLAN_OVERHEAD, err);
}

static int overlay_detach(struct ns_ctx *ctx, const struct ns_network *net,
			  const struct ns_endpoint *ep, struct ns_error *err)
{
	struct ns_ip self;
	unsigned int mtu;
	char buf[NS_IP_STRLEN];
	int ul;

	/* Its veth is on its own host; "detaching" it from here would only orphan it there. */
	if (ep->host.family &&
	    (ns_overlay_self(ctx, net, &self, &ul, &mtu, NULL) < 0 || !ns_ip_equal(&self, &ep->host)))
		return ns_error_set(err, -EREMOTE, "endpoint %s lives on host %s; detach it there",
				    ep->id, ns_ip_format(&ep->host, buf));
	return ns_bridge_detach(ctx, net, ep, err);
}

const struct ns_driver_ops ns_driver_overlay = {
	NS_DRIVER_OVERLAY, "overlay", overlay_check, overlay_setup, overlay_teardown,
	overlay_attach, overlay_detach,
};
