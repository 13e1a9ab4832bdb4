/* cmd_check.c — `netpol check DIR [--strict] [--json]`: load, validate, lint, report.
 * Exit status: 0 clean (or warnings without --strict), 1 warnings with --strict, 2 errors or an
 * unreadable DIR. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "lint.h"
#include "model.h"

static const char *sev_word(enum np_sev s)
{
	return s == NP_SEV_ERROR ? "error" : s == NP_SEV_WARNING ? "warning" : "note";
}

static void print_json(const struct np_diags *d)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < d->n; i++) {
		const struct np_diag *r = &d->v[i];
		json_array_append_new(
			arr, json_pack("{s:s, s:s?, s:i, s:i, s:s?, s:s}", "severity",
				       sev_word(r->sev), "file", r->src ? r->src->path : NULL,
				       "line", r->line, "column", r->col, "pointer", r->pointer,
				       "message", r->msg));
	}
	json_dumpf(arr, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(arr);
}

int cmd_check(int argc, char **argv)
{
	const char *dir = NULL;
	bool strict = false, as_json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--strict"))
			strict = true;
		else if (!strcmp(argv[i], "--json"))
			as_json = true;
		else if (argv[i][0] == '-' || dir) {
			fprintf(stderr, "usage: netpol check DIR [--strict] [--json]\n");
			return 2;
		} else
			dir = argv[i];
	}
	if (!dir) {
		fprintf(stderr, "usage: netpol check DIR [--strict] [--json]\n");
		return 2;
	}
	struct np_inventory *inv = np_inventory_new();
	if (!inv) {
		fprintf(stderr, "netpol: out of memory\n");
		return 2;
	}
	struct np_diags d;
	np_diags_init(&d);
	int r = np_inventory_load_dir(inv, dir, &d);
	if (r == 0)
		np_lint(inv, &d);
	np_diags_locate(&d);
	np_diags_sort(&d);
	if (as_json) {
		print_json(&d);
	} else {
		char buf[2048];
		for (size_t i = 0; i < d.n; i++) {
			np_diag_format(&d.v[i], buf, sizeof(buf));
			fprintf(stderr, "%s\n", buf);
		}
		if (d.errors + d.warnings + d.notes > d.n)
			fprintf(stderr, "netpol: %zu more records not shown\n",
				d.errors + d.warnings + d.notes - d.n);
	}
	/* with --json, stdout stays one JSON document; the summary goes to stderr */
	FILE *out = as_json ? stderr : stdout;
	fprintf(out, "%zu error%s, %zu warning%s; %zu namespaces, %zu pods, %zu policies", d.errors,
		d.errors == 1 ? "" : "s", d.warnings, d.warnings == 1 ? "" : "s", inv->n_nss,
		inv->n_pods, inv->n_pols);
	if (inv->n_admins)
		fprintf(out, ", %zu admin-tier policies", inv->n_admins);
	fprintf(out, "\n");
	int rc = r < 0 || d.errors ? 2 : strict && d.warnings ? 1 : 0;
	np_diags_free(&d);
	np_inventory_free(inv);
	return rc;
}
