/* endpoints.h — merging the endpoints netsetup attached (state directory records) into a
 * policy inventory, so `netpol apply` enforces policy on them like on Pod objects. */
#ifndef NETPOL_ENFORCER_ENDPOINTS_H
#define NETPOL_ENFORCER_ENDPOINTS_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* netsetup's (netstore.h, network.h): declared, not included, as kernel headers clash with
 * the libc ones netsetup's bring */
struct ns_store_conf;
struct ns_endpoint;

/* For every endpoint record under state_dir that names a pod (--pod NS/NAME): a Pod object of
 * that namespace/name gets the record's addresses (when it has none), host interface, driver
 * and netns; without a Pod object, a pod is created from the record (its labels, its
 * addresses). Records of every network under STATE/endpoints count, defined or not (chained
 * CNI attachments have none). Endpoint-only pods are on the node their record names, else on
 * the Node whose InternalIP is the endpoint's host address, if such a Node object exists. A
 * record whose names a Pod object could not have (its namespace, pod name or host interface:
 * they name chains and set elements of the ruleset) is left out, with a warning in notes (may
 * be NULL) saying why. Returns the number of endpoints merged, or a negative errno with a
 * message in err. */
int endpoints_merge(struct np_inventory *inv, const char *state_dir, struct np_diags *notes,
		    char *err, size_t errlen);
/* The same from the store conf names (NULL: the state directory; with an etcd store every
 * host's records, state_dir being this host's part). digest (may be NULL): the records' digest,
 * as endpoints_digest gives it. */
int endpoints_merge_from(struct np_inventory *inv, const char *state_dir,
			 const struct ns_store_conf *store, struct np_diags *notes,
			 uint64_t *digest, char *err, size_t errlen);
/* A digest of what the records under state_dir bring into a model (every field the merge
 * takes, in the order it takes them): equal digests, equal merges. 0 or -errno with err. */
int endpoints_digest(const char *state_dir, uint64_t *digest, char *err, size_t errlen);
/* The same for records already in hand (v[0..n), such as those an agent learned by watch). */
void endpoints_merge_records(struct np_inventory *inv, const struct ns_endpoint *const *v,
			     size_t n, struct np_diags *notes);

#endif
