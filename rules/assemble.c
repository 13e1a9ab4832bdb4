/* assemble.c — the inet table from its fragments (see assemble.h), ordered as one btable_finish
 * over everything would order it: maps first (in the dispatch's creation order), then sets by
 * use and name; base chains, then chains by name; counters by name.
 *
 * A set several fragments hold (named by its content: a port list, an ipBlock) is emitted once,
 * taken from the first fragment that holds it, and counts the rules of every fragment that use
 * it. That bookkeeping (the book: per set name, its use count and the fragments that hold it)
 * outlives the assembly, so the next table can be patched: the fragments a change replaced are
 * taken out of the book and their replacements put in, and only the sets, chains and counters
 * they hold (or whose use count they change) move; everything else is copied as it was. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assemble.h"
#include "vec.h"
#include "xalloc.h"

/* qsort, for arrays that may be empty (and then have no base). */
static void sort(void *v, size_t n, size_t sz, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(v, n, sz, cmp);
}

/* ---- the book ---- */

struct aprov {
	struct rs_frag *f;
	const struct rs_set *s;
};

/* One set name: the rules that use it, the fragments that hold it (the first is emitted). */
struct aset {
	size_t refs;
	struct aprov *prov;
	size_t n_prov, cap_prov;
};

static struct aset *aset_get(const struct asm_state *as, const char *name)
{
	size_t v;
	return strmap_get(&as->book, name, &v) ? (struct aset *)(uintptr_t)v : NULL;
}

static struct aset *aset_make(struct asm_state *as, const char *name)
{
	struct aset *e = aset_get(as, name);
	if (!e) {
		e = xcalloc(1, sizeof(*e));
		strmap_put(&as->book, xstrdup(name), (uintptr_t)e);
	}
	return e;
}

/* Forgets name once nothing holds or uses it. */
static void aset_tidy(struct asm_state *as, const char *name)
{
	struct aset *e = aset_get(as, name);
	if (!e || e->refs || e->n_prov)
		return;
	free(e->prov);
	free(e);
	free((char *)strmap_del(&as->book, name));
}

static void prov_add(struct asm_state *as, const struct rs_set *s, struct rs_frag *f, size_t refs)
{
	struct aset *e = aset_make(as, s->name);
	VEC_PUSH(e->prov, e->n_prov, e->cap_prov) = (struct aprov){ f, s };
	e->refs += refs;
}

static bool prov_del(struct asm_state *as, const char *name, const struct rs_frag *f, size_t refs)
{
	struct aset *e = aset_get(as, name);
	size_t i = 0;
	while (e && i < e->n_prov && e->prov[i].f != f)
		i++;
	if (!e || i == e->n_prov || e->refs < refs)
		return false;
	/* in order: the first holder left is the oldest, as stable as one pass's choice */
	memmove(&e->prov[i], &e->prov[i + 1], (e->n_prov - i - 1) * sizeof(*e->prov));
	e->n_prov--;
	e->refs -= refs;
	return true;
}

static bool uses_change(struct asm_state *as, const char *name, size_t n, bool add)
{
	struct aset *e = add ? aset_make(as, name) : aset_get(as, name);
	if (!add && (!e || e->refs < n))
		return false;
	e->refs = add ? e->refs + n : e->refs - n;
	return true;
}

static void book_reset(struct asm_state *as)
{
	for (size_t i = 0; i < as->book.cap; i++)
		if (as->book.v[i].key) {
			struct aset *e = (struct aset *)(uintptr_t)as->book.v[i].val;
			free(e->prov);
			free(e);
			free((char *)as->book.v[i].key);
		}
	strmap_free(&as->book);
	memset(&as->book, 0, sizeof(as->book));
	for (int m = 0; m < 4; m++) {
		frag_release(as->maps[m]);
		as->maps[m] = NULL;
		addr_count_free(as->keys[m]);
		as->keys[m] = NULL;
	}
	free(as->refs);
	as->refs = NULL;
	as->n_refs = 0;
	as->unused = NULL;
	as->n_unused = 0;
}

void asm_state_free(struct asm_state *as)
{
	book_reset(as);
}

size_t asm_refs(const struct asm_state *as, const char *name)
{
	const struct aset *e = aset_get(as, name);
	return e ? e->refs : 0;
}

void asm_forget(struct asm_state *as, const char *name, const struct rs_frag *f)
{
	if (prov_del(as, name, f, 0))
		aset_tidy(as, name);
}

/* A fragment's own sets (the dispatch's without its maps) and the sets of others its rules use
 * into the book (add) or out of it; false when the book does not hold what it should. */
static bool book_frag(struct asm_state *as, struct rs_frag *f, size_t first, bool add)
{
	bool ok = true;
	for (size_t i = first; i < f->t.n_sets; i++)
		if (add)
			prov_add(as, &f->t.sets[i], f, f->set_refs[i]);
		else
			ok &= prov_del(as, f->t.sets[i].name, f, f->set_refs[i]);
	for (size_t i = 0; i < f->n_uses; i++)
		ok &= uses_change(as, f->uses[i], f->use_refs[i], add);
	return ok;
}

/* ---- elements ---- */

static int elem_cmp(const void *x, const void *y)
{
	return btable_elem_cmp(x, y);
}

struct rs_elem *asm_elems_patch(struct np_arena *ar, const struct rs_elem *a, size_t n,
				const struct rs_elem *del, size_t n_del, const struct rs_elem *add,
				size_t n_add, size_t *n_out)
{
	if (n_del > n)
		return NULL;
	struct rs_elem *out = np_arena_alloc_raw(ar, (n - n_del + n_add + 1) * sizeof(*out));
	size_t i = 0, j = 0, k = 0, m = 0;
	while (i < n || k < n_add) {
		int c_del = j < n_del ? (i < n ? btable_elem_cmp(&del[j], &a[i]) : -1) : 1;
		if (c_del < 0)
			return NULL; /* not there to take out */
		if (c_del == 0) {
			i++, j++;
			continue;
		}
		int c_add = k < n_add ? (i < n ? btable_elem_cmp(&add[k], &a[i]) : -1) : 1;
		if (c_add == 0 || (c_add < 0 && k && !btable_elem_cmp(&add[k - 1], &add[k])))
			return NULL; /* there already (one pass keeps the first: not followed) */
		out[m++] = c_add < 0 ? add[k++] : a[i++];
	}
	if (j < n_del)
		return NULL;
	*n_out = m;
	return out;
}

void asm_elems_cancel(struct rs_elem *del, size_t *n_del, struct rs_elem *add, size_t *n_add)
{
	if (*n_del > 1)
		qsort(del, *n_del, sizeof(*del), elem_cmp);
	if (*n_add > 1)
		qsort(add, *n_add, sizeof(*add), elem_cmp);
	size_t i = 0, j = 0, wd = 0, wa = 0;
	while (i < *n_del || j < *n_add) {
		int c = i == *n_del ? 1 : j == *n_add ? -1 : btable_elem_cmp(&del[i], &add[j]);
		if (c == 0)
			i++, j++;
		else if (c < 0)
			del[wd++] = del[i++];
		else
			add[wa++] = add[j++];
	}
	*n_del = wd;
	*n_add = wa;
}

/* ---- the dispatch maps ---- */

static int disp_map(const char *name)
{
	for (int j = 0; j < 4; j++)
		if (!strcmp(name, build_disp_maps[j]))
			return j;
	return -1;
}

static size_t n_maps_of(const struct rs_table *t)
{
	size_t n = 0;
	while (n < t->n_sets && t->sets[n].vmap)
		n++;
	return n;
}

/* Map s (dispatch map dm) with its own elements and every pod fragment's in v; keys counts
 * the pods' addresses. */
static struct rs_frag *map_whole(const struct rs_set *s, int dm, struct rs_frag *const *v, size_t n,
				 struct addr_count *keys)
{
	size_t total = s->n_elems;
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < v[k]->n_disp; i++)
			if (v[k]->disp[i].map == dm) {
				total++;
				addr_count_add(keys, &v[k]->disp[i].e.addr_lo, 1);
			}
	struct rs_elem *e = xmalloc((total + 1) * sizeof(*e));
	if (s->n_elems)
		memcpy(e, s->elems, s->n_elems * sizeof(*e));
	size_t ne = s->n_elems;
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < v[k]->n_disp; i++)
			if (v[k]->disp[i].map == dm)
				e[ne++] = v[k]->disp[i].e;
	if (ne > 1) {
		qsort(e, ne, sizeof(*e), elem_cmp);
		size_t w = 0;
		for (size_t j = 0; j < ne; j++)
			if (!w || btable_elem_cmp(&e[w - 1], &e[j]))
				e[w++] = e[j];
		ne = w;
	}
	struct rs_frag *f = frag_new_set(s, e, ne, NULL);
	free(e);
	return f;
}

/* Counts the addresses of the elements of map dm the fragments in v hold, delta more times;
 * false when one had or has another pod's address (one pass keeps the first pod's element:
 * not followed here). */
static bool keys_change(struct addr_count *keys, int dm, struct rs_frag *const *v, size_t n,
			long delta)
{
	bool ok = true;
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < v[k]->n_disp; i++)
			if (v[k]->disp[i].map == dm) {
				const struct np_addr *a = &v[k]->disp[i].e.addr_lo;
				ok &= addr_count_get(keys, a) == (delta < 0 ? 1 : 0);
				addr_count_add(keys, a, delta);
			}
	return ok;
}

/* The dispatch map dm patched: the elements of the pod fragments in gone out, of those in added
 * in. NULL when it cannot be (an element missing or there twice). */
static struct rs_frag *map_patched(const struct rs_frag *old, int dm, struct addr_count *keys,
				   const struct asm_change *ch)
{
	size_t nd = 0, na = 0;
	for (size_t k = 0; k < ch->n_gone; k++)
		for (size_t i = 0; i < ch->gone[k]->n_disp; i++)
			nd += ch->gone[k]->disp[i].map == dm;
	for (size_t k = 0; k < ch->n_added; k++)
		for (size_t i = 0; i < ch->added[k]->n_disp; i++)
			na += ch->added[k]->disp[i].map == dm;
	if (!nd && !na)
		return frag_ref((struct rs_frag *)old);
	if (!keys_change(keys, dm, ch->gone, ch->n_gone, -1) ||
	    !keys_change(keys, dm, ch->added, ch->n_added, 1))
		return NULL;
	struct rs_elem *del = xmalloc((nd + na + 1) * sizeof(*del)), *add = del + nd;
	nd = na = 0;
	for (size_t k = 0; k < ch->n_gone; k++)
		for (size_t i = 0; i < ch->gone[k]->n_disp; i++)
			if (ch->gone[k]->disp[i].map == dm)
				del[nd++] = ch->gone[k]->disp[i].e;
	for (size_t k = 0; k < ch->n_added; k++)
		for (size_t i = 0; i < ch->added[k]->n_disp; i++)
			if (ch->added[k]->disp[i].map == dm)
				add[na++] = ch->added[k]->disp[i].e;
	/* not cancelled: a rebuilt pod's element has the same key and a target in its new
	 * fragment, which must replace the old one (the kernel state sees they are equal) */
	sort(del, nd, sizeof(*del), elem_cmp);
	sort(add, na, sizeof(*add), elem_cmp);
	const struct rs_set *os = &old->t.sets[0];
	struct rs_frag *f = NULL;
	struct np_arena *tmp = np_arena_new();
	size_t ne;
	struct rs_elem *e = nd || na ? asm_elems_patch(tmp, os->elems, os->n_elems, del, nd, add, na,
						       &ne) : NULL;
	if (!nd && !na) {
		f = frag_ref((struct rs_frag *)old);
	} else if (e) {
		struct rs_set_patch p = { os->elems, os->n_elems, del, add, nd, na };
		f = frag_new_set(os, e, ne, &p);
	}
	np_arena_free(tmp);
	free(del);
	return f;
}

/* ---- the whole table ---- */

struct entry {
	size_t refs;
	const struct rs_set *s;
};

/* Sets most rules use first, then by name (bset_cmp's order). */
static int key_cmp(size_t ra, const char *na, size_t rb, const char *nb)
{
	if (ra != rb)
		return ra > rb ? -1 : 1;
	return strcmp(na, nb);
}

static int entry_cmp(const void *x, const void *y)
{
	const struct entry *a = x, *b = y;
	return key_cmp(a->refs, a->s->name, b->refs, b->s->name);
}

/* Which run a chain or counter name goes to: its first letter, apart for "...-out". */
static uint8_t run_kind(const char *name)
{
	size_t l = strlen(name);
	return (uint8_t)(((uint8_t)name[0] & 0x7f) | (l && name[l - 1] == 't' ? 0x80 : 0));
}

/* The base chains (the dispatch's), then every fragment's chains and counters, sorted.
 * Fragments come in inventory order, so the chains of one kind ("pol-..-in", "pol-..-out",
 * "egr-..", "ing-..", and the counters likewise) are each close to sorted: placed kind by kind
 * they form a few sorted runs, which a natural merge sort merges in a few passes (sorting them
 * from scratch was a tenth of a small change's cost). */
static void gather_chains(struct rs_frag *disp, struct rs_frag *const *v, size_t n,
			  struct np_arena *a, struct rs_table *t)
{
	const struct rs_table *g = &disp->t;
	size_t n_chains = g->n_chains, n_counters = g->n_counters;
	for (size_t k = 0; k < n; k++) {
		n_chains += v[k]->t.n_chains;
		n_counters += v[k]->t.n_counters;
	}
	t->chains = np_arena_alloc(a, (n_chains + 1) * sizeof(*t->chains));
	t->counters = np_arena_alloc(a, (n_counters + 1) * sizeof(*t->counters));
	size_t n_base = 0;
	for (size_t i = 0; i < g->n_chains; i++)
		if (g->chains[i].hook != RS_HOOK_NONE)
			t->chains[n_base++] = g->chains[i];
	/* at_c[kind + 1], at_k[kind + 1]: how many chains, counters of each run; then where
	 * each run starts */
	size_t at_c[257] = { 0 }, at_k[257] = { 0 };
	for (size_t k = 0; k <= n; k++) {
		const struct rs_table *ft = k ? &v[k - 1]->t : g;
		for (size_t i = 0; i < ft->n_chains; i++)
			at_c[run_kind(ft->chains[i].name) + 1] += ft->chains[i].hook == RS_HOOK_NONE;
		for (size_t i = 0; i < ft->n_counters; i++)
			at_k[run_kind(ft->counters[i].name) + 1]++;
	}
	for (size_t c = 1; c < 257; c++) {
		at_c[c] += at_c[c - 1];
		at_k[c] += at_k[c - 1];
	}
	t->n_chains = n_base + at_c[256];
	t->n_counters = at_k[256];
	for (size_t k = 0; k <= n; k++) {
		const struct rs_table *ft = k ? &v[k - 1]->t : g;
		for (size_t i = 0; i < ft->n_chains; i++)
			if (ft->chains[i].hook == RS_HOOK_NONE)
				t->chains[n_base + at_c[run_kind(ft->chains[i].name)]++] =
					ft->chains[i];
		for (size_t i = 0; i < ft->n_counters; i++)
			t->counters[at_k[run_kind(ft->counters[i].name)]++] = ft->counters[i];
	}
	np_sort_stable(t->chains + n_base, t->n_chains - n_base, sizeof(*t->chains),
		       btable_chain_cmp);
	np_sort_stable(t->counters, t->n_counters, sizeof(*t->counters), btable_counter_cmp);
}

void assemble_table(struct asm_state *as, struct rs_frag *disp, struct rs_frag *const *v, size_t n,
		    struct np_arena *a, struct rs_table *t)
{
	book_reset(as);
	const struct rs_table *g = &disp->t;
	size_t n_maps = n_maps_of(g);
	/* holders in one pass's order: every other fragment, then the dispatch's own sets */
	for (size_t k = 0; k < n; k++)
		book_frag(as, v[k], 0, true);
	book_frag(as, disp, n_maps, true);
	struct entry *ent = xmalloc((as->book.n + 1) * sizeof(*ent));
	size_t ne = 0;
	for (size_t i = 0; i < as->book.cap; i++) {
		const struct aset *e = (const struct aset *)(uintptr_t)as->book.v[i].val;
		if (as->book.v[i].key && e->refs && e->n_prov) /* a set no rule uses: left out */
			ent[ne++] = (struct entry){ e->refs, e->prov[0].s };
	}
	sort(ent, ne, sizeof(*ent), entry_cmp);
	t->sets = np_arena_alloc(a, (n_maps + ne + 1) * sizeof(*t->sets));
	as->refs = xcalloc(n_maps + ne + 1, sizeof(*as->refs));
	as->n_refs = n_maps + ne;
	for (size_t m = 0; m < n_maps; m++) {
		int dm = disp_map(g->sets[m].name);
		if (dm >= 0) {
			as->keys[dm] = addr_count_new();
			as->maps[dm] = map_whole(&g->sets[m], dm, v, n, as->keys[dm]);
			t->sets[m] = as->maps[dm]->t.sets[0];
		} else {
			t->sets[m] = g->sets[m]; /* an admin tier's: the dispatch's own elements */
		}
	}
	for (size_t j = 0; j < ne; j++) {
		t->sets[n_maps + j] = *ent[j].s;
		as->refs[n_maps + j] = ent[j].refs;
	}
	t->n_sets = n_maps + ne;
	free(ent);
	gather_chains(disp, v, n, a, t);
	t->delta = NULL;
}

/* ---- a patch ---- */

/* A set the change touches: where it was and where it goes. */
struct touch {
	const char *name;
	size_t old_refs, new_refs;
	const struct rs_set *old_s, *new_s; /* NULL: not in the table */
};

struct patcher {
	struct asm_state *as;
	const struct rs_table *old;
	const struct asm_change *ch;
	struct np_arena *a;
	struct rs_table *t;
	bool disp_changed;
	size_t n_maps;
	struct strmap seen; /* touched set name -> index into v */
	struct touch *v;
	size_t n, cap;
	/* the edits, growing */
	size_t *del, *ins;
	size_t n_del, n_ins, cap_del, cap_ins;
};

static const struct rs_set *in_table(const struct aset *e)
{
	return e && e->refs && e->n_prov ? e->prov[0].s : NULL;
}

static void touch(struct patcher *p, const char *name)
{
	size_t i;
	if (strmap_get(&p->seen, name, &i))
		return;
	const struct aset *e = aset_get(p->as, name);
	VEC_PUSH(p->v, p->n, p->cap) = (struct touch){ name, e ? e->refs : 0, 0, in_table(e), NULL };
	strmap_put(&p->seen, name, p->n - 1);
}

static void touch_frag(struct patcher *p, const struct rs_frag *f, size_t first)
{
	for (size_t i = first; i < f->t.n_sets; i++)
		touch(p, f->t.sets[i].name);
	for (size_t i = 0; i < f->n_uses; i++)
		touch(p, f->uses[i]);
}

/* Every fragment the change takes out (add false) or puts in, the dispatch's when it changed. */
static bool book_change(struct patcher *p, bool add)
{
	const struct asm_change *ch = p->ch;
	struct rs_frag *const *v = add ? ch->added : ch->gone;
	size_t n = add ? ch->n_added : ch->n_gone;
	bool ok = true;
	for (size_t k = 0; k < n; k++)
		ok &= book_frag(p->as, v[k], 0, add);
	if (p->disp_changed)
		ok &= book_frag(p->as, add ? ch->disp : ch->disp_old, p->n_maps, add);
	return ok;
}

static void edit_push(size_t **v, size_t *n, size_t *cap, size_t x)
{
	VEC_PUSH(*v, *n, *cap) = x;
}

static int size_cmp(const void *x, const void *y)
{
	size_t a = *(const size_t *)x, b = *(const size_t *)y;
	return (a > b) - (a < b);
}

/* The edits collected so far, as one rs_edit (sorted) in the table's arena; resets them. */
static struct rs_edit edit_take(struct patcher *p)
{
	struct rs_edit e = { 0 };
	size_t *d = np_arena_alloc(p->a, (p->n_del + p->n_ins + 1) * sizeof(*d));
	if (p->n_del)
		memcpy(d, p->del, p->n_del * sizeof(*d));
	if (p->n_ins)
		memcpy(d + p->n_del, p->ins, p->n_ins * sizeof(*d));
	sort(d, p->n_del, sizeof(*d), size_cmp);
	sort(d + p->n_del, p->n_ins, sizeof(*d), size_cmp);
	e.del = d;
	e.ins = d + p->n_del;
	e.n_del = p->n_del;
	e.n_ins = p->n_ins;
	p->n_del = p->n_ins = 0;
	return e;
}

/* The maps: the dispatch's, their pod elements patched. */
static bool patch_maps(struct patcher *p)
{
	const struct asm_change *ch = p->ch;
	const struct rs_table *g = &ch->disp->t, *go = &ch->disp_old->t;
	if (n_maps_of(p->old) != p->n_maps || n_maps_of(go) != p->n_maps)
		return false;
	for (size_t m = 0; m < p->n_maps; m++) {
		int dm = disp_map(g->sets[m].name);
		if (strcmp(g->sets[m].name, go->sets[m].name))
			return false;
		if (dm < 0) {
			p->t->sets[m] = g->sets[m];
		} else {
			/* the dispatch's own elements of a pod map are not followed */
			if (p->disp_changed && (g->sets[m].n_elems || go->sets[m].n_elems))
				return false;
			struct rs_frag *nf = p->as->maps[dm] ? map_patched(p->as->maps[dm], dm,
									   p->as->keys[dm], ch)
							     : NULL;
			if (!nf)
				return false;
			frag_release(p->as->maps[dm]);
			p->as->maps[dm] = nf;
			p->t->sets[m] = nf->t.sets[0];
		}
		if (p->t->sets[m].elems != p->old->sets[m].elems ||
		    p->t->sets[m].name != p->old->sets[m].name) {
			edit_push(&p->del, &p->n_del, &p->cap_del, m);
			edit_push(&p->ins, &p->n_ins, &p->cap_ins, m);
		}
	}
	return true;
}

/* Where set (refs, name) is among the old table's sorted sets, or (size_t)-1. */
static size_t old_set_at(const struct patcher *p, size_t refs, const char *name)
{
	const size_t *r = p->as->refs;
	size_t lo = p->n_maps, hi = p->old->n_sets;
	if (p->as->n_refs != p->old->n_sets)
		return (size_t)-1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (key_cmp(r[mid], p->old->sets[mid].name, refs, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->old->n_sets && !strcmp(p->old->sets[lo].name, name) ? lo : (size_t)-1;
}

/* The sorted sets: the old ones the change moved or took out go, the moved and new ones go in
 * where their use count and name put them. */
static bool patch_sets(struct patcher *p, size_t **refs_out)
{
	struct entry *ins = xmalloc((p->n + 1) * sizeof(*ins));
	size_t *gone = xmalloc((p->n + 1) * sizeof(*gone));
	size_t n_ins = 0, n_gone = 0;
	bool ok = true;
	for (size_t i = 0; i < p->n; i++) {
		struct touch *x = &p->v[i];
		const struct aset *e = aset_get(p->as, x->name);
		x->new_refs = e ? e->refs : 0;
		x->new_s = in_table(e);
		if (x->old_s == x->new_s && (!x->new_s || x->old_refs == x->new_refs))
			continue;
		if (x->old_s) {
			size_t at = old_set_at(p, x->old_refs, x->name);
			ok &= at != (size_t)-1;
			gone[n_gone++] = at;
		}
		if (x->new_s)
			ins[n_ins++] = (struct entry){ x->new_refs, x->new_s };
	}
	sort(gone, n_gone, sizeof(*gone), size_cmp);
	sort(ins, n_ins, sizeof(*ins), entry_cmp);
	const struct rs_table *old = p->old;
	size_t n_new = old->n_sets - n_gone + n_ins, w = p->n_maps, i = p->n_maps, j = 0, k = 0;
	size_t *refs = xcalloc(n_new + 1, sizeof(*refs));
	while (ok && (i < old->n_sets || j < n_ins)) {
		if (k < n_gone && i == gone[k]) {
			edit_push(&p->del, &p->n_del, &p->cap_del, i);
			i++, k++;
			continue;
		}
		int c = j == n_ins ? 1 : i == old->n_sets ? -1 :
			key_cmp(ins[j].refs, ins[j].s->name, p->as->refs[i], old->sets[i].name);
		if (c == 0) {
			ok = false; /* a name twice */
		} else if (c < 0) {
			edit_push(&p->ins, &p->n_ins, &p->cap_ins, w);
			refs[w] = ins[j].refs;
			p->t->sets[w++] = *ins[j++].s;
		} else {
			refs[w] = p->as->refs[i];
			p->t->sets[w++] = old->sets[i++];
		}
	}
	p->t->n_sets = w;
	free(ins);
	free(gone);
	*refs_out = refs;
	return ok && w == n_new;
}

/* Regular chains or counters (objects of size sz whose first member is their name, sorted by
 * name from first on): the old ones the gone fragments hold (by identity, same of identifying
 * member at offset id) go, the added fragments' go in. */
struct objs {
	size_t sz, id, first;
	const void *(*of)(const struct rs_frag *f, size_t *n); /* a fragment's objects */
	bool (*mine)(const void *o);                              /* one of these? */
};

static const char *name_of(const void *o)
{
	return *(const char *const *)o;
}

static const void *ident_of(const struct objs *k, const void *o)
{
	return *(const void *const *)((const char *)o + k->id);
}

static int obj_name_cmp(const void *x, const void *y)
{
	return strcmp(name_of(*(const void *const *)x), name_of(*(const void *const *)y));
}

static size_t old_obj_at(const struct objs *k, const void *arr, size_t lo, size_t hi,
			 const void *o)
{
	size_t end = hi;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(name_of((const char *)arr + mid * k->sz), name_of(o)) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* names are unique (the caller gives up otherwise): the one with that name */
	if (lo < end && ident_of(k, (const char *)arr + lo * k->sz) == ident_of(k, o))
		return lo;
	return (size_t)-1;
}

static void frag_objs(struct patcher *p, const struct objs *k, bool added, const void ***v,
		      size_t *n)
{
	const struct asm_change *ch = p->ch;
	struct rs_frag *const *f = added ? ch->added : ch->gone;
	size_t nf = added ? ch->n_added : ch->n_gone, cap = 0;
	*v = NULL;
	*n = 0;
	for (size_t i = 0; i <= nf; i++) {
		const struct rs_frag *fr = i < nf ? f[i] : p->disp_changed ?
					   (added ? ch->disp : ch->disp_old) : NULL;
		size_t no;
		const char *o = fr ? k->of(fr, &no) : NULL;
		for (size_t j = 0; o && j < no; j++)
			if (k->mine(o + j * k->sz))
				VEC_PUSH(*v, *n, cap) = o + j * k->sz;
	}
}

static bool patch_objs(struct patcher *p, const struct objs *k, const void *old, size_t n_old,
		       void *out, size_t *n_out)
{
	const void **gone, **ins;
	size_t n_gone, n_ins;
	frag_objs(p, k, false, &gone, &n_gone);
	frag_objs(p, k, true, &ins, &n_ins);
	bool ok = n_old >= k->first;
	size_t *at = xmalloc((n_gone + 1) * sizeof(*at));
	for (size_t i = 0; ok && i < n_gone; i++)
		ok = (at[i] = old_obj_at(k, old, k->first, n_old, gone[i])) != (size_t)-1;
	sort(at, n_gone, sizeof(*at), size_cmp);
	sort(ins, n_ins, sizeof(*ins), obj_name_cmp);
	size_t i = k->first, j = 0, g = 0, w = k->first;
	while (ok && (i < n_old || j < n_ins)) {
		const char *o = (const char *)old + i * k->sz;
		if (g < n_gone && i == at[g]) {
			edit_push(&p->del, &p->n_del, &p->cap_del, i);
			i++, g++;
			continue;
		}
		int c = j == n_ins ? 1 : i == n_old ? -1 : strcmp(name_of(ins[j]), name_of(o));
		if (c == 0 || (j > 0 && j < n_ins && !strcmp(name_of(ins[j - 1]), name_of(ins[j])))) {
			ok = false; /* a name twice */
		} else if (c < 0) {
			edit_push(&p->ins, &p->n_ins, &p->cap_ins, w);
			memcpy((char *)out + w++ * k->sz, ins[j++], k->sz);
		} else {
			memcpy((char *)out + w++ * k->sz, o, k->sz);
			i++;
		}
	}
	*n_out = w;
	free(at);
	free(gone);
	free(ins);
	return ok && w == n_old - n_gone + n_ins;
}

static const void *chains_of(const struct rs_frag *f, size_t *n)
{
	*n = f->t.n_chains;
	return f->t.chains;
}

static bool chain_regular(const void *o)
{
	return ((const struct rs_chain *)o)->hook == RS_HOOK_NONE;
}

static const void *counters_of(const struct rs_frag *f, size_t *n)
{
	*n = f->t.n_counters;
	return f->t.counters;
}

static bool any(const void *o)
{
	(void)o;
	return true;
}

/* The base chains (the dispatch's, in place), then the regular ones. */
static bool patch_chains(struct patcher *p)
{
	const struct rs_table *g = &p->ch->disp->t, *old = p->old;
	size_t n_base = 0, n_base_old = 0, n_regular = 0;
	while (n_base < g->n_chains && g->chains[n_base].hook != RS_HOOK_NONE)
		n_base++;
	while (n_base_old < old->n_chains && old->chains[n_base_old].hook != RS_HOOK_NONE)
		n_base_old++;
	if (n_base != n_base_old)
		return false;
	for (size_t k = 0; k < p->ch->n_added; k++)
		n_regular += p->ch->added[k]->t.n_chains;
	n_regular += g->n_chains;
	p->t->chains = np_arena_alloc(p->a, (old->n_chains + n_regular + 1) *
					    sizeof(*p->t->chains));
	for (size_t i = 0; i < n_base; i++) {
		p->t->chains[i] = p->disp_changed ? g->chains[i] : old->chains[i];
		if (p->disp_changed) {
			edit_push(&p->del, &p->n_del, &p->cap_del, i);
			edit_push(&p->ins, &p->n_ins, &p->cap_ins, i);
		}
	}
	const struct objs k = { sizeof(struct rs_chain), offsetof(struct rs_chain, rules), n_base,
				chains_of, chain_regular };
	return patch_objs(p, &k, old->chains, old->n_chains, p->t->chains, &p->t->n_chains);
}

static bool patch_counters(struct patcher *p)
{
	const struct rs_table *old = p->old;
	size_t n = p->ch->disp->t.n_counters;
	for (size_t k = 0; k < p->ch->n_added; k++)
		n += p->ch->added[k]->t.n_counters;
	p->t->counters = np_arena_alloc(p->a, (old->n_counters + n + 1) * sizeof(*p->t->counters));
	const struct objs k = { sizeof(struct rs_counter), offsetof(struct rs_counter, name), 0,
				counters_of, any };
	return patch_objs(p, &k, old->counters, old->n_counters, p->t->counters,
			  &p->t->n_counters);
}

/* The sets that have no rule using them any more (the cache drops those built apart). */
static void note_unused(struct patcher *p)
{
	const char **u = np_arena_alloc(p->a, (p->n + 1) * sizeof(*u));
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++) {
		const struct aset *e = aset_get(p->as, p->v[i].name);
		if (e && !e->refs)
			u[n++] = p->v[i].name;
		aset_tidy(p->as, p->v[i].name);
	}
	p->as->unused = u;
	p->as->n_unused = n;
}

int assemble_patch(struct asm_state *as, const struct rs_table *old, const struct asm_change *ch,
		   struct np_arena *a, struct rs_table *t)
{
	struct patcher p = { .as = as, .old = old, .ch = ch, .a = a, .t = t,
			     .disp_changed = ch->disp != ch->disp_old,
			     .n_maps = n_maps_of(&ch->disp->t) };
	for (size_t k = 0; k < ch->n_gone; k++)
		touch_frag(&p, ch->gone[k], 0);
	for (size_t k = 0; k < ch->n_added; k++)
		touch_frag(&p, ch->added[k], 0);
	if (p.disp_changed) {
		touch_frag(&p, ch->disp_old, p.n_maps);
		touch_frag(&p, ch->disp, p.n_maps);
	}
	bool ok = book_change(&p, false);
	ok = ok && book_change(&p, true);
	size_t *refs = NULL;
	struct rs_delta *d = np_arena_alloc(a, sizeof(*d));
	t->sets = np_arena_alloc(a, (old->n_sets + p.n + 1) * sizeof(*t->sets));
	ok = ok && patch_maps(&p);
	ok = ok && patch_sets(&p, &refs);
	d->sets = edit_take(&p);
	ok = ok && patch_chains(&p);
	d->chains = edit_take(&p);
	ok = ok && patch_counters(&p);
	d->counters = edit_take(&p);
	if (ok) {
		note_unused(&p);
		free(as->refs);
		as->refs = refs;
		as->n_refs = t->n_sets;
		d->base = old;
		t->delta = d;
	} else {
		free(refs);
	}
	strmap_free(&p.seen);
	free(p.v);
	free(p.del);
	free(p.ins);
	return ok ? 0 : -1;
}
