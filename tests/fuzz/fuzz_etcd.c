/* fuzz_etcd — the store's answers: one body of etcd's JSON gateway (a range, a txn, a lease
 * grant or keepalive, an error, or one message of a watch stream) through etcd_parse, the one
 * reader of them, and then every value it decoded where netsetup takes it: as an endpoint
 * record (ns_endpoint_from_json) and as a network definition (ns_network_from_json), as the
 * store's readers and the host's agent read the keys endpoints/NET/ID and networks/NAME.
 *
 * Properties beyond the sanitizers: a refused answer says why; an error answer has a message;
 * every decoded key and value is NUL-terminated at its length; each kv encoded again (base64,
 * as the gateway sends it) and parsed again gives the same bytes and revisions; a record or
 * definition read from a value, written and read again, is what was read. */
#include <errno.h>
#include <inttypes.h>

#include "etcd.h"
#include "fuzz.h"
#include "network.h"

static json_t *i64(int64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return json_string(buf);
}

/* kv as the gateway would send it, parsed again: the same key, value and revisions. */
static void check_kv(const struct etcd_kv *kv)
{
	FUZZ_CHECK(kv->key && kv->value, "a parsed kv without its key or value");
	FUZZ_CHECK(kv->value[kv->value_len] == '\0', "a value not NUL-terminated at its length");
	json_t *o = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "key",
			      etcd_b64(kv->key, (size_t)-1), "value",
			      etcd_b64(kv->value, kv->value_len), "create_revision",
			      i64(kv->create_rev), "mod_revision", i64(kv->mod_rev), "version",
			      i64(kv->version), "lease", i64(kv->lease));
	json_t *body = json_pack("{s:[o]}", "kvs", o);
	char *text = json_dumps(body, 0), err[256];
	struct etcd_resp r;
	FUZZ_CHECK(etcd_parse(text, strlen(text), &r, err, sizeof(err)) == 0,
		   "a kv encoded again is refused: %s", err);
	FUZZ_CHECK(r.n_kvs == 1, "one kv encoded again parses as %zu", r.n_kvs);
	const struct etcd_kv *b = &r.kvs[0];
	FUZZ_CHECK(!strcmp(b->key, kv->key) && b->value_len == kv->value_len &&
			   !memcmp(b->value, kv->value, kv->value_len) &&
			   b->create_rev == kv->create_rev && b->mod_rev == kv->mod_rev &&
			   b->version == kv->version && b->lease == kv->lease,
		   "a kv encoded again and parsed differs");
	etcd_resp_free(&r);
	free(text);
	json_decref(body);
}

/* A value as the store's readers take it: a record and a definition, read-write-read stable. */
static void check_value(const struct etcd_kv *kv)
{
	json_t *j = json_loadb(kv->value, kv->value_len, 0, NULL);
	struct ns_endpoint *ep;
	if (!j)
		return;
	fuzz_endpoint_round_trip(j, &ep);
	ns_endpoint_free(ep);
	fuzz_network_round_trip(j);
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct etcd_resp r;
	char err[256] = "";
	int rc = etcd_parse((const char *)data, size, &r, err, sizeof(err));
	if (rc < 0) {
		FUZZ_CHECK(rc == -EBADMSG && err[0], "a refused answer (%d) without a reason", rc);
	} else if (r.is_error) {
		FUZZ_CHECK(r.error[0], "an error answer without a message");
	}
	for (size_t i = 0; rc == 0 && i < r.n_kvs; i++) {
		check_kv(&r.kvs[i]);
		check_value(&r.kvs[i]);
	}
	for (size_t i = 0; rc == 0 && i < r.n_events; i++) {
		check_kv(&r.events[i].kv);
		check_value(&r.events[i].kv);
		if (r.events[i].has_prev)
			check_kv(&r.events[i].prev);
	}
	etcd_resp_free(&r);
	return 0;
}
