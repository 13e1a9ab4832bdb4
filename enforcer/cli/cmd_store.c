/* cmd_store.c — `netpol store put|rm|ls`: Kubernetes objects kept in an etcd store
 * (netsetup/netstore.h), one key per object, which every host's policyd --store watches and
 * enforces as if they were in its --policy-dir. A put is checked as `netpol check` checks a
 * directory first: with an error, nothing is written. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "inventory.h"
#include "load.h"
#include "netstore.h"
#include "network.h"
#include "vec.h"
#include "yamldoc.h"

static const char usage_text[] =
	"usage: netpol store put DIR [--store URL] [--store-prefix P]   check DIR, then store its objects\n"
	"       netpol store rm NAMESPACE/KIND/NAME... [--store URL]   (_cluster: cluster-scoped kinds)\n"
	"       netpol store ls [--json] [--store URL]\n"
	"The store defaults to $NETPOL_STORE. Exit status 3: the store is unavailable.\n";

#define EXIT_STORE 3

/* Kinds without a namespace: their key's namespace part is "_cluster". */
static bool cluster_scoped(const char *kind)
{
	static const char *const kinds[] = { "Namespace", "Node", "AdminNetworkPolicy",
					     "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy" };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kind, kinds[i]))
			return true;
	return false;
}

struct objs {
	json_t *v; /* name -> object */
	int bad;
};

/* One object (or, for a List, its items) under its store name. */
static void add_object(struct objs *o, json_t *obj)
{
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	json_t *meta = json_object_get(obj, "metadata"), *items = json_object_get(obj, "items"), *v;
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	size_t i;
	char key[1024];

	if (!kind)
		return;
	if (json_is_array(items) && strlen(kind) > 4 && !strcmp(kind + strlen(kind) - 4, "List")) {
		json_array_foreach(items, i, v)
			add_object(o, v);
		return;
	}
	if (!name)
		return; /* the check already said so */
	snprintf(key, sizeof(key), "%s/%s/%s", cluster_scoped(kind) ? "_cluster" : ns && *ns ? ns : "default",
		 kind, name);
	json_object_set(o->v, key, obj);
}

static void yaml_doc(void *ctx, int doc, json_t *root)
{
	if (root)
		add_object(ctx, root);
}

static void yaml_error(void *ctx, int doc, int line, int col, const char *msg)
{
	((struct objs *)ctx)->bad++;
}

static int read_file(struct objs *o, const char *path)
{
	char *text = NULL;
	size_t len = 0, n = strlen(path);
	int r = np_file_read(path, &text, &len);

	if (r < 0)
		return r;
	if (n > 5 && !strcmp(path + n - 5, ".json")) {
		json_t *j = json_loadb(text, len, 0, NULL);
		if (j)
			add_object(o, j);
		json_decref(j);
	} else {
		struct np_yaml_sink sink = { o, yaml_doc, yaml_error };
		np_yaml_load(text, len, &sink);
	}
	free(text);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every object of dir's files, in file name order (as netpol check reads them). */
static int read_dir(const char *dir, struct objs *o)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0;
	int r = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (np_path_wanted(de->d_name))
			VEC_PUSH(names, n, cap) = strdup(de->d_name);
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (r == 0)
			r = read_file(o, path);
		free(names[i]);
	}
	free(names);
	return r;
}

static int fail(int rc, const struct ns_error *e)
{
	fprintf(stderr, "netpol store: %s%s\n", e->msg,
		ns_store_unavailable(rc) ? "; nothing was changed" : "");
	return ns_store_unavailable(rc) ? EXIT_STORE : 1;
}

static int do_put(struct ns_ctx *ctx, const char *dir)
{
	struct np_inventory *inv;
	struct objs o = { json_object(), 0 };
	struct ns_error e = { "" };
	const char *name;
	json_t *obj;
	int rc = 0, status = 0;

	if (cli_load_inventory(dir, &inv) < 0) {
		json_decref(o.v);
		return 2;
	}
	np_inventory_free(inv);
	if ((rc = read_dir(dir, &o)) < 0) {
		fprintf(stderr, "netpol store: %s: %s\n", dir, strerror(-rc));
		json_decref(o.v);
		return 2;
	}
	json_object_foreach(o.v, name, obj) {
		char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
		rc = ctx->store->ops->obj_put(ctx->store, name, text, &e);
		free(text);
		if (rc < 0) {
			status = fail(rc, &e);
			break;
		}
		printf("%s\n", name);
	}
	json_decref(o.v);
	return status;
}

static int do_rm(struct ns_ctx *ctx, char **names, int n)
{
	struct ns_error e = { "" };
	int status = 0;

	for (int i = 0; i < n; i++) {
		int rc = ctx->store->ops->obj_del(ctx->store, names[i], &e);
		if (rc < 0)
			status = fail(rc, &e);
		if (ns_store_unavailable(rc))
			break;
	}
	return status;
}

static int do_ls(struct ns_ctx *ctx, bool as_json)
{
	struct ns_error e = { "" };
	const char *name;
	json_t *all, *obj;
	int rc = ctx->store->ops->obj_list(ctx->store, &all, &e);

	if (rc < 0)
		return fail(rc, &e);
	if (as_json) {
		char *s = json_dumps(all, JSON_INDENT(2) | JSON_SORT_KEYS);
		puts(s ? s : "{}");
		free(s);
	} else {
		json_object_foreach(all, name, obj)
			puts(name);
	}
	json_decref(all);
	return 0;
}

int cmd_store(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "store-prefix", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ns_store_conf conf = { getenv("NETPOL_STORE"), getenv("NETPOL_STORE_PREFIX"), NULL };
	struct ns_error e = { "" };
	struct ns_ctx *ctx;
	bool as_json = false;
	const char *sub;
	int c, rc;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': conf.url = optarg; break;
		case 'p': conf.prefix = optarg; break;
		case 'j': as_json = true; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: fputs(usage_text, stderr); return 2;
		}
	}
	if (!conf.url || !*conf.url) {
		fprintf(stderr, "netpol store: which store? (--store etcd://HOST:PORT[,...] or NETPOL_STORE)\n");
		return 2;
	}
	if ((!strcmp(sub, "put") && argc - optind != 1) || (!strcmp(sub, "rm") && argc == optind)) {
		fputs(usage_text, stderr);
		return 2;
	}
	/* readonly: nothing of this host is written, only the store */
	if (!(ctx = ns_ctx_open(NULL, &conf, true, &e)))
		return fail(0, &e);
	if (!strcmp(sub, "put"))
		rc = do_put(ctx, argv[optind]);
	else if (!strcmp(sub, "rm"))
		rc = do_rm(ctx, argv + optind, argc - optind);
	else if (!strcmp(sub, "ls"))
		rc = do_ls(ctx, as_json);
	else {
		fprintf(stderr, "netpol store: unknown command '%s'\n%s", sub, usage_text);
		rc = 2;
	}
	ns_ctx_free(ctx);
	return rc;
}
