/* parse.c — Kubernetes objects (jansson trees) → the model, validated the way the API server
 * validates them (k8s.io/kubernetes pkg/apis/networking/validation, apimachinery's label and
 * name rules), so what netpol accepts is what `kubectl apply` would accept.
 *
 * Every problem becomes a record at the JSON Pointer of the offending value; the object with
 * the problem is dropped, everything else is kept. A JSON null counts as absent, as Go's
 * decoder treats it. NetworkPolicy fields are checked strictly (an unknown field is an error:
 * a misspelt "podSelectr" must not silently mean "all pods"); Pod, Namespace and Node carry
 * many fields netpol does not need, which are ignored. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "inventory.h"
#include "parse.h"

#define METADATA_NAME_LABEL "kubernetes.io/metadata.name"
#define HOST_IF_ANNOTATION "netpol.io/host-interface"
#define AUDIT_ANNOTATION "netpol.io/audit"

/* ---- records and pointers ---- */

static void vrecord(struct np_pctx *c, enum np_sev sev, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void vrecord(struct np_pctx *c, enum np_sev sev, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	np_diag_add(c->d, sev, c->src, c->doc, c->p.len ? c->p.s : "", 0, 0, "%s", msg);
}

void np_pctx_error(struct np_pctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vrecord(c, NP_SEV_ERROR, fmt, ap);
	va_end(ap);
	c->errors++;
}

void np_pctx_note(struct np_pctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vrecord(c, NP_SEV_NOTE, fmt, ap);
	va_end(ap);
}

#define perr np_pctx_error

size_t np_pctx_enter(struct np_pctx *c, const char *key)
{
	size_t save = c->p.len;
	np_ptr_push(&c->p, key, strlen(key));
	return save;
}

size_t np_pctx_enter_i(struct np_pctx *c, size_t i)
{
	size_t save = c->p.len;
	np_ptr_push_index(&c->p, i);
	return save;
}

void np_pctx_leave(struct np_pctx *c, size_t save)
{
	np_ptr_truncate(&c->p, save);
}

const char *np_pctx_here(struct np_pctx *c)
{
	return np_arena_strdup(c->inv->arena, c->p.len ? c->p.s : "");
}

const char *np_json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

/* A field's value; NULL when absent or null. */
json_t *np_json_field(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return v && !json_is_null(v) ? v : NULL;
}

void np_pctx_type_error(struct np_pctx *c, const json_t *v, const char *want)
{
	/* the classic YAML trap: `app: yes` or `version: 1` is not a string to kubectl either */
	const char *hint = c->src && c->src->yaml && !strcmp(want, "a string") &&
					   (json_is_boolean(v) || json_is_number(v)) ?
				   " (quote it in YAML)" :
				   "";
	perr(c, "expected %s, got %s%s", want, np_json_type_name(v), hint);
}

/* Checks that key holds a string (when present); reports at that key. */
const char *np_json_get_string(struct np_pctx *c, const json_t *obj, const char *key, bool required)
{
	json_t *v = np_json_field(obj, key);
	size_t save = np_pctx_enter(c, key);
	const char *s = NULL;
	if (!v) {
		if (required)
			perr(c, "missing required field \"%s\"", key);
	} else if (!json_is_string(v)) {
		np_pctx_type_error(c, v, "a string");
	} else if (strlen(json_string_value(v)) != json_string_length(v)) {
		perr(c, "string contains a NUL byte");
	} else {
		s = json_string_value(v);
	}
	np_pctx_leave(c, save);
	return s;
}

bool np_json_get_int(struct np_pctx *c, const json_t *obj, const char *key, long long lo,
		     long long hi, long long *out)
{
	json_t *v = np_json_field(obj, key);
	size_t save = np_pctx_enter(c, key);
	bool ok = false;
	if (!v)
		perr(c, "missing required field \"%s\"", key);
	else if (!json_is_integer(v))
		np_pctx_type_error(c, v, "an integer");
	else if (json_integer_value(v) < lo || json_integer_value(v) > hi)
		perr(c, "%s %lld out of range %lld-%lld", key, (long long)json_integer_value(v), lo,
		     hi);
	else
		ok = true;
	if (ok)
		*out = json_integer_value(v);
	np_pctx_leave(c, save);
	return ok;
}

/* The value of key if it is an object/array (else an error); NULL when absent. */
json_t *np_json_get_typed(struct np_pctx *c, const json_t *obj, const char *key, json_type t)
{
	json_t *v = np_json_field(obj, key);
	if (!v || json_typeof(v) == t)
		return v;
	size_t save = np_pctx_enter(c, key);
	np_pctx_type_error(c, v, t == JSON_OBJECT ? "an object" : "an array");
	np_pctx_leave(c, save);
	return NULL;
}

void np_json_check_fields(struct np_pctx *c, const json_t *obj, const char *const *allowed)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v) {
		const char *const *a = allowed;
		while (*a && strcmp(*a, k))
			a++;
		if (*a)
			continue;
		size_t save = np_pctx_enter(c, k);
		bool dir = !strcmp(k, "from") || !strcmp(k, "to");
		perr(c, "unknown field \"%s\"%s", k,
		     dir ? " (ingress rules take \"from\", egress rules \"to\")" : "");
		np_pctx_leave(c, save);
	}
}

/* ---- name and label syntax (apimachinery validation) ---- */

static bool is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

static bool is_lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* Up to max characters from [a-z0-9] (plus A-Z when upper) and extra, starting and ending
 * with an alphanumeric: the shape shared by label names and RFC 1123 names. */
static const char *check_word(const char *s, size_t max, bool upper, const char *extra,
			      const char *chars_msg)
{
	size_t n = strlen(s);
	if (!n)
		return "must not be empty";
	if (n > max)
		return max == 63 ? "must be no more than 63 characters" :
				   "must be no more than 253 characters";
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(s[i]) && !(upper && is_alnum(s[i])) && !strchr(extra, s[i]))
			return chars_msg;
	if (!is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return "must start and end with an alphanumeric character";
	return NULL;
}

/* label name or value: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, at most 63 */
static const char *check_qualified_name_part(const char *s)
{
	return check_word(s, 63, true, "-_.", "may contain only alphanumerics, '-', '_' and '.'");
}

const char *np_check_dns_label(const char *s)
{
	return check_word(s, 63, false, "-",
			  "must consist of lower case alphanumerics and '-' (RFC 1123 label)");
}

const char *np_check_dns_subdomain(const char *s)
{
	const char *why = check_word(s, 253, false, "-.",
				     "must consist of lower case alphanumerics, '-' and '.' "
				     "(RFC 1123 subdomain)");
	if (why)
		return why;
	for (size_t i = 1; s[i]; i++)
		if (s[i] == '.' && (!is_lower_alnum(s[i - 1]) || !is_lower_alnum(s[i + 1])))
			return "each dot-separated part must start and end with an alphanumeric "
			       "character";
	return NULL;
}

const char *np_check_label_key(const char *s)
{
	const char *slash = strchr(s, '/');
	if (!slash)
		return check_qualified_name_part(s);
	if (strchr(slash + 1, '/'))
		return "a label key may contain at most one '/' (prefix/name)";
	if (slash == s)
		return "the prefix before '/' must not be empty";
	if (!slash[1])
		return "the name after '/' must not be empty";
	char prefix[256];
	size_t pn = (size_t)(slash - s);
	if (pn > 253)
		return "the prefix before '/' must be no more than 253 characters";
	memcpy(prefix, s, pn);
	prefix[pn] = 0;
	if (np_check_dns_subdomain(prefix))
		return "the prefix before '/' must be a DNS subdomain (lower case alphanumerics, '-', '.')";
	return check_qualified_name_part(slash + 1);
}

const char *np_check_label_value(const char *s)
{
	return *s ? check_qualified_name_part(s) : NULL;
}

const char *np_check_container_name(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 253)
		return "must be 1 to 253 characters";
	if (!is_alnum(s[0]))
		return "must start with an alphanumeric character";
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(s[i]) && !strchr("_.-", s[i]))
			return "may contain only alphanumerics, '_', '.' and '-'";
	return NULL;
}

/* IANA_SVC_NAME, as Kubernetes' IsValidPortName */
const char *np_check_port_name(const char *s)
{
	size_t n = strlen(s);
	bool letter = false;
	if (!n)
		return "must not be empty";
	if (n > 15)
		return "must be no more than 15 characters";
	for (size_t i = 0; i < n; i++) {
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return "must contain only lower case alphanumerics and '-'";
		letter |= s[i] >= 'a' && s[i] <= 'z';
		if (s[i] == '-' && i + 1 < n && s[i + 1] == '-')
			return "must not contain consecutive hyphens";
	}
	if (s[0] == '-' || s[n - 1] == '-')
		return "must not begin or end with a hyphen";
	if (!letter)
		return "must contain at least one letter";
	return NULL;
}

/* ---- labels and selectors ---- */

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* obj: a map of label key → value (c->p at it). Sorted into out. */
static void parse_labels(struct np_pctx *c, const json_t *obj, struct np_labels *out)
{
	out->n = 0;
	out->v = NULL;
	if (!obj)
		return;
	out->v = np_arena_alloc(c->inv->arena, (json_object_size(obj) + 1) * sizeof(*out->v));
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v) {
		size_t save = np_pctx_enter(c, k);
		const char *why;
		if (!json_is_string(v)) {
			np_pctx_type_error(c, v, "a string");
		} else if ((why = np_check_label_key(k))) {
			perr(c, "invalid label key \"%s\": %s", k, why);
		} else if ((why = np_check_label_value(json_string_value(v)))) {
			perr(c, "invalid label value \"%s\": %s", json_string_value(v), why);
		} else {
			out->v[out->n].key = np_arena_strdup(c->inv->arena, k);
			out->v[out->n++].value = np_arena_strdup(c->inv->arena, json_string_value(v));
		}
		np_pctx_leave(c, save);
	}
	np_labels_sort(out); /* map keys are unique already */
}

/* The n values of a set-based expression (vals: its "values" array): label values, kept
 * sorted and unique, for binary search and for stable set names downstream. */
static void parse_expr_values(struct np_pctx *c, const json_t *vals, size_t n,
			      struct np_sel_expr *out)
{
	const char *why;
	out->values = np_arena_alloc(c->inv->arena, (n + 1) * sizeof(*out->values));
	for (size_t j = 0; j < n; j++) {
		json_t *v = json_array_get(vals, j);
		size_t save = np_pctx_enter(c, "values");
		np_pctx_enter_i(c, j);
		if (!json_is_string(v))
			np_pctx_type_error(c, v, "a string");
		else if ((why = np_check_label_value(json_string_value(v))))
			perr(c, "invalid label value \"%s\": %s", json_string_value(v), why);
		else
			out->values[out->n_values++] = np_arena_strdup(c->inv->arena, json_string_value(v));
		np_pctx_leave(c, save);
	}
	qsort(out->values, out->n_values, sizeof(*out->values), cmp_cstr);
	size_t w = 0;
	for (size_t j = 0; j < out->n_values; j++)
		if (!w || strcmp(out->values[w - 1], out->values[j]))
			out->values[w++] = out->values[j];
	out->n_values = w;
}

static void parse_expr(struct np_pctx *c, const json_t *e, struct np_sel_expr *out)
{
	static const char *const fields[] = { "key", "operator", "values", NULL };
	static const struct {
		const char *name;
		enum np_sel_op op;
	} ops[] = { { "In", NP_SEL_IN },
		    { "NotIn", NP_SEL_NOT_IN },
		    { "Exists", NP_SEL_EXISTS },
		    { "DoesNotExist", NP_SEL_DOES_NOT_EXIST } };
	np_json_check_fields(c, e, fields);
	const char *key = np_json_get_string(c, e, "key", true);
	const char *op = np_json_get_string(c, e, "operator", true);
	json_t *vals = np_json_get_typed(c, e, "values", JSON_ARRAY);
	const char *why;
	if (key && (why = np_check_label_key(key))) {
		size_t save = np_pctx_enter(c, "key");
		perr(c, "invalid label key \"%s\": %s", key, why);
		np_pctx_leave(c, save);
	}
	out->key = key ? np_arena_strdup(c->inv->arena, key) : "";
	if (!op)
		return;
	size_t i = 0;
	while (i < sizeof(ops) / sizeof(ops[0]) && strcmp(ops[i].name, op))
		i++;
	if (i == sizeof(ops) / sizeof(ops[0])) {
		size_t save = np_pctx_enter(c, "operator");
		perr(c, "unknown operator \"%s\" (want In, NotIn, Exists or DoesNotExist)", op);
		np_pctx_leave(c, save);
		return;
	}
	out->op = ops[i].op;
	size_t n = vals ? json_array_size(vals) : 0;
	bool set_op = out->op == NP_SEL_IN || out->op == NP_SEL_NOT_IN;
	if (set_op && !n) {
		size_t save = np_pctx_enter(c, "values");
		perr(c, "operator %s needs at least one value", op);
		np_pctx_leave(c, save);
	} else if (!set_op && n) {
		size_t save = np_pctx_enter(c, "values");
		perr(c, "operator %s takes no values", op);
		np_pctx_leave(c, save);
		return;
	}
	parse_expr_values(c, vals, n, out);
}

/* sel: the selector object (c->p at it). */
void np_parse_selector(struct np_pctx *c, const json_t *sel, struct np_selector *out)
{
	static const char *const fields[] = { "matchLabels", "matchExpressions", NULL };
	memset(out, 0, sizeof(*out));
	if (!json_is_object(sel)) {
		np_pctx_type_error(c, sel, "an object (a label selector)");
		return;
	}
	np_json_check_fields(c, sel, fields);
	json_t *ml = np_json_get_typed(c, sel, "matchLabels", JSON_OBJECT);
	size_t save = np_pctx_enter(c, "matchLabels");
	parse_labels(c, ml, &out->match_labels);
	np_pctx_leave(c, save);
	json_t *me = np_json_get_typed(c, sel, "matchExpressions", JSON_ARRAY);
	size_t n = me ? json_array_size(me) : 0;
	out->exprs = np_arena_alloc(c->inv->arena, (n + 1) * sizeof(*out->exprs));
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(me, i);
		save = np_pctx_enter(c, "matchExpressions");
		np_pctx_enter_i(c, i);
		if (!json_is_object(e))
			np_pctx_type_error(c, e, "an object");
		else
			parse_expr(c, e, &out->exprs[out->n_exprs++]);
		np_pctx_leave(c, save);
	}
}

static struct np_selector *opt_selector(struct np_pctx *c, const json_t *obj, const char *key)
{
	json_t *v = np_json_field(obj, key);
	if (!v)
		return NULL;
	struct np_selector *s = np_arena_alloc(c->inv->arena, sizeof(*s));
	size_t save = np_pctx_enter(c, key);
	np_parse_selector(c, v, s);
	np_pctx_leave(c, save);
	return s;
}

/* ---- NetworkPolicy ---- */

static void parse_ipblock(struct np_pctx *c, const json_t *ib, struct np_ipblock *out)
{
	static const char *const fields[] = { "cidr", "except", NULL };
	char buf[64], buf2[64];
	np_json_check_fields(c, ib, fields);
	const char *cidr = np_json_get_string(c, ib, "cidr", true);
	json_t *ex = np_json_get_typed(c, ib, "except", JSON_ARRAY);
	bool hb = false;
	size_t save = np_pctx_enter(c, "cidr");
	bool cidr_ok = cidr && np_cidr_parse(cidr, &out->cidr, &hb) == 0;
	if (cidr && !cidr_ok)
		perr(c, "invalid CIDR \"%s\" (want e.g. 10.0.0.0/8 or fd00::/64)", cidr);
	else if (hb)
		np_pctx_note(c, "CIDR %s has host bits set; it means %s", cidr,
			     np_cidr_str(&out->cidr, buf));
	np_pctx_leave(c, save);
	size_t n = ex ? json_array_size(ex) : 0;
	out->except = np_arena_alloc(c->inv->arena, (n + 1) * sizeof(*out->except));
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(ex, i);
		struct np_cidr e;
		save = np_pctx_enter(c, "except");
		np_pctx_enter_i(c, i);
		if (!json_is_string(v)) {
			np_pctx_type_error(c, v, "a string");
		} else if (np_cidr_parse(json_string_value(v), &e, &hb) < 0) {
			perr(c, "invalid CIDR \"%s\" in except", json_string_value(v));
		} else if (cidr_ok && e.addr.family != out->cidr.addr.family) {
			perr(c, "except %s is IPv%d but cidr %s is IPv%d", json_string_value(v),
			     e.addr.family, np_cidr_str(&out->cidr, buf), out->cidr.addr.family);
		} else if (cidr_ok && (!np_cidr_contains_cidr(&out->cidr, &e) ||
				       e.prefix <= out->cidr.prefix)) {
			/* the API server wants a strict subset: except == cidr is refused too */
			perr(c, "except %s must be a strict subset of cidr %s", np_cidr_str(&e, buf2),
			     np_cidr_str(&out->cidr, buf));
		} else {
			out->except[out->n_except++] = e;
		}
		np_pctx_leave(c, save);
	}
}

static void parse_peer(struct np_pctx *c, const json_t *pj, struct np_peer *out)
{
	static const char *const fields[] = { "podSelector", "namespaceSelector", "ipBlock", NULL };
	out->ptr = np_pctx_here(c);
	np_json_check_fields(c, pj, fields);
	out->pod_sel = opt_selector(c, pj, "podSelector");
	out->ns_sel = opt_selector(c, pj, "namespaceSelector");
	json_t *ib = np_json_get_typed(c, pj, "ipBlock", JSON_OBJECT);
	if (ib) {
		out->ipblock = np_arena_alloc(c->inv->arena, sizeof(*out->ipblock));
		size_t save = np_pctx_enter(c, "ipBlock");
		parse_ipblock(c, ib, out->ipblock);
		if (out->pod_sel || out->ns_sel)
			perr(c, "ipBlock cannot be combined with %s in one peer; use separate peers",
			     out->pod_sel ? "podSelector" : "namespaceSelector");
		np_pctx_leave(c, save);
	} else if (!out->pod_sel && !out->ns_sel && !np_json_field(pj, "ipBlock")) {
		perr(c, "empty peer: give podSelector, namespaceSelector or ipBlock (an empty "
			"from/to list, not an empty peer, means everyone)");
	}
}

/* endPort (end) of a port whose port field is port (numeric: a valid number, in out->port). */
static void parse_end_port(struct np_pctx *c, const json_t *end, const json_t *port,
			   bool numeric, struct np_port *out)
{
	size_t save = np_pctx_enter(c, "endPort");
	if (!json_is_integer(end))
		np_pctx_type_error(c, end, "an integer");
	else if (!port)
		perr(c, "endPort requires port");
	else if (out->name || !json_is_integer(port))
		perr(c, "endPort cannot be used with a named port");
	else if (json_integer_value(end) < 1 || json_integer_value(end) > 65535)
		perr(c, "endPort %lld out of range 1-65535", (long long)json_integer_value(end));
	else if (numeric && json_integer_value(end) < out->port)
		perr(c, "endPort %lld is less than port %u", (long long)json_integer_value(end),
		     out->port);
	else if (numeric)
		out->end_port = (uint16_t)json_integer_value(end);
	np_pctx_leave(c, save);
}

static void parse_port(struct np_pctx *c, const json_t *pj, struct np_port *out)
{
	static const char *const fields[] = { "protocol", "port", "endPort", NULL };
	out->ptr = np_pctx_here(c);
	out->proto = NP_PROTO_TCP;
	np_json_check_fields(c, pj, fields);
	const char *proto = np_json_get_string(c, pj, "protocol", false);
	if (proto) {
		size_t save = np_pctx_enter(c, "protocol");
		if (!strcmp(proto, "TCP"))
			out->proto = NP_PROTO_TCP;
		else if (!strcmp(proto, "UDP"))
			out->proto = NP_PROTO_UDP;
		else if (!strcmp(proto, "SCTP"))
			out->proto = NP_PROTO_SCTP;
		else
			perr(c, "unknown protocol \"%s\" (want TCP, UDP or SCTP)", proto);
		np_pctx_leave(c, save);
	}
	json_t *port = np_json_field(pj, "port"), *end = np_json_field(pj, "endPort");
	size_t save = np_pctx_enter(c, "port");
	bool numeric = false;
	if (port && json_is_integer(port)) {
		json_int_t v = json_integer_value(port);
		if (v < 1 || v > 65535)
			perr(c, "port %lld out of range 1-65535", (long long)v);
		else
			numeric = true;
		out->port = numeric ? (uint16_t)v : 0;
	} else if (port && json_is_string(port)) {
		const char *why = np_check_port_name(json_string_value(port));
		if (why)
			perr(c, "invalid port name \"%s\": %s%s", json_string_value(port), why,
			     strspn(json_string_value(port), "0123456789") ==
					     strlen(json_string_value(port)) ?
				     " (write a port number without quotes)" :
				     "");
		else
			out->name = np_arena_strdup(c->inv->arena, json_string_value(port));
	} else if (port) {
		np_pctx_type_error(c, port, "an integer or a port name");
	}
	np_pctx_leave(c, save);
	if (end)
		parse_end_port(c, end, port, numeric, out);
}

static void parse_rules(struct np_pctx *c, const json_t *spec, const char *key,
			const char *peers_key, struct np_rule **out, size_t *n_out)
{
	const char *fields[] = { peers_key, "ports", NULL };
	json_t *rules = np_json_get_typed(c, spec, key, JSON_ARRAY);
	size_t n = rules ? json_array_size(rules) : 0;
	*out = np_arena_alloc(c->inv->arena, (n + 1) * sizeof(**out));
	*n_out = 0;
	NP_EACH_OBJECT(c, rules, key, i, rj, {
		struct np_rule *r = &(*out)[(*n_out)++];
		r->ptr = np_pctx_here(c);
		np_json_check_fields(c, rj, fields);
		json_t *peers = np_json_get_typed(c, rj, peers_key, JSON_ARRAY);
		json_t *ports = np_json_get_typed(c, rj, "ports", JSON_ARRAY);
		r->peers = np_arena_alloc(c->inv->arena,
					  ((peers ? json_array_size(peers) : 0) + 1) * sizeof(*r->peers));
		r->ports = np_arena_alloc(c->inv->arena,
					  ((ports ? json_array_size(ports) : 0) + 1) * sizeof(*r->ports));
		NP_EACH_OBJECT(c, peers, peers_key, j, pj, parse_peer(c, pj, &r->peers[r->n_peers++]));
		NP_EACH_OBJECT(c, ports, "ports", j, pj, parse_port(c, pj, &r->ports[r->n_ports++]));
	});
}


/* metadata.name (required) and, for namespaced kinds, metadata.namespace ("default"). */
void np_parse_meta(struct np_pctx *c, const json_t *obj, bool namespaced, bool name_is_label,
		       struct np_meta *m)
{
	memset(m, 0, sizeof(*m));
	json_t *md = np_json_field(obj, "metadata");
	size_t save = np_pctx_enter(c, "metadata");
	if (!md) {
		perr(c, "missing required field \"metadata\"");
	} else if (!json_is_object(md)) {
		np_pctx_type_error(c, md, "an object");
		md = NULL;
	}
	if (md) {
		const char *name = np_json_get_string(c, md, "name", true), *why;
		if (name && (why = name_is_label ? np_check_dns_label(name) :
						   np_check_dns_subdomain(name))) {
			size_t s2 = np_pctx_enter(c, "name");
			perr(c, "invalid name \"%s\": %s", name, why);
			np_pctx_leave(c, s2);
		}
		m->name = name;
		if (namespaced) {
			const char *ns = np_json_get_string(c, md, "namespace", false);
			if (ns && (why = np_check_dns_label(ns))) {
				size_t s2 = np_pctx_enter(c, "namespace");
				perr(c, "invalid namespace \"%s\": %s", ns, why);
				np_pctx_leave(c, s2);
			}
			m->ns = ns && *ns ? ns : "default";
		}
		json_t *labels = np_json_get_typed(c, md, "labels", JSON_OBJECT);
		size_t s2 = np_pctx_enter(c, "labels");
		parse_labels(c, labels, &m->labels);
		np_pctx_leave(c, s2);
		m->annotations = np_json_get_typed(c, md, "annotations", JSON_OBJECT);
	}
	np_pctx_leave(c, save);
}

bool np_parse_audit(struct np_pctx *c, const struct np_meta *m)
{
	if (!m->annotations)
		return false;
	size_t save = np_pctx_enter(c, "metadata");
	np_pctx_enter(c, "annotations");
	const char *v = np_json_get_string(c, m->annotations, AUDIT_ANNOTATION, false);
	bool on = v && !strcmp(v, "true");
	if (v && !on && strcmp(v, "false")) {
		np_pctx_enter(c, AUDIT_ANNOTATION);
		perr(c, "invalid value \"%s\" (want \"true\" or \"false\")", v);
	}
	np_pctx_leave(c, save);
	return on;
}

/* The namespace name of an object, in the inventory's arena: objects of one namespace in a
 * file share one copy, so comparing them (sorting, merging) is mostly a pointer compare. */
static const char *ns_name(struct np_pctx *c, const char *ns)
{
	if (!c->last_ns || strcmp(c->last_ns, ns))
		c->last_ns = np_arena_strdup(c->inv->arena, ns);
	return c->last_ns;
}

/* spec.policyTypes (c->p at spec): which directions pol isolates. */
static void parse_policy_types(struct np_pctx *c, const json_t *spec, struct np_policy *pol)
{
	json_t *types = np_json_get_typed(c, spec, "policyTypes", JSON_ARRAY);
	for (size_t i = 0; types && i < json_array_size(types); i++) {
		json_t *t = json_array_get(types, i);
		size_t save = np_pctx_enter(c, "policyTypes");
		np_pctx_enter_i(c, i);
		if (!json_is_string(t))
			np_pctx_type_error(c, t, "a string");
		else if (!strcmp(json_string_value(t), "Ingress"))
			pol->ingress = true;
		else if (!strcmp(json_string_value(t), "Egress"))
			pol->egress = true;
		else
			perr(c, "unknown policy type \"%s\" (want Ingress or Egress)",
			     json_string_value(t));
		np_pctx_leave(c, save);
	}
	if (types && json_array_size(types) > 2) {
		size_t save = np_pctx_enter(c, "policyTypes");
		perr(c, "policyTypes may hold at most 2 entries");
		np_pctx_leave(c, save);
	}
	/* pkg/apis/networking/v1/defaults.go: no (or an empty) policyTypes means Ingress, plus
	 * Egress when len(spec.egress) != 0 — an empty egress list does not count */
	if (!types || !json_array_size(types)) {
		pol->types_inferred = true;
		pol->ingress = true;
		pol->egress = json_array_size(np_json_field(spec, "egress")) != 0;
	}
}

static void parse_policy(struct np_pctx *c, const json_t *obj)
{
	static const char *const top[] = { "apiVersion", "kind", "metadata", "spec", "status", NULL };
	static const char *const sfields[] = { "podSelector", "policyTypes", "ingress", "egress",
					       NULL };
	struct np_policy pol;
	struct np_meta m;
	memset(&pol, 0, sizeof(pol));
	pol.ref = (struct np_ref){ c->src, c->doc, np_pctx_here(c) };
	np_json_check_fields(c, obj, top);
	np_parse_meta(c, obj, true, false, &m);
	pol.audit = np_parse_audit(c, &m);
	json_t *spec = np_json_get_typed(c, obj, "spec", JSON_OBJECT);
	size_t save = np_pctx_enter(c, "spec");
	if (!spec && !np_json_field(obj, "spec"))
		perr(c, "missing required field \"spec\"");
	if (spec) {
		np_json_check_fields(c, spec, sfields);
		json_t *ps = np_json_field(spec, "podSelector");
		size_t s2 = np_pctx_enter(c, "podSelector");
		if (!ps)
			perr(c, "missing required field \"podSelector\" (use {} to select every pod "
				"in the namespace)");
		else
			np_parse_selector(c, ps, &pol.pod_sel);
		np_pctx_leave(c, s2);
		parse_rules(c, spec, "ingress", "from", &pol.in, &pol.n_in);
		parse_rules(c, spec, "egress", "to", &pol.out, &pol.n_out);
		parse_policy_types(c, spec, &pol);
	}
	np_pctx_leave(c, save);
	if (c->errors)
		return;
	pol.ns = ns_name(c, m.ns);
	pol.name = np_arena_strdup(c->inv->arena, m.name);
	*np_inventory_add_policy(c->inv) = pol;
}

/* ---- Namespace, Pod, Node ---- */

static void parse_namespace(struct np_pctx *c, const json_t *obj)
{
	struct np_namespace ns;
	struct np_meta m;
	memset(&ns, 0, sizeof(ns));
	ns.ref = (struct np_ref){ c->src, c->doc, np_pctx_here(c) };
	np_parse_meta(c, obj, false, true, &m);
	ns.labels = m.labels;
	if (c->errors)
		return;
	ns.name = np_arena_strdup(c->inv->arena, m.name);
	/* the API server sets kubernetes.io/metadata.name=<name> on every namespace (and
	 * overwrites any other value), so selectors can name a namespace by it */
	const char *given = np_labels_get(&ns.labels, METADATA_NAME_LABEL);
	if (given && strcmp(given, ns.name)) {
		size_t save = np_pctx_enter(c, "metadata");
		np_pctx_enter(c, "labels");
		np_pctx_enter(c, METADATA_NAME_LABEL);
		np_pctx_note(c, "label %s is always the namespace name; \"%s\" is replaced by \"%s\"",
			     METADATA_NAME_LABEL, given, ns.name);
		np_pctx_leave(c, save);
	}
	struct np_label *v = np_arena_alloc(c->inv->arena, (ns.labels.n + 1) * sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < ns.labels.n; i++)
		if (strcmp(ns.labels.v[i].key, METADATA_NAME_LABEL))
			v[n++] = ns.labels.v[i];
	v[n++] = (struct np_label){ METADATA_NAME_LABEL, ns.name };
	ns.labels.v = v;
	ns.labels.n = n;
	np_labels_sort(&ns.labels);
	*np_inventory_add_namespace(c->inv) = ns;
}

enum np_proto np_json_get_proto(struct np_pctx *c, const json_t *obj, const char *key)
{
	const char *p = np_json_get_string(c, obj, key, false);
	if (!p || !strcmp(p, "TCP"))
		return NP_PROTO_TCP;
	if (!strcmp(p, "UDP"))
		return NP_PROTO_UDP;
	if (!strcmp(p, "SCTP"))
		return NP_PROTO_SCTP;
	size_t save = np_pctx_enter(c, key);
	perr(c, "unknown protocol \"%s\" (want TCP, UDP or SCTP)", p);
	np_pctx_leave(c, save);
	return NP_PROTO_TCP;
}

static void parse_container_ports(struct np_pctx *c, const json_t *spec, struct np_pod *pod)
{
	json_t *ctrs = np_json_get_typed(c, spec, "containers", JSON_ARRAY);
	size_t total = 0;
	for (size_t i = 0; ctrs && i < json_array_size(ctrs); i++)
		total += json_array_size(np_json_field(json_array_get(ctrs, i), "ports"));
	pod->ports = np_arena_alloc(c->inv->arena, (total + 1) * sizeof(*pod->ports));
	NP_EACH_OBJECT(c, ctrs, "containers", i, ctr, {
		json_t *ports = np_json_get_typed(c, ctr, "ports", JSON_ARRAY);
		size_t first = pod->n_ports;
		NP_EACH_OBJECT(c, ports, "ports", j, pj, {
			struct np_container_port *cp = &pod->ports[pod->n_ports];
			const char *name = np_json_get_string(c, pj, "name", false), *why;
			size_t s2 = np_pctx_enter(c, "name");
			if (name && (why = np_check_port_name(name)))
				perr(c, "invalid port name \"%s\": %s", name, why);
			/* names are unique within a container, as the API server checks */
			for (size_t k = first; name && k < pod->n_ports; k++)
				if (pod->ports[k].name && !strcmp(pod->ports[k].name, name))
					perr(c, "duplicate port name \"%s\" in this container", name);
			np_pctx_leave(c, s2);
			long long num;
			if (np_json_get_int(c, pj, "containerPort", 1, 65535, &num))
				cp->port = (uint16_t)num;
			cp->proto = np_json_get_proto(c, pj, "protocol");
			cp->name = name ? np_arena_strdup(c->inv->arena, name) : NULL;
			pod->n_ports++;
		});
	});
}

static void add_pod_ip(struct np_pctx *c, struct np_pod *pod, const char *s)
{
	struct np_addr a;
	if (np_addr_parse(s, &a) < 0) {
		perr(c, "invalid IP address \"%s\"", s);
		return;
	}
	for (size_t i = 0; i < pod->n_ips; i++) {
		if (!np_addr_cmp(&pod->ips[i], &a))
			return;
		/* as the API server: one address per family (a dual-stack pair at most) */
		if (pod->ips[i].family == a.family) {
			perr(c, "second IPv%d address \"%s\": a pod has at most one address per family",
			     a.family, s);
			return;
		}
	}
	pod->ips[pod->n_ips++] = a;
}

static void parse_pod_status(struct np_pctx *c, const json_t *st, struct np_pod *pod)
{
	json_t *ips = np_json_get_typed(c, st, "podIPs", JSON_ARRAY);
	size_t n = ips ? json_array_size(ips) : 0;
	pod->ips = np_arena_alloc(c->inv->arena, (n + 1) * sizeof(*pod->ips));
	NP_EACH_OBJECT(c, ips, "podIPs", i, ipj, {
		const char *ip = np_json_get_string(c, ipj, "ip", true);
		size_t s2 = np_pctx_enter(c, "ip");
		if (ip)
			add_pod_ip(c, pod, ip);
		np_pctx_leave(c, s2);
	});
	if (n)
		return;
	/* older objects (and hand-written ones) carry only status.podIP */
	const char *ip = np_json_get_string(c, st, "podIP", false);
	size_t save = np_pctx_enter(c, "podIP");
	if (ip && *ip)
		add_pod_ip(c, pod, ip);
	np_pctx_leave(c, save);
}

/* What the kernel takes as an interface name (dev_valid_name), less '"': nft's quoted
 * strings have no escape, so the text of a ruleset could not name it. */
const char *np_check_ifname(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 15)
		return "must be 1 to 15 characters (IFNAMSIZ)";
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return "must not be . or ..";
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] == '"' || (unsigned char)s[i] <= ' ' ||
		    s[i] == 0x7f)
			return "must not contain '/', ':', '\"', spaces or control characters";
	return NULL;
}

static void parse_pod(struct np_pctx *c, const json_t *obj)
{
	struct np_pod pod;
	struct np_meta m;
	memset(&pod, 0, sizeof(pod));
	pod.ref = (struct np_ref){ c->src, c->doc, np_pctx_here(c) };
	np_parse_meta(c, obj, true, false, &m);
	pod.labels = m.labels;
	size_t save = np_pctx_enter(c, "metadata"), s2;
	np_pctx_enter(c, "annotations");
	const char *hif = m.annotations ? np_json_get_string(c, m.annotations, HOST_IF_ANNOTATION, false) :
					  NULL, *why;
	if (hif && (why = np_check_ifname(hif))) {
		np_pctx_enter(c, HOST_IF_ANNOTATION);
		perr(c, "invalid interface name \"%s\": %s", hif, why);
	}
	np_pctx_leave(c, save);
	json_t *spec = np_json_get_typed(c, obj, "spec", JSON_OBJECT);
	save = np_pctx_enter(c, "spec");
	if (spec) {
		const char *node = np_json_get_string(c, spec, "nodeName", false);
		pod.node = node && *node ? np_arena_strdup(c->inv->arena, node) : NULL;
		json_t *hn = np_json_field(spec, "hostNetwork");
		if (hn && !json_is_boolean(hn)) {
			s2 = np_pctx_enter(c, "hostNetwork");
			np_pctx_type_error(c, hn, "a boolean");
			np_pctx_leave(c, s2);
		}
		pod.host_network = hn && json_is_true(hn);
		parse_container_ports(c, spec, &pod);
	}
	np_pctx_leave(c, save);
	json_t *st = np_json_get_typed(c, obj, "status", JSON_OBJECT);
	save = np_pctx_enter(c, "status");
	if (st)
		parse_pod_status(c, st, &pod);
	np_pctx_leave(c, save);
	if (c->errors)
		return;
	pod.ns = ns_name(c, m.ns);
	pod.name = np_arena_strdup(c->inv->arena, m.name);
	pod.host_if = hif ? np_arena_strdup(c->inv->arena, hif) : NULL;
	*np_inventory_add_pod(c->inv) = pod;
}

static void parse_node(struct np_pctx *c, const json_t *obj)
{
	struct np_node node;
	struct np_meta m;
	memset(&node, 0, sizeof(node));
	node.ref = (struct np_ref){ c->src, c->doc, np_pctx_here(c) };
	np_parse_meta(c, obj, false, false, &m);
	json_t *st = np_json_get_typed(c, obj, "status", JSON_OBJECT);
	size_t save = np_pctx_enter(c, "status");
	json_t *addrs = st ? np_json_get_typed(c, st, "addresses", JSON_ARRAY) : NULL;
	size_t n = addrs ? json_array_size(addrs) : 0;
	node.addrs = np_arena_alloc(c->inv->arena, (n + 1) * sizeof(*node.addrs));
	NP_EACH_OBJECT(c, addrs, "addresses", i, aj, {
		const char *type = np_json_get_string(c, aj, "type", true);
		const char *addr = np_json_get_string(c, aj, "address", true);
		size_t s2 = np_pctx_enter(c, "address");
		if (type && addr && !strcmp(type, "InternalIP")) {
			if (np_addr_parse(addr, &node.addrs[node.n_addrs]) < 0)
				perr(c, "invalid IP address \"%s\"", addr);
			else
				node.n_addrs++;
		}
		np_pctx_leave(c, s2);
	});
	np_pctx_leave(c, save);
	if (c->errors)
		return;
	node.name = np_arena_strdup(c->inv->arena, m.name);
	node.labels = m.labels;
	*np_inventory_add_node(c->inv) = node;
}

/* ---- dispatch ---- */

static const struct {
	const char *kind, *api_version;
	void (*parse)(struct np_pctx *c, const json_t *obj);
} kinds[] = {
	{ "NetworkPolicy", "networking.k8s.io/v1", parse_policy },
	{ "Namespace", "v1", parse_namespace },
	{ "Pod", "v1", parse_pod },
	{ "Node", "v1", parse_node },
	{ "ClusterNetworkPolicy", "policy.networking.k8s.io/v1alpha2", np_parse_cnp },
	{ "AdminNetworkPolicy", "policy.networking.k8s.io/v1alpha1", np_parse_anp },
	{ "BaselineAdminNetworkPolicy", "policy.networking.k8s.io/v1alpha1", np_parse_banp },
};

void np_parse_object(struct np_pctx *c, json_t *obj, const char *kind, bool need_api_version)
{
	c->errors = 0;
	size_t i = 0;
	while (i < sizeof(kinds) / sizeof(kinds[0]) && strcmp(kinds[i].kind, kind))
		i++;
	if (i == sizeof(kinds) / sizeof(kinds[0])) {
		size_t save = np_pctx_enter(c, "kind");
		np_pctx_note(c, "skipping kind %s (netpol reads NetworkPolicy, ClusterNetworkPolicy, "
			     "AdminNetworkPolicy, BaselineAdminNetworkPolicy, Namespace, Pod, Node)",
			     kind);
		np_pctx_leave(c, save);
		return;
	}
	const char *av = np_json_get_string(c, obj, "apiVersion", need_api_version);
	if (av && strcmp(av, kinds[i].api_version)) {
		size_t save = np_pctx_enter(c, "apiVersion");
		perr(c, "unsupported apiVersion \"%s\" for %s (want %s)", av, kind,
		     kinds[i].api_version);
		np_pctx_leave(c, save);
	}
	kinds[i].parse(c, obj);
}
