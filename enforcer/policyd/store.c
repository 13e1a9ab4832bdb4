/* store.c — see store.h. */
#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomicio.h"
#include "inventory.h"
#include "invmerge.h"
#include "store.h"
#include "vec.h"
#include "xalloc.h"

struct sfile {
	char *name;
	struct np_inventory *inv;  /* current (last good) objects, or NULL */
	uint64_t hash;             /* of inv's content */
	struct np_inventory *next; /* pending new content, or NULL */
	uint64_t next_hash;
	bool gone;                 /* pending removal: the file is not there */
	double gone_since;
	bool held;                 /* the content on disk has errors */
	uint64_t bad_hash;
	time_t held_since;
	char *errors;
	bool lkg_dirty;            /* inv's content is not yet in the LKG directory */
};

struct store {
	char *dir, *lkg_dir;
	struct sfile *f;           /* sorted by name */
	size_t n, cap;
	struct np_inventory **retired;
	size_t n_retired, cap_retired;
	char **unlink;             /* LKG copies to remove */
	size_t n_unlink, cap_unlink;
	struct invmerge *merge;    /* every file's objects merged, kept between merges */
};

/* A file's text, hashed eight bytes a step (FNV-1a's byte a step was most of hashing a
 * 300 MB directory at a restart): tells contents apart, as FNV does, against no adversary
 * (whoever can write the directory decides the policy anyway). */
static uint64_t text_hash(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, p + i, n - i);
	h = (h ^ w ^ 0xff) * 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 29);
}

static size_t objects(const struct np_inventory *inv)
{
	return inv ? inv->n_nss + inv->n_pods + inv->n_pols + inv->n_nodes + inv->n_admins : 0;
}

int store_new(const char *dir, const char *lkg_dir, struct store **out)
{
	struct store *s = xcalloc(1, sizeof(*s));
	s->merge = invmerge_new();
	s->dir = xstrdup(dir);
	s->lkg_dir = lkg_dir ? xstrdup(lkg_dir) : NULL;
	if (lkg_dir && mkdir(lkg_dir, 0700) < 0 && errno != EEXIST) {
		int e = -errno;
		store_free(s);
		return e;
	}
	*out = s;
	return 0;
}

static void retire(struct store *s, struct np_inventory *inv)
{
	if (!inv)
		return;
	VEC_PUSH(s->retired, s->n_retired, s->cap_retired) = inv;
}

void store_retired_free(struct store *s)
{
	/* commits not merged yet name objects that go now: the next merge is whole */
	if (s->n_retired)
		invmerge_invalidate(s->merge);
	for (size_t i = 0; i < s->n_retired; i++)
		np_inventory_free(s->retired[i]);
	s->n_retired = 0;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->f[i].name);
		np_inventory_free(s->f[i].inv);
		np_inventory_free(s->f[i].next);
		free(s->f[i].errors);
	}
	store_retired_free(s);
	invmerge_free(s->merge);
	for (size_t i = 0; i < s->n_unlink; i++)
		free(s->unlink[i]);
	free(s->unlink);
	free(s->retired);
	free(s->f);
	free(s->dir);
	free(s->lkg_dir);
	free(s);
}

static size_t find_pos(const struct store *s, const char *name, bool *found)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = strcmp(s->f[mid].name, name);
		if (!r) {
			*found = true;
			return mid;
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static struct sfile *file_get(struct store *s, const char *name, bool create)
{
	bool found;
	size_t i = find_pos(s, name, &found);
	if (found)
		return &s->f[i];
	if (!create)
		return NULL;
	VEC_GROW(s->f, s->n, s->cap);
	memmove(&s->f[i + 1], &s->f[i], (s->n - i) * sizeof(*s->f));
	s->n++;
	memset(&s->f[i], 0, sizeof(*s->f));
	s->f[i].name = xstrdup(name);
	return &s->f[i];
}

static void file_remove(struct store *s, struct sfile *f)
{
	size_t i = (size_t)(f - s->f);
	free(f->name);
	np_inventory_free(f->next);
	free(f->errors);
	memmove(&s->f[i], &s->f[i + 1], (s->n - i - 1) * sizeof(*s->f));
	s->n--;
}

static int yaml_of(const char *name)
{
	size_t n = strlen(name);
	return !(n > 5 && !strcmp(name + n - 5, ".json"));
}

/* The source text is kept only to locate error records, and a committed file has none: the
 * parsed objects are what is used (the text is most of a large cluster's memory). */
static void drop_text(struct np_inventory *inv)
{
	for (size_t i = 0; i < inv->n_srcs; i++) {
		free(inv->srcs[i]->text);
		inv->srcs[i]->text = xcalloc(1, 1);
		inv->srcs[i]->len = 0;
	}
}

/* Parses text; returns the inventory, or NULL with the errors formatted into *errors. */
static struct np_inventory *parse(const char *path, const char *text, size_t len, int yaml,
				  char **errors)
{
	struct np_diags d;
	np_diags_init(&d);
	struct np_inventory *inv = np_inventory_new();
	if (!inv)
		abort();
	np_inventory_load_buffer(inv, path, text, len, yaml, &d);
	if (!d.errors) {
		np_diags_free(&d);
		np_inventory_sort(inv); /* so the merge of every file finds them in order */
		return inv;
	}
	np_diags_locate(&d);
	np_diags_sort(&d);
	char *buf = NULL;
	size_t blen = 0;
	FILE *m = open_memstream(&buf, &blen);
	for (size_t i = 0, shown = 0; m && i < d.n && shown < 20; i++) {
		if (d.v[i].sev != NP_SEV_ERROR)
			continue;
		char line[2048];
		np_diag_format(&d.v[i], line, sizeof(line));
		fprintf(m, "%s%s", shown++ ? "\n" : "", line);
	}
	if (m)
		fclose(m);
	*errors = buf;
	np_diags_free(&d);
	np_inventory_free(inv);
	return NULL;
}

static void drop_next(struct sfile *f)
{
	np_inventory_free(f->next);
	f->next = NULL;
}

static void clear_held(struct sfile *f)
{
	f->held = false;
	free(f->errors);
	f->errors = NULL;
}

static void set_held(struct sfile *f, uint64_t h, char *errors)
{
	if (!f->held)
		f->held_since = time(NULL);
	f->held = true;
	f->bad_hash = h;
	free(f->errors);
	f->errors = errors;
	drop_next(f);
	f->gone = false;
}

/* The file is gone (or not a file: not input either): its removal is pending, unless it never
 * had good content. */
static enum store_refresh refresh_gone(struct store *s, struct sfile *f, double now)
{
	if (!f || f->gone)
		return STORE_SAME;
	if (!f->inv) { /* it never had good content: nothing to remove */
		file_remove(s, f);
		return STORE_SAME;
	}
	drop_next(f);
	clear_held(f);
	f->gone = true;
	f->gone_since = now;
	return STORE_GONE;
}

/* A file read, and maybe parsed, ahead of its refresh (store_rescan does that for every file
 * on two threads): the text (freed once parsed), its length and hash, and the parse. */
struct readahead {
	int r;                     /* np_file_read's */
	char *text;
	size_t len;
	uint64_t h;
	bool parsed;               /* inv or errors hold the parse of text */
	struct np_inventory *inv;
	char *errors;
};

static void readahead_free(struct readahead *ra)
{
	free(ra->text);
	np_inventory_free(ra->inv);
	free(ra->errors);
	memset(ra, 0, sizeof(*ra));
}

/* The file's content (ra: read, hashed, maybe parsed) against what is enforced, pending or
 * held. */
static enum store_refresh refresh_content(struct sfile *f, const char *name, const char *path,
					  struct readahead *ra)
{
	size_t len = ra->len;
	uint64_t h = ra->h;
	f->gone = false;
	if (len == 0 && f->inv) {
		/* an in-place rewrite caught between truncate and write: its last good content
		 * stays until the next event (delete a file to remove its objects) */
		char *msg = xasprintf("%s: empty (being written?); its last good content stays",
				      path);
		bool was = f->held && f->bad_hash == h;
		set_held(f, h, msg);
		return was ? STORE_SAME : STORE_BAD;
	}
	if (f->next && h == f->next_hash)
		return STORE_SAME;
	if (f->inv && h == f->hash && !f->held) {
		if (!f->next)
			return STORE_SAME;
		drop_next(f); /* back to what is enforced: nothing pending any more */
		return STORE_CHANGED;
	}
	if (f->held && h == f->bad_hash)
		return STORE_SAME;
	if (f->inv && h == f->hash) {
		drop_next(f); /* fixed back to exactly the last good content */
		clear_held(f);
		return STORE_CHANGED;
	}
	char *errors = NULL;
	struct np_inventory *inv;
	if (ra->parsed) {
		inv = ra->inv;
		errors = ra->errors;
		ra->inv = NULL;
		ra->errors = NULL;
	} else {
		inv = parse(path, ra->text, len, yaml_of(name), &errors);
	}
	if (!inv) {
		set_held(f, h, errors);
		return STORE_BAD;
	}
	drop_next(f);
	clear_held(f);
	f->next = inv;
	f->next_hash = h;
	return STORE_CHANGED;
}

/* Whether refresh_content would parse this content: it is neither what is enforced, nor
 * what is pending, nor what is held (a guess made without changing the store; a wrong one only
 * costs a parse). */
static bool parse_due(const struct store *s, const char *name, const struct readahead *ra)
{
	bool found;
	size_t i = find_pos(s, name, &found);
	if (!found)
		return true;
	const struct sfile *f = &s->f[i];
	return !((ra->len == 0 && f->inv) || (f->next && ra->h == f->next_hash) ||
		 (f->inv && ra->h == f->hash) || (f->held && ra->h == f->bad_hash));
}

enum ahead { AHEAD_READ, AHEAD_PARSE_DUE, AHEAD_PARSE };

/* Reads name from dir (NULL: the policy directory) into ra and hashes it; AHEAD_PARSE_DUE
 * parses it when a refresh would, AHEAD_PARSE always. Messages name the policy file. */
static void read_ahead(const struct store *s, const char *dir, const char *name,
		       enum ahead how, struct readahead *ra)
{
	char path[PATH_MAX], shown[PATH_MAX];
	memset(ra, 0, sizeof(*ra));
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : s->dir, name);
	snprintf(shown, sizeof(shown), "%s/%s", s->dir, name);
	ra->r = np_file_read(path, &ra->text, &ra->len);
	if (ra->r < 0)
		return;
	ra->h = text_hash(ra->text, ra->len);
	if (how == AHEAD_READ)
		return;
	if (how == AHEAD_PARSE || parse_due(s, name, ra)) {
		ra->inv = parse(shown, ra->text, ra->len, yaml_of(name), &ra->errors);
		ra->parsed = true;
	}
	/* parsed, the inventory holds what it needs of it; else the hash says it all: a whole
	 * directory's texts are not held at once */
	free(ra->text);
	ra->text = NULL;
}

static enum store_refresh refresh_read(struct store *s, const char *name, struct readahead *ra,
				       double now)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	if (ra->r == 0 && !ra->parsed && !ra->text && parse_due(s, name, ra)) {
		readahead_free(ra); /* a text let go that is wanted after all: read it again */
		read_ahead(s, NULL, name, AHEAD_READ, ra);
	}
	int r = ra->r;
	struct sfile *f = file_get(s, name, r == 0);
	if (r == -ENOENT || r == -ENOTDIR || r == -EISDIR || r == -EINVAL)
		return refresh_gone(s, f, now);
	if (r < 0) {
		if (!f)
			f = file_get(s, name, true);
		bool was = f->held;
		set_held(f, 0, xasprintf("%s: cannot read: %s", path, strerror(-r)));
		return was ? STORE_SAME : STORE_BAD;
	}
	return refresh_content(f, name, path, ra);
}

enum store_refresh store_file_refresh(struct store *s, const char *name, double now)
{
	struct readahead ra;
	read_ahead(s, NULL, name, AHEAD_READ, &ra);
	enum store_refresh out = refresh_read(s, name, &ra, now);
	readahead_free(&ra);
	return out;
}

enum store_refresh store_text_refresh(struct store *s, const char *name, const char *label,
				      const char *text, size_t len, double now)
{
	struct sfile *f = file_get(s, name, true);
	/* the caller's text: read, never freed here */
	struct readahead ra = { .text = (char *)text, .len = len,
				.h = text_hash(text, len) };
	return refresh_content(f, name, label, &ra);
}

enum store_refresh store_text_gone(struct store *s, const char *name, double now)
{
	return refresh_gone(s, file_get(s, name, false), now);
}

bool store_has(const struct store *s, const char *name)
{
	bool found;
	find_pos(s, name, &found);
	return found;
}

const char *store_name(const struct store *s, size_t i)
{
	return i < s->n ? s->f[i].name : NULL;
}

/* The input files' names in dir (*names[0..*n), each to be freed). 0 or -errno. */
static int list_dir(const char *dir, char ***names, size_t *n)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	size_t cap = 0;
	struct dirent *de;
	*names = NULL;
	*n = 0;
	while ((de = readdir(d)))
		if (np_path_wanted(de->d_name))
			VEC_PUSH(*names, *n, cap) = xstrdup(de->d_name);
	closedir(d);
	return 0;
}

/* Reading and parsing ahead on two threads: each takes the next file until none is left. */
struct ahead_job {
	const struct store *s;
	const char *dir;
	enum ahead how;
	char **names;
	struct readahead *ra;
	size_t n, next;
};

static void *ahead_work(void *arg)
{
	struct ahead_job *j = arg;
	size_t i;
	while ((i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < j->n)
		read_ahead(j->s, j->dir, j->names[i], j->how, &j->ra[i]);
	return NULL;
}

/* Fills ra[0..n) for names in dir (read_ahead's), on this thread and a second one. */
static void read_all_ahead(const struct store *s, const char *dir, char **names, size_t n,
			   enum ahead how, struct readahead *ra)
{
	struct ahead_job j = { .s = s, .dir = dir, .how = how, .names = names, .ra = ra, .n = n };
	pthread_t t;
	json_object_seed(0); /* jansson seeds its hash once: before two threads want it */
	bool two = pthread_create(&t, NULL, ahead_work, &j) == 0;
	ahead_work(&j);
	if (two)
		pthread_join(t, NULL);
}

int store_rescan(struct store *s, double now)
{
	char **names;
	size_t n;
	int r = list_dir(s->dir, &names, &n);
	if (r < 0)
		return r;
	int changed = 0;
	/* enough files to be worth a second thread (a start, a rescan after lost events): read
	 * and parse them all ahead; else one by one */
	struct readahead *ra = xcalloc(n ? n : 1, sizeof(*ra));
	if (n >= 8)
		read_all_ahead(s, NULL, names, n, AHEAD_PARSE_DUE, ra);
	for (size_t i = 0; i < n; i++) {
		enum store_refresh out = n >= 8 ? refresh_read(s, names[i], &ra[i], now)
						: store_file_refresh(s, names[i], now);
		if (out != STORE_SAME)
			changed++;
		readahead_free(&ra[i]);
		free(names[i]);
	}
	free(ra);
	free(names);
	/* the known files not listed: gone (refresh checks, in case one appeared meanwhile) */
	for (size_t i = 0; i < s->n;) {
		char *name = xstrdup(s->f[i].name);
		size_t before = s->n;
		if (store_file_refresh(s, name, now) != STORE_SAME)
			changed++;
		free(name);
		if (s->n == before)
			i++;
	}
	return changed;
}

int store_lkg_load(struct store *s)
{
	char **names;
	size_t n;
	if (!s->lkg_dir || list_dir(s->lkg_dir, &names, &n) < 0)
		return 0;
	struct readahead *ra = xcalloc(n ? n : 1, sizeof(*ra));
	read_all_ahead(s, s->lkg_dir, names, n, AHEAD_PARSE, ra);
	int loaded = 0;
	for (size_t i = 0; i < n; i++) {
		if (ra[i].inv) {
			drop_text(ra[i].inv);
			struct sfile *f = file_get(s, names[i], true);
			np_inventory_free(f->inv);
			f->inv = ra[i].inv;
			ra[i].inv = NULL;
			f->hash = ra[i].h;
			loaded++;
		}
		readahead_free(&ra[i]);
		free(names[i]);
	}
	free(ra);
	free(names);
	return loaded;
}

int store_gone_recheck(struct store *s, double now)
{
	int changed = 0;
	for (size_t i = 0; i < s->n;) {
		if (!s->f[i].gone) {
			i++;
			continue;
		}
		char *name = xstrdup(s->f[i].name);
		/* still absent: STORE_SAME (the removal stays pending); back: a change */
		if (store_file_refresh(s, name, now) != STORE_SAME)
			changed++;
		free(name);
		i++;
	}
	return changed;
}

static size_t removed_by(const struct sfile *f)
{
	if (f->gone)
		return objects(f->inv);
	if (f->next && objects(f->next) < objects(f->inv))
		return objects(f->inv) - objects(f->next);
	return 0;
}

size_t store_pending_removed(const struct store *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += removed_by(&s->f[i]);
	return n;
}

bool store_pending_any(const struct store *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->f[i].gone || s->f[i].next)
			return true;
	return false;
}

size_t store_pending_commit(struct store *s, bool allow_removals, double now, double grace_ms,
			    double *next_ms)
{
	size_t done = 0;
	double wait = 0;
	for (size_t i = 0; i < s->n;) {
		struct sfile *f = &s->f[i];
		if (!f->gone && !f->next) {
			i++;
			continue;
		}
		if (!allow_removals && removed_by(f)) {
			i++;
			continue;
		}
		if (f->gone) {
			double left = f->gone_since + grace_ms - now;
			if (left > 0) {
				if (!wait || left < wait)
					wait = left;
				i++;
				continue;
			}
			invmerge_edit(s->merge, f->inv, NULL);
			retire(s, f->inv);
			f->inv = NULL;
			VEC_PUSH(s->unlink, s->n_unlink, s->cap_unlink) = xstrdup(f->name);
			file_remove(s, f);
			done++;
			continue;
		}
		invmerge_edit(s->merge, f->inv, f->next);
		retire(s, f->inv);
		f->inv = f->next;
		f->hash = f->next_hash;
		f->next = NULL;
		f->lkg_dirty = true;
		for (size_t j = 0; j < s->n_unlink; j++) /* deleted, then written again */
			if (!strcmp(s->unlink[j], f->name)) {
				free(s->unlink[j]);
				s->unlink[j] = s->unlink[--s->n_unlink];
				break;
			}
		done++;
		i++;
	}
	if (next_ms)
		*next_ms = wait;
	return done;
}

void store_inventory_add(const struct store *s, struct np_inventory *m)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct np_inventory *v = s->f[i].inv;
		if (!v)
			continue;
		for (size_t j = 0; j < v->n_nss; j++)
			*np_inventory_add_namespace(m) = v->nss[j];
		for (size_t j = 0; j < v->n_pods; j++)
			*np_inventory_add_pod(m) = v->pods[j];
		for (size_t j = 0; j < v->n_pols; j++)
			*np_inventory_add_policy(m) = v->pols[j];
		for (size_t j = 0; j < v->n_nodes; j++)
			*np_inventory_add_node(m) = v->nodes[j];
		for (size_t j = 0; j < v->n_admins; j++)
			*np_inventory_add_admin(m) = v->admins[j];
	}
}

static void fill(const void *arg, struct np_inventory *inv)
{
	store_inventory_add(arg, inv);
}

int store_inventory_merge(struct store *s, struct np_inventory **out, struct np_diags *diags)
{
	bool whole;
	return invmerge_get(s->merge, fill, s, out, diags, &whole);
}

/* A last good copy, replaced whole (a crash leaves the old copy or the new, never a torn one),
 * readable by root only: it is what the next run enforces. */
static int lkg_write(const struct store *s, const char *name, const char *text, size_t len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", s->lkg_dir, name);
	return atomic_write_file(path, text, len, 0600);
}

bool store_lkg_pending(const struct store *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->f[i].lkg_dirty && s->f[i].inv && s->f[i].inv->n_srcs)
			return true;
	return s->n_unlink > 0;
}

int store_lkg_flush(struct store *s, int *err)
{
	int failed = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct sfile *f = &s->f[i];
		if (!f->lkg_dirty || !f->inv || !f->inv->n_srcs)
			continue;
		struct np_source *src = f->inv->srcs[0];
		int r = s->lkg_dir ? lkg_write(s, f->name, src->text, src->len) : 0;
		if (r < 0) {
			failed++;
			*err = -r;
			continue;
		}
		f->lkg_dirty = false;
		drop_text(f->inv);
	}
	/* a removal that failed (a read-only or broken state directory) stays to be tried again:
	 * a copy left behind would be enforced again by the next start */
	size_t kept = 0;
	for (size_t i = 0; i < s->n_unlink; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", s->lkg_dir ? s->lkg_dir : "", s->unlink[i]);
		int r = s->lkg_dir ? atomic_unlink(path) : 0;
		if (r < 0) {
			failed++;
			*err = -r;
			s->unlink[kept++] = s->unlink[i];
		} else {
			free(s->unlink[i]);
		}
	}
	s->n_unlink = kept;
	return failed;
}

size_t store_held_count(const struct store *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += s->f[i].held;
	return n;
}

void store_held_get(const struct store *s, size_t i, struct store_held *out)
{
	for (size_t j = 0; j < s->n; j++) {
		if (!s->f[j].held || i--)
			continue;
		*out = (struct store_held){ s->f[j].name, s->f[j].held_since,
					    s->f[j].errors ? s->f[j].errors : "",
					    s->f[j].inv != NULL };
		return;
	}
	memset(out, 0, sizeof(*out));
}

void store_totals_get(const struct store *s, struct store_totals *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < s->n; i++) {
		const struct sfile *f = &s->f[i];
		const struct np_inventory *v = f->inv;
		t->files++;
		t->held += f->held;
		t->pending += f->gone || f->next;
		if (!v)
			continue;
		t->objects += objects(v);
		t->policies += v->n_pols;
		t->pods += v->n_pods;
		t->namespaces += v->n_nss;
		if (f->held)
			t->policies_held += v->n_pols;
	}
}

/* ---- digests ---- */

static uint64_t digest_add(uint64_t h, const char *name, uint64_t content)
{
	h = np_hash(name, strlen(name) + 1, h);
	return np_hash(&content, sizeof(content), h);
}

uint64_t store_digest(const struct store *s)
{
	uint64_t h = NP_HASH_INIT;
	for (size_t i = 0; i < s->n; i++)
		if (s->f[i].inv)
			h = digest_add(h, s->f[i].name, s->f[i].hash);
	return h;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_dir_digest(const char *dir, uint64_t *out)
{
	char **names;
	size_t n;
	int r = list_dir(dir, &names, &n);
	if (r < 0)
		return r;
	qsort(names, n, sizeof(*names), cmp_names);
	uint64_t h = NP_HASH_INIT;
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX], *text = NULL;
		size_t len = 0;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (!r && (r = np_file_read(path, &text, &len)) == 0)
			h = digest_add(h, names[i], text_hash(text, len));
		free(text);
		free(names[i]);
	}
	free(names);
	*out = h;
	return r;
}
