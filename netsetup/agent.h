/* agent.h — a host's agent on an etcd store (policyd --store runs one).
 *
 * It registers the node (nodes/NODE: its underlay address) under a lease it keeps alive, and
 * learns everything else by watch: it lists the prefix, reconciles, and watches from the
 * listed revision (a compacted or broken watch lists again). From what it learns it programs
 * this host's overlays, as the drivers do at attach (driver.h): a flood entry to every
 * registered host, FDB and neighbour entries for every endpoint on another host; a detach or
 * a host whose lease expired takes them away. It hands its caller the remote endpoints (for
 * the policy inventory) and the Kubernetes objects under objects/ (netpol store put).
 *
 * When its lease was lost (the host was cut off longer than the TTL while the others kept
 * quorum) it takes a new one and puts this host's records back (from the state directory's
 * copies), checking their addresses still name them. It sends the releases detaches queued
 * while the store was away.
 *
 * The store away is frozen, not broken: nothing it programmed is taken back, no callback says
 * an endpoint or object went; it says since when it is frozen and at which revision, keeps
 * trying, and catches up by itself when the store answers again.
 *
 * Everything runs on the caller's event loop: the store's sockets and timer (struct
 * etcd_loop), and a timer of its own. Nothing blocks. */
#ifndef NETSETUP_AGENT_H
#define NETSETUP_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "etcd.h"
#include "network.h"

struct ns_agent_opts {
	const char *url, *prefix;  /* the store (prefix NULL: netstore.h's default) */
	const char *node;          /* this host's name */
	const char *host_addr;     /* its underlay address; NULL: the source address the kernel
				      picks toward the first store endpoint */
	const char *state_dir;     /* this host's part (netstore_etcd.h) */
	long lease_ttl_s;
	struct etcd_loop loop;     /* the store's sockets and timer */
	/* the agent's own timer: call ns_agent_on_timer in ms milliseconds (-1: not) */
	void (*timer)(void *arg, long ms);
	void *arg;                 /* for every callback */
	void (*log)(void *arg, const char *line);
	/* the remote endpoints changed (ns_agent_endpoints has the new set) */
	void (*endpoints_changed)(void *arg);
	/* object NAME ("NS/KIND/NAME") is now text (len bytes), or gone (text NULL) */
	void (*object)(void *arg, const char *name, const char *text, size_t len);
	/* a list was applied: the maps are the store at ns_agent_status's revision */
	void (*listed)(void *arg);
};

struct ns_agent;

/* Starts it: the lease, the registration and the list begin at once. 0 or -errno (err). */
int ns_agent_new(const struct ns_agent_opts *o, struct ns_agent **out, struct ns_error *err);
void ns_agent_free(struct ns_agent *a);

/* The loop's events (etcd.h) and the agent's own timer. */
void ns_agent_on_fd(struct ns_agent *a, int fd, uint32_t events);
void ns_agent_on_timeout(struct ns_agent *a);
void ns_agent_on_timer(struct ns_agent *a);

/* The records of endpoints on other hosts, at most max into v (valid until the next event);
 * returns how many there are. */
size_t ns_agent_endpoints(const struct ns_agent *a, const struct ns_endpoint **v, size_t max);

/* Whether the store holds object name ("NS/KIND/NAME"), as far as the agent knows. */
bool ns_agent_has_object(const struct ns_agent *a, const char *name);

struct ns_agent_status {
	const char *node, *host_addr, *url;
	bool registered;           /* the node key is there under a live lease */
	int64_t lease;
	bool watching;             /* the watch is delivering */
	int64_t revision;          /* what the agent knows is the store at this revision */
	bool frozen;               /* the store is away */
	time_t frozen_since;
	int64_t frozen_revision;
	const char *why;           /* the last failure */
	size_t nodes, endpoints, remote, objects, pending;
};
void ns_agent_status(const struct ns_agent *a, struct ns_agent_status *out);

#endif
