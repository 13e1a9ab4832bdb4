/* diag.c — error and warning records: collected by library code, shown by the programs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "srcpos.h"
#include "vec.h"
#include "xalloc.h"

#define DIAGS_DEFAULT_MAX 1000

void np_diags_init(struct np_diags *d)
{
	memset(d, 0, sizeof(*d));
}

void np_diags_free(struct np_diags *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].pointer);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

void np_diag_add(struct np_diags *d, enum np_sev sev, const struct np_source *src, int doc,
		 const char *pointer, int line, int col, const char *fmt, ...)
{
	if (sev == NP_SEV_ERROR)
		d->errors++;
	else if (sev == NP_SEV_WARNING)
		d->warnings++;
	else
		d->notes++;
	size_t max = d->max ? d->max : DIAGS_DEFAULT_MAX;
	if (d->n >= max)
		return; /* counted, not kept: pfctl/nft cap their error lists the same way */
	struct np_diag *r = &VEC_PUSH(d->v, d->n, d->cap);
	memset(r, 0, sizeof(*r));
	r->sev = sev;
	r->src = src;
	r->doc = doc;
	r->line = line;
	r->col = col;
	r->pointer = pointer ? xstrdup(pointer) : NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&r->msg, fmt, ap) < 0)
		abort();
	va_end(ap);
}

void np_diags_locate(struct np_diags *d)
{
	struct np_srcpos_query *q = NULL;
	size_t *idx = NULL, cap_q = 0, cap_idx = 0;
	char *done = xcalloc(d->n + 1, 1);
	for (size_t i = 0; i < d->n; i++) {
		const struct np_source *src = d->v[i].src;
		if (done[i] || !src || !d->v[i].pointer || d->v[i].line)
			continue;
		/* gather every unlocated record of this source: one scan of the file for all */
		size_t nq = 0;
		for (size_t j = i; j < d->n; j++) {
			struct np_diag *r = &d->v[j];
			if (done[j] || r->src != src || !r->pointer || r->line)
				continue;
			done[j] = 1;
			VEC_GROW(q, nq, cap_q);
			VEC_GROW(idx, nq, cap_idx);
			q[nq] = (struct np_srcpos_query){ r->doc, r->pointer, 0, 0 };
			idx[nq++] = j;
		}
		np_srcpos_locate(src, q, nq);
		for (size_t k = 0; k < nq; k++) {
			d->v[idx[k]].line = q[k].line;
			d->v[idx[k]].col = q[k].col;
		}
	}
	free(done);
	free(q);
	free(idx);
}

static const char *sev_name(enum np_sev s)
{
	return s == NP_SEV_ERROR ? "error" : s == NP_SEV_WARNING ? "warning" : "note";
}

int np_diag_format(const struct np_diag *r, char *buf, size_t size)
{
	char where[64] = "";
	if (r->line > 0)
		snprintf(where, sizeof(where), ":%d:%d", r->line, r->col);
	const char *at = r->pointer && *r->pointer ? " [at " : "";
	return snprintf(buf, size, "%s%s: %s: %s%s%s%s", r->src ? r->src->path : "netpol", where,
			sev_name(r->sev), r->msg, at, *at ? r->pointer : "", *at ? "]" : "");
}

static int cmp_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int cmp_diag(const void *pa, const void *pb)
{
	const struct np_diag *a = pa, *b = pb;
	int r;
	if ((a->src != NULL) != (b->src != NULL))
		return a->src ? 1 : -1; /* records without a file (global ones) first */
	if (a->src && (r = strcmp(a->src->path, b->src->path)))
		return r;
	if (a->doc != b->doc)
		return a->doc < b->doc ? -1 : 1;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	if (a->sev != b->sev)
		return a->sev < b->sev ? -1 : 1;
	if ((r = cmp_str(a->pointer, b->pointer)))
		return r;
	return cmp_str(a->msg, b->msg);
}

void np_diags_sort(struct np_diags *d)
{
	/* every field takes part in the comparison, so qsort's instability cannot show */
	if (d->n > 1)
		qsort(d->v, d->n, sizeof(*d->v), cmp_diag);
}
