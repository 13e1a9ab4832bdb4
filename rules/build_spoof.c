/* build_spoof.c — anti-spoofing where pods hang off a Linux bridge: the inet hooks only see the
 * bridge as iif, so the pod's port is matched in the bridge family (stateless; no conntrack
 * there). */
#include <string.h>

#include "build.h"
#include "interval.h"

size_t build_spoof_pod(const struct np_pod *pod, struct build_disp out[BUILD_POD_DISP])
{
	if (!pod->host_if || strlen(pod->host_if) >= 16)
		return 0;
	size_t n = 0;
	memset(&out[n], 0, sizeof(out[n]));
	strcpy(out[n++].e.ifname, pod->host_if);
	for (size_t i = 0; i < pod->n_ips && n < BUILD_POD_DISP; i++) {
		memset(&out[n], 0, sizeof(out[n]));
		out[n].map = pod->ips[i].family == 4 ? 1 : 2;
		strcpy(out[n].e.ifname, pod->host_if);
		out[n].e.addr_lo = out[n].e.addr_hi = pod->ips[i];
		n++;
	}
	return n;
}

/* Every local pod's host-side port (pod-port), and its addresses behind that port (pod-src4,
 * pod-src6). */
static void pod_elems(struct builder *b, struct btable *t)
{
	builder_local(b);
	for (size_t l = 0; l < b->n_local; l++) {
		struct build_disp d[BUILD_POD_DISP];
		size_t n = build_spoof_pod(&b->inv->pods[b->local[l]], d);
		for (size_t i = 0; i < n; i++)
			*bset_add(&t->sets[d[i].map]) = d[i].e;
	}
}

const char *const build_spoof_sets[3] = { "pod-port", "pod-src4", "pod-src6" };

void build_spoof(struct builder *b, struct btable *t)
{
	t->name = "netpol-spoof";
	t->family = RS_FAMILY_BRIDGE;
	t->comment = "netpol: pod source address checks; managed, do not edit";
	bool created;
	/* (created in build_spoof_sets' order: build_spoof_pod's elements index them) */
	struct bset *ports = btable_set(t, "pod-port", RS_KEY_IFNAME, false, &created);
	ports->s.origin = "anti-spoofing pod ports";
	btable_set(t, "pod-src4", RS_KEY_IFNAME_IPV4, false, &created)->s.origin =
		"anti-spoofing pod IPv4 sources";
	btable_set(t, "pod-src6", RS_KEY_IFNAME_IPV6, false, &created)->s.origin =
		"anti-spoofing pod IPv6 sources";
	struct bset *local6 = btable_set(t, "v6-local", RS_KEY_IPV6, true, &created);
	local6->s.origin = "anti-spoofing IPv6 link-local and unspecified sources";
	local6->s.comment = "DAD (::) and link-local (fe80::/10) sources";
	struct np_cidr ll;
	np_cidr_parse("::/128", &ll, NULL);
	struct rs_elem *e = bset_add(local6);
	np_cidr_bounds(&ll, &e->addr_lo, &e->addr_hi);
	np_cidr_parse("fe80::/10", &ll, NULL);
	e = bset_add(local6);
	np_cidr_bounds(&ll, &e->addr_lo, &e->addr_hi);

	pod_elems(b, t);
	struct rs_chain *c = btable_chain(t, "prerouting");
	c->hook = RS_HOOK_PREROUTING;
	c->prio = -200; /* "filter" in the bridge family */
	c->origin = "anti-spoofing chain";
	/* a packet from a pod port must carry that pod's address; DAD and link-local pass */
	static const struct { enum rs_match_kind kind; const char *set; uint8_t family; } ok[] = {
		{ RS_M_IIF_NOT_IN, "pod-port", 0 },
		{ RS_M_IIF_SADDR_IN, "pod-src4", 4 },
		{ RS_M_IIF_SADDR_IN, "pod-src6", 6 },
		{ RS_M_IIF_ARP_SADDR_IN, "pod-src4", 4 },
		{ RS_M_SADDR_IN, "v6-local", 6 },
	};
	struct rs_rule *r;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		r = btable_rule(t, c);
		btable_match(r, ok[i].kind, ok[i].set, ok[i].family);
		r->verdict = RS_V_ACCEPT;
	}
	r = btable_rule(t, c);
	r->anon_counter = true;
	r->verdict = RS_V_DROP;
}
