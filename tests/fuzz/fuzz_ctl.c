/* fuzz_ctl — policyd's control socket as a client sees it: the input is what one client
 * sends (any bytes: lines of JSON, garbage, partial lines, NULs, a line past the length cap),
 * written to the real socket of a real policyd (fuzzlib.c: in a network namespace of its own),
 * which frames it into lines, parses each, dispatches the command (status, sync, reload,
 * resync, anything else) and answers; the client's side is then shut down and policyd must
 * answer and close.
 *
 * Properties beyond the sanitizers: policyd answers every complete line with exactly one line,
 * a JSON object with a boolean "ok", in order; a line longer than 64 KiB gets one error answer
 * and the connection closes there (what follows it is never served); policyd closes the
 * connection once the client's side is shut and everything is answered. */
#include <unistd.h>

#include <jansson.h>

#include "fuzz.h"

#define MAX_LINE (64 * 1024)

/* Lines policyd must answer: the complete ones before the first that is too long, plus one
 * for that one. */
static size_t answers_due(const uint8_t *data, size_t size)
{
	size_t due = 0, start = 0;
	for (size_t i = 0; i < size; i++) {
		if (i - start >= MAX_LINE + 1)
			return due + 1;
		if (data[i] == '\n') {
			due++;
			start = i + 1;
		}
	}
	return due + (size - start > MAX_LINE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_pd *p = fuzz_policyd();
	int fd = fuzz_connect_ctl(p);
	size_t len;
	char *out = fuzz_converse(p, fd, data, size, &len);
	close(fd);
	size_t got = 0;
	for (char *line = out, *nl; (nl = memchr(line, '\n', len - (size_t)(line - out)));
	     line = nl + 1) {
		json_t *j = json_loadb(line, (size_t)(nl - line), 0, NULL);
		FUZZ_CHECK(json_is_object(j) && json_is_boolean(json_object_get(j, "ok")),
			   "answer %zu is not an object with \"ok\": %.*s", got, (int)(nl - line),
			   line);
		json_decref(j);
		got++;
	}
	FUZZ_CHECK(strlen(out) == len && (len == 0 || out[len - 1] == '\n'),
		   "an answer is not a whole line");
	size_t due = answers_due(data, size);
	FUZZ_CHECK(got == due, "%zu answers to %zu lines", got, due);
	free(out);
	return 0;
}
