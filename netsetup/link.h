/* link.h — links over rtnetlink: create (one ops table per kind), look up, change, delete.
 *
 * Every call takes the socket of the netns it acts in (see nl.h). Creation never replaces an
 * existing link: it returns -EEXIST and the caller decides whether that is success. */
#ifndef NETSETUP_LINK_H
#define NETSETUP_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "ip.h"
#include "nl.h"

#define NS_IFNAMSIZ 16

enum ns_macvlan_mode { NS_MACVLAN_BRIDGE, NS_MACVLAN_PRIVATE, NS_MACVLAN_VEPA };

/* What to create. Fields of other kinds are ignored. */
struct ns_link_spec {
	const char *kind;     /* "bridge", "veth", "macvlan", "vxlan" */
	const char *name;
	int netns_fd;         /* create the link in this netns; -1: the socket's netns */
	unsigned int mtu;     /* 0: kernel default */
	int master;           /* ifindex of a bridge to enslave to; 0: none */
	bool up;
	const uint8_t *mac;   /* its address from birth; NULL: the kernel's random one */
	struct {
		const char *peer_name;
		int peer_netns_fd; /* -1: same netns as the link */
		const uint8_t *peer_mac; /* as mac, for the peer */
	} veth;
	struct {
		int parent;        /* ifindex of the lower device (in the socket's netns) */
		enum ns_macvlan_mode mode;
	} macvlan;
	struct {
		uint32_t vni;
		struct ns_ip local; /* underlay source address */
		int dev;            /* underlay ifindex, 0: any */
		uint16_t port;      /* UDP destination port (4789 when 0) */
		bool learning;
		bool proxy;         /* answer ARP/ND from the neighbour table (no flooding) */
	} vxlan;
};

/* One link kind. Contract of each hook, written once:
 *  check     — reject a spec this kind cannot create, with a message; no side effects.
 *  put_attrs — add top-level IFLA_* attributes (before IFLA_LINKINFO); may be NULL.
 *  put_data  — add the kind's attributes inside IFLA_INFO_DATA; may be NULL. */
struct ns_link_ops {
	const char *kind;
	int (*check)(const struct ns_link_spec *spec, struct ns_error *err);
	void (*put_attrs)(struct nlmsghdr *nlh, const struct ns_link_spec *spec);
	void (*put_data)(struct nlmsghdr *nlh, const struct ns_link_spec *spec);
};

/* The ops for kind, or NULL when this module does not know it. */
const struct ns_link_ops *ns_link_ops_find(const char *kind);

/* What the kernel reports about a link. */
struct ns_link_info {
	int ifindex;
	unsigned int mtu;
	unsigned int flags;   /* IFF_* */
	int master;           /* 0: none */
	uint8_t mac[6];
	char name[NS_IFNAMSIZ];
	char kind[16];        /* "" for kinds without IFLA_INFO_KIND */
};

/* Creates a link; -EEXIST when the name is taken. */
int ns_link_add(struct ns_nl *nl, const struct ns_link_spec *spec, struct ns_error *err);
/* Looks a link up by name; -ENODEV when there is none. */
int ns_link_get(struct ns_nl *nl, const char *name, struct ns_link_info *out,
		struct ns_error *err);
/* Looks a link up by index; -ENODEV when there is none. */
int ns_link_get_index(struct ns_nl *nl, int ifindex, struct ns_link_info *out,
		      struct ns_error *err);
/* Deletes a link by name; -ENODEV when there is none. */
int ns_link_del(struct ns_nl *nl, const char *name, struct ns_error *err);

/* A change to an existing link; unset fields are left alone. */
struct ns_link_change {
	int up;               /* 1 up, 0 down, -1 unchanged */
	unsigned int mtu;     /* 0: unchanged */
	const char *new_name; /* NULL: unchanged */
	int netns_fd;         /* move to this netns; -1: stay */
	int master;           /* ifindex; 0: unchanged; -1: release from its master */
	const uint8_t *mac;   /* NULL: unchanged */
};
#define NS_LINK_CHANGE_NONE { .up = -1, .netns_fd = -1 }

int ns_link_set(struct ns_nl *nl, int ifindex, const struct ns_link_change *ch,
		struct ns_error *err);
/* Turns hairpin mode of a bridge port on or off (traffic may leave by the port it came in). */
int ns_link_set_hairpin(struct ns_nl *nl, int ifindex, bool on, struct ns_error *err);

/* Formats a MAC as "aa:bb:cc:dd:ee:ff" into buf (18 bytes); parses it back (0 or -EINVAL). */
char *ns_mac_format(const uint8_t mac[6], char *buf);
int ns_mac_parse(const char *s, uint8_t mac[6]);

#endif
