/* netstore_etcd_keys.c — the etcd store's key layout and what the backend (netstore_etcd.c)
 * and the host's agent (agent.c) share: see netstore_etcd.h. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicio.h"
#include "netstore.h"
#include "netstore_etcd.h"
#include "vec.h"
#include "xalloc.h"

const struct etcd_kv *ek_kv_find(const struct etcd_resp *r, const char *key)
{
	for (size_t i = 0; i < r->n_kvs; i++)
		if (!strcmp(r->kvs[i].key, key))
			return &r->kvs[i];
	return NULL;
}

char *ek_key(const char *prefix, const char *fmt, ...)
{
	char *rest, *key;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&rest, fmt, ap) < 0)
		abort();
	va_end(ap);
	key = xasprintf("%s%s", prefix, rest);
	free(rest);
	return key;
}

static void agent_path(const char *state_dir, char *buf, size_t n)
{
	snprintf(buf, n, "%s/agent.json", state_dir);
}

int ek_agent_read(const char *state_dir, struct ek_agent *out)
{
	char path[4096];
	json_t *j;
	const char *s;

	agent_path(state_dir, path, sizeof(path));
	if (!(j = json_load_file(path, 0, NULL)))
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	snprintf(out->node, sizeof(out->node), "%s", json_string_value(json_object_get(j, "node")) ?: "");
	snprintf(out->host_addr, sizeof(out->host_addr), "%s",
		 json_string_value(json_object_get(j, "host_addr")) ?: "");
	snprintf(out->store, sizeof(out->store), "%s", json_string_value(json_object_get(j, "store")) ?: "");
	snprintf(out->prefix, sizeof(out->prefix), "%s",
		 json_string_value(json_object_get(j, "prefix")) ?: "");
	if ((s = json_string_value(json_object_get(j, "lease"))))
		out->lease = strtoll(s, NULL, 10);
	json_decref(j);
	return out->node[0] ? 0 : -EBADMSG;
}

int ek_agent_write(const char *state_dir, const struct ek_agent *a, struct ns_error *err)
{
	char path[4096], lease[32];
	json_t *j;
	int rc;

	agent_path(state_dir, path, sizeof(path));
	snprintf(lease, sizeof(lease), "%lld", (long long)a->lease);
	j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "node", a->node, "host_addr", a->host_addr, "lease",
		      lease, "store", a->store, "prefix", a->prefix, "pid", (int)getpid());
	rc = ns_json_write(path, j, false, err);
	json_decref(j);
	return rc;
}

char *ek_ipam_value(const char *id, const char *node, const char *created)
{
	json_t *j = json_pack("{s:s,s:s,s:s}", "owner", id, "node", node, "created", created);
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(j);
	if (!s)
		abort();
	return s;
}

void ek_release_of(const struct ns_endpoint *ep, struct ek_release *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->network, sizeof(r->network), "%s", ep->network);
	snprintf(r->id, sizeof(r->id), "%s", ep->id);
	snprintf(r->node, sizeof(r->node), "%s", ep->node);
	snprintf(r->created, sizeof(r->created), "%s", ep->created);
	for (size_t i = 0; i < ep->n_addrs; i++)
		ns_ip_format(&ep->addrs[i].ip, r->addrs[r->n_addrs++]);
}

json_t *ek_release_read(const char *prefix, const struct ek_release *r)
{
	json_t *ops = json_array();
	char *k = ek_key(prefix, "endpoints/%s/%s", r->network, r->id);

	json_array_append_new(ops, etcd_op_range(k, false));
	free(k);
	for (size_t i = 0; i < r->n_addrs; i++) {
		k = ek_key(prefix, "ipam/%s/%s", r->network, r->addrs[i]);
		json_array_append_new(ops, etcd_op_range(k, false));
		free(k);
	}
	return etcd_txn(json_array(), ops, NULL);
}

/* Does kv (an endpoint record or an address key) still name r's endpoint? */
static bool names_it(const struct etcd_kv *kv, const struct ek_release *r, bool record)
{
	json_t *j = json_loads(kv->value, 0, NULL);
	const char *id = json_string_value(json_object_get(j, record ? "id" : "owner"));
	const char *node = json_string_value(json_object_get(j, "node"));
	const char *created = json_string_value(json_object_get(j, "created"));
	bool yes = id && node && created && !strcmp(id, r->id) && !strcmp(node, r->node) &&
		   !strcmp(created, r->created);

	json_decref(j);
	return yes;
}

json_t *ek_release_txn(const char *prefix, const struct ek_release *r,
		       const struct etcd_resp *read)
{
	json_t *cmps = json_array(), *ops = json_array();
	char *k = ek_key(prefix, "endpoints/%s/%s", r->network, r->id);

	for (size_t i = 0; i < read->n_kvs; i++) {
		const struct etcd_kv *kv = &read->kvs[i];
		if (!names_it(kv, r, !strcmp(kv->key, k)))
			continue;
		json_array_append_new(cmps, etcd_cmp_mod(kv->key, kv->mod_rev));
		json_array_append_new(ops, etcd_op_delete(kv->key, false));
	}
	free(k);
	if (!json_array_size(ops)) {
		json_decref(cmps);
		json_decref(ops);
		return NULL;
	}
	return etcd_txn(cmps, ops, NULL);
}

static void pending_path(const char *state_dir, const char *net, const char *id, char *buf,
			 size_t n)
{
	snprintf(buf, n, "%s/pending/%s/%s.json", state_dir, net, id);
}

int ek_pending_add(const char *state_dir, const struct ek_release *r, struct ns_error *err)
{
	char path[4096 + 256];
	json_t *addrs = json_array(), *j;
	int rc;

	for (size_t i = 0; i < r->n_addrs; i++)
		json_array_append_new(addrs, json_string(r->addrs[i]));
	j = json_pack("{s:s,s:s,s:s,s:s,s:o}", "network", r->network, "id", r->id, "node", r->node,
		      "created", r->created, "addresses", addrs);
	pending_path(state_dir, r->network, r->id, path, sizeof(path));
	/* durable: a release lost here would keep the addresses taken until a gc */
	rc = ns_json_write(path, j, true, err);
	json_decref(j);
	return rc;
}

static void pending_read(const char *path, struct ek_release **out, size_t *n, size_t *cap)
{
	json_t *j = json_load_file(path, 0, NULL), *v;
	struct ek_release *r;
	size_t i;

	if (!j)
		return;
	r = &VEC_PUSH(*out, *n, *cap);
	memset(r, 0, sizeof(*r));
	snprintf(r->network, sizeof(r->network), "%s", json_string_value(json_object_get(j, "network")) ?: "");
	snprintf(r->id, sizeof(r->id), "%s", json_string_value(json_object_get(j, "id")) ?: "");
	snprintf(r->node, sizeof(r->node), "%s", json_string_value(json_object_get(j, "node")) ?: "");
	snprintf(r->created, sizeof(r->created), "%s", json_string_value(json_object_get(j, "created")) ?: "");
	json_array_foreach(json_object_get(j, "addresses"), i, v)
		if (r->n_addrs < NS_MAX_SUBNETS && json_is_string(v))
			snprintf(r->addrs[r->n_addrs++], sizeof(r->addrs[0]), "%s", json_string_value(v));
	json_decref(j);
}

int ek_pending_list(const char *state_dir, struct ek_release **out, size_t *n)
{
	char dir[4096], path[8192];
	struct dirent *de, *fe;
	size_t cap = 0;
	DIR *d, *f;

	*out = NULL;
	*n = 0;
	snprintf(dir, sizeof(dir), "%s/pending", state_dir);
	if (!(d = opendir(dir)))
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!(f = opendir(path)))
			continue;
		while ((fe = readdir(f))) {
			if (fe->d_name[0] == '.' || !strstr(fe->d_name, ".json"))
				continue;
			snprintf(path, sizeof(path), "%s/%s/%s", dir, de->d_name, fe->d_name);
			pending_read(path, out, n, &cap);
		}
		closedir(f);
	}
	closedir(d);
	return 0;
}

void ek_pending_done(const char *state_dir, const struct ek_release *r)
{
	char path[4096 + 256];

	pending_path(state_dir, r->network, r->id, path, sizeof(path));
	atomic_unlink(path);
}

