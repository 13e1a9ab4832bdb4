/* driver_macvlan.c — a macvlan sub-interface of --parent, created straight inside the
 * container netns (no rename or move step), with its address and gateway route. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "container.h"
#include "driver.h"

static const char *const mode_names[] = {
	[NS_MACVLAN_BRIDGE] = "bridge",
	[NS_MACVLAN_PRIVATE] = "private",
	[NS_MACVLAN_VEPA] = "vepa",
};

const char *ns_macvlan_mode_name(enum ns_macvlan_mode mode)
{
	return mode_names[mode];
}

int ns_macvlan_mode_parse(const char *s, enum ns_macvlan_mode *out)
{
	for (size_t i = 0; s && i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (!strcmp(s, mode_names[i])) {
			*out = (enum ns_macvlan_mode)i;
			return 0;
		}
	return -EINVAL;
}

static int macvlan_check(struct ns_ctx *ctx, struct ns_network *net, struct ns_error *err)
{
	struct ns_link_info li;
	int rc;

	if (!net->parent[0])
		return ns_error_set(err, -EINVAL, "the macvlan driver needs --parent IF");
	if (net->masquerade || net->hairpin || net->vni || net->n_peers)
		return ns_error_set(err, -EINVAL,
				    "macvlan takes only --parent, --mode, --subnet, --gateway, --ip-range, --mtu");
	if ((rc = ns_link_get(ctx->nl, net->parent, &li, err)) < 0)
		return ns_error_wrap(err, rc, "parent");
	return 0;
}

static int macvlan_setup(struct ns_ctx *ctx, const struct ns_network *net, bool full,
			 struct ns_error *err)
{
	return 0; /* the parent is the operator's; nothing on the node side is ours */
}

static int macvlan_teardown(struct ns_ctx *ctx, const struct ns_network *net,
			    struct ns_error *err)
{
	return 0;
}

/* Deletes ifname inside the endpoint's netns; a netns or link already gone is success. */
static int delete_in_netns(const struct ns_endpoint *ep, struct ns_error *err)
{
	struct ns_nl *nl;
	int fd, rc;

	if (ns_netns_open(ep->netns, &fd, NULL) < 0)
		return 0; /* netns gone: the macvlan went with it */
	nl = ns_nl_new(fd, err);
	close(fd);
	if (!nl)
		return -EIO;
	rc = ns_link_del(nl, ep->ifname, err);
	ns_nl_free(nl);
	return rc == -ENODEV ? 0 : rc;
}

static int macvlan_attach(struct ns_ctx *ctx, const struct ns_network *net,
			  struct ns_endpoint *ep, int netns_fd, struct ns_error *err)
{
	struct ns_link_spec spec = { .kind = "macvlan", .name = ep->ifname, .netns_fd = netns_fd,
				     .mtu = net->mtu, .up = true };
	struct ns_link_info parent;
	int rc;

	if ((rc = ns_link_get(ctx->nl, net->parent, &parent, err)) < 0)
		return ns_error_wrap(err, rc, "macvlan parent");
	spec.macvlan.parent = parent.ifindex;
	spec.macvlan.mode = net->mode;
	spec.mac = ep->mac[0] & 0x02 ? ep->mac : NULL; /* from birth, as the bridge veth (intent.h) */
	if ((rc = ns_link_add(ctx->nl, &spec, err)) < 0)
		return rc;
	if ((rc = ns_container_configure(netns_fd, ep, err)) < 0)
		delete_in_netns(ep, NULL);
	return rc;
}

static int macvlan_detach(struct ns_ctx *ctx, const struct ns_network *net,
			  const struct ns_endpoint *ep, struct ns_error *err)
{
	return delete_in_netns(ep, err);
}

static void macvlan_inspect(const struct ns_network *net, json_t *options)
{
	json_object_set_new(options, "parent", json_string(net->parent));
	json_object_set_new(options, "macvlan_mode", json_string(mode_names[net->mode]));
}

const struct ns_driver_ops ns_driver_macvlan = {
	.kind = NS_DRIVER_MACVLAN,
	.name = "macvlan",
	.check = macvlan_check,
	.setup = macvlan_setup,
	.teardown = macvlan_teardown,
	.attach = macvlan_attach,
	.detach = macvlan_detach,
	.inspect = macvlan_inspect,
};
