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

/* A growing JSON Pointer, for walkers and the parser. s is NUL-terminated once reserved. */
struct np_ptrbuf {
	char *s;
	size_t len, cap;
};
void np_ptr_reserve(struct np_ptrbuf *p, size_t extra);
/* Appends "/" + seg (n bytes) with RFC 6901 escaping: '~' → "~0", '/' → "~1". */
void np_ptr_push(struct np_ptrbuf *p, const char *seg, size_t n);
void np_ptr_push_index(struct np_ptrbuf *p, size_t i);
void np_ptr_truncate(struct np_ptrbuf *p, size_t len);

/* libyaml reports positions at the end of input on the line after the last one when the text
 * does not end in a newline; this moves such a position to the end of the last line, where an
 * editor can go. */
void np_text_clamp_position(const char *text, size_t len, int *line, int *col);

/* Resolves every query against src in one or a few passes over the text. Queries whose
 * document cannot be found (or whose text no longer parses) keep line = col = 0. */
void np_srcpos_locate(const struct np_source *src, struct np_srcpos_query *q, size_t n);

#endif
