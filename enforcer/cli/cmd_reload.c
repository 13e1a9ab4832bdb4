/* netpol reload [--state-dir DIR] — asks policyd to re-read everything (the policy directory,
 * the endpoint records and the kernel) and waits for its commit. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_common.h"
#include "ctl.h"

int cmd_reload(int argc, char **argv)
{
	const char *state_dir = DEFAULT_STATE_DIR;
	if (argc == 3 && !strcmp(argv[1], "--state-dir")) {
		state_dir = argv[2];
	} else if (argc != 1) {
		fprintf(stderr, "usage: netpol reload [--state-dir DIR]\n");
		return 2;
	}
	char path[4096], *reply = NULL;
	ctl_sock_path(state_dir, path, sizeof(path));
	/* a reload of a large directory parses everything again: give it minutes */
	int r = ctl_request(path, "{\"cmd\":\"reload\",\"wait\":true}", 300000, &reply);
	if (r < 0) {
		fprintf(stderr, "netpol: reload: no policyd answers on %s: %s\n", path, strerror(-r));
		return 1;
	}
	json_t *j = json_loads(reply, 0, NULL);
	bool ok = json_is_true(json_object_get(j, "ok"));
	printf("%s\n", reply);
	json_decref(j);
	free(reply);
	return ok ? 0 : 1;
}
