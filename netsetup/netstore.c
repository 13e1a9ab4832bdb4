/* netstore.c — see netstore.h: opening the store the user chose. */
#include <errno.h>

#include "netstore.h"

int ns_store_open(const char *state_dir, const struct ns_store_conf *conf, bool readonly,
		  struct ns_store **out, struct ns_error *err)
{
	if (conf && conf->url && *conf->url)
		return ns_store_etcd_open(state_dir, conf, readonly, out, err);
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
