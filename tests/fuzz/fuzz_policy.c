/* fuzz_policy — the policy loader end to end, as `netpol check`, `render` and `apply` take a
 * file: the front end (JSON when the input opens with '{' or '[', else YAML; the other front
 * end loads it too), validation, both lints, record positions and formatting; then the ruleset
 * build and both emitters: the nft text and the netlink batch (the state the kernel would hold,
 * its diff from nothing, the batch's messages walked as the kernel would and each one described
 * as an error report would). An input holding the line "#%%" is two states of a directory,
 * before and after: the second is also built incrementally from the first, which must equal
 * its full build as nft text, and its batch is the incremental diff between them. A hash of
 * the input picks the build options (node, reject, no anti-spoofing, a pod's own netns).
 *
 * Properties beyond the sanitizers: every located record points inside the text; no object an
 * error names stays in the inventory, so nothing the validator refused reaches the builder or
 * the batch; building and emitting never fail on what loaded; the nft text keeps its quotes
 * paired (nothing an input names breaks out of them); the batch is well formed (messages and
 * attributes fit their lengths); cached build = full build. */
#include "diag.h"
#include "emit_nl.h"
#include "fuzz.h"
#include "lint.h"
#include "model.h"
#include "ruleset.h"

#define SPLIT "\n#%%\n"

/* ---- loading ---- */

/* Every located record lies inside the text (lines 1..N, a column with every line). */
static void check_positions(struct np_diags *d, const char *text, size_t len)
{
	long lines = 1;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	np_diags_locate(d);
	np_diags_sort(d);
	char buf[2048];
	for (size_t i = 0; i < d->n; i++) {
		const struct np_diag *r = &d->v[i];
		np_diag_format(r, buf, sizeof(buf));
		FUZZ_CHECK(r->line >= 0 && r->col >= 0 && r->line <= lines &&
				   (r->line > 0) == (r->col > 0),
			   "record outside the text: %s", buf);
	}
}

/* Whether the error record r names the object at ref: same source and document, and r's
 * pointer is the object's own or inside it. */
static bool names(const struct np_diag *r, const struct np_ref *ref)
{
	if (!ref->src || ref->src != r->src || ref->doc != r->doc || !r->pointer)
		return false;
	const char *p = ref->ptr ? ref->ptr : "";
	size_t n = strlen(p);
	return !strncmp(r->pointer, p, n) && (r->pointer[n] == 0 || r->pointer[n] == '/');
}

static void check_refused_left_out(const struct np_inventory *inv, const struct np_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct np_diag *r = &d->v[i];
		if (r->sev != NP_SEV_ERROR)
			continue;
		for (size_t k = 0; k < inv->n_pols; k++)
			FUZZ_CHECK(!names(r, &inv->pols[k].ref), "policy %s/%s kept despite: %s",
				   inv->pols[k].ns, inv->pols[k].name, r->msg);
		for (size_t k = 0; k < inv->n_pods; k++)
			FUZZ_CHECK(!names(r, &inv->pods[k].ref), "pod %s/%s kept despite: %s",
				   inv->pods[k].ns, inv->pods[k].name, r->msg);
		for (size_t k = 0; k < inv->n_nss; k++)
			FUZZ_CHECK(!names(r, &inv->nss[k].ref), "namespace %s kept despite: %s",
				   inv->nss[k].name, r->msg);
		for (size_t k = 0; k < inv->n_nodes; k++)
			FUZZ_CHECK(!names(r, &inv->nodes[k].ref), "node %s kept despite: %s",
				   inv->nodes[k].name, r->msg);
		for (size_t k = 0; k < inv->n_admins; k++)
			FUZZ_CHECK(!names(r, &inv->admins[k].ref), "%s %s kept despite: %s",
				   inv->admins[k].kind, inv->admins[k].name, r->msg);
	}
}

static struct np_inventory *load(const char *text, size_t len, int yaml)
{
	struct np_inventory *inv = np_inventory_new();
	struct np_diags d;
	np_diags_init(&d);
	np_inventory_load_buffer(inv, "fuzz.input", text, len, yaml, &d);
	np_inventory_finish(inv, &d);
	np_lint(inv, &d);
	check_positions(&d, text, len);
	check_refused_left_out(inv, &d);
	np_diags_free(&d);
	return inv;
}

/* ---- building ---- */

static void pick_options(const uint8_t *data, size_t size, const struct np_inventory *inv,
			 struct rs_options *ro, char *local_pod, size_t lp_size)
{
	uint64_t h = np_hash(data, size, NP_HASH_INIT);
	memset(ro, 0, sizeof(*ro));
	ro->reject = h & 1;
	ro->no_spoof_table = h & 2;
	if (h & 4)
		ro->node = "node-1";
	if ((h & 24) == 24 && inv->n_pods) {
		/* a macvlan pod's own table: inside its netns, that pod alone local */
		const struct np_pod *p = &inv->pods[(h >> 8) % inv->n_pods];
		snprintf(local_pod, lp_size, "%s/%s", p->ns, p->name);
		ro->netns_local = true;
		ro->local_pod = local_pod;
	}
}

/* What one build leaves: the ruleset, its nft text and the kernel state it describes (which
 * points into the ruleset: both live as long). */
struct built {
	struct rs_ruleset *rs;
	char *text;
	struct nl_state *st;
};

/* A full build of inv, its nft text and batch (a diff from prev's state, NULL: from nothing). */
static void build_emit(const struct np_inventory *inv, const struct rs_options *ro,
		       const struct built *prev, struct built *out)
{
	FUZZ_CHECK(ruleset_build(inv, ro, &out->rs) == 0, "ruleset_build failed on loaded input");
	out->text = emit_text(out->rs);
	FUZZ_CHECK(out->text, "emit_text failed");
	fuzz_check_quotes(out->text);
	out->st = fuzz_emit_batch(out->rs, prev ? prev->st : NULL);
}

static void built_free(struct built *b)
{
	nl_state_free(b->st);
	free(b->text);
	ruleset_free(b->rs);
}

/* Builds cur after prev through one cache, as policyd does; the cached build of cur must be
 * its full build. */
static void check_cached(const struct np_inventory *prev, const struct np_inventory *cur,
			 const struct rs_options *ro, const char *full_text)
{
	struct rs_cache *cache = NULL;
	FUZZ_CHECK(rs_cache_new(ro, &cache) == 0, "rs_cache_new failed");
	struct rs_ruleset *a = NULL, *b = NULL;
	FUZZ_CHECK(ruleset_build_cached(prev, NULL, cache, NULL, &a) == 0, "cached build failed");
	FUZZ_CHECK(ruleset_build_cached(cur, prev, cache, NULL, &b) == 0, "cached build failed");
	char *text = emit_text(b);
	FUZZ_CHECK(text && !strcmp(text, full_text),
		   "the incremental build differs from the full build");
	free(text);
	ruleset_free(b);
	ruleset_free(a);
	rs_cache_free(cache);
}

static bool opens_json(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	return *s == '{' || *s == '[';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);
	char *cut = strstr(text, SPLIT);
	const char *cur_text = text;
	struct np_inventory *prev = NULL;
	if (cut) {
		*cut = 0;
		cur_text = cut + strlen(SPLIT);
		prev = load(text, strlen(text), !opens_json(text));
	}
	size_t cur_len = cut ? strlen(cur_text) : size;
	int yaml = !opens_json(cur_text);
	np_inventory_free(load(cur_text, cur_len, !yaml)); /* the other front end */
	struct np_inventory *cur = load(cur_text, cur_len, yaml);

	struct rs_options ro;
	char local_pod[600];
	pick_options(data, size, cur, &ro, local_pod, sizeof(local_pod));
	struct built b_prev = { 0 }, b_cur = { 0 };
	if (prev)
		build_emit(prev, &ro, NULL, &b_prev);
	build_emit(cur, &ro, prev ? &b_prev : NULL, &b_cur);
	if (prev)
		check_cached(prev, cur, &ro, b_cur.text);
	built_free(&b_cur);
	built_free(&b_prev);
	np_inventory_free(cur);
	np_inventory_free(prev);
	free(text);
	return 0;
}
