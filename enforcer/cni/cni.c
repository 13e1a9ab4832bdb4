/* cni.c — see cni.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "addr.h"
#include "cni.h"
#include "cni_enforce.h"
#include "link.h"
#include "network.h"
#include "nodes.h"
#include "statedir.h"

/* One invocation. */
struct cni_op {
	const struct cni_env *env;
	struct cni_conf *c;
	struct cni_args args;
	char id[128];           /* the record's id: CONTAINERID-IFNAME */
	char pod_ns[128], pod_name[254];
	struct ns_ctx *ns;
};

static bool main_mode(const struct cni_conf *c)
{
	return c->network || c->driver;
}

/* The netsetup network main mode attaches to: "network", or the inline one named after the
 * CNI network. */
static const char *main_network(const struct cni_conf *c)
{
	return c->network ? c->network : c->name;
}

/* The state directory is one only root can change (statedir.h; the plugin never reads
 * policyd's last good copies, so their files are left to policyd's own check), or code 104
 * (STATUS: 50). */
static int state_trusted(const struct cni_conf *c, int code, struct cni_err *e)
{
	char why[1024];
	if (statedir_check_records(c->state_dir, why, sizeof(why)) < 0)
		return cni_fail(e, code, code == CNI_ERR_STATE ? "the state directory cannot be used"
							   : "not ready: the state directory is unusable",
				"%s", why);
	return 0;
}

/* What an operation settled besides its own work (a killed ADD or DEL before it): on stderr,
 * the runtime's log. */
static void say_note(void *arg, const char *msg)
{
	fprintf(stderr, "netpol-cni: %s\n", msg);
}

static int op_init(struct cni_op *op, const struct cni_env *env, struct cni_conf *c,
		   struct cni_err *e)
{
	struct ns_error ne = { "" };
	memset(op, 0, sizeof(*op));
	op->env = env;
	op->c = c;
	if (cni_args_parse(env->args, &op->args, e) < 0 || state_trusted(c, CNI_ERR_STATE, e) < 0)
		return -1;
	if (env->container_id)
		snprintf(op->id, sizeof(op->id), "%s-%s", env->container_id, env->ifname);
	/* podman passes only K8S_POD_NAME; a runtime passing neither names the pod after the
	 * container */
	snprintf(op->pod_ns, sizeof(op->pod_ns), "%s",
		 op->args.pod_ns[0] ? op->args.pod_ns : c->ns_default);
	snprintf(op->pod_name, sizeof(op->pod_name), "%s",
		 op->args.pod_name[0] ? op->args.pod_name : (env->container_id ? env->container_id : ""));
	op->ns = ns_ctx_new(c->state_dir, &ne);
	if (!op->ns)
		return cni_fail(e, CNI_ERR_STATE, "the state directory cannot be used", "%s", ne.msg);
	/* a network created with `netpol net create --nodes DIR` finds its peers there */
	op->ns->node_addrs = nodes_load_addrs;
	op->ns->note = say_note;
	return 0;
}

static void op_free(struct cni_op *op)
{
	ns_ctx_free(op->ns);
}

/* ---- main mode: the network -------------------------------------------------------------- */

static int inline_prefixes(json_t *arr, const char *key, struct ns_prefix *out, size_t max,
			   size_t *n, struct cni_err *e)
{
	json_t *v;
	size_t i;
	*n = 0;
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network configuration",
				"\"%s\" must be a list of CIDRs", key);
	json_array_foreach(arr, i, v) {
		if (*n == max || ns_prefix_parse(json_string_value(v), &out[*n]) < 0)
			return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network configuration",
					"\"%s\": bad or too many CIDRs (one IPv4, one IPv6)", key);
		(*n)++;
	}
	return 0;
}

/* The inline network definition: driver, subnets, gateways, parent, mode, vni, peers, mtu,
 * bridge, masquerade, hairpin — the options of `netpol net create`. */
static int inline_network(const struct cni_conf *c, struct ns_network *net, struct cni_err *e)
{
	json_t *d = c->driver, *v;
	size_t i, n;
	struct ns_prefix subnets[NS_MAX_SUBNETS];
	memset(net, 0, sizeof(*net));
	snprintf(net->name, sizeof(net->name), "%s", c->name);
	if (ns_driver_parse(json_string_value(json_object_get(d, "driver")), &net->driver) < 0)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network configuration",
				"\"driver\" must be bridge, macvlan, overlay or host");
	if (inline_prefixes(json_object_get(d, "subnets"), "subnets", subnets, NS_MAX_SUBNETS, &n,
			    e) < 0)
		return -1;
	for (i = 0; i < n; i++)
		net->pools[net->n_pools++].subnet = subnets[i];
	json_array_foreach(json_object_get(d, "gateways"), i, v) {
		struct ns_ip gw;
		size_t k;
		if (ns_ip_parse(json_string_value(v), &gw) < 0)
			return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network configuration",
					"\"gateways\": bad address");
		for (k = 0; k < net->n_pools && net->pools[k].subnet.ip.family != gw.family; k++)
			;
		if (k < net->n_pools)
			net->pools[k].gateway = gw;
	}
	const char *s;
	if ((s = json_string_value(json_object_get(d, "parent"))))
		snprintf(net->parent, sizeof(net->parent), "%s", s);
	if ((s = json_string_value(json_object_get(d, "bridge"))))
		snprintf(net->bridge, sizeof(net->bridge), "%s", s);
	if ((s = json_string_value(json_object_get(d, "mode")))) {
		if (!strcmp(s, "private"))
			net->mode = NS_MACVLAN_PRIVATE;
		else if (!strcmp(s, "vepa"))
			net->mode = NS_MACVLAN_VEPA;
		else
			net->mode = NS_MACVLAN_BRIDGE;
	}
	net->vni = (uint32_t)json_integer_value(json_object_get(d, "vni"));
	net->mtu = (unsigned)json_integer_value(json_object_get(d, "mtu"));
	net->masquerade = json_is_true(json_object_get(d, "masquerade"));
	net->hairpin = json_is_true(json_object_get(d, "hairpin"));
	json_array_foreach(json_object_get(d, "peers"), i, v) {
		if (net->n_peers == NS_MAX_PEERS ||
		    ns_ip_parse(json_string_value(v), &net->peers[net->n_peers]) < 0)
			return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network configuration",
					"\"peers\": bad address");
		net->n_peers++;
	}
	return 0;
}

/* Main mode: the network exists (created from the inline definition on first use). */
static int network_ensure(struct cni_op *op, struct cni_err *e)
{
	struct ns_error ne = { "" };
	struct ns_network net;
	if (ns_network_load(op->ns, main_network(op->c), &net, &ne) == 0)
		return 0;
	if (!op->c->driver)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network configuration",
				"network \"%s\": %s (create it with netpol net create)",
				op->c->network, ne.msg);
	if (inline_network(op->c, &net, e) < 0)
		return -1;
	int rc = ns_network_create(op->ns, &net, &ne);
	if (rc == 0)
		return 0;
	if (rc != -EEXIST)
		return cni_fail(e, CNI_ERR_ATTACH, "cannot create the network", "%s", ne.msg);
	/* A parallel ADD reserved the name first: its definition is complete once it loads. */
	for (int waited = 0; waited < op->c->timeout_ms; waited += 5) {
		if (ns_network_load(op->ns, main_network(op->c), &net, &ne) == 0)
			return 0;
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL);
	}
	return cni_fail(e, CNI_ERR_TRY_AGAIN, "network not ready",
			"network %s is being created by another ADD: %s", main_network(op->c), ne.msg);
}

/* Static addresses asked for: CNI_ARGS IP=a,b and runtimeConfig "ips" (capability "ips"). */
static int static_ips(struct cni_op *op, struct ns_attach_req *req, struct cni_err *e)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", op->args.ips);
	json_t *ips = op->c->runtime ? json_object_get(op->c->runtime, "ips") : NULL, *v;
	size_t i;
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (req->n_ips == NS_MAX_SUBNETS || ns_ip_parse(tok, &req->ips[req->n_ips++]) < 0)
			return cni_fail(e, CNI_ERR_INVALID_ENV, "invalid CNI_ARGS", "IP=%s", op->args.ips);
	json_array_foreach(ips, i, v) {
		struct ns_prefix p;
		const char *s = json_string_value(v);
		if (req->n_ips == NS_MAX_SUBNETS || !s ||
		    (ns_prefix_parse(s, &p) < 0 && ns_ip_parse(s, &p.ip) < 0))
			return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid runtimeConfig",
					"\"ips\": bad address '%s'", s ? s : "");
		req->ips[req->n_ips++] = p.ip;
	}
	return 0;
}

static void labels_string(const json_t *labels, char *buf, size_t size)
{
	const char *k;
	json_t *v;
	buf[0] = '\0';
	json_object_foreach((json_t *)labels, k, v)
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%s=%s", buf[0] ? "," : "", k,
			 json_string_value(v));
}

static json_t *main_result(const struct ns_endpoint *ep, const char *version)
{
	json_t *ifs = json_array(), *ips = json_array(), *routes = json_array();
	char buf[NS_PREFIX_STRLEN], mac[18];
	int idx = 0;
	if (ep->host_ifname[0]) {
		json_array_append_new(ifs, json_pack("{s:s}", "name", ep->host_ifname));
		idx = 1;
	}
	if (ep->ifname[0]) /* a host endpoint has no interface of its own */
		json_array_append_new(ifs, json_pack("{s:s,s:s,s:s}", "name", ep->ifname, "mac",
						     ns_mac_format(ep->mac, mac), "sandbox", ep->netns));
	for (size_t i = 0; i < ep->n_addrs; i++) {
		json_t *ip = json_pack("{s:s}", "address", ns_prefix_format(&ep->addrs[i], buf));
		if (ep->ifname[0])
			json_object_set_new(ip, "interface", json_integer(idx));
		if (ep->gateways[i].family) {
			json_object_set_new(ip, "gateway", json_string(ns_ip_format(&ep->gateways[i], buf)));
			json_array_append_new(routes, json_pack("{s:s,s:s}", "dst",
				ep->addrs[i].ip.family == AF_INET ? "0.0.0.0/0" : "::/0", "gw", buf));
		}
		json_array_append_new(ips, ip);
	}
	json_t *r = json_pack("{s:s,s:o,s:o,s:o,s:{}}", "cniVersion", "1.1.0", "interfaces", ifs,
			      "ips", ips, "routes", routes, "dns");
	json_t *out = NULL;
	struct cni_err e;
	cni_result_convert(r, version, &out, &e);
	json_decref(r);
	return out;
}

/* ---- ADD ---------------------------------------------------------------------------------- */

static int record_chained(struct cni_op *op, struct cni_err *e)
{
	struct cni_prev prev;
	struct ns_error ne = { "" };
	if (!op->c->prev)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network configuration",
				"no prevResult: chain netpol-cni after an interface plugin, or give "
				"\"network\" or \"driver\" for main mode");
	if (cni_prev_parse(op->c->prev, op->env->ifname, &prev, e) < 0)
		return -1;
	struct ns_endpoint *ep = ns_endpoint_new();
	snprintf(ep->network, sizeof(ep->network), "%s", op->c->name);
	snprintf(ep->id, sizeof(ep->id), "%s", op->id);
	/* no host side: macvlan-like, so its policy goes inside the pod's netns */
	snprintf(ep->driver, sizeof(ep->driver), "%s",
		 prev.n_host_ifs >= 2 ? "bridge" : prev.n_host_ifs == 1 ? "ptp" : "macvlan");
	snprintf(ep->netns, sizeof(ep->netns), "%s", op->env->netns);
	snprintf(ep->ifname, sizeof(ep->ifname), "%s", op->env->ifname);
	if (prev.n_host_ifs)
		snprintf(ep->host_ifname, sizeof(ep->host_ifname), "%s", prev.host_if);
	for (size_t i = 0; i < prev.n_addrs; i++)
		if (ns_prefix_parse(prev.addrs[i], &ep->addrs[ep->n_addrs]) == 0)
			ep->n_addrs++;
	if (prev.mac[0])
		ns_mac_parse(prev.mac, ep->mac);
	snprintf(ep->pod_ns, sizeof(ep->pod_ns), "%s", op->pod_ns);
	snprintf(ep->pod_name, sizeof(ep->pod_name), "%s", op->pod_name);
	ep->labels = json_incref(op->c->labels);
	snprintf(ep->cni_network, sizeof(ep->cni_network), "%s", op->c->name);
	snprintf(ep->container_id, sizeof(ep->container_id), "%s", op->env->container_id);
	if (op->c->node)
		snprintf(ep->node, sizeof(ep->node), "%s", op->c->node);
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ep->created, sizeof(ep->created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	int rc = ns_endpoint_save(op->ns, ep, &ne);
	ns_endpoint_free(ep);
	if (rc < 0)
		return cni_fail(e, CNI_ERR_STATE, "cannot record the endpoint", "%s", ne.msg);
	return 0;
}

static int attach_main(struct cni_op *op, struct ns_endpoint **ep, struct cni_err *e)
{
	struct ns_error ne = { "" };
	char pod[400], labels[2048];
	if (network_ensure(op, e) < 0)
		return -1;
	struct ns_attach_req req = { .netns = op->env->netns, .id = op->id,
				     .ifname = op->env->ifname, .cni_network = op->c->name,
				     .container_id = op->env->container_id, .node = op->c->node };
	if (static_ips(op, &req, e) < 0)
		return -1;
	snprintf(pod, sizeof(pod), "%s/%s", op->pod_ns, op->pod_name);
	labels_string(op->c->labels, labels, sizeof(labels));
	req.pod = pod;
	req.labels = labels;
	if (ns_network_attach(op->ns, main_network(op->c), &req, ep, &ne) < 0)
		return cni_fail(e, CNI_ERR_ATTACH, "cannot attach the container", "%s", ne.msg);
	return 0;
}

/* Undoes an ADD: the record (and in main mode the interface and lease). */
static void undo(struct cni_op *op)
{
	struct ns_error ne = { "" };
	if (main_mode(op->c))
		ns_network_detach(op->ns, main_network(op->c), op->id, &ne);
	else
		ns_endpoint_forget(op->ns, op->c->name, op->id, &ne);
}

static int cmd_add(struct cni_op *op, json_t **result, struct cni_err *e)
{
	struct ns_endpoint *ep = NULL;
	enum cni_path how;
	if (main_mode(op->c)) {
		if (attach_main(op, &ep, e) < 0)
			return -1;
	} else if (record_chained(op, e) < 0) {
		return -1;
	}
	if (cni_enforce_sync(op->c, &how, e) < 0) {
		/* fail closed: nothing of this ADD stays, and the kernel never saw it */
		undo(op);
		ns_endpoint_free(ep);
		return -1;
	}
	/* stderr is the runtime's log: say which path made the policy effective */
	fprintf(stderr, "netpol-cni: ADD %s (pod %s/%s): policy enforced by %s\n", op->id, op->pod_ns,
		op->pod_name, how == CNI_PATH_POLICYD ? "policyd" : "this plugin (no policyd running)");
	if (ep) {
		*result = main_result(ep, op->c->version);
		ns_endpoint_free(ep);
		return 0;
	}
	/* chained: prevResult passes through, in the version asked */
	return cni_result_convert(op->c->prev, op->c->version, result, e);
}

/* ---- DEL ---------------------------------------------------------------------------------- */

static int cmd_del(struct cni_op *op, struct cni_err *e)
{
	struct ns_error ne = { "" };
	struct ns_endpoint *ep = NULL;
	enum cni_path how;
	const char *net = main_mode(op->c) ? main_network(op->c) : op->c->name;
	int rc = ns_endpoint_get(op->ns, net, op->id, &ep, &ne);
	ns_endpoint_free(ep);
	if (rc == -ENOENT || rc == -EINVAL)
		return 0; /* already gone (or never added): DEL is idempotent */
	if (main_mode(op->c)) {
		rc = ns_network_detach(op->ns, net, op->id, &ne);
		if (rc < 0 && rc != -ENOENT)
			return cni_fail(e, CNI_ERR_ATTACH, "cannot detach the container", "%s", ne.msg);
	} else if (ns_endpoint_forget(op->ns, net, op->id, &ne) < 0) {
		return cni_fail(e, CNI_ERR_STATE, "cannot remove the endpoint record", "%s", ne.msg);
	}
	/* Best effort: the pod is gone whatever happens; a stale dispatch entry for its address
	 * is replaced by the next ADD's commit, which always carries the whole model. */
	struct cni_err ignored;
	if (cni_enforce_sync(op->c, &how, &ignored) < 0)
		fprintf(stderr, "netpol-cni: DEL %s: %s: %s\n", op->id, ignored.msg, ignored.details);
	return 0;
}

/* ---- CHECK -------------------------------------------------------------------------------- */

static int check_netns(struct cni_op *op, const struct ns_endpoint *ep, struct cni_err *e)
{
	struct ns_error ne = { "" };
	int fd = -1;
	if (ns_netns_open(op->env->netns, &fd, &ne) < 0)
		return cni_fail(e, CNI_ERR_CHECK, "container netns unusable", "%s", ne.msg);
	struct ns_nl *nl = ns_nl_new(fd, &ne);
	close(fd);
	if (!nl)
		return cni_fail(e, CNI_ERR_CHECK, "container netns unusable", "%s", ne.msg);
	struct ns_link_info li;
	int rc = 0;
	if (ns_link_get(nl, op->env->ifname, &li, &ne) < 0) {
		rc = cni_fail(e, CNI_ERR_CHECK, "interface missing", "%s in %s: %s", op->env->ifname,
			      op->env->netns, ne.msg);
		goto out;
	}
	for (size_t i = 0; i < ep->n_addrs; i++) {
		int ifindex = 0, plen = 0;
		char buf[NS_PREFIX_STRLEN];
		if (ns_addr_find(nl, &ep->addrs[i].ip, &ifindex, &plen, &ne) < 0 || ifindex != li.ifindex) {
			rc = cni_fail(e, CNI_ERR_CHECK, "address missing", "%s not on %s in %s",
				      ns_prefix_format(&ep->addrs[i], buf), op->env->ifname, op->env->netns);
			goto out;
		}
	}
out:
	ns_nl_free(nl);
	return rc;
}

static int cmd_check(struct cni_op *op, struct cni_err *e)
{
	struct ns_error ne = { "" };
	struct ns_endpoint *ep = NULL;
	const char *net = main_mode(op->c) ? main_network(op->c) : op->c->name;
	if (ns_endpoint_get(op->ns, net, op->id, &ep, &ne) < 0)
		return cni_fail(e, CNI_ERR_CHECK, "no endpoint recorded", "%s", ne.msg);
	int rc = 0;
	if (!main_mode(op->c)) {
		/* prevResult is the final ADD result: its addresses must be the recorded ones */
		struct cni_prev prev;
		if (!op->c->prev || cni_prev_parse(op->c->prev, op->env->ifname, &prev, e) < 0) {
			rc = op->c->prev ? -1 : cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network "
							 "configuration", "CHECK needs prevResult");
			goto out;
		}
		for (size_t i = 0; i < prev.n_addrs; i++) {
			struct ns_prefix p;
			bool found = false;
			ns_prefix_parse(prev.addrs[i], &p);
			for (size_t k = 0; k < ep->n_addrs; k++)
				found |= !memcmp(&ep->addrs[k].ip, &p.ip, sizeof(p.ip));
			if (!found) {
				rc = cni_fail(e, CNI_ERR_CHECK, "address not recorded",
					      "prevResult has %s, the endpoint record does not",
					      prev.addrs[i]);
				goto out;
			}
		}
	}
	if ((rc = check_netns(op, ep, e)) < 0)
		goto out;
	/* macvlan pods keep their dispatch in their own netns: `netpol status` covers those */
	if (strcmp(ep->driver, "macvlan"))
		rc = cni_enforce_check_pod(op->c, ep->pod_ns, ep->pod_name, e);
out:
	ns_endpoint_free(ep);
	return rc;
}

/* ---- STATUS and GC ----------------------------------------------------------------------- */

static int cmd_status(const struct cni_conf *c, struct cni_err *e)
{
	struct ns_error ne = { "" };
	char probe[4096];
	if (state_trusted(c, CNI_ERR_NOT_READY, e) < 0)
		return -1;
	struct ns_ctx *ns = ns_ctx_new(c->state_dir, &ne);
	if (!ns)
		return cni_fail(e, CNI_ERR_NOT_READY, "not ready: the state directory is unusable",
				"%s", ne.msg);
	ns_ctx_free(ns);
	snprintf(probe, sizeof(probe), "%s/endpoints", c->state_dir);
	if (access(probe, W_OK) < 0)
		return cni_fail(e, CNI_ERR_NOT_READY, "not ready: the state directory is unusable",
				"%s: %s", probe, strerror(errno));
	DIR *d = c->policy_dir ? opendir(c->policy_dir) : NULL;
	if (!d)
		return cni_fail(e, CNI_ERR_NOT_READY, "not ready: the policy directory is unreadable",
				"%s: %s", c->policy_dir ? c->policy_dir : "(policyDir not set)",
				c->policy_dir ? strerror(errno) : "required");
	closedir(d);
	if (c->require_policyd && !cni_enforce_policyd_alive(c, c->timeout_ms < 1000 ? c->timeout_ms : 1000))
		return cni_fail(e, CNI_ERR_NOT_READY, "not ready: policyd is not answering",
				"the configuration requires policyd (requirePolicyd)");
	return 0;
}

static bool attachment_valid(json_t *valid, const struct ns_endpoint *ep)
{
	json_t *v;
	size_t i;
	json_array_foreach(valid, i, v) {
		const char *cid = json_string_value(json_object_get(v, "containerID"));
		const char *ifn = json_string_value(json_object_get(v, "ifname"));
		if (cid && ifn && !strcmp(cid, ep->container_id) && !strcmp(ifn, ep->ifname))
			return true;
	}
	return false;
}

static int cmd_gc(struct cni_op *op, struct cni_err *e)
{
	struct ns_error ne = { "" };
	json_t *names = NULL, *name;
	size_t i, removed = 0, failed = 0;
	char errs[768] = "";
	if (ns_endpoint_networks(op->ns, &names, &ne) < 0)
		return cni_fail(e, CNI_ERR_STATE, "cannot read the endpoint records", "%s", ne.msg);
	json_array_foreach(names, i, name) {
		const char *net = json_string_value(name);
		struct ns_endpoint *eps = NULL;
		size_t n = 0;
		struct ns_network def;
		if (ns_endpoints_load(op->ns, net, &eps, &n, &ne) < 0)
			continue;
		bool defined = ns_network_load(op->ns, net, &def, &ne) == 0;
		/* keep going on errors, and report them all */
		for (size_t k = 0; k < n; k++) {
			const struct ns_endpoint *ep = &eps[k];
			if (!ep->container_id[0] || strcmp(ep->cni_network, op->c->name) ||
			    attachment_valid(op->c->valid, ep))
				continue;
			int rc = defined ? ns_network_detach(op->ns, net, ep->id, &ne)
					 : ns_endpoint_forget(op->ns, net, ep->id, &ne);
			if (rc < 0 && rc != -ENOENT) {
				failed++;
				snprintf(errs + strlen(errs), sizeof(errs) - strlen(errs), "%s%s",
					 errs[0] ? "; " : "", ne.msg);
			} else {
				removed++;
			}
		}
		ns_endpoints_free(eps, n);
	}
	json_decref(names);
	enum cni_path how;
	int rc = 0;
	if (removed && cni_enforce_sync(op->c, &how, e) < 0)
		rc = -1;
	if (failed)
		rc = cni_fail(e, CNI_ERR_STATE, "GC could not remove every stale attachment",
			      "%zu failed: %s", failed, errs);
	return rc;
}

int cni_cmd_run(const struct cni_env *env, struct cni_conf *c, json_t **result,
		struct cni_err *e)
{
	struct cni_op op;
	*result = NULL;
	switch (env->cmd) {
	case CNI_CMD_VERSION:
		*result = cni_version_result(c->version && cni_version_supported(c->version)
						     ? c->version : "1.1.0");
		return 0;
	case CNI_CMD_STATUS:
		return cmd_status(c, e);
	default:
		break;
	}
	int rc = op_init(&op, env, c, e);
	if (rc == 0) {
		switch (env->cmd) {
		case CNI_CMD_ADD: rc = cmd_add(&op, result, e); break;
		case CNI_CMD_DEL: rc = cmd_del(&op, e); break;
		case CNI_CMD_CHECK: rc = cmd_check(&op, e); break;
		case CNI_CMD_GC: rc = cmd_gc(&op, e); break;
		default: rc = cni_fail(e, CNI_ERR_INVALID_ENV, "invalid CNI_COMMAND", NULL); break;
		}
	}
	op_free(&op);
	return rc;
}
