/* srcpos.c — JSON Pointer → line:column, by re-scanning a source only when a record is shown.
 *
 * Both formats are walked the same way: every node is visited with its pointer and the position
 * of its first character; queries are sorted and found by binary search, so one walk answers
 * any number of queries. A query whose pointer does not exist (a missing field) is retried with
 * its parent's pointer on a further walk, so it ends up at the object that lacks the field.
 * Columns count characters (UTF-8 code points), as jansson and libyaml do in their errors. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "srcpos.h"
#include "vec.h"
#include "xalloc.h"

/* The walkers bail out past this depth; jansson refuses deeper documents anyway (2048). */
#define WALK_MAX_DEPTH 2048

void np_ptr_reserve(struct np_ptrbuf *p, size_t extra)
{
	if (p->s && p->len + extra + 1 <= p->cap)
		return;
	size_t nc = p->cap ? p->cap : 256;
	while (nc < p->len + extra + 1)
		nc *= 2;
	p->s = xrealloc(p->s, nc);
	p->cap = nc;
	p->s[p->len] = 0;
}

void np_ptr_push(struct np_ptrbuf *p, const char *seg, size_t n)
{
	np_ptr_reserve(p, 2 * n + 1);
	p->s[p->len++] = '/';
	for (size_t i = 0; i < n; i++) {
		if (seg[i] == '~' || seg[i] == '/') {
			p->s[p->len++] = '~';
			p->s[p->len++] = seg[i] == '~' ? '0' : '1';
		} else {
			p->s[p->len++] = seg[i];
		}
	}
	p->s[p->len] = 0;
}

void np_ptr_push_index(struct np_ptrbuf *p, size_t i)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%zu", i);
	np_ptr_push(p, b, (size_t)n);
}

void np_ptr_truncate(struct np_ptrbuf *p, size_t len)
{
	np_ptr_reserve(p, 0);
	p->len = len;
	p->s[len] = 0;
}

static void text_end(const char *text, size_t len, int *lines, int *last_col)
{
	*lines = 1;
	*last_col = 1;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n') {
			++*lines;
			*last_col = 1;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
			++*last_col;
		}
	}
}

void np_text_clamp_position(const char *text, size_t len, int *line, int *col)
{
	int lines, last_col;
	text_end(text, len, &lines, &last_col);
	if (*line > lines) {
		*line = lines;
		*col = last_col;
	}
}

/* ---- the query set ---- */

struct locator {
	struct np_srcpos_query *q;
	char **work;    /* per query: the pointer currently searched (shrinks on retries) */
	size_t *order;  /* query indexes sorted by (doc, work) */
	size_t n;
	bool found_any; /* this pass located something */
};

static int cmp_order(const void *a, const void *b, void *ctx)
{
	const struct locator *L = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	if (L->q[x].doc != L->q[y].doc)
		return L->q[x].doc < L->q[y].doc ? -1 : 1;
	return strcmp(L->work[x], L->work[y]);
}

static void visit(struct locator *L, int doc, const struct np_ptrbuf *p, int line, int col)
{
	const char *s = p->len ? p->s : "";
	size_t lo = 0, hi = L->n;
	while (lo < hi) { /* first element >= (doc, s) */
		size_t mid = (lo + hi) / 2, k = L->order[mid];
		int r = L->q[k].doc != doc ? (L->q[k].doc < doc ? -1 : 1) : strcmp(L->work[k], s);
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < L->n; lo++) {
		size_t k = L->order[lo];
		if (L->q[k].doc != doc || strcmp(L->work[k], s))
			break;
		if (!L->q[k].line) {
			L->q[k].line = line;
			L->q[k].col = col;
			L->found_any = true;
		}
	}
}

/* ---- JSON ---- */

struct jscan {
	const char *s, *end;
	int line, col;
	struct locator *L;
	struct np_ptrbuf ptr;
	char *key;
	size_t key_cap;
};

static void j_adv(struct jscan *j)
{
	if (*j->s == '\n') {
		j->line++;
		j->col = 1;
	} else if (((unsigned char)*j->s & 0xc0) != 0x80) {
		j->col++;
	}
	j->s++;
}

static void j_ws(struct jscan *j)
{
	while (j->s < j->end && (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r'))
		j_adv(j);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void key_put(struct jscan *j, size_t *n, const char *b, size_t k)
{
	if (*n + k + 1 > j->key_cap) {
		j->key_cap = (*n + k + 1) * 2;
		j->key = xrealloc(j->key, j->key_cap);
	}
	memcpy(j->key + *n, b, k);
	*n += k;
}

static unsigned read_u4(const char *s)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(s[i]);
		if (h < 0)
			return 0xfffd;
		v = v * 16 + (unsigned)h;
	}
	return v;
}

static size_t utf8_put(unsigned cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Scans a string at j->s ('"'); when decode, leaves the decoded bytes in j->key[0..*n). */
static int j_string(struct jscan *j, bool decode, size_t *n)
{
	*n = 0;
	j_adv(j);
	while (j->s < j->end && *j->s != '"') {
		if (*j->s != '\\') {
			if (decode)
				key_put(j, n, j->s, 1);
			j_adv(j);
			continue;
		}
		if (j->end - j->s < 2)
			return -1;
		char c = j->s[1], out[8];
		size_t k = 1;
		j_adv(j);
		j_adv(j);
		switch (c) {
		case 'n': out[0] = '\n'; break;
		case 't': out[0] = '\t'; break;
		case 'r': out[0] = '\r'; break;
		case 'b': out[0] = '\b'; break;
		case 'f': out[0] = '\f'; break;
		case 'u': {
			if (j->end - j->s < 4)
				return -1;
			unsigned cp = read_u4(j->s);
			for (int i = 0; i < 4; i++)
				j_adv(j);
			if (cp >= 0xd800 && cp < 0xdc00 && j->end - j->s >= 6 && j->s[0] == '\\' &&
			    j->s[1] == 'u') {
				unsigned lo = read_u4(j->s + 2);
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					for (int i = 0; i < 6; i++)
						j_adv(j);
				}
			}
			k = utf8_put(cp, out);
			break;
		}
		default: out[0] = c; break;
		}
		if (decode)
			key_put(j, n, out, k);
	}
	if (j->s >= j->end)
		return -1;
	j_adv(j);
	return 0;
}

static int j_value(struct jscan *j, int doc, int depth)
{
	j_ws(j);
	if (j->s >= j->end || depth > WALK_MAX_DEPTH)
		return -1;
	visit(j->L, doc, &j->ptr, j->line, j->col);
	size_t n, save = j->ptr.len;
	if (*j->s == '{' || *j->s == '[') {
		bool obj = *j->s == '{';
		char close = obj ? '}' : ']';
		j_adv(j);
		j_ws(j);
		if (j->s < j->end && *j->s == close) {
			j_adv(j);
			return 0;
		}
		for (size_t idx = 0;; idx++) {
			j_ws(j);
			if (obj) {
				if (j->s >= j->end || *j->s != '"' || j_string(j, true, &n) < 0)
					return -1;
				np_ptr_push(&j->ptr, j->key, n);
				j_ws(j);
				if (j->s >= j->end || *j->s != ':')
					return -1;
				j_adv(j);
			} else {
				np_ptr_push_index(&j->ptr, idx);
			}
			if (j_value(j, doc, depth + 1) < 0)
				return -1;
			j->ptr.len = save;
			j->ptr.s[save] = 0;
			j_ws(j);
			if (j->s >= j->end)
				return -1;
			if (*j->s == close) {
				j_adv(j);
				return 0;
			}
			if (*j->s != ',')
				return -1;
			j_adv(j);
		}
	}
	if (*j->s == '"')
		return j_string(j, false, &n);
	/* number, true, false, null */
	while (j->s < j->end && !strchr(",]} \t\r\n", *j->s))
		j_adv(j);
	return 0;
}

static void walk_json(const struct np_source *src, struct locator *L)
{
	struct jscan j = { .s = src->text, .end = src->text + src->len, .line = 1, .col = 1, .L = L };
	if (src->len >= 3 && !memcmp(src->text, "\xef\xbb\xbf", 3))
		j.s += 3; /* a UTF-8 byte order mark: editors do not count it as a column */
	np_ptr_reserve(&j.ptr, 0);
	j.ptr.s[0] = 0;
	j_value(&j, 0, 0);
	free(j.ptr.s);
	free(j.key);
}

/* ---- YAML ---- */

struct yframe {
	bool map;
	bool expect_key; /* mapping: next node is a key */
	size_t idx;      /* sequence: next index */
	size_t save;     /* pointer length of this container */
	int skip;        /* >0: inside a non-scalar mapping key; its nodes have no pointer */
};

/* A YAML walk: the pointer of the node being visited, the containers around it. */
struct ywalk {
	struct locator *L;
	struct np_ptrbuf p;
	struct yframe *st;
	size_t depth, cap;
	int doc;
	char *key; /* the pending mapping key, decoded */
	size_t keylen;
};

/* A document starts, a container ends: where the pointer goes back to. */
static void ywalk_structure(struct ywalk *w, const yaml_event_t *ev)
{
	if (ev->type == YAML_DOCUMENT_START_EVENT) {
		w->doc++;
		w->depth = 0;
		w->p.len = 0;
		w->p.s[0] = 0;
	} else if ((ev->type == YAML_MAPPING_END_EVENT || ev->type == YAML_SEQUENCE_END_EVENT) &&
		   w->depth) {
		w->depth--;
		w->p.len = w->st[w->depth].save;
		w->p.s[w->p.len] = 0;
	}
}

/* A node (scalar, alias, or a container's start) at line:col: a mapping key is remembered, a
 * value visited under its pointer; a container is entered. */
static void ywalk_node(struct ywalk *w, const yaml_event_t *ev, int line, int col)
{
	bool opens = ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT;
	struct yframe *top = w->depth ? &w->st[w->depth - 1] : NULL;
	bool in_key_tree = top && top->skip;
	bool as_key = top && top->map && top->expect_key && !in_key_tree;
	size_t before = w->p.len;
	if (as_key) {
		top->expect_key = false;
		free(w->key);
		w->key = NULL;
		w->keylen = 0;
		if (ev->type == YAML_SCALAR_EVENT) {
			w->keylen = ev->data.scalar.length;
			w->key = xmalloc(w->keylen + 1);
			memcpy(w->key, ev->data.scalar.value, w->keylen);
		}
	} else if (!in_key_tree) {
		if (top && top->map) {
			top->expect_key = true;
			/* a complex key has no pointer form; \x01 matches no query */
			np_ptr_push(&w->p, w->key ? w->key : "\x01", w->key ? w->keylen : 1);
		} else if (top) {
			np_ptr_push_index(&w->p, top->idx++);
		}
		visit(w->L, w->doc, &w->p, line, col);
	}
	if (opens) {
		VEC_GROW(w->st, w->depth, w->cap);
		w->st[w->depth++] = (struct yframe){ .map = ev->type == YAML_MAPPING_START_EVENT,
						     .expect_key = true,
						     .save = before,
						     .skip = in_key_tree || as_key };
	} else if (!as_key && !in_key_tree) {
		w->p.len = before;
		w->p.s[w->p.len] = 0;
	}
}

static void walk_yaml(const struct np_source *src, struct locator *L)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_input_string(&parser, (const unsigned char *)src->text, src->len);
	struct ywalk w = { .L = L, .doc = -1 };
	np_ptr_reserve(&w.p, 0);
	w.p.s[0] = 0;
	int lines, last_col;
	text_end(src->text, src->len, &lines, &last_col);
	for (bool done = false; !done;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev))
			break;
		int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
		if (line > lines) { /* see np_text_clamp_position */
			line = lines;
			col = last_col;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		ywalk_structure(&w, &ev);
		if (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_MAPPING_START_EVENT ||
		    ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_ALIAS_EVENT)
			ywalk_node(&w, &ev, line, col);
		yaml_event_delete(&ev);
		if (w.depth > WALK_MAX_DEPTH)
			break;
	}
	free(w.key);
	free(w.st);
	free(w.p.s);
	yaml_parser_delete(&parser);
}

void np_srcpos_locate(const struct np_source *src, struct np_srcpos_query *q, size_t n)
{
	if (!n)
		return;
	struct locator L = { .q = q, .n = n };
	L.work = xcalloc(n, sizeof(*L.work));
	L.order = xcalloc(n, sizeof(*L.order));
	for (size_t i = 0; i < n; i++) {
		q[i].line = q[i].col = 0;
		L.work[i] = xstrdup(q[i].ptr ? q[i].ptr : "");
		L.order[i] = i;
	}
	for (;;) {
		qsort_r(L.order, n, sizeof(*L.order), cmp_order, &L);
		L.found_any = false;
		if (src->yaml)
			walk_yaml(src, &L);
		else
			walk_json(src, &L);
		/* shorten every unresolved pointer by one segment and walk again; stop when none
		 * is left to shorten (an empty pointer that was not found means no such document) */
		bool again = false;
		for (size_t i = 0; i < n; i++) {
			char *slash;
			if (q[i].line || !*L.work[i] || !(slash = strrchr(L.work[i], '/')))
				continue;
			*slash = 0;
			again = true;
		}
		if (!again)
			break;
	}
	for (size_t i = 0; i < n; i++)
		free(L.work[i]);
	free(L.work);
	free(L.order);
}
