/* ip.c — address helpers shared by rtnetlink, IPAM and drivers. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ip.h"

int ns_ip_parse(const char *s, struct ns_ip *out)
{
	struct ns_ip ip = { 0 };

	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, ip.a) == 1)
		ip.family = AF_INET;
	else if (inet_pton(AF_INET6, s, ip.a) == 1)
		ip.family = AF_INET6;
	else
		return -EINVAL;
	*out = ip;
	return 0;
}

int ns_prefix_parse(const char *s, struct ns_prefix *out)
{
	char buf[NS_PREFIX_STRLEN + 8];
	struct ns_prefix p;
	char *slash, *end;
	long len;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (ns_ip_parse(buf, &p.ip) < 0)
		return -EINVAL;
	p.len = ns_ip_max_len(p.ip.family);
	if (slash) {
		errno = 0;
		len = strtol(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || len < 0 || len > p.len)
			return -EINVAL;
		p.len = (int)len;
	}
	*out = p;
	return 0;
}

char *ns_ip_format(const struct ns_ip *ip, char *buf)
{
	if (!inet_ntop(ip->family, ip->a, buf, NS_IP_STRLEN))
		strcpy(buf, "?");
	return buf;
}

char *ns_prefix_format(const struct ns_prefix *p, char *buf)
{
	char a[NS_IP_STRLEN];

	snprintf(buf, NS_PREFIX_STRLEN, "%s/%d", ns_ip_format(&p->ip, a), p->len);
	return buf;
}

size_t ns_ip_len(const struct ns_ip *ip)
{
	return ip->family == AF_INET6 ? 16 : 4;
}

int ns_ip_max_len(int family)
{
	return family == AF_INET6 ? 128 : 32;
}

bool ns_ip_equal(const struct ns_ip *a, const struct ns_ip *b)
{
	return a->family == b->family && !memcmp(a->a, b->a, ns_ip_len(a));
}

int ns_ip_cmp(const struct ns_ip *a, const struct ns_ip *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->a, b->a, ns_ip_len(a));
}

/* Applies the prefix mask: keep (set_host = 0) or set (set_host = 1) the host bits. */
static struct ns_ip mask(const struct ns_prefix *p, int set_host)
{
	struct ns_ip r = p->ip;
	int bits = ns_ip_max_len(r.family);

	for (int i = p->len; i < bits; i++) {
		uint8_t bit = (uint8_t)(0x80 >> (i % 8));
		if (set_host)
			r.a[i / 8] |= bit;
		else
			r.a[i / 8] &= (uint8_t)~bit;
	}
	return r;
}

bool ns_prefix_contains(const struct ns_prefix *p, const struct ns_ip *ip)
{
	struct ns_prefix q = { *ip, p->len };
	struct ns_ip a, b;

	if (ip->family != p->ip.family)
		return false;
	a = mask(p, 0);
	b = mask(&q, 0);
	return ns_ip_equal(&a, &b);
}

struct ns_prefix ns_prefix_network(const struct ns_prefix *p)
{
	struct ns_prefix r = { mask(p, 0), p->len };
	return r;
}

struct ns_ip ns_prefix_last(const struct ns_prefix *p)
{
	return mask(p, 1);
}

struct ns_ip ns_ip_add(const struct ns_ip *ip, uint64_t n)
{
	struct ns_ip r = *ip;
	unsigned carry = 0;

	for (int i = (int)ns_ip_len(ip) - 1; i >= 0; i--) {
		unsigned v = r.a[i] + (unsigned)(n & 0xff) + carry;
		r.a[i] = (uint8_t)v;
		carry = v >> 8;
		n >>= 8;
	}
	return r;
}
