/* strmap.h — a map from strings to numbers (an index into an array, a count): open addressing
 * on np_hash_str. Keys are not copied: the caller keeps them alive (usually in an arena) as long
 * as the map. A zeroed struct is an empty map. */
#ifndef NETPOL_STRMAP_H
#define NETPOL_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

struct strmap_ent {
	const char *key; /* NULL: a free slot */
	size_t val;
};

struct strmap {
	struct strmap_ent *v; /* cap slots (a power of two), n of them used: iterate over v */
	size_t n, cap;
};

void strmap_free(struct strmap *m);
/* Whether key is in m; *val is written only when it is. */
bool strmap_get(const struct strmap *m, const char *key, size_t *val);
/* Adds key, or replaces its value (the map keeps the key pointer it holds). */
void strmap_put(struct strmap *m, const char *key, size_t val);
/* Removes key (absent: nothing happens); returns the key pointer it held, or NULL, so a caller
 * that owns its keys can free it. */
const char *strmap_del(struct strmap *m, const char *key);

#endif
