/* strmap.c — see strmap.h. Kept at most half full, so a probe sequence stays short. */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "strmap.h"
#include "xalloc.h"

void strmap_free(struct strmap *m)
{
	free(m->v);
}

static struct strmap_ent *slot(const struct strmap *m, const char *key)
{
	size_t i = np_hash_str(key) & (m->cap - 1);
	while (m->v[i].key && strcmp(m->v[i].key, key))
		i = (i + 1) & (m->cap - 1);
	return &m->v[i];
}

bool strmap_get(const struct strmap *m, const char *key, size_t *val)
{
	if (!m->cap)
		return false;
	const struct strmap_ent *e = slot(m, key);
	if (!e->key)
		return false;
	*val = e->val;
	return true;
}

void strmap_put(struct strmap *m, const char *key, size_t val)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct strmap old = *m;
		m->cap = m->cap ? m->cap * 2 : 64;
		m->v = xcalloc(m->cap, sizeof(*m->v));
		m->n = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.v[i].key)
				strmap_put(m, old.v[i].key, old.v[i].val);
		free(old.v);
	}
	struct strmap_ent *e = slot(m, key);
	if (!e->key)
		m->n++;
	e->key = key;
	e->val = val;
}
