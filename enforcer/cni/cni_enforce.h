/* cni_enforce.h — making the recorded endpoints effective, for netpol-cni: through policyd's
 * control socket when it listens, else through the apply pipeline in this process under the
 * state directory's writer lock; and reading the kernel back for CHECK. */
#ifndef NETPOL_ENFORCER_CNI_ENFORCE_H
#define NETPOL_ENFORCER_CNI_ENFORCE_H

#include <stdbool.h>

#include "cni_spec.h"

enum cni_path { CNI_PATH_POLICYD, CNI_PATH_SELF };

/* Returns once the kernel holds the policy of every record now in the state directory, or
 * fails: code 11 when it could not be done within c->timeout_ms (policyd silent, the lock held
 * by another writer), 100 when the policy directory has errors, 101 when the kernel refused.
 * *how says which path did it. */
int cni_enforce_sync(const struct cni_conf *c, enum cni_path *how, struct cni_err *e);

/* CHECK: the dispatch-map elements the policy gives pod ns/name are all in the kernel (a pod
 * that no policy isolates has none). Code 103 naming the first missing element. */
int cni_enforce_check_pod(const struct cni_conf *c, const char *ns, const char *name,
			  struct cni_err *e);

/* Whether policyd answers a status request within timeout_ms. */
bool cni_enforce_policyd_alive(const struct cni_conf *c, int timeout_ms);

#endif
