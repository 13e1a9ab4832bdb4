/* netstore_dir.c — the state directory as the store (netstore.h), the single-machine default:
 *   networks/NAME.json          the definition
 *   ipam/NAME.json (+ .lock)    address leases (ipam.h)
 *   endpoints/NAME/ID.json      one record per attached endpoint
 * Every file is written whole and durably (util/atomicio.h: a temporary ".NAME.XXXXXX" beside
 * it, fsync, rename, fsync of the directory), so after a crash or power cut a reader finds the
 * previous content or the new one; a temporary left by a crash is hidden, and every reader
 * skips it. Removals are durable too. One exception: the records of attachments made by
 * someone else (ns_endpoint_save and ns_endpoint_forget: a chained CNI plugin's) are written
 * and removed whole but without the fsyncs. They copy what the runtime and the interface
 * plugin hold, and only a power cut or a kernel crash can lose an unsynced write, which ends
 * every pod they describe as well: the pods running then leave stale records whatever was
 * synced (they never get their DEL), and the runtime's CNI GC clears those. Files are created
 * 0600, directories 0700. An empty definition or record is a reservation (a create or attach
 * in progress or interrupted). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomicio.h"
#include "netstore.h"
#include "vec.h"
#include "xalloc.h"

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

int ns_json_write(const char *path, json_t *j, bool durable, struct ns_error *err)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS), dir[4096], *slash;
	int rc;

	if (!text)
		abort(); /* fails only without memory: xalloc.h's policy */
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		if (access(dir, F_OK) < 0)
			mkdir_p(dir);
	}
	/* without durable: a copy that lives no longer than what it describes (this host's
	 * records, gone with its interfaces at a reboot) */
	rc = (durable ? atomic_write_file : atomic_replace_file)(path, text, strlen(text),
								STATE_FILE_MODE);
	free(text);
	if (rc < 0)
		return ns_error_set(err, rc, "write %s: %s", path, strerror(-rc));
	return 0;
}

/* ---- paths ---- */

static void path_network(const struct ns_store *st, const char *name, char *buf, size_t n)
{
	snprintf(buf, n, "%s/networks/%s.json", st->state_dir, name);
}

static void path_ipam(const struct ns_store *st, const char *name, char *buf, size_t n)
{
	snprintf(buf, n, "%s/ipam/%s.json", st->state_dir, name);
}

static void path_epdir(const struct ns_store *st, const char *name, char *buf, size_t n)
{
	snprintf(buf, n, "%s/endpoints/%s", st->state_dir, name);
}

static void path_endpoint(const struct ns_store *st, const char *name, const char *id,
			  char *buf, size_t n)
{
	snprintf(buf, n, "%s/endpoints/%s/%s.json", st->state_dir, name, id);
}

/* Creates path empty, -EEXIST when it exists: the reservation of a network name or endpoint id
 * while the create or attach that fills it runs, so a second one with the same name fails
 * before touching anything (its bridge, interface or lease would otherwise be made and then
 * undone). The complete record is later renamed over it, so the name never stops existing;
 * readers take an empty file for a reservation. A crash before that leaves the empty
 * reservation, which detach (endpoints) and create (networks, after a minute) clear. */
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
			if (!ns_name_valid(de->d_name, 63))
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

/* ---- definitions ---- */

static int dir_net_get(struct ns_store *st, const char *name, json_t **out, struct ns_error *err)
{
	char path[4096];
	json_error_t jerr;

	path_network(st, name, path, sizeof(path));
	*out = json_load_file(path, 0, &jerr);
	if (*out)
		return 0;
	if (access(path, F_OK) < 0)
		return ns_error_set(err, -ENOENT, "network %s not found", name);
	return ns_error_set(err, -EBADMSG, "%s:%d: %s", path, jerr.line, jerr.text);
}

static int dir_net_names(struct ns_store *st, json_t **out, struct ns_error *err)
{
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s/networks", st->state_dir);
	return list_entries(dir, true, out, err);
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

static int dir_net_reserve(struct ns_store *st, const struct ns_network *net,
			   struct ns_error *err)
{
	char path[4096];
	int rc;

	path_network(st, net->name, path, sizeof(path));
	rc = reserve(path);
	if (rc == -EEXIST && stale_reservation(path))
		rc = reserve(path);
	if (rc == -EEXIST)
		return ns_error_set(err, rc, "network %s already exists", net->name);
	if (rc < 0)
		return ns_error_set(err, rc, "create %s: %s", path, strerror(-rc));
	return 0;
}

static int dir_net_commit(struct ns_store *st, const struct ns_network *net,
			  struct ns_error *err)
{
	char path[4096];
	json_t *j = ns_network_to_json(net);
	int rc;

	path_network(st, net->name, path, sizeof(path));
	rc = ns_json_write(path, j, true, err);
	json_decref(j);
	return rc;
}

static void dir_net_unreserve(struct ns_store *st, const struct ns_network *net)
{
	char path[4096];

	path_network(st, net->name, path, sizeof(path));
	unlink(path); /* the reservation: should it survive a crash, it expires */
}

static int dir_net_delete(struct ns_store *st, const struct ns_network *net,
			  struct ns_error *err)
{
	char path[4096];
	int rc;

	path_ipam(st, net->name, path, sizeof(path));
	if ((rc = remove_file(path, err)) < 0)
		return rc;
	strcat(path, ".lock");
	unlink(path); /* holds no data */
	path_epdir(st, net->name, path, sizeof(path));
	rmdir(path);
	path_network(st, net->name, path, sizeof(path));
	return remove_file(path, err);
}

/* ---- records ---- */

static int dir_ep_networks(struct ns_store *st, json_t **out, struct ns_error *err)
{
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s/endpoints", st->state_dir);
	return list_entries(dir, false, out, err);
}

/* The directory of a network's endpoint records. */
static int make_epdir(struct ns_store *st, const char *network, struct ns_error *err)
{
	char path[4096];

	path_epdir(st, network, path, sizeof(path));
	if (mkdir(path, STATE_DIR_MODE) < 0 && errno != EEXIST)
		return ns_error_set(err, -errno, "mkdir %s: %s", path, strerror(errno));
	return 0;
}

static int ep_write(struct ns_store *st, const struct ns_endpoint *ep, bool durable,
		    struct ns_error *err)
{
	char path[4096 + 200];
	json_t *j;
	int rc;

	if ((rc = make_epdir(st, ep->network, err)) < 0)
		return rc;
	path_endpoint(st, ep->network, ep->id, path, sizeof(path));
	j = ns_endpoint_to_json(ep);
	rc = ns_json_write(path, j, durable, err);
	json_decref(j);
	return rc;
}

/* someone else's attachment: not fsync'ed (the header says why) */
static int dir_ep_save(struct ns_store *st, const struct ns_endpoint *ep, struct ns_error *err)
{
	return ep_write(st, ep, false, err);
}

static int dir_ep_get(struct ns_store *st, const char *network, const char *id,
		      struct ns_endpoint **out, struct ns_error *err)
{
	char path[4096 + 200];
	json_error_t jerr;
	json_t *j;
	struct ns_endpoint *ep;
	int rc;

	path_endpoint(st, network, id, path, sizeof(path));
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

static int dir_ep_forget(struct ns_store *st, const char *network, const char *id,
			 struct ns_error *err)
{
	char path[4096 + 200];

	path_endpoint(st, network, id, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT) /* as dir_ep_save: not fsync'ed */
		return ns_error_set(err, -errno, "remove %s: %s", path, strerror(errno));
	return 0;
}

static int dir_ep_list(struct ns_store *st, const char *network, struct ns_endpoint **out,
		       size_t *n_out, struct ns_error *err)
{
	char dir[4096], path[4096 + 200];
	json_t *names, *name;
	struct ns_endpoint *v;
	size_t i, n = 0;
	int rc;

	path_epdir(st, network, dir, sizeof(dir));
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

/* ---- attach and detach ---- */

static int dir_ep_reserve(struct ns_store *st, const char *network, const char *id,
			  struct ns_error *err)
{
	char rec[4096 + 200];
	int rc;

	/* The record file, created exclusively, is the reservation of the id (reserve()). */
	if ((rc = make_epdir(st, network, err)) < 0)
		return rc;
	path_endpoint(st, network, id, rec, sizeof(rec));
	if ((rc = reserve(rec)) == -EEXIST)
		return ns_error_set(err, rc, "endpoint %s is already attached to network %s", id,
				    network);
	if (rc < 0)
		return ns_error_set(err, rc, "create %s: %s", rec, strerror(-rc));
	return 0;
}

static int dir_ep_claim(struct ns_store *st, const struct ns_network *net, struct ns_endpoint *ep,
			const struct ns_ip *wanted, size_t n_wanted, struct ns_error *err)
{
	struct ns_ip got[NS_MAX_SUBNETS];
	char ipam[4096];
	int rc;

	if (!net->n_pools)
		return 0;
	path_ipam(st, net->name, ipam, sizeof(ipam));
	rc = ns_ipam_allocate(ipam, net->pools, net->n_pools, ep->id, wanted, n_wanted, got, err);
	if (rc == 0)
		ns_endpoint_set_addrs(ep, net, got);
	return rc;
}

static int dir_ep_commit(struct ns_store *st, const struct ns_network *net,
			 const struct ns_endpoint *ep, struct ns_error *err)
{
	return ep_write(st, ep, true, err); /* beside its leases: durable as they are */
}

static void dir_ep_abort(struct ns_store *st, const struct ns_network *net,
			 const struct ns_endpoint *ep)
{
	char path[4096 + 200];

	if (ep->n_addrs) {
		path_ipam(st, net->name, path, sizeof(path));
		ns_ipam_release(path, ep->id, NULL);
	}
	path_endpoint(st, net->name, ep->id, path, sizeof(path));
	unlink(path); /* the reservation: should it survive a crash, detach clears it */
}

static int dir_ep_release(struct ns_store *st, const struct ns_network *net,
			  const struct ns_endpoint *ep, struct ns_error *err)
{
	char path[4096 + 200];
	int rc;

	path_ipam(st, net->name, path, sizeof(path));
	if (net->n_pools && (rc = ns_ipam_release(path, ep->id, err)) < 0)
		return rc;
	path_endpoint(st, net->name, ep->id, path, sizeof(path));
	return remove_file(path, err);
}

static int dir_node_addrs(struct ns_store *st, struct ns_ip *out, size_t max, size_t *n,
			  struct ns_error *err)
{
	*n = 0; /* hosts sharing a directory name each other with --peer or --nodes */
	return 0;
}

static void dir_describe(struct ns_store *st, json_t *out)
{
	json_object_set_new(out, "Backend", json_string("dir"));
	json_object_set_new(out, "Path", json_string(st->state_dir));
}

static int dir_gc(struct ns_store *st, const char *network, long grace_s, json_t *report,
		  struct ns_error *err)
{
	return 0; /* one host: every lease goes with its detach */
}

static int dir_obj_none(struct ns_store *st, struct ns_error *err)
{
	return ns_error_set(err, -EOPNOTSUPP, "a state directory keeps no objects (policyd reads "
			    "--policy-dir); use an etcd store (--store etcd://...)");
}

static int dir_obj_put(struct ns_store *st, const char *name, const char *json,
		       struct ns_error *err)
{
	return dir_obj_none(st, err);
}

static int dir_obj_del(struct ns_store *st, const char *name, struct ns_error *err)
{
	return dir_obj_none(st, err);
}

static int dir_obj_list(struct ns_store *st, json_t **out, struct ns_error *err)
{
	return dir_obj_none(st, err);
}

static void dir_free(struct ns_store *st)
{
	free(st->state_dir);
	free(st);
}

static const struct ns_store_ops dir_ops = {
	.name = "dir",
	.free = dir_free,
	.net_get = dir_net_get,
	.net_names = dir_net_names,
	.net_reserve = dir_net_reserve,
	.net_commit = dir_net_commit,
	.net_unreserve = dir_net_unreserve,
	.net_delete = dir_net_delete,
	.ep_list = dir_ep_list,
	.ep_networks = dir_ep_networks,
	.ep_get = dir_ep_get,
	.ep_save = dir_ep_save,
	.ep_forget = dir_ep_forget,
	.ep_reserve = dir_ep_reserve,
	.ep_claim = dir_ep_claim,
	.ep_commit = dir_ep_commit,
	.ep_abort = dir_ep_abort,
	.ep_release = dir_ep_release,
	.node_addrs = dir_node_addrs,
	.describe = dir_describe,
	.gc = dir_gc,
	.obj_put = dir_obj_put,
	.obj_del = dir_obj_del,
	.obj_list = dir_obj_list,
};

int ns_store_dir_open(const char *state_dir, bool readonly, struct ns_store **out,
		      struct ns_error *err)
{
	static const char *const subdirs[] = { "networks", "ipam", "endpoints" };
	struct ns_store *st = xcalloc(1, sizeof(*st));
	char buf[4096];
	int rc;

	st->ops = &dir_ops;
	st->state_dir = xstrdup(state_dir);
	for (size_t i = 0; !readonly && i < 3; i++) {
		snprintf(buf, sizeof(buf), "%s/%s", state_dir, subdirs[i]);
		if ((rc = mkdir_p(buf)) < 0) {
			dir_free(st);
			return ns_error_set(err, rc, "state directory %s: %s", buf, strerror(-rc));
		}
	}
	*out = st;
	return 0;
}
