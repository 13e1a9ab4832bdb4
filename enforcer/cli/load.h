/* load.h — what every subcommand that reads a policy directory does first. */
#ifndef NETPOL_CLI_LOAD_H
#define NETPOL_CLI_LOAD_H

#include <stdio.h>

#include "model.h"

/* Loads dir; prints every error (and warning notes) to stderr as file:line:col: ... [at
 * /pointer]. Returns 0 and the inventory, or -1 when there were errors (nothing returned: a
 * program must not act on half an input). */
int cli_load_inventory(const char *dir, struct np_inventory **out);

/* Prints the records of d to f (located and sorted first). min: lowest severity shown. */
void cli_print_diags(FILE *f, struct np_diags *d, enum np_sev min);

#endif
