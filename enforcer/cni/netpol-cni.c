/* netpol-cni — the CNI plugin (spec 1.1.0; configs 0.3.0 to 1.1.0). The runtime runs it with
 * CNI_COMMAND and friends in the environment and the network configuration on stdin; the
 * result, or the spec's error object, goes to stdout; logs go to stderr. See cni.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cni.h"
#include "cni_spec.h"
#include "xalloc.h"

/* Reads all of stdin (a network configuration is small; 16 MiB is a generous cap). */
static char *read_stdin(void)
{
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (n + 1 == cap) {
			if (cap >= 16u << 20)
				break;
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		ssize_t r = read(0, buf + n, cap - n - 1);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return buf;
}

/* The result (or the spec's error object) on stdout, which carries nothing else: the library
 * never prints, and logs go to stderr. */
static void emit(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	if (s)
		printf("%s\n", s);
	free(s);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct cni_env env;
	struct cni_conf conf;
	struct cni_err e = { 0 };
	json_t *result = NULL;
	int rc;

	memset(&conf, 0, sizeof(conf));
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
			 !strcmp(argv[1], "--version"))) {
		printf("netpol-cni: CNI protocol versions supported: %s\n",
			"0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0");
		return 0;
	}
	char *text = read_stdin();
	rc = cni_env_read(&env, &e);
	if (rc == 0)
		rc = cni_conf_parse(text, env.cmd, &conf, &e);
	if (rc == 0)
		rc = cni_cmd_run(&env, &conf, &result, &e);
	if (rc == 0) {
		if (result)
			emit(result);
	} else {
		json_t *err = cni_err_json(&e, conf.version);
		emit(err);
		json_decref(err);
		fprintf(stderr, "netpol-cni: %s %s: %s%s%s\n", env.command ? env.command : "?",
			env.container_id ? env.container_id : "", e.msg, e.details[0] ? ": " : "",
			e.details);
	}
	json_decref(result);
	cni_conf_free(&conf);
	free(text);
	return rc == 0 ? 0 : 1;
}
