/* invmerge.c — see invmerge.h. The last merge is kept privately (the caller owns every inventory
 * it is handed, and frees it when it likes); a patched merge takes the edited files' old pods
 * and policies out of it by identity (the name string of the file's own object) and puts the new
 * ones in by binary search, then hands out a copy. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "inventory.h"
#include "invmerge.h"
#include "vec.h"
#include "xalloc.h"

/* More objects than this in the edits: merge whole (a patch sorts what it moves). */
#define PATCH_MAX 4096

struct edit {
	const struct np_inventory *o, *n;
};

struct invmerge {
	struct np_inventory *m; /* the last merge (its arena holds implicit namespaces) */
	bool dups;              /* it dropped duplicates: merge whole while there are any */
	bool stale;             /* edits were lost: merge whole */
	struct edit *e;
	size_t n_e, cap_e;
};

struct invmerge *invmerge_new(void)
{
	return xcalloc(1, sizeof(struct invmerge));
}

void invmerge_free(struct invmerge *m)
{
	if (!m)
		return;
	np_inventory_free(m->m);
	free(m->e);
	free(m);
}

void invmerge_edit(struct invmerge *m, const struct np_inventory *o, const struct np_inventory *n)
{
	VEC_PUSH(m->e, m->n_e, m->cap_e) = (struct edit){ o, n };
}

void invmerge_invalidate(struct invmerge *m)
{
	if (!m->n_e)
		return; /* every edit is merged already */
	m->stale = true;
	m->n_e = 0;
}

/* ---- whole ---- */

static struct np_inventory *merge_whole(invmerge_fill_fn fill, const void *arg,
					struct np_diags *diags, bool *dups)
{
	struct np_inventory *m = np_inventory_new();
	if (!m)
		abort();
	fill(arg, m);
	size_t before = diags->errors;
	np_inventory_finish(m, diags);
	*dups = diags->errors != before;
	return m;
}

/* ---- patched ---- */

static int nsname_cmp(const char *ans, const char *an, const char *bns, const char *bn)
{
	int c = ans == bns ? 0 : strcmp(ans ? ans : "", bns ? bns : "");
	return c ? c : an == bn ? 0 : strcmp(an, bn);
}

/* Whether pods or policies in namespace ns can come and go without the merge adding or dropping
 * an implicit namespace: ns is declared by a Namespace object. */
static bool ns_declared(const struct np_inventory *m, const char *ns)
{
	const struct np_namespace *x = np_inventory_namespace(m, ns);
	return x && !x->implicit;
}

/* One kind (pods or policies): an array of objects of size sz starting with their ns and name
 * pointers, sorted by them. */
struct kind {
	size_t sz;
	const void *(*of)(const struct np_inventory *inv, size_t *n);
};

static const char *ns_of(const void *o)
{
	return ((const char *const *)o)[0];
}

static const char *name_of(const void *o)
{
	return ((const char *const *)o)[1];
}

static int obj_cmp(const void *x, const void *y)
{
	const void *a = *(const void *const *)x, *b = *(const void *const *)y;
	return nsname_cmp(ns_of(a), name_of(a), ns_of(b), name_of(b));
}

static int size_cmp(const void *x, const void *y)
{
	size_t a = *(const size_t *)x, b = *(const size_t *)y;
	return (a > b) - (a < b);
}

/* Where o is in arr[0..n) (sorted), or n. */
static size_t find(const void *arr, size_t n, size_t sz, const void *o)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *x = (const char *)arr + mid * sz;
		int c = nsname_cmp(ns_of(x), name_of(x), ns_of(o), name_of(o));
		if (!c)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return n;
}

/* *arr (n_arr objects) with the edits' old objects of this kind out and their new ones in, in a
 * new array; false when that is not what a whole merge would give (an object not found as the
 * edit's own, a name twice, a namespace nothing declares). */
static bool patch_kind(const struct invmerge *im, const struct kind *k, void **arr, size_t *n_arr)
{
	const struct np_inventory *m = im->m;
	size_t *gone = NULL, n_gone = 0, cap_gone = 0;
	const void **ins = NULL;
	size_t n_ins = 0, cap_ins = 0;
	bool ok = true;
	for (size_t i = 0; ok && i < im->n_e; i++)
		for (int side = 0; ok && side < 2; side++) {
			const struct np_inventory *f = side ? im->e[i].n : im->e[i].o;
			size_t n = 0;
			const char *v = f ? k->of(f, &n) : NULL;
			for (size_t j = 0; ok && j < n; j++) {
				const char *o = v + j * k->sz;
				ok = ns_declared(m, ns_of(o));
				if (side) {
					VEC_PUSH(ins, n_ins, cap_ins) = o;
					continue;
				}
				size_t at = find(*arr, *n_arr, k->sz, o);
				/* (a duplicate dropped from the merge is another file's object) */
				ok = ok && at < *n_arr &&
				     name_of((const char *)*arr + at * k->sz) == name_of(o);
				VEC_PUSH(gone, n_gone, cap_gone) = at;
			}
		}
	if (n_gone > 1)
		qsort(gone, n_gone, sizeof(*gone), size_cmp);
	if (n_ins > 1)
		qsort(ins, n_ins, sizeof(*ins), obj_cmp);
	size_t n_new = *n_arr - n_gone + n_ins, i = 0, j = 0, g = 0, w = 0;
	char *out = ok ? xmalloc((n_new + 1) * k->sz) : NULL;
	while (ok && (i < *n_arr || j < n_ins)) {
		const char *o = (const char *)*arr + i * k->sz;
		if (g < n_gone && gone[g] == i) {
			if (g + 1 < n_gone && gone[g + 1] == i)
				ok = false; /* taken out twice */
			g++, i++;
			continue;
		}
		int c = j == n_ins ? 1 : i == *n_arr ? -1 :
			nsname_cmp(ns_of(ins[j]), name_of(ins[j]), ns_of(o), name_of(o));
		if (c == 0 || (c < 0 && j + 1 < n_ins && !obj_cmp(&ins[j], &ins[j + 1]))) {
			ok = false; /* a name twice: a whole merge reports it */
		} else if (c < 0) {
			memcpy(out + w++ * k->sz, ins[j++], k->sz);
		} else {
			memcpy(out + w++ * k->sz, o, k->sz);
			i++;
		}
	}
	free(gone);
	free(ins);
	if (!ok || w != n_new) {
		free(out);
		return false;
	}
	free(*arr);
	*arr = out;
	*n_arr = n_new;
	return true;
}

static const void *pods_of(const struct np_inventory *inv, size_t *n)
{
	*n = inv->n_pods;
	return inv->pods;
}

static const void *pols_of(const struct np_inventory *inv, size_t *n)
{
	*n = inv->n_pols;
	return inv->pols;
}

/* Whether the edits can be patched in: only pods and policies, not too many. */
static bool patchable(const struct invmerge *im)
{
	size_t objs = 0;
	if (!im->m || im->stale || im->dups)
		return false;
	for (size_t i = 0; i < im->n_e; i++)
		for (int side = 0; side < 2; side++) {
			const struct np_inventory *f = side ? im->e[i].n : im->e[i].o;
			if (f && (f->n_nss || f->n_nodes || f->n_admins))
				return false;
			objs += f ? f->n_pods + f->n_pols : 0;
		}
	return objs <= PATCH_MAX;
}

static bool merge_patched(struct invmerge *im)
{
	struct np_inventory *m = im->m;
	static const struct kind pods = { sizeof(struct np_pod), pods_of };
	static const struct kind pols = { sizeof(struct np_policy), pols_of };
	void *p = m->pods, *q = m->pols;
	if (!patch_kind(im, &pods, &p, &m->n_pods))
		return false;
	m->pods = p;
	m->cap_pods = m->n_pods;
	if (!patch_kind(im, &pols, &q, &m->n_pols))
		return false;
	m->pols = q;
	m->cap_pols = m->n_pols;
	return true;
}

/* ---- the copy handed out ---- */

static void *dup_array(const void *v, size_t n, size_t sz, size_t *cap)
{
	*cap = n + n / 16 + 16; /* room for what the endpoint records add, without a realloc */
	void *c = xmalloc(*cap * sz);
	if (n)
		memcpy(c, v, n * sz);
	return c;
}

/* A copy of m the caller owns: the arrays its own, implicit namespaces in its arena. */
static struct np_inventory *copy_of(const struct np_inventory *m)
{
	struct np_inventory *c = np_inventory_new();
	if (!c)
		abort();
	c->nss = dup_array(m->nss, m->n_nss, sizeof(*m->nss), &c->cap_nss);
	c->pods = dup_array(m->pods, m->n_pods, sizeof(*m->pods), &c->cap_pods);
	c->pols = dup_array(m->pols, m->n_pols, sizeof(*m->pols), &c->cap_pols);
	c->nodes = dup_array(m->nodes, m->n_nodes, sizeof(*m->nodes), &c->cap_nodes);
	c->admins = dup_array(m->admins, m->n_admins, sizeof(*m->admins), &c->cap_admins);
	c->n_nss = m->n_nss;
	c->n_pods = m->n_pods;
	c->n_pols = m->n_pols;
	c->n_nodes = m->n_nodes;
	c->n_admins = m->n_admins;
	for (size_t i = 0; i < c->n_nss; i++) {
		struct np_namespace *ns = &c->nss[i];
		if (!ns->implicit)
			continue;
		ns->name = np_arena_strdup(c->arena, ns->name);
		struct np_label *l = np_arena_alloc(c->arena, ns->labels.n * sizeof(*l) + 1);
		memcpy(l, ns->labels.v, ns->labels.n * sizeof(*l));
		for (size_t j = 0; j < ns->labels.n; j++)
			if (l[j].value == m->nss[i].name)
				l[j].value = ns->name;
		ns->labels.v = l;
	}
	return c;
}

int invmerge_get(struct invmerge *im, invmerge_fill_fn fill, const void *arg,
		 struct np_inventory **out, struct np_diags *diags, bool *whole)
{
	*whole = !patchable(im) || !merge_patched(im);
	if (*whole) {
		np_inventory_free(im->m);
		im->m = merge_whole(fill, arg, diags, &im->dups);
	}
	im->stale = false;
	im->n_e = 0;
	*out = copy_of(im->m);
	return 0;
}
