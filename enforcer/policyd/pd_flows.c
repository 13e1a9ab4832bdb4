/* pd_flows.c — see pd_flows.h. Records go from the collector to the ring (and the flow log);
 * readers stream from the ring by sequence number, each at its own pace: a reader the ring
 * overtakes is told how many records it missed, never silently. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flowcol.h"
#include "flowring.h"
#include "pd_flows.h"
#include "pd_int.h"
#include "strmap.h"
#include "vec.h"
#include "xalloc.h"

#define RING_DEFAULT 4096
#define LOG_SIZE_DEFAULT (10u << 20)
#define LOG_BACKUPS_DEFAULT 5
/* NFLOG's receive buffer: the drop points log at most 10 packets/s each after a burst of 20,
 * so 2 MiB (some 5,000 packets) holds the bursts of hundreds of pods at once; it doubles on
 * loss, up to 32 MiB */
#define NFLOG_RCVBUF (2u << 20)
#define NFLOG_RCVBUF_MAX (32u << 20)
#define NFLOG_RETRY_MS 5000
#define STREAM_MAX 16             /* readers at once */
#define STREAM_HIGH (256u << 10)  /* bytes a reader may have unsent before it takes no more */

struct pd_flows;

struct stream {
	struct pd_flows *pf;
	int fd;
	struct evsource *src;
	struct flow_filter *filter;
	uint64_t cursor;  /* the next seq to look at */
	uint64_t end;     /* not following: the seq it stops before */
	bool follow, want_out;
	char *out;
	size_t len, off, cap;
	struct stream *next;
};

struct flow_log {
	FILE *f;
	const char *path;
	size_t size, max;
	int backups;
};

/* A counter seen at the last scrape (drop points, admin rule counters), and what it added up
 * to; or a labelled total (audit). */
struct acc {
	char *key;
	uint64_t last[2];
	uint64_t total;
	bool ingress;         /* audit totals: their labels */
	char *ns, *policy;
};

struct accs {
	struct strmap m;
	struct acc *v;
	size_t n, cap;
};

struct pd_flows {
	struct pd *d;
	struct flowcol *col;
	struct flow_ring *ring;
	struct rs_options ro;     /* what the model's ruleset was built with */
	uint16_t group;
	int nflog_err;            /* 0: bound; -EBUSY: taken; else why not */
	struct evsource *nflog_src, *t_retry, *t_pump;
	bool pump_armed;
	struct flow_log log;
	struct stream *streams;
	size_t n_streams;
	uint64_t lost_ring;       /* records readers missed: the ring overtook them */
	struct accs points, admin, audit;
	uint64_t suppressed;
	uint64_t model_seq;       /* the first record made under the last commit's model */
};

/* ---- the flow log: rotated JSON lines, Hubble's envelope ---- */

static int log_open(struct flow_log *lg)
{
	lg->f = fopen(lg->path, "a");
	if (!lg->f)
		return -errno;
	fseek(lg->f, 0, SEEK_END);
	long pos = ftell(lg->f);
	lg->size = pos > 0 ? (size_t)pos : 0;
	return 0;
}

/* FILE -> FILE.1 -> ... -> FILE.N (the oldest goes), and a new FILE. */
static int log_rotate(struct flow_log *lg)
{
	char from[4096], to[4096];
	fclose(lg->f);
	lg->f = NULL;
	for (int i = lg->backups; i >= 1; i--) {
		snprintf(to, sizeof(to), "%s.%d", lg->path, i);
		if (i == 1)
			snprintf(from, sizeof(from), "%s", lg->path);
		else
			snprintf(from, sizeof(from), "%s.%d", lg->path, i - 1);
		rename(from, to); /* an absent one is no error */
	}
	if (!lg->backups)
		unlink(lg->path);
	return log_open(lg);
}

static void log_write(struct pd_flows *pf, const struct flow_rec *r)
{
	struct flow_log *lg = &pf->log;
	if (!lg->f)
		return;
	json_t *j = flow_rec_envelope(r);
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!text)
		abort();
	size_t n = strlen(text);
	/* rotated before a line that would cross the size, so FILE always holds the newest */
	if (lg->size && lg->size + n + 1 > lg->max) {
		int e = log_rotate(lg);
		if (e < 0) {
			pd_log(pf->d, "flow log %s: rotating: %s; no longer written", lg->path,
			       strerror(-e));
			free(text);
			return;
		}
	}
	if (fwrite(text, 1, n, lg->f) != n || fputc('\n', lg->f) == EOF) {
		pd_log(pf->d, "flow log %s: %s; no longer written", lg->path, strerror(errno));
		fclose(lg->f);
		lg->f = NULL;
	} else {
		lg->size += n + 1;
	}
	free(text);
}

/* ---- readers ---- */

static void stream_close(struct stream *s)
{
	struct pd_flows *pf = s->pf;
	evloop_source_del(pf->d->l, s->src);
	close(s->fd);
	for (struct stream **pp = &pf->streams; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	pf->n_streams--;
	flow_filter_free(s->filter);
	free(s->out);
	free(s);
}

static void stream_append(struct stream *s, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!text)
		abort();
	size_t n = strlen(text);
	if (s->off && s->off == s->len)
		s->off = s->len = 0;
	while (s->len + n + 1 > s->cap)
		s->out = xrealloc(s->out, s->cap = s->cap ? s->cap * 2 : 65536);
	memcpy(s->out + s->len, text, n);
	s->out[s->len + n] = '\n';
	s->len += n + 1;
	free(text);
}

/* A record a reader did not get: the ring overtook it. */
static void stream_lost(struct stream *s, uint64_t n)
{
	struct flow_rec r;
	flow_rec_init(&r);
	r.event = FLOW_EV_LOST;
	r.time_ns = flow_now_ns();
	r.lost_source = "ring";
	r.lost = n;
	s->pf->lost_ring += n;
	stream_append(s, flow_rec_json(&r));
}

/* Serializes the records due, up to STREAM_HIGH unsent bytes. */
static void stream_fill(struct stream *s)
{
	const struct flow_ring *ring = s->pf->ring;
	uint64_t stop = s->follow ? flow_ring_next(ring) : s->end;
	while (s->len - s->off < STREAM_HIGH && s->cursor < stop) {
		uint64_t first = flow_ring_first(ring);
		if (s->cursor < first) {
			stream_lost(s, first - s->cursor);
			s->cursor = first;
			continue;
		}
		const struct flow_rec *r = flow_ring_get(ring, s->cursor++);
		if (r && flow_filter_match(s->filter, r))
			stream_append(s, flow_rec_json(r));
	}
}

/* Sends what it can; waits for EPOLLOUT when the socket is full. 0, or -1: the reader is gone
 * (closed). */
static int stream_send(struct stream *s)
{
	while (s->off < s->len) {
		ssize_t n = send(s->fd, s->out + s->off, s->len - s->off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			s->off += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		} else {
			stream_close(s);
			return -1;
		}
	}
	bool want = s->off < s->len;
	if (want != s->want_out) {
		evloop_source_mod(s->pf->d->l, s->src,
				     EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0));
		s->want_out = want;
	}
	return 0;
}

static void stream_pump(struct stream *s)
{
	for (;;) {
		stream_fill(s);
		if (stream_send(s) < 0)
			return;
		if (s->off < s->len)
			return; /* the socket is full: EPOLLOUT resumes */
		uint64_t stop = s->follow ? flow_ring_next(s->pf->ring) : s->end;
		if (s->cursor >= stop)
			break;
	}
	if (!s->follow)
		stream_close(s); /* everything asked for was sent */
}

static void on_stream(void *data, uint32_t events)
{
	struct stream *s = data;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		char buf[512];
		ssize_t n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
		    (events & (EPOLLHUP | EPOLLERR))) {
			stream_close(s); /* the reader went away */
			return;
		}
	}
	if (events & EPOLLOUT)
		stream_pump(s);
}

static void pump_all(struct pd_flows *pf)
{
	for (struct stream *s = pf->streams, *next; s; s = next) {
		next = s->next;
		stream_pump(s);
	}
	if (pf->log.f)
		fflush(pf->log.f);
}

static void on_pump(void *data, uint32_t events)
{
	struct pd_flows *pf = data;
	pf->pump_armed = false;
	pump_all(pf);
}

/* ---- collection ---- */

/* Every record: into the ring, to the flow log; readers are served once per batch (a 1 ms
 * timer), not once per record. */
static void sink(void *arg, struct flow_rec *r)
{
	struct pd_flows *pf = arg;
	uint64_t seq = flow_ring_push(pf->ring, r);
	log_write(pf, flow_ring_get(pf->ring, seq));
	if (!pf->pump_armed) {
		evloop_timer_arm(pf->t_pump, 1, 0);
		pf->pump_armed = true;
	}
}

static void on_nflog(void *data, uint32_t events)
{
	struct pd_flows *pf = data;
	int r = flowcol_nflog_read(pf->col);
	if (r < 0)
		pd_log(pf->d, "flows: reading NFLOG group %u: %s", pf->group, strerror(-r));
}

static void nflog_bind(struct pd_flows *pf)
{
	const struct pd_opts *o = &pf->d->o;
	size_t rb = o->nflog_rcvbuf[0] ? o->nflog_rcvbuf[0] : NFLOG_RCVBUF;
	size_t max = o->nflog_rcvbuf[1] ? o->nflog_rcvbuf[1] : o->nflog_rcvbuf[0] ? rb
										 : NFLOG_RCVBUF_MAX;
	int was = pf->nflog_err;
	int r = flowcol_nflog_open(pf->col, pf->group, rb, max);
	if (r == 0 && !(pf->nflog_src = evloop_source_add(pf->d->l, flowcol_nflog_fd(pf->col),
							  EPOLLIN, on_nflog, pf)))
		r = -errno;
	pf->nflog_err = r;
	if (r == 0) {
		if (was)
			pd_log(pf->d, "flows: NFLOG group %u is free now: drops are recorded",
			       pf->group);
		return;
	}
	if (r != was && r == -EBUSY)
		pd_log(pf->d, "flows: NFLOG group %u is taken by another process (tcpdump -i "
		       "nflog:%u? ulogd? another policyd?): drops are NOT recorded until it is free "
		       "(retried every %d s); or start policyd with --nflog-group N (the ruleset then "
		       "logs to N)", pf->group, pf->group, NFLOG_RETRY_MS / 1000);
	else if (r != was)
		pd_log(pf->d, "flows: NFLOG group %u: %s: drops are not recorded (retried every "
		       "%d s)", pf->group, strerror(-r), NFLOG_RETRY_MS / 1000);
	evloop_timer_arm(pf->t_retry, NFLOG_RETRY_MS, 0);
}

static void on_retry(void *data, uint32_t events)
{
	nflog_bind(data);
}

static const char *node_name(const struct pd *d, char *buf, size_t size)
{
	if (d->o.node)
		return d->o.node;
	if (gethostname(buf, size) < 0)
		snprintf(buf, size, "localhost");
	buf[size - 1] = 0;
	return buf;
}

static const char *nflog_state(const struct pd_flows *pf)
{
	return !pf->nflog_err ? "bound" : pf->nflog_err == -EBUSY ? "taken by another process"
								  : strerror(-pf->nflog_err);
}

void pd_flows_start(struct pd *d)
{
	const struct pd_opts *o = &d->o;
	if (o->no_flows) {
		pd_log(d, "flows: off (--flows none)");
		return;
	}
	struct pd_flows *pf = d->flows = xcalloc(1, sizeof(*pf));
	pf->d = d;
	pf->group = o->nflog_group ? o->nflog_group : RS_LOG_GROUP_DEFAULT;
	pf->ro = (struct rs_options){ .node = o->node, .reject = o->reject, .audit = o->audit,
				      .log_group = pf->group };
	pf->ring = flow_ring_new(o->flow_buffer ? o->flow_buffer : RING_DEFAULT);
	char host[256];
	flowcol_new(node_name(d, host, sizeof(host)), sink, pf, &pf->col);
	pf->t_retry = evloop_timer_add(d->l, on_retry, pf);
	pf->t_pump = evloop_timer_add(d->l, on_pump, pf);
	int r = flowcol_enable_acct();
	if (r < 0)
		pd_log(d, "flows: turning on nf_conntrack_acct: %s: connection records carry no "
		       "byte counts", strerror(-r));
	if (d->ctix)
		ctix_set_listener(d->ctix, flowcol_ct_event, pf->col);
	else
		pd_log(d, "flows: no conntrack events: allowed connections are not recorded");
	if (o->flow_log) {
		pf->log = (struct flow_log){ .path = o->flow_log,
					     .max = o->flow_log_size ? o->flow_log_size
								     : LOG_SIZE_DEFAULT,
					     .backups = o->flow_log_backups >= 0
								? o->flow_log_backups
								: LOG_BACKUPS_DEFAULT };
		if ((r = log_open(&pf->log)) < 0)
			pd_log(d, "flows: flow log %s: %s; not written", o->flow_log, strerror(-r));
	}
	nflog_bind(pf);
	char drops[96];
	if (pf->nflog_err)
		snprintf(drops, sizeof(drops), "drops NOT recorded (NFLOG group %u %s)", pf->group,
			 nflog_state(pf));
	else
		snprintf(drops, sizeof(drops), "drops from NFLOG group %u", pf->group);
	pd_log(d, "flows: collecting %s, %s; a ring of %zu records%s%s%s", drops,
	       d->ctix ? "connections from conntrack events" : "no connections",
	       flow_ring_cap(pf->ring), pf->log.f ? "; flow log " : "", pf->log.f ? o->flow_log : "",
	       o->audit ? "; audit mode: the node logs what policy would drop and lets it through"
			: "");
}

void pd_flows_model(struct pd *d)
{
	struct pd_flows *pf = d->flows;
	if (!pf)
		return;
	flowcol_set_model(pf->col, ap_ctx_model(d->ap), &pf->ro);
	pf->model_seq = flow_ring_next(pf->ring);
}

const struct flow_ring *pd_flows_ring(const struct pd *d, uint64_t *model_seq)
{
	if (!d->flows)
		return NULL;
	*model_seq = d->flows->model_seq;
	return d->flows->ring;
}

static void accs_free(struct accs *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].key);
		free(a->v[i].ns);
		free(a->v[i].policy);
	}
	free(a->v);
	strmap_free(&a->m);
}

void pd_flows_free(struct pd *d)
{
	struct pd_flows *pf = d->flows;
	if (!pf)
		return;
	while (pf->streams)
		stream_close(pf->streams);
	if (d->ctix)
		ctix_set_listener(d->ctix, NULL, NULL);
	evloop_source_del(d->l, pf->nflog_src);
	evloop_timer_del(d->l, pf->t_retry);
	evloop_timer_del(d->l, pf->t_pump);
	flowcol_free(pf->col);
	flow_ring_free(pf->ring);
	if (pf->log.f)
		fclose(pf->log.f);
	accs_free(&pf->points);
	accs_free(&pf->admin);
	accs_free(&pf->audit);
	free(pf);
	d->flows = NULL;
}

/* ---- the control socket ---- */

static void reply_error(struct ctlsrv_conn *c, const char *msg)
{
	ctlsrv_reply(c, json_pack("{s:b,s:s}", "ok", 0, "error", msg));
}

/* Where a request's stream starts: since_seq, else the last N matches, else (following) the
 * next record, else every record held. */
static uint64_t start_seq(const struct pd_flows *pf, const json_t *req,
			  const struct flow_filter *f, bool follow)
{
	json_t *since = json_object_get(req, "since_seq"), *last = json_object_get(req, "last");
	if (json_is_integer(since) && json_integer_value(since) > 0)
		return (uint64_t)json_integer_value(since);
	if (json_is_integer(last) && json_integer_value(last) >= 0)
		return flow_ring_last(pf->ring, f, (size_t)json_integer_value(last));
	return follow ? flow_ring_next(pf->ring) : flow_ring_first(pf->ring);
}

void pd_flows_request(struct pd *d, struct ctlsrv_conn *c, json_t *req)
{
	struct pd_flows *pf = d->flows;
	char err[256];
	struct flow_filter *f = NULL;
	if (!pf) {
		reply_error(c, "flow collection is off (policyd --flows none)");
		return;
	}
	if (pf->n_streams >= STREAM_MAX) {
		reply_error(c, "too many flow readers at once");
		return;
	}
	if (flow_filter_from_json(json_object_get(req, "filter"), &f, err, sizeof(err)) < 0) {
		reply_error(c, err);
		return;
	}
	struct stream *s = xcalloc(1, sizeof(*s));
	s->pf = pf;
	s->filter = f;
	s->follow = json_is_true(json_object_get(req, "follow"));
	s->cursor = start_seq(pf, req, f, s->follow);
	s->end = flow_ring_next(pf->ring);
	s->fd = ctlsrv_take(c);
	int fl = fcntl(s->fd, F_GETFL);
	if (fl >= 0)
		fcntl(s->fd, F_SETFL, fl | O_NONBLOCK);
	s->src = evloop_source_add(d->l, s->fd, EPOLLIN | EPOLLRDHUP, on_stream, s);
	if (!s->src) {
		close(s->fd);
		flow_filter_free(f);
		free(s);
		return;
	}
	s->next = pf->streams;
	pf->streams = s;
	pf->n_streams++;
	stream_append(s, json_pack("{s:b,s:I,s:I,s:i,s:s,s:i}", "ok", 1, "first_seq",
				   (json_int_t)flow_ring_first(pf->ring), "next_seq",
				   (json_int_t)flow_ring_next(pf->ring), "nflog_group",
				   (int)pf->group, "nflog", nflog_state(pf), "buffer",
				   (int)flow_ring_cap(pf->ring)));
	stream_pump(s);
}

json_t *pd_flows_status(struct pd *d)
{
	struct pd_flows *pf = d->flows;
	if (!pf)
		return json_pack("{s:b}", "collecting", 0);
	struct flowcol_stats st;
	flowcol_stats_get(pf->col, &st);
	json_t *j = json_pack("{s:b,s:i,s:s,s:b,s:b,s:I,s:I,s:I,s:{s:I,s:I,s:I}}", "collecting", 1,
			      "nflog_group", (int)pf->group, "nflog", nflog_state(pf), "conntrack",
			      d->ctix != NULL, "audit", d->o.audit, "buffer",
			      (json_int_t)flow_ring_cap(pf->ring), "first_seq",
			      (json_int_t)flow_ring_first(pf->ring), "next_seq",
			      (json_int_t)flow_ring_next(pf->ring), "lost", "nflog",
			      (json_int_t)st.lost_nflog, "conntrack", (json_int_t)st.lost_conntrack,
			      "ring", (json_int_t)pf->lost_ring);
	struct ctix_stats xs = { 0 };
	if (d->ctix)
		ctix_stats_get(d->ctix, &xs);
	json_object_set_new(j, "rcvbuf", json_pack("{s:I,s:I}", "nflog", (json_int_t)st.nflog.rcvbuf,
						   "conntrack", (json_int_t)xs.rcvbuf));
	if (pf->log.f)
		json_object_set_new(j, "flow_log", json_string(pf->log.path));
	return j;
}

/* ---- metrics ---- */

static struct acc *acc_get(struct accs *a, const char *key)
{
	size_t i;
	if (strmap_get(&a->m, key, &i))
		return &a->v[i];
	struct acc *e = &VEC_PUSH(a->v, a->n, a->cap);
	memset(e, 0, sizeof(*e));
	e->key = xstrdup(key);
	/* the keys moved if the array grew: the map points at the strings, which did not */
	strmap_put(&a->m, e->key, a->n - 1);
	return e;
}

/* What a kernel counter added since the last scrape (a chain recreated starts again at 0). */
static uint64_t delta(uint64_t *last, uint64_t now)
{
	uint64_t d = now >= *last ? now - *last : now;
	*last = now;
	return d;
}

static void audit_add(struct pd_flows *pf, bool ingress, const char *ns, const char *policy,
		      uint64_t n)
{
	char key[1024];
	snprintf(key, sizeof(key), "%s\t%s\t%s", ingress ? "ingress" : "egress", ns, policy);
	struct acc *a = acc_get(&pf->audit, key);
	if (!a->policy) {
		a->ingress = ingress;
		a->ns = xstrdup(ns);
		a->policy = xstrdup(policy);
	}
	a->total += n;
}

/* The drop points: what the rate limit kept from the log, and what audited points let
 * through, by isolating policy. */
static void scrape_points(struct pd_flows *pf, const struct nft_counters *c)
{
	for (size_t i = 0; i < c->n_points; i++) {
		const struct nft_log_point *p = &c->points[i];
		struct acc *a = acc_get(&pf->points, p->prefix);
		uint64_t logged = delta(&a->last[0], p->logged), ended = delta(&a->last[1], p->ended);
		pf->suppressed += ended > logged ? ended - logged : 0;
		struct rs_log_point lp;
		if (!ended || rs_log_prefix_parse(p->prefix, &lp) < 0 || !lp.audit || lp.admin)
			continue;
		const struct np_pod *pod;
		bool ingress;
		const struct np_policy *const *pols;
		size_t n;
		if (flowcol_point(pf->col, p->prefix, &pod, &ingress, &pols, &n) < 0)
			continue;
		for (size_t k = 0; k < n; k++)
			audit_add(pf, ingress, pols[k]->ns, pols[k]->name, ended);
	}
}

/* An audited admin policy's Deny rules: their named counters count what they would drop. The
 * counter's comment: "CNP/NAME ingress[1] Deny ...". */
static void scrape_admin(struct pd_flows *pf, const struct nft_counters *c)
{
	const struct np_inventory *inv = ap_ctx_model(pf->d->ap);
	for (size_t i = 0; inv && i < c->n_named; i++) {
		char kn[256], dir[16], action[16];
		if (sscanf(c->named[i].comment, "%255s %15[a-z][%*u] %15s", kn, dir, action) != 3 ||
		    strcmp(action, "Deny"))
			continue;
		const char *slash = strchr(kn, '/');
		for (size_t k = 0; slash && k < inv->n_admins; k++) {
			const struct np_admin_policy *ap = &inv->admins[k];
			if ((size_t)(slash - kn) != strlen(ap->short_kind) ||
			    strncmp(kn, ap->short_kind, (size_t)(slash - kn)) ||
			    strcmp(slash + 1, ap->name) || !(ap->audit || pf->ro.audit))
				continue;
			uint64_t d = delta(&acc_get(&pf->admin, c->named[i].name)->last[0],
					   c->named[i].packets);
			audit_add(pf, !strcmp(dir, "ingress"), "", kn, d);
		}
	}
}

void pd_flows_metrics(struct pd *d, FILE *f, const struct nft_counters *c)
{
	struct pd_flows *pf = d->flows;
	if (!pf)
		return;
	struct flowcol_stats st;
	flowcol_stats_get(pf->col, &st);
	static const char *const dirs[] = { "unknown", "ingress", "egress" };
	metrics_family(f, "netpol_flows_total", "counter",
		       "Flow records by verdict and direction (drops folded into one record count "
		       "each)");
	for (int v = 0; v < FLOW_N_VERDICTS; v++)
		for (int k = 0; k < FLOW_N_DIRS; k++)
			metrics_sample(f, "netpol_flows_total", (double)st.flows[v][k], "verdict",
				       flow_verdict_name((enum flow_verdict)v), "direction", dirs[k],
				       NULL);
	metrics_family(f, "netpol_flow_events_lost_total", "counter",
		       "Events lost: nflog and conntrack (a receive buffer overflowed; at least "
		       "this many), ring (records readers missed)");
	metrics_sample(f, "netpol_flow_events_lost_total", (double)st.lost_nflog, "source",
		       "nflog", NULL);
	metrics_sample(f, "netpol_flow_events_lost_total", (double)st.lost_conntrack, "source",
		       "conntrack", NULL);
	metrics_sample(f, "netpol_flow_events_lost_total", (double)pf->lost_ring, "source", "ring",
		       NULL);
	if (c) {
		scrape_points(pf, c);
		scrape_admin(pf, c);
	}
	metrics_family(f, "netpol_flow_log_suppressed_total", "counter",
		       "Packets the drop points dropped (or let through, audited) but did not log: "
		       "the rate limit (10/s, burst 20, per point)");
	metrics_sample(f, "netpol_flow_log_suppressed_total", (double)pf->suppressed, NULL);
	metrics_family(f, "netpol_audit_would_drop_total", "counter",
		       "Packets audit mode let through that policy would have dropped, by policy");
	for (size_t i = 0; i < pf->audit.n; i++) {
		const struct acc *a = &pf->audit.v[i];
		metrics_sample(f, "netpol_audit_would_drop_total", (double)a->total, "direction",
			       a->ingress ? "ingress" : "egress", "namespace", a->ns, "policy",
			       a->policy, NULL);
	}
}
