/* cni_enforce.c — see cni_enforce.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "clock.h"
#include "cni_enforce.h"
#include "ctl.h"
#include "endpoints.h"
#include "nft.h"

static void sock_path(const struct cni_conf *c, char *buf, size_t size)
{
	if (c->policyd_socket)
		snprintf(buf, size, "%s", c->policyd_socket);
	else
		ctl_sock_path(c->state_dir, buf, size);
}

/* The writer lock, waited for until the deadline (flock itself cannot time out): the fd, or
 * -ETIMEDOUT / -errno. */
static int lock_until(const char *state_dir, double deadline)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/ruleset.lock", state_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			int rc = -errno;
			close(fd);
			return rc;
		}
		if (clock_now_ms() >= deadline) {
			close(fd);
			return -ETIMEDOUT;
		}
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

/* The policy directory and every endpoint record, as one inventory (*out), or a CNI error. */
static int inventory_load(const struct cni_conf *c, struct np_inventory **out, struct cni_err *e)
{
	struct np_diags d;
	np_diags_init(&d);
	struct np_inventory *inv = np_inventory_new();
	int rc = np_inventory_load_dir(inv, c->policy_dir, &d);
	if (rc < 0 || d.errors) {
		char first[768] = "";
		np_diags_locate(&d);
		np_diags_sort(&d);
		for (size_t i = 0; i < d.n; i++)
			if (d.v[i].sev == NP_SEV_ERROR) {
				np_diag_format(&d.v[i], first, sizeof(first));
				break;
			}
		cni_fail(e, CNI_ERR_POLICY, "the policy directory has errors", "%s: %zu error%s%s%s",
			 c->policy_dir, d.errors, d.errors == 1 ? "" : "s", first[0] ? "; first: " : "",
			 first[0] ? first : strerror(rc < 0 ? -rc : EINVAL));
		np_diags_free(&d);
		np_inventory_free(inv);
		return -1;
	}
	np_diags_free(&d);
	char err[512];
	if (endpoints_merge(inv, c->state_dir, NULL, err, sizeof(err)) < 0) {
		np_inventory_free(inv);
		return cni_fail(e, CNI_ERR_STATE, "cannot read the endpoint records", "%s", err);
	}
	*out = inv;
	return 0;
}

static struct ap_opts apply_opts(const struct cni_conf *c)
{
	/* state_dir stays NULL: the caller already holds the lock (taken with a deadline) */
	return (struct ap_opts){ .ro = { .node = c->node },
				 .table_flags = NL_TABLE_F_OWNER | NL_TABLE_F_PERSIST };
}

/* A macvlan pod's own table could not be programmed: the first such pod, and why. */
static int pod_failed(const struct ap_report *rep, struct cni_err *e)
{
	const struct ap_target_report *t = &rep->targets[1];
	while (t < rep->targets + rep->n_targets - 1 && t->result >= 0)
		t++;
	return cni_fail(e, CNI_ERR_ENFORCE, "policy not enforced",
			"a macvlan pod's own table could not be programmed: pod %s (netns %s): %s",
			t->pod, t->netns, t->errors.n ? t->errors.v[0].msg : strerror(-t->result));
}

/* No policyd: the apply pipeline here, under the writer lock. */
static int apply_self(const struct cni_conf *c, double deadline, struct cni_err *e)
{
	int fd = lock_until(c->state_dir, deadline);
	if (fd == -ETIMEDOUT)
		return cni_fail(e, CNI_ERR_TRY_AGAIN, "policy not enforced in time",
				"another writer held %s/ruleset.lock for the whole timeout (%d ms)",
				c->state_dir, c->timeout_ms);
	if (fd < 0)
		return cni_fail(e, CNI_ERR_STATE, "cannot lock the state directory",
				"%s/ruleset.lock: %s", c->state_dir, strerror(-fd));
	struct np_inventory *inv = NULL;
	int rc = inventory_load(c, &inv, e);
	if (rc < 0)
		goto unlock;
	struct ap_opts ao = apply_opts(c);
	struct ap_ctx *ctx = NULL;
	int r = ap_ctx_new(&ao, &ctx);
	if (r < 0) {
		np_inventory_free(inv);
		rc = cni_fail(e, CNI_ERR_ENFORCE, "policy not enforced", "apply context: %s",
			      strerror(-r));
		goto unlock;
	}
	struct ap_report rep;
	r = ap_apply(ctx, inv, 0, &rep);
	const struct np_diags *errors = &rep.targets[0].errors;
	if (r < 0)
		rc = cni_fail(e, r == -EPERM ? CNI_ERR_TRY_AGAIN : CNI_ERR_ENFORCE,
			      "policy not enforced", "%s%s",
			      r == -EPERM ? "another process owns netpol's tables (policyd not "
					    "answering its socket?): "
					  : "",
			      errors->n ? errors->v[0].msg : strerror(-r));
	else if (rep.failed) /* macvlan pods: their table lives in their own netns */
		rc = pod_failed(&rep, e);
	ap_report_free(&rep);
	ap_ctx_free(ctx);
unlock:
	close(fd);
	return rc;
}

int cni_enforce_sync(const struct cni_conf *c, enum cni_path *how, struct cni_err *e)
{
	double deadline = clock_now_ms() + c->timeout_ms;
	char sock[4096], *reply = NULL;
	sock_path(c, sock, sizeof(sock));
	int r = ctl_request(sock, "{\"cmd\":\"sync\",\"wait\":true}", c->timeout_ms, &reply);
	if (r == 0) {
		*how = CNI_PATH_POLICYD;
		json_t *j = json_loads(reply, 0, NULL);
		int rc = 0;
		if (!json_is_true(json_object_get(j, "ok"))) {
			const char *why = json_string_value(json_object_get(j, "error"));
			rc = cni_fail(e, CNI_ERR_ENFORCE, "policyd did not enforce the policy", "%s",
				      why ? why : reply);
		}
		json_decref(j);
		free(reply);
		return rc;
	}
	if (r == -ETIMEDOUT)
		return cni_fail(e, CNI_ERR_TRY_AGAIN, "policy not enforced in time",
				"policyd (%s) did not confirm a commit within %d ms", sock,
				c->timeout_ms);
	if (r != -ENOENT && r != -ECONNREFUSED)
		return cni_fail(e, CNI_ERR_TRY_AGAIN, "policy not enforced",
				"policyd socket %s: %s", sock, strerror(-r));
	if (c->require_policyd)
		return cni_fail(e, CNI_ERR_TRY_AGAIN, "policy not enforced",
				"policyd is not running (%s: %s) and the configuration requires it",
				sock, strerror(-r));
	*how = CNI_PATH_SELF;
	return apply_self(c, deadline, e);
}

bool cni_enforce_policyd_alive(const struct cni_conf *c, int timeout_ms)
{
	char sock[4096], *reply = NULL;
	sock_path(c, sock, sizeof(sock));
	int r = ctl_request(sock, "{\"cmd\":\"status\"}", timeout_ms, &reply);
	free(reply);
	return r == 0;
}

static bool has_elem(const struct nl_state *have, const char *table, const struct nl_set *ws,
		     const struct nl_elem *we)
{
	for (size_t t = 0; have && t < have->n_tables; t++) {
		const struct nl_table *ht = &have->tables[t];
		if (strcmp(ht->name, table) || !ht->present)
			continue;
		for (size_t s = 0; s < ht->n_sets; s++) {
			const struct nl_set *hs = &ht->sets[s];
			if (strcmp(hs->name, ws->name))
				continue;
			for (size_t k = 0; k < hs->n_elems; k++)
				if (!memcmp(hs->elems[k].lo, we->lo, sizeof(we->lo)) &&
				    hs->elems[k].chain && !strcmp(hs->elems[k].chain, we->chain))
					return true;
		}
	}
	return false;
}

int cni_enforce_check_pod(const struct cni_conf *c, const char *ns, const char *name,
			  struct cni_err *e)
{
	struct np_inventory *inv = NULL;
	if (inventory_load(c, &inv, e) < 0)
		return -1;
	struct ap_opts ao = apply_opts(c);
	struct rs_ruleset *rs = NULL;
	struct nl_state *want = NULL, *have = NULL;
	struct nft_sock *s = NULL;
	char chain[2][512];
	int rc = 0;
	snprintf(chain[0], sizeof(chain[0]), "ing-%s/%s", ns, name);
	snprintf(chain[1], sizeof(chain[1]), "egr-%s/%s", ns, name);
	int r = ruleset_build(inv, &ao.ro, &rs);
	if (r == 0)
		r = nl_state_from_ruleset(rs, &want);
	if (r == 0)
		r = nft_sock_open(&s);
	if (r == 0)
		r = nft_read_state(s, want, &have);
	if (r < 0) {
		rc = cni_fail(e, CNI_ERR_CHECK, "cannot read the ruleset back", "%s", strerror(-r));
		goto out;
	}
	for (size_t t = 0; rc == 0 && t < want->n_tables; t++)
		for (size_t k = 0; rc == 0 && k < want->tables[t].n_sets; k++) {
			const struct nl_set *ws = &want->tables[t].sets[k];
			for (size_t i = 0; rc == 0 && i < ws->n_elems; i++) {
				const struct nl_elem *we = &ws->elems[i];
				if (!we->chain || (strcmp(we->chain, chain[0]) && strcmp(we->chain, chain[1])))
					continue;
				if (!has_elem(have, want->tables[t].name, ws, we)) {
					char buf[256];
					rc = cni_fail(e, CNI_ERR_CHECK, "pod policy missing from the kernel",
						      "map %s lacks %s (pod %s/%s)", ws->name,
						      nl_elem_str(ws, we, buf, sizeof(buf)), ns, name);
				}
			}
		}
out:
	nl_state_free(have);
	nl_state_free(want);
	nft_sock_close(s);
	ruleset_free(rs);
	np_inventory_free(inv);
	return rc;
}
