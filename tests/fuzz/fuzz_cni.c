/* fuzz_cni — what netpol-cni reads from the container runtime: the network configuration on
 * stdin (for every command: ADD, DEL, CHECK, STATUS, GC, VERSION), its prevResult (the
 * addresses, host interface and MAC of a chained plugin's result) and CNI_ARGS. An input whose
 * first line starts with "CNI_ARGS=" gives that line as CNI_ARGS and the rest as the
 * configuration; else the configuration alone is read and CNI_ARGS is the whole input.
 *
 * Properties beyond the sanitizers: an error has a code and a message, and its JSON object
 * names a supported version; versions compare antisymmetrically; converting prevResult to a version twice gives what converting
 * once did; what prevResult parses into are strings within their bounds. */
#include "cni_spec.h"
#include "fuzz.h"

static const char *const versions[] = { CNI_SUPPORTED_VERSIONS };
#define N_VERSIONS (sizeof(versions) / sizeof(versions[0]))

static void check_error(const struct cni_err *e, const char *version)
{
	FUZZ_CHECK(e->code > 0 && e->msg[0], "an error without code or message");
	json_t *j = cni_err_json(e, version);
	const char *v = json_string_value(json_object_get(j, "cniVersion"));
	FUZZ_CHECK(v && cni_version_supported(v), "error object in version %s", v ? v : "(none)");
	char *text = json_dumps(j, 0);
	FUZZ_CHECK(text, "error object does not serialize");
	free(text);
	json_decref(j);
}

static void check_prev(json_t *prev, const char *version)
{
	struct cni_prev p;
	struct cni_err e;
	if (cni_prev_parse(prev, "eth0", &p, &e) < 0) {
		check_error(&e, version);
	} else {
		FUZZ_CHECK(p.n_addrs >= 1 && p.n_addrs <= 2, "%zu addresses", p.n_addrs);
		for (size_t i = 0; i < p.n_addrs; i++)
			FUZZ_CHECK(strlen(p.addrs[i]) < sizeof(p.addrs[i]), "address unterminated");
		FUZZ_CHECK(strlen(p.host_if) < sizeof(p.host_if) && strlen(p.mac) < sizeof(p.mac),
			   "host interface or MAC unterminated");
	}
	for (size_t i = 0; i < N_VERSIONS; i++) {
		json_t *once = NULL, *twice = NULL;
		if (cni_result_convert(prev, versions[i], &once, &e) < 0) {
			check_error(&e, version);
			continue;
		}
		FUZZ_CHECK(cni_result_convert(once, versions[i], &twice, &e) == 0,
			   "a converted result does not convert again to %s", versions[i]);
		FUZZ_CHECK(json_equal(once, twice), "converting to %s is not idempotent",
			   versions[i]);
		json_decref(twice);
		json_decref(once);
	}
}

static void parse_conf(const char *text, enum cni_cmd cmd)
{
	struct cni_conf c;
	struct cni_err e;
	if (cni_conf_parse(text, cmd, &c, &e) < 0) {
		check_error(&e, c.version);
	} else if (cmd != CNI_CMD_VERSION) {
		FUZZ_CHECK(c.name && c.timeout_ms >= 0 && c.state_dir, "accepted without a name");
		FUZZ_CHECK(!c.labels || json_is_object(c.labels), "labels not an object");
		if (c.prev)
			check_prev(c.prev, c.version);
		for (size_t i = 0; c.version && i < N_VERSIONS; i++) {
			int x = cni_version_cmp(c.version, versions[i]);
			int y = cni_version_cmp(versions[i], c.version);
			FUZZ_CHECK((x < 0) == (y > 0) && (x == 0) == (y == 0),
				   "version order not antisymmetric: %s, %s", c.version, versions[i]);
		}
		json_t *v = cni_version_result(c.version);
		json_decref(v);
	}
	cni_conf_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);
	const char *conf = text, *args = text;
	if (!strncmp(text, "CNI_ARGS=", 9)) {
		char *nl = strchr(text, '\n');
		args = text + 9;
		conf = "";
		if (nl) {
			*nl = 0;
			conf = nl + 1;
		}
	}
	static const enum cni_cmd cmds[] = { CNI_CMD_ADD, CNI_CMD_DEL, CNI_CMD_CHECK,
					     CNI_CMD_STATUS, CNI_CMD_GC, CNI_CMD_VERSION };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		parse_conf(conf, cmds[i]);
	struct cni_args a;
	struct cni_err e;
	if (cni_args_parse(args, &a, &e) < 0)
		check_error(&e, NULL);
	else
		FUZZ_CHECK(strlen(a.pod_ns) < sizeof(a.pod_ns) && strlen(a.ips) < sizeof(a.ips),
			   "CNI_ARGS fields unterminated");
	free(text);
	return 0;
}
