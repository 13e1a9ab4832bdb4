/* store.h — policyd's per-file model of the policy directory. Each file keeps its own parsed
 * objects (a small inventory per file), so a change re-reads and re-parses only the files it
 * names; the inventory handed to the apply pipeline is a merge of those (no re-parse).
 *
 * A file that fails to parse keeps its last good objects ("held") until its content changes
 * again; its last good content is also kept on disk (LKG directory, written atomically) so it
 * survives a restart. Changes are staged: refresh reads a file into its pending state, commit
 * makes pending states current, and a caller can keep back the ones that remove objects (the
 * mass-delete guard) or that deleted a file only moments ago (editors delete and recreate). */
#ifndef NETPOL_ENFORCER_STORE_H
#define NETPOL_ENFORCER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "model.h"

struct store;

/* dir: the policy directory; lkg_dir: where last good copies live (created), or NULL. */
int store_new(const char *dir, const char *lkg_dir, struct store **out);
void store_free(struct store *s);

/* Start: takes the last good copies in the LKG directory as the current content (what the
 * previous run enforced). Returns how many files it loaded. */
int store_lkg_load(struct store *s);

/* Outcome of a refresh. */
enum store_refresh {
	STORE_SAME,    /* content unchanged (or still the same bad content) */
	STORE_CHANGED, /* new good content pending */
	STORE_BAD,     /* new content with errors: the file is held at its last good objects */
	STORE_GONE,    /* the file is gone: its removal is pending */
};

/* Re-reads dir/name. now: clock_now_ms(). */
enum store_refresh store_file_refresh(struct store *s, const char *name, double now);
/* The same for content that comes from elsewhere than the directory (the objects an etcd store
 * holds): text (len bytes) is name's content now; label names it in error records. A store
 * fed this way is never rescanned. */
enum store_refresh store_text_refresh(struct store *s, const char *name, const char *label,
				      const char *text, size_t len, double now);
/* name is gone (its removal is pending, as a deleted file's). */
enum store_refresh store_text_gone(struct store *s, const char *name, double now);
/* Whether name is known (current, pending or held), and the i-th known name (NULL past the
 * end). */
bool store_has(const struct store *s, const char *name);
const char *store_name(const struct store *s, size_t i);

/* Calls store_file_refresh for every wanted file in the directory and every file the store
 * knows. Returns the number of files that changed (CHANGED, BAD or GONE), or -errno when the
 * directory cannot be read (nothing is marked gone then). */
int store_rescan(struct store *s, double now);

/* Re-reads the directory entry of every file whose removal is pending: one written again
 * meanwhile (an editor's or tar's replacement) becomes a change, one still absent stays a
 * pending removal, now known to be one. Returns the number of files that came back. */
int store_gone_recheck(struct store *s, double now);

/* Objects the pending changes would remove (a deleted file's objects, a file's shrink). */
size_t store_pending_removed(const struct store *s);
/* Makes pending changes current. Changes that remove objects are kept pending when
 * !allow_removals; file deletions younger than grace_ms are kept pending too. Returns the
 * number of files committed; *next_ms (if not NULL) gets the delay until the youngest kept
 * deletion's grace ends (0: none). */
size_t store_pending_commit(struct store *s, bool allow_removals, double now, double grace_ms,
			    double *next_ms);
bool store_pending_any(const struct store *s);

/* A new inventory: every current object (errors about duplicates across files go to diags). The
 * objects point into the store: it must outlive the inventory until store_retired_free shows
 * the apply context no longer holds an older one. */
int store_inventory_merge(struct store *s, struct np_inventory **out, struct np_diags *diags);
/* Appends every current object to inv (not finished: the caller merges more, then finishes). */
void store_inventory_add(const struct store *s, struct np_inventory *inv);
/* Frees objects that earlier merges (now superseded by a commit) pointed to. */
void store_retired_free(struct store *s);

/* Writes the last good copies of files committed since the last call (tmp + fsync + rename)
 * and removes those of deleted files. Returns the number of failures (errno of the last in
 * *err); what failed is tried again by the next call. */
int store_lkg_flush(struct store *s, int *err);
/* Whether a copy waits to be written or removed (a flush failed since). */
bool store_lkg_pending(const struct store *s);

/* Held files: those whose content on disk has errors. */
struct store_held {
	const char *name;
	time_t since;      /* wall clock of the first failing content */
	const char *error; /* the errors, one "file:line:col: error: ... (at /ptr)" per line */
	bool has_good;     /* last good objects are enforced (else the file never parsed) */
};
size_t store_held_count(const struct store *s);
/* i-th held file (0 <= i < store_held_count). */
void store_held_get(const struct store *s, size_t i, struct store_held *out);

/* Current totals: files, objects, policies (held: in held files). */
struct store_totals {
	size_t files, objects, policies, policies_held, pods, namespaces, held, pending;
};
void store_totals_get(const struct store *s, struct store_totals *t);

/* A digest of the committed content: every file with good content, by name and the hash of
 * its text (what the merge is made of). */
uint64_t store_digest(const struct store *s);
/* The digest store_digest would give for the files in dir as they are now, had each been
 * committed as it is: read and hashed, not parsed. 0, or -errno when dir or a file cannot be
 * read. */
int store_dir_digest(const char *dir, uint64_t *out);

#endif
