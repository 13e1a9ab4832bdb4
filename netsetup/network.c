/* network.c — network definitions and endpoint records: create, remove, attach, detach,
 * inspect. Where they live is the store's business (netstore.h), interfaces the drivers'
 * (driver.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "intent.h"
#include "masq.h"
#include "netstore.h"
#include "network.h"
#include "xalloc.h"

/* ---- context ------------------------------------------------------------------------------ */

struct ns_ctx *ns_ctx_open(const char *state_dir, const struct ns_store_conf *conf,
			   bool readonly, struct ns_error *err)
{
	struct ns_ctx *ctx = xcalloc(1, sizeof(*ctx));
	bool etcd = conf && conf->url && *conf->url;

	if (!state_dir || !*state_dir)
		state_dir = etcd ? NS_DEFAULT_RUN_DIR : NS_DEFAULT_STATE_DIR;
	ctx->state_dir = xstrdup(state_dir);
	if (ns_store_open(ctx->state_dir, conf, readonly, &ctx->store, err) < 0)
		goto fail;
	if (!readonly && !(ctx->nl = ns_nl_new(-1, err)))
		goto fail;
	return ctx;
fail:
	ns_ctx_free(ctx);
	return NULL;
}

struct ns_ctx *ns_ctx_new(const char *state_dir, struct ns_error *err)
{
	return ns_ctx_open(state_dir, NULL, false, err);
}

struct ns_ctx *ns_ctx_new_readonly(const char *state_dir)
{
	/* a directory opened read-only cannot fail: nothing is made */
	return ns_ctx_open(state_dir, NULL, true, NULL);
}

void ns_ctx_free(struct ns_ctx *ctx)
{
	if (!ctx)
		return;
	ns_store_free(ctx->store);
	ns_nl_free(ctx->nl);
	free(ctx->state_dir);
	free(ctx);
}

/* Names and ids become file names and keys: the CNI rule for both (alphanumeric first, then
 * [A-Za-z0-9_.-]) keeps them safe there. */
static bool valid_name(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
				   (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", s[i]))
			return false;
	return true;
}

static void now_rfc3339(char buf[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

uint32_t ns_name_hash(const char *a, const char *b)
{
	uint32_t h = 2166136261u;

	for (const char *p = a; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const char *p = b; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h;
}

/* ---- JSON ------------------------------------------------------------------------------- */

static json_t *ip_json(const struct ns_ip *ip)
{
	char buf[NS_IP_STRLEN];

	return ip->family ? json_string(ns_ip_format(ip, buf)) : json_null();
}

json_t *ns_network_to_json(const struct ns_network *net)
{
	json_t *j = json_object(), *subnets = json_array(), *peers = json_array();
	char buf[NS_PREFIX_STRLEN];

	for (size_t i = 0; i < net->n_pools; i++) {
		const struct ns_ipam_pool *p = &net->pools[i];
		json_array_append_new(subnets,
				      json_pack("{s:s,s:o,s:s}", "subnet",
						ns_prefix_format(&p->subnet, buf), "gateway",
						ip_json(&p->gateway), "ip_range",
						ns_prefix_format(&p->range, buf)));
	}
	for (size_t i = 0; i < net->n_peers; i++)
		json_array_append_new(peers, ip_json(&net->peers[i]));
	json_object_set_new(j, "name", json_string(net->name));
	json_object_set_new(j, "id", json_string(net->id));
	json_object_set_new(j, "created", json_string(net->created));
	json_object_set_new(j, "driver", json_string(ns_driver_name(net->driver)));
	json_object_set_new(j, "subnets", subnets);
	json_object_set_new(j, "bridge", json_string(net->bridge));
	json_object_set_new(j, "parent", json_string(net->parent));
	json_object_set_new(j, "mode", json_string(ns_macvlan_mode_name(net->mode)));
	json_object_set_new(j, "vni", json_integer(net->vni));
	json_object_set_new(j, "mtu", json_integer(net->mtu));
	json_object_set_new(j, "masquerade", json_boolean(net->masquerade));
	json_object_set_new(j, "hairpin", json_boolean(net->hairpin));
	json_object_set_new(j, "peers", peers);
	json_object_set_new(j, "nodes_dir", json_string(net->nodes_dir));
	return j;
}

/* Copies the string j holds at key (absent or not a string: "") into dst; false when it does
 * not fit, which a reader must refuse: a name cut short would be another name (another
 * interface, netns or pod). */
static bool copy_str(char *dst, size_t n, json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	return snprintf(dst, n, "%s", s ? s : "") < (int)n;
}

/* Copies each (key, field) of a record; the first key whose value does not fit, or NULL. */
struct str_field {
	const char *key;
	char *dst;
	size_t n;
};
#define STR_FIELD(key, arr) { key, arr, sizeof(arr) }

static const char *copy_strs(json_t *j, const struct str_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!copy_str(f[i].dst, f[i].n, j, f[i].key))
			return f[i].key;
	return NULL;
}

int ns_network_from_json(json_t *j, struct ns_network *net, struct ns_error *err)
{
	json_t *subnets = json_object_get(j, "subnets"), *peers = json_object_get(j, "peers"), *v;
	size_t i;

	const struct str_field strs[] = {
		STR_FIELD("name", net->name),		STR_FIELD("id", net->id),
		STR_FIELD("created", net->created),	STR_FIELD("bridge", net->bridge),
		STR_FIELD("parent", net->parent),	STR_FIELD("nodes_dir", net->nodes_dir),
	};
	const char *bad;

	memset(net, 0, sizeof(*net));
	if ((bad = copy_strs(j, strs, sizeof(strs) / sizeof(strs[0]))))
		return ns_error_set(err, -EBADMSG, "network %s: \"%s\" is too long", net->name, bad);
	if (ns_driver_parse(json_string_value(json_object_get(j, "driver")), &net->driver) < 0 ||
	    ns_macvlan_mode_parse(json_string_value(json_object_get(j, "mode")), &net->mode) < 0)
		return ns_error_set(err, -EBADMSG, "network %s: bad driver or mode", net->name);
	net->vni = (uint32_t)json_integer_value(json_object_get(j, "vni"));
	net->mtu = (unsigned int)json_integer_value(json_object_get(j, "mtu"));
	net->masquerade = json_is_true(json_object_get(j, "masquerade"));
	net->hairpin = json_is_true(json_object_get(j, "hairpin"));
	json_array_foreach(subnets, i, v) {
		struct ns_ipam_pool *p = &net->pools[net->n_pools];
		const char *gw = json_string_value(json_object_get(v, "gateway"));
		if (net->n_pools == NS_MAX_SUBNETS ||
		    ns_prefix_parse(json_string_value(json_object_get(v, "subnet")), &p->subnet) < 0 ||
		    ns_prefix_parse(json_string_value(json_object_get(v, "ip_range")), &p->range) < 0 ||
		    (gw && ns_ip_parse(gw, &p->gateway) < 0))
			return ns_error_set(err, -EBADMSG, "network %s: bad subnet record", net->name);
		net->n_pools++;
	}
	json_array_foreach(peers, i, v) {
		if (net->n_peers == NS_MAX_PEERS ||
		    ns_ip_parse(json_string_value(v), &net->peers[net->n_peers]) < 0)
			return ns_error_set(err, -EBADMSG, "network %s: bad peer record", net->name);
		net->n_peers++;
	}
	return 0;
}

struct ns_endpoint *ns_endpoint_new(void)
{
	return xcalloc(1, sizeof(struct ns_endpoint));
}

void ns_endpoint_free(struct ns_endpoint *ep)
{
	if (!ep)
		return;
	json_decref(ep->labels);
	free(ep);
}

json_t *ns_endpoint_to_json(const struct ns_endpoint *ep)
{
	json_t *j = json_object(), *addrs = json_array(), *gws = json_array();
	char buf[NS_PREFIX_STRLEN], mac[18];
	static const uint8_t zero[6];

	for (size_t i = 0; i < ep->n_addrs; i++) {
		json_array_append_new(addrs, json_string(ns_prefix_format(&ep->addrs[i], buf)));
		if (ep->gateways[i].family)
			json_array_append_new(gws, ip_json(&ep->gateways[i]));
	}
	json_object_set_new(j, "network", json_string(ep->network));
	json_object_set_new(j, "id", json_string(ep->id));
	json_object_set_new(j, "driver", json_string(ep->driver));
	json_object_set_new(j, "netns", json_string(ep->netns));
	json_object_set_new(j, "ifname", json_string(ep->ifname));
	json_object_set_new(j, "host_ifname", json_string(ep->host_ifname));
	json_object_set_new(j, "addresses", addrs);
	json_object_set_new(j, "gateways", gws);
	json_object_set_new(j, "mac", memcmp(ep->mac, zero, 6) ? json_string(ns_mac_format(ep->mac, mac))
							       : json_null());
	json_object_set_new(j, "host", ip_json(&ep->host));
	if (ep->pod_name[0])
		json_object_set_new(j, "pod", json_pack("{s:s,s:s}", "namespace", ep->pod_ns, "name",
							ep->pod_name));
	json_object_set_new(j, "labels", ep->labels ? json_incref(ep->labels) : json_object());
	json_object_set_new(j, "created", json_string(ep->created));
	if (ep->node[0])
		json_object_set_new(j, "node", json_string(ep->node));
	if (ep->container_id[0])
		json_object_set_new(j, "cni", json_pack("{s:s,s:s}", "network", ep->cni_network,
							"containerID", ep->container_id));
	return j;
}

int ns_endpoint_from_json(json_t *j, struct ns_endpoint *ep, struct ns_error *err)
{
	json_t *addrs = json_object_get(j, "addresses"), *gws = json_object_get(j, "gateways");
	json_t *pod = json_object_get(j, "pod"), *cni = json_object_get(j, "cni"), *v;
	const struct str_field strs[] = {
		STR_FIELD("network", ep->network), STR_FIELD("id", ep->id),
		STR_FIELD("driver", ep->driver),   STR_FIELD("netns", ep->netns),
		STR_FIELD("ifname", ep->ifname),   STR_FIELD("host_ifname", ep->host_ifname),
		STR_FIELD("created", ep->created), STR_FIELD("node", ep->node),
	};
	const struct str_field pods[] = { STR_FIELD("namespace", ep->pod_ns),
					  STR_FIELD("name", ep->pod_name) };
	const struct str_field cnis[] = { STR_FIELD("network", ep->cni_network),
					  STR_FIELD("containerID", ep->container_id) };
	const char *s, *bad;
	size_t i;

	if ((bad = copy_strs(j, strs, sizeof(strs) / sizeof(strs[0]))) ||
	    (json_is_object(pod) && (bad = copy_strs(pod, pods, 2))) ||
	    (json_is_object(cni) && (bad = copy_strs(cni, cnis, 2))))
		return ns_error_set(err, -EBADMSG, "endpoint %s: \"%s\" is too long", ep->id, bad);
	json_array_foreach(addrs, i, v) {
		if (ep->n_addrs == NS_MAX_SUBNETS ||
		    ns_prefix_parse(json_string_value(v), &ep->addrs[ep->n_addrs]) < 0)
			return ns_error_set(err, -EBADMSG, "endpoint %s: bad address", ep->id);
		ep->n_addrs++;
	}
	/* Gateways are matched to addresses by family. */
	json_array_foreach(gws, i, v) {
		struct ns_ip gw;
		if (ns_ip_parse(json_string_value(v), &gw) < 0)
			continue;
		for (size_t k = 0; k < ep->n_addrs; k++)
			if (ep->addrs[k].ip.family == gw.family)
				ep->gateways[k] = gw;
	}
	if ((s = json_string_value(json_object_get(j, "mac"))))
		ns_mac_parse(s, ep->mac);
	if ((s = json_string_value(json_object_get(j, "host"))))
		ns_ip_parse(s, &ep->host);
	json_decref(ep->labels);
	v = json_object_get(j, "labels");
	ep->labels = json_is_object(v) ? json_incref(v) : json_object();
	return 0;
}

/* ---- definitions ------------------------------------------------------------------------- */

int ns_network_load(struct ns_ctx *ctx, const char *name, struct ns_network *out,
		    struct ns_error *err)
{
	json_t *j;
	int rc;

	if (!valid_name(name, sizeof(out->name) - 1))
		return ns_error_set(err, -EINVAL, "bad network name '%s'", name ? name : "");
	if ((rc = ctx->store->ops->net_get(ctx->store, name, &j, err)) < 0)
		return rc;
	rc = ns_network_from_json(j, out, err);
	json_decref(j);
	return rc;
}

int ns_network_names(struct ns_ctx *ctx, json_t **out, struct ns_error *err)
{
	return ctx->store->ops->net_names(ctx->store, out, err);
}

int ns_endpoint_networks(struct ns_ctx *ctx, json_t **out, struct ns_error *err)
{
	return ctx->store->ops->ep_networks(ctx->store, out, err);
}

int ns_endpoint_save(struct ns_ctx *ctx, const struct ns_endpoint *ep, struct ns_error *err)
{
	if (!valid_name(ep->network, sizeof(ep->network) - 1) || !valid_name(ep->id, sizeof(ep->id) - 1))
		return ns_error_set(err, -EINVAL, "bad network name or endpoint id '%s/%s'",
				    ep->network, ep->id);
	return ctx->store->ops->ep_save(ctx->store, ep, err);
}

int ns_endpoint_get(struct ns_ctx *ctx, const char *network, const char *id,
		    struct ns_endpoint **out, struct ns_error *err)
{
	if (!valid_name(network, 63) || !valid_name(id, 127))
		return ns_error_set(err, -EINVAL, "bad network name or endpoint id");
	return ctx->store->ops->ep_get(ctx->store, network, id, out, err);
}

int ns_endpoint_forget(struct ns_ctx *ctx, const char *network, const char *id,
		       struct ns_error *err)
{
	if (!valid_name(network, 63) || !valid_name(id, 127))
		return ns_error_set(err, -EINVAL, "bad network name or endpoint id");
	return ctx->store->ops->ep_forget(ctx->store, network, id, err);
}

bool ns_name_valid(const char *s, size_t max)
{
	return valid_name(s, max);
}

void ns_endpoints_free(struct ns_endpoint *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		json_decref(v[i].labels);
	free(v);
}

int ns_endpoints_load(struct ns_ctx *ctx, const char *network, struct ns_endpoint **out,
		      size_t *n_out, struct ns_error *err)
{
	return ctx->store->ops->ep_list(ctx->store, network, out, n_out, err);
}

void ns_endpoint_set_addrs(struct ns_endpoint *ep, const struct ns_network *net,
			   const struct ns_ip *got)
{
	for (size_t i = 0; i < net->n_pools; i++) {
		ep->addrs[i].ip = got[i];
		ep->addrs[i].len = net->pools[i].subnet.len;
		ep->gateways[i] = net->pools[i].gateway;
	}
	ep->n_addrs = net->n_pools;
}

static void masq_rules_add(const struct ns_network *net, struct ns_masq_rule *r, size_t *n,
			   size_t max)
{
	for (size_t i = 0; i < net->n_pools && *n < max; i++)
		if (net->pools[i].subnet.ip.family == AF_INET) {
			r[*n].subnet = ns_prefix_network(&net->pools[i].subnet);
			r[*n].bridge = net->bridge;
			(*n)++;
		}
}

/* Rebuilds the nat table from every masquerading network except skip (being removed). */
static int masq_resync(struct ns_ctx *ctx, const struct ns_network *extra, const char *skip,
		       struct ns_error *err)
{
	struct ns_masq_rule rules[256];
	struct ns_network *nets;
	json_t *names, *nm;
	size_t i, n = 0, k = 0;
	int rc;

	if ((rc = ns_network_names(ctx, &names, err)) < 0)
		return rc;
	nets = xcalloc(json_array_size(names) + 1, sizeof(*nets));
	json_array_foreach(names, i, nm) {
		const char *s = json_string_value(nm);
		if ((skip && !strcmp(s, skip)) || (extra && !strcmp(s, extra->name)))
			continue;
		if (ns_network_load(ctx, s, &nets[k], NULL) == 0 && nets[k].masquerade)
			masq_rules_add(&nets[k++], rules, &n, 256);
	}
	if (extra && extra->masquerade)
		masq_rules_add(extra, rules, &n, 256);
	rc = ns_masq_sync(rules, n, err);
	free(nets);
	json_decref(names);
	return rc;
}

static int fill_pools(struct ns_network *net, struct ns_error *err)
{
	char buf[NS_PREFIX_STRLEN];
	bool seen4 = false, seen6 = false;

	for (size_t i = 0; i < net->n_pools; i++) {
		struct ns_ipam_pool *p = &net->pools[i];
		bool *seen = p->subnet.ip.family == AF_INET ? &seen4 : &seen6;
		int max = ns_ip_max_len(p->subnet.ip.family);

		if (*seen)
			return ns_error_set(err, -EINVAL, "only one IPv4 and one IPv6 subnet per network");
		*seen = true;
		if (p->subnet.len > max - 2)
			return ns_error_set(err, -EINVAL, "subnet %s is too small",
					    ns_prefix_format(&p->subnet, buf));
		p->subnet = ns_prefix_network(&p->subnet);
		if (!p->range.ip.family)
			p->range = p->subnet;
		else if (p->range.ip.family != p->subnet.ip.family || p->range.len < p->subnet.len ||
			 !ns_prefix_contains(&p->subnet, &p->range.ip))
			return ns_error_set(err, -EINVAL, "ip range %s is not inside subnet %s",
					    ns_prefix_format(&p->range, buf),
					    ns_prefix_format(&p->subnet, (char[NS_PREFIX_STRLEN]){ 0 }));
		else
			p->range = ns_prefix_network(&p->range);
		if (!p->gateway.family) {
			/* The first host, as docker and the CNI host-local plugin choose. */
			p->gateway = ns_ip_add(&p->subnet.ip, 1);
		} else {
			struct ns_ip last = ns_prefix_last(&p->subnet);
			if (!ns_prefix_contains(&p->subnet, &p->gateway) ||
			    ns_ip_equal(&p->gateway, &p->subnet.ip) ||
			    (p->gateway.family == AF_INET && ns_ip_equal(&p->gateway, &last)))
				return ns_error_set(err, -EINVAL, "gateway %s is not a host address of %s",
						    ns_ip_format(&p->gateway, (char[NS_IP_STRLEN]){ 0 }),
						    ns_prefix_format(&p->subnet, buf));
		}
	}
	return 0;
}

int ns_network_create(struct ns_ctx *ctx, struct ns_network *net, struct ns_error *err)
{
	const struct ns_driver_ops *ops = ns_driver_ops_get(net->driver);
	struct ns_store *st = ctx->store;
	uint8_t rnd[16];
	int rc;

	if (!valid_name(net->name, sizeof(net->name) - 1))
		return ns_error_set(err, -EINVAL,
				    "bad network name '%s' (letters, digits, '_', '.', '-'; at most 63)",
				    net->name);
	if (ops->in_node_netns && net->n_pools)
		return ns_error_set(err, -EINVAL, "a %s network has no subnets", ops->name);
	if (!ops->in_node_netns && !net->n_pools)
		return ns_error_set(err, -EINVAL, "driver %s needs --subnet", ops->name);
	if ((rc = fill_pools(net, err)) < 0 || (rc = ops->check(ctx, net, err)) < 0)
		return rc;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return ns_error_set(err, -EIO, "no random bytes for the network id");
	for (int i = 0; i < 16; i++)
		sprintf(net->id + 2 * i, "%02x", rnd[i]);
	now_rfc3339(net->created);

	if ((rc = st->ops->net_reserve(st, net, err)) < 0)
		return rc;
	if ((rc = ops->setup(ctx, net, true, err)) < 0)
		goto undo_setup;
	if (net->masquerade && (rc = masq_resync(ctx, net, NULL, err)) < 0)
		goto undo_setup;
	if ((rc = st->ops->net_commit(st, net, err)) < 0)
		goto undo_setup;
	return 0;
undo_setup:
	ops->teardown(ctx, net, NULL);
	st->ops->net_unreserve(st, net);
	return rc;
}

int ns_network_remove(struct ns_ctx *ctx, const char *name, bool force, bool local_only,
		      struct ns_error *err)
{
	const struct ns_driver_ops *ops;
	struct ns_network net;
	struct ns_endpoint *eps;
	size_t n, mine = 0;
	bool *local;
	int rc;

	if ((rc = ns_network_load(ctx, name, &net, err)) < 0)
		return rc;
	ops = ns_driver_ops_get(net.driver);
	if ((rc = ns_endpoints_load(ctx, name, &eps, &n, err)) < 0)
		return rc;
	/* Locally, only this host's endpoints count (on a network within one host, all of them). */
	local = xcalloc(n, sizeof(*local));
	for (size_t i = 0; i < n; i++)
		local[i] = true;
	if (local_only && ops->is_local && (rc = ops->is_local(ctx, &net, eps, n, local, err)) < 0)
		goto free_eps;
	for (size_t i = 0; i < n; i++)
		mine += local[i];
	if (mine && !force) {
		rc = ns_error_set(err, -EBUSY,
				  "network %s has %zu endpoint(s) attached; detach them or use --force",
				  name, mine);
		goto free_eps;
	}
	for (size_t i = 0; i < n; i++) {
		if (!local[i])
			continue;
		if ((rc = ns_network_detach(ctx, name, eps[i].id, err)) < 0 && rc != -ENOENT) {
			ns_error_wrap(err, rc, "detach %s", eps[i].id);
			goto free_eps;
		}
	}
	rc = ops->teardown(ctx, &net, err);
	if (rc < 0 || local_only)
		goto free_eps;
	free(local);
	ns_endpoints_free(eps, n);
	if ((rc = ctx->store->ops->net_delete(ctx->store, &net, err)) < 0)
		return rc;
	ns_intent_forget(ctx, name);
	if (net.masquerade)
		return masq_resync(ctx, NULL, name, err);
	return 0;
free_eps:
	free(local);
	ns_endpoints_free(eps, n);
	return rc;
}

int ns_network_sync(struct ns_ctx *ctx, const char *name, struct ns_error *err)
{
	struct ns_network net;
	int rc;

	if ((rc = ns_network_load(ctx, name, &net, err)) < 0)
		return rc;
	if ((rc = ns_driver_ops_get(net.driver)->setup(ctx, &net, true, err)) < 0)
		return rc;
	return net.masquerade ? masq_resync(ctx, &net, NULL, err) : 0;
}

int ns_network_inspect(struct ns_ctx *ctx, const char *name, json_t **out, struct ns_error *err)
{
	const struct ns_driver_ops *ops;
	struct ns_network net;
	struct ns_endpoint *eps;
	json_t *j, *cfg = json_array(), *opts = json_object(), *ctrs = json_object();
	char buf[NS_PREFIX_STRLEN];
	bool v6 = false;
	size_t n;
	int rc;

	if ((rc = ns_network_load(ctx, name, &net, err)) < 0 ||
	    (rc = ns_endpoints_load(ctx, name, &eps, &n, err)) < 0) {
		json_decref(cfg);
		json_decref(opts);
		json_decref(ctrs);
		return rc;
	}
	ops = ns_driver_ops_get(net.driver);
	for (size_t i = 0; i < net.n_pools; i++) {
		const struct ns_ipam_pool *p = &net.pools[i];
		json_t *c = json_pack("{s:s,s:o}", "Subnet", ns_prefix_format(&p->subnet, buf),
				      "Gateway", ip_json(&p->gateway));
		if (memcmp(&p->range, &p->subnet, sizeof(p->range)))
			json_object_set_new(c, "IPRange", json_string(ns_prefix_format(&p->range, buf)));
		json_array_append_new(cfg, c);
		v6 |= p->subnet.ip.family == AF_INET6;
	}
	if (net.bridge[0])
		json_object_set_new(opts, "bridge", json_string(net.bridge));
	if (net.mtu)
		json_object_set_new(opts, "mtu", json_integer(net.mtu));
	json_object_set_new(opts, "masquerade", json_boolean(net.masquerade));
	if (ops->inspect)
		ops->inspect(&net, opts);
	for (size_t i = 0; i < n; i++) {
		const struct ns_endpoint *ep = &eps[i];
		json_t *c = json_object(), *rec = ns_endpoint_to_json(ep);
		json_object_set_new(c, "Name", json_string(ep->id));
		json_object_set_new(c, "Driver", json_string(ep->driver));
		json_object_set_new(c, "Netns", json_string(ep->netns));
		json_object_set_new(c, "Interface", json_string(ep->ifname));
		json_object_set_new(c, "HostInterface", json_string(ep->host_ifname));
		json_object_set(c, "MacAddress", json_object_get(rec, "mac"));
		json_object_set_new(c, "IPv4Address", json_string(""));
		json_object_set_new(c, "IPv6Address", json_string(""));
		for (size_t k = 0; k < ep->n_addrs; k++)
			json_object_set_new(c, ep->addrs[k].ip.family == AF_INET ? "IPv4Address"
										  : "IPv6Address",
					    json_string(ns_prefix_format(&ep->addrs[k], buf)));
		if (ep->host.family)
			json_object_set_new(c, "Host", ip_json(&ep->host));
		if (json_object_get(rec, "pod"))
			json_object_set(c, "Pod", json_object_get(rec, "pod"));
		json_object_set(c, "Labels", json_object_get(rec, "labels"));
		json_object_set_new(c, "Created", json_string(ep->created));
		json_object_set_new(ctrs, ep->id, c);
		json_decref(rec);
	}
	ns_endpoints_free(eps, n);
	j = json_object();
	json_object_set_new(j, "Name", json_string(net.name));
	json_object_set_new(j, "Id", json_string(net.id));
	json_object_set_new(j, "Created", json_string(net.created));
	json_object_set_new(j, "Scope", json_string(ops->is_local ? "global" : "local"));
	json_object_set_new(j, "Driver", json_string(ops->name));
	json_object_set_new(j, "EnableIPv6", json_boolean(v6));
	json_object_set_new(j, "IPAM", json_pack("{s:s,s:o}", "Driver", "netpol", "Config", cfg));
	json_object_set_new(j, "Options", opts);
	json_object_set_new(j, "Containers", ctrs);
	ctx->store->ops->describe(ctx->store, opts = json_object());
	json_object_set_new(j, "Store", opts);
	*out = j;
	return 0;
}

/* ---- attach / detach --------------------------------------------------------------------- */

static int parse_labels(const char *s, json_t **out, struct ns_error *err)
{
	json_t *o = json_object();
	char *copy, *save = NULL, *tok;

	if (!s || !*s) {
		*out = o;
		return 0;
	}
	copy = xstrdup(s);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq || eq == tok) {
			free(copy);
			json_decref(o);
			return ns_error_set(err, -EINVAL, "bad label '%s' (want key=value)", tok);
		}
		*eq = '\0';
		json_object_set_new(o, tok, json_string(eq + 1));
	}
	free(copy);
	*out = o;
	return 0;
}

/* Fills the parts of a new endpoint record that come from the request. */
static int endpoint_init(const struct ns_network *net, const struct ns_attach_req *req,
			 struct ns_endpoint *ep, struct ns_error *err)
{
	const struct ns_driver_ops *ops = ns_driver_ops_get(net->driver);
	const char *ifname = req->ifname ? req->ifname : "eth0";
	const char *base, *slash;
	char pidname[32];
	int rc;

	snprintf(ep->network, sizeof(ep->network), "%s", net->name);
	snprintf(ep->driver, sizeof(ep->driver), "%s", ops->name);
	if (req->netns)
		ns_netns_path(req->netns, ep->netns, sizeof(ep->netns));
	else if (!ops->in_node_netns)
		return ns_error_set(err, -EINVAL, "attach needs --netns");
	base = req->id;
	if (!base && req->netns) {
		unsigned long pid;
		char tail;
		base = strrchr(ep->netns, '/');
		base = base ? base + 1 : ep->netns;
		/* /proc/PID/ns/net would make every id "net": name it after the process instead. */
		if (sscanf(ep->netns, "/proc/%lu/ns/net%c", &pid, &tail) == 1) {
			snprintf(pidname, sizeof(pidname), "pid%lu", pid);
			base = pidname;
		}
	}
	if (!base || !valid_name(base, sizeof(ep->id) - 1))
		return ns_error_set(err, -EINVAL, "bad or missing endpoint id '%s' (use --id)",
				    base ? base : "");
	snprintf(ep->id, sizeof(ep->id), "%.127s", base);
	if (!ops->in_node_netns) {
		if (strlen(ifname) >= NS_IFNAMSIZ || !*ifname || strchr(ifname, '/'))
			return ns_error_set(err, -EINVAL, "bad interface name '%s'", ifname);
		snprintf(ep->ifname, sizeof(ep->ifname), "%.15s", ifname);
	}
	if (req->pod) {
		slash = strchr(req->pod, '/');
		if (!slash || slash == req->pod || !slash[1] ||
		    (size_t)(slash - req->pod) >= sizeof(ep->pod_ns))
			return ns_error_set(err, -EINVAL, "bad --pod '%s' (want NAMESPACE/NAME)", req->pod);
		snprintf(ep->pod_ns, sizeof(ep->pod_ns), "%.*s", (int)(slash - req->pod), req->pod);
		snprintf(ep->pod_name, sizeof(ep->pod_name), "%s", slash + 1);
	}
	if ((rc = parse_labels(req->labels, &ep->labels, err)) < 0)
		return rc;
	if (req->node)
		snprintf(ep->node, sizeof(ep->node), "%s", req->node);
	if (req->container_id) {
		snprintf(ep->cni_network, sizeof(ep->cni_network), "%s", req->cni_network ? req->cni_network : "");
		snprintf(ep->container_id, sizeof(ep->container_id), "%s", req->container_id);
	}
	now_rfc3339(ep->created);
	/* the MAC is ours to choose (locally administered, unicast), so the record is whole
	 * before the interface exists (driver.h, prepare) */
	if (!ops->in_node_netns && getrandom(ep->mac, 6, 0) == 6)
		ep->mac[0] = (uint8_t)((ep->mac[0] & 0xfe) | 0x02);
	return 0;
}

int ns_network_attach(struct ns_ctx *ctx, const char *name, const struct ns_attach_req *req,
		      struct ns_endpoint **out, struct ns_error *err)
{
	const struct ns_driver_ops *ops;
	struct ns_store *st = ctx->store;
	struct ns_network net;
	struct ns_endpoint *ep;
	struct ns_intent *in = NULL;
	int nsfd = -1, rc;

	if ((rc = ns_network_load(ctx, name, &net, err)) < 0)
		return rc;
	ops = ns_driver_ops_get(net.driver);
	if (req->n_ips && !net.n_pools)
		return ns_error_set(err, -EINVAL, "network %s has no subnets; --ip cannot be used", name);
	ep = ns_endpoint_new();
	if ((rc = endpoint_init(&net, req, ep, err)) < 0)
		goto free_ep;
	/* names and MAC before the intent (prepare changes nothing), so that a recovery knows
	 * which interfaces are this attach's */
	if (ops->prepare && (rc = ops->prepare(ctx, &net, ep, err)) < 0)
		goto free_ep;
	ns_intent_recover(ctx, &net, NULL);
	if ((rc = ns_intent_begin(ctx, &net, NS_INTENT_ATTACH, ep, &in, err)) < 0)
		goto free_ep;
	if ((rc = st->ops->ep_reserve(st, name, ep->id, err)) < 0)
		goto end_intent;
	/* the addresses before anything is made here: a store that cannot hand them out (full,
	 * or away) fails the attach with nothing to undo but the reservation */
	if ((rc = st->ops->ep_claim(st, &net, ep, req->ips, req->n_ips, err)) < 0)
		goto abort;
	if (ep->netns[0] && (rc = ns_netns_open(ep->netns, &nsfd, err)) < 0)
		goto abort;
	if ((rc = ops->setup(ctx, &net, false, err)) < 0 ||
	    (rc = ops->attach(ctx, &net, ep, nsfd, err)) < 0)
		goto close_ns;
	if ((rc = st->ops->ep_commit(st, &net, ep, err)) < 0) {
		ops->detach(ctx, &net, ep, NULL);
		goto close_ns;
	}
	if (nsfd >= 0)
		close(nsfd);
	ns_intent_end(in);
	if (out)
		*out = ep;
	else
		ns_endpoint_free(ep);
	return 0;
close_ns:
	if (nsfd >= 0)
		close(nsfd);
abort:
	st->ops->ep_abort(st, &net, ep);
end_intent:
	ns_intent_end(in);
free_ep:
	ns_endpoint_free(ep);
	return rc;
}

int ns_network_detach(struct ns_ctx *ctx, const char *name, const char *id,
		      struct ns_error *err)
{
	struct ns_store *st = ctx->store;
	struct ns_network net;
	struct ns_endpoint *ep = NULL;
	struct ns_intent *in = NULL;
	int rc;

	if ((rc = ns_network_load(ctx, name, &net, err)) < 0)
		return rc;
	if (!valid_name(id, 127))
		return ns_error_set(err, -EINVAL, "bad endpoint id '%s'", id ? id : "");
	ns_intent_recover(ctx, &net, NULL);
	/* the intent first, then the record: read under it, it cannot change meanwhile (an
	 * attach of this id at work holds its own intent, and this detach is refused) */
	ep = ns_endpoint_new();
	snprintf(ep->network, sizeof(ep->network), "%s", name);
	snprintf(ep->id, sizeof(ep->id), "%s", id);
	if ((rc = ns_intent_begin(ctx, &net, NS_INTENT_DETACH, ep, &in, err)) < 0)
		goto out;
	ns_endpoint_free(ep);
	ep = NULL;
	rc = st->ops->ep_get(st, name, id, &ep, err);
	if (rc == -ENOENT) {
		rc = ns_error_set(err, -ENOENT, "endpoint %s is not attached to network %s", id, name);
		goto out;
	}
	if (rc == -EBADMSG) {
		/* an empty reservation of a netpol without intents, interrupted: only the lease and
		 * record to drop */
		ep = ns_endpoint_new();
		snprintf(ep->network, sizeof(ep->network), "%s", name);
		snprintf(ep->id, sizeof(ep->id), "%s", id);
	} else if (rc < 0) {
		goto out;
	}
	if (ep->driver[0] && (rc = ns_driver_ops_get(net.driver)->detach(ctx, &net, ep, err)) < 0)
		goto out; /* keep the record so the detach can be retried */
	rc = st->ops->ep_release(st, &net, ep, err);
out:
	ns_intent_end(in);
	ns_endpoint_free(ep);
	return rc;
}
