/* netstore.c — see netstore.h: opening the store the user chose. */
#include <errno.h>

#include "netstore.h"

/* Weak: a program that never opens an etcd store (netpol-cni) leaves the backend, libcurl and
 * its ~30 libraries out (they cost every exec ~20 ms of loading); one that may links it in
 * (the Makefile's ETCD_PROGS). */
extern int ns_store_etcd_open(const char *state_dir, const struct ns_store_conf *conf,
			      bool readonly, struct ns_store **out, struct ns_error *err)
	__attribute__((weak));

int ns_store_open(const char *state_dir, const struct ns_store_conf *conf, bool readonly,
		  struct ns_store **out, struct ns_error *err)
{
	if (conf && conf->url && *conf->url) {
		if (!ns_store_etcd_open)
			return ns_error_set(err, -EOPNOTSUPP,
					    "%s: this program is built without the etcd store",
					    conf->url);
		return ns_store_etcd_open(state_dir, conf, readonly, out, err);
	}
	return ns_store_dir_open(state_dir, readonly, out, err);
}

void ns_store_free(struct ns_store *st)
{
	if (st)
		st->ops->free(st);
}

bool ns_store_unavailable(int rc)
{
	return rc == -EHOSTUNREACH || rc == -ETIMEDOUT;
}
