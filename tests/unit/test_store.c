/* test_store — the per-file model (enforcer/policyd/store.c) without a kernel: unchanged content
 * is not re-parsed, a file with errors keeps its last good objects (and says where the error
 * is), a deleted file goes only after its grace and only when removals are allowed (the
 * mass-delete guard), the merged inventory holds every file's objects, last good copies
 * written to the LKG directory come back in a new store, and a copy that could not be written
 * or removed (the directory unusable) is tried again until it is. Works in a temporary
 * directory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"

static char dir[64], lkg[96];

static void put(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char pol_a[] = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
			    "metadata: {name: a, namespace: x}\nspec: {podSelector: {}}\n";
static const char pol_a2[] = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
			     "metadata: {name: a, namespace: x}\n"
			     "spec: {podSelector: {}, policyTypes: [Egress]}\n";
static const char pol_bad[] = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
			      "metadata: {name: a, namespace: x}\n"
			      "spec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - port: 70000\n";
static const char pods[] = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\n"
			   "---\napiVersion: v1\nkind: Pod\nmetadata: {name: q, namespace: x}\n";

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(lkg, sizeof(lkg), "%s/.lkg", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static size_t policies_of(struct store *s, bool *egress)
{
	struct np_inventory *inv = NULL;
	struct np_diags d;
	np_diags_init(&d);
	assert_int_equal(store_inventory_merge(s, &inv, &d), 0);
	size_t n = inv->n_pols;
	if (egress)
		*egress = n && inv->pols[0].egress;
	np_inventory_free(inv);
	np_diags_free(&d);
	return n;
}

static void test_refresh_held_gone(void **state)
{
	struct store *s = NULL;
	assert_int_equal(store_new(dir, lkg, &s), 0);
	put("a.yaml", pol_a);
	put("pods.yaml", pods);
	assert_int_equal(store_rescan(s, 0), 2);
	assert_int_equal(store_pending_commit(s, true, 0, 100, NULL), 2);
	bool egress = true;
	assert_int_equal(policies_of(s, &egress), 1);
	assert_false(egress);
	/* same content: nothing to do */
	assert_int_equal(store_file_refresh(s, "a.yaml", 1), STORE_SAME);
	/* an error: held, the last good policy stays, the error says where */
	put("a.yaml", pol_bad);
	assert_int_equal(store_file_refresh(s, "a.yaml", 2), STORE_BAD);
	assert_int_equal(store_held_count(s), 1);
	struct store_held h;
	store_held_get(s, 0, &h);
	assert_string_equal(h.name, "a.yaml");
	assert_true(h.has_good);
	assert_non_null(strstr(h.error, "a.yaml:8:"));
	assert_non_null(strstr(h.error, "/spec/ingress/0/ports/0/port"));
	assert_int_equal(store_file_refresh(s, "a.yaml", 3), STORE_SAME); /* same bad content */
	assert_int_equal(policies_of(s, NULL), 1);
	/* the fix applies */
	put("a.yaml", pol_a2);
	assert_int_equal(store_file_refresh(s, "a.yaml", 4), STORE_CHANGED);
	assert_int_equal(store_held_count(s), 0);
	store_pending_commit(s, true, 4, 100, NULL);
	assert_int_equal(policies_of(s, &egress), 1);
	assert_true(egress);
	/* deleted: 1 of 3 objects pending; the grace keeps it, then it goes */
	char path[256];
	snprintf(path, sizeof(path), "%s/a.yaml", dir);
	unlink(path);
	assert_int_equal(store_file_refresh(s, "a.yaml", 10), STORE_GONE);
	assert_int_equal(store_pending_removed(s), 1);
	double wait = 0;
	assert_int_equal(store_pending_commit(s, true, 20, 100, &wait), 0);
	assert_true(wait > 0 && wait <= 90);
	assert_int_equal(policies_of(s, NULL), 1);
	/* the mass-delete guard's caller keeps it while removals are not allowed */
	assert_int_equal(store_pending_commit(s, false, 200, 100, NULL), 0);
	assert_true(store_pending_any(s));
	assert_int_equal(store_pending_commit(s, true, 200, 100, NULL), 1);
	assert_int_equal(policies_of(s, NULL), 0);
	store_retired_free(s);
	store_free(s);
}

static void test_lkg_survives(void **state)
{
	struct store *s = NULL;
	assert_int_equal(store_new(dir, lkg, &s), 0);
	put("a.yaml", pol_a2);
	store_rescan(s, 0);
	store_pending_commit(s, true, 0, 0, NULL);
	int err = 0;
	assert_int_equal(store_lkg_flush(s, &err), 0);
	store_free(s);
	/* a new run, the file now bad: its last good copy is what it starts from */
	put("a.yaml", pol_bad);
	assert_int_equal(store_new(dir, lkg, &s), 0);
	assert_int_equal(store_lkg_load(s), 1);
	store_rescan(s, 0);
	assert_int_equal(store_held_count(s), 1);
	bool egress = false;
	assert_int_equal(policies_of(s, &egress), 1);
	assert_true(egress);
	store_free(s);
}

static bool lkg_has(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", lkg, name);
	return access(path, F_OK) == 0;
}

static void test_lkg_retried(void **state)
{
	struct store *s = NULL;
	int err = 0;
	assert_int_equal(store_new(dir, lkg, &s), 0);
	put("a.yaml", pol_a);
	store_rescan(s, 0);
	store_pending_commit(s, true, 0, 0, NULL);
	assert_int_equal(store_lkg_flush(s, &err), 0);
	assert_true(lkg_has("a.yaml"));
	/* a.yaml deleted and pods.yaml added while the LKG directory cannot be used (a file
	 * stands where it was): both the removal and the write fail, and stay due */
	char path[256], away[256];
	snprintf(path, sizeof(path), "%s/a.yaml", dir);
	unlink(path);
	put("pods.yaml", pods);
	store_rescan(s, 10);
	store_pending_commit(s, true, 10, 0, NULL);
	snprintf(away, sizeof(away), "%s.away", lkg);
	assert_int_equal(rename(lkg, away), 0);
	FILE *f = fopen(lkg, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(store_lkg_flush(s, &err), 2);
	assert_int_equal(err, ENOTDIR);
	assert_true(store_lkg_pending(s));
	assert_int_equal(store_lkg_flush(s, &err), 2);
	/* usable again: the next flush does both */
	unlink(lkg);
	assert_int_equal(rename(away, lkg), 0);
	assert_int_equal(store_lkg_flush(s, &err), 0);
	assert_false(store_lkg_pending(s));
	assert_false(lkg_has("a.yaml"));
	assert_true(lkg_has("pods.yaml"));
	store_retired_free(s);
	store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_refresh_held_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lkg_survives, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lkg_retried, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
