/* masq.h — outbound masquerade for networks that ask for it, in our own nf_tables table
 * `table ip netpol-nat` (never iptables, never anyone else's table), built with libnftnl. */
#ifndef NETSETUP_MASQ_H
#define NETSETUP_MASQ_H

#include <stddef.h>

#include "ip.h"
#include "nl.h"

struct ns_masq_rule {
	struct ns_prefix subnet; /* IPv4 */
	const char *bridge;      /* traffic leaving through another interface is masqueraded */
};

/* Replaces the whole table in one transaction with one rule per entry; n == 0 removes the
 * table. Runs in the caller's netns. */
int ns_masq_sync(const struct ns_masq_rule *rules, size_t n, struct ns_error *err);

#endif
