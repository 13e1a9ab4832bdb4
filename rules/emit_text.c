/* emit_text.c — the IR as an nft script: the dry-run render. Loaded with `nft -f`, it gives the
 * same kernel state as the libnftnl path (tests compare the two listings). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interval.h"
#include "ruleset.h"
#include "xalloc.h"

struct out {
	char *p;
	size_t n, cap;
	FILE *f;   /* when set, the buffer is written out at table and chain boundaries */
	bool err;
};

static void flush_to_file(struct out *o)
{
	if (!o->f || !o->n)
		return;
	if (fwrite(o->p, 1, o->n, o->f) != o->n)
		o->err = true;
	o->n = 0;
	o->p[0] = 0;
}

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		size_t room = o->cap - o->n;
		va_start(ap, fmt);
		int k = vsnprintf(o->p ? o->p + o->n : NULL, o->p ? room : 0, fmt, ap);
		va_end(ap);
		if (k < 0)
			return;
		if (o->p && (size_t)k < room) {
			o->n += (size_t)k;
			return;
		}
		o->cap = (o->cap + (size_t)k + 1) * 2;
		o->p = xrealloc(o->p, o->cap);
	}
}

/* Appending without printf: the render of a large cluster is mostly element lines. */
static void outs(struct out *o, const char *str)
{
	size_t l = strlen(str);
	if (o->n + l + 1 > o->cap) {
		o->cap = (o->n + l + 1) * 2;
		o->p = xrealloc(o->p, o->cap);
	}
	memcpy(o->p + o->n, str, l + 1);
	o->n += l;
}

static void outu(struct out *o, unsigned v)
{
	char buf[12], *p = buf + sizeof(buf);
	*--p = 0;
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	outs(o, p);
}

static const char *proto_lc(uint8_t p)
{
	switch (p) {
	case NP_PROTO_TCP: return "tcp";
	case NP_PROTO_UDP: return "udp";
	case NP_PROTO_SCTP: return "sctp";
	}
	return "tcp";
}

static const char *key_type(enum rs_key k)
{
	switch (k) {
	case RS_KEY_IPV4: return "ipv4_addr";
	case RS_KEY_IPV6: return "ipv6_addr";
	case RS_KEY_PROTO_PORT: return "inet_proto . inet_service";
	case RS_KEY_IPV4_PROTO_PORT: return "ipv4_addr . inet_proto . inet_service";
	case RS_KEY_IPV6_PROTO_PORT: return "ipv6_addr . inet_proto . inet_service";
	case RS_KEY_IFNAME: return "ifname";
	case RS_KEY_IFNAME_IPV4: return "ifname . ipv4_addr";
	case RS_KEY_IFNAME_IPV6: return "ifname . ipv6_addr";
	}
	return "?";
}

static void addr_range(struct out *o, const struct np_addr *lo, const struct np_addr *hi)
{
	char a[64];
	outs(o, np_addr_str(lo, a));
	if (!np_addr_cmp(lo, hi))
		return;
	int prefix = np_range_prefix(lo, hi);
	if (prefix >= 0) {
		outs(o, "/");
		outu(o, (unsigned)prefix);
	} else {
		outs(o, "-");
		outs(o, np_addr_str(hi, a));
	}
}

static void port_range(struct out *o, const struct rs_elem *e)
{
	outs(o, proto_lc(e->proto));
	outs(o, " . ");
	outu(o, e->port_lo);
	if (e->port_lo != e->port_hi) {
		outs(o, "-");
		outu(o, e->port_hi);
	}
}

static void elem(struct out *o, const struct rs_set *s, const struct rs_elem *e)
{
	switch (s->key) {
	case RS_KEY_IPV4:
	case RS_KEY_IPV6:
		addr_range(o, &e->addr_lo, &e->addr_hi);
		break;
	case RS_KEY_PROTO_PORT:
		port_range(o, e);
		break;
	case RS_KEY_IPV4_PROTO_PORT:
	case RS_KEY_IPV6_PROTO_PORT:
		addr_range(o, &e->addr_lo, &e->addr_hi);
		outs(o, " . ");
		port_range(o, e);
		break;
	case RS_KEY_IFNAME:
		outs(o, "\"");
		outs(o, e->ifname);
		outs(o, "\"");
		break;
	case RS_KEY_IFNAME_IPV4:
	case RS_KEY_IFNAME_IPV6:
		outs(o, "\"");
		outs(o, e->ifname);
		outs(o, "\" . ");
		addr_range(o, &e->addr_lo, &e->addr_hi);
		break;
	}
	if (s->vmap) {
		outs(o, " : goto ");
		outs(o, e->target);
	}
}

static void set(struct out *o, const struct rs_set *s)
{
	outf(o, "\t%s %s {\n", s->vmap ? "map" : "set", s->name);
	outf(o, "\t\ttype %s%s\n", key_type(s->key), s->vmap ? " : verdict" : "");
	if (s->interval)
		outf(o, "\t\tflags interval\n");
	if (s->comment)
		outf(o, "\t\tcomment \"%s\"\n", s->comment);
	if (s->n_elems) {
		outf(o, "\t\telements = {\n");
		for (size_t i = 0; i < s->n_elems; i++) {
			outs(o, "\t\t\t");
			elem(o, s, &s->elems[i]);
			outs(o, i + 1 < s->n_elems ? ",\n" : "\n");
		}
		outf(o, "\t\t}\n");
	}
	outf(o, "\t}\n");
}

static const char *ip(uint8_t family)
{
	return family == 6 ? "ip6" : "ip";
}

/* One match, as nft writes it. */
static void match(struct out *o, const struct rs_match *m)
{
	char a[64];
	switch (m->kind) {
	case RS_M_CT_ESTABLISHED:
		outs(o, "ct state established,related");
		break;
	case RS_M_CT_INVALID:
		outs(o, "ct state invalid");
		break;
	case RS_M_CT_MARK_BIT:
		snprintf(a, sizeof(a), "ct mark and 0x%08x != 0", m->mark);
		outs(o, a);
		break;
	case RS_M_ICMPV6_ND:
		outs(o, "icmpv6 type 133-137");
		break;
	case RS_M_SADDR_IN:
	case RS_M_DADDR_IN:
		outs(o, ip(m->family));
		outs(o, m->kind == RS_M_SADDR_IN ? " saddr @" : " daddr @");
		outs(o, m->set);
		break;
	case RS_M_SADDR_EQ:
	case RS_M_DADDR_EQ:
		outs(o, ip(m->family));
		outs(o, m->kind == RS_M_SADDR_EQ ? " saddr " : " daddr ");
		outs(o, np_addr_str(&m->addr, a));
		break;
	case RS_M_L4_PORT_IN:
		outs(o, "meta l4proto . th dport @");
		outs(o, m->set);
		break;
	case RS_M_DADDR_L4_PORT_IN:
		outs(o, ip(m->family));
		outs(o, " daddr . meta l4proto . th dport @");
		outs(o, m->set);
		break;
	case RS_M_L4PROTO_EQ:
		outs(o, "meta l4proto ");
		outs(o, proto_lc(m->proto));
		break;
	case RS_M_IIF_NOT_IN:
		outs(o, "iifname != @");
		outs(o, m->set);
		break;
	case RS_M_IIF_SADDR_IN:
		outs(o, "iifname . ");
		outs(o, ip(m->family));
		outs(o, " saddr @");
		outs(o, m->set);
		break;
	case RS_M_IIF_ARP_SADDR_IN:
		outs(o, "iifname . arp saddr ip @");
		outs(o, m->set);
		break;
	}
}

/* The rule's verdict, after sep (nothing for a rule without one). */
static void verdict(struct out *o, const struct rs_rule *r, const char *sep)
{
	static const char *const plain[] = {
		[RS_V_ACCEPT] = "accept", [RS_V_DROP] = "drop",
		[RS_V_REJECT_TCP] = "reject with tcp reset",
		[RS_V_REJECT] = "reject with icmpx admin-prohibited",
	};
	switch (r->verdict) {
	case RS_V_NONE:
		break;
	case RS_V_ACCEPT:
	case RS_V_DROP:
	case RS_V_REJECT_TCP:
	case RS_V_REJECT:
		outs(o, sep);
		outs(o, plain[r->verdict]);
		break;
	case RS_V_JUMP:
	case RS_V_GOTO:
		outs(o, sep);
		outs(o, r->verdict == RS_V_JUMP ? "jump " : "goto ");
		outs(o, r->target);
		break;
	case RS_V_SADDR_VMAP:
	case RS_V_DADDR_VMAP:
		outs(o, sep);
		outs(o, ip(r->family));
		outs(o, r->verdict == RS_V_SADDR_VMAP ? " saddr vmap @" : " daddr vmap @");
		outs(o, r->target);
		break;
	}
}

static void rule(struct out *o, const struct rs_rule *r, bool with_comment)
{
	const char *sep = "";
	for (size_t i = 0; i < r->n_m; i++, sep = " ") {
		outs(o, sep);
		match(o, &r->m[i]);
	}
	if (r->log) {
		outs(o, sep);
		outs(o, "limit rate 10/second burst 20 packets log prefix \"");
		outs(o, r->log_prefix);
		outs(o, "\" group ");
		outu(o, r->log_group);
		sep = " ";
	}
	if (r->counter) {
		outs(o, sep);
		outs(o, "counter name \"");
		outs(o, r->counter);
		outs(o, "\"");
		sep = " ";
	} else if (r->anon_counter) {
		outs(o, sep);
		outs(o, "counter");
		sep = " ";
	}
	verdict(o, r, sep);
	if (with_comment && r->comment) {
		outs(o, " comment \"");
		outs(o, r->comment);
		outs(o, "\"");
	}
}

char *emit_text_rule(const struct rs_table *t, const struct rs_rule *r)
{
	(void)t;
	struct out o = { 0 };
	outs(&o, "");
	rule(&o, r, false);
	return o.p;
}

static void priority(struct out *o, const struct rs_table *t, int prio)
{
	int filter = t->family == RS_FAMILY_BRIDGE ? -200 : 0;
	int d = prio - filter;
	if (d == 0)
		outf(o, "filter");
	else
		outf(o, "filter %c %d", d < 0 ? '-' : '+', d < 0 ? -d : d);
}

static const char *hook_name(enum rs_hook h)
{
	switch (h) {
	case RS_HOOK_PREROUTING: return "prerouting";
	case RS_HOOK_INPUT: return "input";
	case RS_HOOK_FORWARD: return "forward";
	case RS_HOOK_OUTPUT: return "output";
	case RS_HOOK_POSTROUTING: return "postrouting";
	case RS_HOOK_NONE: break;
	}
	return "?";
}

static void chain(struct out *o, const struct rs_table *t, const struct rs_chain *c)
{
	outf(o, "\tchain %s {\n", c->name);
	if (c->comment)
		outf(o, "\t\tcomment \"%s\"\n", c->comment);
	if (c->hook != RS_HOOK_NONE) {
		outf(o, "\t\ttype filter hook %s priority ", hook_name(c->hook));
		priority(o, t, c->prio);
		outf(o, "; policy %s;\n", c->policy_drop ? "drop" : "accept");
	}
	for (size_t i = 0; i < c->n_rules; i++) {
		outs(o, "\t\t");
		rule(o, &c->rules[i], true);
		outs(o, "\n");
	}
	outf(o, "\t}\n");
}

static void emit_all(struct out *o, const struct rs_ruleset *rs)
{
	outf(o, "#!/usr/sbin/nft -f\n# netpol render: load with `nft -f`; one transaction that "
		 "replaces netpol's tables and touches no other table\n");
	for (size_t ti = 0; ti < rs->n_tables; ti++) {
		const struct rs_table *t = &rs->tables[ti];
		const char *fam = t->family == RS_FAMILY_BRIDGE ? "bridge" : "inet";
		/* the first line makes the delete valid when the table does not exist yet */
		outf(o, "\ntable %s %s\ndelete table %s %s\ntable %s %s {\n", fam, t->name, fam,
		     t->name, fam, t->name);
		if (t->comment)
			outf(o, "\tcomment \"%s\"\n", t->comment);
		for (size_t i = 0; i < t->n_counters; i++) {
			outf(o, "\tcounter %s {", t->counters[i].name);
			if (t->counters[i].comment)
				outf(o, " comment \"%s\"", t->counters[i].comment);
			outf(o, " }\n");
		}
		for (size_t i = 0; i < t->n_sets; i++) {
			set(o, &t->sets[i]);
			if (o->n > 65536)
				flush_to_file(o);
		}
		for (size_t i = 0; i < t->n_chains; i++) {
			chain(o, t, &t->chains[i]);
			if (o->n > 65536)
				flush_to_file(o);
		}
		outf(o, "}\n");
	}
}

char *emit_text(const struct rs_ruleset *rs)
{
	struct out o = { 0 };
	emit_all(&o, rs);
	return o.p;
}

int emit_text_write(const struct rs_ruleset *rs, FILE *f)
{
	struct out o = { .f = f };
	outs(&o, "");
	emit_all(&o, rs);
	flush_to_file(&o);
	free(o.p);
	return o.err ? -EIO : 0;
}
