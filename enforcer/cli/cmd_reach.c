/* cmd_reach.c — `netpol reach` (the pod x pod truth table of one probe) and `netpol explain`
 * (why one flow is allowed or dropped), both straight from rules/eval over a directory of
 * objects; the kernel is never consulted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "eval.h"
#include "load.h"
#include "reach.h"
#include "model.h"
#include "xalloc.h"

static int parse_family(const char *s, int *out)
{
	if (!strcmp(s, "4") || !strcmp(s, "6")) {
		*out = s[0] - '0';
		return 0;
	}
	return -EINVAL;
}

/* Matches "--name VALUE" and "--name=VALUE"; advances *i past the value. NULL: not this
 * option. *missing is set when the option is present without a value. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *missing)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n))
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n])
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

/* The arguments reach and explain treat alike: an option given without its value, help, an
 * unknown option, and the one positional DIR. Returns -1 to go on, else the exit status. */
static int other_arg(const char *cmd, const char *arg, int missing, const char **dir,
		     void (*usage)(void))
{
	if (missing) {
		fprintf(stderr, "netpol %s: %s needs a value\n", cmd, arg);
		return 2;
	}
	if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
		usage();
		return 0;
	}
	if (arg[0] == '-' || *dir) {
		fprintf(stderr, "netpol %s: unexpected argument '%s'\n", cmd, arg);
		usage();
		return 2;
	}
	*dir = arg;
	return -1;
}

static void print_table(const struct reach_pod *pods, size_t n, const unsigned char *m)
{
	int w = 0;
	for (size_t i = 0; i < n; i++)
		if ((int)strlen(pods[i].label) > w)
			w = (int)strlen(pods[i].label);
	/* Header: a blank corner, then the column labels; no trailing blanks. */
	printf("%*s", w, "");
	for (size_t j = 0; j < n; j++)
		if (j + 1 < n)
			printf(" %-*s", w, pods[j].label);
		else
			printf(" %s", pods[j].label);
	printf("\n");
	bool audit = false;
	for (size_t i = 0; i < n; i++) {
		printf("%-*s", w, pods[i].label);
		for (size_t j = 0; j < n; j++) {
			if (m[i * n + j] == REACH_AUDIT)
				printf(" %*s", w, "A");
			else
				printf(" %*d", w, m[i * n + j]);
			audit |= m[i * n + j] == REACH_AUDIT;
		}
		printf("\n");
	}
	if (audit)
		printf("A: would drop (audit): passes while audit mode is on\n");
}

static void print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_COMPACT);
	printf("\n");
	json_decref(j);
}

static void reach_usage(void)
{
	fprintf(stderr, "usage: netpol reach DIR [--port P] [--protocol TCP|UDP|SCTP] "
			"[--family 4|6] [--audit] [--json]\n");
}

int cmd_reach(int argc, char **argv)
{
	const char *dir = NULL, *v;
	enum np_proto proto = NP_PROTO_TCP;
	uint16_t port = 80;
	int family = 4, json = 0, missing = 0, rc;
	bool audit = false;

	for (int i = 1; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--port", &missing))) {
			if (reach_parse_port(v, &port) < 0) {
				fprintf(stderr, "netpol reach: bad port '%s'\n", v);
				return 2;
			}
		} else if ((v = opt_value(argc, argv, &i, "--protocol", &missing))) {
			if (reach_parse_proto(v, &proto) < 0) {
				fprintf(stderr, "netpol reach: bad protocol '%s'\n", v);
				return 2;
			}
		} else if ((v = opt_value(argc, argv, &i, "--family", &missing))) {
			if (parse_family(v, &family) < 0) {
				fprintf(stderr, "netpol reach: bad family '%s' (4 or 6)\n", v);
				return 2;
			}
		} else if (!missing && !strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!missing && !strcmp(argv[i], "--audit")) {
			audit = true;
		} else if ((rc = other_arg("reach", argv[i], missing, &dir, reach_usage)) >= 0) {
			return rc;
		}
	}
	if (!dir) {
		reach_usage();
		return 2;
	}

	struct np_inventory *inv;
	if (cli_load_inventory(dir, &inv) < 0)
		return 2;
	size_t n;
	struct reach_pod *pods = reach_pods(inv, family, NULL, &n);
	struct np_eval *ev = np_eval_new(inv);
	if (!ev)
		abort();
	np_eval_set_audit(ev, audit);
	unsigned char *m = reach_matrix(ev, pods, n, proto, port);
	np_eval_free(ev);
	if (json)
		print_json(reach_json(pods, n, m, proto, port, family));
	else
		print_table(pods, n, m);
	free(m);
	free(pods);
	np_inventory_free(inv);
	return 0;
}

/* ---- explain ------------------------------------------------------------------------------ */

struct endpoint_arg {
	const char *text;
	const struct np_pod *pod; /* named as NS/POD */
	struct np_addr addr;      /* given as an address (pod == NULL) */
};

static int parse_endpoint(const struct np_inventory *inv, const char *s, struct endpoint_arg *out)
{
	memset(out, 0, sizeof(*out));
	out->text = s;
	if (np_addr_parse(s, &out->addr) == 0)
		return 0;
	const char *slash = strchr(s, '/');
	if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/'))
		return -EINVAL;
	char ns[256];
	size_t len = (size_t)(slash - s);
	if (len >= sizeof(ns))
		return -EINVAL;
	memcpy(ns, s, len);
	ns[len] = 0;
	out->pod = np_inventory_pod(inv, ns, slash + 1);
	return out->pod ? 0 : -ENOENT;
}

static int resolve_endpoint(const struct np_inventory *inv, const struct endpoint_arg *a,
			    int family, struct np_endpoint *out)
{
	if (a->pod) {
		if (np_endpoint_pod(a->pod, family, out) < 0) {
			fprintf(stderr, "netpol explain: %s has no IPv%d address\n", a->text, family);
			return -EADDRNOTAVAIL;
		}
		return 0;
	}
	if (a->addr.family != family) {
		fprintf(stderr, "netpol explain: %s is not an IPv%d address\n", a->text, family);
		return -EINVAL;
	}
	return np_endpoint_addr(inv, &a->addr, out);
}

static void print_policy_list(const struct np_side_verdict *sv)
{
	for (size_t i = 0; i < sv->n_isolating; i++)
		printf("%s%s/%s", i ? ", " : "", sv->isolating[i]->ns, sv->isolating[i]->name);
}

/* "CNP/egress-tcp egress[3] \"deny-to-slytherin\"" */
static void print_admin_rule(const struct np_admin_policy *ap, bool ingress, size_t rule)
{
	const struct np_rule *r = ingress ? &ap->in[rule] : &ap->out[rule];
	printf("%s/%s %s[%zu]", ap->short_kind, ap->name, ingress ? "ingress" : "egress", rule);
	if (r->name)
		printf(" \"%s\"", r->name);
}

static void print_side(const char *dir, const struct np_endpoint *ep,
		       const struct np_side_verdict *sv)
{
	char name[300];
	bool ingress = !strcmp(dir, "ingress");

	printf("  %-7s at %s: ", dir, reach_endpoint_name(ep, name, sizeof(name)));
	if (sv->pass_admin) {
		printf("Admin tier passes (");
		print_admin_rule(sv->pass_admin, ingress, sv->pass_admin_rule);
		printf(" Pass); ");
	}
	if (sv->why == NP_WHY_ADMIN || sv->why == NP_WHY_BASELINE) {
		const struct np_rule *r = ingress ? &sv->admin->in[sv->admin_rule]
						  : &sv->admin->out[sv->admin_rule];
		if (sv->why == NP_WHY_BASELINE)
			printf("not isolated by NetworkPolicy; ");
		printf("%s tier: %s by ", np_tier_name(sv->admin->tier),
		       sv->audit ? "would drop (audit)" : sv->allowed ? "allowed" : "dropped");
		print_admin_rule(sv->admin, ingress, sv->admin_rule);
		printf(" %s\n", np_action_name(r->action));
		return;
	}
	if (!sv->isolated) {
		if (sv->pass_baseline) {
			printf("not isolated by NetworkPolicy; Baseline tier passes (");
			print_admin_rule(sv->pass_baseline, ingress, sv->pass_baseline_rule);
			printf(" Pass): allowed\n");
			return;
		}
		printf("%s: allowed\n", np_side_why_str(sv->why));
		return;
	}
	printf("isolated by ");
	print_policy_list(sv);
	if (sv->why == NP_WHY_RULE) {
		printf("; allowed by %s/%s %s[%zu]", sv->policy->ns, sv->policy->name, dir, sv->rule);
		if (sv->peer != NP_EVAL_ALL)
			printf(" %s[%zu]", ingress ? "from" : "to", sv->peer);
		if (sv->port != NP_EVAL_ALL)
			printf(" ports[%zu]", sv->port);
		printf("\n");
		return;
	}
	printf("; no rule of ");
	print_policy_list(sv);
	printf(" allows it%s\n", sv->audit ? ": would drop (audit)" : "");
}

static void explain_usage(void)
{
	fprintf(stderr, "usage: netpol explain DIR --from NS/POD|IP --to NS/POD|IP "
			"--port PORT[/PROTO] [--family 4|6] [--audit] [--json]\n");
}

/* "PORT" or "PORT/TCP|UDP|SCTP" (TCP when not given); says what is wrong. 0 or -1. */
static int parse_port_proto(const char *arg, uint16_t *port, enum np_proto *proto)
{
	int r = reach_parse_port_proto(arg, port, proto);
	if (r == -EPROTONOSUPPORT)
		fprintf(stderr, "netpol explain: bad port '%s' (PORT or PORT/TCP|UDP|SCTP)\n", arg);
	else if (r < 0)
		fprintf(stderr, "netpol explain: bad port '%s'\n", arg);
	return r < 0 ? -1 : 0;
}

/* The verdict, then why on each side. */
static void print_explain_text(const struct np_flow *f, const struct np_verdict *vd, int family)
{
	char sn[300], dn[300], sa[64], da[64];
	printf("%s %s -> %s %s/%u (IPv%d %s -> %s)%s\n", reach_verdict_word(vd),
	       reach_endpoint_name(&f->src, sn, sizeof(sn)), reach_endpoint_name(&f->dst, dn, sizeof(dn)),
	       np_proto_name(f->proto), (unsigned)f->port, family, np_addr_str(&f->src.addr, sa),
	       np_addr_str(&f->dst.addr, da),
	       vd->egress.audit || vd->ingress.audit ? ": would drop (audit), passes while audit "
						      "mode is on" : "");
	print_side("egress", &f->src, &vd->egress);
	print_side("ingress", &f->dst, &vd->ingress);
}

struct explain_args {
	const char *dir, *from, *to, *port;
	int family, json;
	bool audit; /* as netpol apply --audit: the whole node audits */
};

/* Parses netpol explain's arguments into a. Returns -1 to go on, else the exit status. */
static int parse_explain_args(int argc, char **argv, struct explain_args *a)
{
	const char *v;
	int missing = 0, rc;
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			a->json = 1;
		else if (!strcmp(argv[i], "--audit"))
			a->audit = true;
		else if ((v = opt_value(argc, argv, &i, "--from", &missing)))
			a->from = v;
		else if ((v = opt_value(argc, argv, &i, "--to", &missing)))
			a->to = v;
		else if ((v = opt_value(argc, argv, &i, "--port", &missing)))
			a->port = v;
		else if ((v = opt_value(argc, argv, &i, "--family", &missing))) {
			if (parse_family(v, &a->family) < 0) {
				fprintf(stderr, "netpol explain: bad family '%s' (4 or 6)\n", v);
				return 2;
			}
		} else if ((rc = other_arg("explain", argv[i], missing, &a->dir, explain_usage)) >= 0) {
			return rc;
		}
	}
	if (!a->dir || !a->from || !a->to || !a->port) {
		explain_usage();
		return 2;
	}
	return -1;
}

int cmd_explain(int argc, char **argv)
{
	struct explain_args a;
	int rc = parse_explain_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	enum np_proto proto;
	uint16_t port;
	if (parse_port_proto(a.port, &port, &proto) < 0)
		return 2;

	struct np_inventory *inv;
	if (cli_load_inventory(a.dir, &inv) < 0)
		return 2;
	rc = 2;
	struct np_eval *ev = NULL;
	struct endpoint_arg fa, ta;
	if (parse_endpoint(inv, a.from, &fa) < 0 || parse_endpoint(inv, a.to, &ta) < 0) {
		fprintf(stderr, "netpol explain: '%s' is neither an address nor a pod of %s\n",
			parse_endpoint(inv, a.from, &fa) < 0 ? a.from : a.to, a.dir);
		goto out_inv;
	}
	/* The family: as given, else that of an address argument, else IPv4. */
	if (!a.family)
		a.family = !fa.pod ? fa.addr.family : !ta.pod ? ta.addr.family : 4;

	struct np_flow f = { .proto = proto, .port = port };
	if (resolve_endpoint(inv, &fa, a.family, &f.src) < 0 ||
	    resolve_endpoint(inv, &ta, a.family, &f.dst) < 0)
		goto out_inv;

	ev = np_eval_new(inv);
	if (!ev)
		abort();
	np_eval_set_audit(ev, a.audit);
	struct np_verdict vd;
	if (np_eval_explain(ev, &f, &vd) < 0) {
		fprintf(stderr, "netpol explain: the two ends are of different families\n");
		goto out_ev;
	}
	if (a.json)
		print_json(reach_explain_json(&f, &vd, a.family));
	else
		print_explain_text(&f, &vd, a.family);
	rc = vd.allowed ? 0 : 1;
	np_verdict_clear(&vd);
out_ev:
	np_eval_free(ev);
out_inv:
	np_inventory_free(inv);
	return rc;
}
