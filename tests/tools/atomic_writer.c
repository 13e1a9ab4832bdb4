/* atomic_writer — the writer tests/check/t-atomic-write.sh kills. Its writers rewrite one file
 * over and over with util/atomicio.h's atomic_write_file, alternating two contents of
 * different sizes (A: 512 KiB, B: 768 KiB, numbered lines) so that a torn, mixed or empty file
 * equals neither.
 *   atomic_writer print a|b        the content, to stdout (what the test compares with)
 *   atomic_writer write FILE a|b   writes it once, atomically
 *   atomic_writer serve FILE       reads commands on stdin, one reply line each on stdout:
 *     start MS         forks a writer (B, A, B, ... until killed); replies its pid MS
 *                      milliseconds later, for the test to kill it then
 *     start-unsafe MS  the same writing in place (truncate, then write): the control the
 *                      test must catch torn
 *     reap             waits for the writer; replies "killed" when SIGKILL ended it, else
 *                      "exited STATUS"
 * serve exists so the test can kill hundreds of writers quickly: a fork costs a millisecond, a
 * sanitizer build's process start a few hundred under load (and so would a sleep(1) each). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomicio.h"
#include "xalloc.h"

#define LINE 64

struct content {
	char *data;
	size_t len;
};

static struct content content_make(int which)
{
	size_t lines = which == 'a' ? 8192 : 12288;
	struct content c = { xmalloc(lines * LINE + 1), lines * LINE };

	for (size_t i = 0; i < lines; i++)
		snprintf(c.data + i * LINE, LINE + 1, "%c %08zu %*s\n", which == 'a' ? 'A' : 'B', i,
			 LINE - 12, which == 'a' ? "aaaaaaaa" : "bbbbbbbb");
	return c;
}

static int write_in_place(const char *path, const struct content *c)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < c->len;) {
		ssize_t w = write(fd, c->data + off, c->len - off < 65536 ? c->len - off : 65536);
		if (w < 0 && errno != EINTR) {
			close(fd);
			return -errno;
		}
		off += w > 0 ? (size_t)w : 0;
	}
	return close(fd) < 0 ? -errno : 0;
}

/* The writer: B, A, B, ... (the test starts from A) until killed. */
static void writer(const char *path, const struct content c[2], bool in_place)
{
	for (unsigned long n = 1;; n++) {
		const struct content *w = &c[n % 2];
		int rc = in_place ? write_in_place(path, w) : atomic_write_file(path, w->data, w->len, 0600);
		if (rc < 0) {
			fprintf(stderr, "atomic_writer: %s: %s\n", path, strerror(-rc));
			_exit(1);
		}
	}
}

static int serve(const char *path, const struct content c[2])
{
	char cmd[64], how[16];
	unsigned int ms;
	pid_t pid = -1;
	int st;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(cmd, sizeof(cmd), stdin)) {
		cmd[strcspn(cmd, "\n")] = '\0';
		if (sscanf(cmd, "%15s %u", how, &ms) == 2 &&
		    (!strcmp(how, "start") || !strcmp(how, "start-unsafe"))) {
			if (pid > 0 || (pid = fork()) < 0)
				return 1;
			if (pid == 0)
				writer(path, c, !strcmp(how, "start-unsafe"));
			usleep(ms * 1000);
			printf("%d\n", (int)pid);
		} else if (!strcmp(cmd, "reap") && pid > 0) {
			if (waitpid(pid, &st, 0) < 0)
				return 1;
			pid = -1;
			if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
				printf("killed\n");
			else
				printf("exited %d\n", st);
		} else {
			fprintf(stderr, "atomic_writer: bad command '%s'\n", cmd);
			return 2;
		}
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct content c[2] = { content_make('a'), content_make('b') };
	int rc = 2;

	if (argc == 3 && !strcmp(argv[1], "print") && (!strcmp(argv[2], "a") || !strcmp(argv[2], "b"))) {
		const struct content *w = &c[argv[2][0] == 'b'];
		rc = fwrite(w->data, 1, w->len, stdout) == w->len ? 0 : 1;
	} else if (argc == 4 && !strcmp(argv[1], "write") &&
		   (!strcmp(argv[3], "a") || !strcmp(argv[3], "b"))) {
		const struct content *w = &c[argv[3][0] == 'b'];
		rc = atomic_write_file(argv[2], w->data, w->len, 0600);
		if (rc < 0)
			fprintf(stderr, "atomic_writer: %s: %s\n", argv[2], strerror(-rc));
		rc = rc < 0;
	} else if (argc == 3 && !strcmp(argv[1], "serve")) {
		rc = serve(argv[2], c);
	} else {
		fprintf(stderr, "usage: atomic_writer print a|b | write FILE a|b | serve FILE\n");
	}
	free(c[0].data);
	free(c[1].data);
	return rc;
}
