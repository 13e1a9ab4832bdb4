/* link.c — link creation through one ops table per kind, plus lookup, change and delete. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>

#include "link.h"

#define VXLAN_PORT 4789

/* ---- per-kind hooks ---------------------------------------------------------------------- */

static int bridge_check(const struct ns_link_spec *spec, struct ns_error *err)
{
	if (spec->master)
		return ns_error_set(err, -EINVAL, "bridge %s: a bridge cannot be enslaved here",
				    spec->name);
	return 0;
}

static void bridge_put_data(struct nlmsghdr *nlh, const struct ns_link_spec *spec)
{
	/* STP off: a port forwards at once instead of after 2 x forward_delay (30 s). */
	mnl_attr_put_u32(nlh, IFLA_BR_STP_STATE, 0);
}

static int veth_check(const struct ns_link_spec *spec, struct ns_error *err)
{
	if (!spec->veth.peer_name || !*spec->veth.peer_name ||
	    strlen(spec->veth.peer_name) >= NS_IFNAMSIZ)
		return ns_error_set(err, -EINVAL, "veth %s: bad peer name", spec->name);
	return 0;
}

static void veth_put_data(struct nlmsghdr *nlh, const struct ns_link_spec *spec)
{
	struct nlattr *peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	/* The peer stays down: asking for IFF_UP here fails with ENOTCONN when the peer lands in
	 * another netns (kernel 6.18), so the container side brings it up itself. */
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, spec->veth.peer_name);
	if (spec->mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, spec->mtu);
	if (spec->veth.peer_netns_fd >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)spec->veth.peer_netns_fd);
	if (spec->veth.peer_mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, spec->veth.peer_mac);
	mnl_attr_nest_end(nlh, peer);
}

static int macvlan_check(const struct ns_link_spec *spec, struct ns_error *err)
{
	if (spec->macvlan.parent <= 0)
		return ns_error_set(err, -EINVAL, "macvlan %s: no parent device", spec->name);
	return 0;
}

static void macvlan_put_attrs(struct nlmsghdr *nlh, const struct ns_link_spec *spec)
{
	mnl_attr_put_u32(nlh, IFLA_LINK, (uint32_t)spec->macvlan.parent);
}

static void macvlan_put_data(struct nlmsghdr *nlh, const struct ns_link_spec *spec)
{
	static const uint32_t mode[] = {
		[NS_MACVLAN_BRIDGE] = MACVLAN_MODE_BRIDGE,
		[NS_MACVLAN_PRIVATE] = MACVLAN_MODE_PRIVATE,
		[NS_MACVLAN_VEPA] = MACVLAN_MODE_VEPA,
	};
	mnl_attr_put_u32(nlh, IFLA_MACVLAN_MODE, mode[spec->macvlan.mode]);
}

static int vxlan_check(const struct ns_link_spec *spec, struct ns_error *err)
{
	if (spec->vxlan.vni == 0 || spec->vxlan.vni > 0xffffff)
		return ns_error_set(err, -EINVAL, "vxlan %s: VNI must be 1..16777215", spec->name);
	if (spec->vxlan.local.family != AF_INET && spec->vxlan.local.family != AF_INET6)
		return ns_error_set(err, -EINVAL, "vxlan %s: no local underlay address", spec->name);
	return 0;
}

static void vxlan_put_data(struct nlmsghdr *nlh, const struct ns_link_spec *spec)
{
	mnl_attr_put_u32(nlh, IFLA_VXLAN_ID, spec->vxlan.vni);
	if (spec->vxlan.local.family == AF_INET)
		mnl_attr_put(nlh, IFLA_VXLAN_LOCAL, 4, spec->vxlan.local.a);
	else
		mnl_attr_put(nlh, IFLA_VXLAN_LOCAL6, 16, spec->vxlan.local.a);
	if (spec->vxlan.dev)
		mnl_attr_put_u32(nlh, IFLA_VXLAN_LINK, (uint32_t)spec->vxlan.dev);
	mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(spec->vxlan.port ? spec->vxlan.port : VXLAN_PORT));
	mnl_attr_put_u8(nlh, IFLA_VXLAN_LEARNING, spec->vxlan.learning);
	mnl_attr_put_u8(nlh, IFLA_VXLAN_PROXY, spec->vxlan.proxy);
}

static const struct ns_link_ops link_kinds[] = {
	{ "bridge", bridge_check, NULL, bridge_put_data },
	{ "veth", veth_check, NULL, veth_put_data },
	{ "macvlan", macvlan_check, macvlan_put_attrs, macvlan_put_data },
	{ "vxlan", vxlan_check, NULL, vxlan_put_data },
};

const struct ns_link_ops *ns_link_ops_find(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof(link_kinds) / sizeof(link_kinds[0]); i++)
		if (!strcmp(link_kinds[i].kind, kind))
			return &link_kinds[i];
	return NULL;
}

/* ---- generic operations ------------------------------------------------------------------ */

static struct nlmsghdr *link_msg(struct ns_nl *nl, int type, int flags, int ifindex,
				 struct ifinfomsg **ifip)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(ns_nl_buf(nl));
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = (uint16_t)type;
	nlh->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (ifip)
		*ifip = ifi;
	return nlh;
}

static int check_name(const char *name, struct ns_error *err)
{
	if (!name || !*name || strlen(name) >= NS_IFNAMSIZ || strchr(name, '/') ||
	    strchr(name, ' '))
		return ns_error_set(err, -EINVAL, "bad interface name '%s'", name ? name : "");
	return 0;
}

int ns_link_add(struct ns_nl *nl, const struct ns_link_spec *spec, struct ns_error *err)
{
	const struct ns_link_ops *ops = ns_link_ops_find(spec->kind);
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh;
	struct nlattr *info, *data;
	int rc;

	if (!ops)
		return ns_error_set(err, -EOPNOTSUPP, "unknown link kind '%s'",
				    spec->kind ? spec->kind : "");
	if ((rc = check_name(spec->name, err)) < 0 || (ops->check && (rc = ops->check(spec, err)) < 0))
		return rc;
	nlh = link_msg(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, &ifi);
	if (spec->up) {
		ifi->ifi_flags = IFF_UP;
		ifi->ifi_change = IFF_UP;
	}
	mnl_attr_put_strz(nlh, IFLA_IFNAME, spec->name);
	if (spec->mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, spec->mtu);
	if (spec->master)
		mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)spec->master);
	if (spec->mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, spec->mac);
	if (spec->netns_fd >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)spec->netns_fd);
	if (ops->put_attrs)
		ops->put_attrs(nlh, spec);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, ops->kind);
	if (ops->put_data) {
		data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
		ops->put_data(nlh, spec);
		mnl_attr_nest_end(nlh, data);
	}
	mnl_attr_nest_end(nlh, info);
	rc = ns_nl_talk(nl, nlh, NULL, NULL, err);
	if (rc < 0)
		return ns_error_wrap(err, rc, "create %s %s", ops->kind, spec->name);
	return 0;
}

static int linkinfo_cb(const struct nlattr *attr, void *data)
{
	struct ns_link_info *li = data;

	if (mnl_attr_get_type(attr) == IFLA_INFO_KIND &&
	    mnl_attr_validate(attr, MNL_TYPE_STRING) >= 0)
		snprintf(li->kind, sizeof(li->kind), "%.*s", (int)mnl_attr_get_payload_len(attr),
			 (const char *)mnl_attr_get_payload(attr));
	return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	struct ns_link_info *li = data;

	switch (mnl_attr_get_type(attr)) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
			snprintf(li->name, sizeof(li->name), "%s", mnl_attr_get_str(attr));
		break;
	case IFLA_MTU:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			li->mtu = mnl_attr_get_u32(attr);
		break;
	case IFLA_MASTER:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			li->master = (int)mnl_attr_get_u32(attr);
		break;
	case IFLA_ADDRESS:
		if (mnl_attr_get_payload_len(attr) == 6)
			memcpy(li->mac, mnl_attr_get_payload(attr), 6);
		break;
	case IFLA_LINKINFO:
		if (mnl_attr_validate(attr, MNL_TYPE_NESTED) >= 0)
			mnl_attr_parse_nested(attr, linkinfo_cb, li);
		break;
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ns_link_info *li = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	memset(li, 0, sizeof(*li));
	li->ifindex = ifi->ifi_index;
	li->flags = ifi->ifi_flags;
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, li);
	return MNL_CB_OK;
}

int ns_link_get(struct ns_nl *nl, const char *name, struct ns_link_info *out,
		struct ns_error *err)
{
	struct ns_link_info li = { 0 };
	struct nlmsghdr *nlh;
	int rc;

	if ((rc = check_name(name, err)) < 0)
		return rc;
	nlh = link_msg(nl, RTM_GETLINK, 0, 0, NULL);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	/* Statistics are most of a link reply and we never read them. */
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	rc = ns_nl_talk(nl, nlh, link_cb, &li, err);
	if (rc == -ENODEV)
		return ns_error_set(err, rc, "no interface %s", name);
	if (rc < 0)
		return ns_error_wrap(err, rc, "look up %s", name);
	if (out)
		*out = li;
	return 0;
}

int ns_link_get_index(struct ns_nl *nl, int ifindex, struct ns_link_info *out,
		      struct ns_error *err)
{
	struct ns_link_info li = { 0 };
	struct nlmsghdr *nlh = link_msg(nl, RTM_GETLINK, 0, ifindex, NULL);
	int rc;

	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	rc = ns_nl_talk(nl, nlh, link_cb, &li, err);
	if (rc < 0)
		return ns_error_wrap(err, rc, "look up link %d", ifindex);
	if (out)
		*out = li;
	return 0;
}

int ns_link_del(struct ns_nl *nl, const char *name, struct ns_error *err)
{
	struct nlmsghdr *nlh;
	int rc;

	if ((rc = check_name(name, err)) < 0)
		return rc;
	nlh = link_msg(nl, RTM_DELLINK, 0, 0, NULL);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	rc = ns_nl_talk(nl, nlh, NULL, NULL, err);
	if (rc == -ENODEV)
		return ns_error_set(err, rc, "no interface %s", name);
	if (rc < 0)
		return ns_error_wrap(err, rc, "delete %s", name);
	return 0;
}

int ns_link_set(struct ns_nl *nl, int ifindex, const struct ns_link_change *ch,
		struct ns_error *err)
{
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh = link_msg(nl, RTM_NEWLINK, 0, ifindex, &ifi);
	int rc;

	if (ch->up >= 0) {
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = ch->up ? IFF_UP : 0;
	}
	if (ch->mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, ch->mtu);
	if (ch->new_name) {
		if ((rc = check_name(ch->new_name, err)) < 0)
			return rc;
		mnl_attr_put_strz(nlh, IFLA_IFNAME, ch->new_name);
	}
	if (ch->netns_fd >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)ch->netns_fd);
	if (ch->master)
		mnl_attr_put_u32(nlh, IFLA_MASTER, ch->master < 0 ? 0 : (uint32_t)ch->master);
	if (ch->mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, ch->mac);
	rc = ns_nl_talk(nl, nlh, NULL, NULL, err);
	if (rc < 0)
		return ns_error_wrap(err, rc, "change link %d", ifindex);
	return 0;
}

int ns_link_set_hairpin(struct ns_nl *nl, int ifindex, bool on, struct ns_error *err)
{
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh = link_msg(nl, RTM_SETLINK, 0, ifindex, &ifi);
	struct nlattr *nest;
	int rc;

	/* Bridge port flags live in the AF_BRIDGE family's IFLA_PROTINFO, as `bridge link` does. */
	ifi->ifi_family = AF_BRIDGE;
	nest = mnl_attr_nest_start(nlh, IFLA_PROTINFO | NLA_F_NESTED);
	mnl_attr_put_u8(nlh, IFLA_BRPORT_MODE, on);
	mnl_attr_nest_end(nlh, nest);
	rc = ns_nl_talk(nl, nlh, NULL, NULL, err);
	if (rc < 0)
		return ns_error_wrap(err, rc, "hairpin on link %d", ifindex);
	return 0;
}

char *ns_mac_format(const uint8_t mac[6], char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
	return buf;
}

int ns_mac_parse(const char *s, uint8_t mac[6])
{
	unsigned int v[6];
	char tail;

	if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			 &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}
