/* marker.h — the commit marker: what lets a restart trust the tables it finds in the kernel
 * without building and reading them back.
 *
 * After each commit whose resulting generation is known, policyd writes STATE/commit.json:
 * the digest of everything the ruleset was built from (this program's file, the options that
 * shape the ruleset, every policy file's name and text, every endpoint record), the netns's
 * ruleset generation right after that commit, the inet table's handle, the boot and the
 * netns. A restart that finds the same digest for the directory and records as they are now,
 * and a kernel at that generation in that netns of that boot with that table, knows that
 * nothing was committed in the netns since, so the tables hold exactly what the inputs build:
 * it is READY before parsing anything, and builds its model after. Anything else (another
 * program's commit in the netns, an edited file, a reboot, an upgrade, a lost or torn marker)
 * is a mismatch, and the restart takes the full path. */
#ifndef NETPOL_POLICYD_MARKER_H
#define NETPOL_POLICYD_MARKER_H

#include <stdbool.h>
#include <stdint.h>

#include "pd.h"

struct marker {
	uint64_t inputs;  /* marker_inputs of what the commit was built from */
	uint32_t gen;     /* the netns's ruleset generation after it */
	uint64_t table;   /* the inet table's handle */
	char boot[40];    /* /proc/sys/kernel/random/boot_id */
	uint64_t netns;   /* the netns: device and inode of /proc/self/ns/net and its cookie,
			     hashed */
};

/* What does not change while the process runs: this program's file (device, inode, size,
 * times) and the options that shape the ruleset. 0 when the program's file cannot be told
 * (then no marker is written or trusted). */
uint64_t marker_self(const struct pd_opts *o);
/* The digest of one sync's inputs: self, the store's digest (store_digest or
 * store_dir_digest) and the endpoint records' (endpoints_digest). */
uint64_t marker_inputs(uint64_t self, uint64_t files, uint64_t endpoints);
/* Fills m's boot and netns with this process's. 0 or -errno. */
int marker_here(struct marker *m);
/* Whether two markers name the same boot and netns. */
bool marker_same_place(const struct marker *a, const struct marker *b);

/* STATE/commit.json: read (0, -ENOENT, or -EINVAL when it is not a whole marker), written
 * (whole, never torn: a temporary renamed over it; not fsync'ed, a marker outliving a power
 * cut names another boot). */
int marker_read(const char *state_dir, struct marker *m);
int marker_write(const char *state_dir, const struct marker *m);

#endif
