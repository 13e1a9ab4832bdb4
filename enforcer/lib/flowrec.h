/* flowrec.h — one flow record: what netpol saw of a packet or a connection (a drop, an audited
 * would-be drop, a connection's start or end, or a loss), named by pod and policy. A record is
 * rendered as a Hubble flow (the shape `hubble observe -o json` prints, so tools that read
 * Hubble read it), parsed back from one (netpol's own, or Hubble's, bare or wrapped as
 * {"flow": {...}}), and matched against the filters `netpol flows` takes (hubble observe's
 * names). policyd's control socket, its flow log and (later) its HTTP API serve records through
 * these functions, from the ring (flowring.h); the collector (flowcol.h) makes them. */
#ifndef NETPOL_ENFORCER_FLOWREC_H
#define NETPOL_ENFORCER_FLOWREC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

enum flow_verdict { FLOW_FORWARDED, FLOW_DROPPED, FLOW_AUDIT, FLOW_N_VERDICTS };
enum flow_dir { FLOW_DIR_UNKNOWN, FLOW_INGRESS, FLOW_EGRESS, FLOW_N_DIRS };
/* What the record is of: a packet logged at a drop point (NFLOG: DROPPED or AUDIT), a
 * connection's start or end (conntrack), or records lost on the way (no flow fields). */
enum flow_event { FLOW_EV_LOG, FLOW_EV_NEW, FLOW_EV_CLOSE, FLOW_EV_LOST, FLOW_N_EVENTS };

/* A policy as Hubble names one: kind (NetworkPolicy, ClusterNetworkPolicy,
 * AdminNetworkPolicy, BaselineAdminNetworkPolicy), namespace ("" when cluster-scoped), name. */
struct flow_policy {
	const char *kind, *ns, *name;
};

struct flow_pols {
	struct flow_policy *v;
	size_t n;
};

/* One end of the flow. */
struct flow_end {
	struct np_addr addr;
	uint16_t port;           /* TCP, UDP, SCTP */
	const char *ns, *pod;    /* NULL: not a pod ("reserved:world") */
	const char **labels;     /* "k8s:key=value" */
	size_t n_labels;
};

/* Per direction: what the policies of the end enforcing it said (FLOW_SIDE_INGRESS at the
 * destination, FLOW_SIDE_EGRESS at the source). */
enum { FLOW_SIDE_INGRESS, FLOW_SIDE_EGRESS };
struct flow_side {
	struct flow_pols denied;   /* *_denied_by: what dropped it (or would have, for AUDIT) */
	struct flow_pols allowed;  /* *_allowed_by: the policy whose rule allowed it */
	struct flow_pols isolated; /* every policy isolating the pod in this direction */
	const char *rule;          /* the allowing (or denying admin) rule: "ingress[0].from[1]..." */
};

struct np_arena;

struct flow_rec {
	uint64_t seq;            /* the ring's sequence number; 0 until pushed */
	int64_t time_ns;         /* CLOCK_REALTIME */
	enum flow_event event;
	const char *node;
	/* FLOW_EV_LOST */
	const char *lost_source; /* "nflog", "conntrack", "ring" (a reader fell behind) */
	uint64_t lost;
	/* the flow */
	enum flow_verdict verdict;
	enum flow_dir dir;
	uint8_t family;          /* 4 or 6 */
	uint8_t proto;           /* IPPROTO_* */
	uint8_t icmp_type, icmp_code;
	uint8_t tcp_flags;       /* TH_SYN, ... as on the wire; 0 unknown */
	int8_t is_reply;         /* 0, 1; -1 unknown */
	struct flow_end src, dst;
	struct flow_side side[2];
	bool has_stats;          /* conntrack's counters (nf_conntrack_acct), at close */
	uint64_t packets[2], bytes[2]; /* [0] source -> destination, [1] back */
	uint64_t folded;         /* records folded into this one (same drop, same tuple): >= 1 */
	uint32_t ct_id;          /* the conntrack entry (conntrack records) */
	int64_t duration_ns;     /* close: how long the connection lived (-1 unknown) */
	bool cut;                /* close: a policy change had cut it (its entry was marked) */
	struct np_arena *mem;    /* owns every string and array above (NULL until one is made) */
};

/* An empty record (no memory held). */
void flow_rec_init(struct flow_rec *r);
/* Frees what r holds; it is empty again. NULL-safe. */
void flow_rec_clear(struct flow_rec *r);
/* Moves src's content into dst (cleared first); src is left empty. */
void flow_rec_move(struct flow_rec *dst, struct flow_rec *src);
/* Memory owned by r: a copy of s (NULL stays NULL), n zeroed bytes. */
const char *flow_rec_strdup(struct flow_rec *r, const char *s);
void *flow_rec_alloc(struct flow_rec *r, size_t n);
/* Appends a policy to a list of r. */
void flow_pols_add(struct flow_rec *r, struct flow_pols *l, const char *kind, const char *ns,
		   const char *name);

/* The record as JSON: a bare Hubble flow, with netpol's own fields in a "netpol" object (its
 * seq among them); a loss as {"lost_events": {...}, "node_name", "time"}, Hubble's shape for
 * one. New reference. */
json_t *flow_rec_json(const struct flow_rec *r);
/* The same wrapped as Hubble's GetFlowsResponse ({"flow": {...}, "node_name", "time"}; a loss
 * as above): what `hubble observe --input-file` reads. */
json_t *flow_rec_envelope(const struct flow_rec *r);
/* Parses one record: a bare flow, {"flow": {...}}, or {"lost_events": {...}}. Unknown fields
 * are ignored. 0, or -EINVAL (r then empty). */
int flow_rec_from_json(const json_t *j, struct flow_rec *r);

const char *flow_verdict_name(enum flow_verdict v); /* "FORWARDED", "DROPPED", "AUDIT" */
/* A verdict by name, Hubble's or its printer's (ALLOWED, DENIED, AUDITED), any case. */
int flow_verdict_parse(const char *s, enum flow_verdict *out);
const char *flow_dir_name(enum flow_dir d);         /* "INGRESS", "EGRESS", ... */
const char *flow_event_name(enum flow_event e);     /* "log", "new", "close", "lost" */
/* RFC 3339 UTC with nanoseconds ("2026-12-07T19:47:30.249123456Z") into buf (40 bytes). */
const char *flow_time_str(int64_t ns, char *buf);
/* Parses RFC 3339 (Z or an offset, fraction optional): 0 or -EINVAL. */
int flow_time_parse(const char *s, int64_t *ns);
/* The realtime clock in ns. */
int64_t flow_now_ns(void);

/* Filters, as `hubble observe` combines them: values of one key are ORed, keys are ANDed. A
 * loss record matches every filter (a reader must always learn what it missed). */
struct flow_filter;

struct flow_filter *flow_filter_new(void);
void flow_filter_free(struct flow_filter *f);
/* Adds one value of one key (the option's name without its dashes):
 *   verdict     FORWARDED, DROPPED, AUDIT (or ALLOWED, DENIED, AUDITED)
 *   namespace   NS: either end in it
 *   pod, from-pod, to-pod   [NS/]NAME-PREFIX (NS "default" when absent): either end, the
 *               source, the destination
 *   ip          an address or a CIDR, either end
 *   port        a port of either end
 *   protocol    tcp, udp, sctp, icmp (both), icmpv4, icmpv6
 *   policy      NS/NAME, KIND/NAME (CNP, ANP, BANP) or a cluster-scoped NAME: in any list
 *   since       a duration back from now (30s, 5m, 2h, 1d) or an RFC 3339 time
 * 0, or -EINVAL with the reason in err. */
int flow_filter_add(struct flow_filter *f, const char *key, const char *value, char *err,
		    size_t errlen);
/* The filter as {"KEY": ["VALUE", ...], ...} (since as an absolute time), and back. */
json_t *flow_filter_json(const struct flow_filter *f);
int flow_filter_from_json(const json_t *j, struct flow_filter **out, char *err, size_t errlen);
bool flow_filter_match(const struct flow_filter *f, const struct flow_rec *r);

#endif
