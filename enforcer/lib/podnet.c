/* podnet.c — see podnet.h. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "podnet.h"
#include "vec.h"

bool podnet_pod_wanted(const struct np_pod *pod, const char *node)
{
	if (!pod->attach || strcmp(pod->attach, "macvlan") || !pod->netns || !pod->netns[0])
		return false;
	if (pod->host_network || pod->n_ips == 0)
		return false;
	return !node || !pod->node || !strcmp(pod->node, node);
}

void podnet_targets(const struct np_inventory *inv, const struct rs_options *ro,
		    struct podnet_target **out, size_t *n)
{
	struct podnet_target *v = NULL;
	size_t cap = 0;
	*n = 0;
	for (size_t i = 0; i < inv->n_pods; i++) {
		const struct np_pod *pod = &inv->pods[i];
		if (!podnet_pod_wanted(pod, ro->node))
			continue;
		struct podnet_target *t = &VEC_PUSH(v, *n, cap);
		t->pod = xasprintf("%s/%s", pod->ns, pod->name);
		t->netns = xstrdup(pod->netns);
		t->ro = *ro;
		t->ro.netns_local = true;
		t->ro.local_pod = t->pod;
	}
	*out = v;
}

void podnet_targets_free(struct podnet_target *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].pod);
		free(v[i].netns);
	}
	free(v);
}

int podnet_enter(const char *path, int *saved, struct ns_error *e)
{
	int fd;
	int r = ns_netns_open(path, &fd, e);
	if (r < 0)
		return r;
	/* a record naming the netns we run in would have the one-pod table replace the node's
	 * (same name): refuse it */
	struct stat pod, self;
	if (fstat(fd, &pod) == 0 && stat("/proc/thread-self/ns/net", &self) == 0 &&
	    pod.st_dev == self.st_dev && pod.st_ino == self.st_ino) {
		close(fd);
		return ns_error_set(e, -EBUSY, "%s is the node's own network namespace; a pod's "
				    "table would replace the node's: skipped", path);
	}
	r = ns_netns_enter(fd, saved, e);
	close(fd);
	return r;
}

bool podnet_gone(int r)
{
	return r == -ENOENT || r == -EINVAL;
}
