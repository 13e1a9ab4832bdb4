/* yamldoc.c — YAML stream → jansson trees, from libyaml's event parser (no recursion, so
 * hostile nesting cannot exhaust the stack here; depth is capped anyway because jansson frees
 * recursively). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "srcpos.h"
#include "yamldoc.h"
#include "vec.h"
#include "xalloc.h"

/* jansson's own parser stops at 2048; keep well inside that for json_decref's recursion */
#define YAML_MAX_DEPTH 512

struct yframe {
	json_t *node;   /* object or array */
	char *key;      /* object: pending key (value not seen yet), or NULL */
	bool key_done;  /* object: the pending key has been read (key may be "") */
	bool bad_key;   /* object: the pending key was a collection; drop its value */
	yaml_mark_t key_mark;
};

static bool in_set(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

static json_t *resolve_plain(const char *s, size_t n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	/* yes/no/on/off are booleans to kubectl's YAML 1.1 parser, so `app: yes` fails there
	 * and must fail here; the single letters y/n, also 1.1 booleans, are kept as strings:
	 * `namespace: n` meaning false surprises everyone and kubectl users rarely meet it */
	static const char *const trues[] = { "true", "True", "TRUE", "yes", "Yes", "YES",
					     "on", "On", "ON", NULL };
	static const char *const falses[] = { "false", "False", "FALSE", "no", "No", "NO",
					      "off", "Off", "OFF", NULL };
	if (strlen(s) != n) /* an embedded NUL: keep the bytes as they are */
		return json_stringn(s, n);
	if (in_set(s, nulls))
		return json_null();
	if (in_set(s, trues))
		return json_true();
	if (in_set(s, falses))
		return json_false();
	const char *p = s + (*s == '-' || *s == '+');
	if (*p >= '0' && *p <= '9') {
		char *end;
		errno = 0;
		long long v = strtoll(s, &end, 0);
		if (!*end && !errno)
			return json_integer(v);
		/* decimal float (or an integer too large for 64 bits) */
		bool ok = true;
		for (const char *c = p; *c && ok; c++)
			ok = (*c >= '0' && *c <= '9') || *c == '.' || *c == 'e' || *c == 'E' ||
			     *c == '-' || *c == '+';
		if (ok) {
			double d = strtod(s, &end);
			if (!*end)
				return json_real(d);
		}
	} else if (*p == '.' && p[1] >= '0' && p[1] <= '9') {
		char *end;
		double d = strtod(s, &end);
		if (!*end)
			return json_real(d);
	}
	return json_stringn(s, n);
}

static json_t *scalar_value(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	if (tag && (!strcmp(tag, YAML_STR_TAG) || !strcmp(tag, "!")))
		return json_stringn(v, n);
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(v, n);
	json_t *j = resolve_plain(v, n);
	/* a string with invalid UTF-8 is refused by jansson; libyaml has already checked it,
	 * so this only guards against surprises */
	return j ? j : json_null();
}

struct ybuild {
	const struct np_yaml_sink *sink;
	const char *text;
	size_t len;
	struct yframe *st;
	size_t depth, cap;
	json_t *root;
	int doc;
	bool doc_bad; /* an error was reported for this document: drop it */
};

static void yb_error(struct ybuild *b, const yaml_mark_t *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void yb_error(struct ybuild *b, const yaml_mark_t *m, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	int line = (int)m->line + 1, col = (int)m->column + 1;
	np_text_clamp_position(b->text, b->len, &line, &col);
	if (!b->doc_bad)
		b->sink->error(b->sink->ctx, b->doc, line, col, msg);
	b->doc_bad = true;
}

/* Frames own their (not yet attached) nodes; drops everything of the current document. */
static void yb_reset(struct ybuild *b)
{
	for (size_t i = 0; i < b->depth; i++) {
		free(b->st[i].key);
		json_decref(b->st[i].node);
	}
	b->depth = 0;
	json_decref(b->root);
	b->root = NULL;
}

/* Places a finished node in its parent (or as the root); takes the reference. */
static void yb_place(struct ybuild *b, json_t *v, const yaml_mark_t *m)
{
	if (!b->depth) {
		json_decref(b->root);
		b->root = v;
		return;
	}
	struct yframe *f = &b->st[b->depth - 1];
	if (json_is_array(f->node)) {
		json_array_append_new(f->node, v);
		return;
	}
	if (!f->key_done) { /* v is a key */
		f->key_done = true;
		f->key_mark = *m;
		if (json_is_string(v)) {
			f->key = xstrndup(json_string_value(v), json_string_length(v));
		} else if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v) ||
			   json_is_null(v)) {
			/* `80: x` — JSON keys are strings; keep the key's text form */
			if (!(f->key = json_dumps(v, JSON_ENCODE_ANY)))
				abort();
		} else {
			f->bad_key = true;
			yb_error(b, m, "%s", "complex (collection) mapping keys are not supported");
		}
		json_decref(v);
		return;
	}
	if (f->key && !f->bad_key) {
		if (json_object_get(f->node, f->key)) {
			yb_error(b, &f->key_mark, "duplicate key \"%s\" in mapping", f->key);
			json_decref(v);
		} else {
			json_object_set_new(f->node, f->key, v);
		}
	} else {
		json_decref(v);
	}
	free(f->key);
	f->key = NULL;
	f->key_done = f->bad_key = false;
}

static bool yb_event(struct ybuild *b, yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		b->doc++;
		b->doc_bad = false;
		yb_reset(b);
		break;
	case YAML_DOCUMENT_END_EVENT:
		if (!b->doc_bad)
			b->sink->doc(b->sink->ctx, b->doc, b->root);
		yb_reset(b);
		break;
	case YAML_ALIAS_EVENT:
		yb_error(b, &ev->start_mark, "YAML aliases (*%s) are not supported; write the value out",
			 (const char *)ev->data.alias.anchor);
		yb_place(b, json_null(), &ev->start_mark);
		break;
	case YAML_SCALAR_EVENT:
		yb_place(b, scalar_value(ev), &ev->start_mark);
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (b->depth >= YAML_MAX_DEPTH) {
			yb_error(b, &ev->start_mark, "%s", "nesting too deep");
			return false;
		}
		VEC_GROW(b->st, b->depth, b->cap);
		b->st[b->depth++] = (struct yframe){
			.node = ev->type == YAML_MAPPING_START_EVENT ? json_object() : json_array(),
		};
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		if (!b->depth)
			break;
		struct yframe f = b->st[--b->depth];
		free(f.key);
		yb_place(b, f.node, &ev->start_mark);
		break;
	}
	default:
		break;
	}
	return true;
}

void np_yaml_load(const char *text, size_t len, const struct np_yaml_sink *sink)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	struct ybuild b = { .sink = sink, .text = text, .len = len, .doc = -1 };
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			const yaml_mark_t *m = parser.problem_mark.line || parser.problem_mark.column ?
						       &parser.problem_mark : &parser.context_mark;
			char msg[256];
			snprintf(msg, sizeof(msg), "YAML syntax error: %s%s%s",
				 parser.problem ? parser.problem : "unknown",
				 parser.context ? " " : "", parser.context ? parser.context : "");
			int line = (int)m->line + 1, col = (int)m->column + 1;
			np_text_clamp_position(text, len, &line, &col);
			sink->error(sink->ctx, b.doc < 0 ? 0 : b.doc, line, col, msg);
			break;
		}
		bool go = yb_event(&b, &ev);
		bool end = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (end || !go)
			break;
	}
	yb_reset(&b);
	free(b.st);
	yaml_parser_delete(&parser);
}
