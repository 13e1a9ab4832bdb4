/* np_agent — the traffic side of the kernel tests: servers, a concurrent prober, raw-packet
 * probes (SCTP, spoofed sources) and a connection-rate client.
 *
 *   np_agent serve [--ports 80,81]
 *       TCP + UDP, IPv4 + IPv6 (v6only) listeners in the current netns. TCP: accept, write one
 *       byte, close. UDP: echo. Prints "ready" once every socket is bound; runs until killed.
 *   np_agent probe [--timeout-ms 1000] FILE
 *       FILE lines: FROM_NETNS DST_ADDR tcp|udp PORT, or FROM_NETNS DST_ADDR sctp PORT TO_NETNS.
 *       Each probe's socket is made inside FROM_NETNS (setns, socket, back: a socket keeps its
 *       netns), then all run at once with one poll loop. TCP = connect succeeds, UDP = echo
 *       comes back, SCTP = our INIT (raw socket, this kernel has no SCTP sockets) is seen by a
 *       raw socket in TO_NETNS. Prints "FROM_NETNS DST_ADDR PROTO PORT 1|0" per line, in order.
 *       --once: one datagram, never resent (with a timeout under 1 s a TCP SYN is not resent
 *       either): the very first packet decides. --after-ctl SOCK REQUEST: first sends REQUEST
 *       (one line) to policyd's control socket SOCK and waits for its reply (it must say
 *       "ok":true, else exit 3), then probes at once: what the reply promised is what the
 *       first packet after it meets.
 *   np_agent raw-probe [--proto udp|sctp] [--count 3] [--timeout-ms 800]
 *                      FROM_NETNS SRC_ADDR TO_NETNS DST_ADDR PORT
 *       Crafts packets with a chosen source address (raw socket, header included; SCTP gets an
 *       INIT chunk with a valid CRC32c) in FROM_NETNS and counts, with a raw socket in
 *       TO_NETNS, how many of exactly those packets arrive. Prints "sent N received K".
 *       This kernel has no SCTP sockets, so this is how SCTP rules are observed.
 *   np_agent arp-reply IFACE CLAIM_IP TARGET_IP TARGET_MAC
 *       Sends ARP replies claiming CLAIM_IP is at IFACE's MAC (cache poisoning, for the
 *       anti-spoofing test).
 *   np_agent connrate [--seconds 3] ADDR PORT
 *       Connect, read the server's byte, close with a reset, in a loop; prints
 *       "connections N failed F rate R/s".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS 16
#define UDP_RESEND_MS 200 /* resend UDP/SCTP probes this often: a lost first packet is no drop */

static void die(const char *what)
{
	fprintf(stderr, "np_agent: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* An address of either family, with a port. */
struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int family;
};

static int addr_parse(const char *text, unsigned port, struct addr *out)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->ss;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		out->len = sizeof(*a4);
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		out->len = sizeof(*a6);
		out->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

/* ---- network namespaces ---- */

/* Runs socket() inside /run/netns/NAME and comes back; returns the socket or -1. */
static int socket_in_netns(const char *netns, int family, int type, int proto)
{
	char path[512];
	int self, target, fd, saved;

	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		die("open /proc/self/ns/net");
	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0) {
		fprintf(stderr, "np_agent: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	if (setns(target, CLONE_NEWNET) < 0)
		die("setns");
	fd = socket(family, type | SOCK_CLOEXEC, proto);
	saved = errno;
	if (setns(self, CLONE_NEWNET) < 0)
		die("setns back");
	close(target);
	close(self);
	errno = saved;
	return fd;
}

/* ---- serve ---- */

static int parse_ports(const char *list, unsigned *ports)
{
	int n = 0;
	char *copy = strdup(list), *save = NULL;

	if (!copy)
		die("strdup");
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		long p = strtol(tok, NULL, 10);

		if (p <= 0 || p > 65535 || n == MAX_PORTS) {
			fprintf(stderr, "np_agent: bad port list '%s'\n", list);
			exit(2);
		}
		ports[n++] = (unsigned)p;
	}
	free(copy);
	return n;
}

static int listen_one(int family, int type, unsigned port)
{
	struct addr a;
	int fd, one = 1;

	addr_parse(family == AF_INET ? "0.0.0.0" : "::", port, &a);
	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* v6only so the IPv4 listener is a separate socket and each family is really tested */
	if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		die("IPV6_V6ONLY");
	if (bind(fd, (struct sockaddr *)&a.ss, a.len) < 0)
		die("bind");
	if (type == SOCK_STREAM && listen(fd, 4096) < 0)
		die("listen");
	return fd;
}

static int cmd_serve(int argc, char **argv)
{
	unsigned ports[MAX_PORTS];
	int nports = parse_ports("80,81", ports);
	struct pollfd pfd[MAX_PORTS * 4];
	int n = 0;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--ports") && i + 1 < argc)
			nports = parse_ports(argv[++i], ports);
		else {
			fprintf(stderr, "usage: np_agent serve [--ports 80,81]\n");
			return 2;
		}
	}
	for (int i = 0; i < nports; i++) {
		int fams[2] = { AF_INET, AF_INET6 }, types[2] = { SOCK_STREAM, SOCK_DGRAM };

		for (int f = 0; f < 2; f++)
			for (int t = 0; t < 2; t++) {
				pfd[n].fd = listen_one(fams[f], types[t], ports[i]);
				pfd[n].events = POLLIN;
				n++;
			}
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (int i = 0; i < n; i++) {
			int type = 0;
			socklen_t tl = sizeof(type);

			if (!(pfd[i].revents & POLLIN))
				continue;
			getsockopt(pfd[i].fd, SOL_SOCKET, SO_TYPE, &type, &tl);
			if (type == SOCK_STREAM) {
				/* drain the accept queue: the connection-rate benchmark fills it fast */
				for (;;) {
					int c = accept4(pfd[i].fd, NULL, NULL, SOCK_CLOEXEC);

					if (c < 0)
						break;
					if (write(c, "1", 1) < 0) { /* the client may already be gone */ }
					close(c);
				}
			} else {
				for (;;) {
					char buf[2048];
					struct sockaddr_storage from;
					socklen_t fl = sizeof(from);
					ssize_t len = recvfrom(pfd[i].fd, buf, sizeof(buf), 0,
							       (struct sockaddr *)&from, &fl);

					if (len < 0)
						break;
					sendto(pfd[i].fd, buf, (size_t)len, 0, (struct sockaddr *)&from, fl);
				}
			}
		}
	}
}


/* CRC32c (Castagnoli), reflected, as SCTP uses it (RFC 9260 appendix A). */
static uint32_t crc32c(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffff;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78 & (0u - (crc & 1)));
	}
	return ~crc;
}

static uint32_t sum16(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Writes the transport part (UDP with token, or SCTP INIT whose initiate tag is the token) and
 * returns its length. The UDP checksum is filled in by the caller (it needs the addresses). */
static size_t build_l4(bool sctp, uint8_t *buf, unsigned sport, unsigned dport, uint32_t token)
{
	if (sctp) {
		/* common header (12) + INIT chunk (20) */
		memset(buf, 0, 32);
		buf[0] = (uint8_t)(sport >> 8), buf[1] = (uint8_t)sport;
		buf[2] = (uint8_t)(dport >> 8), buf[3] = (uint8_t)dport;
		/* verification tag 0, as INIT requires; checksum at 8..11 */
		buf[12] = 1;                    /* chunk type INIT */
		buf[14] = 0, buf[15] = 20;      /* chunk length */
		memcpy(buf + 16, &(uint32_t){ htonl(token) }, 4);      /* initiate tag */
		memcpy(buf + 20, &(uint32_t){ htonl(65536) }, 4);      /* a_rwnd */
		buf[24] = 0, buf[25] = 10;      /* outbound streams */
		buf[26] = 0, buf[27] = 10;      /* inbound streams */
		memcpy(buf + 28, &(uint32_t){ htonl(token ^ 0x5a5a5a5a) }, 4); /* initial TSN */
		uint32_t crc = crc32c(buf, 32);
		/* the CRC goes on the wire least significant byte first (Linux: cpu_to_le32) */
		buf[8] = (uint8_t)crc, buf[9] = (uint8_t)(crc >> 8);
		buf[10] = (uint8_t)(crc >> 16), buf[11] = (uint8_t)(crc >> 24);
		return 32;
	}
	memset(buf, 0, 8);
	buf[0] = (uint8_t)(sport >> 8), buf[1] = (uint8_t)sport;
	buf[2] = (uint8_t)(dport >> 8), buf[3] = (uint8_t)dport;
	memcpy(buf + 8, &(uint32_t){ htonl(token) }, 4);
	memcpy(buf + 12, "npraw", 5);
	buf[4] = 0, buf[5] = 17;
	return 17;
}

/* Builds a whole IP packet (header included) into pkt; returns its length. */
static size_t build_packet(bool sctp, const struct addr *src, const struct addr *dst, uint8_t *pkt,
			   unsigned sport, unsigned dport, uint32_t token)
{
	uint8_t proto = sctp ? IPPROTO_SCTP : IPPROTO_UDP;
	size_t hl = src->family == AF_INET ? sizeof(struct iphdr) : sizeof(struct ip6_hdr);
	size_t l4 = build_l4(sctp, pkt + hl, sport, dport, token);
	uint32_t sum;

	if (src->family == AF_INET) {
		struct iphdr *ip = (struct iphdr *)pkt;
		const struct sockaddr_in *s = (const void *)&src->ss, *d = (const void *)&dst->ss;

		memset(ip, 0, sizeof(*ip));
		ip->version = 4, ip->ihl = 5, ip->ttl = 64, ip->protocol = proto;
		ip->tot_len = htons((uint16_t)(hl + l4)); /* the kernel fills id and checksum */
		ip->saddr = s->sin_addr.s_addr, ip->daddr = d->sin_addr.s_addr;
		if (!sctp) {
			sum = sum16(&ip->saddr, 8, 0) + proto + (uint32_t)l4;
			uint16_t c = fold(sum16(pkt + hl, l4, sum));
			pkt[hl + 6] = (uint8_t)(c >> 8), pkt[hl + 7] = (uint8_t)c;
		}
	} else {
		struct ip6_hdr *ip6 = (struct ip6_hdr *)pkt;
		const struct sockaddr_in6 *s = (const void *)&src->ss, *d = (const void *)&dst->ss;

		memset(ip6, 0, sizeof(*ip6));
		ip6->ip6_flow = htonl(6u << 28);
		ip6->ip6_plen = htons((uint16_t)l4);
		ip6->ip6_nxt = proto;
		ip6->ip6_hlim = 64;
		ip6->ip6_src = s->sin6_addr, ip6->ip6_dst = d->sin6_addr;
		if (!sctp) { /* UDP over IPv6 must carry a checksum */
			sum = sum16(&ip6->ip6_src, 32, 0) + proto + (uint32_t)l4;
			uint16_t c = fold(sum16(pkt + hl, l4, sum));
			if (c == 0)
				c = 0xffff;
			pkt[hl + 6] = (uint8_t)(c >> 8), pkt[hl + 7] = (uint8_t)c;
		}
	}
	return hl + l4;
}

/* Does this received datagram carry one of our packets from src? (IPv4 raw sockets hand over
 * the IP header, IPv6 ones only the payload, with the source in `from`.) */
static bool raw_match(bool sctp, const struct addr *src, const uint8_t *buf, size_t len,
		      const struct sockaddr_storage *from, unsigned dport, uint32_t token)
{
	const uint8_t *l4 = buf;

	if (src->family == AF_INET) {
		const struct iphdr *ip = (const void *)buf;
		const struct sockaddr_in *s = (const void *)&src->ss;

		if (len < sizeof(*ip) || ip->saddr != s->sin_addr.s_addr)
			return false;
		l4 = buf + ip->ihl * 4;
		len -= (size_t)ip->ihl * 4;
	} else {
		const struct sockaddr_in6 *s = (const void *)&src->ss, *f = (const void *)from;

		if (memcmp(&s->sin6_addr, &f->sin6_addr, 16))
			return false;
	}
	if (len < 16 || (unsigned)(l4[2] << 8 | l4[3]) != dport)
		return false;
	if (sctp)
		return len >= 32 && l4[12] == 1 && !memcmp(l4 + 16, &(uint32_t){ htonl(token) }, 4);
	return !memcmp(l4 + 8, &(uint32_t){ htonl(token) }, 4);
}

/* ---- probe ---- */

/* One probe. TCP: nonblocking connect. UDP: send, wait for the echo. SCTP (no SCTP sockets on
 * this kernel): an INIT with a per-probe initiate tag sent from a raw socket in FROM_NETNS,
 * seen (or not) by a raw SCTP socket in TO_NETNS. */
struct probe {
	char netns[128], dst[64], proto[8], to_netns[128];
	unsigned port;
	int kind; /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP */
	int fd;
	int result; /* -1 pending, 0 blocked, 1 connected */
	int64_t last_send;
	struct addr src, daddr; /* SCTP: the source the route picks, and the destination */
	int rx;                 /* SCTP: index of the receiver */
};

/* Raw SCTP receivers, one per destination netns and family, shared by the probes. */
struct receiver {
	char netns[128];
	int family, fd;
};

/* Sends a header-included packet from a raw socket. The address's port must be 0: an IPv6 raw
 * socket reads sin6_port as a protocol number (rawv6_sendmsg) and refuses one above 255, so
 * SCTP and UDP probes to ports over 255 were silently never sent over IPv6. */
static ssize_t raw_sendto(int fd, const void *pkt, size_t len, const struct addr *dst)
{
	struct sockaddr_storage ss = dst->ss;
	if (dst->family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	else
		((struct sockaddr_in *)&ss)->sin_port = 0;
	return sendto(fd, pkt, len, 0, (struct sockaddr *)&ss, dst->len);
}

#define PROBE_TAG_BASE 0x4e500000u /* initiate tag = base + probe index */

static void probe_send(struct probe *p, int idx)
{
	if (p->kind == IPPROTO_SCTP) {
		uint8_t pkt[128];
		unsigned sport = 30000 + (unsigned)idx % 30000;
		size_t len = build_packet(true, &p->src, &p->daddr, pkt, sport, p->port,
					  PROBE_TAG_BASE + (uint32_t)idx);

		raw_sendto(p->fd, pkt, len, &p->daddr);
	} else {
		char msg[32];
		int len = snprintf(msg, sizeof(msg), "np-%d", idx);

		/* ECONNREFUSED from an earlier ICMP error surfaces here or in recv */
		if (send(p->fd, msg, (size_t)len, 0) < 0 && errno != EAGAIN)
			p->result = 0;
	}
	p->last_send = now_ms();
}

/* The source address the kernel would pick in p->netns towards p->daddr (no packet is sent). */
static void probe_learn_source(struct probe *p)
{
	int fd = socket_in_netns(p->netns, p->daddr.family, SOCK_DGRAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&p->daddr.ss, p->daddr.len) < 0)
		die("route lookup for SCTP probe");
	p->src.len = sizeof(p->src.ss);
	if (getsockname(fd, (struct sockaddr *)&p->src.ss, &p->src.len) < 0)
		die("getsockname");
	p->src.family = p->daddr.family;
	close(fd);
}

static int receiver_get(struct receiver *rv, int *nrv, const char *netns, int family)
{
	for (int i = 0; i < *nrv; i++)
		if (rv[i].family == family && !strcmp(rv[i].netns, netns))
			return i;
	snprintf(rv[*nrv].netns, sizeof(rv[*nrv].netns), "%s", netns);
	rv[*nrv].family = family;
	rv[*nrv].fd = socket_in_netns(netns, family, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_SCTP);
	if (rv[*nrv].fd < 0)
		die("raw SCTP receive socket");
	return (*nrv)++;
}

static void probe_start(struct probe *p, int idx)
{
	if (addr_parse(p->dst, p->port, &p->daddr) < 0) {
		fprintf(stderr, "np_agent: bad address '%s'\n", p->dst);
		exit(2);
	}
	if (p->kind == IPPROTO_SCTP) {
		probe_learn_source(p);
		/* IPPROTO_RAW means "header included" for both families */
		p->fd = socket_in_netns(p->netns, p->daddr.family, SOCK_RAW, IPPROTO_RAW);
		if (p->fd < 0)
			die("raw send socket");
		probe_send(p, idx);
		return;
	}
	p->fd = socket_in_netns(p->netns, p->daddr.family,
				(p->kind == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK, 0);
	if (p->fd < 0)
		die("socket");
	if (connect(p->fd, (struct sockaddr *)&p->daddr.ss, p->daddr.len) < 0 &&
	    errno != EINPROGRESS) {
		p->result = 0;
		return;
	}
	if (p->kind == IPPROTO_UDP)
		probe_send(p, idx);
}

static void probe_event(struct probe *p, short revents, int idx)
{
	if (p->kind == IPPROTO_TCP) {
		int err = 0;
		socklen_t el = sizeof(err);

		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		p->result = err == 0 && (revents & POLLOUT) ? 1 : 0;
		return;
	}
	if (revents & (POLLIN | POLLERR)) {
		char buf[64], want[32];
		ssize_t len = recv(p->fd, buf, sizeof(buf) - 1, 0);

		if (len < 0) {
			if (errno != EAGAIN)
				p->result = 0; /* ICMP unreachable: refused, not a policy drop */
			return;
		}
		buf[len] = 0;
		snprintf(want, sizeof(want), "np-%d", idx);
		if (!strcmp(buf, want))
			p->result = 1;
	}
}

/* Reads everything a raw SCTP receiver holds and marks the probes whose INIT arrived. */
static void receiver_drain(const struct receiver *r, int ri, struct probe *pr, int n)
{
	for (;;) {
		uint8_t buf[2048];
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t len = recvfrom(r->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		const uint8_t *l4 = buf;
		uint32_t tag;

		if (len < 0)
			return;
		if (r->family == AF_INET) {
			if ((size_t)len < 20 || (size_t)len < (size_t)(buf[0] & 15) * 4 + 32)
				continue;
			l4 = buf + (buf[0] & 15) * 4;
		} else if (len < 32) {
			continue;
		}
		if (l4[12] != 1) /* not an INIT */
			continue;
		memcpy(&tag, l4 + 16, 4);
		tag = ntohl(tag) - PROBE_TAG_BASE;
		if (tag >= (uint32_t)n || pr[tag].kind != IPPROTO_SCTP || pr[tag].rx != ri)
			continue;
		if (raw_match(true, &pr[tag].src, buf, (size_t)len, &from, pr[tag].port,
			      PROBE_TAG_BASE + tag))
			pr[tag].result = 1;
	}
}

static int probe_parse(FILE *f, struct probe **out)
{
	int n = 0, cap = 256;
	struct probe *pr = calloc((size_t)cap, sizeof(*pr));
	char line[512];

	if (!pr)
		die("calloc");
	while (fgets(line, sizeof(line), f)) {
		struct probe *p;
		int fields;

		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == 0)
			continue;
		if (n == cap) {
			cap *= 2;
			pr = realloc(pr, (size_t)cap * sizeof(*pr));
			if (!pr)
				die("realloc");
		}
		p = &pr[n];
		memset(p, 0, sizeof(*p));
		fields = sscanf(line, "%127s %63s %7s %u %127s", p->netns, p->dst, p->proto, &p->port,
				p->to_netns);
		if (!strcasecmp(p->proto, "udp"))
			p->kind = IPPROTO_UDP;
		else if (!strcasecmp(p->proto, "tcp"))
			p->kind = IPPROTO_TCP;
		else if (!strcasecmp(p->proto, "sctp"))
			p->kind = IPPROTO_SCTP;
		if (fields < 4 || !p->kind || (p->kind == IPPROTO_SCTP && fields < 5)) {
			fprintf(stderr, "np_agent: bad probe line (FROM_NETNS DST tcp|udp PORT, or "
					"FROM_NETNS DST sctp PORT TO_NETNS): %s", line);
			exit(2);
		}
		p->result = -1;
		p->fd = -1;
		n++;
	}
	*out = pr;
	return n;
}

/* One request line to a unix stream socket; the reply line goes to stderr. 0 when it says
 * "ok":true. */
static int ctl_roundtrip(const char *path, const char *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[65536];
	size_t len = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
		die("control socket");
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(path);
	if (write(fd, req, strlen(req)) < 0 || write(fd, "\n", 1) < 0)
		die("control request");
	while (len < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		if (buf[len - 1] == '\n')
			break;
	}
	close(fd);
	buf[len] = 0;
	fprintf(stderr, "control reply: %s", buf);
	return strstr(buf, "\"ok\":true") ? 0 : -1;
}

static int cmd_probe(int argc, char **argv)
{
	int timeout = 1000, n, nrv = 0;
	bool once = false;
	const char *file = "-", *ctl = NULL, *ctl_req = NULL;
	struct probe *pr;
	struct receiver *rv;
	FILE *f;
	int64_t deadline;
	struct pollfd *pfd;
	int *map;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc)
			timeout = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--once"))
			once = true;
		else if (!strcmp(argv[i], "--after-ctl") && i + 2 < argc) {
			ctl = argv[++i];
			ctl_req = argv[++i];
		} else if (argv[i][0] != '-' || !strcmp(argv[i], "-"))
			file = argv[i];
		else {
			fprintf(stderr, "usage: np_agent probe [--timeout-ms N] [--once] "
					"[--after-ctl SOCK REQUEST] FILE\n");
			return 2;
		}
	}
	f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!f)
		die(file);
	raise_nofile();
	n = probe_parse(f, &pr);
	if (f != stdin)
		fclose(f);

	rv = calloc((size_t)n + 1, sizeof(*rv));
	pfd = calloc((size_t)n * 2 + 1, sizeof(*pfd));
	map = calloc((size_t)n * 2 + 1, sizeof(*map));
	if (!rv || !pfd || !map)
		die("calloc");
	/* receivers first, so no INIT can arrive before someone listens */
	for (int i = 0; i < n; i++)
		if (pr[i].kind == IPPROTO_SCTP) {
			struct addr a;

			if (addr_parse(pr[i].dst, 0, &a) < 0)
				die("bad address");
			pr[i].rx = receiver_get(rv, &nrv, pr[i].to_netns, a.family);
		}
	if (ctl && ctl_roundtrip(ctl, ctl_req) < 0)
		return 3;
	for (int i = 0; i < n; i++)
		probe_start(&pr[i], i);
	deadline = now_ms() + timeout;
	for (;;) {
		int np = 0, pending = 0;
		int64_t now = now_ms(), wait;

		for (int i = 0; i < n; i++) {
			if (pr[i].result >= 0)
				continue;
			/* a lost first datagram is not a drop: resend until the deadline */
			if (pr[i].kind != IPPROTO_TCP && !once &&
			    now - pr[i].last_send >= UDP_RESEND_MS)
				probe_send(&pr[i], i);
			if (pr[i].result >= 0)
				continue;
			pending++;
			if (pr[i].kind == IPPROTO_SCTP)
				continue; /* answered through its receiver */
			pfd[np].fd = pr[i].fd;
			pfd[np].events = pr[i].kind == IPPROTO_UDP ? POLLIN : POLLOUT;
			map[np++] = i;
		}
		for (int r = 0; r < nrv; r++) {
			pfd[np].fd = rv[r].fd;
			pfd[np].events = POLLIN;
			map[np++] = -1 - r;
		}
		if (pending == 0 || now >= deadline)
			break;
		wait = deadline - now;
		if (wait > UDP_RESEND_MS / 2)
			wait = UDP_RESEND_MS / 2;
		if (poll(pfd, (nfds_t)np, (int)wait) < 0 && errno != EINTR)
			die("poll");
		for (int k = 0; k < np; k++) {
			if (!pfd[k].revents)
				continue;
			if (map[k] < 0)
				receiver_drain(&rv[-1 - map[k]], -1 - map[k], pr, n);
			else
				probe_event(&pr[map[k]], pfd[k].revents, map[k]);
		}
	}
	for (int i = 0; i < n; i++) {
		printf("%s %s %s %u %d\n", pr[i].netns, pr[i].dst, pr[i].proto, pr[i].port,
		       pr[i].result > 0);
		if (pr[i].fd >= 0)
			close(pr[i].fd);
	}
	for (int r = 0; r < nrv; r++)
		close(rv[r].fd);
	free(rv);
	free(pfd);
	free(map);
	free(pr);
	return 0;
}


static int cmd_raw_probe(int argc, char **argv)
{
	bool sctp = false;
	int count = 3, timeout = 800, pos = 0, tx, rx, got = 0, sent = 0;
	const char *arg[5];
	struct addr src, dst;
	uint32_t token;
	uint8_t pkt[128];
	int64_t end;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--proto") && i + 1 < argc)
			sctp = !strcasecmp(argv[++i], "sctp");
		else if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc)
			timeout = atoi(argv[++i]);
		else if (pos < 5)
			arg[pos++] = argv[i];
		else
			pos = 6;
	}
	if (pos != 5 || addr_parse(arg[1], 0, &src) < 0 || addr_parse(arg[3], 0, &dst) < 0 ||
	    src.family != dst.family || count < 1) {
		fprintf(stderr, "usage: np_agent raw-probe [--proto udp|sctp] [--count N] "
				"[--timeout-ms T] FROM_NETNS SRC TO_NETNS DST PORT\n");
		return 2;
	}
	unsigned port = (unsigned)atoi(arg[4]);

	rx = socket_in_netns(arg[2], dst.family, SOCK_RAW | SOCK_NONBLOCK,
			     sctp ? IPPROTO_SCTP : IPPROTO_UDP);
	if (rx < 0)
		die("raw receive socket");
	/* IPPROTO_RAW means "header included" for both families */
	tx = socket_in_netns(arg[0], dst.family, SOCK_RAW, IPPROTO_RAW);
	if (tx < 0)
		die("raw send socket");
	srand((unsigned)(getpid() ^ now_ms()));
	token = (uint32_t)rand() | 1;
	for (int i = 0; i < count; i++) {
		/* a fresh source port each time: each packet is a new flow for conntrack */
		unsigned sport = 20000 + (unsigned)((token + (uint32_t)i * 7919) % 40000);
		size_t len = build_packet(sctp, &src, &dst, pkt, sport, port, token);

		if (raw_sendto(tx, pkt, len, &dst) == (ssize_t)len)
			sent++;
		else
			fprintf(stderr, "np_agent: sendto: %s\n", strerror(errno));
		usleep(20000);
	}
	end = now_ms() + timeout;
	for (int64_t now = now_ms(); now < end; now = now_ms()) {
		struct pollfd p = { .fd = rx, .events = POLLIN };

		if (poll(&p, 1, (int)(end - now)) <= 0)
			continue;
		for (;;) {
			uint8_t buf[2048];
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t len = recvfrom(rx, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

			if (len < 0)
				break;
			if (raw_match(sctp, &src, buf, (size_t)len, &from, port, token))
				got++;
		}
		if (got >= count)
			break;
	}
	printf("sent %d received %d\n", sent, got);
	close(tx);
	close(rx);
	return 0;
}

/* ---- ARP: a reply claiming someone else's IPv4 address ---- */

static int parse_mac(const char *text, uint8_t mac[6])
{
	unsigned m[6];

	if (sscanf(text, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)m[i];
	return 0;
}

/* Sends COUNT ARP replies out of IFACE saying "CLAIM_IP is at my MAC" to TARGET_IP/TARGET_MAC:
 * what a pod poisoning a neighbour's cache sends. */
static int cmd_arp_reply(int argc, char **argv)
{
	uint8_t me[6], to[6], frame[42];
	struct in_addr claim, target;
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP),
				  .sll_halen = 6 };
	struct ifreq ifr;
	int fd;

	if (argc != 4 || inet_pton(AF_INET, argv[1], &claim) != 1 ||
	    inet_pton(AF_INET, argv[2], &target) != 1 || parse_mac(argv[3], to) < 0) {
		fprintf(stderr, "usage: np_agent arp-reply IFACE CLAIM_IP TARGET_IP TARGET_MAC\n");
		return 2;
	}
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (fd < 0)
		die("AF_PACKET socket");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[0]);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		die(argv[0]);
	memcpy(me, ifr.ifr_hwaddr.sa_data, 6);
	ll.sll_ifindex = (int)if_nametoindex(argv[0]);
	memcpy(ll.sll_addr, to, 6);
	memcpy(frame, to, 6);
	memcpy(frame + 6, me, 6);
	frame[12] = 0x08, frame[13] = 0x06;                 /* ARP */
	frame[14] = 0, frame[15] = 1;                       /* Ethernet */
	frame[16] = 0x08, frame[17] = 0;                    /* IPv4 */
	frame[18] = 6, frame[19] = 4;
	frame[20] = 0, frame[21] = 2;                       /* reply */
	memcpy(frame + 22, me, 6);
	memcpy(frame + 28, &claim, 4);
	memcpy(frame + 32, to, 6);
	memcpy(frame + 38, &target, 4);
	for (int i = 0; i < 3; i++) {
		if (sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&ll, sizeof(ll)) < 0)
			die("sendto");
		usleep(20000);
	}
	close(fd);
	return 0;
}

/* ---- connrate ---- */

static int cmd_connrate(int argc, char **argv)
{
	double seconds = 3;
	const char *host = NULL, *port = NULL;
	struct addr a;
	long n = 0, fail = 0;
	int64_t start, end;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!host)
			host = argv[i];
		else if (!port)
			port = argv[i];
	}
	if (!host || !port || addr_parse(host, (unsigned)atoi(port), &a) < 0) {
		fprintf(stderr, "usage: np_agent connrate [--seconds S] ADDR PORT\n");
		return 2;
	}
	start = now_ms();
	end = start + (int64_t)(seconds * 1000);
	while (now_ms() < end) {
		int fd = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		char b;

		if (fd < 0)
			die("socket");
		if (connect(fd, (struct sockaddr *)&a.ss, a.len) == 0 && read(fd, &b, 1) == 1)
			n++;
		else
			fail++;
		/* end with a reset: no TIME_WAIT piles up at the server across runs, which
		 * otherwise made later runs of the benchmark slower than earlier ones */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &(struct linger){ .l_onoff = 1, .l_linger = 0 },
			   sizeof(struct linger));
		close(fd);
	}
	double secs = (double)(now_ms() - start) / 1000.0;
	printf("connections %ld failed %ld rate %.0f/s\n", n, fail, (double)n / secs);
	return fail > n / 100 ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "serve"))
		return cmd_serve(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "probe"))
		return cmd_probe(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "raw-probe"))
		return cmd_raw_probe(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "arp-reply"))
		return cmd_arp_reply(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "connrate"))
		return cmd_connrate(argc - 2, argv + 2);
	fprintf(stderr, "usage: np_agent serve|probe|raw-probe|connrate ... (see the source header)\n");
	return 2;
}
