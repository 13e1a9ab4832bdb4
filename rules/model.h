/* model.h — the Kubernetes objects netpol understands, as plain C data.
 *
 * Everything hangs off one struct np_inventory, which owns all memory (an arena plus the
 * source texts). The parser fills it; later passes (resolve, ruleset, eval) only read it.
 * Semantics follow the NetworkPolicy v1 API reference; comments below say where the model
 * encodes a rule of the API rather than a field. */
#ifndef NETPOL_MODEL_H
#define NETPOL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "hash.h" /* np_hash: what users of the model hash names and file contents with */

/* Where an object came from, for diagnostics: file, YAML document, and the JSON Pointer of the
 * object itself inside that document ("" for a top-level object, "/items/3" inside a List). */
struct np_ref {
	const struct np_source *src;
	int doc;
	const char *ptr;
};

/* Addresses: IPv4 lives in b[0..3], network byte order. */
struct np_addr {
	uint8_t family; /* 4 or 6 */
	uint8_t b[16];
};

struct np_cidr {
	struct np_addr addr; /* host bits already cleared (Kubernetes accepts and masks them) */
	uint8_t prefix;
};

struct np_label {
	const char *key;
	const char *value;
};

/* Sorted by key, keys unique. */
struct np_labels {
	struct np_label *v;
	size_t n;
};

enum np_sel_op { NP_SEL_IN, NP_SEL_NOT_IN, NP_SEL_EXISTS, NP_SEL_DOES_NOT_EXIST };

struct np_sel_expr {
	const char *key;
	enum np_sel_op op;
	const char **values; /* sorted, unique; none for Exists/DoesNotExist */
	size_t n_values;
};

/* A label selector. An empty selector (no labels, no expressions) selects everything. Whether
 * a selector is present at all is encoded by the pointer that holds it being NULL or not. */
struct np_selector {
	struct np_labels match_labels;
	struct np_sel_expr *exprs;
	size_t n_exprs;
};

struct np_ipblock {
	struct np_cidr cidr;
	struct np_cidr *except; /* each inside cidr (validated) */
	size_t n_except;
};

/* One element of from[] / to[]. Valid combinations (validated): ipBlock alone; podSelector
 * and/or namespaceSelector. podSelector alone = pods of the policy's namespace;
 * namespaceSelector alone = all pods of the matching namespaces; both = AND. */
struct np_peer {
	struct np_selector *pod_sel; /* NULL = absent */
	struct np_selector *ns_sel;  /* NULL = absent */
	struct np_ipblock *ipblock;  /* NULL = absent */
	struct np_selector *node_sel; /* admin tiers' `nodes` peer: the InternalIPs of the
				       * matching Node objects (then every other field is NULL) */
	const char *ptr;             /* JSON Pointer of this peer */
};

enum np_proto { NP_PROTO_TCP = 6, NP_PROTO_UDP = 17, NP_PROTO_SCTP = 132 };

/* One element of ports[]. Exactly one of: all ports of proto (no port given), a numeric port
 * (optionally up to end_port, inclusive), or a named port (resolved per destination pod). */
struct np_port {
	enum np_proto proto; /* TCP when the field is absent */
	uint16_t port;       /* 0 = every port of proto (or: named) */
	uint16_t end_port;   /* 0 = no range; else >= port */
	const char *name;    /* named port (IANA_SVC_NAME), or NULL */
	bool any_proto;      /* admin tiers' named ports carry no protocol: the container port's
				name alone decides, with whatever protocol it declares */
	const char *ptr;
};

/* Admin-tier rule actions (v1alpha1 Allow is read as Accept). NetworkPolicy rules have none. */
enum np_action { NP_ACT_NONE, NP_ACT_ACCEPT, NP_ACT_DENY, NP_ACT_PASS };

/* One ingress or egress rule. n_peers == 0: every peer (absent or empty from/to).
 * n_ports == 0: every port of every protocol. */
struct np_rule {
	struct np_peer *peers;
	size_t n_peers;
	struct np_port *ports;
	size_t n_ports;
	const char *ptr;
	enum np_action action; /* admin tiers only (NP_ACT_NONE in a NetworkPolicy) */
	const char *name;      /* admin tiers: the rule's optional name, or NULL */
};

struct np_policy {
	const char *ns, *name;
	struct np_selector pod_sel; /* spec.podSelector; required, may be empty (= all pods in ns) */
	bool ingress, egress;       /* effective policyTypes, after inference when absent */
	bool types_inferred;        /* spec.policyTypes was absent */
	struct np_rule *in;         /* spec.ingress; none + ingress = deny all ingress */
	size_t n_in;
	struct np_rule *out;
	size_t n_out;
	bool audit;                 /* annotation netpol.io/audit: "true": where this policy's
				       isolation decides (no policy without it isolates the pod in
				       that direction), what it would drop is logged and let through */
	struct np_ref ref;
};

enum np_tier { NP_TIER_ADMIN, NP_TIER_BASELINE };

/* A cluster admin policy: ClusterNetworkPolicy (v1alpha2), or an AdminNetworkPolicy /
 * BaselineAdminNetworkPolicy (v1alpha1) converted into the same model (Allow → Accept, ports →
 * protocols, BANP → tier Baseline with priority 0). Evaluated per direction, tiers in order
 * Admin → NetworkPolicy → Baseline → allow; inside a tier by (priority, name, kind); inside a
 * policy the first matching rule decides. Every rule has at least one peer; each peer sets
 * ns_sel (namespaces; pods' namespaceSelector, {} when absent) and pod_sel (pods), or one
 * ipblock (networks, one peer per CIDR), or node_sel. */
struct np_admin_policy {
	const char *kind;           /* "ClusterNetworkPolicy", "AdminNetworkPolicy",
				       "BaselineAdminNetworkPolicy" */
	const char *short_kind;     /* "CNP", "ANP", "BANP": names read "CNP/egress-tcp" */
	const char *name;
	enum np_tier tier;
	int priority;               /* 0..1000 (BANP: 0) */
	struct np_selector subj_ns; /* subject namespaces (pods: its namespaceSelector) */
	struct np_selector *subj_pod; /* subject pods' podSelector, NULL for namespaces */
	struct np_rule *in;         /* ingress rules, in order */
	size_t n_in;
	struct np_rule *out;
	size_t n_out;
	bool audit;                 /* annotation netpol.io/audit: "true": its Deny rules log and
				       let through what they would drop */
	struct np_ref ref;
};

struct np_container_port {
	const char *name; /* may be NULL (unnamed ports cannot be referenced by name) */
	uint16_t port;
	enum np_proto proto;
};

struct np_namespace {
	const char *name;
	struct np_labels labels; /* always includes kubernetes.io/metadata.name=<name>, as the API
				    server sets it */
	bool implicit;           /* not declared in the input; created because a pod or policy
				    names it */
	struct np_ref ref;
};

struct np_pod {
	const char *ns, *name;
	const char *node;         /* spec.nodeName, or NULL */
	struct np_labels labels;
	struct np_container_port *ports; /* every container's ports[], in order */
	size_t n_ports;
	struct np_addr *ips;      /* status.podIPs (or status.podIP), in order, no duplicates */
	size_t n_ips;
	bool host_network;        /* spec.hostNetwork: never isolated, never a selector peer */
	const char *host_if;      /* host-side interface (annotation netpol.io/host-interface or
				     the CNI endpoint record), for anti-spoofing; may be NULL */
	const char *attach;       /* attachment driver from the endpoint record ("bridge",
				     "macvlan", "host", "overlay") or NULL for plain Pod objects */
	const char *netns;        /* the pod's netns path from the endpoint record, or NULL */
	struct np_ref ref;
};

/* A Node object: name and addresses, used for overlay peers. */
struct np_node {
	const char *name;
	struct np_labels labels; /* for the admin tiers' `nodes` peers */
	struct np_addr *addrs; /* status.addresses of type InternalIP, in order */
	size_t n_addrs;
	struct np_ref ref;
};

struct np_arena; /* opaque bump allocator owned by the inventory */

struct np_inventory {
	struct np_namespace *nss; /* sorted by name */
	size_t n_nss;
	struct np_pod *pods;      /* sorted by (ns, name) */
	size_t n_pods;
	struct np_policy *pols;   /* sorted by (ns, name) */
	size_t n_pols;
	struct np_node *nodes;    /* sorted by name */
	size_t n_nodes;
	struct np_admin_policy *admins; /* sorted by (tier, priority, name, kind): evaluation order */
	size_t n_admins;

	struct np_source **srcs;  /* every file loaded, owned */
	size_t n_srcs;
	struct np_arena *arena;
	size_t cap_nss, cap_pods, cap_pols, cap_nodes, cap_srcs, cap_admins; /* loader bookkeeping */
};

/* Creates an empty inventory; returns NULL only when out of memory. */
struct np_inventory *np_inventory_new(void);
void np_inventory_free(struct np_inventory *inv);

/* Loads every *.json, *.yaml, *.yml file in dir (not recursive; dotfiles, editor temp files
 * "*~", "#*#", "*.swp" ignored) in name order. Errors and notes go to diags; an object with an
 * error is left out, everything valid is kept. Afterwards the arrays are sorted, duplicates are
 * reported, and implicit namespaces are added. Returns 0, or a negative errno when dir itself
 * cannot be read (then a record says so too). */
int np_inventory_load_dir(struct np_inventory *inv, const char *dir, struct np_diags *diags);

/* Is name (a file name, no directory) one load_dir reads? (*.json, *.yaml, *.yml; not dotfiles,
 * "*~", "#*#", "*.swp") */
bool np_path_wanted(const char *name);

/* Loads one file (same rules); call np_inventory_finish after the last one. */
int np_inventory_load_file(struct np_inventory *inv, const char *path, struct np_diags *diags);
/* Loads objects from a buffer (name is used in messages), for tests and stdin. */
int np_inventory_load_buffer(struct np_inventory *inv, const char *name, const char *text,
			     size_t len, int yaml, struct np_diags *diags);
/* A stable merge sort that merges the ascending runs the input already has: input in order
 * costs one compare per element. */
void np_sort_stable(void *base, size_t n, size_t sz, int (*cmp)(const void *, const void *));
/* Sorts the objects as np_inventory_finish does (stably), and nothing else: inventories that
 * are merged later (one per file) then merge in about one compare per object. */
void np_inventory_sort(struct np_inventory *inv);
/* Sorts, reports duplicate namespace/name, adds implicit namespaces. Idempotent. */
void np_inventory_finish(struct np_inventory *inv, struct np_diags *diags);
/* For an inventory whose first n_finished pods were finished (sorted, no duplicates) and whose
 * others were appended since, none the duplicate of another: puts those in their sorted places
 * and adds their implicit namespaces, as np_inventory_finish would, without sorting all again. */
void np_inventory_finish_tail(struct np_inventory *inv, size_t n_finished);

/* Lookups on a finished inventory (binary search); NULL when absent. */
const struct np_namespace *np_inventory_namespace(const struct np_inventory *inv,
						  const char *name);
const struct np_pod *np_inventory_pod(const struct np_inventory *inv, const char *ns,
				      const char *name);

/* Label selector semantics (matchLabels AND every expression). sel == NULL matches nothing:
 * callers decide what an absent selector means. */
/* The pods of namespace ns are the run inv->pods[*lo .. *hi) (pods are sorted by ns, name). */
void np_inventory_ns_pods(const struct np_inventory *inv, const char *ns, size_t *lo,
			  size_t *hi);

bool np_selector_matches(const struct np_selector *sel, const struct np_labels *labels);
bool np_selector_is_empty(const struct np_selector *sel);
const char *np_labels_get(const struct np_labels *labels, const char *key);

/* Does peer select this pod, for a policy in namespace policy_ns? (host-network pods: never) */
bool np_peer_selects_pod(const struct np_inventory *inv, const char *policy_ns,
			 const struct np_peer *peer, const struct np_pod *pod);
/* Does the policy's spec.podSelector select this pod (same namespace, not host network)? */
bool np_policy_selects_pod(const struct np_policy *pol, const struct np_pod *pod);
/* Does the admin policy's subject select this pod (never a host-network pod)? */
bool np_admin_selects_pod(const struct np_inventory *inv, const struct np_admin_policy *ap,
			  const struct np_pod *pod);
/* Is addr an InternalIP of a Node the selector matches? */
bool np_node_sel_has_addr(const struct np_inventory *inv, const struct np_selector *sel,
			  const struct np_addr *addr);
const char *np_action_name(enum np_action a); /* "Accept", "Deny", "Pass" */
const char *np_tier_name(enum np_tier t);     /* "Admin", "Baseline" */

/* Addresses and CIDRs. */
int np_addr_parse(const char *s, struct np_addr *out);          /* 0 or -EINVAL */
int np_cidr_parse(const char *s, struct np_cidr *out, bool *host_bits_set); /* masks host bits */
bool np_cidr_contains(const struct np_cidr *c, const struct np_addr *a);
bool np_cidr_contains_cidr(const struct np_cidr *outer, const struct np_cidr *inner);
int np_addr_cmp(const struct np_addr *a, const struct np_addr *b);
/* Text forms: "10.0.0.1", "fd00::1", "10.0.0.0/8". buf must hold 64 bytes. */
const char *np_addr_str(const struct np_addr *a, char *buf);
const char *np_cidr_str(const struct np_cidr *c, char *buf);

const char *np_proto_name(enum np_proto p); /* "TCP", "UDP", "SCTP" */

/* Name syntax, as the parser validates it (every name that reaches the model passes these);
 * NULL when valid, else what is wrong. Labels and DNS names as Kubernetes validates them; an
 * interface name as the kernel takes it, less '"' (nft's text could not carry it). */
const char *np_check_label_key(const char *s);
const char *np_check_label_value(const char *s);
const char *np_check_dns_label(const char *s);
const char *np_check_dns_subdomain(const char *s);
const char *np_check_port_name(const char *s);
const char *np_check_ifname(const char *s);
/* A pod name as a container runtime may give one (CNI_ARGS' K8S_POD_NAME, podman's container
 * name): [A-Za-z0-9][A-Za-z0-9_.-]*, at most 253; every Kubernetes object name is one. */
const char *np_check_container_name(const char *s);

/* Arena helpers for the parser (abort on out-of-memory, like every allocation here). */
void *np_arena_alloc(struct np_arena *a, size_t size); /* zeroed */
const char *np_arena_strdup(struct np_arena *a, const char *s);

#endif
