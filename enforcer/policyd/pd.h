/* pd.h — policyd's core: keeps the kernel in step with a policy directory and the state
 * directory's endpoint records. It wires its sources into an event loop (inotify, signals,
 * the nf_tables monitor, the control socket, timers, HTTP) and runs every sync through the one
 * apply pipeline (apply.h), diffing against its last commit. Nothing here prints: each log line
 * goes to the caller's log function. */
#ifndef NETPOL_ENFORCER_PD_H
#define NETPOL_ENFORCER_PD_H

#include <stdbool.h>
#include <stddef.h>

#include "evloop.h"

struct pd_opts {
	const char *policy_dir;
	const char *state_dir;    /* endpoint records, control socket, lock, last good copies */
	const char *node;         /* pods on this node are enforced here; NULL: every pod */
	const char *metrics_addr; /* "127.0.0.1:9753"; NULL: no HTTP endpoint */
	const char *store;        /* etcd://...: the host's agent on that store (pd_store.c) */
	const char *store_prefix; /* its keys' prefix; NULL: /netpol/ */
	const char *host_addr;    /* this host's underlay address; NULL: the kernel's choice */
	long lease_ttl_s;         /* the node's lease */
	bool reject, no_spoof;
	bool allow_mass_delete;   /* apply changes removing over half of the objects at once */
	bool no_owner;            /* tables without the owner flag (what pre-6.9 kernels get) */
	bool no_monitor;          /* tests: no NFNLGRP_NFTABLES monitor (drift waits for a
				     resync or SIGHUP) */
	long long test_monitor_delay_ms; /* tests: the monitor starts this long after the first
				     commit (the gap its generation check closes, made wide) */
	bool inject_error;        /* tests: every transaction carries a rule the kernel rejects */
	bool test_old_kernel;     /* tests: the tables also ask for a flag no kernel knows, refused
				     as PERSIST is before 6.9: the unowned fallback runs for real */
	long long resync_ms;      /* read back and repair every so often; 0: never */
	double gap_ms;            /* a change while idle applies at once; the next within this
				     long of a sync waits for it (bursts coalesce) */
	double grace_ms;          /* a deleted file's objects go only if it stays away this long
				     (editors delete and recreate) */
	size_t ctl_max_clients;   /* control socket connections held at once (0: 1024) */
	long long ctl_idle_ms;    /* an idle control connection is closed after this (0: 30 s) */
	/* flows (pd_flows.c) */
	bool no_flows;            /* --flows none: no NFLOG socket, no records */
	bool audit;               /* the whole node audits: drops are logged and let through */
	uint16_t nflog_group;     /* the ruleset logs there, policyd reads it; 0: 100 */
	size_t flow_buffer;       /* records the ring holds; 0: 4096 */
	const char *flow_log;     /* also write records there (rotated), or NULL */
	size_t flow_log_size;     /* rotate past this many bytes; 0: 10 MiB */
	int flow_log_backups;     /* FILE.1 ... FILE.N kept; -1: 5 */
	size_t nflog_rcvbuf[2], ct_rcvbuf[2]; /* tests: receive buffers (start, bound) */
	void (*log)(void *arg, const char *line);
	void *log_arg;
};

struct pd;

/* Takes the control socket, listens; writes nothing to the kernel yet. 0, or -errno with the
 * reason in err. */
int pd_new(const struct pd_opts *o, struct evloop *l, struct pd **out, char *err, size_t errlen);
/* Runs until SIGTERM/SIGINT (or a fatal error): READY at once when the commit marker vouches
 * for the kernel (marker.h), the last good copies and the directory read, the first sync, then
 * events. Returns 0 on a requested exit; the ruleset stays in force. */
int pd_run(struct pd *d);
void pd_free(struct pd *d);

#endif
