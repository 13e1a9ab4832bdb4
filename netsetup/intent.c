/* intent.c — intent records (intent.h): written before an attach or detach changes anything,
 * settled by the next operation on the network when their process died. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomicio.h"
#include "driver.h"
#include "intent.h"
#include "netstore.h"
#include "xalloc.h"

#define INTENT_DIR_MODE 0700
#define INTENT_FILE_MODE 0600
#define INTENT_MAX_BYTES (64 * 1024) /* a record is a few hundred bytes */

struct ns_intent {
	char path[4096 + 256];
	int fd; /* holds the lock: the kernel drops it with the process */
};

static const char *const op_names[] = { "attach", "detach" };

void ns_ctx_note(struct ns_ctx *ctx, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!ctx->note)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->note(ctx->note_arg, msg);
}

static void intent_dir(const struct ns_ctx *ctx, const char *network, char *buf, size_t n)
{
	snprintf(buf, n, "%s/intents/%s", ctx->state_dir, network);
}

static int make_intent_dir(const struct ns_ctx *ctx, const char *network, struct ns_error *err)
{
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s/intents", ctx->state_dir);
	if (mkdir(dir, INTENT_DIR_MODE) < 0 && errno != EEXIST)
		return ns_error_set(err, -errno, "mkdir %s: %s", dir, strerror(errno));
	intent_dir(ctx, network, dir, sizeof(dir));
	if (mkdir(dir, INTENT_DIR_MODE) < 0 && errno != EEXIST)
		return ns_error_set(err, -errno, "mkdir %s: %s", dir, strerror(errno));
	return 0;
}

/* ---- the interfaces an intent names ---- */

/* Opens a netlink socket inside ep's netns; NULL when it is gone (or ep has none). */
static struct ns_nl *container_nl(const struct ns_endpoint *ep)
{
	struct ns_nl *nl;
	int fd;

	if (!ep->netns[0] || ns_netns_open(ep->netns, &fd, NULL) < 0)
		return NULL;
	nl = ns_nl_new(fd, NULL);
	close(fd);
	return nl;
}

static bool mac_chosen(const struct ns_endpoint *ep)
{
	static const uint8_t zero[6];

	return memcmp(ep->mac, zero, 6) != 0;
}

/* Whether ep's container interface exists with ep's MAC (and its node end, when it has one). */
static bool interface_whole(struct ns_ctx *ctx, const struct ns_endpoint *ep)
{
	struct ns_link_info li;
	struct ns_nl *nl;
	bool whole;

	if (!ep->netns[0])
		return true; /* host: nothing to make */
	if (!(nl = container_nl(ep)))
		return false;
	whole = ns_link_get(nl, ep->ifname, &li, NULL) == 0 && !memcmp(li.mac, ep->mac, 6);
	ns_nl_free(nl);
	return whole && (!ep->host_ifname[0] || ns_link_get(ctx->nl, ep->host_ifname, &li, NULL) == 0);
}

/* Removes the container interface ep's attach made: one of its name with the MAC it chose
 * (drivers give it at creation), never a namesake that another attach made. */
static bool remove_container_if(const struct ns_endpoint *ep)
{
	struct ns_link_info li;
	struct ns_nl *nl;
	bool removed = false;

	if (!mac_chosen(ep) || !(nl = container_nl(ep)))
		return false;
	if (ns_link_get(nl, ep->ifname, &li, NULL) == 0 && !memcmp(li.mac, ep->mac, 6))
		removed = ns_link_del(nl, ep->ifname, NULL) == 0;
	ns_nl_free(nl);
	return removed;
}

/* ---- settling ---- */

static struct ns_endpoint *bare_endpoint(const struct ns_endpoint *of)
{
	struct ns_endpoint *ep = ns_endpoint_new();

	snprintf(ep->network, sizeof(ep->network), "%s", of->network);
	snprintf(ep->id, sizeof(ep->id), "%s", of->id);
	return ep;
}

static void addrs_text(const struct ns_endpoint *ep, char *buf, size_t n)
{
	char p[NS_PREFIX_STRLEN];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ep->n_addrs && off < n; i++)
		off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? ", " : "",
					ns_prefix_format(&ep->addrs[i], p));
	if (!ep->n_addrs)
		snprintf(buf, n, "its addresses");
}

/* A dead attach: kept when the store holds its record (its MAC) and its interface is whole
 * (then committed again: a commit is safe to repeat); else rolled back, interface first. */
static void settle_attach(struct ns_ctx *ctx, const struct ns_network *net,
			  const struct ns_endpoint *in, long pid, char *note, size_t n)
{
	const struct ns_driver_ops *ops = ns_driver_ops_get(net->driver);
	struct ns_store *st = ctx->store;
	struct ns_endpoint *cur = NULL, *gone;
	struct ns_error e = { "" };
	struct ns_link_info li;
	char addrs[128], who[48];
	bool ours, rm_if;
	int rc = st->ops->ep_get(st, net->name, in->id, &cur, &e);

	/* pid 0: an empty record without an intent (ns_intent_sweep) */
	if (pid)
		snprintf(who, sizeof(who), "pid %ld", pid);
	else
		snprintf(who, sizeof(who), "no intent, an empty record");
	ours = rc == 0 && cur->driver[0] && !memcmp(cur->mac, in->mac, 6);
	if (rc == 0 && cur->driver[0] && !ours) {
		/* an endpoint of that id was attached before this attach began */
		rm_if = remove_container_if(in);
		snprintf(note, n, "attach of %s (%s) was killed before it claimed anything: the "
			 "attached endpoint of that id is kept%s", in->id, who,
			 rm_if ? "; the interface it had made is removed" : "");
		ns_endpoint_free(cur);
		return;
	}
	if (ours && interface_whole(ctx, cur) && st->ops->ep_commit(st, net, cur, &e) == 0) {
		snprintf(note, n, "attach of %s (%s) was killed after its work: the endpoint is "
			 "whole and kept", in->id, who);
		ns_endpoint_free(cur);
		return;
	}
	gone = ours ? cur : bare_endpoint(in);
	if (!ours)
		ns_endpoint_free(cur);
	/* no address is free while an interface still holds it */
	rm_if = remove_container_if(in);
	if (in->host_ifname[0] && ns_link_get(ctx->nl, in->host_ifname, &li, NULL) == 0)
		rm_if |= ops->detach(ctx, net, in, NULL) == 0; /* the node end, and the pair */
	addrs_text(gone, addrs, sizeof(addrs));
	rc = st->ops->ep_release(st, net, gone, &e);
	snprintf(note, n, "attach of %s (%s) was killed: rolled back (%s%s %s%s)", in->id, who,
		 rm_if ? "interface removed, " : "", addrs,
		 rc < 0 ? "NOT released: " : "released, record removed", rc < 0 ? e.msg : "");
	ns_endpoint_free(gone);
}

/* A dead detach: rolled forward (the interface, then record and addresses). */
static void settle_detach(struct ns_ctx *ctx, const struct ns_network *net,
			  const struct ns_endpoint *in, long pid, char *note, size_t n)
{
	struct ns_store *st = ctx->store;
	struct ns_endpoint *cur = NULL;
	struct ns_error e = { "" };
	char addrs[128];
	int rc = st->ops->ep_get(st, net->name, in->id, &cur, &e);

	if (rc == -ENOENT) {
		snprintf(note, n, "detach of %s (pid %ld) was killed after its work: nothing left",
			 in->id, pid);
		return;
	}
	if (rc < 0)
		cur = bare_endpoint(in);
	if (cur->driver[0] &&
	    (rc = ns_driver_ops_get(net->driver)->detach(ctx, net, cur, &e)) < 0) {
		snprintf(note, n, "detach of %s (pid %ld) was killed; completing it failed: %s",
			 in->id, pid, e.msg);
		ns_endpoint_free(cur);
		return;
	}
	addrs_text(cur, addrs, sizeof(addrs));
	rc = st->ops->ep_release(st, net, cur, &e);
	snprintf(note, n, "detach of %s (pid %ld) was killed: completed (interface removed, %s %s)",
		 in->id, pid, addrs, rc < 0 ? "NOT released" : "released, record removed");
	ns_endpoint_free(cur);
}

/* Says note: one object appended to report when given, else ns_ctx_note. */
static void say(struct ns_ctx *ctx, const struct ns_network *net, const char *id,
		const char *note, json_t *report)
{
	if (report)
		json_array_append_new(report, json_pack("{s:s,s:s,s:s}", "network", net->name,
							"owner", id, "note", note));
	else
		ns_ctx_note(ctx, "network %s: %s", net->name, note);
}

/* Reads the intent held by fd. */
static json_t *read_intent(int fd)
{
	char *buf = xmalloc(INTENT_MAX_BYTES);
	ssize_t got;
	size_t len = 0;
	json_t *j;

	while (len < INTENT_MAX_BYTES &&
	       (got = pread(fd, buf + len, INTENT_MAX_BYTES - len, (off_t)len)) > 0)
		len += (size_t)got;
	j = json_loadb(buf, len, 0, NULL);
	free(buf);
	return j;
}

/* Settles the intent at path, taken over (fd); says it; drops it. */
static void settle(struct ns_ctx *ctx, const struct ns_network *net, const char *path, int fd,
		   json_t *report)
{
	json_t *j = read_intent(fd);
	const char *op = json_string_value(json_object_get(j, "op"));
	long pid = (long)json_integer_value(json_object_get(j, "pid"));
	struct ns_endpoint *in = ns_endpoint_new();
	char note[1024];

	if (!j || !op || ns_endpoint_from_json(json_object_get(j, "record"), in, NULL) < 0 ||
	    strcmp(in->network, net->name) || !ns_name_valid(in->id, sizeof(in->id) - 1))
		snprintf(note, sizeof(note), "unreadable intent %s removed", path);
	else if (!strcmp(op, op_names[NS_INTENT_DETACH]))
		settle_detach(ctx, net, in, pid, note, sizeof(note));
	else
		settle_attach(ctx, net, in, pid, note, sizeof(note));
	say(ctx, net, in->id, note, report);
	ns_endpoint_free(in);
	json_decref(j);
	atomic_held_drop(path, fd);
}

/* ---- the API ---- */

int ns_intent_begin(struct ns_ctx *ctx, const struct ns_network *net, enum ns_intent_op op,
		    const struct ns_endpoint *ep, struct ns_intent **out, struct ns_error *err)
{
	struct ns_intent *in = xcalloc(1, sizeof(*in));
	json_t *j = json_pack("{s:s,s:I,s:o}", "op", op_names[op], "pid", (json_int_t)getpid(),
			      "record", ns_endpoint_to_json(ep));
	char *text = json_dumps(j, JSON_SORT_KEYS), dir[4096];
	int rc, fd;

	json_decref(j);
	if (!text)
		abort(); /* fails only without memory: xalloc.h's policy */
	intent_dir(ctx, net->name, dir, sizeof(dir));
	snprintf(in->path, sizeof(in->path), "%s/%s.json", dir, ep->id);
	if ((rc = make_intent_dir(ctx, net->name, err)) < 0)
		goto fail;
	/* a dead process's intent of this endpoint is settled first; a live one's wins */
	for (int tries = 0; tries < 8; tries++) {
		if ((rc = atomic_held_create(in->path, text, strlen(text), INTENT_FILE_MODE,
					     &in->fd)) != -EEXIST)
			break;
		if ((rc = atomic_held_take(in->path, &fd)) == 0)
			settle(ctx, net, in->path, fd, NULL);
		else if (rc == -EBUSY)
			break;
		rc = -EEXIST;
	}
	if (rc == -EBUSY || rc == -EEXIST) {
		rc = ns_error_set(err, -EBUSY, "another operation is at work on endpoint %s of "
				  "network %s", ep->id, net->name);
		goto fail;
	}
	if (rc < 0) {
		rc = ns_error_set(err, rc, "write %s: %s", in->path, strerror(-rc));
		goto fail;
	}
	free(text);
	*out = in;
	return 0;
fail:
	free(text);
	free(in);
	return rc;
}

void ns_intent_end(struct ns_intent *in)
{
	if (!in)
		return;
	atomic_held_drop(in->path, in->fd);
	free(in);
}

/* Removes the hidden temporaries of atomic_held_create in dir older than age_s: a creator
 * removes its own within milliseconds, so an old one was left by a process killed meanwhile. */
static void drop_temporaries(const char *dir, long age_s)
{
	char path[4096 + 256];
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		if (de->d_name[0] != '.' || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && time(NULL) - st.st_mtime >= age_s)
			unlink(path);
	}
	if (d)
		closedir(d);
}

int ns_intent_recover(struct ns_ctx *ctx, const struct ns_network *net, json_t *report)
{
	char dir[4096], path[4096 + 256];
	struct dirent *de;
	DIR *d;
	int n = 0, fd;

	intent_dir(ctx, net->name, dir, sizeof(dir));
	if (!(d = opendir(dir)))
		return 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		/* hidden: a temporary of atomic_held_create */
		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (atomic_held_take(path, &fd) == 0) {
			settle(ctx, net, path, fd, report);
			n++;
		}
	}
	closedir(d);
	drop_temporaries(dir, 60);
	return n;
}

int ns_intent_sweep(struct ns_ctx *ctx, const struct ns_network *net, json_t *report)
{
	const struct ns_driver_ops *ops = ns_driver_ops_get(net->driver);
	struct ns_endpoint *eps;
	size_t n_eps;
	int n = 0;

	n = ns_intent_recover(ctx, net, report);
	if (ctx->store->ops->ep_list(ctx->store, net->name, &eps, &n_eps, NULL) < 0)
		return n;
	for (size_t i = 0; i < n_eps; i++) {
		struct ns_endpoint *bare;
		struct ns_intent *in;
		if (eps[i].driver[0])
			continue; /* a whole record */
		/* an empty record: the reservation of an attach; once its id is ours, no attach
		 * of it runs, and a reservation still empty was left by one that died */
		bare = bare_endpoint(&eps[i]);
		if (ops->prepare)
			ops->prepare(ctx, net, bare, NULL); /* the node end's name */
		if (ns_intent_begin(ctx, net, NS_INTENT_ATTACH, bare, &in, NULL) == 0) {
			struct ns_endpoint *cur = NULL;
			char note[1024];
			int rc = ctx->store->ops->ep_get(ctx->store, net->name, bare->id, &cur, NULL);
			if (rc == -EBADMSG) {
				settle_attach(ctx, net, bare, 0, note, sizeof(note));
				say(ctx, net, bare->id, note, report);
				n++;
			}
			ns_endpoint_free(cur);
			ns_intent_end(in);
		}
		ns_endpoint_free(bare);
	}
	ns_endpoints_free(eps, n_eps);
	return n;
}

void ns_intent_forget(struct ns_ctx *ctx, const char *network)
{
	char dir[4096];

	intent_dir(ctx, network, dir, sizeof(dir));
	drop_temporaries(dir, 0);
	rmdir(dir); /* fails, harmlessly, while an intent is there */
}
