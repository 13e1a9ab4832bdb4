/* metrics.c — see metrics.h. */
#include <stdarg.h>
#include <string.h>

#include "metrics.h"

/* policy latency lives between a millisecond and a second; 10 s catches the pathological */
static const double bounds[METRICS_BUCKETS] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05,
						0.1,    0.25,  0.5,    1,     2.5,  5,    10 };

void metrics_hist_observe(struct metrics_hist *h, double seconds)
{
	h->count++;
	h->sum += seconds;
	for (int i = 0; i < METRICS_BUCKETS; i++)
		if (seconds <= bounds[i]) {
			h->counts[i]++;
			return;
		}
}

void metrics_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

void metrics_sample(FILE *f, const char *name, double value, ...)
{
	va_list ap;
	va_start(ap, value);
	fputs(name, f);
	const char *k;
	int n = 0;
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		fprintf(f, "%s%s=\"", n++ ? "," : "{", k);
		put_value(f, v ? v : "");
		fputc('"', f);
	}
	va_end(ap);
	fprintf(f, "%s %.17g\n", n ? "}" : "", value);
}

void metrics_hist_write(FILE *f, const char *name, const char *key, const char *val,
			const struct metrics_hist *h)
{
	uint64_t cum = 0;
	char le[32], bucket[256], sum[256], count[256];
	snprintf(bucket, sizeof(bucket), "%s_bucket", name);
	snprintf(sum, sizeof(sum), "%s_sum", name);
	snprintf(count, sizeof(count), "%s_count", name);
	for (int i = 0; i <= METRICS_BUCKETS; i++) {
		if (i < METRICS_BUCKETS) {
			cum += h->counts[i];
			snprintf(le, sizeof(le), "%g", bounds[i]);
		} else {
			cum = h->count;
			strcpy(le, "+Inf");
		}
		if (key)
			metrics_sample(f, bucket, (double)cum, key, val, "le", le, NULL);
		else
			metrics_sample(f, bucket, (double)cum, "le", le, NULL);
	}
	if (key) {
		metrics_sample(f, sum, h->sum, key, val, NULL);
		metrics_sample(f, count, (double)h->count, key, val, NULL);
	} else {
		metrics_sample(f, sum, h->sum, NULL);
		metrics_sample(f, count, (double)h->count, NULL);
	}
}
