/* srcpos.h — finding the line and column of a JSON Pointer in a source text, after the fact.
 * Loading never records positions (10k pods would pay for nothing); a record that is shown
 * re-scans its file once, for all the records of that file together. */
#ifndef NETPOL_SRCPOS_H
#define NETPOL_SRCPOS_H

#include <stddef.h>

#include "diag.h"

struct np_srcpos_query {
	int doc;         /* YAML document index (0 for JSON) */
	const char *ptr; /* JSON Pointer inside that document */
	int line, col;   /* out: 1-based; the deepest existing ancestor when ptr itself does not
			    exist (a missing field points at the object that lacks it) */
};

/* Resolves every query against src in one or a few passes over the text. Queries whose
 * document cannot be found (or whose text no longer parses) keep line = col = 0. */
void np_srcpos_locate(const struct np_source *src, struct np_srcpos_query *q, size_t n);

#endif
