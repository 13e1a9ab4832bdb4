/* reach.h — the evaluator's answers as data, one piece for `netpol reach` and `netpol explain`
 * and for policyd's HTTP API (/api/v1/reach, /api/v1/explain): the pods of a truth table, its
 * cells, and a verdict with its chain (tier, policy, rule) as JSON. */
#ifndef NETPOL_ENFORCER_REACH_H
#define NETPOL_ENFORCER_REACH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "eval.h"
#include "model.h"

/* A cell of the truth table: 0 dropped, 1 passes, REACH_AUDIT would drop (audit) but passes. */
#define REACH_AUDIT 2

struct reach_pod {
	const struct np_pod *pod;
	struct np_endpoint ep;
	char label[256]; /* "NS/POD" */
};

/* The pods of a truth table: not host-network, with an address of family, in namespace ns
 * (NULL: every namespace), in the inventory's (ns, name) order. Free with free(). */
struct reach_pod *reach_pods(const struct np_inventory *inv, int family, const char *ns,
			     size_t *n);
/* m[i * n + j]: whether pods[i] may open proto/port to pods[j] (0, 1, REACH_AUDIT). Free with
 * free(). */
unsigned char *reach_matrix(const struct np_eval *ev, const struct reach_pod *pods, size_t n,
			    enum np_proto proto, uint16_t port);
/* {"probe": {protocol, port, family}, "pods": [...], "matrix": [[...], ...]}: what
 * `netpol reach --json` prints. New reference. */
json_t *reach_json(const struct reach_pod *pods, size_t n, const unsigned char *m,
		   enum np_proto proto, uint16_t port, int family);

/* A protocol by name (TCP, UDP, SCTP, any case; NULL: TCP): 0 or -EINVAL. */
int reach_parse_proto(const char *s, enum np_proto *out);
/* A port, 1 to 65535: 0 or -EINVAL. */
int reach_parse_port(const char *s, uint16_t *out);
/* "PORT" or "PORT/PROTO" (TCP when not given): 0, -EINVAL (the port), -EPROTONOSUPPORT (the
 * protocol). */
int reach_parse_port_proto(const char *s, uint16_t *port, enum np_proto *proto);

/* "NS/POD", or the address of a bare endpoint. */
const char *reach_endpoint_name(const struct np_endpoint *ep, char *buf, size_t size);
/* ALLOWED, DROPPED, or AUDIT: it passes only because a drop is audited. */
const char *reach_verdict_word(const struct np_verdict *vd);
/* The verdict and why on each side: what `netpol explain --json` prints. New reference. */
json_t *reach_explain_json(const struct np_flow *f, const struct np_verdict *vd, int family);

#endif
