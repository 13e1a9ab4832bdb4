/* etcd_json.c — etcd's JSON gateway on the wire: base64, the parser of its answers, and the
 * builders of its requests (see etcd.h for the gateway's rules). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"
#include "vec.h"
#include "xalloc.h"

/* ---- base64 (standard alphabet, padded): the gateway's form of every key and value ---- */

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const unsigned char *p, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1), *o = out;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = b64chars[(v >> 18) & 63];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? b64chars[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int b64_val(char c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;

	return p ? (int)(p - b64chars) : -1;
}

/* Decodes s into a malloc'ed NUL-terminated buffer; -EBADMSG when s is not base64. */
static int b64_decode(const char *s, char **out, size_t *len)
{
	size_t n = strlen(s), k = 0;
	char *buf;
	uint32_t acc = 0;
	int bits = 0;

	buf = xmalloc(n / 4 * 3 + 4);
	for (size_t i = 0; i < n; i++) {
		int v;
		if (s[i] == '=') {
			if (i + 2 < n || (i + 1 < n && s[i + 1] != '='))
				goto bad;
			break;
		}
		if ((v = b64_val(s[i])) < 0)
			goto bad;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[k++] = (char)((acc >> bits) & 0xff);
		}
	}
	buf[k] = '\0';
	*out = buf;
	*len = k;
	return 0;
bad:
	free(buf);
	return -EBADMSG;
}

json_t *etcd_b64(const char *s, size_t n)
{
	char *enc = b64_encode((const unsigned char *)s, n == (size_t)-1 ? strlen(s) : n);
	json_t *j = json_string(enc);

	free(enc);
	return j;
}

/* ---- the parser ---- */

/* An int64 field: the gateway sends strings, a hand-made answer may send numbers; absent is
 * the default 0. -EBADMSG when it is neither. */
static int get_i64(json_t *o, const char *key, int64_t *out)
{
	json_t *v = json_object_get(o, key);
	char *end;

	*out = 0;
	if (!v)
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -EBADMSG;
	errno = 0;
	*out = strtoll(json_string_value(v), &end, 10);
	return errno || end == json_string_value(v) || *end ? -EBADMSG : 0;
}

static void kv_free(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

static int parse_kv(json_t *j, struct etcd_kv *kv)
{
	const char *k = json_string_value(json_object_get(j, "key"));
	const char *v = json_string_value(json_object_get(j, "value"));
	size_t n;

	memset(kv, 0, sizeof(*kv));
	if (!json_is_object(j) || !k || b64_decode(k, &kv->key, &n) < 0 ||
	    b64_decode(v ? v : "", &kv->value, &kv->value_len) < 0 ||
	    get_i64(j, "create_revision", &kv->create_rev) < 0 ||
	    get_i64(j, "mod_revision", &kv->mod_rev) < 0 ||
	    get_i64(j, "version", &kv->version) < 0 || get_i64(j, "lease", &kv->lease) < 0) {
		kv_free(kv);
		return -EBADMSG;
	}
	return 0;
}

static int parse_kvs(json_t *arr, struct etcd_resp *r, size_t *cap)
{
	size_t i;
	json_t *v;

	if (arr && !json_is_array(arr))
		return -EBADMSG;
	json_array_foreach(arr, i, v) {
		VEC_GROW(r->kvs, r->n_kvs, *cap);
		if (parse_kv(v, &r->kvs[r->n_kvs]) < 0)
			return -EBADMSG;
		r->n_kvs++;
	}
	return 0;
}

static int parse_events(json_t *arr, struct etcd_resp *r)
{
	size_t i, cap = 0;
	json_t *v;

	if (arr && !json_is_array(arr))
		return -EBADMSG;
	json_array_foreach(arr, i, v) {
		struct etcd_event *ev;
		json_t *prev = json_object_get(v, "prev_kv");
		const char *type = json_string_value(json_object_get(v, "type"));
		VEC_GROW(r->events, r->n_events, cap);
		ev = &r->events[r->n_events];
		memset(ev, 0, sizeof(*ev));
		r->n_events++;
		ev->is_delete = type && !strcmp(type, "DELETE");
		if (parse_kv(json_object_get(v, "kv"), &ev->kv) < 0)
			return -EBADMSG;
		if (prev) {
			if (parse_kv(prev, &ev->prev) < 0)
				return -EBADMSG;
			ev->has_prev = true;
		}
	}
	return 0;
}

/* A txn's "responses": the kvs of its ranges, the count of its deletes. */
static int parse_txn(json_t *arr, struct etcd_resp *r, size_t *cap)
{
	size_t i;
	json_t *v;

	if (arr && !json_is_array(arr))
		return -EBADMSG;
	json_array_foreach(arr, i, v) {
		json_t *rr = json_object_get(v, "response_range");
		json_t *dr = json_object_get(v, "response_delete_range");
		int64_t n;
		if (rr && parse_kvs(json_object_get(rr, "kvs"), r, cap) < 0)
			return -EBADMSG;
		if (dr) {
			if (get_i64(dr, "deleted", &n) < 0)
				return -EBADMSG;
			r->deleted += n;
		}
	}
	return 0;
}

static void parse_error(json_t *root, struct etcd_resp *r)
{
	json_t *e = json_object_get(root, "error");
	const char *msg;
	int64_t code = 0;

	r->is_error = true;
	if (json_is_object(e)) { /* a stream's error: {"grpc_code","http_code","message"} */
		msg = json_string_value(json_object_get(e, "message"));
		get_i64(e, "grpc_code", &code);
	} else {
		/* "message" and "error" say the same; an empty one says nothing, so the other wins */
		msg = json_string_value(json_object_get(root, "message"));
		if (!msg || !*msg)
			msg = json_string_value(e);
		get_i64(root, "code", &code);
	}
	r->code = (int)code;
	if (msg && *msg)
		snprintf(r->error, sizeof(r->error), "%s", msg);
	else
		snprintf(r->error, sizeof(r->error), "unknown error (code %d)", r->code);
}

int etcd_parse(const char *buf, size_t len, struct etcd_resp *out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr), *body;
	size_t cap = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(root)) {
		snprintf(err, errlen, "not a JSON object: %s", root ? "" : jerr.text);
		json_decref(root);
		return -EBADMSG;
	}
	if (json_object_get(root, "error")) {
		parse_error(root, out);
		json_decref(root);
		return 0;
	}
	/* watch messages and keepalive answers wrap their body in "result" */
	body = json_object_get(root, "result");
	if (!json_is_object(body))
		body = root;
	if (get_i64(json_object_get(body, "header"), "revision", &out->revision) < 0 ||
	    get_i64(body, "count", &out->count) < 0 || get_i64(body, "deleted", &out->deleted) < 0 ||
	    get_i64(body, "ID", &out->lease_id) < 0 || get_i64(body, "TTL", &out->ttl) < 0 ||
	    get_i64(body, "compact_revision", &out->compact_revision) < 0 ||
	    get_i64(body, "watch_id", &out->watch_id) < 0 ||
	    parse_kvs(json_object_get(body, "kvs"), out, &cap) < 0 ||
	    parse_txn(json_object_get(body, "responses"), out, &cap) < 0 ||
	    parse_events(json_object_get(body, "events"), out) < 0) {
		snprintf(err, errlen, "a field has the wrong type or bad base64");
		rc = -EBADMSG;
	}
	out->succeeded = json_is_true(json_object_get(body, "succeeded"));
	out->created = json_is_true(json_object_get(body, "created"));
	out->canceled = json_is_true(json_object_get(body, "canceled"));
	json_decref(root);
	return rc;
}

void etcd_resp_free(struct etcd_resp *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_kvs; i++)
		kv_free(&r->kvs[i]);
	for (size_t i = 0; i < r->n_events; i++) {
		kv_free(&r->events[i].kv);
		kv_free(&r->events[i].prev);
	}
	free(r->kvs);
	free(r->events);
	memset(r, 0, sizeof(*r));
}

/* ---- builders ---- */

char *etcd_prefix_end(const char *prefix)
{
	char *end = xstrdup(prefix);
	size_t n = strlen(end);

	/* our prefixes are text ending in '/': its successor '0' ends the range */
	if (n)
		end[n - 1]++;
	return end;
}

json_t *etcd_range_req(const char *key, bool prefix)
{
	json_t *j = json_object();

	json_object_set_new(j, "key", etcd_b64(key, (size_t)-1));
	if (prefix) {
		char *end = etcd_prefix_end(key);
		json_object_set_new(j, "range_end", etcd_b64(end, (size_t)-1));
		free(end);
	}
	return j;
}

static json_t *i64(int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return json_string(buf);
}

json_t *etcd_cmp_absent(const char *key)
{
	return json_pack("{s:o,s:s,s:s,s:s}", "key", etcd_b64(key, (size_t)-1), "target", "CREATE",
			 "result", "EQUAL", "create_revision", "0");
}

json_t *etcd_cmp_none_under(const char *prefix)
{
	/* a compare over a range holds for every key in it, and vacuously for none: "every key
	 * under prefix has create_revision 0" means there is none */
	json_t *j = etcd_cmp_absent(prefix);
	char *end = etcd_prefix_end(prefix);

	json_object_set_new(j, "range_end", etcd_b64(end, (size_t)-1));
	free(end);
	return j;
}

json_t *etcd_cmp_mod(const char *key, int64_t rev)
{
	return json_pack("{s:o,s:s,s:s,s:o}", "key", etcd_b64(key, (size_t)-1), "target", "MOD",
			 "result", "EQUAL", "mod_revision", i64(rev));
}

json_t *etcd_op_put(const char *key, const char *value, int64_t lease)
{
	json_t *put = json_pack("{s:o,s:o}", "key", etcd_b64(key, (size_t)-1), "value",
				etcd_b64(value, (size_t)-1));

	if (lease)
		json_object_set_new(put, "lease", i64(lease));
	return json_pack("{s:o}", "request_put", put);
}

json_t *etcd_op_delete(const char *key, bool prefix)
{
	return json_pack("{s:o}", "request_delete_range", etcd_range_req(key, prefix));
}

json_t *etcd_op_range(const char *key, bool prefix)
{
	return json_pack("{s:o}", "request_range", etcd_range_req(key, prefix));
}

json_t *etcd_txn(json_t *cmps, json_t *ok, json_t *fail)
{
	return json_pack("{s:o,s:o,s:o}", "compare", cmps, "success", ok, "failure",
			 fail ? fail : json_array());
}
