/* statedir.c — see statedir.h. */
#include <errno.h>
#include <fts.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "statedir.h"

/* Deep enough for STATE/endpoints/NET/ID.json and STATE/lkg/FILE, and no deeper: the check
 * runs at every start of netpol-cni, whose state directory holds a record per pod. */
#define DEPTH 3

static int refuse(char *err, size_t errlen, const char *path, const struct stat *st,
		  const char *why)
{
	snprintf(err, errlen, "%s (mode %04o, owner uid %u) %s; netpol refuses a state directory "
		 "other users can change (fix: chmod go-w, or chown root)", path,
		 (unsigned)(st->st_mode & 07777), (unsigned)st->st_uid, why);
	return -EPERM;
}

static int check_parent(const char *dir, char *err, size_t errlen)
{
	char copy[4096], *parent;
	struct stat st;
	snprintf(copy, sizeof(copy), "%s", dir);
	parent = dirname(copy);
	if (stat(parent, &st) < 0)
		return 0; /* the directory itself was found: its parent is not in question */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
		return refuse(err, errlen, parent, &st,
			      "holds the state directory and is writable by others (without the "
			      "sticky bit, they can rename it away and put their own in its place)");
	return 0;
}

/* The tree under dir, down to DEPTH: nothing writable by group or others (without lkg: not
 * the last good copies, which only policyd reads). */
static int check_tree(const char *dir, bool lkg, char *err, size_t errlen)
{
	char *const paths[] = { (char *)dir, NULL };
	FTS *t = fts_open(paths, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
	if (!t) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(e));
		return -e;
	}
	int r = 0;
	FTSENT *e;
	while (r == 0 && (e = fts_read(t))) {
		if (e->fts_info == FTS_DP)
			continue;
		if (e->fts_info == FTS_D &&
		    (e->fts_level >= DEPTH || (!lkg && e->fts_level == 1 && !strcmp(e->fts_name, "lkg"))))
			fts_set(t, e, FTS_SKIP);
		if ((e->fts_info == FTS_D || e->fts_info == FTS_F) &&
		    (e->fts_statp->st_mode & (S_IWGRP | S_IWOTH)))
			r = refuse(err, errlen, e->fts_path, e->fts_statp,
				   e->fts_level ? "is in the state directory and writable by others"
						: "is writable by others");
	}
	fts_close(t);
	return r;
}

static int check(const char *dir, bool lkg, char *err, size_t errlen)
{
	struct stat st;
	if (stat(dir, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		int e = errno;
		snprintf(err, errlen, "state directory %s: %s", dir, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "state directory %s is not a directory", dir);
		return -ENOTDIR;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return refuse(err, errlen, dir, &st, "belongs to another user");
	int r = check_tree(dir, lkg, err, errlen);
	return r < 0 ? r : check_parent(dir, err, errlen);
}

int statedir_check(const char *dir, char *err, size_t errlen)
{
	return check(dir, true, err, errlen);
}

int statedir_check_records(const char *dir, char *err, size_t errlen)
{
	return check(dir, false, err, errlen);
}
