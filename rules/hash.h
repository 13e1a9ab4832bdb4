/* hash.h — FNV-1a, the one hash of the tree: names (set and chain names, map slots) and file
 * contents (the store's change detection) are hashed with it. */
#ifndef NETPOL_HASH_H
#define NETPOL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define NP_HASH_INIT 1469598103934665603ULL

/* FNV-1a of n bytes, continuing from h (NP_HASH_INIT to start). */
uint64_t np_hash(const void *p, size_t n, uint64_t h);
/* FNV-1a of a NUL-terminated string, from NP_HASH_INIT. */
uint64_t np_hash_str(const char *s);

#endif
