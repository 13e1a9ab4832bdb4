/* cni_spec.h — the CNI protocol as netpol-cni speaks it (spec 1.1.0, configs 0.3.0 to 1.1.0):
 * the environment, the network configuration with netpol's keys, CNI_ARGS, version
 * negotiation, results in the version asked, and the error object. Nothing here touches the
 * kernel or the file system; nothing prints. */
#ifndef NETPOL_ENFORCER_CNI_SPEC_H
#define NETPOL_ENFORCER_CNI_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Well-known error codes (SPEC.md "Error"), and ours (>= 100). */
enum {
	CNI_ERR_INCOMPATIBLE = 1,
	CNI_ERR_UNSUPPORTED_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_INVALID_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_INVALID_CONFIG = 7,
	CNI_ERR_TRY_AGAIN = 11,
	CNI_ERR_NOT_READY = 50,
	CNI_ERR_NOT_READY_LIMITED = 51,
	CNI_ERR_POLICY = 100,    /* the policy directory cannot be loaded (has errors) */
	CNI_ERR_ENFORCE = 101,   /* the kernel refused the ruleset, or the outcome is unknown */
	CNI_ERR_ATTACH = 102,    /* main mode: netsetup could not attach */
	CNI_ERR_CHECK = 103,     /* CHECK found something missing */
	CNI_ERR_STATE = 104,     /* the state directory cannot be used */
};

#define CNI_SUPPORTED_VERSIONS "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"

struct cni_err {
	int code;
	char msg[256];
	char details[1024];
};

/* Fills e (code, msg, printf-style details) and returns -1, so callers can `return cni_fail(...)`. */
int cni_fail(struct cni_err *e, int code, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

enum cni_cmd { CNI_CMD_NONE, CNI_CMD_ADD, CNI_CMD_DEL, CNI_CMD_CHECK, CNI_CMD_STATUS, CNI_CMD_GC,
	       CNI_CMD_VERSION };

/* The CNI_* environment. Unset and empty are the same (libcni sets all of them). */
struct cni_env {
	enum cni_cmd cmd;
	const char *command, *container_id, *netns, *ifname, *args, *path;
};

/* Reads the environment. Fails (code 4, naming the variables) when CNI_COMMAND is unknown or
 * a variable the command requires is missing or malformed. */
int cni_env_read(struct cni_env *env, struct cni_err *e);

/* What CNI_ARGS says (K=V;K2=V2, any order, unknown keys ignored). */
struct cni_args {
	char pod_ns[128], pod_name[254];
	char ips[256]; /* IP=: comma-separated addresses, "" when absent */
};
int cni_args_parse(const char *s, struct cni_args *out, struct cni_err *e);

/* The network configuration, with netpol's keys and their defaults. Strings point into raw. */
struct cni_conf {
	json_t *raw;                 /* the whole request (owned) */
	const char *version, *name, *type;
	const char *policy_dir;      /* required for ADD/DEL/CHECK/GC */
	const char *state_dir;       /* default /run/netpol */
	const char *ns_default;      /* pod namespace when CNI_ARGS has none; default "default" */
	const char *node;            /* as --node; NULL: every pod is local */
	const char *policyd_socket;  /* NULL: STATE/policyd.sock */
	int timeout_ms;              /* how long ADD may wait for enforcement; default 5000 */
	bool require_policyd;        /* no fallback: STATUS and ADD need policyd answering */
	const char *network;         /* main mode: an existing netsetup network */
	json_t *driver;              /* main mode, inline: {"driver": ..., "subnets": [...], ...} */
	json_t *prev;                /* prevResult, or NULL */
	json_t *runtime;             /* runtimeConfig, or NULL */
	json_t *labels;              /* merged pod labels (owned object of strings) */
	json_t *valid;               /* GC: cni.dev/valid-attachments (or cni.dev/attachments) */
};

/* Parses the request on stdin for cmd. Codes: 6 not JSON, 1 unsupported cniVersion (or a
 * command the version lacks), 7 a missing or malformed key. */
int cni_conf_parse(const char *text, enum cni_cmd cmd, struct cni_conf *c, struct cni_err *e);
void cni_conf_free(struct cni_conf *c);

/* <0, 0, >0 as version a is lower, equal, higher than b ("1.0.0" > "0.4.0"). */
int cni_version_cmp(const char *a, const char *b);
bool cni_version_supported(const char *v);
/* {"cniVersion": version, "supportedVersions": [...]} */
json_t *cni_version_result(const char *version);

/* A copy of a result (any supported version) in version: ips[].version added below 1.0.0 and
 * removed from 1.0.0 on; the 1.1.0-only interface and route keys dropped below 1.1.0. Code 1
 * when the result's own version is not supported. */
int cni_result_convert(json_t *res, const char *version, json_t **out, struct cni_err *e);

/* The error object as the spec writes it. */
json_t *cni_err_json(const struct cni_err *e, const char *version);

/* From a chained prevResult: the addresses of the container interface ifname (ips[] whose
 * interface index names it, or every ip when none carries an index), the host-side interface
 * (the last interface without a sandbox: the veth's host end), and whether any host side
 * exists. Code 7 when prevResult names no address for ifname. */
struct cni_prev {
	char addrs[2][64];  /* CIDR strings, at most one IPv4 and one IPv6 are recorded */
	size_t n_addrs;
	char host_if[16];
	size_t n_host_ifs;  /* interfaces without sandbox: 2 bridge + veth, 1 ptp, 0 macvlan */
	char mac[18];
};
int cni_prev_parse(json_t *prev, const char *ifname, struct cni_prev *out, struct cni_err *e);

#endif
