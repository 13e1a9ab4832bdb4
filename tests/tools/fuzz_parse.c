/* fuzz_parse — feeds every file of a corpus, and mutated versions of it, through the loader,
 * finish, lint, position lookup and formatting. Built with ASan/UBSan by `make check`; any
 * memory error or crash fails the run. Deterministic: the mutations come from a seeded PRNG.
 *
 * usage: fuzz_parse [-n MUTATIONS_PER_FILE] [-s SEED] PATH...   (PATH: file or directory,
 * directories are walked recursively; files named "expect" are skipped) */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "diag.h"
#include "lint.h"
#include "model.h"

struct fuzz {
	unsigned long mutations;
	uint64_t rng;
	unsigned long runs, files, errors;
};

static uint64_t next(struct fuzz *f)
{
	/* xorshift64*: tiny, seedable, good enough to pick bytes */
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 0x2545F4914F6CDD1DULL;
}

static void run_one(struct fuzz *f, const char *name, const char *text, size_t len, int yaml)
{
	struct np_inventory *inv = np_inventory_new();
	struct np_diags d;
	np_diags_init(&d);
	np_inventory_load_buffer(inv, name, text, len, yaml, &d);
	np_inventory_finish(inv, &d);
	np_lint(inv, &d);
	np_diags_locate(&d);
	np_diags_sort(&d);
	char buf[2048];
	long lines = 1;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	for (size_t i = 0; i < d.n; i++) {
		np_diag_format(&d.v[i], buf, sizeof(buf));
		/* a located record must point inside the text */
		if (d.v[i].line < 0 || d.v[i].col < 0 || d.v[i].line > lines ||
		    (d.v[i].line > 0) != (d.v[i].col > 0)) {
			fprintf(stderr, "bad position in %s: %s\n", name, buf);
			abort();
		}
	}
	f->errors += d.errors;
	f->runs++;
	np_diags_free(&d);
	np_inventory_free(inv);
}

static const char *const tokens[] = { "{", "}", "[", "]", ":", ",", "-", "- ", "\"", "'", "\n",
				      "  ", "---\n", "*a", "&a ", "? ", "|\n", "\\u0000", "\\ud800",
				      "0", "-1", "65536", "1e999", "null", "~", "true", "yes",
				      "\t", "#", "!!str ", "items", "kind", "List", "/", "::",
				      "\xff", "\xc3", "\"\\u00e9\"", "99999999999999999999" };

static char *mutate(struct fuzz *f, const char *text, size_t len, size_t *out_len)
{
	size_t cap = len * 2 + 64, n = len;
	char *m = malloc(cap);
	if (!m)
		abort();
	memcpy(m, text, len);
	int edits = 1 + (int)(next(f) % 4);
	for (int e = 0; e < edits; e++) {
		size_t at = n ? next(f) % (n + 1) : 0;
		switch (next(f) % 6) {
		case 0: /* flip a byte */
			if (at < n)
				m[at] = (char)(next(f) & 0xff);
			break;
		case 1: { /* delete a run */
			size_t k = next(f) % 16;
			if (at + k > n)
				k = n - at;
			memmove(m + at, m + at + k, n - at - k);
			n -= k;
			break;
		}
		case 2: /* truncate */
			n = at;
			break;
		case 3: case 4: { /* insert a token */
			const char *t = tokens[next(f) % (sizeof(tokens) / sizeof(tokens[0]))];
			size_t k = strlen(t);
			if (n + k > cap)
				break;
			memmove(m + at + k, m + at, n - at);
			memcpy(m + at, t, k);
			n += k;
			break;
		}
		case 5: { /* duplicate a chunk (repeats keys, documents, list items) */
			size_t k = next(f) % 64;
			if (at + k > n)
				k = n - at;
			if (n + k > cap)
				break;
			memmove(m + at + k, m + at, n - at);
			n += k;
			break;
		}
		}
	}
	*out_len = n;
	return m;
}

static void fuzz_file(struct fuzz *f, const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return;
	char *text = NULL;
	size_t len = 0, cap = 0, r;
	char chunk[65536];
	while ((r = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (len + r > cap && !(text = realloc(text, cap = (len + r) * 2)))
			abort();
		memcpy(text + len, chunk, r);
		len += r;
	}
	fclose(fp);
	size_t pl = strlen(path);
	int yaml = !(pl > 5 && !strcmp(path + pl - 5, ".json"));
	f->files++;
	run_one(f, path, text ? text : "", len, yaml);
	run_one(f, path, text ? text : "", len, !yaml); /* the other front end, too */
	for (unsigned long i = 0; i < f->mutations; i++) {
		size_t ml;
		char *m = mutate(f, text ? text : "", len, &ml);
		run_one(f, path, m, ml, (next(f) % 4) ? yaml : !yaml);
		free(m);
	}
	free(text);
}

/* Inputs no corpus file holds: deep nesting (stack use in jansson, libyaml, the position
 * walkers), long scalars, many documents, many errors (the record cap). */
static void pathological(struct fuzz *f)
{
	static const struct {
		const char *head, *unit, *tail;
		int yaml;
	} shapes[] = {
		{ "", "[", "", 0 },
		{ "", "{\"a\":", "1", 0 },
		{ "", "[", "", 1 },
		{ "", "- ", "x", 1 },
		{ "", "{a: ", "", 1 },
		{ "kind: List\nitems:\n", "- kind: Pod\n  metadata: {name: 'a b'}\n", "", 1 },
		{ "", "---\nkind: Namespace\napiVersion: v1\nmetadata: {name: n}\n", "", 1 },
		{ "{\"kind\": \"Pod\", \"apiVersion\": \"v1\", \"metadata\": {\"name\": \"",
		  "a", "\"}}", 0 },
	};
	const size_t reps[] = { 10, 3000, 20000 };
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		for (size_t r = 0; r < sizeof(reps) / sizeof(reps[0]); r++) {
			size_t hl = strlen(shapes[i].head), ul = strlen(shapes[i].unit),
			       tl = strlen(shapes[i].tail), n = hl + ul * reps[r] + tl;
			char *t = malloc(n + 1);
			if (!t)
				abort();
			memcpy(t, shapes[i].head, hl);
			for (size_t k = 0; k < reps[r]; k++)
				memcpy(t + hl + k * ul, shapes[i].unit, ul);
			memcpy(t + hl + ul * reps[r], shapes[i].tail, tl);
			run_one(f, "pathological", t, n, shapes[i].yaml);
			free(t);
		}
}

static void walk(struct fuzz *f, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		const char *base = strrchr(path, '/');
		if (strcmp(base ? base + 1 : path, "expect"))
			fuzz_file(f, path);
		return;
	}
	struct dirent **ents;
	int n = scandir(path, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			char *sub;
			if (asprintf(&sub, "%s/%s", path, ents[i]->d_name) < 0)
				abort();
			walk(f, sub);
			free(sub);
		}
		free(ents[i]);
	}
	free(ents);
}

int main(int argc, char **argv)
{
	struct fuzz f = { .mutations = 200, .rng = 0x9e3779b97f4a7c15ULL };
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i += 2) {
		if (i + 1 >= argc)
			goto usage;
		if (!strcmp(argv[i], "-n"))
			f.mutations = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "-s"))
			f.rng = strtoull(argv[i + 1], NULL, 0) * 2 + 1;
		else
			goto usage;
	}
	if (i >= argc)
		goto usage;
	pathological(&f);
	for (; i < argc; i++)
		walk(&f, argv[i]);
	printf("fuzz_parse: %lu files, %lu runs, %lu errors reported, no crash\n", f.files, f.runs,
	       f.errors);
	return f.files ? 0 : 1;
usage:
	fprintf(stderr, "usage: fuzz_parse [-n MUTATIONS] [-s SEED] PATH...\n");
	return 2;
}
