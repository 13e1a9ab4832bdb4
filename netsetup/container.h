/* container.h — the container side of an attachment, the same for every driver that gives a
 * container an interface of its own (bridge, overlay, macvlan): once the driver has put the
 * interface into the container's netns, this brings it up with the endpoint's addresses and
 * default routes. */
#ifndef NETSETUP_CONTAINER_H
#define NETSETUP_CONTAINER_H

#include "network.h"

/* Inside netns_fd: lo up, ep->ifname up with ep->addrs, a default route per family via
 * ep->gateways, and its MAC set to ep->mac (or, when ep->mac is all zero, the interface's read
 * back into it). Adding what is already there is success. On failure the interface is left for
 * the caller to delete (deleting it removes its addresses and routes with it). */
int ns_container_configure(int netns_fd, struct ns_endpoint *ep, struct ns_error *err);

#endif
