/* cni.h — what netpol-cni does for each CNI command.
 *
 * Chained mode (after bridge/ptp/macvlan + IPAM): the container's addresses and host-side
 * interface come from prevResult; ADD records the attachment (STATE/endpoints/NAME/ID.json,
 * the record `netpol net attach --pod` writes) and returns prevResult. Main mode ("network":
 * an existing netsetup network, or "driver" with its keys inline): netsetup attaches the
 * container and ADD returns a full result. Either way ADD returns only once the pod's policy
 * is in the kernel: policyd commits it (control socket, sync with wait), or, when no policyd
 * listens, the plugin applies the policy directory itself under the state directory's writer
 * lock; if neither completes within the configured timeout ADD fails and undoes its work. */
#ifndef NETPOL_ENFORCER_CNI_H
#define NETPOL_ENFORCER_CNI_H

#include <jansson.h>

#include "cni_spec.h"

/* Runs env->cmd with configuration c. On success *result is the JSON to print (NULL: print
 * nothing, as for DEL, STATUS and GC) and 0 is returned; otherwise -1 and e is filled. */
int cni_cmd_run(const struct cni_env *env, struct cni_conf *c, json_t **result,
		struct cni_err *e);

#endif
