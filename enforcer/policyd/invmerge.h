/* invmerge.h — every file's objects merged into one inventory (sorted, duplicates reported and
 * dropped, implicit namespaces added, as np_inventory_finish does), kept between syncs: a sync
 * that changed a few files moves only their pods and policies in the last merge instead of
 * merging every file again. Anything else (namespaces, nodes, admin policies, duplicates, a
 * pod in a namespace nothing declares) is merged whole, as is a merge after many changes. */
#ifndef NETPOL_ENFORCER_INVMERGE_H
#define NETPOL_ENFORCER_INVMERGE_H

#include <stddef.h>

#include "model.h"

struct invmerge;

struct invmerge *invmerge_new(void);
void invmerge_free(struct invmerge *m);

/* A file's objects o (NULL: a new file) were replaced by n (NULL: the file is gone). Both must
 * stay alive until the next invmerge_get. */
void invmerge_edit(struct invmerge *m, const struct np_inventory *o, const struct np_inventory *n);
/* The edits since the last invmerge_get (if any) will not be there when it runs (their
 * objects were freed): merge whole next time. */
void invmerge_invalidate(struct invmerge *m);

/* Appends every object of every file to inv, files in name order. */
typedef void (*invmerge_fill_fn)(const void *arg, struct np_inventory *inv);

/* A new inventory of every object, which the caller owns (its objects point into the files'
 * inventories): the last merge patched with the edits, or everything fill appends merged whole
 * (duplicates across files then go to diags, the first in file order kept). Returns 0; *whole
 * says which. */
int invmerge_get(struct invmerge *m, invmerge_fill_fn fill, const void *arg,
		 struct np_inventory **out, struct np_diags *diags, bool *whole);

#endif
