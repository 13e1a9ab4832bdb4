/* addr.h — layer-3 objects over rtnetlink: addresses, routes, neighbours and bridge FDB entries.
 * All adds are idempotent (NLM_F_REPLACE, or -EEXIST mapped to success where noted). */
#ifndef NETSETUP_ADDR_H
#define NETSETUP_ADDR_H

#include <stdbool.h>
#include <stdint.h>

#include "ip.h"
#include "nl.h"

/* Adds p (address + prefix length) to ifindex. nodad skips IPv6 duplicate address detection so
 * the address is usable at once (a fresh container link cannot have a duplicate). */
int ns_addr_add(struct ns_nl *nl, int ifindex, const struct ns_prefix *p, bool nodad,
		struct ns_error *err);
int ns_addr_del(struct ns_nl *nl, int ifindex, const struct ns_prefix *p, struct ns_error *err);
/* Finds the link holding address ip; -ENOENT when no link has it. out-params may be NULL. */
int ns_addr_find(struct ns_nl *nl, const struct ns_ip *ip, int *ifindex, int *prefixlen,
		 struct ns_error *err);

/* Adds or replaces a route to dst (NULL: default route) via gw (NULL: on-link) out of ifindex. */
int ns_route_add(struct ns_nl *nl, int family, const struct ns_prefix *dst,
		 const struct ns_ip *gw, int ifindex, struct ns_error *err);

/* Adds or replaces a permanent neighbour entry ip -> mac on ifindex. */
int ns_neigh_add(struct ns_nl *nl, int ifindex, const struct ns_ip *ip, const uint8_t mac[6],
		 struct ns_error *err);
/* Deletes it; -ENOENT when absent. */
int ns_neigh_del(struct ns_nl *nl, int ifindex, const struct ns_ip *ip, struct ns_error *err);

/* Adds a permanent forwarding entry mac -> dst on a vxlan (or bridge port) ifindex. append adds
 * one more destination for the same mac, as the all-zero flood entry needs one per peer. */
int ns_fdb_add(struct ns_nl *nl, int ifindex, const uint8_t mac[6], const struct ns_ip *dst,
	       bool append, struct ns_error *err);
/* Deletes the entry mac (-> dst when dst is given); -ENOENT when absent. */
int ns_fdb_del(struct ns_nl *nl, int ifindex, const uint8_t mac[6], const struct ns_ip *dst,
	       struct ns_error *err);

/* One FDB entry as dumped. */
struct ns_fdb_entry {
	uint8_t mac[6];
	struct ns_ip dst; /* family 0 when the entry has no remote destination */
	uint16_t state;   /* NUD_* */
};
/* Calls fn for every FDB entry of ifindex (family AF_BRIDGE). */
int ns_fdb_list(struct ns_nl *nl, int ifindex,
		void (*fn)(const struct ns_fdb_entry *e, void *data), void *data,
		struct ns_error *err);

#endif
