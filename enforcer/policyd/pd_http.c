/* pd_http.c — policyd's HTTP answers: /healthz (the loop runs), /readyz (first sync done, last
 * sync ok, no file held, nothing held back; else 503 and why), /metrics (Prometheus text;
 * kernel counters are read at scrape time), and the page and its JSON (pd_api.h). Metric names:
 * README.md here, "Metrics". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_api.h"
#include "pd_int.h"
#include "ruleset.h"
#include "xalloc.h"


static const char *const kinds[] = { "incremental", "full" };
static const char *const outcomes[] = { "ok", "error" };

/* Local pods by isolation; computed once per generation (selectors over every local pod). */
static void isolation_counts(struct pd *d)
{
	if (d->iso_gen == d->generation && d->generation)
		return;
	memset(d->iso, 0, sizeof(d->iso));
	const struct np_inventory *inv = ap_ctx_model(d->ap);
	struct rs_options ro = { .node = d->o.node };
	for (size_t i = 0; inv && i < inv->n_pods; i++) {
		const struct np_pod *p = &inv->pods[i];
		if (!ruleset_pod_local(&ro, p))
			continue;
		bool in = false, out = false;
		for (size_t j = 0; j < inv->n_pols && !(in && out); j++) {
			const struct np_policy *pol = &inv->pols[j];
			if ((pol->ingress && !in) || (pol->egress && !out)) {
				if (np_policy_selects_pod(pol, p)) {
					in |= pol->ingress;
					out |= pol->egress;
				}
			}
		}
		d->iso[(in ? 1 : 0) + (out ? 2 : 0)]++;
	}
	d->iso_gen = d->generation;
}

static void write_model(struct pd *d, FILE *f)
{
	struct store_totals t;
	store_totals_get(d->store, &t);
	metrics_family(f, "netpol_policies", "gauge",
		       "NetworkPolicies enforced; held: from files held at their last good content");
	metrics_sample(f, "netpol_policies", (double)(t.policies - t.policies_held), "state",
		       "enforced", NULL);
	metrics_sample(f, "netpol_policies", (double)t.policies_held, "state", "held", NULL);
	isolation_counts(d);
	static const char *const iso[] = { "none", "ingress", "egress", "both" };
	metrics_family(f, "netpol_local_pods", "gauge", "Pods enforced on this node, by isolation");
	for (int i = 0; i < 4; i++)
		metrics_sample(f, "netpol_local_pods", (double)d->iso[i], "isolation", iso[i], NULL);
	metrics_family(f, "netpol_config_errors", "gauge",
		       "Policy files whose content on disk has errors (held at last good content)");
	metrics_sample(f, "netpol_config_errors", (double)t.held, NULL);
	metrics_family(f, "netpol_config_held_since_seconds", "gauge",
		       "Unix time since which a file has been held at its last good content");
	for (size_t i = 0; i < t.held; i++) {
		struct store_held h;
		store_held_get(d->store, i, &h);
		metrics_sample(f, "netpol_config_held_since_seconds", (double)h.since, "file",
			       h.name, NULL);
	}
	metrics_family(f, "netpol_mass_delete_held_objects", "gauge",
		       "Objects a change would remove that wait for SIGHUP or a reload");
	metrics_sample(f, "netpol_mass_delete_held_objects", (double)d->mass_held, NULL);
	metrics_family(f, "netpol_policy_files", "gauge", "Files in the policy directory model");
	metrics_sample(f, "netpol_policy_files", (double)t.files, NULL);
}

static void write_syncs(struct pd *d, FILE *f)
{
	metrics_family(f, "netpol_sync_total", "counter", "Syncs by kind and outcome");
	for (int k = 0; k < 2; k++)
		for (int o = 0; o < 2; o++)
			metrics_sample(f, "netpol_sync_total", (double)d->st.syncs[k][o], "kind",
				       kinds[k], "outcome", outcomes[o], NULL);
	metrics_family(f, "netpol_sync_duration_seconds", "histogram",
		       "Time of a sync: read, parse, build, diff, commit, conntrack");
	for (int k = 0; k < 2; k++)
		metrics_hist_write(f, "netpol_sync_duration_seconds", "kind", kinds[k],
				   &d->st.duration[k]);
	metrics_family(f, "netpol_policy_implementation_delay_seconds", "histogram",
		       "From the inotify read of a change to the kernel's ack of its commit");
	metrics_hist_write(f, "netpol_policy_implementation_delay_seconds", NULL, NULL,
			   &d->st.delay);
	metrics_family(f, "netpol_transactions_total", "counter",
		       "nf_tables transactions sent (one per sync; bursts share one)");
	metrics_sample(f, "netpol_transactions_total", (double)d->st.commits, NULL);
	metrics_family(f, "netpol_generation", "gauge", "Successful syncs since start");
	metrics_sample(f, "netpol_generation", (double)d->generation, NULL);
	metrics_family(f, "netpol_drift_repairs_total", "counter",
		       "Read-backs that found our tables changed by someone else and repaired them");
	metrics_sample(f, "netpol_drift_repairs_total", (double)d->st.drift_repairs, NULL);
	metrics_family(f, "netpol_kernel_rejections_total", "counter",
		       "Transactions the kernel rejected (then retried once as a full replace)");
	metrics_sample(f, "netpol_kernel_rejections_total", (double)d->st.kernel_rejections,
		       NULL);
	metrics_family(f, "netpol_connections_cut_total", "counter",
		       "Live connections a policy change no longer allowed (conntrack-marked)");
	metrics_sample(f, "netpol_connections_cut_total", (double)d->st.conns_cut, NULL);
	metrics_family(f, "netpol_conntrack_entries_deleted_total", "counter",
		       "Same count as netpol_connections_cut_total (cut entries are marked, not "
		       "deleted); kept for dashboards using this name");
	metrics_sample(f, "netpol_conntrack_entries_deleted_total", (double)d->st.conns_cut,
		       NULL);
	metrics_family(f, "netpol_inotify_overflows_total", "counter",
		       "inotify queue overflows (each followed by a full rescan)");
	metrics_sample(f, "netpol_inotify_overflows_total", (double)d->st.overflows, NULL);
	metrics_family(f, "netpol_lkg_write_failures_total", "counter",
		       "Times the last good copies could not be saved (state directory full or "
		       "read-only); retried every second");
	metrics_sample(f, "netpol_lkg_write_failures_total", (double)d->st.lkg_failures, NULL);
	metrics_family(f, "netpol_ready", "gauge", "1 when /readyz answers 200");
	char why[256];
	metrics_sample(f, "netpol_ready", pd_unready_why(d, why, sizeof(why)) ? 0 : 1, NULL);
}

/* What the control socket and the HTTP endpoint refused or closed (ctlsrv.h, httpd.h). */
static void write_limits(struct pd *d, FILE *f)
{
	if (d->ctl) {
		struct ctlsrv_stats cs;
		ctlsrv_stats_get(d->ctl, &cs);
		metrics_family(f, "netpol_control_clients", "gauge",
			       "Connections to the control socket open now");
		metrics_sample(f, "netpol_control_clients", (double)cs.clients, NULL);
		metrics_family(f, "netpol_control_refused_total", "counter",
			       "Control socket connections refused: not root or policyd's user");
		metrics_sample(f, "netpol_control_refused_total", (double)cs.refused_peer, NULL);
		metrics_family(f, "netpol_control_closed_total", "counter",
			       "Control socket connections closed by policyd, by reason");
		metrics_sample(f, "netpol_control_closed_total", (double)cs.closed_idle, "reason",
			       "idle", NULL);
		metrics_sample(f, "netpol_control_closed_total", (double)cs.closed_evicted,
			       "reason", "evicted", NULL);
		metrics_sample(f, "netpol_control_closed_total", (double)cs.closed_long_line,
			       "reason", "long_line", NULL);
	}
	metrics_family(f, "netpol_http_connections", "gauge",
		       "Connections to this HTTP endpoint open now");
	metrics_sample(f, "netpol_http_connections", (double)httpd_connections(d->http), NULL);
}

/* "NS/NAME ingress allowed" -> ns, name, direction */
static bool split_counter(const char *comment, char *ns, char *name, char *dir, size_t size)
{
	const char *slash = strchr(comment, '/'), *sp = strchr(comment, ' ');
	if (!slash || !sp || sp < slash || (size_t)(slash - comment) >= size ||
	    (size_t)(sp - slash) > size)
		return false;
	snprintf(ns, size, "%.*s", (int)(slash - comment), comment);
	snprintf(name, size, "%.*s", (int)(sp - slash - 1), slash + 1);
	snprintf(dir, size, "%s", !strncmp(sp + 1, "ingress", 7) ? "ingress" : "egress");
	return true;
}

static void write_kernel(struct pd *d, FILE *f)
{
	struct nft_counters c, sp;
	if ((!d->scrape && nft_sock_open(&d->scrape) < 0) ||
	    nft_read_counters(d->scrape, TABLE_INET, 1 /* NFPROTO_INET */, &c) < 0) {
		pd_flows_metrics(d, f, NULL); /* the collector's own figures still */
		return;
	}
	if (nft_read_counters(d->scrape, TABLE_SPOOF, 7 /* NFPROTO_BRIDGE */, &sp) == 0) {
		c.drop_packets[NFT_DROP_OTHER] += sp.drop_packets[NFT_DROP_OTHER];
		c.drop_bytes[NFT_DROP_OTHER] += sp.drop_bytes[NFT_DROP_OTHER];
		nft_counters_free(&sp);
	}
	metrics_family(f, "netpol_policy_allowed_connections_total", "counter",
		       "Packets that opened a connection a policy rule allowed (nft named counter)");
	for (size_t i = 0; i < c.n_named; i++) {
		char ns[256], name[256], dir[256];
		if (split_counter(c.named[i].comment, ns, name, dir, sizeof(ns)))
			metrics_sample(f, "netpol_policy_allowed_connections_total",
				       (double)c.named[i].packets, "namespace", ns, "policy", name,
				       "direction", dir, NULL);
	}
	static const char *const dirs[] = { "ingress", "egress", "other" };
	metrics_family(f, "netpol_dropped_packets_total", "counter",
		       "Packets dropped by policy (other: cut connections, spoofed sources)");
	for (int i = 0; i < 3; i++)
		metrics_sample(f, "netpol_dropped_packets_total", (double)c.drop_packets[i],
			       "direction", dirs[i], NULL);
	metrics_family(f, "netpol_dropped_bytes_total", "counter", "Bytes of those packets");
	for (int i = 0; i < 3; i++)
		metrics_sample(f, "netpol_dropped_bytes_total", (double)c.drop_bytes[i],
			       "direction", dirs[i], NULL);
	pd_flows_metrics(d, f, &c);
	nft_counters_free(&c);
	const struct nl_state *st = ap_ctx_state(d->ap);
	size_t n[6] = { 0 };
	for (size_t i = 0; st && i < st->n_tables; i++) {
		const struct nl_table *t = &st->tables[i];
		n[0]++;
		n[1] += t->n_sets;
		n[3] += t->n_chains;
		n[5] += t->n_counters;
		for (size_t j = 0; j < t->n_sets; j++)
			n[2] += t->sets[j].n_elems;
		for (size_t j = 0; j < t->n_chains; j++)
			n[4] += t->chains[j].n_rules;
	}
	static const char *const types[] = { "table", "set", "element", "chain", "rule",
					     "counter" };
	metrics_family(f, "netpol_nft_objects", "gauge", "Objects of our tables, by type");
	for (int i = 0; i < 6; i++)
		metrics_sample(f, "netpol_nft_objects", (double)n[i], "type", types[i], NULL);
}

int pd_http_serve(void *data, const struct httpd_req *rq, char **body, const char **ctype)
{
	struct pd *d = data;
	const char *path = rq->path;
	int status = pd_api_serve(d, rq, body, ctype);
	if (status)
		return status;
	if (!strcmp(path, "/healthz")) {
		*body = xstrdup("ok\n");
		return 200;
	}
	if (!strcmp(path, "/readyz")) {
		char why[8192];
		const char *w = pd_unready_why(d, why, sizeof(why));
		*body = xasprintf("%s\n", w ? w : "ok");
		return w ? 503 : 200;
	}
	if (strcmp(path, "/metrics")) {
		*body = xstrdup("not found: /healthz, /readyz, /metrics, /ui/, /api/v1/{flows,reach,"
				"policies,explain}\n");
		return 404;
	}
	size_t len = 0;
	FILE *f = open_memstream(body, &len);
	if (!f)
		return 500;
	write_model(d, f);
	write_syncs(d, f);
	write_limits(d, f);
	write_kernel(d, f);
	fclose(f);
	*ctype = "text/plain; version=0.0.4; charset=utf-8";
	return 200;
}
