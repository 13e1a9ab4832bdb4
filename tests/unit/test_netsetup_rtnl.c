/* test_netsetup_rtnl — the rtnetlink layer against the real kernel, inside a private network
 * namespace this process unshares (exit 77, a skip, without CAP_SYS_ADMIN): every link kind,
 * addresses, routes, neighbours, FDB entries (with append), hairpin, sysctls, netns switching
 * and the kernel's extended-ack text in errors. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "addr.h"
#include "link.h"
#include "nl.h"

static struct ns_nl *nl;

static int setup(void **state)
{
	/* main() has moved this process into a private netns already */
	nl = ns_nl_new(-1, NULL);
	return nl ? 0 : -1;
}

static int teardown(void **state)
{
	ns_nl_free(nl);
	return 0;
}

#define NEED_NETNS() assert_non_null(nl)

static int ifindex(const char *name)
{
	struct ns_link_info li;

	assert_int_equal(ns_link_get(nl, name, &li, NULL), 0);
	return li.ifindex;
}

static void test_bridge_veth_and_errors(void **state)
{
	struct ns_link_spec br = { .kind = "bridge", .name = "tbr0", .netns_fd = -1, .up = true };
	struct ns_link_spec veth = { .kind = "veth", .name = "tv0", .netns_fd = -1, .up = true };
	struct ns_error e = { "" };
	struct ns_link_info li;

	NEED_NETNS();
	assert_int_equal(ns_link_add(nl, &br, &e), 0);
	assert_int_equal(ns_link_add(nl, &br, &e), -EEXIST);
	assert_int_equal(ns_link_get(nl, "tbr0", &li, NULL), 0);
	assert_string_equal(li.kind, "bridge");
	assert_true(li.flags & IFF_UP);
	veth.master = li.ifindex;
	veth.veth.peer_name = "tv1";
	veth.veth.peer_netns_fd = -1;
	veth.mtu = 1400;
	assert_int_equal(ns_link_add(nl, &veth, &e), 0);
	assert_int_equal(ns_link_get(nl, "tv0", &li, NULL), 0);
	assert_int_equal(li.master, ifindex("tbr0"));
	assert_int_equal(li.mtu, 1400);
	assert_int_equal(ns_link_get(nl, "tv1", &li, NULL), 0);
	assert_int_equal(li.mtu, 1400);
	assert_int_equal(ns_link_set_hairpin(nl, ifindex("tv0"), true, &e), 0);

	/* The kernel's extended ack reaches the caller's message. */
	struct ns_link_change ch = NS_LINK_CHANGE_NONE;
	ch.mtu = 10;
	assert_int_equal(ns_link_set(nl, ifindex("tv0"), &ch, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "mtu"));
	assert_non_null(strstr(e.msg, "minimum"));
	assert_int_equal(ns_link_get(nl, "nosuch", &li, &e), -ENODEV);
	assert_non_null(strstr(e.msg, "nosuch"));
	assert_int_equal(ns_link_add(nl, &(struct ns_link_spec){ .kind = "dummy", .name = "d0",
								.netns_fd = -1 }, &e), -EOPNOTSUPP);
	assert_int_equal(ns_link_add(nl, &(struct ns_link_spec){ .kind = "bridge",
								.name = "waytoolongname0123",
								.netns_fd = -1 }, &e), -EINVAL);

	/* rename, down, release */
	ch = (struct ns_link_change)NS_LINK_CHANGE_NONE;
	ch.up = 0;
	ch.new_name = "tv1r";
	assert_int_equal(ns_link_set(nl, ifindex("tv1"), &ch, &e), 0);
	assert_int_equal(ns_link_get(nl, "tv1r", &li, NULL), 0);
	assert_false(li.flags & IFF_UP);
	ch = (struct ns_link_change)NS_LINK_CHANGE_NONE;
	ch.master = -1;
	assert_int_equal(ns_link_set(nl, ifindex("tv0"), &ch, &e), 0);
	assert_int_equal(ns_link_get(nl, "tv0", &li, NULL), 0);
	assert_int_equal(li.master, 0);
	assert_int_equal(ns_link_del(nl, "tv0", &e), 0);
	assert_int_equal(ns_link_get(nl, "tv1r", &li, NULL), -ENODEV); /* the pair went */
	assert_int_equal(ns_link_del(nl, "tv0", &e), -ENODEV);
	assert_int_equal(ns_link_del(nl, "tbr0", &e), 0);
}

static void test_addr_route_neigh(void **state)
{
	struct ns_link_spec veth = { .kind = "veth", .name = "ta0", .netns_fd = -1, .up = true,
				     .veth = { "ta1", -1 } };
	struct ns_prefix p4, p6, dst;
	struct ns_ip gw, found, n6;
	struct ns_error e = { "" };
	uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x42 };
	int idx, plen;

	NEED_NETNS();
	assert_int_equal(ns_link_add(nl, &veth, &e), 0);
	idx = ifindex("ta0");
	assert_int_equal(ns_prefix_parse("10.98.0.2/24", &p4), 0);
	assert_int_equal(ns_prefix_parse("fd98::2/64", &p6), 0);
	assert_int_equal(ns_addr_add(nl, idx, &p4, false, &e), 0);
	assert_int_equal(ns_addr_add(nl, idx, &p4, false, &e), 0); /* idempotent */
	assert_int_equal(ns_addr_add(nl, idx, &p6, true, &e), 0);
	int where = 0;
	assert_int_equal(ns_addr_find(nl, &p6.ip, &where, &plen, &e), 0);
	assert_int_equal(where, idx);
	assert_int_equal(plen, 64);
	assert_int_equal(ns_addr_find(nl, &p4.ip, &where, &plen, &e), 0);
	assert_int_equal(plen, 24);
	assert_int_equal(ns_ip_parse("10.98.0.99", &found), 0);
	assert_int_equal(ns_addr_find(nl, &found, NULL, NULL, &e), -ENOENT);

	assert_int_equal(ns_ip_parse("10.98.0.1", &gw), 0);
	assert_int_equal(ns_route_add(nl, AF_INET, NULL, &gw, idx, &e), 0);
	assert_int_equal(ns_route_add(nl, AF_INET, NULL, &gw, idx, &e), 0); /* replace */
	assert_int_equal(ns_prefix_parse("10.97.0.0/16", &dst), 0);
	assert_int_equal(ns_route_add(nl, AF_INET, &dst, &gw, idx, &e), 0);
	/* A gateway off every subnet: the kernel says why. */
	assert_int_equal(ns_ip_parse("10.55.0.1", &gw), 0);
	assert_true(ns_route_add(nl, AF_INET, &dst, &gw, idx, &e) < 0);
	assert_non_null(strstr(e.msg, "add route 10.97.0.0/16"));

	assert_int_equal(ns_ip_parse("10.98.0.7", &gw), 0);
	assert_int_equal(ns_neigh_add(nl, idx, &gw, mac, &e), 0);
	mac[5] = 0x43;
	assert_int_equal(ns_neigh_add(nl, idx, &gw, mac, &e), 0); /* replace */
	assert_int_equal(ns_ip_parse("fd98::7", &n6), 0);
	assert_int_equal(ns_neigh_add(nl, idx, &n6, mac, &e), 0);
	assert_int_equal(ns_neigh_del(nl, idx, &gw, &e), 0);
	assert_int_equal(ns_neigh_del(nl, idx, &gw, &e), -ENOENT);
	assert_int_equal(ns_addr_del(nl, idx, &p4, &e), 0);
	assert_int_equal(ns_addr_find(nl, &p4.ip, NULL, NULL, &e), -ENOENT);
	assert_int_equal(ns_link_del(nl, "ta0", &e), 0);
}

struct fdb_seen {
	int flood, mac;
};

static void fdb_cb(const struct ns_fdb_entry *e, void *data)
{
	struct fdb_seen *s = data;
	static const uint8_t zero[6];

	if (!memcmp(e->mac, zero, 6) && e->dst.family == AF_INET)
		s->flood++;
	if (e->mac[0] == 0x02 && e->mac[5] == 0x99 && e->dst.family == AF_INET)
		s->mac++;
}

static void test_vxlan_fdb_macvlan(void **state)
{
	struct ns_link_spec ul = { .kind = "veth", .name = "tu0", .netns_fd = -1, .up = true,
				   .veth = { "tu1", -1 } };
	struct ns_link_spec vx = { .kind = "vxlan", .name = "tvx0", .netns_fd = -1, .up = true };
	struct ns_link_spec mv = { .kind = "macvlan", .name = "tmv0", .netns_fd = -1, .up = true };
	struct ns_prefix local;
	struct ns_ip p1, p2;
	struct ns_error e = { "" };
	struct fdb_seen seen = { 0 };
	static const uint8_t zero[6];
	uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x99 };
	struct ns_link_info li;

	NEED_NETNS();
	assert_int_equal(ns_link_add(nl, &ul, &e), 0);
	assert_int_equal(ns_prefix_parse("10.96.0.1/24", &local), 0);
	assert_int_equal(ns_addr_add(nl, ifindex("tu0"), &local, false, &e), 0);
	vx.vxlan.vni = 77;
	vx.vxlan.local = local.ip;
	vx.vxlan.dev = ifindex("tu0");
	assert_int_equal(ns_link_add(nl, &vx, &e), 0);
	assert_int_equal(ns_link_get(nl, "tvx0", &li, NULL), 0);
	assert_string_equal(li.kind, "vxlan");
	vx.vxlan.vni = 0;
	vx.name = "tvx1";
	assert_int_equal(ns_link_add(nl, &vx, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "VNI"));

	assert_int_equal(ns_ip_parse("10.96.0.2", &p1), 0);
	assert_int_equal(ns_ip_parse("10.96.0.3", &p2), 0);
	assert_int_equal(ns_fdb_add(nl, ifindex("tvx0"), zero, &p1, true, &e), 0);
	assert_int_equal(ns_fdb_add(nl, ifindex("tvx0"), zero, &p2, true, &e), 0);
	assert_int_equal(ns_fdb_add(nl, ifindex("tvx0"), zero, &p2, true, &e), 0); /* again: ok */
	assert_int_equal(ns_fdb_add(nl, ifindex("tvx0"), mac, &p1, false, &e), 0);
	assert_int_equal(ns_fdb_add(nl, ifindex("tvx0"), mac, &p2, false, &e), 0); /* moves */
	assert_int_equal(ns_fdb_list(nl, ifindex("tvx0"), fdb_cb, &seen, &e), 0);
	assert_int_equal(seen.flood, 2);
	assert_int_equal(seen.mac, 1);
	assert_int_equal(ns_fdb_del(nl, ifindex("tvx0"), mac, &p2, &e), 0);
	assert_int_equal(ns_fdb_del(nl, ifindex("tvx0"), mac, &p2, &e), -ENOENT);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(ns_fdb_list(nl, ifindex("tvx0"), fdb_cb, &seen, &e), 0);
	assert_int_equal(seen.mac, 0);
	assert_int_equal(seen.flood, 2);

	mv.macvlan.parent = ifindex("tu1");
	mv.macvlan.mode = NS_MACVLAN_PRIVATE;
	assert_int_equal(ns_link_add(nl, &mv, &e), 0);
	assert_int_equal(ns_link_get(nl, "tmv0", &li, NULL), 0);
	assert_string_equal(li.kind, "macvlan");
	mv.macvlan.parent = 0;
	mv.name = "tmv1";
	assert_int_equal(ns_link_add(nl, &mv, &e), -EINVAL);
	/* Deleting the lower device takes the vxlan and macvlan devices on it along. */
	assert_int_equal(ns_link_del(nl, "tu0", &e), 0);
	assert_int_equal(ns_link_get(nl, "tvx0", &li, NULL), -ENODEV);
	assert_int_equal(ns_link_get(nl, "tmv0", &li, NULL), -ENODEV);
}

static ino_t netns_ino(void)
{
	struct stat st;

	assert_int_equal(stat("/proc/thread-self/ns/net", &st), 0);
	return st.st_ino;
}

static void test_netns_switch_and_sysctl(void **state)
{
	struct ns_link_spec veth = { .kind = "veth", .name = "tn0", .netns_fd = -1, .up = true };
	struct ns_error e = { "" };
	struct ns_link_info li;
	struct ns_nl *other;
	ino_t mine = netns_ino(), theirs;
	int self_fd, other_fd, saved;
	char buf[8] = "";

	NEED_NETNS();
	/* A second private netns, created and left again. */
	self_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(self_fd >= 0);
	assert_int_equal(unshare(CLONE_NEWNET), 0);
	theirs = netns_ino();
	other_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_int_equal(setns(self_fd, CLONE_NEWNET), 0);
	assert_int_equal(netns_ino(), mine);

	assert_int_equal(ns_netns_enter(other_fd, &saved, &e), 0);
	assert_int_equal(netns_ino(), theirs);
	assert_int_equal(ns_netns_restore(saved, &e), 0);
	assert_int_equal(netns_ino(), mine);

	/* A veth whose peer is created straight in the other netns. */
	veth.veth.peer_name = "eth0";
	veth.veth.peer_netns_fd = other_fd;
	assert_int_equal(ns_link_add(nl, &veth, &e), 0);
	other = ns_nl_new(other_fd, &e);
	assert_non_null(other);
	assert_int_equal(netns_ino(), mine);
	assert_int_equal(ns_link_get(other, "eth0", &li, NULL), 0);
	assert_int_equal(ns_link_get(nl, "eth0", &li, NULL), -ENODEV);
	/* ...and one moved there afterwards. */
	veth.name = "tm0";
	veth.veth.peer_name = "tm1";
	veth.veth.peer_netns_fd = -1;
	assert_int_equal(ns_link_add(nl, &veth, &e), 0);
	struct ns_link_change ch = NS_LINK_CHANGE_NONE;
	ch.netns_fd = other_fd;
	assert_int_equal(ns_link_set(nl, ifindex("tm1"), &ch, &e), 0);
	assert_int_equal(ns_link_get(other, "tm1", &li, NULL), 0);

	/* sysctl lands in the netns named, not the caller's. */
	assert_int_equal(ns_sysctl_write(other_fd, "net/ipv4/ip_forward", "1", &e), 0);
	assert_int_equal(netns_ino(), mine);
	int fd = open("/proc/sys/net/ipv4/ip_forward", O_RDONLY);
	assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
	close(fd);
	assert_int_equal(buf[0], '0');
	assert_int_equal(ns_sysctl_write(-1, "net/ipv4/nosuch", "1", &e), -ENOENT);
	assert_non_null(strstr(e.msg, "nosuch"));

	int nfd;
	assert_int_equal(ns_netns_open("/nonexistent/ns", &nfd, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "/nonexistent/ns"));
	assert_int_equal(ns_netns_open("np-no-such-netns", &nfd, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "/run/netns/np-no-such-netns"));
	ns_nl_free(other);
	close(other_fd);
	close(self_fd);
}

int main(void)
{
	/* Without a private netns nothing here may run (it would change the machine's links).
	 * Exit 77 so tests/run.sh reports a skip: cmocka's skip() counts as a pass. */
	if (unshare(CLONE_NEWNET) < 0) {
		printf("needs CAP_SYS_ADMIN for a private network namespace: %s\n", strerror(errno));
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bridge_veth_and_errors),
		cmocka_unit_test(test_addr_route_neigh),
		cmocka_unit_test(test_vxlan_fdb_macvlan),
		cmocka_unit_test(test_netns_switch_and_sysctl),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
