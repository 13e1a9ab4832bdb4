/* network.c — network definitions and endpoint records on disk; create, remove, attach,
 * detach, inspect. Interfaces are the drivers' business (driver.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomicio.h"
#include "driver.h"
#include "masq.h"
#include "network.h"
#include "vec.h"
#include "xalloc.h"

/* ---- context and paths ------------------------------------------------------------------- */

/* Directories netsetup creates are root's alone (0700), as are its files (0600): records name
 * pods, netns paths and addresses, and every reader (netpol, policyd, netpol-cni) runs as
 * root. Directories that exist already keep their mode. */
#define STATE_DIR_MODE 0700
#define STATE_FILE_MODE 0600

static int mkdir_p(const char *dir)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", dir);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, STATE_DIR_MODE) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, STATE_DIR_MODE) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

struct ns_ctx *ns_ctx_new(const char *state_dir, struct ns_error *err)
{
	static const char *const subdirs[] = { "networks", "ipam", "endpoints" };
	struct ns_ctx *ctx = ns_ctx_new_readonly(state_dir);
	char buf[4096];
	int rc;

	for (size_t i = 0; i < 3; i++) {
		snprintf(buf, sizeof(buf), "%s/%s", ctx->state_dir, subdirs[i]);
		if ((rc = mkdir_p(buf)) < 0) {
			ns_error_set(err, rc, "state directory %s: %s", buf, strerror(-rc));
			goto fail;
		}
	}
	ctx->nl = ns_nl_new(-1, err);
	if (!ctx->nl)
		goto fail;
	return ctx;
fail:
	ns_ctx_free(ctx);
	return NULL;
}

struct ns_ctx *ns_ctx_new_readonly(const char *state_dir)
{
	struct ns_ctx *ctx = xcalloc(1, sizeof(*ctx));

	ctx->state_dir = xstrdup(state_dir && *state_dir ? state_dir : NS_DEFAULT_STATE_DIR);
	return ctx;
}

void ns_ctx_free(struct ns_ctx *ctx)
{
	if (!ctx)
		return;
	ns_nl_free(ctx->nl);
	free(ctx->state_dir);
	free(ctx);
}

static void path_network(const struct ns_ctx *ctx, const char *name, char *buf, size_t n)
{
	snprintf(buf, n, "%s/networks/%s.json", ctx->state_dir, name);
}

static void path_ipam(const struct ns_ctx *ctx, const char *name, char *buf, size_t n)
{
	snprintf(buf, n, "%s/ipam/%s.json", ctx->state_dir, name);
}

static void path_epdir(const struct ns_ctx *ctx, const char *name, char *buf, size_t n)
{
	snprintf(buf, n, "%s/endpoints/%s", ctx->state_dir, name);
}

static void path_endpoint(const struct ns_ctx *ctx, const char *name, const char *id, char *buf,
			  size_t n)
{
	snprintf(buf, n, "%s/endpoints/%s/%s.json", ctx->state_dir, name, id);
}

/* Names and ids become file names: the CNI rule for both (alphanumeric first, then
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

/* Writes j to path whole and durably (util/atomicio.h): a reader, or the next run after a
 * crash or power cut, finds the previous content or this one, never a torn file. */
static int write_json(const char *path, json_t *j, struct ns_error *err)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	int rc;

	if (!text)
		abort(); /* fails only without memory: xalloc.h's policy */
	rc = atomic_write_file(path, text, strlen(text), STATE_FILE_MODE);
	free(text);
	if (rc < 0)
		return ns_error_set(err, rc, "write %s: %s", path, strerror(-rc));
	return 0;
}

/* Creates path empty, -EEXIST when it exists: the reservation of a network name or endpoint id
 * while the create or attach that fills it runs, so a second one with the same name fails
 * before touching anything (its bridge, interface or lease would otherwise be made and then
 * undone). write_json later renames the complete record over it, so the name never stops
 * existing; readers take an empty file for a reservation. A crash before that leaves the
 * empty reservation, which detach (endpoints) and create (networks, after a minute) clear. */
static int reserve(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, STATE_FILE_MODE);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Removes a record durably: once a detach or rm has said so, the record stays gone. */
static int remove_file(const char *path, struct ns_error *err)
{
	int rc = atomic_unlink(path);

	if (rc < 0)
		return ns_error_set(err, rc, "remove %s: %s", path, strerror(-rc));
	return 0;
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

static void copy_str(char *dst, size_t n, json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	snprintf(dst, n, "%s", s ? s : "");
}

int ns_network_from_json(json_t *j, struct ns_network *net, struct ns_error *err)
{
	json_t *subnets = json_object_get(j, "subnets"), *peers = json_object_get(j, "peers"), *v;
	size_t i;

	memset(net, 0, sizeof(*net));
	copy_str(net->name, sizeof(net->name), j, "name");
	copy_str(net->id, sizeof(net->id), j, "id");
	copy_str(net->created, sizeof(net->created), j, "created");
	copy_str(net->bridge, sizeof(net->bridge), j, "bridge");
	copy_str(net->parent, sizeof(net->parent), j, "parent");
	copy_str(net->nodes_dir, sizeof(net->nodes_dir), j, "nodes_dir");
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
	const char *s;
	size_t i;

	copy_str(ep->network, sizeof(ep->network), j, "network");
	copy_str(ep->id, sizeof(ep->id), j, "id");
	copy_str(ep->driver, sizeof(ep->driver), j, "driver");
	copy_str(ep->netns, sizeof(ep->netns), j, "netns");
	copy_str(ep->ifname, sizeof(ep->ifname), j, "ifname");
	copy_str(ep->host_ifname, sizeof(ep->host_ifname), j, "host_ifname");
	copy_str(ep->created, sizeof(ep->created), j, "created");
	copy_str(ep->node, sizeof(ep->node), j, "node");
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
	if (json_is_object(pod)) {
		copy_str(ep->pod_ns, sizeof(ep->pod_ns), pod, "namespace");
		copy_str(ep->pod_name, sizeof(ep->pod_name), pod, "name");
	}
	if (json_is_object(cni)) {
		copy_str(ep->cni_network, sizeof(ep->cni_network), cni, "network");
		copy_str(ep->container_id, sizeof(ep->container_id), cni, "containerID");
	}
	json_decref(ep->labels);
	v = json_object_get(j, "labels");
	ep->labels = json_is_object(v) ? json_incref(v) : json_object();
	return 0;
}

/* ---- definitions ------------------------------------------------------------------------- */

int ns_network_load(struct ns_ctx *ctx, const char *name, struct ns_network *out,
		    struct ns_error *err)
{
	char path[4096];
	json_error_t jerr;
	json_t *j;
	int rc;

	if (!valid_name(name, sizeof(out->name) - 1))
		return ns_error_set(err, -EINVAL, "bad network name '%s'", name ? name : "");
	path_network(ctx, name, path, sizeof(path));
	j = json_load_file(path, 0, &jerr);
	if (!j) {
		if (access(path, F_OK) < 0)
			return ns_error_set(err, -ENOENT, "network %s not found", name);
		return ns_error_set(err, -EBADMSG, "%s:%d: %s", path, jerr.line, jerr.text);
	}
	rc = ns_network_from_json(j, out, err);
	json_decref(j);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists "*.json" file stems in dir (json_stems), or the valid names of its other entries,
 * sorted; *out is a JSON array of strings. */
static int list_entries(const char *dir, bool json_stems, json_t **out, struct ns_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0;
	json_t *arr = json_array();

	if (!d) {
		if (errno == ENOENT) {
			*out = arr;
			return 0;
		}
		json_decref(arr);
		return ns_error_set(err, -errno, "read %s: %s", dir, strerror(errno));
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (!json_stems) {
			if (!valid_name(de->d_name, 63))
				continue;
			len += 5; /* kept whole below */
		} else if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json")) {
			continue;
		}
		VEC_PUSH(v, n, cap) = xstrndup(de->d_name, len - 5);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(arr, json_string(v[i]));
		free(v[i]);
	}
	free(v);
	*out = arr;
	return 0;
}

int ns_network_names(struct ns_ctx *ctx, json_t **out, struct ns_error *err)
{
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s/networks", ctx->state_dir);
	return list_entries(dir, true, out, err);
}

int ns_endpoint_networks(struct ns_ctx *ctx, json_t **out, struct ns_error *err)
{
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s/endpoints", ctx->state_dir);
	return list_entries(dir, false, out, err);
}

/* The directory of a network's endpoint records. */
static int make_epdir(struct ns_ctx *ctx, const char *network, struct ns_error *err)
{
	char path[4096];

	path_epdir(ctx, network, path, sizeof(path));
	if (mkdir(path, STATE_DIR_MODE) < 0 && errno != EEXIST)
		return ns_error_set(err, -errno, "mkdir %s: %s", path, strerror(errno));
	return 0;
}

int ns_endpoint_save(struct ns_ctx *ctx, const struct ns_endpoint *ep, struct ns_error *err)
{
	char path[4096 + 200];
	json_t *j;
	int rc;

	if (!valid_name(ep->network, sizeof(ep->network) - 1) || !valid_name(ep->id, sizeof(ep->id) - 1))
		return ns_error_set(err, -EINVAL, "bad network name or endpoint id '%s/%s'",
				    ep->network, ep->id);
	if ((rc = make_epdir(ctx, ep->network, err)) < 0)
		return rc;
	path_endpoint(ctx, ep->network, ep->id, path, sizeof(path));
	j = ns_endpoint_to_json(ep);
	rc = write_json(path, j, err);
	json_decref(j);
	return rc;
}

int ns_endpoint_get(struct ns_ctx *ctx, const char *network, const char *id,
		    struct ns_endpoint **out, struct ns_error *err)
{
	char path[4096 + 200];
	json_error_t jerr;
	json_t *j;
	struct ns_endpoint *ep;
	int rc;

	if (!valid_name(network, 63) || !valid_name(id, 127))
		return ns_error_set(err, -EINVAL, "bad network name or endpoint id");
	path_endpoint(ctx, network, id, path, sizeof(path));
	j = json_load_file(path, 0, &jerr);
	if (!j) {
		if (access(path, F_OK) < 0)
			return ns_error_set(err, -ENOENT, "no endpoint %s in network %s", id, network);
		return ns_error_set(err, -EBADMSG, "%s: %s", path, jerr.text);
	}
	ep = ns_endpoint_new();
	rc = ns_endpoint_from_json(j, ep, err);
	json_decref(j);
	if (rc < 0) {
		ns_endpoint_free(ep);
		return rc;
	}
	*out = ep;
	return 0;
}

int ns_endpoint_forget(struct ns_ctx *ctx, const char *network, const char *id,
		       struct ns_error *err)
{
	char path[4096 + 200];

	if (!valid_name(network, 63) || !valid_name(id, 127))
		return ns_error_set(err, -EINVAL, "bad network name or endpoint id");
	path_endpoint(ctx, network, id, path, sizeof(path));
	return remove_file(path, err);
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
	char dir[4096], path[4096 + 200];
	json_t *names, *name;
	struct ns_endpoint *v;
	size_t i, n = 0;
	int rc;

	path_epdir(ctx, network, dir, sizeof(dir));
	if ((rc = list_entries(dir, true, &names, err)) < 0)
		return rc;
	v = xcalloc(json_array_size(names) + 1, sizeof(*v));
	json_array_foreach(names, i, name) {
		json_t *j;
		snprintf(path, sizeof(path), "%s/%s.json", dir, json_string_value(name));
		j = json_load_file(path, 0, NULL);
		/* An empty reservation (an attach in progress or interrupted) still names an id. */
		if (!j)
			j = json_object();
		rc = ns_endpoint_from_json(j, &v[n], err);
		json_decref(j);
		if (rc < 0) {
			json_decref(names);
			ns_endpoints_free(v, n + 1);
			return rc;
		}
		if (!v[n].id[0])
			snprintf(v[n].id, sizeof(v[n].id), "%s", json_string_value(name));
		n++;
	}
	json_decref(names);
	*out = v;
	*n_out = n;
	return 0;
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

/* An empty definition is the reservation of a create in progress; one that stayed empty for a
 * minute belongs to a create that was killed, and is removed so the name can be used again. */
static bool stale_reservation(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0 || st.st_size != 0 || time(NULL) - st.st_mtime < 60)
		return false;
	return unlink(path) == 0;
}

int ns_network_create(struct ns_ctx *ctx, struct ns_network *net, struct ns_error *err)
{
	const struct ns_driver_ops *ops = ns_driver_ops_get(net->driver);
	char path[4096];
	uint8_t rnd[16];
	json_t *j;
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

	path_network(ctx, net->name, path, sizeof(path));
	rc = reserve(path);
	if (rc == -EEXIST && stale_reservation(path))
		rc = reserve(path);
	if (rc == -EEXIST)
		return ns_error_set(err, rc, "network %s already exists", net->name);
	if (rc < 0)
		return ns_error_set(err, rc, "create %s: %s", path, strerror(-rc));
	if ((rc = ops->setup(ctx, net, true, err)) < 0)
		goto undo_setup;
	if (net->masquerade && (rc = masq_resync(ctx, net, NULL, err)) < 0)
		goto undo_setup;
	j = ns_network_to_json(net);
	rc = write_json(path, j, err);
	json_decref(j);
	if (rc < 0)
		goto undo_setup;
	return 0;
undo_setup:
	ops->teardown(ctx, net, NULL);
	unlink(path); /* the reservation: should it survive a crash, it expires */
	return rc;
}

int ns_network_remove(struct ns_ctx *ctx, const char *name, bool force, bool local_only,
		      struct ns_error *err)
{
	const struct ns_driver_ops *ops;
	struct ns_network net;
	struct ns_endpoint *eps;
	char path[4096];
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
	path_ipam(ctx, name, path, sizeof(path));
	if ((rc = remove_file(path, err)) < 0)
		return rc;
	strcat(path, ".lock");
	unlink(path); /* holds no data */
	path_epdir(ctx, name, path, sizeof(path));
	rmdir(path);
	path_network(ctx, name, path, sizeof(path));
	if ((rc = remove_file(path, err)) < 0)
		return rc;
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
	return 0;
}

int ns_network_attach(struct ns_ctx *ctx, const char *name, const struct ns_attach_req *req,
		      struct ns_endpoint **out, struct ns_error *err)
{
	const struct ns_driver_ops *ops;
	struct ns_network net;
	struct ns_endpoint *ep;
	struct ns_ip got[NS_MAX_SUBNETS];
	char rec[4096 + 200], ipam[4096];
	int nsfd = -1, rc;
	json_t *j;

	if ((rc = ns_network_load(ctx, name, &net, err)) < 0)
		return rc;
	ops = ns_driver_ops_get(net.driver);
	if (req->n_ips && !net.n_pools)
		return ns_error_set(err, -EINVAL, "network %s has no subnets; --ip cannot be used", name);
	ep = ns_endpoint_new();
	if ((rc = endpoint_init(&net, req, ep, err)) < 0)
		goto free_ep;

	/* The record file, created exclusively, is the reservation of the id (reserve()). */
	if ((rc = make_epdir(ctx, name, err)) < 0)
		goto free_ep;
	path_endpoint(ctx, name, ep->id, rec, sizeof(rec));
	if ((rc = reserve(rec)) < 0) {
		if (rc == -EEXIST)
			ns_error_set(err, rc, "endpoint %s is already attached to network %s", ep->id, name);
		else
			ns_error_set(err, rc, "create %s: %s", rec, strerror(-rc));
		goto free_ep;
	}
	if (ep->netns[0] && (rc = ns_netns_open(ep->netns, &nsfd, err)) < 0)
		goto unreserve;
	if ((rc = ops->setup(ctx, &net, false, err)) < 0)
		goto close_ns;
	path_ipam(ctx, name, ipam, sizeof(ipam));
	if (net.n_pools) {
		rc = ns_ipam_allocate(ipam, net.pools, net.n_pools, ep->id, req->ips, req->n_ips, got,
				      err);
		if (rc < 0)
			goto close_ns;
		for (size_t i = 0; i < net.n_pools; i++) {
			ep->addrs[i].ip = got[i];
			ep->addrs[i].len = net.pools[i].subnet.len;
			ep->gateways[i] = net.pools[i].gateway;
		}
		ep->n_addrs = net.n_pools;
	}
	if ((rc = ops->attach(ctx, &net, ep, nsfd, err)) < 0)
		goto release;
	j = ns_endpoint_to_json(ep);
	rc = write_json(rec, j, err);
	json_decref(j);
	if (rc < 0) {
		ops->detach(ctx, &net, ep, NULL);
		goto release;
	}
	if (nsfd >= 0)
		close(nsfd);
	if (out)
		*out = ep;
	else
		ns_endpoint_free(ep);
	return 0;
release:
	if (net.n_pools)
		ns_ipam_release(ipam, ep->id, NULL);
close_ns:
	if (nsfd >= 0)
		close(nsfd);
unreserve:
	unlink(rec); /* the reservation: should it survive a crash, detach clears it */
free_ep:
	ns_endpoint_free(ep);
	return rc;
}

int ns_network_detach(struct ns_ctx *ctx, const char *name, const char *id,
		      struct ns_error *err)
{
	struct ns_network net;
	struct ns_endpoint *ep;
	char rec[4096 + 200], ipam[4096];
	json_t *j;
	int rc;

	if ((rc = ns_network_load(ctx, name, &net, err)) < 0)
		return rc;
	if (!valid_name(id, 127))
		return ns_error_set(err, -EINVAL, "bad endpoint id '%s'", id ? id : "");
	path_endpoint(ctx, name, id, rec, sizeof(rec));
	if (access(rec, F_OK) < 0)
		return ns_error_set(err, -ENOENT, "endpoint %s is not attached to network %s", id, name);
	ep = ns_endpoint_new();
	j = json_load_file(rec, 0, NULL);
	/* An empty reservation left by an interrupted attach: only the lease and file to drop. */
	if (j && (rc = ns_endpoint_from_json(j, ep, err)) < 0)
		goto out;
	if (j && (rc = ns_driver_ops_get(net.driver)->detach(ctx, &net, ep, err)) < 0)
		goto out; /* keep the record so the detach can be retried */
	path_ipam(ctx, name, ipam, sizeof(ipam));
	if (net.n_pools && (rc = ns_ipam_release(ipam, id, err)) < 0)
		goto out;
	rc = remove_file(rec, err);
out:
	json_decref(j);
	ns_endpoint_free(ep);
	return rc;
}
