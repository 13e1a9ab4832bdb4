/* fuzz_endpoint — the records netpol keeps in its state directory, read back: an endpoint
 * record (STATE/endpoints/NET/ID.json, as netpol net attach and netpol-cni write it) through
 * ns_endpoint_from_json, and a network definition through ns_network_from_json. Then the
 * record goes where policyd and netpol apply take it: written into a scratch state directory
 * and merged into a policy inventory (endpoints_merge: a pod made from the record, or a Pod
 * object given the record's addresses), which is built and emitted (nft text and netlink
 * batch) with a policy that selects every pod of the record's namespace.
 *
 * Properties beyond the sanitizers: a record read, written back and read again is what was
 * read (to_json . from_json is a fixed point), for endpoints and networks alike; the nft text
 * has its quotes paired on every line, whatever the record's names and labels hold. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emit_nl.h"
#include "endpoints.h"
#include "fuzz.h"
#include "model.h"
#include "network.h"
#include "ruleset.h"

/* The record as STATE/endpoints/fuzz/ep.json of the scratch state directory. */
static const char *write_record(const uint8_t *data, size_t size)
{
	static char state[256];
	char path[512];
	snprintf(state, sizeof(state), "%s/state", fuzz_scratch_dir());
	snprintf(path, sizeof(path), "%s/endpoints/fuzz", state);
	if (access(path, F_OK) < 0) {
		mkdir(state, 0700);
		snprintf(path, sizeof(path), "%s/endpoints", state);
		mkdir(path, 0700);
		snprintf(path, sizeof(path), "%s/endpoints/fuzz", state);
		FUZZ_CHECK(mkdir(path, 0700) == 0, "mkdir %s", path);
	}
	snprintf(path, sizeof(path), "%s/endpoints/fuzz/ep.json", state);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0 && write(fd, data, size) == (ssize_t)size, "write %s", path);
	close(fd);
	return state;
}

static void merge_build(const uint8_t *data, size_t size, const struct ns_endpoint *ep)
{
	const char *state = write_record(data, size);
	char pol[1024], err[1024];
	snprintf(pol, sizeof(pol),
		 "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
		 "\"metadata\":{\"name\":\"p\",\"namespace\":\"%s\"},\"spec\":{\"podSelector\":{},"
		 "\"ingress\":[{\"from\":[{\"podSelector\":{}}],\"ports\":[{\"port\":80}]}]}}",
		 ep && ep->pod_ns[0] && !strpbrk(ep->pod_ns, "\"\\") ? ep->pod_ns : "default");
	struct np_inventory *inv = np_inventory_new();
	struct np_diags d;
	np_diags_init(&d);
	np_inventory_load_buffer(inv, "policy.json", pol, strlen(pol), 0, &d);
	np_inventory_finish(inv, &d);
	if (endpoints_merge(inv, state, &d, err, sizeof(err)) >= 0) {
		struct rs_options ro = { 0 };
		struct rs_ruleset *rs = NULL;
		FUZZ_CHECK(ruleset_build(inv, &ro, &rs) == 0, "ruleset_build failed");
		char *text = emit_text(rs);
		FUZZ_CHECK(text, "emit_text failed");
		fuzz_check_quotes(text);
		free(text);
		nl_state_free(fuzz_emit_batch(rs, NULL));
		ruleset_free(rs);
	}
	np_diags_free(&d);
	np_inventory_free(inv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	struct ns_endpoint *ep = NULL;
	if (j) {
		fuzz_endpoint_round_trip(j, &ep);
		fuzz_network_round_trip(j);
	}
	merge_build(data, size, ep);
	ns_endpoint_free(ep);
	json_decref(j);
	return 0;
}
