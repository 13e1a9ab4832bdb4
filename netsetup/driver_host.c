/* driver_host.c — the host driver: the endpoint shares the node's netns, so there is nothing
 * to create; the record alone lets policy name it (host-network pods are never isolated). */
#include <errno.h>

#include "driver.h"

static int host_check(struct ns_ctx *ctx, struct ns_network *net, struct ns_error *err)
{
	if (net->masquerade || net->hairpin || net->parent[0] || net->vni || net->n_peers)
		return ns_error_set(err, -EINVAL, "the host driver takes no options");
	return 0;
}

static int host_setup(struct ns_ctx *ctx, const struct ns_network *net, bool full,
		      struct ns_error *err)
{
	return 0;
}

static int host_teardown(struct ns_ctx *ctx, const struct ns_network *net,
			 struct ns_error *err)
{
	return 0;
}

static int host_attach(struct ns_ctx *ctx, const struct ns_network *net, struct ns_endpoint *ep,
		       int netns_fd, struct ns_error *err)
{
	return 0;
}

static int host_detach(struct ns_ctx *ctx, const struct ns_network *net,
		       const struct ns_endpoint *ep, struct ns_error *err)
{
	return 0;
}

const struct ns_driver_ops ns_driver_host = {
	.kind = NS_DRIVER_HOST,
	.name = "host",
	.in_node_netns = true,
	.check = host_check,
	.setup = host_setup,
	.teardown = host_teardown,
	.attach = host_attach,
	.detach = host_detach,
};
