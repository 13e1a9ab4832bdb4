/* podnet.h — policy for macvlan pods, enforced inside each pod's own network namespace.
 *
 * Traffic between macvlan siblings is switched by the parent device and never reaches the
 * node's netfilter hooks, so the node table cannot see it. Every local pod attached through
 * macvlan (endpoint record: driver "macvlan" and a netns) gets its own one-pod table there,
 * built with rs_options.netns_local (ingress on input, egress on output) and programmed with
 * the same libnftnl machinery over an nf_tables socket opened inside that netns. */
#ifndef NETPOL_ENFORCER_PODNET_H
#define NETPOL_ENFORCER_PODNET_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"
#include "ruleset.h"

struct podnet_opts {
	struct rs_options ro; /* as for the node table (node, reject, table name); netns_local
				 and local_pod are set per pod */
	uint32_t table_flags; /* as for the node table (owner + persist) */
	bool full;            /* replace each pod's table whole */
	bool check;           /* send without committing */
	bool no_ct;           /* leave conntrack entries alone */
};

/* Whether pod's rules live in its own netns on this node: attached through macvlan, with a
 * netns and addresses, not host-network, and on node (NULL: every pod; a pod with no node is
 * taken as local, since a non-overlay endpoint record lives in this host's state directory). */
bool podnet_pod_wanted(const struct np_pod *pod, const char *node);

/* Syncs every wanted pod's table inside its netns (diff against what the kernel holds there,
 * one transaction per pod, conntrack clean-up there). Prints one line per pod; a pod whose
 * netns is gone is reported and skipped. Returns 0, or 1 when some pod failed. */
int podnet_apply(const struct np_inventory *inv, const struct podnet_opts *o);

/* Compares every wanted pod's table with what its netns holds; prints "in sync", "absent" or
 * "drifted" with the differing objects, and the pod's allowed-packet counters. Returns 0 when
 * all are in sync, 1 otherwise. */
int podnet_status(const struct np_inventory *inv, const struct podnet_opts *o);

/* Writes every wanted pod's ruleset as nft text, each preceded by
 * "# in netns PATH (pod NS/NAME, macvlan)". 0 or -errno. */
int podnet_render(const struct np_inventory *inv, const struct rs_options *ro, FILE *f);

/* Removes table (inet) from the netns of every macvlan endpoint recorded under state_dir.
 * Prints one line per netns. Returns 0, or 1 when some removal failed. */
int podnet_flush(const char *state_dir, const char *table);

#endif
