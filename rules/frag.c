/* frag.c — fragments, maps of them, and the sets built apart of one build (see frag.h). */
#include <stdlib.h>
#include <string.h>

#include "frag.h"
#include "vec.h"
#include "xalloc.h"

struct rs_frag *frag_new(void)
{
	struct rs_frag *f = xcalloc(1, sizeof(*f));
	f->refs = 1;
	f->arena = np_arena_new();
	return f;
}

void frag_hash_rules(struct np_arena *a, struct rs_table *t)
{
	for (size_t c = 0; c < t->n_chains; c++)
		for (size_t r = 0; r < t->chains[c].n_rules; r++) {
			struct rs_rule *rule = &t->chains[c].rules[r];
			char *text = emit_text_rule(t, rule);
			rule->comment = btable_hashname(a, "np:", text);
			free(text);
		}
}

void frag_finish(struct rs_frag *f, struct btable *t, const struct build_disp *disp,
		 size_t n_disp)
{
	struct btable_uses u;
	btable_finish(t, &f->t, &u);
	f->set_refs = u.set_refs;
	f->uses = u.names;
	f->use_refs = u.refs;
	f->n_uses = u.n;
	frag_hash_rules(f->arena, &f->t);
	if (n_disp) {
		f->disp = np_arena_alloc(f->arena, n_disp * sizeof(*f->disp));
		memcpy(f->disp, disp, n_disp * sizeof(*disp));
		f->n_disp = n_disp;
	}
}

void frag_hold_set(struct rs_frag *f, const struct rs_set *s)
{
	f->t.family = RS_FAMILY_INET;
	f->t.sets = np_arena_alloc(f->arena, sizeof(*f->t.sets));
	f->set_refs = np_arena_alloc(f->arena, sizeof(*f->set_refs));
	f->t.sets[0] = *s;
	f->t.n_sets = 1;
}

void frag_finish_set(struct rs_frag *f, struct btable *t)
{
	struct rs_set s;
	bset_finish(f->arena, &t->sets[0].s, &s);
	frag_hold_set(f, &s);
	btable_fini(t);
}

struct rs_frag *frag_new_set(const struct rs_set *s, const struct rs_elem *e, size_t n,
			     const struct rs_set_patch *p)
{
	struct rs_frag *f = frag_new();
	struct rs_set ms = *s;
	ms.name = np_arena_strdup(f->arena, s->name);
	ms.comment = s->comment ? np_arena_strdup(f->arena, s->comment) : NULL;
	ms.origin = s->origin ? np_arena_strdup(f->arena, s->origin) : NULL;
	ms.elems = np_arena_alloc_raw(f->arena, (n + 1) * sizeof(*e));
	if (n)
		memcpy(ms.elems, e, n * sizeof(*e));
	ms.n_elems = n;
	ms.patch = NULL;
	if (p) {
		struct rs_set_patch *q = np_arena_alloc(f->arena, sizeof(*q));
		struct rs_elem *d = np_arena_alloc(f->arena, (p->n_del + p->n_add + 1) * sizeof(*d));
		if (p->n_del)
			memcpy(d, p->del, p->n_del * sizeof(*d));
		if (p->n_add)
			memcpy(d + p->n_del, p->add, p->n_add * sizeof(*d));
		*q = (struct rs_set_patch){ p->base, p->n_base, d, d + p->n_del, p->n_del, p->n_add };
		ms.patch = q;
	}
	frag_hold_set(f, &ms);
	return f;
}

void frag_release(struct rs_frag *f)
{
	if (f && !--f->refs) {
		np_arena_free(f->arena);
		free(f);
	}
}

void frag_list_add(struct frag_list *l, struct rs_frag *f)
{
	f->refs++;
	VEC_PUSH(l->v, l->n, l->cap) = f;
}

void frag_list_free(struct frag_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		frag_release(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void frag_map_free(struct frag_map *m)
{
	for (size_t i = 0; i < m->idx.cap; i++)
		if (m->idx.v[i].key) {
			frag_release(frag_map_at(m, i));
			free((char *)m->idx.v[i].key);
		}
	strmap_free(&m->idx);
	memset(m, 0, sizeof(*m));
}

struct rs_frag *frag_map_get(const struct frag_map *m, const char *key)
{
	size_t v;
	return strmap_get(&m->idx, key, &v) ? (struct rs_frag *)(uintptr_t)v : NULL;
}

void frag_map_put(struct frag_map *m, const char *key, struct rs_frag *f)
{
	f->refs++;
	size_t v;
	if (strmap_get(&m->idx, key, &v)) {
		frag_release((struct rs_frag *)(uintptr_t)v);
		strmap_put(&m->idx, key, (uintptr_t)f); /* (the map keeps its own key) */
		return;
	}
	strmap_put(&m->idx, xstrdup(key), (uintptr_t)f);
}

void frag_map_del(struct frag_map *m, const char *key)
{
	size_t v;
	if (!strmap_get(&m->idx, key, &v))
		return;
	frag_release((struct rs_frag *)(uintptr_t)v);
	free((char *)strmap_del(&m->idx, key));
}

/* ---- the sets built apart of one build ---- */

struct rs_frag *frag_shared_get(const struct frag_shared *s, const char *name)
{
	return frag_map_get(&s->now, name);
}

void frag_shared_put(struct frag_shared *s, const char *name, struct rs_frag *f)
{
	frag_map_put(&s->now, name, f);
	frag_list_add(&s->made, f);
	builder_shared_put(s->b, name, f->t.sets[0].n_elems);
}

void frag_shared_free(struct frag_shared *s)
{
	frag_map_free(&s->now);
	frag_list_free(&s->made);
}

void frag_shared_build(struct frag_shared *s, const struct build_want *w)
{
	struct btable t;
	struct rs_frag *f = frag_new();
	btable_init(&t, f->arena);
	build_shared_set(s->b, &t, w);
	frag_finish_set(f, &t);
	frag_shared_put(s, w->name, f);
	frag_release(f);
}

void frag_shared_want(struct frag_shared *s, struct build_wants *w)
{
	for (size_t i = 0; i < w->n; i++) {
		const char *name = w->v[i].name;
		size_t v;
		if (frag_shared_get(s, name))
			continue;
		/* (a named-port set is named by its policy and rule: an edited policy keeps the
		 * name with other content) */
		struct rs_frag *o = !w->v[i].named && s->old && s->stale &&
					    !strmap_get(s->stale, name, &v)
				    ? frag_map_get(s->old, name) : NULL;
		if (o)
			frag_shared_put(s, name, o);
		else
			frag_shared_build(s, &w->v[i]);
	}
	w->n = 0;
}
