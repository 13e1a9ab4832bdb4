/* cmd_common.h — what netpol apply, status, flush and reload share: their options, loading the
 * policy directory with the endpoint records, policyd's own status, kernel errors shown. Not an
 * API. */
#ifndef NETPOL_CLI_CMD_COMMON_H
#define NETPOL_CLI_CMD_COMMON_H

#include <jansson.h>
#include <stdbool.h>

#include "apply.h"
#include "model.h"

#define DEFAULT_STATE_DIR "/run/netpol"

struct apply_opts {
	struct rs_options ro;
	const char *dir;
	const char *state_dir; /* merge netsetup's endpoint records, and serialize writers */
	const char *store, *store_prefix; /* records from this store (etcd://...) instead */
	bool full, check, stats, no_ct, inject;
	long hold_ms;
	double ms_load;
	long table_flags; /* tests: nft 1.0.6 cannot list PERSIST in JSON (it reads past its flag
			     names), so the listing comparisons apply with 0 */
};

/* Parses the options of netpol CMD DIR (apply, status). Returns -1 to go on, else the exit
 * status (usage printed, or a state directory refused). */
int cmd_parse_apply_opts(const char *cmd, int argc, char **argv, struct apply_opts *o);
/* --nflog-group's value (1-65535); says what is wrong. 0 or -1. */
int cmd_parse_nflog_group(const char *s, uint16_t *out);
/* 0 when state_dir is NULL or one only root can change (statedir.h); else -1, why printed. */
int cmd_state_dir_trusted(const char *state_dir);
/* The pipeline's options for o. */
struct ap_opts cmd_ap_opts(const struct apply_opts *o);
/* Loads DIR and merges the endpoint records; prints errors. 0 or 2 (input errors). */
int cmd_load_inventory(const struct apply_opts *o, struct np_inventory **inv);
/* Merges the endpoint records of state_dir (or the store) into inv (endpoints.h), printing
 * what it left out. 0, or -1 with the error printed. */
struct ns_store_conf;
int cmd_merge_endpoints(struct np_inventory *inv, const char *state_dir,
			const struct ns_store_conf *store);
/* Prints kernel errors in the order of the batch, the first few only: a rejected table
 * (EPERM: another process owns it) fails every message. */
void cmd_print_kernel_errors(const struct np_diags *d);
/* Asks policyd for its status on STATE/policyd.sock (NULL: the default); the reply, or NULL
 * when none runs. */
json_t *cmd_policyd_status(const char *state_dir);

#endif
