/* cni_spec.c — see cni_spec.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni_spec.h"
#include "model.h"
#include "xalloc.h"

static const char *const supported[] = { CNI_SUPPORTED_VERSIONS };
#define N_SUPPORTED (sizeof(supported) / sizeof(supported[0]))

int cni_fail(struct cni_err *e, int code, const char *msg, const char *fmt, ...)
{
	e->code = code;
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	e->details[0] = '\0';
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->details, sizeof(e->details), fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ---- environment ------------------------------------------------------------------------ */

static const char *env_get(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* The CNI rule for container ids and network names: alphanumeric first, then [A-Za-z0-9_.-]. */
static bool valid_id(const char *s)
{
	if (!s || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
		    (s[0] >= '0' && s[0] <= '9')))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
	       strlen(s);
}

int cni_env_read(struct cni_env *env, struct cni_err *e)
{
	static const struct { const char *name; enum cni_cmd cmd; } cmds[] = {
		{ "ADD", CNI_CMD_ADD }, { "DEL", CNI_CMD_DEL }, { "CHECK", CNI_CMD_CHECK },
		{ "STATUS", CNI_CMD_STATUS }, { "GC", CNI_CMD_GC }, { "VERSION", CNI_CMD_VERSION },
	};
	memset(env, 0, sizeof(*env));
	env->command = env_get("CNI_COMMAND");
	env->container_id = env_get("CNI_CONTAINERID");
	env->netns = env_get("CNI_NETNS");
	env->ifname = env_get("CNI_IFNAME");
	env->args = env_get("CNI_ARGS");
	env->path = env_get("CNI_PATH");
	for (size_t i = 0; env->command && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(env->command, cmds[i].name))
			env->cmd = cmds[i].cmd;
	if (env->cmd == CNI_CMD_NONE)
		return cni_fail(e, CNI_ERR_INVALID_ENV, "invalid CNI_COMMAND",
				"CNI_COMMAND is '%s'; want ADD, DEL, CHECK, STATUS, GC or VERSION",
				env->command ? env->command : "");
	if (env->cmd != CNI_CMD_ADD && env->cmd != CNI_CMD_DEL && env->cmd != CNI_CMD_CHECK)
		return 0;
	char missing[128] = "";
	/* DEL must work when the netns is already gone, so CNI_NETNS is optional there */
	if (!env->container_id)
		strcat(missing, ",CNI_CONTAINERID");
	if (!env->netns && env->cmd != CNI_CMD_DEL)
		strcat(missing, ",CNI_NETNS");
	if (!env->ifname)
		strcat(missing, ",CNI_IFNAME");
	if (missing[0])
		return cni_fail(e, CNI_ERR_INVALID_ENV, "required environment variables missing",
				"%s", missing + 1);
	if (!valid_id(env->container_id) || strlen(env->container_id) > 110)
		return cni_fail(e, CNI_ERR_INVALID_ENV, "invalid CNI_CONTAINERID",
				"'%s': want alphanumeric first, then [A-Za-z0-9_.-], at most 110",
				env->container_id);
	if (!valid_id(env->ifname) || strlen(env->ifname) > 15)
		return cni_fail(e, CNI_ERR_INVALID_ENV, "invalid CNI_IFNAME",
				"'%s': want an interface name of [A-Za-z0-9_.-], at most 15",
				env->ifname);
	return 0;
}

int cni_args_parse(const char *s, struct cni_args *out, struct cni_err *e)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return 0;
	char *copy = xstrdup(s), *save = NULL;
	int rc = 0;
	for (char *kv = strtok_r(copy, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq) {
			rc = cni_fail(e, CNI_ERR_INVALID_ENV, "invalid CNI_ARGS",
				      "'%s' is not KEY=VALUE", kv);
			break;
		}
		*eq = '\0';
		const char *v = eq + 1;
		char *dst = NULL;
		size_t size = 0;
		if (!strcmp(kv, "K8S_POD_NAMESPACE"))
			dst = out->pod_ns, size = sizeof(out->pod_ns);
		else if (!strcmp(kv, "K8S_POD_NAME"))
			dst = out->pod_name, size = sizeof(out->pod_name);
		else if (!strcmp(kv, "IP"))
			dst = out->ips, size = sizeof(out->ips);
		if (!dst)
			continue;
		/* the pod's names go into its endpoint record and from there into the ruleset:
		 * only names a Pod object could have */
		const char *why = dst == out->ips ? NULL
			: dst == out->pod_ns ? np_check_dns_label(v) : np_check_container_name(v);
		if (strlen(v) >= size || strchr(v, '/') != NULL || why) {
			rc = cni_fail(e, CNI_ERR_INVALID_ENV, "invalid CNI_ARGS", "%s='%s'%s%s", kv, v,
				      why ? ": " : "", why ? why : "");
			break;
		}
		snprintf(dst, size, "%s", v);
	}
	free(copy);
	return rc;
}

/* ---- versions --------------------------------------------------------------------------- */

static void version_parse(const char *v, int out[3])
{
	out[0] = out[1] = out[2] = 0;
	if (v)
		sscanf(v, "%d.%d.%d", &out[0], &out[1], &out[2]);
}

int cni_version_cmp(const char *a, const char *b)
{
	int x[3], y[3];
	version_parse(a, x);
	version_parse(b, y);
	for (int i = 0; i < 3; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

bool cni_version_supported(const char *v)
{
	for (size_t i = 0; v && i < N_SUPPORTED; i++)
		if (!strcmp(v, supported[i]))
			return true;
	return false;
}

json_t *cni_version_result(const char *version)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < N_SUPPORTED; i++)
		json_array_append_new(arr, json_string(supported[i]));
	return json_pack("{s:s,s:o}", "cniVersion", version, "supportedVersions", arr);
}

static int incompatible(struct cni_err *e, const char *v)
{
	char list[128] = "";
	for (size_t i = 0; i < N_SUPPORTED; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s\"%s\"", i ? " " : "",
			 supported[i]);
	return cni_fail(e, CNI_ERR_INCOMPATIBLE, "incompatible CNI versions",
			"config is \"%s\", plugin supports [%s]", v ? v : "", list);
}

/* ---- configuration ---------------------------------------------------------------------- */

static int bad_key(struct cni_err *e, const char *key, const char *want)
{
	return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network configuration",
			"\"%s\" must be %s", key, want);
}

/* An optional string key: absent or null leaves *out as it is. */
static int opt_str(struct cni_conf *c, const char *key, const char **out, struct cni_err *e)
{
	json_t *v = json_object_get(c->raw, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !json_string_length(v))
		return bad_key(e, key, "a non-empty string");
	*out = json_string_value(v);
	return 0;
}

/* Adds labels to c->labels from an object of strings ({"app": "web"}) or the CONVENTIONS.md
 * args form ([{"key": "app", "value": "web"}]). */
static int labels_add(struct cni_conf *c, json_t *src, const char *where, struct cni_err *e)
{
	const char *k;
	json_t *v;
	size_t i;
	if (!src || json_is_null(src))
		return 0;
	if (json_is_object(src)) {
		json_object_foreach(src, k, v) {
			if (!json_is_string(v))
				return bad_key(e, where, "an object of strings");
			json_object_set(c->labels, k, v);
		}
		return 0;
	}
	if (!json_is_array(src))
		return bad_key(e, where, "an object of strings or a list of {key, value}");
	json_array_foreach(src, i, v) {
		json_t *key = json_object_get(v, "key"), *val = json_object_get(v, "value");
		if (!json_is_string(key) || !json_is_string(val))
			return bad_key(e, where, "a list of {\"key\": string, \"value\": string}");
		json_object_set(c->labels, json_string_value(key), val);
	}
	return 0;
}

static int conf_netpol_keys(struct cni_conf *c, struct cni_err *e)
{
	json_t *v;
	if (opt_str(c, "policyDir", &c->policy_dir, e) < 0 ||
	    opt_str(c, "stateDir", &c->state_dir, e) < 0 ||
	    opt_str(c, "namespace", &c->ns_default, e) < 0 ||
	    opt_str(c, "node", &c->node, e) < 0 ||
	    opt_str(c, "policydSocket", &c->policyd_socket, e) < 0 ||
	    opt_str(c, "network", &c->network, e) < 0)
		return -1;
	if ((v = json_object_get(c->raw, "timeout")) && !json_is_null(v)) {
		/* seconds, as a number ("timeout": 5 or 0.5) */
		if (!json_is_number(v) || json_number_value(v) <= 0 || json_number_value(v) > 600)
			return bad_key(e, "timeout", "a number of seconds in (0, 600]");
		c->timeout_ms = (int)(json_number_value(v) * 1000 + 0.5);
		if (c->timeout_ms < 1)
			c->timeout_ms = 1;
	}
	if ((v = json_object_get(c->raw, "requirePolicyd")) && !json_is_null(v)) {
		if (!json_is_boolean(v))
			return bad_key(e, "requirePolicyd", "true or false");
		c->require_policyd = json_is_true(v);
	}
	if ((v = json_object_get(c->raw, "driver")) && !json_is_null(v)) {
		if (!json_is_string(v))
			return bad_key(e, "driver", "bridge, macvlan, overlay or host");
		c->driver = c->raw; /* the inline network's keys sit beside it */
	}
	if (c->network && c->driver)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network configuration",
				"\"network\" and \"driver\" exclude each other");
	if (c->policy_dir && c->policy_dir[0] != '/')
		return bad_key(e, "policyDir", "an absolute path");
	if (c->state_dir[0] != '/')
		return bad_key(e, "stateDir", "an absolute path");
	if (np_check_dns_label(c->ns_default))
		return bad_key(e, "namespace", "a Kubernetes namespace name (RFC 1123 label)");
	return 0;
}

static int conf_labels(struct cni_conf *c, struct cni_err *e)
{
	json_t *args = json_object_get(c->raw, "args");
	c->labels = json_object();
	if (labels_add(c, json_object_get(c->raw, "labels"), "labels", e) < 0)
		return -1;
	if (json_is_object(args) &&
	    labels_add(c, json_object_get(json_object_get(args, "cni"), "labels"), "args.cni.labels",
		       e) < 0)
		return -1;
	if (json_is_object(c->runtime) &&
	    labels_add(c, json_object_get(c->runtime, "labels"), "runtimeConfig.labels", e) < 0)
		return -1;
	return 0;
}

/* The configuration's cniVersion: one we speak, and new enough for cmd. */
static int conf_version_check(const char *version, enum cni_cmd cmd, struct cni_err *e)
{
	if (!version)
		return bad_key(e, "cniVersion", "a version string");
	if (!cni_version_supported(version))
		return incompatible(e, version);
	if ((cmd == CNI_CMD_STATUS || cmd == CNI_CMD_GC) && cni_version_cmp(version, "1.1.0") < 0)
		return cni_fail(e, CNI_ERR_INCOMPATIBLE, "incompatible CNI versions",
				"%s needs cniVersion 1.1.0, config is \"%s\"",
				cmd == CNI_CMD_GC ? "GC" : "STATUS", version);
	if (cmd == CNI_CMD_CHECK && cni_version_cmp(version, "0.4.0") < 0)
		return cni_fail(e, CNI_ERR_INCOMPATIBLE, "incompatible CNI versions",
				"CHECK needs cniVersion 0.4.0 or later, config is \"%s\"", version);
	return 0;
}

/* An optional object member of the configuration (null counts as absent) into *out. */
static int conf_object(struct cni_conf *c, const char *key, json_t **out, struct cni_err *e)
{
	json_t *v = json_object_get(c->raw, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return bad_key(e, key, "an object");
	*out = v;
	return 0;
}

int cni_conf_parse(const char *text, enum cni_cmd cmd, struct cni_conf *c, struct cni_err *e)
{
	json_error_t jerr;
	memset(c, 0, sizeof(*c));
	c->state_dir = "/run/netpol";
	c->ns_default = "default";
	c->timeout_ms = 5000;
	c->raw = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!c->raw)
		return cni_fail(e, CNI_ERR_DECODE, "error decoding network configuration",
				"line %d column %d: %s", jerr.line, jerr.column, jerr.text);
	if (!json_is_object(c->raw))
		return cni_fail(e, CNI_ERR_DECODE, "error decoding network configuration",
				"not a JSON object");
	json_t *v = json_object_get(c->raw, "cniVersion");
	c->version = json_string_value(v);
	if (cmd == CNI_CMD_VERSION)
		return 0; /* VERSION answers any input */
	if (conf_version_check(c->version, cmd, e) < 0)
		return -1;
	c->name = json_string_value(json_object_get(c->raw, "name"));
	c->type = json_string_value(json_object_get(c->raw, "type"));
	if (!c->name || !valid_id(c->name) || strlen(c->name) > 63)
		return bad_key(e, "name", "a network name (alphanumeric first, then [A-Za-z0-9_.-], "
				 "at most 63)");
	if (conf_netpol_keys(c, e) < 0)
		return -1;
	if (!c->policy_dir && cmd != CNI_CMD_STATUS)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network configuration",
				"\"policyDir\" is required (the directory of Kubernetes objects)");
	if (conf_object(c, "prevResult", &c->prev, e) < 0 ||
	    conf_object(c, "runtimeConfig", &c->runtime, e) < 0)
		return -1;
	if (conf_labels(c, e) < 0)
		return -1;
	if (cmd == CNI_CMD_GC) {
		c->valid = json_object_get(c->raw, "cni.dev/valid-attachments");
		if (!c->valid)
			c->valid = json_object_get(c->raw, "cni.dev/attachments");
		if (c->valid && !json_is_array(c->valid))
			return bad_key(e, "cni.dev/valid-attachments", "a list");
	}
	return 0;
}

void cni_conf_free(struct cni_conf *c)
{
	json_decref(c->labels);
	json_decref(c->raw);
	memset(c, 0, sizeof(*c));
}

/* ---- results ---------------------------------------------------------------------------- */

int cni_result_convert(json_t *res, const char *version, json_t **out, struct cni_err *e)
{
	const char *from = json_string_value(json_object_get(res, "cniVersion"));
	if (!from)
		from = version; /* a prevResult without its own version is in the request's */
	if (!cni_version_supported(from) || !cni_version_supported(version))
		return incompatible(e, cni_version_supported(from) ? version : from);
	json_t *r = json_deep_copy(res), *v;
	size_t i;
	json_object_set_new(r, "cniVersion", json_string(version));
	json_array_foreach(json_object_get(r, "ips"), i, v) {
		if (!json_is_object(v))
			continue;
		if (cni_version_cmp(version, "1.0.0") >= 0) {
			json_object_del(v, "version");
		} else if (!json_object_get(v, "version")) {
			const char *a = json_string_value(json_object_get(v, "address"));
			json_object_set_new(v, "version", json_string(a && strchr(a, ':') ? "6" : "4"));
		}
	}
	if (cni_version_cmp(version, "1.1.0") < 0) {
		static const char *const if_keys[] = { "mtu", "socketPath", "pciID" };
		static const char *const rt_keys[] = { "mtu", "advmss", "priority", "table", "scope" };
		json_array_foreach(json_object_get(r, "interfaces"), i, v)
			for (size_t k = 0; k < 3 && json_is_object(v); k++)
				json_object_del(v, if_keys[k]);
		json_array_foreach(json_object_get(r, "routes"), i, v)
			for (size_t k = 0; k < 5 && json_is_object(v); k++)
				json_object_del(v, rt_keys[k]);
	}
	*out = r;
	return 0;
}

json_t *cni_err_json(const struct cni_err *e, const char *version)
{
	json_t *j = json_pack("{s:s,s:i,s:s}", "cniVersion",
			      version && cni_version_supported(version) ? version : "1.1.0", "code",
			      e->code, "msg", e->msg);
	if (e->details[0])
		json_object_set_new(j, "details", json_string(e->details));
	return j;
}

int cni_prev_parse(json_t *prev, const char *ifname, struct cni_prev *out, struct cni_err *e)
{
	json_t *ifs = json_object_get(prev, "interfaces"), *ips = json_object_get(prev, "ips"), *v;
	size_t i;
	long want = -1;
	memset(out, 0, sizeof(*out));
	json_array_foreach(ifs, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *sandbox = json_string_value(json_object_get(v, "sandbox"));
		if (!name)
			continue;
		if (sandbox && *sandbox) {
			if (!strcmp(name, ifname)) {
				want = (long)i;
				const char *mac = json_string_value(json_object_get(v, "mac"));
				snprintf(out->mac, sizeof(out->mac), "%s", mac ? mac : "");
			}
			continue;
		}
		/* host side: the bridge plugin lists [bridge, veth, container]; the veth comes last */
		out->n_host_ifs++;
		if (strlen(name) < sizeof(out->host_if))
			snprintf(out->host_if, sizeof(out->host_if), "%s", name);
	}
	bool seen4 = false, seen6 = false;
	json_array_foreach(ips, i, v) {
		json_t *idx = json_object_get(v, "interface");
		const char *a = json_string_value(json_object_get(v, "address"));
		if (!a)
			continue;
		if (json_is_integer(idx) && json_integer_value(idx) != want)
			continue;
		bool six = strchr(a, ':') != NULL;
		/* the first address of each family is the pod's (NetworkPolicy sees podIPs) */
		if ((six && seen6) || (!six && seen4) || strlen(a) >= sizeof(out->addrs[0]))
			continue;
		*(six ? &seen6 : &seen4) = true;
		snprintf(out->addrs[out->n_addrs++], sizeof(out->addrs[0]), "%s", a);
	}
	if (!out->n_addrs)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid prevResult",
				"prevResult has no address for interface %s (is netpol-cni chained "
				"after an interface plugin with IPAM?)", ifname);
	return 0;
}
