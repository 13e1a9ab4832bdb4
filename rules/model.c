/* model.c — the inventory: ownership, ordering, lookups, and the selector semantics of the
 * NetworkPolicy API (matchLabels AND matchExpressions; empty selects all; host-network pods
 * are outside every selector). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "inventory.h"
#include "model.h"
#include "vec.h"
#include "xalloc.h"

#define METADATA_NAME_LABEL "kubernetes.io/metadata.name"

struct np_inventory *np_inventory_new(void)
{
	struct np_inventory *inv = calloc(1, sizeof(*inv));
	if (!inv)
		return NULL;
	inv->arena = np_arena_new();
	return inv;
}

void np_inventory_free(struct np_inventory *inv)
{
	if (!inv)
		return;
	for (size_t i = 0; i < inv->n_srcs; i++) {
		free(inv->srcs[i]->path);
		free(inv->srcs[i]->text);
		free(inv->srcs[i]);
	}
	free(inv->srcs);
	free(inv->nss);
	free(inv->pods);
	free(inv->pols);
	free(inv->nodes);
	free(inv->admins);
	np_arena_free(inv->arena);
	free(inv);
}

/* (each returns a new zeroed element at the end of its array) */
struct np_namespace *np_inventory_add_namespace(struct np_inventory *inv)
{
	return memset(&VEC_PUSH(inv->nss, inv->n_nss, inv->cap_nss), 0, sizeof(*inv->nss));
}

struct np_pod *np_inventory_add_pod(struct np_inventory *inv)
{
	return memset(&VEC_PUSH(inv->pods, inv->n_pods, inv->cap_pods), 0, sizeof(*inv->pods));
}

struct np_policy *np_inventory_add_policy(struct np_inventory *inv)
{
	return memset(&VEC_PUSH(inv->pols, inv->n_pols, inv->cap_pols), 0, sizeof(*inv->pols));
}

struct np_node *np_inventory_add_node(struct np_inventory *inv)
{
	return memset(&VEC_PUSH(inv->nodes, inv->n_nodes, inv->cap_nodes), 0, sizeof(*inv->nodes));
}

struct np_admin_policy *np_inventory_add_admin(struct np_inventory *inv)
{
	return memset(&VEC_PUSH(inv->admins, inv->n_admins, inv->cap_admins), 0,
		      sizeof(*inv->admins));
}

struct np_source *np_inventory_add_source(struct np_inventory *inv, const char *path, char *text,
					  size_t len, int yaml)
{
	struct np_source *s = xcalloc(1, sizeof(*s));
	s->path = xstrdup(path ? path : "<input>");
	s->text = text;
	s->len = len;
	s->yaml = yaml;
	VEC_PUSH(inv->srcs, inv->n_srcs, inv->cap_srcs) = s;
	return s;
}

/* ---- ordering ---- */

/* A stable merge sort: qsort is not stable, and duplicate detection needs the first-loaded
 * object to stay first so the error points at the second occurrence. Natural: it merges the
 * ascending runs the input already has, so objects merged file by file (policyd re-merges on
 * every change, and files are mostly in order already) cost about one compare each. */
void np_sort_stable(void *base, size_t n, size_t sz, int (*cmp)(const void *, const void *))
{
	char *v = base;
	if (n < 2)
		return;
	size_t i = 1;
	while (i < n && cmp(v + (i - 1) * sz, v + i * sz) <= 0)
		i++;
	if (i == n)
		return;
	char *tmp = xreallocarray(NULL, n, sz);
	char *src = v, *dst = tmp;
	for (;;) {
		size_t runs = 0;
		for (size_t lo = 0; lo < n; runs++) {
			size_t mid = lo + 1;
			while (mid < n && cmp(src + (mid - 1) * sz, src + mid * sz) <= 0)
				mid++;
			size_t hi = mid < n ? mid + 1 : n;
			while (hi < n && cmp(src + (hi - 1) * sz, src + hi * sz) <= 0)
				hi++;
			size_t a = lo, b = mid, k = lo;
			while (a < mid && b < hi) {
				if (cmp(src + b * sz, src + a * sz) < 0)
					memcpy(dst + k++ * sz, src + b++ * sz, sz);
				else
					memcpy(dst + k++ * sz, src + a++ * sz, sz);
			}
			memcpy(dst + k * sz, src + a * sz, (mid - a) * sz);
			k += mid - a;
			memcpy(dst + k * sz, src + b * sz, (hi - b) * sz);
			lo = hi;
		}
		char *t = src;
		src = dst;
		dst = t;
		if (runs == 1)
			break;
	}
	if (src != v)
		memcpy(v, src, n * sz);
	free(tmp);
}

static int cmp_nsname(const char *ans, const char *an, const char *bns, const char *bn)
{
	int r = ans == bns ? 0 : strcmp(ans ? ans : "", bns ? bns : "");
	return r ? r : strcmp(an, bn);
}

static int cmp_ns(const void *a, const void *b)
{
	return strcmp(((const struct np_namespace *)a)->name, ((const struct np_namespace *)b)->name);
}

static int cmp_pod(const void *a, const void *b)
{
	const struct np_pod *x = a, *y = b;
	return cmp_nsname(x->ns, x->name, y->ns, y->name);
}

static int cmp_pol(const void *a, const void *b)
{
	const struct np_policy *x = a, *y = b;
	return cmp_nsname(x->ns, x->name, y->ns, y->name);
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const struct np_node *)a)->name, ((const struct np_node *)b)->name);
}

/* Evaluation order of the admin tiers; kind last so a CNP and an ANP of one name still have a
 * fixed order (equal priorities are broken by name, as kube-network-policies and Calico do). */
static int cmp_admin(const void *a, const void *b)
{
	const struct np_admin_policy *x = a, *y = b;
	if (x->tier != y->tier)
		return x->tier < y->tier ? -1 : 1;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	int r = strcmp(x->name, y->name);
	return r ? r : strcmp(x->kind, y->kind);
}

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct np_label *)a)->key, ((const struct np_label *)b)->key);
}

long np_labels_sort(struct np_labels *labels)
{
	np_sort_stable(labels->v, labels->n, sizeof(*labels->v), cmp_label);
	for (size_t i = 1; i < labels->n; i++)
		if (!strcmp(labels->v[i - 1].key, labels->v[i].key))
			return (long)i;
	return -1;
}

static void report_dup(struct np_diags *d, const char *kind, const struct np_ref *dup,
		       const struct np_ref *first, const char *ns, const char *name)
{
	char where[512] = "";
	if (first->src)
		snprintf(where, sizeof(where), " (first defined in %s%s%s)", first->src->path,
			 first->ptr && *first->ptr ? " at " : "", first->ptr ? first->ptr : "");
	char ptr[1024];
	snprintf(ptr, sizeof(ptr), "%s/metadata/name", dup->ptr ? dup->ptr : "");
	np_diag_add(d, NP_SEV_ERROR, dup->src, dup->doc, ptr, 0, 0, "duplicate %s %s%s%s%s", kind, ns ? ns : "", ns ? "/" : "", name, where);
}

/* Removes later duplicates from a sorted array; ns_of/name_of/ref_of read the fields. */
#define DEDUP(arr, n, T, NSF, kind)                                                              \
	do {                                                                                     \
		size_t w_ = 0;                                                                   \
		for (size_t r_ = 0; r_ < (n); r_++) {                                            \
			T *cur_ = &(arr)[r_];                                                    \
			if (w_ && !cmp_nsname(NSF((arr)[w_ - 1]), (arr)[w_ - 1].name,            \
					      NSF(*cur_), cur_->name)) {                         \
				report_dup(diags, kind, &cur_->ref, &(arr)[w_ - 1].ref,          \
					   NSF(*cur_), cur_->name);                              \
				continue;                                                        \
			}                                                                        \
			(arr)[w_++] = *cur_;                                                     \
		}                                                                                \
		(n) = w_;                                                                        \
	} while (0)

#define NS_OF(x) ((x).ns)
#define NO_NS(x) ((const char *)NULL)

static bool same_name(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void add_implicit_ns(struct np_inventory *inv, const char *name)
{
	if (!name || np_inventory_namespace(inv, name))
		return;
	/* keep nss sorted: append, then move into place (rare; implicit namespaces are few) */
	struct np_namespace *ns = np_inventory_add_namespace(inv);
	ns->name = np_arena_strdup(inv->arena, name);
	ns->implicit = true;
	ns->labels.v = np_arena_alloc(inv->arena, sizeof(struct np_label));
	ns->labels.v[0].key = METADATA_NAME_LABEL;
	ns->labels.v[0].value = ns->name;
	ns->labels.n = 1;
	struct np_namespace tmp = *ns;
	size_t i = inv->n_nss - 1;
	while (i > 0 && strcmp(inv->nss[i - 1].name, tmp.name) > 0) {
		inv->nss[i] = inv->nss[i - 1];
		i--;
	}
	inv->nss[i] = tmp;
}

void np_inventory_sort(struct np_inventory *inv)
{
	np_sort_stable(inv->nss, inv->n_nss, sizeof(*inv->nss), cmp_ns);
	np_sort_stable(inv->pods, inv->n_pods, sizeof(*inv->pods), cmp_pod);
	np_sort_stable(inv->pols, inv->n_pols, sizeof(*inv->pols), cmp_pol);
	np_sort_stable(inv->nodes, inv->n_nodes, sizeof(*inv->nodes), cmp_node);
}

void np_inventory_finish(struct np_inventory *inv, struct np_diags *diags)
{
	np_inventory_sort(inv);
	DEDUP(inv->nss, inv->n_nss, struct np_namespace, NO_NS, "Namespace");
	DEDUP(inv->pods, inv->n_pods, struct np_pod, NS_OF, "Pod");
	DEDUP(inv->pols, inv->n_pols, struct np_policy, NS_OF, "NetworkPolicy");
	DEDUP(inv->nodes, inv->n_nodes, struct np_node, NO_NS, "Node");
	np_sort_stable(inv->admins, inv->n_admins, sizeof(*inv->admins), cmp_admin);
	/* names are unique per kind (cluster-scoped objects), whatever their priority */
	for (size_t i = 0; i < inv->n_admins; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(inv->admins[i].kind, inv->admins[j].kind) &&
			    !strcmp(inv->admins[i].name, inv->admins[j].name)) {
				report_dup(diags, inv->admins[i].kind, &inv->admins[i].ref,
					   &inv->admins[j].ref, NULL, inv->admins[i].name);
				memmove(&inv->admins[i], &inv->admins[i + 1],
					(inv->n_admins - i - 1) * sizeof(*inv->admins));
				inv->n_admins--;
				i--;
				break;
			}
	/* sorted by namespace: look each one up once */
	for (size_t i = 0; i < inv->n_pods; i++)
		if (!i || !same_name(inv->pods[i].ns, inv->pods[i - 1].ns))
			add_implicit_ns(inv, inv->pods[i].ns);
	for (size_t i = 0; i < inv->n_pols; i++)
		if (!i || !same_name(inv->pols[i].ns, inv->pols[i - 1].ns))
			add_implicit_ns(inv, inv->pols[i].ns);
}

void np_inventory_finish_tail(struct np_inventory *inv, size_t n_finished)
{
	size_t k = inv->n_pods - n_finished;
	if (!k)
		return;
	np_sort_stable(inv->pods + n_finished, k, sizeof(*inv->pods), cmp_pod);
	/* merge from the back: only the pods after the first insertion point move */
	struct np_pod *tail = xmalloc(k * sizeof(*tail));
	memcpy(tail, inv->pods + n_finished, k * sizeof(*tail));
	size_t i = n_finished, j = k, w = inv->n_pods;
	while (j > 0) {
		if (i > 0 && cmp_pod(&inv->pods[i - 1], &tail[j - 1]) > 0)
			inv->pods[--w] = inv->pods[--i];
		else
			inv->pods[--w] = tail[--j];
	}
	for (j = 0; j < k; j++)
		add_implicit_ns(inv, tail[j].ns);
	free(tail);
}

/* ---- lookups ---- */

const struct np_namespace *np_inventory_namespace(const struct np_inventory *inv,
						  const char *name)
{
	size_t lo = 0, hi = inv->n_nss;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = strcmp(inv->nss[mid].name, name);
		if (!r)
			return &inv->nss[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct np_pod *np_inventory_pod(const struct np_inventory *inv, const char *ns,
				      const char *name)
{
	size_t lo = 0, hi = inv->n_pods;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = cmp_nsname(inv->pods[mid].ns, inv->pods[mid].name, ns, name);
		if (!r)
			return &inv->pods[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- selectors ---- */

void np_inventory_ns_pods(const struct np_inventory *inv, const char *ns, size_t *lo,
			  size_t *hi)
{
	size_t a = 0, b = inv->n_pods;
	while (a < b) { /* first pod of ns */
		size_t mid = (a + b) / 2;
		if (strcmp(inv->pods[mid].ns, ns) < 0)
			a = mid + 1;
		else
			b = mid;
	}
	*lo = a;
	b = inv->n_pods;
	while (a < b) { /* first pod after ns */
		size_t mid = (a + b) / 2;
		if (strcmp(inv->pods[mid].ns, ns) <= 0)
			a = mid + 1;
		else
			b = mid;
	}
	*hi = a;
}

const char *np_labels_get(const struct np_labels *labels, const char *key)
{
	size_t lo = 0, hi = labels->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = strcmp(labels->v[mid].key, key);
		if (!r)
			return labels->v[mid].value;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool value_in(const struct np_sel_expr *e, const char *v)
{
	size_t lo = 0, hi = e->n_values;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = strcmp(e->values[mid], v);
		if (!r)
			return true;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool np_selector_matches(const struct np_selector *sel, const struct np_labels *labels)
{
	if (!sel)
		return false;
	for (size_t i = 0; i < sel->match_labels.n; i++) {
		const char *v = np_labels_get(labels, sel->match_labels.v[i].key);
		if (!v || strcmp(v, sel->match_labels.v[i].value))
			return false;
	}
	for (size_t i = 0; i < sel->n_exprs; i++) {
		const struct np_sel_expr *e = &sel->exprs[i];
		const char *v = np_labels_get(labels, e->key);
		bool ok = false;
		switch (e->op) {
		case NP_SEL_IN:
			ok = v && value_in(e, v);
			break;
		case NP_SEL_NOT_IN: /* an absent label is "not in" any set, as in Kubernetes */
			ok = !v || !value_in(e, v);
			break;
		case NP_SEL_EXISTS:
			ok = v != NULL;
			break;
		case NP_SEL_DOES_NOT_EXIST:
			ok = v == NULL;
			break;
		}
		if (!ok)
			return false;
	}
	return true;
}

bool np_selector_is_empty(const struct np_selector *sel)
{
	return sel && sel->match_labels.n == 0 && sel->n_exprs == 0;
}

bool np_peer_selects_pod(const struct np_inventory *inv, const char *policy_ns,
			 const struct np_peer *peer, const struct np_pod *pod)
{
	/* ipBlock peers are matched by address, not here; a host-network pod shares the node's
	 * address and is never a selector peer (API reference: behaviour undefined, and every
	 * major implementation treats it as the node) */
	if (pod->host_network || peer->ipblock || (!peer->pod_sel && !peer->ns_sel))
		return false;
	if (!peer->ns_sel) /* podSelector alone: pods of the policy's own namespace */
		return !strcmp(pod->ns, policy_ns) && np_selector_matches(peer->pod_sel, &pod->labels);
	const struct np_namespace *ns = np_inventory_namespace(inv, pod->ns);
	struct np_label implicit = { METADATA_NAME_LABEL, pod->ns };
	struct np_labels only_name = { &implicit, 1 };
	if (!np_selector_matches(peer->ns_sel, ns ? &ns->labels : &only_name))
		return false;
	return !peer->pod_sel || np_selector_matches(peer->pod_sel, &pod->labels);
}

bool np_policy_selects_pod(const struct np_policy *pol, const struct np_pod *pod)
{
	return !pod->host_network && !strcmp(pol->ns, pod->ns) &&
	       np_selector_matches(&pol->pod_sel, &pod->labels);
}

static bool ns_matches(const struct np_inventory *inv, const struct np_selector *sel,
		       const char *name)
{
	const struct np_namespace *ns = np_inventory_namespace(inv, name);
	struct np_label implicit = { METADATA_NAME_LABEL, name };
	struct np_labels only_name = { &implicit, 1 };
	return np_selector_matches(sel, ns ? &ns->labels : &only_name);
}

bool np_admin_selects_pod(const struct np_inventory *inv, const struct np_admin_policy *ap,
			  const struct np_pod *pod)
{
	/* "host-networked pods are not included in subject selection" */
	return !pod->host_network && ns_matches(inv, &ap->subj_ns, pod->ns) &&
	       (!ap->subj_pod || np_selector_matches(ap->subj_pod, &pod->labels));
}

bool np_node_sel_has_addr(const struct np_inventory *inv, const struct np_selector *sel,
			  const struct np_addr *addr)
{
	for (size_t i = 0; i < inv->n_nodes; i++) {
		if (!np_selector_matches(sel, &inv->nodes[i].labels))
			continue;
		for (size_t j = 0; j < inv->nodes[i].n_addrs; j++)
			if (!np_addr_cmp(&inv->nodes[i].addrs[j], addr))
				return true;
	}
	return false;
}

const char *np_action_name(enum np_action a)
{
	switch (a) {
	case NP_ACT_ACCEPT: return "Accept";
	case NP_ACT_DENY: return "Deny";
	case NP_ACT_PASS: return "Pass";
	case NP_ACT_NONE: break;
	}
	return "-";
}

const char *np_tier_name(enum np_tier t)
{
	return t == NP_TIER_ADMIN ? "Admin" : "Baseline";
}
