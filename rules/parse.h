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
	const char *last_ns; /* (in inv's arena) objects of one namespace share its name, so comparing
				them (sorting, merging) is mostly a pointer compare */
};

/* Records an error (or note) at the current pointer. */
void np_pctx_error(struct np_pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void np_pctx_note(struct np_pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "object", "array", "string", "integer", "number", "boolean", "null" */
const char *np_json_type_name(const json_t *v);

/* Parses obj (c->p points at it) as kind, given explicitly when the object itself lacks it (a
 * typed List item). Adds it to the inventory unless it has errors; unknown kinds get a note. */
void np_parse_object(struct np_pctx *c, json_t *obj, const char *kind, bool need_api_version);

/* Helpers shared by the parsers of each kind (parse.c, parse_admin.c). The pointer in c->p
 * follows the walk: enter pushes a key or index and returns what leave restores. */
size_t np_pctx_enter(struct np_pctx *c, const char *key);
size_t np_pctx_enter_i(struct np_pctx *c, size_t i);
void np_pctx_leave(struct np_pctx *c, size_t save);
const char *np_pctx_here(struct np_pctx *c); /* the current pointer, arena copy */
void np_pctx_type_error(struct np_pctx *c, const json_t *v, const char *want);
/* A field's value; NULL when absent or null. */
json_t *np_json_field(const json_t *obj, const char *key);
/* The string at key (an error when it is not one, or when required and absent). */
const char *np_json_get_string(struct np_pctx *c, const json_t *obj, const char *key,
			       bool required);
/* A required integer in [lo, hi] at key: true and *out, or false after an error there. */
bool np_json_get_int(struct np_pctx *c, const json_t *obj, const char *key, long long lo,
		     long long hi, long long *out);
/* The value of key if it is of type t (else an error); NULL when absent. */
json_t *np_json_get_typed(struct np_pctx *c, const json_t *obj, const char *key, json_type t);
/* An error for every key of obj not in the NULL-terminated allowed list. */
void np_json_check_fields(struct np_pctx *c, const json_t *obj, const char *const *allowed);
/* A protocol name at key: TCP (also when absent), UDP or SCTP; TCP after an error. */
enum np_proto np_json_get_proto(struct np_pctx *c, const json_t *obj, const char *key);
/* A label selector (c->p at it). */
void np_parse_selector(struct np_pctx *c, const json_t *sel, struct np_selector *out);

struct np_meta {
	const char *name, *ns;
	struct np_labels labels; /* validated for every kind, as the API server does */
	json_t *annotations;
};
/* metadata.name (required; an RFC 1123 label when name_is_label, else a subdomain),
 * metadata.namespace ("default") for namespaced kinds, labels, annotations. */
void np_parse_meta(struct np_pctx *c, const json_t *obj, bool namespaced, bool name_is_label,
		   struct np_meta *m);
/* The annotation netpol.io/audit of a policy's metadata: "true" or "false" (absent: false);
 * any other value is an error there. */
bool np_parse_audit(struct np_pctx *c, const struct np_meta *m);

/* Generic "array of objects" walk: calls fn on each element, with c->p at it. */
#define NP_EACH_OBJECT(c, arr, key, i, elem, ...)                                              \
	for (size_t i = 0; (arr) && i < json_array_size(arr); i++) {                           \
		json_t *elem = json_array_get(arr, i);                                         \
		size_t save_##i = np_pctx_enter(c, key);                                       \
		np_pctx_enter_i(c, i);                                                         \
		if (!json_is_object(elem))                                                     \
			np_pctx_type_error(c, elem, "an object");                              \
		else {                                                                         \
			__VA_ARGS__;                                                           \
		}                                                                              \
		np_pctx_leave(c, save_##i);                                                    \
	}


/* ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy (parse_admin.c). */
void np_parse_cnp(struct np_pctx *c, const json_t *obj);
void np_parse_anp(struct np_pctx *c, const json_t *obj);
void np_parse_banp(struct np_pctx *c, const json_t *obj);

#endif
