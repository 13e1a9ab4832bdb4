/* podaddr.c — see podaddr.h: one sorted array, found by binary search. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "podaddr.h"
#include "xalloc.h"

struct pod_addr {
	struct np_addr addr;
	const struct np_pod *pod;
};

struct podaddr {
	struct pod_addr *v;
	size_t n;
};

static int pod_addr_cmp(const void *a, const void *b)
{
	return np_addr_cmp(&((const struct pod_addr *)a)->addr, &((const struct pod_addr *)b)->addr);
}

struct podaddr *podaddr_new(const struct np_inventory *inv)
{
	struct podaddr *x = xcalloc(1, sizeof(*x));
	size_t n = 0;
	for (size_t i = 0; i < inv->n_pods; i++)
		n += inv->pods[i].host_network ? 0 : inv->pods[i].n_ips;
	x->v = xcalloc(n ? n : 1, sizeof(*x->v));
	for (size_t i = 0; i < inv->n_pods; i++)
		for (size_t j = 0; !inv->pods[i].host_network && j < inv->pods[i].n_ips; j++)
			x->v[x->n++] = (struct pod_addr){ inv->pods[i].ips[j], &inv->pods[i] };
	qsort(x->v, x->n, sizeof(*x->v), pod_addr_cmp);
	return x;
}

void podaddr_free(struct podaddr *x)
{
	if (!x)
		return;
	free(x->v);
	free(x);
}

void podaddr_endpoint(const struct podaddr *x, const struct np_addr *a, struct np_endpoint *e)
{
	struct pod_addr key = { .addr = *a };
	const struct pod_addr *hit = bsearch(&key, x->v, x->n, sizeof(*x->v), pod_addr_cmp);
	e->pod = hit ? hit->pod : NULL;
	e->addr = *a;
}

void podaddr_conn_flow(const struct podaddr *x, const struct ct_conn *c, struct np_flow *f)
{
	struct np_addr src = { .family = c->family }, dst = { .family = c->family };
	memcpy(src.b, c->orig.src, c->family == 4 ? 4 : 16);
	memcpy(dst.b, c->reply.src, c->family == 4 ? 4 : 16);
	memset(f, 0, sizeof(*f));
	podaddr_endpoint(x, &src, &f->src);
	podaddr_endpoint(x, &dst, &f->dst);
	f->proto = (enum np_proto)c->proto;
	bool ports = c->proto == IPPROTO_TCP || c->proto == IPPROTO_UDP ||
		     c->proto == IPPROTO_SCTP;
	f->port = ports ? c->reply.sport : 0;
}
