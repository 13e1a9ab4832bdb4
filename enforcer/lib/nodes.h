/* nodes.h — Node objects as overlay peers: the programs that create, attach to or sync an
 * overlay network (netpol net, netpol-cni) read the Node objects of its nodes directory here,
 * with the same parser as policy (rules/), and hand netsetup their addresses. */
#ifndef NETPOL_ENFORCER_NODES_H
#define NETPOL_ENFORCER_NODES_H

#include "network.h"

/* The InternalIP addresses of the Node objects (and NodeLists) in dir's *.json, *.yaml and
 * *.yml files, nodes in name order, at most max into out[0..*n). Other objects are skipped,
 * and so is an object with an error (`netpol check` reports it): a broken file costs its own
 * peers, not the network. An ns_node_addrs_fn (network.h): set ctx->node_addrs to it. 0, or
 * -errno with err set when dir cannot be read. */
int nodes_load_addrs(const char *dir, struct ns_ip *out, size_t max, size_t *n,
		     struct ns_error *err);

#endif
