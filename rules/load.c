/* load.c — files and buffers → documents → objects: directory listing, format choice, JSON
 * and YAML front ends, List handling and kind dispatch. Validation is parse.c's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inventory.h"
#include "parse.h"
#include "yamldoc.h"
#include "vec.h"
#include "xalloc.h"

/* Sanity bound on one input file; policies are small, a 10k-pod inventory is a few MB. */
#define LOAD_MAX_FILE (256u << 20)

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

/* Typed lists name their items' kind; "List" items carry their own. */
static const char *list_item_kind(const char *list_kind)
{
	static const struct {
		const char *list, *item;
	} typed[] = { { "NetworkPolicyList", "NetworkPolicy" },
		      { "PodList", "Pod" },
		      { "NamespaceList", "Namespace" },
		      { "NodeList", "Node" },
		      { "ClusterNetworkPolicyList", "ClusterNetworkPolicy" },
		      { "AdminNetworkPolicyList", "AdminNetworkPolicy" },
		      { "BaselineAdminNetworkPolicyList", "BaselineAdminNetworkPolicy" } };
	for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++)
		if (!strcmp(typed[i].list, list_kind))
			return typed[i].item;
	return NULL;
}

static void load_object(struct np_pctx *c, json_t *obj, const char *item_kind);

static void load_list(struct np_pctx *c, json_t *obj, const char *kind)
{
	const char *item_kind = list_item_kind(kind);
	json_t *items = json_object_get(obj, "items");
	size_t save = c->p.len;
	np_ptr_push(&c->p, "items", 5);
	if (items && !json_is_null(items) && !json_is_array(items)) {
		np_pctx_error(c, "expected an array, got %s", np_json_type_name(items));
		items = NULL;
	}
	size_t n = json_is_array(items) ? json_array_size(items) : 0;
	for (size_t i = 0; i < n; i++) {
		size_t s2 = c->p.len;
		np_ptr_push_index(&c->p, i);
		load_object(c, json_array_get(items, i), item_kind ? item_kind : "");
		np_ptr_truncate(&c->p, s2);
	}
	np_ptr_truncate(&c->p, save);
}

/* obj at c->p. item_kind: NULL for a top-level object, "" inside a "List" (items carry their
 * kind), else the kind a typed list implies. */
static void load_object(struct np_pctx *c, json_t *obj, const char *item_kind)
{
	if (!json_is_object(obj)) {
		np_pctx_error(c, "expected an object (a Kubernetes resource), got %s",
			      np_json_type_name(obj));
		return;
	}
	json_t *kj = json_object_get(obj, "kind");
	const char *kind = json_is_string(kj) ? json_string_value(kj) : NULL;
	if (kj && !json_is_null(kj) && !kind) {
		size_t save = c->p.len;
		np_ptr_push(&c->p, "kind", 4);
		np_pctx_error(c, "expected a string, got %s", np_json_type_name(kj));
		np_ptr_truncate(&c->p, save);
		return;
	}
	if (item_kind && *item_kind) {
		if (kind && strcmp(kind, item_kind)) {
			size_t save = c->p.len;
			np_ptr_push(&c->p, "kind", 4);
			np_pctx_error(c, "a %sList item must be a %s, not %s", item_kind, item_kind,
				      kind);
			np_ptr_truncate(&c->p, save);
			return;
		}
		np_parse_object(c, obj, item_kind, false);
		return;
	}
	if (!kind) {
		np_pctx_error(c, "missing required field \"kind\"");
		return;
	}
	if (!strcmp(kind, "List") || list_item_kind(kind)) {
		if (item_kind) { /* a List inside a List: kubectl never prints that */
			size_t save = c->p.len;
			np_ptr_push(&c->p, "kind", 4);
			np_pctx_error(c, "a List cannot contain another list (%s)", kind);
			np_ptr_truncate(&c->p, save);
			return;
		}
		load_list(c, obj, kind);
		return;
	}
	np_parse_object(c, obj, kind, item_kind == NULL);
}

struct yaml_ctx {
	struct np_pctx *c;
};

static void on_yaml_doc(void *ctx, int doc, json_t *root)
{
	struct np_pctx *c = ((struct yaml_ctx *)ctx)->c;
	if (!root || json_is_null(root))
		return; /* an empty document ("---" at the end, a comment-only file) */
	c->doc = doc;
	np_ptr_truncate(&c->p, 0);
	load_object(c, root, NULL);
}

static void on_yaml_error(void *ctx, int doc, int line, int col, const char *msg)
{
	struct np_pctx *c = ((struct yaml_ctx *)ctx)->c;
	np_diag_add(c->d, NP_SEV_ERROR, c->src, doc, NULL, line, col, "%s", msg);
}

static void load_source(struct np_inventory *inv, const struct np_source *src,
			struct np_diags *diags)
{
	struct np_pctx c = { .inv = inv, .d = diags, .src = src };
	np_ptr_reserve(&c.p, 0);
	if (src->yaml) {
		struct yaml_ctx yc = { &c };
		struct np_yaml_sink sink = { &yc, on_yaml_doc, on_yaml_error };
		np_yaml_load(src->text, src->len, &sink);
	} else {
		json_error_t err;
		/* duplicate keys are an error to the API server's strict decoding, and silently
		 * taking the last one would hide a mistake */
		size_t bom = src->len >= 3 && !memcmp(src->text, "\xef\xbb\xbf", 3) ? 3 : 0;
		json_t *root = json_loadb(src->text + bom, src->len - bom,
					  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
		if (!root)
			np_diag_add(diags, NP_SEV_ERROR, src, 0, NULL, err.line > 0 ? err.line : 1,
				    err.column > 0 ? err.column : 1, "JSON syntax error: %s",
				    err.text);
		else
			load_object(&c, root, NULL);
		json_decref(root);
	}
	free(c.p.s);
}

/* Format from the name; a name without a known extension is sniffed (JSON starts with '{'). */
static int guess_yaml(const char *name, const char *text, size_t len)
{
	if (ends_with(name, ".json"))
		return 0;
	if (ends_with(name, ".yaml") || ends_with(name, ".yml"))
		return 1;
	size_t i = 0;
	while (i < len && strchr(" \t\r\n", text[i]))
		i++;
	return !(i < len && (text[i] == '{' || text[i] == '['));
}

int np_inventory_load_buffer(struct np_inventory *inv, const char *name, const char *text,
			     size_t len, int yaml, struct np_diags *diags)
{
	char *copy = xmalloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = 0;
	const struct np_source *src = np_inventory_add_source(inv, name, copy, len, yaml);
	load_source(inv, src, diags);
	return 0;
}

int np_file_read(const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int e = fstat(fd, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? -EISDIR :
		!S_ISREG(st.st_mode) ? -EINVAL : (size_t)st.st_size > LOAD_MAX_FILE ? -EFBIG : 0;
	if (e < 0) {
		close(fd);
		return e;
	}
	/* one byte for the NUL and one so the read that sees EOF does not look like growth */
	size_t cap = (size_t)st.st_size + 2, n = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (n + 1 >= cap) { /* the file grew while we read it */
			if (cap > LOAD_MAX_FILE)
				abort();
			buf = xrealloc(buf, cap *= 2);
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = -errno;
			free(buf);
			close(fd);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}

/* Reads a file into a new source of inv; NULL (and a record) when it cannot be read. */
static const struct np_source *read_source(struct np_inventory *inv, const char *path,
					   struct np_diags *diags)
{
	char *text = NULL;
	size_t len = 0;
	int r = np_file_read(path, &text, &len);
	if (r < 0) {
		np_diag_add(diags, NP_SEV_ERROR, NULL, 0, NULL, 0, 0, "%s: cannot read: %s", path,
			    strerror(-r));
		return NULL;
	}
	return np_inventory_add_source(inv, path, text, len, guess_yaml(path, text, len));
}

int np_inventory_load_file(struct np_inventory *inv, const char *path, struct np_diags *diags)
{
	const struct np_source *src = read_source(inv, path, diags);
	if (!src)
		return -EIO;
	load_source(inv, src, diags);
	return 0;
}

/* Editor and VCS leftovers are not input: dotfiles (also .*.swp), foo~, #foo#. */
bool np_path_wanted(const char *name)
{
	size_t n = strlen(name);
	if (name[0] == '.' || name[n - 1] == '~' || (name[0] == '#' && name[n - 1] == '#') ||
	    ends_with(name, ".swp"))
		return false;
	return ends_with(name, ".json") || ends_with(name, ".yaml") || ends_with(name, ".yml");
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int np_inventory_load_dir(struct np_inventory *inv, const char *dir, struct np_diags *diags)
{
	DIR *d = opendir(dir);
	if (!d) {
		int e = -errno;
		np_diag_add(diags, NP_SEV_ERROR, NULL, 0, NULL, 0, 0, "%s: cannot read directory: %s",
			    dir, strerror(-e));
		return e;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!np_path_wanted(de->d_name))
			continue;
		VEC_PUSH(names, n, cap) = xstrdup(de->d_name);
	}
	closedir(d);
	if (!n) /* likely a wrong path or extension; not an error, the set may well be empty */
		np_diag_add(diags, NP_SEV_NOTE, NULL, 0, NULL, 0, 0,
			    "%s: no .json, .yaml or .yml files", dir);
	if (n) /* qsort wants an array, even for none */
		qsort(names, n, sizeof(*names), cmp_name);
	for (size_t i = 0; i < n; i++) {
		char *path = xasprintf("%s%s%s", dir, ends_with(dir, "/") ? "" : "/", names[i]);
		struct stat st;
		/* a subdirectory named like a file is skipped: loading is not recursive */
		if (!(stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
			np_inventory_load_file(inv, path, diags);
		free(path);
		free(names[i]);
	}
	free(names);
	np_inventory_finish(inv, diags);
	return 0;
}
