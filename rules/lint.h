/* lint.h — warnings about valid input that probably does not do what its author meant. */
#ifndef NETPOL_LINT_H
#define NETPOL_LINT_H

#include "diag.h"
#include "model.h"

/* Appends warnings to d for a finished inventory: a policy that selects no pod, a peer that
 * selects nothing, a named port no pod defines, egress policies that leave selected pods
 * without DNS (port 53), a policy that selects host-network pods (never isolated), and rules
 * for a direction policyTypes leaves out. Checks that need pods are skipped when the inventory
 * has none (a directory of policies alone is linted for what can be said without pods). */
void np_lint(const struct np_inventory *inv, struct np_diags *d);

/* The admin tiers' part of np_lint (lint_admin.c): equal priorities over the same pods, Pass in
 * the Baseline tier, rules an earlier rule of the same policy always matches first. */
void np_lint_admin(const struct np_inventory *inv, struct np_diags *d);

#endif
