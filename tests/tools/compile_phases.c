/* compile_phases — where `netpol render` spends its time: runs load (read + parse +
 * validate), ruleset_build and emit_text_write (to /dev/null) RUNS times on DIR and prints the
 * minimum of each phase, so a benchmark can say which pass misses the target.
 *
 *   compile_phases DIR [--node NAME] [--runs N]
 *   -> "phases (min of N runs): load 310.2 ms, build 180.4 ms, emit 60.1 ms"
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "ruleset.h"

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static double min_of(double a, double b)
{
	return a < b ? a : b;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *node = NULL;
	long runs = 3;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--node") && i + 1 < argc)
			node = argv[++i];
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = strtol(argv[++i], NULL, 10);
		else if (argv[i][0] != '-' && !dir)
			dir = argv[i];
		else
			dir = NULL, i = argc;
	}
	if (!dir || runs < 1) {
		fprintf(stderr, "usage: compile_phases DIR [--node NAME] [--runs N]\n");
		return 2;
	}
	FILE *null = fopen("/dev/null", "w");
	if (!null) {
		fprintf(stderr, "compile_phases: /dev/null: %s\n", strerror(errno));
		return 2;
	}
	double load = 1e18, build = 1e18, emit = 1e18;
	for (long k = 0; k < runs; k++) {
		struct np_diags d;
		np_diags_init(&d);
		double t0 = now_ms();
		struct np_inventory *inv = np_inventory_new();
		if (!inv || np_inventory_load_dir(inv, dir, &d) < 0 || d.errors) {
			fprintf(stderr, "compile_phases: %s does not load cleanly (%zu errors)\n", dir,
				d.errors);
			return 1;
		}
		double t1 = now_ms();
		struct rs_options opt = { .node = node };
		struct rs_ruleset *rs = NULL;
		if (ruleset_build(inv, &opt, &rs) < 0) {
			fprintf(stderr, "compile_phases: ruleset_build failed\n");
			return 1;
		}
		double t2 = now_ms();
		if (emit_text_write(rs, null) < 0) {
			fprintf(stderr, "compile_phases: emit_text_write failed\n");
			return 1;
		}
		fflush(null);
		double t3 = now_ms();
		load = min_of(load, t1 - t0);
		build = min_of(build, t2 - t1);
		emit = min_of(emit, t3 - t2);
		ruleset_free(rs);
		np_inventory_free(inv);
		np_diags_free(&d);
	}
	fclose(null);
	printf("phases (min of %ld runs): load %.1f ms, build %.1f ms, emit %.1f ms\n", runs, load,
	       build, emit);
	return 0;
}
