/* container.c — see container.h. */
#include <errno.h>
#include <string.h>

#include <linux/if.h>

#include "addr.h"
#include "container.h"

int ns_container_configure(int netns_fd, struct ns_endpoint *ep, struct ns_error *err)
{
	static const uint8_t zero[6];
	struct ns_link_change ch = NS_LINK_CHANGE_NONE;
	struct ns_link_info li, lo;
	struct ns_nl *nl;
	int rc;

	nl = ns_nl_new(netns_fd, err);
	if (!nl)
		return -EIO;
	if ((rc = ns_link_get(nl, ep->ifname, &li, err)) < 0)
		goto out;
	if (memcmp(ep->mac, zero, 6) && memcmp(ep->mac, li.mac, 6)) {
		/* the MAC the record was written with (network.c chose it) */
		ch.mac = ep->mac;
		if ((rc = ns_link_set(nl, li.ifindex, &ch, err)) < 0)
			goto out;
		ch.mac = NULL;
	}
	if (ns_link_get(nl, "lo", &lo, NULL) == 0 && !(lo.flags & IFF_UP)) {
		ch.up = 1;
		if ((rc = ns_link_set(nl, lo.ifindex, &ch, err)) < 0)
			goto out;
	}
	if (!(li.flags & IFF_UP)) {
		ch.up = 1;
		if ((rc = ns_link_set(nl, li.ifindex, &ch, err)) < 0)
			goto out;
	}
	for (size_t i = 0; i < ep->n_addrs; i++)
		if ((rc = ns_addr_add(nl, li.ifindex, &ep->addrs[i], true, err)) < 0)
			goto out;
	for (size_t i = 0; i < ep->n_addrs; i++)
		if (ep->gateways[i].family &&
		    (rc = ns_route_add(nl, ep->gateways[i].family, NULL, &ep->gateways[i], li.ifindex,
				       err)) < 0)
			goto out;
	if (!memcmp(ep->mac, zero, 6))
		memcpy(ep->mac, li.mac, 6);
out:
	ns_nl_free(nl);
	if (rc < 0)
		return ns_error_wrap(err, rc, "in netns %s", ep->netns);
	return 0;
}
