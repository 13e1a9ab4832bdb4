/* strmap.c — see strmap.h. Kept at most half full, so a probe sequence stays short. */
#include <stdbool.h>
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
	if (!e->key) {
		m->n++;
		e->key = key;
	}
	e->val = val;
}

const char *strmap_del(struct strmap *m, const char *key)
{
	if (!m->cap)
		return NULL;
	struct strmap_ent *e = slot(m, key);
	if (!e->key)
		return NULL;
	const char *held = e->key;
	/* linear probing: shift back the entries after the hole that probed past it, so every
	 * lookup still finds its key before the first free slot */
	size_t mask = m->cap - 1, i = (size_t)(e - m->v), j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (!m->v[j].key)
			break;
		size_t home = np_hash_str(m->v[j].key) & mask;
		/* j's entry stays unless its home lies cyclically outside (i, j] */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (stays)
			continue;
		m->v[i] = m->v[j];
		i = j;
	}
	m->v[i].key = NULL;
	m->v[i].val = 0;
	m->n--;
	return held;
}
