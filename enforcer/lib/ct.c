/* ct.c — conntrack clean-up after narrowing changes (libnetfilter_conntrack). */
#include <errno.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ct.h"
#include "ctindex.h"
#include "eval.h"
#include "podaddr.h"
#include "vec.h"
#include "xalloc.h"

/* The address family of a set's first key field, or 0 when it has no address first. */
static uint8_t set_family(const struct nl_set *s)
{
	uint32_t first = s->key_type;
	while (first >= 64)
		first >>= 6;
	return first == 7 ? 4 : first == 8 ? 6 : 0;
}

static void all_isolated(const struct nl_table *t, struct ct_affected *out)
{
	for (size_t i = 0; i < t->n_sets; i++) {
		const struct nl_set *s = &t->sets[i];
		uint8_t fam = set_family(s);
		if (!(s->flags & NFT_SET_MAP) || !fam)
			continue;
		for (size_t j = 0; j < s->n_elems; j++)
			ct_affected_add(out, fam, s->elems[j].lo, s->elems[j].lo);
	}
}

/* Does the table hold the admin tiers (their dispatch maps)? There a peer set that gains an
 * address can narrow: the set may feed an admin Deny, or a Pass that hands the flow to a
 * NetworkPolicy which drops it. */
static bool has_admin_tiers(const struct nl_table *t)
{
	for (size_t i = 0; i < t->n_sets; i++)
		if (!strcmp(t->sets[i].name, "aegr4") || !strcmp(t->sets[i].name, "begr4"))
			return true;
	return false;
}

/* A removed chain that a dispatch map element deleted in the same diff pointed at: a pod's own
 * chain leaving with the pod. Only that pod's traffic went through it, and that address is no
 * longer dispatched (or, re-added to another chain, is in the ranges as a map addition): no
 * other pod's connections can be narrowed by its removal. */
static bool left_with_its_pod(const struct nl_table_diff *td, const char *chain)
{
	for (size_t i = 0; i < td->n_sets; i++) {
		const struct nl_set_diff *sd = &td->sets[i];
		const struct nl_set *s = sd->old ? sd->old : sd->cur;
		if (!(s->flags & NFT_SET_MAP))
			continue;
		for (size_t j = 0; j < sd->n_del; j++)
			if (sd->del[j]->chain && !strcmp(sd->del[j]->chain, chain))
				return true;
	}
	return false;
}

void ct_affected_from_diff(const struct nl_diff *d, struct ct_affected *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t ti = 0; ti < d->n_tables; ti++) {
		const struct nl_table_diff *td = &d->tables[ti];
		if (td->cur->family != NFPROTO_INET)
			continue; /* the bridge table is stateless */
		bool all = td->replace != NULL;
		bool tiers = has_admin_tiers(td->cur);
		for (size_t i = 0; i < td->n_chains; i++)
			all |= td->chains[i].old != NULL && /* rewritten, recreated or removed */
			       !(!td->chains[i].cur && left_with_its_pod(td, td->chains[i].old->name));
		for (size_t i = 0; i < td->n_sets && !all; i++) {
			const struct nl_set_diff *sd = &td->sets[i];
			const struct nl_set *s = sd->old ? sd->old : sd->cur;
			uint8_t fam = set_family(s);
			if (s->flags & NFT_SET_MAP) {
				for (size_t j = 0; fam && j < sd->n_add; j++)
					ct_affected_add(out, fam, sd->add[j]->lo, sd->add[j]->lo);
			} else if (!fam) {
				all |= sd->n_del > 0 || !sd->cur; /* a port set lost ports */
			} else {
				for (size_t j = 0; j < sd->n_del; j++)
					ct_affected_add(out, fam, sd->del[j]->lo, sd->del[j]->hi);
				for (size_t j = 0; tiers && j < sd->n_add; j++)
					ct_affected_add(out, fam, sd->add[j]->lo, sd->add[j]->hi);
				if (!sd->cur) /* a whole peer set went away */
					for (size_t j = 0; j < s->n_elems; j++)
						ct_affected_add(out, fam, s->elems[j].lo, s->elems[j].hi);
			}
		}
		if (all)
			all_isolated(td->cur, out);
	}
}

/* The connections to judge: from the index, or from a dump when there is none. */
struct cands {
	struct ct_conn *v;
	size_t n, cap;
};

static bool touches(const struct ct_affected *a, const struct ct_conn *c)
{
	return ct_affected_has(a, c->family, c->orig.src) ||
	       ct_affected_has(a, c->family, c->orig.dst) ||
	       ct_affected_has(a, c->family, c->reply.src) ||
	       ct_affected_has(a, c->family, c->reply.dst);
}

struct dump_ctx {
	const struct ct_affected *a;
	struct cands *out;
};

/* Keeps entries already marked and entries touching the affected ranges. */
static int dump_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct dump_ctx *d = data;
	struct ct_conn c;
	ctix_conn_from_nfct(ct, &c);
	if ((c.mark & RS_CT_MARK_REVOKED) || touches(d->a, &c))
		VEC_PUSH(d->out->v, d->out->n, d->out->cap) = c;
	return NFCT_CB_CONTINUE;
}

static int index_cb(void *arg, const struct ct_conn *c)
{
	struct cands *out = arg;
	VEC_PUSH(out->v, out->n, out->cap) = *c;
	return 0;
}

/* Entries in this netns's table; -1 when unknown. Opening a dump costs ~10 ms on this kernel
 * even when the table is empty, so an empty table is checked first. */
static long ct_count(void)
{
	FILE *f = fopen("/proc/sys/net/netfilter/nf_conntrack_count", "r");
	long n = -1;
	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

static bool judged_proto(uint8_t p)
{
	return p == IPPROTO_TCP || p == IPPROTO_UDP || p == IPPROTO_SCTP;
}

bool ct_denied_here(const struct np_eval *ev, const struct rs_options *ro,
		    const struct np_flow *f)
{
	if (np_eval_allowed(ev, f))
		return false;
	struct np_verdict v;
	if (np_eval_explain(ev, f, &v) < 0)
		return false;
	bool d = (!v.egress.allowed && f->src.pod && ruleset_pod_local(ro, f->src.pod)) ||
		 (!v.ingress.allowed && f->dst.pod && ruleset_pod_local(ro, f->dst.pod));
	np_verdict_clear(&v);
	return d;
}

/* An update message names the entry by its original tuple (and zone) and carries the mark. */
static int set_mark(struct nfct_handle *h, const struct ct_conn *c, uint32_t mark)
{
	struct nf_conntrack *u = ctix_conn_nfct(c);
	nfct_set_attr_u32(u, ATTR_MARK, mark);
	int r = nfct_query(h, NFCT_Q_UPDATE, u) == 0 ? 0 : -errno;
	nfct_destroy(u);
	return r;
}

static int delete_entry(struct nfct_handle *h, const struct ct_conn *c)
{
	struct nf_conntrack *u = ctix_conn_nfct(c);
	int r = nfct_query(h, NFCT_Q_DESTROY, u) == 0 ? 0 : -errno;
	nfct_destroy(u);
	return r;
}

/* The candidates from a dump of the kernel's table: every entry touching a, and every marked
 * one (the kernel filters the dump by mark when nothing narrowed). */
static int candidates_dumped(struct nfct_handle *h, const struct ct_affected *a,
			     struct cands *out)
{
	struct dump_ctx d = { .a = a, .out = out };
	nfct_callback_register(h, NFCT_T_ALL, dump_cb, &d);
	int r;
	if (a->n) {
		uint32_t family = AF_UNSPEC;
		r = nfct_query(h, NFCT_Q_DUMP, &family) < 0 ? -errno : 0;
	} else {
		struct nfct_filter_dump *fd = nfct_filter_dump_create();
		if (!fd)
			abort();
		struct nfct_filter_dump_mark m = { RS_CT_MARK_REVOKED, RS_CT_MARK_REVOKED };
		nfct_filter_dump_set_attr(fd, NFCT_FILTER_DUMP_MARK, &m);
		nfct_filter_dump_set_attr_u8(fd, NFCT_FILTER_DUMP_L3NUM, AF_UNSPEC);
		r = nfct_query(h, NFCT_Q_DUMP_FILTER, fd) < 0 ? -errno : 0;
		nfct_filter_dump_destroy(fd);
	}
	nfct_callback_unregister(h);
	return r;
}

/* Marks, unmarks or deletes each candidate as the model says; keeps the index (if any) in
 * step with what the kernel now holds. */
static int judge(struct nfct_handle *h, const struct cands *cs, const struct np_inventory *inv,
		 const struct rs_options *ro, struct ctix *ix, struct ct_stats *st)
{
	struct np_eval *ev = np_eval_new(inv);
	if (!ev)
		abort();
	np_eval_set_audit(ev, ro->audit); /* an audited drop lets the packet through: no cut */
	struct podaddr *idx = podaddr_new(inv);
	int r = 0;
	for (size_t i = 0; i < cs->n; i++) {
		const struct ct_conn *c = &cs->v[i];
		bool marked = c->mark & RS_CT_MARK_REVOKED;
		int e = 0;
		if (!judged_proto(c->proto)) {
			/* no ports to judge by; such a flow's next packet is judged as new */
			if (!marked && !(e = delete_entry(h, c))) {
				st->deleted++;
				if (ix)
					ctix_forget(ix, c->id);
			}
		} else {
			struct np_flow f;
			podaddr_conn_flow(idx, c, &f);
			bool deny = ct_denied_here(ev, ro, &f);
			uint32_t mark = c->mark;
			if (deny && !marked) {
				mark |= RS_CT_MARK_REVOKED;
				if (!(e = set_mark(h, c, mark)))
					st->revoked++;
			} else if (!deny && marked) {
				mark &= ~RS_CT_MARK_REVOKED;
				if (!(e = set_mark(h, c, mark)))
					st->restored++;
			}
			if (!e && ix && mark != c->mark)
				ctix_mark_set(ix, c->id, mark);
		}
		if (e == -ENOENT && ix) /* it ended meanwhile */
			ctix_forget(ix, c->id);
		if (e < 0 && e != -ENOENT && !r)
			r = e;
	}
	np_eval_free(ev);
	podaddr_free(idx);
	return r;
}

int ct_revoke(const struct ct_affected *a, const struct np_inventory *inv,
	      const struct rs_options *ro, struct ctix *ix, struct ct_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (ix) /* what happened up to the commit just made */
		ctix_read(ix);
	bool indexed = ix && !ctix_stale(ix);
	if (indexed) {
		struct ctix_stats xs;
		ctix_stats_get(ix, &xs);
		if (!xs.live || (!a->n && !xs.marked_revoked))
			return 0; /* nothing live, or a widening change with nothing marked */
	} else if (ct_count() == 0) {
		return 0;
	}
	struct ct_affected sorted = { 0 };
	for (size_t i = 0; i < a->n; i++)
		ct_affected_add(&sorted, a->v[i].family, a->v[i].lo, a->v[i].hi);
	ct_affected_normalize(&sorted);
	struct nfct_handle *h = nfct_open(CONNTRACK, 0);
	if (!h) {
		ct_affected_free(&sorted);
		return errno ? -errno : -EIO;
	}
	struct cands cs = { 0 };
	int r = indexed ? ctix_query(ix, &sorted, RS_CT_MARK_REVOKED, index_cb, &cs)
			: candidates_dumped(h, &sorted, &cs);
	st->candidates = cs.n;
	st->indexed = indexed;
	/* changes after the dump: the handle cannot do both at once */
	if (cs.n) {
		int e = judge(h, &cs, inv, ro, indexed ? ix : NULL, st);
		if (!r)
			r = e;
	}
	free(cs.v);
	ct_affected_free(&sorted);
	nfct_close(h);
	return r;
}
