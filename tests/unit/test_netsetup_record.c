/* test_netsetup_record — endpoint records and network definitions read back: a field longer
 * than its place is refused by name, never cut short into another name; what fits reads back
 * whole. And the held files intent records are made of (util/atomicio.h): exclusive, locked for
 * the life of their holder, taken over only when their holder is gone. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "atomicio.h"
#include "network.h"

static json_t *record(const char *key, size_t len)
{
	char *s = malloc(len + 1);
	json_t *j;

	memset(s, 'a', len);
	s[len] = '\0';
	j = json_pack("{s:s,s:s,s:s,s:[s],s:{s:s,s:s}}", "network", "web", "id", "c1", "driver",
		      "bridge", "addresses", "10.99.1.2/24", "pod", "namespace", "default", "name",
		      "p");
	if (!strcmp(key, "pod.name"))
		json_object_set_new(json_object_get(j, "pod"), "name", json_string(s));
	else
		json_object_set_new(j, key, json_string(s));
	free(s);
	return j;
}

static void test_endpoint_field_too_long(void **state)
{
	static const struct { const char *key; size_t fits; } f[] = {
		{ "netns", 511 }, { "ifname", 15 }, { "host_ifname", 15 }, { "id", 127 },
		{ "node", 253 }, { "pod.name", 255 },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		struct ns_error err = { "" };
		struct ns_endpoint *ep = ns_endpoint_new();
		json_t *j = record(f[i].key, f[i].fits);
		assert_int_equal(ns_endpoint_from_json(j, ep, &err), 0);
		json_decref(j);
		ns_endpoint_free(ep);
		ep = ns_endpoint_new();
		j = record(f[i].key, f[i].fits + 1);
		assert_int_equal(ns_endpoint_from_json(j, ep, &err), -EBADMSG);
		assert_non_null(strstr(err.msg, "too long"));
		assert_non_null(strstr(err.msg, strchr(f[i].key, '.') ? "name" : f[i].key));
		json_decref(j);
		ns_endpoint_free(ep);
	}
}

static void test_network_field_too_long(void **state)
{
	struct ns_network net;
	struct ns_error err = { "" };
	json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "name", "web", "driver", "bridge", "mode",
			      "bridge", "bridge", "np-0123456789abc");
	assert_int_equal(ns_network_from_json(j, &net, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "\"bridge\" is too long"));
	json_object_set_new(j, "bridge", json_string("np-0123456789a"));
	assert_int_equal(ns_network_from_json(j, &net, &err), 0);
	assert_string_equal(net.bridge, "np-0123456789a");
	json_decref(j);
}

static void test_held_files(void **state)
{
	char dir[] = "/tmp/ns-held-XXXXXX", path[64];
	int fd, fd2, st;
	pid_t pid;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/x.json", dir);
	assert_int_equal(atomic_held_create(path, "{}", 2, 0600, &fd), 0);
	assert_int_equal(atomic_held_create(path, "{}", 2, 0600, &fd2), -EEXIST);
	/* held by a live process (its own descriptor: flock is per open file) */
	assert_int_equal(atomic_held_take(path, &fd2), -EBUSY);
	atomic_held_drop(path, fd);
	assert_int_equal(atomic_held_take(path, &fd2), -ENOENT);
	/* a holder that dies, however, frees it for the taking */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(atomic_held_create(path, "{\"a\":1}", 7, 0600, &fd) == 0 ? 0 : 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(atomic_held_take(path, &fd2), 0);
	char buf[16] = "";
	assert_int_equal(pread(fd2, buf, sizeof(buf) - 1, 0), 7);
	assert_string_equal(buf, "{\"a\":1}");
	assert_int_equal(atomic_held_take(path, &fd), -EBUSY); /* taken over: held again */
	atomic_held_drop(path, fd2);
	assert_int_equal(access(path, F_OK), -1);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint_field_too_long),
		cmocka_unit_test(test_network_field_too_long),
		cmocka_unit_test(test_held_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
