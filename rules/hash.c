/* hash.c — see hash.h. */
#include "hash.h"

#define FNV_PRIME 1099511628211ULL

uint64_t np_hash(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= FNV_PRIME;
	}
	return h;
}

uint64_t np_hash_str(const char *s)
{
	uint64_t h = NP_HASH_INIT;
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= FNV_PRIME;
	}
	return h;
}
