/* nodes.c — see nodes.h. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "model.h"
#include "nodes.h"

int nodes_load_addrs(const char *dir, struct ns_ip *out, size_t max, size_t *n,
		     struct ns_error *err)
{
	struct np_inventory *inv = np_inventory_new();
	struct np_diags diags;
	int rc;

	if (!inv)
		abort();
	np_diags_init(&diags);
	rc = np_inventory_load_dir(inv, dir, &diags);
	np_diags_free(&diags);
	if (rc < 0) {
		np_inventory_free(inv);
		return ns_error_set(err, rc, "nodes directory %s: %s", dir, strerror(-rc));
	}
	*n = 0;
	for (size_t i = 0; i < inv->n_nodes; i++)
		for (size_t k = 0; k < inv->nodes[i].n_addrs && *n < max; k++) {
			const struct np_addr *a = &inv->nodes[i].addrs[k];
			struct ns_ip *ip = &out[(*n)++];
			memset(ip, 0, sizeof(*ip));
			ip->family = a->family == 4 ? AF_INET : AF_INET6;
			memcpy(ip->a, a->b, a->family == 4 ? 4 : 16);
		}
	np_inventory_free(inv);
	return 0;
}
