/* ip.h — IPv4/IPv6 addresses and prefixes: parse, format, arithmetic. Shared by the rtnetlink
 * layer, IPAM and the drivers so they all agree on one representation. */
#ifndef NETSETUP_IP_H
#define NETSETUP_IP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An address of either family; only the first 4 bytes of a[] are used for AF_INET. */
struct ns_ip {
	int family; /* AF_INET or AF_INET6 */
	uint8_t a[16];
};

struct ns_prefix {
	struct ns_ip ip;
	int len;
};

#define NS_IP_STRLEN 46   /* INET6_ADDRSTRLEN */
#define NS_PREFIX_STRLEN 50

/* Parses "10.0.0.1" or "fd00::1"; 0 or -EINVAL. */
int ns_ip_parse(const char *s, struct ns_ip *out);
/* Parses "10.0.0.0/24" (host bits allowed; they are kept); a bare address gets /32 or /128. */
int ns_prefix_parse(const char *s, struct ns_prefix *out);
/* Writes the address into buf (NS_IP_STRLEN bytes); returns buf. */
char *ns_ip_format(const struct ns_ip *ip, char *buf);
/* Writes "addr/len" into buf (NS_PREFIX_STRLEN bytes); returns buf. */
char *ns_prefix_format(const struct ns_prefix *p, char *buf);

size_t ns_ip_len(const struct ns_ip *ip);          /* 4 or 16 */
int ns_ip_max_len(int family);                      /* 32 or 128 */
bool ns_ip_equal(const struct ns_ip *a, const struct ns_ip *b);
int ns_ip_cmp(const struct ns_ip *a, const struct ns_ip *b); /* same family only */
/* True when ip lies inside p (same family). */
bool ns_prefix_contains(const struct ns_prefix *p, const struct ns_ip *ip);
/* p with its host bits cleared. */
struct ns_prefix ns_prefix_network(const struct ns_prefix *p);
/* The last address of p (all host bits set). */
struct ns_ip ns_prefix_last(const struct ns_prefix *p);
/* ip + n (wraps silently; callers bound the result with ns_prefix_contains). */
struct ns_ip ns_ip_add(const struct ns_ip *ip, uint64_t n);

#endif
