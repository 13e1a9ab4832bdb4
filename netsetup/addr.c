/* addr.c — addresses, routes, neighbours, FDB entries. */
#include <errno.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "addr.h"
#include "link.h"

static struct nlmsghdr *msg(struct ns_nl *nl, int type, int flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(ns_nl_buf(nl));

	nlh->nlmsg_type = (uint16_t)type;
	nlh->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
	return nlh;
}

static int addr_msg(struct ns_nl *nl, int type, int flags, int ifindex, const struct ns_prefix *p,
		    bool nodad, struct ns_error *err)
{
	struct nlmsghdr *nlh = msg(nl, type, flags);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	char buf[NS_PREFIX_STRLEN];
	int rc;

	ifa->ifa_family = (uint8_t)p->ip.family;
	ifa->ifa_prefixlen = (uint8_t)p->len;
	ifa->ifa_index = (uint32_t)ifindex;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	mnl_attr_put(nlh, IFA_LOCAL, ns_ip_len(&p->ip), p->ip.a);
	mnl_attr_put(nlh, IFA_ADDRESS, ns_ip_len(&p->ip), p->ip.a);
	if (p->ip.family == AF_INET && p->len < 31) {
		/* ip(8) sets the broadcast address too; without it, subnet broadcasts go unheard. */
		struct ns_ip b = ns_prefix_last(p);
		mnl_attr_put(nlh, IFA_BROADCAST, 4, b.a);
	}
	if (nodad)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	rc = ns_nl_talk(nl, nlh, NULL, NULL, err);
	if (rc < 0)
		return ns_error_wrap(err, rc, "%s address %s", type == RTM_NEWADDR ? "add" : "delete",
				     ns_prefix_format(p, buf));
	return 0;
}

int ns_addr_add(struct ns_nl *nl, int ifindex, const struct ns_prefix *p, bool nodad,
		struct ns_error *err)
{
	return addr_msg(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifindex, p, nodad, err);
}

int ns_addr_del(struct ns_nl *nl, int ifindex, const struct ns_prefix *p, struct ns_error *err)
{
	return addr_msg(nl, RTM_DELADDR, 0, ifindex, p, false, err);
}

struct addr_find {
	const struct ns_ip *want;
	int ifindex, prefixlen;
};

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type == IFA_LOCAL || type == IFA_ADDRESS)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int addr_find_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_find *f = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFA_MAX + 1] = { 0 };
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != f->want->family || f->ifindex)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb);
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (a && mnl_attr_get_payload_len(a) == ns_ip_len(f->want) &&
	    !memcmp(mnl_attr_get_payload(a), f->want->a, ns_ip_len(f->want))) {
		f->ifindex = (int)ifa->ifa_index;
		f->prefixlen = ifa->ifa_prefixlen;
	}
	return MNL_CB_OK;
}

int ns_addr_find(struct ns_nl *nl, const struct ns_ip *ip, int *ifindex, int *prefixlen,
		 struct ns_error *err)
{
	struct nlmsghdr *nlh = msg(nl, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	struct addr_find f = { ip, 0, 0 };
	char buf[NS_IP_STRLEN];
	int rc;

	ifa->ifa_family = (uint8_t)ip->family;
	rc = ns_nl_talk(nl, nlh, addr_find_cb, &f, err);
	if (rc < 0)
		return ns_error_wrap(err, rc, "list addresses");
	if (!f.ifindex)
		return ns_error_set(err, -ENOENT, "no local interface has address %s",
				    ns_ip_format(ip, buf));
	if (ifindex)
		*ifindex = f.ifindex;
	if (prefixlen)
		*prefixlen = f.prefixlen;
	return 0;
}

int ns_route_add(struct ns_nl *nl, int family, const struct ns_prefix *dst,
		 const struct ns_ip *gw, int ifindex, struct ns_error *err)
{
	struct nlmsghdr *nlh = msg(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	char buf[NS_PREFIX_STRLEN];
	int rc;

	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = dst ? (uint8_t)dst->len : 0;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	if (dst)
		mnl_attr_put(nlh, RTA_DST, ns_ip_len(&dst->ip), dst->ip.a);
	if (gw)
		mnl_attr_put(nlh, RTA_GATEWAY, ns_ip_len(gw), gw->a);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	rc = ns_nl_talk(nl, nlh, NULL, NULL, err);
	if (rc < 0)
		return ns_error_wrap(err, rc, "add route %s", dst ? ns_prefix_format(dst, buf) : "default");
	return 0;
}

static struct nlmsghdr *neigh_msg(struct ns_nl *nl, int type, int flags, int family, int ifindex,
				  uint8_t ntf)
{
	struct nlmsghdr *nlh = msg(nl, type, flags);
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));

	nd->ndm_family = (uint8_t)family;
	nd->ndm_ifindex = ifindex;
	nd->ndm_state = NUD_PERMANENT;
	nd->ndm_flags = ntf;
	return nlh;
}

int ns_neigh_add(struct ns_nl *nl, int ifindex, const struct ns_ip *ip, const uint8_t mac[6],
		 struct ns_error *err)
{
	struct nlmsghdr *nlh = neigh_msg(nl, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE,
					 ip->family, ifindex, 0);
	char buf[NS_IP_STRLEN];
	int rc;

	mnl_attr_put(nlh, NDA_DST, ns_ip_len(ip), ip->a);
	mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
	rc = ns_nl_talk(nl, nlh, NULL, NULL, err);
	if (rc < 0)
		return ns_error_wrap(err, rc, "add neighbour %s", ns_ip_format(ip, buf));
	return 0;
}

int ns_neigh_del(struct ns_nl *nl, int ifindex, const struct ns_ip *ip, struct ns_error *err)
{
	struct nlmsghdr *nlh = neigh_msg(nl, RTM_DELNEIGH, 0, ip->family, ifindex, 0);
	char buf[NS_IP_STRLEN];
	int rc;

	mnl_attr_put(nlh, NDA_DST, ns_ip_len(ip), ip->a);
	rc = ns_nl_talk(nl, nlh, NULL, NULL, err);
	if (rc < 0)
		return ns_error_wrap(err, rc, "delete neighbour %s", ns_ip_format(ip, buf));
	return 0;
}

/* One FDB request: NTF_SELF puts the entry into the vxlan device's own table, not a bridge's. */
static int fdb_msg(struct ns_nl *nl, int type, int flags, int ifindex, const uint8_t mac[6],
		   const struct ns_ip *dst, struct ns_error *err)
{
	struct nlmsghdr *nlh = neigh_msg(nl, type, flags, AF_BRIDGE, ifindex, NTF_SELF);
	char buf[18];
	int rc;

	mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
	if (dst)
		mnl_attr_put(nlh, NDA_DST, ns_ip_len(dst), dst->a);
	rc = ns_nl_talk(nl, nlh, NULL, NULL, err);
	if (rc == -EEXIST && (flags & NLM_F_APPEND))
		return 0; /* that destination is already in the list */
	if (rc < 0)
		return ns_error_wrap(err, rc, "%s fdb entry %s", type == RTM_NEWNEIGH ? "add" : "delete",
				     ns_mac_format(mac, buf));
	return 0;
}

int ns_fdb_add(struct ns_nl *nl, int ifindex, const uint8_t mac[6], const struct ns_ip *dst,
	       bool append, struct ns_error *err)
{
	return fdb_msg(nl, RTM_NEWNEIGH, NLM_F_CREATE | (append ? NLM_F_APPEND : NLM_F_REPLACE),
		       ifindex, mac, dst, err);
}

int ns_fdb_del(struct ns_nl *nl, int ifindex, const uint8_t mac[6], const struct ns_ip *dst,
	       struct ns_error *err)
{
	return fdb_msg(nl, RTM_DELNEIGH, 0, ifindex, mac, dst, err);
}

struct fdb_walk {
	int ifindex;
	void (*fn)(const struct ns_fdb_entry *e, void *data);
	void *data;
};

static int fdb_attr_cb(const struct nlattr *attr, void *data)
{
	struct ns_fdb_entry *e = data;
	size_t len = mnl_attr_get_payload_len(attr);

	switch (mnl_attr_get_type(attr)) {
	case NDA_LLADDR:
		if (len == 6)
			memcpy(e->mac, mnl_attr_get_payload(attr), 6);
		break;
	case NDA_DST:
		if (len == 4 || len == 16) {
			e->dst.family = len == 4 ? AF_INET : AF_INET6;
			memcpy(e->dst.a, mnl_attr_get_payload(attr), len);
		}
		break;
	}
	return MNL_CB_OK;
}

static int fdb_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fdb_walk *w = data;
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
	struct ns_fdb_entry e = { 0 };

	if (nlh->nlmsg_type != RTM_NEWNEIGH || nd->ndm_ifindex != w->ifindex)
		return MNL_CB_OK;
	e.state = nd->ndm_state;
	mnl_attr_parse(nlh, sizeof(*nd), fdb_attr_cb, &e);
	w->fn(&e, w->data);
	return MNL_CB_OK;
}

int ns_fdb_list(struct ns_nl *nl, int ifindex,
		void (*fn)(const struct ns_fdb_entry *e, void *data), void *data,
		struct ns_error *err)
{
	struct nlmsghdr *nlh = msg(nl, RTM_GETNEIGH, NLM_F_DUMP);
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	struct fdb_walk w = { ifindex, fn, data };
	int rc;

	nd->ndm_family = AF_BRIDGE;
	nd->ndm_ifindex = ifindex; /* a filter since 4.15; fdb_cb filters again for older kernels */
	rc = ns_nl_talk(nl, nlh, fdb_cb, &w, err);
	if (rc < 0)
		return ns_error_wrap(err, rc, "list fdb");
	return 0;
}
