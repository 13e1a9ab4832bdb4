/* podaddr.h — the pods of an inventory by address, and the flow a conntrack entry stands for.
 * Judging thousands of connections (the conntrack step after a change, the flow collector,
 * netpol preview) must never scan every pod per connection, which np_endpoint_addr does. */
#ifndef NETPOL_ENFORCER_PODADDR_H
#define NETPOL_ENFORCER_PODADDR_H

#include "ctindex.h"
#include "eval.h"
#include "model.h"

struct podaddr;

/* The pods of inv (which must outlive it) by address; host-network pods are left out: their
 * address is their node's. */
struct podaddr *podaddr_new(const struct np_inventory *inv);
void podaddr_free(struct podaddr *x);

/* The pod owning a (not host-network), or a bare address (e->pod NULL). */
void podaddr_endpoint(const struct podaddr *x, const struct np_addr *a, struct np_endpoint *e);

/* The flow as the forward hook saw the connection's first packet: the original source, and the
 * reply's source as destination (the real pod behind a DNAT, e.g. a Service), its port
 * likewise (0 for protocols without ports). */
void podaddr_conn_flow(const struct podaddr *x, const struct ct_conn *c, struct np_flow *f);

#endif
