/* podnet.h — the pod-netns targets: policy for macvlan pods, enforced inside each pod's own
 * network namespace.
 *
 * Traffic between macvlan siblings is switched by the parent device and never reaches the
 * node's netfilter hooks, so the node table cannot see it. Every local pod attached through
 * macvlan (endpoint record: driver "macvlan" and a netns) gets its own one-pod table there,
 * built with rs_options.netns_local (ingress on input, egress on output). This module says
 * which pods those are and moves the calling thread into and out of their netns; the apply
 * pipeline (apply.h) runs each of them as one more target, over an nf_tables socket opened
 * inside the netns. */
#ifndef NETPOL_ENFORCER_PODNET_H
#define NETPOL_ENFORCER_PODNET_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"
#include "nl.h"
#include "ruleset.h"

/* One macvlan pod's table: where it lives and how its ruleset is built. */
struct podnet_target {
	char *pod;            /* "ns/name" */
	char *netns;          /* the path of the pod's network namespace */
	struct rs_options ro; /* the node's options, with netns_local set and local_pod = pod */
};

/* Whether pod's rules live in its own netns on this node: attached through macvlan, with a
 * netns and addresses, not host-network, and on node (NULL: every pod; a pod with no node is
 * taken as local, since a non-overlay endpoint record lives in this host's state directory). */
bool podnet_pod_wanted(const struct np_pod *pod, const char *node);

/* The targets of inv's wanted pods on ro->node, in inventory order (ro's strings must outlive
 * them; *n may be 0). */
void podnet_targets(const struct np_inventory *inv, const struct rs_options *ro,
		    struct podnet_target **out, size_t *n);
void podnet_targets_free(struct podnet_target *v, size_t n);

/* Moves the calling thread into the netns at path, keeping the one it leaves in *saved (back
 * with ns_netns_restore). -ENOENT or -EINVAL (a stale mount point) mean the netns is gone (podnet_gone);
 * -EBUSY that it is the node's own netns, where a pod's table would replace the node's; why in
 * e. */
int podnet_enter(const char *path, int *saved, struct ns_error *e);
/* Whether podnet_enter's r says the netns is gone: nothing of ours is left to enforce. */
bool podnet_gone(int r);

#endif
