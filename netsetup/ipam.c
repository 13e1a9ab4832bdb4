/* ipam.c — leases in a JSON file under flock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "atomicio.h"
#include "ipam.h"

/* Bounds the search in huge IPv6 ranges: a network never holds more endpoints than this. */
#define IPAM_MAX_SCAN (1u << 20)

struct lease_file {
	char path[4096];
	int lock_fd;
	json_t *leases; /* object: address text -> owner */
};

static int lease_open(struct lease_file *lf, const char *file, struct ns_error *err)
{
	char lock[4096 + 8];
	json_error_t jerr;
	json_t *root;
	int rc;

	snprintf(lf->path, sizeof(lf->path), "%s", file);
	snprintf(lock, sizeof(lock), "%s.lock", file);
	lf->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lf->lock_fd < 0) {
		rc = -errno;
		return ns_error_set(err, rc, "ipam lock %s: %s", lock, strerror(-rc));
	}
	while (flock(lf->lock_fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		rc = -errno;
		close(lf->lock_fd);
		return ns_error_set(err, rc, "ipam lock %s: %s", lock, strerror(-rc));
	}
	root = json_load_file(file, 0, &jerr);
	if (!root) {
		if (access(file, F_OK) == 0) {
			close(lf->lock_fd);
			return ns_error_set(err, -EBADMSG, "ipam file %s: %s", file, jerr.text);
		}
		lf->leases = json_object();
		return 0;
	}
	lf->leases = json_incref(json_object_get(root, "leases"));
	json_decref(root);
	if (!json_is_object(lf->leases)) {
		json_decref(lf->leases);
		lf->leases = json_object();
	}
	return 0;
}

/* Replaces the file whole and durably (util/atomicio.h): after a crash or power cut the
 * leases are the ones before this change or after it, and a lease handed out stays handed out
 * (without the fsyncs, a rename could reach the disk before the data, or not at all, and the
 * next attach would hand the same address out again). */
static int lease_commit(struct lease_file *lf, struct ns_error *err)
{
	json_t *root = json_pack("{sO}", "leases", lf->leases);
	char *text = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(1));
	int rc;

	json_decref(root);
	if (!text)
		abort(); /* fails only without memory: xalloc.h's policy */
	rc = atomic_write_file(lf->path, text, strlen(text), 0600);
	free(text);
	if (rc < 0)
		return ns_error_set(err, rc, "ipam file %s: %s", lf->path, strerror(-rc));
	return 0;
}

static void lease_close(struct lease_file *lf)
{
	json_decref(lf->leases);
	close(lf->lock_fd); /* drops the flock */
}

bool ns_ipam_reserved(const struct ns_ipam_pool *p, const struct ns_ip *ip)
{
	struct ns_prefix net = ns_prefix_network(&p->subnet);
	struct ns_ip last = ns_prefix_last(&p->subnet);

	if (p->gateway.family && ns_ip_equal(&p->gateway, ip))
		return true;
	if (ns_ip_equal(&net.ip, ip) && p->subnet.len < ns_ip_max_len(ip->family) - 1)
		return true;
	return ip->family == AF_INET && p->subnet.len < 31 && ns_ip_equal(&last, ip);
}

int ns_ipam_pick(const struct ns_ipam_pool *p, bool (*taken)(const struct ns_ip *ip, void *arg),
		 void *arg, struct ns_ip *out)
{
	struct ns_prefix r = ns_prefix_network(&p->range);
	struct ns_ip ip = r.ip, last = ns_prefix_last(&p->range);

	for (unsigned int i = 0; i < IPAM_MAX_SCAN; i++) {
		if (!ns_ipam_reserved(p, &ip) && ns_prefix_contains(&p->subnet, &ip) &&
		    !taken(&ip, arg)) {
			*out = ip;
			return 0;
		}
		if (ns_ip_equal(&ip, &last))
			break;
		ip = ns_ip_add(&ip, 1);
	}
	return -ENOSPC;
}

static bool leased(const struct ns_ip *ip, void *arg)
{
	char buf[NS_IP_STRLEN];

	return json_object_get(arg, ns_ip_format(ip, buf)) != NULL;
}

int ns_ipam_wanted(const struct ns_ipam_pool *pools, size_t n_pools, const struct ns_ip *wanted,
		   size_t n_wanted, struct ns_ip *want, struct ns_error *err)
{
	char buf[NS_IP_STRLEN], pbuf[NS_PREFIX_STRLEN];

	memset(want, 0, n_pools * sizeof(*want));
	for (size_t w = 0; w < n_wanted; w++) {
		size_t i;
		for (i = 0; i < n_pools; i++)
			if (ns_prefix_contains(&pools[i].subnet, &wanted[w]))
				break;
		if (i == n_pools)
			return ns_error_set(err, -EINVAL, "address %s is not in any subnet of the network",
					    ns_ip_format(&wanted[w], buf));
		if (want[i].family)
			return ns_error_set(err, -EINVAL, "two addresses requested in subnet %s",
					    ns_prefix_format(&pools[i].subnet, pbuf));
		if (ns_ipam_reserved(&pools[i], &wanted[w]))
			return ns_error_set(err, -EADDRNOTAVAIL,
					    "address %s is reserved (network, broadcast or gateway)",
					    ns_ip_format(&wanted[w], buf));
		want[i] = wanted[w];
	}
	return 0;
}

int ns_ipam_allocate(const char *file, const struct ns_ipam_pool *pools, size_t n_pools,
		     const char *owner, const struct ns_ip *wanted, size_t n_wanted,
		     struct ns_ip *out, struct ns_error *err)
{
	struct lease_file lf;
	struct ns_ip got[8];
	char buf[NS_IP_STRLEN], pbuf[NS_PREFIX_STRLEN];
	int rc;

	if (n_pools > 8)
		return ns_error_set(err, -EINVAL, "too many subnets");
	if ((rc = ns_ipam_wanted(pools, n_pools, wanted, n_wanted, got, err)) < 0)
		return rc;
	if ((rc = lease_open(&lf, file, err)) < 0)
		return rc;
	for (size_t i = 0; i < n_pools; i++) {
		if (got[i].family) {
			json_t *holder = json_object_get(lf.leases, ns_ip_format(&got[i], buf));
			if (holder) {
				rc = ns_error_set(err, -EADDRINUSE, "address %s is already in use by %s", buf,
						  json_string_value(holder));
				goto close;
			}
		} else if (ns_ipam_pick(&pools[i], leased, lf.leases, &got[i]) < 0) {
			rc = ns_error_set(err, -ENOSPC, "no free address left in %s",
					  ns_prefix_format(&pools[i].range, pbuf));
			goto close;
		}
		/* Taken now, so a second pool with an overlapping range cannot pick it again. */
		json_object_set_new(lf.leases, ns_ip_format(&got[i], buf), json_string(owner));
	}
	if ((rc = lease_commit(&lf, err)) < 0)
		goto close;
	memcpy(out, got, n_pools * sizeof(*got));
close:
	lease_close(&lf);
	return rc;
}

int ns_ipam_release(const char *file, const char *owner, struct ns_error *err)
{
	struct lease_file lf;
	const char *key;
	json_t *val, *tmp;
	bool changed = false;
	int rc;

	if ((rc = lease_open(&lf, file, err)) < 0)
		return rc;
	json_object_foreach_safe(lf.leases, tmp, key, val) {
		if (json_is_string(val) && !strcmp(json_string_value(val), owner)) {
			json_object_del(lf.leases, key);
			changed = true;
		}
	}
	if (changed)
		rc = lease_commit(&lf, err);
	lease_close(&lf);
	return rc;
}

int ns_ipam_count(const char *file, size_t *count, struct ns_error *err)
{
	struct lease_file lf;
	int rc;

	if ((rc = lease_open(&lf, file, err)) < 0)
		return rc;
	*count = json_object_size(lf.leases);
	lease_close(&lf);
	return 0;
}
