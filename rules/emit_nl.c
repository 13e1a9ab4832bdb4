/* emit_nl.c — IR objects as libnftnl messages in one nf_tables batch buffer, with a record of
 * which IR object (origin) every message came from so kernel errors can be reported against the
 * policy. The expression sequences mirror what nft 1.0.6 emits for the same text (checked with
 * `nft --debug=netlink`), so `nft list` prints a table loaded here exactly like the rendered one.
 * No sockets: enforcer/lib/nft.c sends the buffer. */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "emit_nl.h"
#include "vec.h"
#include "xalloc.h"

/* Batch pages: big enough that a full ruleset needs few iovecs; the overrun must hold the
 * largest single message, which ELEM_MSG_MAX bounds (elements are split across messages before
 * the 16-bit attribute length of the element nest could overflow). */
#define BATCH_PAGE (1024 * 1024)
#define BATCH_OVERRUN (128 * 1024)
#define ELEM_MSG_MAX (48 * 1024)
#define MAX_EXPRS 32

struct nl_batch {
	struct nftnl_batch *b;
	uint32_t seq, begin_seq, end_seq;
	struct nl_msgref *refs;
	size_t n_refs, cap_refs;
	struct nl_batch_stats st;
	uint32_t anon_id;
	struct np_arena *a;
	/* ext-ack bookkeeping while a message is being built */
	uint32_t *subs;
	const void **sub_ptrs;
	size_t n_subs, cap_subs;
};

struct nl_batch *nl_batch_new(uint32_t seq)
{
	struct nl_batch *b = xcalloc(1, sizeof(*b));
	b->b = nftnl_batch_alloc(BATCH_PAGE, BATCH_OVERRUN);
	if (!b->b)
		abort();
	b->a = np_arena_new();
	b->begin_seq = seq;
	b->seq = seq + 1;
	nftnl_batch_begin(nftnl_batch_buffer(b->b), b->begin_seq);
	nftnl_batch_update(b->b);
	b->st.msgs = 1;
	return b;
}

void nl_batch_free(struct nl_batch *b)
{
	if (!b)
		return;
	nftnl_batch_free(b->b);
	np_arena_free(b->a);
	free(b->refs);
	free(b->subs);
	free(b->sub_ptrs);
	free(b);
}

static void sub_mark(struct nl_batch *b, const struct nlmsghdr *nlh, const void *ptr)
{
	if (b->n_subs == b->cap_subs) {
		b->cap_subs = b->cap_subs ? b->cap_subs * 2 : 64;
		b->subs = xreallocarray(b->subs, b->cap_subs, sizeof(*b->subs));
		b->sub_ptrs = xreallocarray(b->sub_ptrs, b->cap_subs, sizeof(*b->sub_ptrs));
	}
	b->subs[b->n_subs] = nlh->nlmsg_len;
	b->sub_ptrs[b->n_subs++] = ptr;
}

static struct nlmsghdr *msg_begin(struct nl_batch *b, uint16_t type, uint16_t family,
				  uint16_t flags, uint32_t seq)
{
	b->n_subs = 0;
	return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(b->b), type, family, flags, seq);
}

/* Records what the message was about, then commits it to the batch (which may move it to a
 * new page: nlh is invalid afterwards). */
static void msg_end(struct nl_batch *b, struct nlmsghdr *nlh, const char *origin, const char *what)
{
	struct nl_msgref *r = &VEC_PUSH(b->refs, b->n_refs, b->cap_refs);
	memset(r, 0, sizeof(*r));
	r->seq = nlh->nlmsg_seq;
	r->len = nlh->nlmsg_len;
	r->origin = origin;
	r->what = what;
	if (b->n_subs) {
		r->n_sub = b->n_subs;
		r->sub_off = np_arena_alloc(b->a, b->n_subs * sizeof(*r->sub_off));
		r->sub_ptr = np_arena_alloc(b->a, b->n_subs * sizeof(*r->sub_ptr));
		memcpy(r->sub_off, b->subs, b->n_subs * sizeof(*r->sub_off));
		memcpy(r->sub_ptr, b->sub_ptrs, b->n_subs * sizeof(*r->sub_ptr));
		b->n_subs = 0;
	}
	nftnl_batch_update(b->b);
	b->st.msgs++;
}

static void udata_comment(const char *comment, uint8_t type, void **data, uint32_t *len,
			  struct nftnl_udata_buf **buf)
{
	*buf = NULL;
	if (!comment)
		return;
	*buf = nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 8);
	if (!*buf)
		abort();
	char c[NFTNL_UDATA_COMMENT_MAXLEN];
	snprintf(c, sizeof(c), "%s", comment);
	nftnl_udata_put_strz(*buf, type, c);
	*data = nftnl_udata_buf_data(*buf);
	*len = nftnl_udata_buf_len(*buf);
}

/* ---- tables, sets, chains, counters ---- */

static void add_table(struct nl_batch *b, const struct nl_table *t, uint16_t type)
{
	struct nftnl_table *nt = nftnl_table_alloc();
	if (!nt)
		abort();
	nftnl_table_set_str(nt, NFTNL_TABLE_NAME, t->name);
	nftnl_table_set_u32(nt, NFTNL_TABLE_FAMILY, t->family);
	struct nftnl_udata_buf *ub = NULL;
	if (type == NFT_MSG_NEWTABLE) {
		nftnl_table_set_u32(nt, NFTNL_TABLE_FLAGS, t->flags);
		void *d;
		uint32_t l;
		udata_comment(t->comment, NFTNL_UDATA_TABLE_COMMENT, &d, &l, &ub);
		if (ub)
			nftnl_table_set_data(nt, NFTNL_TABLE_USERDATA, d, l);
	}
	struct nlmsghdr *nlh = msg_begin(b, type, t->family,
					 type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0, b->seq++);
	nftnl_table_nlmsg_build_payload(nlh, nt);
	msg_end(b, nlh, NULL, np_arena_printf(b->a, "%s table %s",
					      type == NFT_MSG_NEWTABLE ? "create" : "delete", t->name));
	nftnl_table_free(nt);
	nftnl_udata_buf_free(ub);
	b->st.tables++;
}

void nl_batch_destroy_table(struct nl_batch *b, const char *name, uint32_t family)
{
	struct nl_table t = { .name = name, .family = family };
	add_table(b, &t, NL_MSG_DESTROYTABLE);
	b->st.deletes++;
}

static const char *set_origin(const struct nl_set *s)
{
	return s->ir ? s->ir->origin : NULL;
}

static void add_set(struct nl_batch *b, const struct nl_table *t, const struct nl_set *s)
{
	struct nftnl_set *ns = nftnl_set_alloc();
	if (!ns)
		abort();
	nftnl_set_set_str(ns, NFTNL_SET_TABLE, t->name);
	nftnl_set_set_str(ns, NFTNL_SET_NAME, s->name);
	nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, t->family);
	nftnl_set_set_u32(ns, NFTNL_SET_ID, ++b->anon_id);
	nftnl_set_set_u32(ns, NFTNL_SET_FLAGS, s->flags);
	nftnl_set_set_u32(ns, NFTNL_SET_KEY_TYPE, s->key_type);
	nftnl_set_set_u32(ns, NFTNL_SET_KEY_LEN, s->key_len);
	if (s->flags & NFT_SET_MAP) {
		nftnl_set_set_u32(ns, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
		nftnl_set_set_u32(ns, NFTNL_SET_DATA_LEN, sizeof(uint32_t));
	}
	if ((s->flags & NFT_SET_CONCAT) && s->ir) {
		/* libnftnl 1.2.4 counts the fields up to the first zero byte */
		struct nl_keyinfo ki;
		nl_key_info(s->ir->key, &ki);
		nftnl_set_set_data(ns, NFTNL_SET_DESC_CONCAT, ki.field_len, ki.n_fields + 1);
	}
	/* nft reads the key byte order from the set's userdata to print elements: without it a
	 * single ifname key (host order) lists as "" */
	struct nftnl_udata_buf *ub = nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 16);
	if (!ub)
		abort();
	uint32_t order = s->key_type >= 64 ? 0 : s->key_type == 41 ? 1 : 2;
	nftnl_udata_put_u32(ub, NFTNL_UDATA_SET_KEYBYTEORDER, order);
	if (s->comment) {
		char c[NFTNL_UDATA_COMMENT_MAXLEN];
		snprintf(c, sizeof(c), "%s", s->comment);
		nftnl_udata_put_strz(ub, NFTNL_UDATA_SET_COMMENT, c);
	}
	nftnl_set_set_data(ns, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ub), nftnl_udata_buf_len(ub));
	struct nlmsghdr *nlh = msg_begin(b, NFT_MSG_NEWSET, t->family, NLM_F_CREATE, b->seq++);
	nftnl_set_nlmsg_build_payload(nlh, ns);
	msg_end(b, nlh, set_origin(s), np_arena_printf(b->a, "create set %s", s->name));
	nftnl_set_free(ns);
	nftnl_udata_buf_free(ub);
	b->st.sets++;
}

static void del_named(struct nl_batch *b, const struct nl_table *t, uint16_t type,
		      const char *name, const char *what)
{
	struct nlmsghdr *nlh = msg_begin(b, type, t->family, 0, b->seq++);
	switch (type) {
	case NFT_MSG_DELSET:
		mnl_attr_put_strz(nlh, NFTA_SET_TABLE, t->name);
		mnl_attr_put_strz(nlh, NFTA_SET_NAME, name);
		break;
	case NFT_MSG_DELCHAIN:
		mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, t->name);
		mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, name);
		break;
	case NFT_MSG_DELRULE: /* table + chain only: every rule of the chain */
		mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, t->name);
		mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, name);
		break;
	case NFT_MSG_DELOBJ:
		mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, t->name);
		mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, name);
		mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
		break;
	}
	msg_end(b, nlh, NULL, np_arena_printf(b->a, "%s %s", what, name));
	b->st.deletes++;
}

static void add_chain(struct nl_batch *b, const struct nl_table *t, const struct nl_chain *c)
{
	struct nftnl_chain *nc = nftnl_chain_alloc();
	if (!nc)
		abort();
	nftnl_chain_set_str(nc, NFTNL_CHAIN_TABLE, t->name);
	nftnl_chain_set_str(nc, NFTNL_CHAIN_NAME, c->name);
	nftnl_chain_set_u32(nc, NFTNL_CHAIN_FAMILY, t->family);
	if (c->base) {
		nftnl_chain_set_u32(nc, NFTNL_CHAIN_HOOKNUM, c->hook);
		nftnl_chain_set_s32(nc, NFTNL_CHAIN_PRIO, c->prio);
		nftnl_chain_set_str(nc, NFTNL_CHAIN_TYPE, c->type ? c->type : "filter");
		nftnl_chain_set_u32(nc, NFTNL_CHAIN_POLICY, c->policy);
	}
	struct nftnl_udata_buf *ub = NULL;
	void *d;
	uint32_t l;
	udata_comment(c->comment, NFTNL_UDATA_CHAIN_COMMENT, &d, &l, &ub);
	if (ub)
		nftnl_chain_set_data(nc, NFTNL_CHAIN_USERDATA, d, l);
	struct nlmsghdr *nlh = msg_begin(b, NFT_MSG_NEWCHAIN, t->family, NLM_F_CREATE, b->seq++);
	nftnl_chain_nlmsg_build_payload(nlh, nc);
	msg_end(b, nlh, c->ir ? c->ir->origin : NULL,
		np_arena_printf(b->a, "create chain %s", c->name));
	nftnl_chain_free(nc);
	nftnl_udata_buf_free(ub);
	b->st.chains++;
}

static void add_counter(struct nl_batch *b, const struct nl_table *t, const struct nl_counter *k)
{
	struct nftnl_obj *o = nftnl_obj_alloc();
	if (!o)
		abort();
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, t->name);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, k->name);
	nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, t->family);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	struct nftnl_udata_buf *ub = NULL;
	void *d;
	uint32_t l;
	udata_comment(k->comment, NFTNL_UDATA_OBJ_COMMENT, &d, &l, &ub);
	if (ub)
		nftnl_obj_set_data(o, NFTNL_OBJ_USERDATA, d, l);
	struct nlmsghdr *nlh = msg_begin(b, NFT_MSG_NEWOBJ, t->family, NLM_F_CREATE, b->seq++);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	msg_end(b, nlh, NULL, np_arena_printf(b->a, "create counter %s", k->name));
	nftnl_obj_free(o);
	nftnl_udata_buf_free(ub);
	b->st.counters++;
}

/* ---- elements ---- */

static void put_data(struct nlmsghdr *nlh, uint16_t type, const void *p, uint32_t len)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, type);
	mnl_attr_put(nlh, NFTA_DATA_VALUE, len, p);
	mnl_attr_nest_end(nlh, n);
}

static void put_elem(struct nlmsghdr *nlh, const uint8_t *key, uint32_t len, uint32_t flags,
		     const uint8_t *key_end, const char *chain)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	if (flags)
		mnl_attr_put_u32(nlh, NFTA_SET_ELEM_FLAGS, htonl(flags));
	put_data(nlh, NFTA_SET_ELEM_KEY, key, len);
	if (key_end)
		put_data(nlh, NFTA_SET_ELEM_KEY_END, key_end, len);
	if (chain) {
		struct nlattr *d = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_DATA);
		struct nlattr *v = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
		mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl((uint32_t)NFT_GOTO));
		mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, chain);
		mnl_attr_nest_end(nlh, v);
		mnl_attr_nest_end(nlh, d);
	}
	mnl_attr_nest_end(nlh, n);
}

/* One element in the set's kernel encoding: rbtree intervals as start + (end+1 flagged
 * INTERVAL_END, left out for a range ending at all-ones), pipapo as KEY..KEY_END inclusive,
 * hash sets as KEY. Deletes name the same boundaries; map deletes need no data. */
static void put_set_elem(struct nlmsghdr *nlh, const struct nl_set *s, const struct nl_elem *e,
			 bool add)
{
	const char *chain = add && (s->flags & NFT_SET_MAP) ? e->chain : NULL;
	if (!(s->flags & NFT_SET_INTERVAL)) {
		put_elem(nlh, e->lo, s->key_len, 0, NULL, chain);
		return;
	}
	if (s->flags & NFT_SET_CONCAT) {
		put_elem(nlh, e->lo, s->key_len, 0, e->hi, chain);
		return;
	}
	put_elem(nlh, e->lo, s->key_len, 0, NULL, chain);
	uint8_t end[NL_KEY_MAX];
	memcpy(end, e->hi, s->key_len);
	unsigned i = s->key_len;
	while (i-- > 0)
		if (++end[i] != 0)
			break;
	if (i != (unsigned)-1) /* no carry out: the range does not end at all-ones */
		put_elem(nlh, end, s->key_len, NFT_SET_ELEM_INTERVAL_END, NULL, NULL);
}

static struct nlmsghdr *elems_begin(struct nl_batch *b, const struct nl_table *t,
				    const char *set, uint32_t set_id, bool add, uint32_t seq,
				    struct nlattr **nest)
{
	struct nlmsghdr *nlh = msg_begin(b, add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
					 t->family, add ? NLM_F_CREATE : 0, seq);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, t->name);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	if (set_id)
		mnl_attr_put_u32(nlh, NFTA_SET_ELEM_LIST_SET_ID, htonl(set_id));
	*nest = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	return nlh;
}

/* Element add or delete messages for one set; split across messages sharing one seq. */
static void set_elems(struct nl_batch *b, const struct nl_table *t, const struct nl_set *s,
		      const struct nl_elem *const *v, size_t n, bool add)
{
	if (!n)
		return;
	uint32_t seq = b->seq++;
	const char *what = np_arena_printf(b->a, "%s elements of set %s",
					   add ? "add" : "delete", s->name);
	struct nlattr *nest;
	struct nlmsghdr *nlh = elems_begin(b, t, s->name, 0, add, seq, &nest);
	for (size_t i = 0; i < n; i++) {
		if (nlh->nlmsg_len > ELEM_MSG_MAX) {
			mnl_attr_nest_end(nlh, nest);
			msg_end(b, nlh, set_origin(s), what);
			b->refs[b->n_refs - 1].set = s;
			nlh = elems_begin(b, t, s->name, 0, add, seq, &nest);
		}
		sub_mark(b, nlh, v[i]);
		put_set_elem(nlh, s, v[i], add);
	}
	mnl_attr_nest_end(nlh, nest);
	msg_end(b, nlh, set_origin(s), what);
	b->refs[b->n_refs - 1].set = s;
	if (add)
		b->st.elems_add += n;
	else
		b->st.elems_del += n;
}

/* ---- rules ---- */

struct rb { /* a rule being built */
	struct nftnl_expr *e[MAX_EXPRS];
	const char *what[MAX_EXPRS];
	size_t n;
	int nfproto;      /* inet: the nfproto dependency already matched (4, 6) or 0 */
	uint32_t family;  /* table family */
	bool l4tcp;       /* meta l4proto tcp already matched (reject's dependency) */
};

static struct nftnl_expr *rb_add(struct rb *r, const char *name, const char *what)
{
	if (r->n == MAX_EXPRS)
		abort(); /* the IR has at most 4 matches; cannot happen */
	struct nftnl_expr *e = nftnl_expr_alloc(name);
	if (!e)
		abort();
	r->what[r->n] = what;
	r->e[r->n++] = e;
	return e;
}

/* nft's register numbering: 32-bit register k of a concatenation is sent as a 128-bit register
 * number when it is aligned to one (compatibility with old kernels), else as NFT_REG32_xx. */
static uint32_t reg32(unsigned k)
{
	return k % 4 == 0 ? NFT_REG_1 + k / 4 : NFT_REG32_00 + k;
}

static void e_meta(struct rb *r, uint32_t key, uint32_t dreg, const char *what)
{
	struct nftnl_expr *e = rb_add(r, "meta", what);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
}

static void e_cmp(struct rb *r, uint32_t op, const void *data, uint32_t len, const char *what)
{
	struct nftnl_expr *e = rb_add(r, "cmp", what);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

static void e_payload(struct rb *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg,
		      const char *what)
{
	struct nftnl_expr *e = rb_add(r, "payload", what);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
}

static void e_lookup(struct rb *r, const char *set, uint32_t set_id, bool verdict, bool inv,
		     const char *what)
{
	struct nftnl_expr *e = rb_add(r, "lookup", what);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (set_id)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
	if (verdict)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
	if (inv)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
}

static void e_verdict(struct rb *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = rb_add(r, "immediate", "verdict");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
}

/* ct KEY and MASK != 0 (state bits, mark bits: host byte order either way) */
static void e_ct_bits(struct rb *r, uint32_t key, uint32_t mask, const char *what)
{
	uint32_t zero = 0;
	struct nftnl_expr *e = rb_add(r, "ct", what);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	e = rb_add(r, "bitwise", what);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
	e_cmp(r, NFT_CMP_NEQ, &zero, sizeof(zero), what);
}

static void e_l4proto_eq(struct rb *r, uint8_t proto, const char *what)
{
	if (proto == IPPROTO_TCP)
		r->l4tcp = true;
	e_meta(r, NFT_META_L4PROTO, NFT_REG_1, what);
	e_cmp(r, NFT_CMP_EQ, &proto, 1, what);
}

/* The dependency nft adds in front of an ip/ip6 payload: meta nfproto in inet tables (once per
 * rule), meta protocol in bridge tables. */
static void dep_family(struct rb *r, int fam, const char *what)
{
	if (r->family == NFPROTO_BRIDGE) {
		uint16_t proto = htons(fam == 4 ? 0x0800 : 0x86dd);
		e_meta(r, NFT_META_PROTOCOL, NFT_REG_1, what);
		e_cmp(r, NFT_CMP_EQ, &proto, 2, what);
		return;
	}
	if (r->nfproto == fam)
		return;
	uint8_t p = fam == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
	e_meta(r, NFT_META_NFPROTO, NFT_REG_1, what);
	e_cmp(r, NFT_CMP_EQ, &p, 1, what);
	r->nfproto = fam;
}

static void addr_payload(struct rb *r, int fam, bool src, uint32_t dreg, const char *what)
{
	if (fam == 4)
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, src ? 12 : 16, 4, dreg, what);
	else
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, src ? 8 : 24, 16, dreg, what);
}

/* icmpv6 type 133-137 */
static void m_icmpv6_nd(struct rb *r)
{
	uint8_t lo = 133, hi = 137;
	dep_family(r, 6, "icmpv6 type");
	e_l4proto_eq(r, IPPROTO_ICMPV6, "icmpv6 type");
	e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1, "icmpv6 type");
	e_cmp(r, NFT_CMP_GTE, &lo, 1, "icmpv6 type");
	e_cmp(r, NFT_CMP_LTE, &hi, 1, "icmpv6 type");
}

/* ip[6] daddr . meta l4proto . th dport @set */
static void m_daddr_l4_port_in(struct rb *r, int fam, const char *set, const char *w)
{
	unsigned k = fam == 4 ? 1 : 4;
	dep_family(r, fam, w);
	addr_payload(r, fam, false, reg32(0), w);
	e_meta(r, NFT_META_L4PROTO, reg32(k), w);
	e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg32(k + 1), w);
	e_lookup(r, set, 0, false, false, w);
}

/* iifname . arp saddr ip @set (an ARP packet's sender address) */
static void m_iif_arp_saddr_in(struct rb *r, const char *set, const char *w)
{
	uint16_t arp = htons(0x0806);
	e_payload(r, NFT_PAYLOAD_LL_HEADER, 12, 2, NFT_REG_1, w);
	e_cmp(r, NFT_CMP_EQ, &arp, 2, w);
	e_meta(r, NFT_META_IIFNAME, reg32(0), w);
	e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 14, 4, reg32(4), w);
	e_lookup(r, set, 0, false, false, w);
}

static void rule_match(struct nl_batch *b, const struct nl_table *t, struct rb *r,
		       const struct rs_match *m, const char *origin)
{
	const char *w = np_arena_printf(b->a, "match %s%s", m->set ? "@" : "", m->set ? m->set : "");
	int fam = m->family == 6 ? 6 : 4;
	switch (m->kind) {
	case RS_M_CT_ESTABLISHED:
		e_ct_bits(r, NFT_CT_STATE,
			  NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED),
			  "ct state established,related");
		break;
	case RS_M_CT_INVALID:
		e_ct_bits(r, NFT_CT_STATE, NF_CT_STATE_INVALID_BIT, "ct state invalid");
		break;
	case RS_M_CT_MARK_BIT:
		e_ct_bits(r, NFT_CT_MARK, m->mark, "ct mark");
		break;
	case RS_M_ICMPV6_ND:
		m_icmpv6_nd(r);
		break;
	case RS_M_SADDR_IN:
	case RS_M_DADDR_IN:
		dep_family(r, fam, w);
		addr_payload(r, fam, m->kind == RS_M_SADDR_IN, NFT_REG_1, w);
		e_lookup(r, m->set, 0, false, false, w);
		break;
	case RS_M_SADDR_EQ:
	case RS_M_DADDR_EQ:
		dep_family(r, fam, "address match");
		addr_payload(r, fam, m->kind == RS_M_SADDR_EQ, NFT_REG_1, "address match");
		e_cmp(r, NFT_CMP_EQ, m->addr.b, fam == 4 ? 4 : 16, "address match");
		break;
	case RS_M_L4_PORT_IN:
		e_meta(r, NFT_META_L4PROTO, reg32(0), w);
		e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg32(1), w);
		e_lookup(r, m->set, 0, false, false, w);
		break;
	case RS_M_DADDR_L4_PORT_IN:
		m_daddr_l4_port_in(r, fam, m->set, w);
		break;
	case RS_M_L4PROTO_EQ:
		e_l4proto_eq(r, m->proto, "meta l4proto");
		break;
	case RS_M_IIF_NOT_IN:
		e_meta(r, NFT_META_IIFNAME, NFT_REG_1, w);
		e_lookup(r, m->set, 0, false, true, w);
		break;
	case RS_M_IIF_SADDR_IN:
		dep_family(r, fam, w);
		e_meta(r, NFT_META_IIFNAME, reg32(0), w);
		addr_payload(r, fam, true, reg32(4), w);
		e_lookup(r, m->set, 0, false, false, w);
		break;
	case RS_M_IIF_ARP_SADDR_IN:
		m_iif_arp_saddr_in(r, m->set, w);
		break;
	}
}

/* The log and counter statements of a rule. */
static void rule_log_counter(struct rb *r, const struct rs_rule *rr)
{
	if (rr->log) {
		struct nftnl_expr *e = rb_add(r, "limit", "limit");
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, 10);
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, 20);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
		e = rb_add(r, "log", "log");
		if (rr->log_prefix)
			nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, rr->log_prefix);
		nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, rr->log_group);
	}
	if (rr->counter) {
		struct nftnl_expr *e = rb_add(r, "objref", "counter name");
		nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
		nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, rr->counter);
	} else if (rr->anon_counter) {
		rb_add(r, "counter", "counter");
	}
}

static void rule_verdict(struct rb *r, const struct rs_rule *rr)
{
	switch (rr->verdict) {
	case RS_V_NONE:
		break;
	case RS_V_ACCEPT:
		e_verdict(r, NF_ACCEPT, NULL);
		break;
	case RS_V_DROP:
		e_verdict(r, NF_DROP, NULL);
		break;
	case RS_V_JUMP:
		e_verdict(r, NFT_JUMP, rr->target);
		break;
	case RS_V_GOTO:
		e_verdict(r, NFT_GOTO, rr->target);
		break;
	case RS_V_SADDR_VMAP:
	case RS_V_DADDR_VMAP: {
		int fam = rr->family == 6 ? 6 : 4;
		const char *w = "vmap lookup";
		dep_family(r, fam, w);
		addr_payload(r, fam, rr->verdict == RS_V_SADDR_VMAP, NFT_REG_1, w);
		e_lookup(r, rr->target, 0, true, false, w);
		break;
	}
	case RS_V_REJECT_TCP: {
		if (!r->l4tcp) /* the dependency nft adds unless the rule has it */
			e_l4proto_eq(r, IPPROTO_TCP, "reject with tcp reset");
		struct nftnl_expr *e = rb_add(r, "reject", "reject with tcp reset");
		nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_TCP_RST);
		nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, 0);
		break;
	}
	case RS_V_REJECT: {
		struct nftnl_expr *e = rb_add(r, "reject", "reject");
		nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMPX_UNREACH);
		nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
		break;
	}
	}
}

static void add_rule(struct nl_batch *b, const struct nl_table *t, const char *chain,
		     const char *chain_origin, const struct rs_rule *rr)
{
	struct rb r = { .family = t->family };
	const char *origin = rr->origin ? rr->origin : chain_origin;
	for (size_t i = 0; i < rr->n_m; i++)
		rule_match(b, t, &r, &rr->m[i], origin);
	rule_log_counter(&r, rr);
	rule_verdict(&r, rr);

	struct nftnl_rule *nr = nftnl_rule_alloc();
	if (!nr)
		abort();
	nftnl_rule_set_str(nr, NFTNL_RULE_TABLE, t->name);
	nftnl_rule_set_str(nr, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(nr, NFTNL_RULE_FAMILY, t->family);
	struct nftnl_udata_buf *ub = NULL;
	void *d;
	uint32_t l;
	udata_comment(rr->comment, NFTNL_UDATA_RULE_COMMENT, &d, &l, &ub);
	if (ub)
		nftnl_rule_set_data(nr, NFTNL_RULE_USERDATA, d, l);
	struct nlmsghdr *nlh = msg_begin(b, NFT_MSG_NEWRULE, t->family,
					 NLM_F_CREATE | NLM_F_APPEND, b->seq++);
	nftnl_rule_nlmsg_build_payload(nlh, nr);
	/* the expressions are written here rather than by libnftnl so each one's offset is
	 * known: the kernel's extended ack points at the expression it rejected */
	struct nlattr *nest = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	for (size_t i = 0; i < r.n; i++) {
		sub_mark(b, nlh, r.what[i]);
		struct nlattr *el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
		nftnl_expr_build_payload(nlh, r.e[i]);
		mnl_attr_nest_end(nlh, el);
		nftnl_expr_free(r.e[i]);
	}
	mnl_attr_nest_end(nlh, nest);
	msg_end(b, nlh, origin, np_arena_printf(b->a, "rule in chain %s", chain));
	nftnl_rule_free(nr);
	nftnl_udata_buf_free(ub);
	b->st.rules++;
}

void nl_batch_add_bad_rule(struct nl_batch *b, const char *table, uint32_t family,
			   const char *chain, const char *origin)
{
	struct nl_table t = { .name = table, .family = family };
	struct rs_rule rr = { .verdict = RS_V_JUMP, .target = "netpol-no-such-chain",
			      .origin = origin };
	add_rule(b, &t, chain, NULL, &rr);
}

static void fill_chain(struct nl_batch *b, const struct nl_table *t, const struct nl_chain *c)
{
	for (size_t i = 0; c->ir && i < c->ir->n_rules; i++)
		add_rule(b, t, c->name, c->ir->origin, &c->ir->rules[i]);
}

/* ---- a diff as one transaction ---- */

static void batch_table(struct nl_batch *b, const struct nl_table_diff *td)
{
	const struct nl_table *t = td->cur;
	if (td->replace)
		nl_batch_destroy_table(b, t->name, t->family);
	/* NEWTABLE also re-claims a persistent table whose owner is gone */
	add_table(b, t, NFT_MSG_NEWTABLE);
	for (size_t i = 0; i < td->n_sets; i++)
		if (!td->sets[i].old)
			add_set(b, t, td->sets[i].cur);
	for (size_t i = 0; i < td->n_counters; i++)
		if (td->counters[i].cur)
			add_counter(b, t, td->counters[i].cur);
	/* element deletes before adds: a changed interval or map target is delete + add */
	for (size_t i = 0; i < td->n_sets; i++) {
		const struct nl_set_diff *sd = &td->sets[i];
		if (sd->old && sd->cur)
			set_elems(b, t, sd->old, sd->del, sd->n_del, false);
	}
	/* a recreated chain is unreferenced now (its map elements just went) */
	for (size_t i = 0; i < td->n_chains; i++)
		if (td->chains[i].recreate) {
			del_named(b, t, NFT_MSG_DELRULE, td->chains[i].old->name, "flush chain");
			del_named(b, t, NFT_MSG_DELCHAIN, td->chains[i].old->name, "delete chain");
		}
	for (size_t i = 0; i < td->n_chains; i++)
		if (td->chains[i].cur && (!td->chains[i].old || td->chains[i].recreate))
			add_chain(b, t, td->chains[i].cur);
	for (size_t i = 0; i < td->n_sets; i++) {
		const struct nl_set_diff *sd = &td->sets[i];
		if (sd->cur)
			set_elems(b, t, sd->cur, sd->add, sd->n_add, true);
	}
	for (size_t i = 0; i < td->n_chains; i++) {
		const struct nl_chain_diff *cd = &td->chains[i];
		if (!cd->cur)
			continue;
		if (cd->rewrite)
			del_named(b, t, NFT_MSG_DELRULE, cd->cur->name, "flush chain");
		fill_chain(b, t, cd->cur);
	}
	/* removals: rules (flush) -> sets and maps (releasing goto references) -> chains ->
	 * counters, so nothing is deleted while still referenced */
	for (size_t i = 0; i < td->n_chains; i++)
		if (!td->chains[i].cur)
			del_named(b, t, NFT_MSG_DELRULE, td->chains[i].old->name, "flush chain");
	for (size_t i = 0; i < td->n_sets; i++)
		if (!td->sets[i].cur)
			del_named(b, t, NFT_MSG_DELSET, td->sets[i].old->name, "delete set");
	for (size_t i = 0; i < td->n_chains; i++)
		if (!td->chains[i].cur)
			del_named(b, t, NFT_MSG_DELCHAIN, td->chains[i].old->name, "delete chain");
	for (size_t i = 0; i < td->n_counters; i++)
		if (!td->counters[i].cur)
			del_named(b, t, NFT_MSG_DELOBJ, td->counters[i].old->name, "delete counter");
}

void nl_batch_add_diff(struct nl_batch *b, const struct nl_diff *d)
{
	for (size_t i = 0; i < d->n_tables; i++)
		batch_table(b, &d->tables[i]);
}

void nl_batch_finish(struct nl_batch *b, bool commit)
{
	b->end_seq = b->seq++;
	if (!commit)
		return;
	struct nlmsghdr *nlh = nftnl_batch_end(nftnl_batch_buffer(b->b), b->end_seq);
	/* 6.10+ kernels ack BATCH_END only when the transaction committed: the commit signal */
	nlh->nlmsg_flags |= NLM_F_ACK;
	nftnl_batch_update(b->b);
	b->st.msgs++;
}

int nl_batch_iovec(struct nl_batch *b, struct iovec *iov, size_t max)
{
	int n = nftnl_batch_iovec_len(b->b);
	if (iov && (size_t)n <= max)
		nftnl_batch_iovec(b->b, iov, n);
	return n;
}

size_t nl_batch_len(struct nl_batch *b)
{
	struct iovec iov[64];
	int n = nl_batch_iovec(b, iov, 64);
	size_t len = 0;
	for (int i = 0; i < n && i < 64; i++)
		len += iov[i].iov_len;
	return len;
}

uint32_t nl_batch_end_seq(const struct nl_batch *b)
{
	return b->end_seq;
}

const struct nl_batch_stats *nl_batch_stats(const struct nl_batch *b)
{
	return &b->st;
}

void nl_batch_describe(const struct nl_batch *b, uint32_t seq, uint32_t len, uint32_t off,
		       char *buf, size_t size)
{
	if (seq == b->begin_seq || seq == b->end_seq) {
		snprintf(buf, size, "the transaction as a whole (commit)");
		return;
	}
	/* refs are in seq order; parts of a split element list share a seq: prefer the part
	 * whose length matches the echoed header */
	size_t lo = 0, hi = b->n_refs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (b->refs[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == b->n_refs || b->refs[lo].seq != seq) {
		snprintf(buf, size, "message %u (not one of ours)", seq);
		return;
	}
	const struct nl_msgref *r = &b->refs[lo];
	for (size_t i = lo; len && i < b->n_refs && b->refs[i].seq == seq; i++)
		if (b->refs[i].len == len) {
			r = &b->refs[i];
			break;
		}
	int pos = snprintf(buf, size, "%s%s%s", r->origin ? r->origin : "", r->origin ? " (" : "",
			   r->what ? r->what : "?");
	size_t sub = r->n_sub;
	for (size_t i = 0; off && i < r->n_sub; i++)
		if (r->sub_off[i] <= off)
			sub = i;
	if (sub < r->n_sub && pos > 0 && (size_t)pos < size) {
		char eb[160];
		if (r->set)
			pos += snprintf(buf + pos, size - pos, ", element %s",
					nl_elem_str(r->set, r->sub_ptr[sub], eb, sizeof(eb)));
		else
			pos += snprintf(buf + pos, size - pos, ", expression %zu: %s", sub + 1,
					(const char *)r->sub_ptr[sub]);
	}
	if (r->origin && pos > 0 && (size_t)pos < size)
		snprintf(buf + pos, size - pos, ")");
}
