/* pd_flows.h — policyd's flows: the collector (flowcol.h) on the daemon's loop (the NFLOG
 * socket, the connection index's listener), the ring of the last records (flowring.h), the
 * control socket's `flows` request streaming from it, the rotated flow log, and the flow
 * metrics. Internal to policyd (pd.c and pd_http.c call it). */
#ifndef NETPOL_ENFORCER_PD_FLOWS_H
#define NETPOL_ENFORCER_PD_FLOWS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "ctlsrv.h"
#include "flowring.h"
#include "nft.h"

struct pd;

/* Starts collecting, unless --flows none: binds the NFLOG group (a taken group is said, and
 * retried every 5 s), listens to the connection index, turns conntrack accounting on in this
 * netns, opens the flow log. Logs what it does; never fails the daemon. */
void pd_flows_start(struct pd *d);
/* After each commit: records name pods and policies from the new model. */
void pd_flows_model(struct pd *d);
/* The control socket's {"cmd":"flows", ...} (ctl.h). */
void pd_flows_request(struct pd *d, struct ctlsrv_conn *c, json_t *req);
/* What status says of flows (a new object; NULL when collection is off). */
json_t *pd_flows_status(struct pd *d);
/* The flow metrics, from the collector and from the drop points' counters in c. */
void pd_flows_metrics(struct pd *d, FILE *f, const struct nft_counters *c);
void pd_flows_free(struct pd *d);
/* The ring, for the HTTP API (pd_api.c); *model_seq: the first record made under the model of
 * the last commit (older ones were judged by an earlier ruleset). NULL when collection is off. */
const struct flow_ring *pd_flows_ring(const struct pd *d, uint64_t *model_seq);

#endif
