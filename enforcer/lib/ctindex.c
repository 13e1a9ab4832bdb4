/* ctindex.c — see ctindex.h.
 *
 * Connections live in slots that never move (a freed slot is reused), so the two hash tables
 * can point at them: one by the kernel's id (events name an entry by it), one by address. The
 * address table maps each address to an intrusive doubly linked list of "links", one per
 * distinct address of a connection (original source and destination, and the reply's when NAT
 * made them differ), so adding or removing a connection is O(1) and a lookup by address walks
 * only that address's connections. Both tables use open addressing with linear probing and
 * backward-shift deletion (no tombstones), at most half full. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnfnetlink/libnfnetlink.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "ctindex.h"
#include "ruleset.h"
#include "vec.h"
#include "xalloc.h"

#define NIL UINT32_MAX
#define FIELDS 4 /* orig.src, orig.dst, reply.src, reply.dst */
/* a wide range (an ipBlock) is walked address by address up to this many, else by a scan */
#define RANGE_WALK_MAX 1024

struct slot {
	struct ct_conn c;
	bool used;
	uint32_t visit;                 /* the query generation that last visited it */
	bool linked[FIELDS];            /* the field's address is on its list (not a repeat) */
	uint32_t next[FIELDS], prev[FIELDS]; /* link ids: slot * FIELDS + field */
};

struct id_ent {
	uint32_t id;
	uint32_t slot1; /* slot + 1; 0: empty */
};

struct addr_ent {
	uint8_t family; /* 0: empty */
	uint8_t a[16];
	uint32_t head;  /* first link */
};

struct ctix {
	struct nfct_handle *ev;   /* events */
	size_t rcvbuf, rcvbuf_max;
	bool stale;
	struct slot *s;
	size_t n_slots, cap_slots, live, marked;
	uint32_t *free_slots;
	size_t n_free, cap_free;
	struct id_ent *ids;
	size_t ids_cap;           /* power of two */
	struct addr_ent *addrs;
	size_t addrs_cap, addrs_used;
	uint32_t visit_gen;
	uint64_t news, destroys, losses, resyncs;
	ct_event_fn fn;           /* the listener */
	void *arg;
};

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

static uint64_t addr_hash(uint8_t family, const uint8_t *a)
{
	uint64_t lo, hi;
	memcpy(&lo, a, 8);
	memcpy(&hi, a + 8, 8);
	return mix(lo ^ mix(hi ^ family));
}

static const uint8_t *field_addr(const struct ct_conn *c, int f)
{
	switch (f) {
	case 0: return c->orig.src;
	case 1: return c->orig.dst;
	case 2: return c->reply.src;
	default: return c->reply.dst;
	}
}

/* ---- the id table ---- */

static void ids_put(struct ctix *x, uint32_t id, uint32_t slot);

static void ids_grow(struct ctix *x)
{
	struct id_ent *old = x->ids;
	size_t old_cap = x->ids_cap;
	x->ids_cap = old_cap ? old_cap * 2 : 1024;
	x->ids = xcalloc(x->ids_cap, sizeof(*x->ids));
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].slot1)
			ids_put(x, old[i].id, old[i].slot1 - 1);
	free(old);
}

static void ids_put(struct ctix *x, uint32_t id, uint32_t slot)
{
	size_t m = x->ids_cap - 1;
	for (size_t i = mix(id) & m;; i = (i + 1) & m)
		if (!x->ids[i].slot1 || x->ids[i].id == id) {
			x->ids[i] = (struct id_ent){ id, slot + 1 };
			return;
		}
}

static size_t ids_find(const struct ctix *x, uint32_t id)
{
	if (!x->ids_cap)
		return SIZE_MAX;
	size_t m = x->ids_cap - 1;
	for (size_t i = mix(id) & m; x->ids[i].slot1; i = (i + 1) & m)
		if (x->ids[i].id == id)
			return i;
	return SIZE_MAX;
}

/* Backward-shift deletion: later entries of the probe run move up into the hole. */
static void ids_del_at(struct ctix *x, size_t i)
{
	size_t m = x->ids_cap - 1;
	for (size_t j = (i + 1) & m; x->ids[j].slot1; j = (j + 1) & m) {
		size_t home = mix(x->ids[j].id) & m;
		/* j's entry may fill the hole at i unless its home lies cyclically in (i, j] */
		if (((j - home) & m) >= ((j - i) & m)) {
			x->ids[i] = x->ids[j];
			i = j;
		}
	}
	x->ids[i].slot1 = 0;
}

/* ---- the address table ---- */

static size_t addrs_slot(const struct ctix *x, uint8_t family, const uint8_t *a, bool *found)
{
	size_t m = x->addrs_cap - 1;
	size_t i = addr_hash(family, a) & m;
	for (; x->addrs[i].family; i = (i + 1) & m)
		if (x->addrs[i].family == family && !memcmp(x->addrs[i].a, a, 16)) {
			*found = true;
			return i;
		}
	*found = false;
	return i;
}

static void addrs_grow(struct ctix *x)
{
	struct addr_ent *old = x->addrs;
	size_t old_cap = x->addrs_cap;
	x->addrs_cap = old_cap ? old_cap * 2 : 1024;
	x->addrs = xcalloc(x->addrs_cap, sizeof(*x->addrs));
	for (size_t i = 0; i < old_cap; i++) {
		if (!old[i].family)
			continue;
		bool found;
		size_t j = addrs_slot(x, old[i].family, old[i].a, &found);
		x->addrs[j] = old[i];
	}
	free(old);
}

static void addrs_del_at(struct ctix *x, size_t i)
{
	size_t m = x->addrs_cap - 1;
	for (size_t j = (i + 1) & m; x->addrs[j].family; j = (j + 1) & m) {
		size_t home = addr_hash(x->addrs[j].family, x->addrs[j].a) & m;
		if (((j - home) & m) >= ((j - i) & m)) {
			x->addrs[i] = x->addrs[j];
			i = j;
		}
	}
	x->addrs[i].family = 0;
	x->addrs_used--;
}

static void link_add(struct ctix *x, uint32_t slot, int f)
{
	struct slot *s = &x->s[slot];
	if ((x->addrs_used + 1) * 2 > x->addrs_cap)
		addrs_grow(x);
	bool found;
	const uint8_t *a = field_addr(&s->c, f);
	size_t i = addrs_slot(x, s->c.family, a, &found);
	uint32_t id = slot * FIELDS + (uint32_t)f;
	if (!found) {
		x->addrs[i].family = s->c.family;
		memcpy(x->addrs[i].a, a, 16);
		x->addrs[i].head = NIL;
		x->addrs_used++;
	}
	uint32_t head = x->addrs[i].head;
	s->next[f] = head;
	s->prev[f] = NIL;
	if (head != NIL)
		x->s[head / FIELDS].prev[head % FIELDS] = id;
	x->addrs[i].head = id;
	s->linked[f] = true;
}

static void link_del(struct ctix *x, uint32_t slot, int f)
{
	struct slot *s = &x->s[slot];
	uint32_t next = s->next[f], prev = s->prev[f];
	if (next != NIL)
		x->s[next / FIELDS].prev[next % FIELDS] = prev;
	if (prev != NIL) {
		x->s[prev / FIELDS].next[prev % FIELDS] = next;
	} else {
		bool found;
		size_t i = addrs_slot(x, s->c.family, field_addr(&s->c, f), &found);
		if (found) {
			x->addrs[i].head = next;
			if (next == NIL)
				addrs_del_at(x, i);
		}
	}
	s->linked[f] = false;
}

/* ---- connections ---- */

static bool revoked(uint32_t mark)
{
	return mark & RS_CT_MARK_REVOKED;
}

static void conn_remove(struct ctix *x, size_t id_pos)
{
	uint32_t slot = x->ids[id_pos].slot1 - 1;
	struct slot *s = &x->s[slot];
	for (int f = 0; f < FIELDS; f++)
		if (s->linked[f])
			link_del(x, slot, f);
	if (revoked(s->c.mark))
		x->marked--;
	s->used = false;
	ids_del_at(x, id_pos);
	VEC_PUSH(x->free_slots, x->n_free, x->cap_free) = slot;
	x->live--;
}

/* Inserts c, or refreshes the entry of the same id (an event about an entry the dump had). */
static const struct ct_conn *conn_put(struct ctix *x, const struct ct_conn *c)
{
	size_t pos = ids_find(x, c->id);
	if (pos != SIZE_MAX) {
		struct slot *s = &x->s[x->ids[pos].slot1 - 1];
		if (!memcmp(&s->c.orig, &c->orig, sizeof(c->orig)) && s->c.family == c->family &&
		    s->c.proto == c->proto) {
			x->marked += revoked(c->mark) - revoked(s->c.mark);
			double seen = s->c.seen_ms;
			s->c = *c;
			s->c.seen_ms = seen;
			return &s->c;
		}
		conn_remove(x, pos); /* the id was reused by another connection */
	}
	if ((x->live + 1) * 2 > x->ids_cap)
		ids_grow(x);
	uint32_t slot;
	if (x->n_free) {
		slot = x->free_slots[--x->n_free];
	} else {
		VEC_GROW(x->s, x->n_slots, x->cap_slots);
		slot = (uint32_t)x->n_slots++;
	}
	struct slot *s = &x->s[slot];
	memset(s, 0, sizeof(*s));
	s->c = *c;
	s->used = true;
	s->visit = x->visit_gen;
	ids_put(x, c->id, slot);
	for (int f = 0; f < FIELDS; f++) {
		bool repeat = false;
		for (int g = 0; g < f && !repeat; g++)
			repeat = s->linked[g] && !memcmp(field_addr(c, f), field_addr(c, g), 16);
		if (!repeat)
			link_add(x, slot, f);
		s = &x->s[slot]; /* link_add never moves slots; kept for clarity of intent */
	}
	x->live++;
	if (revoked(c->mark))
		x->marked++;
	return &s->c;
}

static void release(struct ctix *x)
{
	free(x->s);
	free(x->free_slots);
	free(x->ids);
	free(x->addrs);
}

/* Empties the index (before a dump reloads it). */
static void clear(struct ctix *x)
{
	release(x);
	x->s = NULL;
	x->free_slots = NULL;
	x->ids = NULL;
	x->addrs = NULL;
	x->n_slots = x->cap_slots = x->live = x->marked = x->n_free = x->cap_free = 0;
	x->ids_cap = x->addrs_cap = x->addrs_used = 0;
	ids_grow(x);
	addrs_grow(x);
}

/* ---- from libnetfilter_conntrack ---- */

static void copy_addr(const struct nf_conntrack *ct, enum nf_conntrack_attr a4,
		      enum nf_conntrack_attr a6, uint8_t family, uint8_t *out)
{
	const void *p = nfct_get_attr(ct, family == 4 ? a4 : a6);
	if (p)
		memcpy(out, p, family == 4 ? 4 : 16);
}

void ctix_conn_from_nfct(const struct nf_conntrack *ct, struct ct_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->id = nfct_get_attr_u32(ct, ATTR_ID);
	c->mark = nfct_get_attr_u32(ct, ATTR_MARK);
	c->status = nfct_get_attr_u32(ct, ATTR_STATUS);
	if (nfct_attr_is_set(ct, ATTR_ZONE) > 0)
		c->zone = nfct_get_attr_u16(ct, ATTR_ZONE);
	c->family = nfct_get_attr_u8(ct, ATTR_L3PROTO) == AF_INET6 ? 6 : 4;
	c->proto = nfct_get_attr_u8(ct, ATTR_L4PROTO);
	copy_addr(ct, ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV6_SRC, c->family, c->orig.src);
	copy_addr(ct, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST, c->family, c->orig.dst);
	copy_addr(ct, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC, c->family, c->reply.src);
	copy_addr(ct, ATTR_REPL_IPV4_DST, ATTR_REPL_IPV6_DST, c->family, c->reply.dst);
	if (c->proto == IPPROTO_ICMP || c->proto == IPPROTO_ICMPV6) {
		c->orig.icmp_type = nfct_get_attr_u8(ct, ATTR_ICMP_TYPE);
		c->orig.icmp_code = nfct_get_attr_u8(ct, ATTR_ICMP_CODE);
		c->orig.icmp_id = ntohs(nfct_get_attr_u16(ct, ATTR_ICMP_ID));
		c->reply.icmp_id = c->orig.icmp_id;
	} else {
		c->orig.sport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC));
		c->orig.dport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
		c->reply.sport = ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC));
		c->reply.dport = ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_DST));
	}
	if (nfct_attr_is_set(ct, ATTR_TIMESTAMP_START) > 0)
		c->start_ns = nfct_get_attr_u64(ct, ATTR_TIMESTAMP_START);
	c->seen_ms = clock_now_ms();
}

static int on_event(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct ctix *x = data;
	struct ct_conn c;
	ctix_conn_from_nfct(ct, &c);
	struct ct_event ev = { .conn = &c };
	if (type == NFCT_T_DESTROY) {
		x->destroys++;
		ev.type = CT_EVENT_DESTROY;
		size_t pos = ids_find(x, c.id);
		if (pos != SIZE_MAX) {
			/* what the index knew: the event may lack the start time, for one */
			const struct ct_conn *known = &x->s[x->ids[pos].slot1 - 1].c;
			c.seen_ms = known->seen_ms;
			if (!c.start_ns)
				c.start_ns = known->start_ns;
		}
		if (nfct_attr_is_set(ct, ATTR_ORIG_COUNTER_PACKETS) > 0) {
			ev.counters = true;
			ev.packets[0] = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_PACKETS);
			ev.bytes[0] = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_BYTES);
			ev.packets[1] = nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_PACKETS);
			ev.bytes[1] = nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_BYTES);
		}
		if (nfct_attr_is_set(ct, ATTR_TIMESTAMP_STOP) > 0)
			ev.stop_ns = nfct_get_attr_u64(ct, ATTR_TIMESTAMP_STOP);
		if (x->fn)
			x->fn(x->arg, &ev);
		if (pos != SIZE_MAX)
			conn_remove(x, pos);
	} else {
		x->news++;
		ev.type = CT_EVENT_NEW;
		ev.conn = conn_put(x, &c);
		if (x->fn)
			x->fn(x->arg, &ev);
	}
	return NFCT_CB_CONTINUE;
}

static int on_dump(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct ct_conn c;
	ctix_conn_from_nfct(ct, &c);
	conn_put(data, &c);
	return NFCT_CB_CONTINUE;
}

/* ---- the API ---- */

int ctix_new(struct ctix **out)
{
	struct ctix *x = xcalloc(1, sizeof(*x));
	clear(x);
	*out = x;
	return 0;
}

void ctix_free(struct ctix *x)
{
	if (!x)
		return;
	if (x->ev)
		nfct_close(x->ev);
	release(x);
	free(x);
}

int ctix_fd(const struct ctix *x)
{
	return x->ev ? nfct_fd(x->ev) : -1;
}

/* SO_RCVBUFFORCE (we are CAP_NET_ADMIN), so net.core.rmem_max does not cap it. */
static void set_rcvbuf(struct ctix *x, size_t size)
{
	x->rcvbuf = nfnl_rcvbufsiz(nfct_nfnlh(x->ev), (unsigned int)size);
}

int ctix_open(struct ctix *x, size_t rcvbuf, size_t rcvbuf_max)
{
	x->ev = nfct_open(CONNTRACK, NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_DESTROY);
	if (!x->ev)
		return errno ? -errno : -EIO;
	int fd = nfct_fd(x->ev);
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	x->rcvbuf_max = rcvbuf_max < rcvbuf ? rcvbuf : rcvbuf_max;
	set_rcvbuf(x, rcvbuf);
	nfct_callback_register(x->ev, NFCT_T_NEW | NFCT_T_DESTROY, on_event, x);
	return ctix_resync(x);
}

void ctix_set_listener(struct ctix *x, ct_event_fn fn, void *arg)
{
	x->fn = fn;
	x->arg = arg;
}

int ctix_read_some(struct ctix *x, size_t max)
{
	if (!x->ev)
		return -EBADF;
	uint64_t before = x->news + x->destroys;
	uint64_t lost = 0;
	/* nfct_catch reads one message (an event is a datagram of its own) */
	for (size_t n = 0; n < max;) {
		if (nfct_catch(x->ev) >= 0) {
			n++;
			continue;
		}
		int e = errno;
		if (e == EAGAIN || e == EWOULDBLOCK)
			break;
		if (e == EINTR)
			continue;
		if (e != ENOBUFS)
			return -e;
		/* the kernel dropped events: what follows in the queue is still good */
		lost++;
		x->losses++;
		x->stale = true;
		if (x->rcvbuf < x->rcvbuf_max)
			set_rcvbuf(x, x->rcvbuf * 2 > x->rcvbuf_max ? x->rcvbuf_max : x->rcvbuf * 2);
	}
	if (lost && x->fn)
		x->fn(x->arg, &(struct ct_event){ .type = CT_EVENT_LOST, .lost = lost });
	return lost ? -ENOBUFS : (int)(x->news + x->destroys - before);
}

int ctix_read(struct ctix *x)
{
	return ctix_read_some(x, SIZE_MAX);
}

bool ctix_stale(const struct ctix *x)
{
	return x->stale;
}

int ctix_resync(struct ctix *x)
{
	/* drain first: what the queue says is older than the dump */
	if (x->ev) {
		int r = ctix_read(x);
		if (r < 0 && r != -ENOBUFS)
			return r;
	}
	struct nfct_handle *h = nfct_open(CONNTRACK, 0);
	if (!h)
		return errno ? -errno : -EIO;
	clear(x);
	nfct_callback_register(h, NFCT_T_ALL, on_dump, x);
	uint32_t family = AF_UNSPEC;
	int r = nfct_query(h, NFCT_Q_DUMP, &family) < 0 ? -errno : 0;
	nfct_close(h);
	if (r < 0) {
		x->stale = true;
		return r;
	}
	x->stale = false;
	x->resyncs++;
	return 0;
}

void ctix_stats_get(const struct ctix *x, struct ctix_stats *st)
{
	st->live = x->live;
	st->marked_revoked = x->marked;
	st->news = x->news;
	st->destroys = x->destroys;
	st->losses = x->losses;
	st->resyncs = x->resyncs;
	st->rcvbuf = x->rcvbuf;
	st->bytes = x->cap_slots * sizeof(*x->s) + x->cap_free * sizeof(*x->free_slots) +
		    x->ids_cap * sizeof(*x->ids) + x->addrs_cap * sizeof(*x->addrs);
}

/* How many addresses lo..hi holds, saturated at RANGE_WALK_MAX + 1. */
static size_t range_size(const struct ct_range *r)
{
	size_t len = r->family == 4 ? 4 : 16;
	for (size_t i = 0; i + 4 < len; i++)
		if (r->lo[i] != r->hi[i])
			return RANGE_WALK_MAX + 1;
	uint32_t lo, hi;
	memcpy(&lo, r->lo + len - 4, 4);
	memcpy(&hi, r->hi + len - 4, 4);
	lo = ntohl(lo);
	hi = ntohl(hi);
	return hi < lo || hi - lo >= RANGE_WALK_MAX ? RANGE_WALK_MAX + 1 : hi - lo + 1;
}

static int visit(struct ctix *x, uint32_t slot, ctix_visit_fn fn, void *arg)
{
	struct slot *s = &x->s[slot];
	if (s->visit == x->visit_gen)
		return 0;
	s->visit = x->visit_gen;
	return fn(arg, &s->c);
}

static int walk_addr(struct ctix *x, uint8_t family, const uint8_t *a, ctix_visit_fn fn,
		     void *arg)
{
	bool found;
	size_t i = addrs_slot(x, family, a, &found);
	if (!found)
		return 0;
	for (uint32_t l = x->addrs[i].head; l != NIL;) {
		uint32_t next = x->s[l / FIELDS].next[l % FIELDS];
		int r = visit(x, l / FIELDS, fn, arg);
		if (r)
			return r;
		l = next;
	}
	return 0;
}

int ctix_query(struct ctix *x, const struct ct_affected *a, uint32_t marked_mask,
	       ctix_visit_fn fn, void *arg)
{
	if (++x->visit_gen == 0) { /* wrapped: no slot may look visited */
		for (size_t i = 0; i < x->n_slots; i++)
			x->s[i].visit = 0;
		x->visit_gen = 1;
	}
	/* sorted and merged copies of the ranges: the wide ones are checked by one scan */
	struct ct_affected wide = { 0 };
	int r = 0;
	for (size_t i = 0; a && i < a->n && !r; i++) {
		const struct ct_range *rg = &a->v[i];
		size_t n = range_size(rg);
		if (n > RANGE_WALK_MAX) {
			ct_affected_add(&wide, rg->family, rg->lo, rg->hi);
			continue;
		}
		uint8_t cur[16];
		memcpy(cur, rg->lo, 16);
		size_t len = rg->family == 4 ? 4 : 16;
		for (size_t k = 0; k < n && !r; k++) {
			r = walk_addr(x, rg->family, cur, fn, arg);
			for (size_t b = len; b-- > 0;) /* cur + 1 */
				if (++cur[b])
					break;
		}
	}
	if (!r && (wide.n || (marked_mask && x->marked))) {
		ct_affected_normalize(&wide);
		for (size_t i = 0; i < x->n_slots && !r; i++) {
			struct slot *s = &x->s[i];
			if (!s->used || s->visit == x->visit_gen)
				continue;
			bool hit = marked_mask && (s->c.mark & marked_mask);
			for (int f = 0; f < FIELDS && !hit && wide.n; f++)
				hit = s->linked[f] &&
				      ct_affected_has(&wide, s->c.family, field_addr(&s->c, f));
			if (hit)
				r = visit(x, (uint32_t)i, fn, arg);
		}
	}
	ct_affected_free(&wide);
	return r;
}

void ctix_mark_set(struct ctix *x, uint32_t id, uint32_t mark)
{
	size_t pos = ids_find(x, id);
	if (pos == SIZE_MAX)
		return;
	struct slot *s = &x->s[x->ids[pos].slot1 - 1];
	x->marked += revoked(mark) - revoked(s->c.mark);
	s->c.mark = mark;
}

void ctix_forget(struct ctix *x, uint32_t id)
{
	size_t pos = ids_find(x, id);
	if (pos != SIZE_MAX)
		conn_remove(x, pos);
}

struct nf_conntrack *ctix_conn_nfct(const struct ct_conn *c)
{
	struct nf_conntrack *ct = nfct_new();
	if (!ct)
		abort();
	nfct_set_attr_u8(ct, ATTR_L3PROTO, c->family == 4 ? AF_INET : AF_INET6);
	nfct_set_attr_u8(ct, ATTR_L4PROTO, c->proto);
	if (c->family == 4) {
		nfct_set_attr(ct, ATTR_ORIG_IPV4_SRC, c->orig.src);
		nfct_set_attr(ct, ATTR_ORIG_IPV4_DST, c->orig.dst);
	} else {
		nfct_set_attr(ct, ATTR_ORIG_IPV6_SRC, c->orig.src);
		nfct_set_attr(ct, ATTR_ORIG_IPV6_DST, c->orig.dst);
	}
	if (c->proto == IPPROTO_ICMP || c->proto == IPPROTO_ICMPV6) {
		nfct_set_attr_u8(ct, ATTR_ICMP_TYPE, c->orig.icmp_type);
		nfct_set_attr_u8(ct, ATTR_ICMP_CODE, c->orig.icmp_code);
		nfct_set_attr_u16(ct, ATTR_ICMP_ID, htons(c->orig.icmp_id));
	} else {
		nfct_set_attr_u16(ct, ATTR_ORIG_PORT_SRC, htons(c->orig.sport));
		nfct_set_attr_u16(ct, ATTR_ORIG_PORT_DST, htons(c->orig.dport));
	}
	if (c->zone)
		nfct_set_attr_u16(ct, ATTR_ZONE, c->zone);
	return ct;
}
