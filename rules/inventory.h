/* inventory.h — filling an inventory: the loader's (and any other producer's, such as the CNI
 * endpoint records) way to append objects and sources. Not needed by readers of a finished
 * inventory; model.h is their whole API. */
#ifndef NETPOL_INVENTORY_H
#define NETPOL_INVENTORY_H

#include "model.h"

/* Each returns a zeroed slot at the end of its array (valid until the next add of that kind);
 * np_inventory_finish sorts and de-duplicates afterwards. Abort on out-of-memory. */
struct np_namespace *np_inventory_add_namespace(struct np_inventory *inv);
struct np_pod *np_inventory_add_pod(struct np_inventory *inv);
struct np_policy *np_inventory_add_policy(struct np_inventory *inv);
struct np_node *np_inventory_add_node(struct np_inventory *inv);
struct np_admin_policy *np_inventory_add_admin(struct np_inventory *inv);

/* Takes ownership of path (copied) and text (malloc'ed, len bytes plus a NUL the caller put
 * there); returns the source, owned by the inventory. */
struct np_source *np_inventory_add_source(struct np_inventory *inv, const char *path, char *text,
					  size_t len, int yaml);

/* Reads a whole regular file (at most 256 MiB) into a malloc'ed, NUL-terminated buffer. 0 or
 * -errno (-EISDIR, -EFBIG, -EINVAL for a non-regular file). */
int np_file_read(const char *path, char **out, size_t *len);

/* Sorts labels by key in place; returns the index of the first duplicate key, or -1. */
long np_labels_sort(struct np_labels *labels);

#endif
