/* pd_int.h — policyd core internals shared by pd.c (sync, sources) and pd_http.c (/healthz,
 * /readyz, /metrics). Not an API. */
#ifndef NETPOL_ENFORCER_PD_INT_H
#define NETPOL_ENFORCER_PD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "apply.h"
#include "ctindex.h"
#include "ctlsrv.h"
#include "evloop.h"
#include "httpd.h"
#include "metrics.h"
#include "nft.h"
#include "nftmon.h"
#include "marker.h"
#include "pd.h"
#include "pd_flows.h"
#include "store.h"
#include "watch.h"

/* the node's tables */
#define TABLE_INET "netpol"
#define TABLE_SPOOF "netpol-spoof"

enum { PD_KIND_INCREMENTAL, PD_KIND_FULL };
enum { PD_OK, PD_ERROR };

struct pd_stats {
	uint64_t syncs[2][2];             /* [kind][outcome] */
	struct metrics_hist duration[2];  /* by kind */
	struct metrics_hist delay;        /* file event -> commit acked */
	uint64_t drift_repairs, conns_cut, conns_restored, overflows, rescans, commits;
	uint64_t kernel_rejections, foreign_changes;
	uint64_t ct_resyncs_failed;
	uint64_t lkg_failures;            /* flushes of the last good copies that failed */
};

struct pd {
	struct pd_opts o;
	struct evloop *l;
	struct ap_ctx *ap;
	struct store *store;
	struct watch *watch;
	struct watch_events ev;   /* read, not yet applied */
	struct nftmon *mon;
	struct ctlsrv *ctl;
	struct httpd *http;
	struct nft_sock *scrape;  /* metrics reads (never writes) */
	struct ctix *ctix;        /* live connections, from conntrack events (NULL: none) */
	struct pd_flows *flows;   /* flow collection (pd_flows.c; NULL: off) */
	struct evsource *ct_src, *t_ctresync;
	bool ct_lost_said;        /* a loss of conntrack events was logged; not again until the
				     index is reloaded */
	int sigfd;
	struct evsource *watch_src, *mon_src, *sig_src;
	struct evsource *t_sync, *t_resync, *t_tick, *t_trim, *t_lkg, *t_mon;
	unsigned long long wd_usec;
	double last_wd_ms;

	bool exiting, first_done, last_ok, sync_armed;
	char last_error[1024];
	char state_error[512];    /* why the last good copies could not be saved; "" when saved */
	bool endpoints_dirty, readback_pending, full_pending, allow_removals_once, rescan_pending;
	bool dir_missing;
	double t_oldest;          /* clock_now_ms() of the oldest event not yet committed */
	double last_sync_end;
	double started_ms;
	double last_refusal_log;  /* clock_now_ms() of the last "refused" log line */
	uint64_t refusals_unlogged;
	unsigned long long generation;
	size_t mass_held;         /* objects the mass-delete guard keeps back */
	struct pd_stats st;
	struct pd_store *agent;   /* --store: the host's agent (pd_store.c); NULL: none */
	const char *armed_for;    /* what the armed sync is for, in the log */
	/* the commit marker (marker.h); mk_self 0: none kept (no state directory, --store,
	 * injected errors, or this program's file cannot be told) */
	uint64_t mk_self;
	struct marker mk_here;    /* this boot and netns */
	struct marker mk;         /* read at start and matched: the first sync may trust it */
	bool mk_trust;
	struct marker mk_last;    /* the last one written (mk_last.inputs 0: none) */
	struct nft_sock *mk_sock; /* asks the inet table's handle */
	uint64_t sync_inputs;     /* marker_inputs of the last merge (merged_inventory) */
	bool fast_ready;          /* READY was sent on the marker, before the first sync */
	bool mk_failed;           /* the last marker write failed (logged once) */
	/* local pods by isolation, computed once per generation for /metrics */
	unsigned long long iso_gen;
	size_t iso[4];            /* none, ingress, egress, both */
};

void pd_log(struct pd *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The commit marker (pd_marker.c). init: decides whether one is kept. start: whether the
 * marker found matches the directory, the records and the kernel; if so READY is sent now and
 * the first sync may trust the kernel (true). flags: AP_TRUSTED for the first sync when its
 * merge is the marker's inputs. save: after a commit. */
void pd_marker_init(struct pd *d);
bool pd_marker_start(struct pd *d);
unsigned pd_marker_flags(struct pd *d);
void pd_marker_save(struct pd *d, const struct ap_report *rep);
void pd_marker_free(struct pd *d);
/* The HTTP handler (httpd_fn): /healthz, /readyz, /metrics, then pd_api_serve. */
int pd_http_serve(void *data, const struct httpd_req *rq, char **body, const char **ctype);
/* What written change is not enforced yet (NULL: none): an unread file event, a changed
 * endpoint record, a pending file change (a deletion's grace, a coalescing burst, the
 * mass-delete guard), a due read-back. */
const char *pd_pending(struct pd *d);
/* Why the daemon is not ready, or NULL when it is; buf holds the text. */
const char *pd_unready_why(struct pd *d, char *buf, size_t size);
/* "owner+persist", or what else the tables carry. */
const char *pd_table_mode(const struct pd *d);
/* Something written changed elsewhere than in a watched directory (the store's watch): a sync
 * soon, coalesced as file events are. */
void pd_changed(struct pd *d, const char *trigger);

/* pd_store.c: the host's agent on an etcd store (--store). */
int pd_store_open(struct pd *d, char *err, size_t errlen);
void pd_store_close(struct pd *d);
/* Adds the store's objects and the endpoints on other hosts to inv (and finishes it). */
void pd_store_merge(struct pd *d, struct np_inventory *inv, struct np_diags *notes);
/* After a commit: superseded objects freed, last good copies saved. */
void pd_store_committed(struct pd *d);
bool pd_store_pending(struct pd *d);
/* Why the store makes the daemon unready (it is away), or NULL; buf holds the text. */
const char *pd_store_unready(struct pd *d, char *buf, size_t size);
json_t *pd_store_status(struct pd *d);

#endif
