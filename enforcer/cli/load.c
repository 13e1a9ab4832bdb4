/* load.c — see load.h. */
#include <stdio.h>
#include <stdlib.h>

#include "load.h"
#include "xalloc.h"

void cli_print_diags(FILE *f, struct np_diags *d, enum np_sev min)
{
	np_diags_locate(d);
	np_diags_sort(d);
	char buf[4096];
	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].sev > min)
			continue;
		np_diag_format(&d->v[i], buf, sizeof(buf));
		fprintf(f, "%s\n", buf);
	}
	if (d->n < d->errors + d->warnings + d->notes)
		fprintf(f, "(%zu more records not shown)\n",
			d->errors + d->warnings + d->notes - d->n);
}

int cli_load_inventory(const char *dir, struct np_inventory **out)
{
	struct np_diags d;
	np_diags_init(&d);
	struct np_inventory *inv = np_inventory_new();
	int rc = inv ? np_inventory_load_dir(inv, dir, &d) : -1;
	if (rc < 0 || d.errors) {
		cli_print_diags(stderr, &d, NP_SEV_ERROR);
		fprintf(stderr, "netpol: %s: %zu error%s; nothing done\n", dir, d.errors,
			d.errors == 1 ? "" : "s");
		np_diags_free(&d);
		np_inventory_free(inv);
		return -1;
	}
	np_diags_free(&d);
	/* every record has been shown: the source texts (kept only to locate records) can go,
	 * which is most of the memory of a large cluster */
	for (size_t i = 0; i < inv->n_srcs; i++) {
		free(inv->srcs[i]->text);
		inv->srcs[i]->text = xcalloc(1, 1);
		inv->srcs[i]->len = 0;
	}
	*out = inv;
	return 0;
}
