/* metrics.h — Prometheus text exposition (format 0.0.4) helpers: histograms with fixed
 * latency buckets, and writers that escape label values. The daemon owns the values. */
#ifndef NETPOL_ENFORCER_METRICS_H
#define NETPOL_ENFORCER_METRICS_H

#include <stdint.h>
#include <stdio.h>

#define METRICS_BUCKETS 14 /* 0.5 ms ... 10 s, then +Inf */

struct metrics_hist {
	uint64_t counts[METRICS_BUCKETS]; /* per bucket, not cumulative */
	uint64_t count;
	double sum;
};

void metrics_hist_observe(struct metrics_hist *h, double seconds);

/* "# HELP name help\n# TYPE name type\n" */
void metrics_family(FILE *f, const char *name, const char *type, const char *help);
/* name{labels} value, labels as "k1", "v1", "k2", "v2", ... NULL (values escaped). */
void metrics_sample(FILE *f, const char *name, double value, ...);
/* The _bucket, _sum and _count lines of one histogram; one optional label pair (key NULL:
 * none). */
void metrics_hist_write(FILE *f, const char *name, const char *key, const char *val,
			const struct metrics_hist *h);

#endif
