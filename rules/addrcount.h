/* addrcount.h — how many pods have each address. A peer set can lose a removed pod's address
 * only when no other pod has it (an address is reused, or two pods claim it). */
#ifndef NETPOL_ADDRCOUNT_H
#define NETPOL_ADDRCOUNT_H

#include <stddef.h>

#include "model.h"

struct addr_count;

struct addr_count *addr_count_new(void);
void addr_count_free(struct addr_count *c);
/* Counts pod p's addresses delta more times (1: p comes, -1: p goes). A host-network pod, or
 * NULL, counts nothing: its addresses are the node's. */
void addr_count_pod(struct addr_count *c, const struct np_pod *p, long delta);
/* Counts address a delta more times. */
void addr_count_add(struct addr_count *c, const struct np_addr *a, long delta);
/* How many pods counted have address a. */
size_t addr_count_get(const struct addr_count *c, const struct np_addr *a);

#endif
