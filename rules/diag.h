/* diag.h — error and warning records. Library code never prints: it appends records here and the
 * caller decides how to show them. */
#ifndef NETPOL_DIAG_H
#define NETPOL_DIAG_H

#include <stddef.h>
#include <stdio.h>

enum np_sev { NP_SEV_ERROR, NP_SEV_WARNING, NP_SEV_NOTE };

/* One input file as loaded; kept so positions can be found again when a record is shown. */
struct np_source {
	char *path;
	char *text;
	size_t len;
	int yaml; /* 1: YAML stream (possibly several documents); 0: one JSON document */
};

/* A record. line/col are 1-based; 0 means "not located yet" (np_diag_locate finds them from
 * src + doc + pointer, so the hot path never pays for positions). */
struct np_diag {
	enum np_sev sev;
	const struct np_source *src; /* may be NULL (no file, e.g. a kernel error) */
	int doc;                     /* YAML document index in src, 0 for JSON */
	char *pointer;               /* JSON Pointer (RFC 6901) inside that document, or NULL */
	int line, col;
	char *msg;
	int err; /* a kernel error: the errno the kernel answered (positive); else 0 */
};

struct np_diags {
	struct np_diag *v;
	size_t n, cap;
	size_t errors, warnings, notes; /* counts, including records dropped past max */
	size_t max;                     /* records kept; 0 = default (1000) */
};

void np_diags_init(struct np_diags *d);
void np_diags_free(struct np_diags *d);

/* Appends a record; pointer may be NULL; line/col may be 0. Never fails (drops past max). */
void np_diag_add(struct np_diags *d, enum np_sev sev, const struct np_source *src, int doc,
		 const char *pointer, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));

/* Fills line/col of every record that has a source and pointer but no position yet. */
void np_diags_locate(struct np_diags *d);

/* Writes "file:line:col: error: message (at /json/pointer)" into buf; returns what snprintf does. */
int np_diag_format(const struct np_diag *r, char *buf, size_t size);

/* Sorts records by file, document, line, column so output is deterministic. */
void np_diags_sort(struct np_diags *d);

#endif
