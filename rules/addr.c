/* addr.c — IPv4/IPv6 addresses and CIDRs as the NetworkPolicy API spells them.
 *
 * Parsing follows Go's net.ParseIP/ParseCIDR as the API server uses them: dotted-quad IPv4 with
 * no leading zeros, RFC 4291 IPv6, a decimal prefix length without sign or leading zeros. An
 * IPv4-mapped IPv6 address stays IPv6 (family 6): the kernel matches it as such. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

int np_addr_parse(const char *s, struct np_addr *out)
{
	struct np_addr a;
	memset(&a, 0, sizeof(a));
	if (!s || !*s)
		return -EINVAL;
	/* glibc's inet_pton rejects leading zeros in IPv4 octets ("010.0.0.1"), like Go >= 1.17 */
	if (inet_pton(AF_INET, s, a.b) == 1)
		a.family = 4;
	else if (inet_pton(AF_INET6, s, a.b) == 1)
		a.family = 6;
	else
		return -EINVAL;
	*out = a;
	return 0;
}

static void mask_bits(uint8_t *b, unsigned nbytes, unsigned prefix, bool *host_bits_set)
{
	for (unsigned i = 0; i < nbytes; i++) {
		unsigned keep = prefix >= (i + 1) * 8 ? 8 : prefix > i * 8 ? prefix - i * 8 : 0;
		uint8_t m = keep ? (uint8_t)(0xff << (8 - keep)) : 0;
		if (b[i] & ~m && host_bits_set)
			*host_bits_set = true;
		b[i] &= m;
	}
}

int np_cidr_parse(const char *s, struct np_cidr *out, bool *host_bits_set)
{
	char buf[64];
	if (!s)
		return -EINVAL;
	const char *slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = 0;
	struct np_cidr c;
	memset(&c, 0, sizeof(c));
	if (np_addr_parse(buf, &c.addr) < 0)
		return -EINVAL;
	const char *p = slash + 1;
	unsigned prefix = 0, digits = 0;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		prefix = prefix * 10 + (unsigned)(*p - '0');
		if (prefix > 128)
			return -EINVAL;
	}
	if (*p || !digits || (digits > 1 && slash[1] == '0'))
		return -EINVAL;
	unsigned max = c.addr.family == 4 ? 32 : 128;
	if (prefix > max)
		return -EINVAL;
	c.prefix = (uint8_t)prefix;
	bool hb = false;
	mask_bits(c.addr.b, max / 8, prefix, &hb);
	if (host_bits_set)
		*host_bits_set = hb;
	*out = c;
	return 0;
}

bool np_cidr_contains(const struct np_cidr *c, const struct np_addr *a)
{
	if (c->addr.family != a->family)
		return false;
	struct np_addr m = *a;
	mask_bits(m.b, a->family == 4 ? 4 : 16, c->prefix, NULL);
	return !memcmp(m.b, c->addr.b, 16);
}

bool np_cidr_contains_cidr(const struct np_cidr *outer, const struct np_cidr *inner)
{
	return outer->addr.family == inner->addr.family && outer->prefix <= inner->prefix &&
	       np_cidr_contains(outer, &inner->addr);
}

int np_addr_cmp(const struct np_addr *a, const struct np_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int r = memcmp(a->b, b->b, a->family == 4 ? 4 : 16);
	return r < 0 ? -1 : r > 0;
}

const char *np_addr_str(const struct np_addr *a, char *buf)
{
	if (a->family == 4) { /* hot in rendering: glibc's inet_ntop formats IPv4 with sprintf */
		char *p = buf;
		for (int i = 0; i < 4; i++) {
			unsigned v = a->b[i];
			if (v >= 100)
				*p++ = (char)('0' + v / 100);
			if (v >= 10)
				*p++ = (char)('0' + v / 10 % 10);
			*p++ = (char)('0' + v % 10);
			*p++ = i < 3 ? '.' : '\0';
		}
		return buf;
	}
	if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->b, buf, 64))
		snprintf(buf, 64, "?");
	return buf;
}

const char *np_cidr_str(const struct np_cidr *c, char *buf)
{
	np_addr_str(&c->addr, buf);
	size_t n = strlen(buf);
	snprintf(buf + n, 64 - n, "/%u", c->prefix);
	return buf;
}

const char *np_proto_name(enum np_proto p)
{
	switch (p) {
	case NP_PROTO_TCP:
		return "TCP";
	case NP_PROTO_UDP:
		return "UDP";
	case NP_PROTO_SCTP:
		return "SCTP";
	}
	return "?";
}
