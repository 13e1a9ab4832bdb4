/* ipam.h — file-backed address management for one network.
 *
 * Leases live in one JSON file ({"leases": {"10.0.0.2": "owner", ...}}, mode 0600); every
 * change holds an exclusive flock on "<file>.lock" and replaces the file atomically and
 * durably (util/atomicio.h), so any number of processes may allocate at once, and a crash or
 * power cut leaves the leases of before or after a change, never half a file. */
#ifndef NETSETUP_IPAM_H
#define NETSETUP_IPAM_H

#include <stdbool.h>
#include <stddef.h>

#include "ip.h"
#include "nl.h"

/* One address pool: a subnet, the part of it to hand out, and the reserved gateway. */
struct ns_ipam_pool {
	struct ns_prefix subnet;
	struct ns_prefix range;   /* allocate only inside; equal to subnet when not narrowed */
	struct ns_ip gateway;     /* family 0: no gateway */
};

/* Leases one address from each pool for owner, all or nothing. wanted[] are static requests:
 * each must fall in one pool's subnet, be neither the network, broadcast nor gateway address,
 * and be free; otherwise the call fails with a message naming the address (and its holder).
 * Pools without a wanted address get their lowest free address in range. out[i] is pool i's. */
int ns_ipam_allocate(const char *file, const struct ns_ipam_pool *pools, size_t n_pools,
		     const char *owner, const struct ns_ip *wanted, size_t n_wanted,
		     struct ns_ip *out, struct ns_error *err);
/* Releases every lease held by owner; releasing nothing is success. */
int ns_ipam_release(const char *file, const char *owner, struct ns_error *err);
/* Number of leases in the file (0 when it does not exist). */
int ns_ipam_count(const char *file, size_t *count, struct ns_error *err);

/* ---- the pieces every store's allocation shares (netstore.h) ---- */

/* Addresses no endpoint may hold in pool p: network and broadcast (IPv4) and the gateway. */
bool ns_ipam_reserved(const struct ns_ipam_pool *p, const struct ns_ip *ip);
/* Checks static requests against the pools (each in one pool's subnet, at most one per pool,
 * not reserved) and puts each at its pool's index: want[i] (family 0: pool i has none). */
int ns_ipam_wanted(const struct ns_ipam_pool *pools, size_t n_pools, const struct ns_ip *wanted,
		   size_t n_wanted, struct ns_ip *want, struct ns_error *err);
/* The lowest address of p's range that is not reserved and for which taken(ip, arg) is false;
 * -ENOSPC when there is none. */
int ns_ipam_pick(const struct ns_ipam_pool *p, bool (*taken)(const struct ns_ip *ip, void *arg),
		 void *arg, struct ns_ip *out);

#endif
