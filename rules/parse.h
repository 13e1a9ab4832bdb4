/* parse.h — one Kubernetes object (a jansson tree from JSON or YAML) → model objects, with
 * the API server's validation. Internal to the loader (load.c). */
#ifndef NETPOL_PARSE_H
#define NETPOL_PARSE_H

#include <jansson.h>
#include <stdbool.h>

#include "diag.h"
#include "model.h"
#include "srcpos.h"

/* Where the parser is: the record of every error is made from this. */
struct np_pctx {
	struct np_inventory *inv;
	struct np_diags *d;
	const struct np_source *src;
	int doc;
	struct np_ptrbuf p; /* JSON Pointer of the value being looked at */
	int errors;         /* errors in the current object; > 0 drops it */
};

/* Records an error (or note) at the current pointer. */
void np_pctx_error(struct np_pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void np_pctx_note(struct np_pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "object", "array", "string", "integer", "number", "boolean", "null" */
const char *np_json_type_name(const json_t *v);

/* Parses obj (c->p points at it) as kind, given explicitly when the object itself lacks it (a
 * typed List item). Adds it to the inventory unless it has errors; unknown kinds get a note. */
void np_parse_object(struct np_pctx *c, json_t *obj, const char *kind, bool need_api_version);

/* Label and name syntax as Kubernetes validates it; NULL when valid, else what is wrong. */
const char *np_check_label_key(const char *s);
const char *np_check_label_value(const char *s);
const char *np_check_dns_label(const char *s);
const char *np_check_dns_subdomain(const char *s);
const char *np_check_port_name(const char *s);

#endif
