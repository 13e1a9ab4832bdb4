/* fuzz_http — policyd's HTTP endpoint as a client sees it: the input is the bytes one client
 * sends (request lines, methods, paths, headers, bodies, garbage), written over TCP to a real
 * policyd (fuzzlib.c: in a network namespace of its own) whose libmicrohttpd server, request
 * handler and /healthz, /readyz, /metrics, /ui/ and /api/v1/ answers (pd_http_serve and
 * pd_api_serve: the metrics of a synced cluster and of the kernel's counters, the flows,
 * reach, policies and explain of its model) take it; the client's side is then shut down and
 * policyd must close the connection.
 *
 * Properties beyond the sanitizers: whatever comes back is HTTP (a status line first); policyd
 * closes the connection once the client's side is shut; its control socket still answers
 * (the HTTP side never stalls the loop). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"

static int connect_http(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9753) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	FUZZ_CHECK(fd >= 0, "socket: %s", strerror(errno));
	int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	FUZZ_CHECK(r == 0 || errno == EINPROGRESS, "connect: %s", strerror(errno));
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_pd *p = fuzz_policyd();
	int fd = connect_http();
	size_t len;
	char *out = fuzz_converse(p, fd, data, size, &len);
	close(fd);
	FUZZ_CHECK(len == 0 || !strncmp(out, "HTTP/1.", 7), "not an HTTP answer: %.60s", out);
	free(out);
	static const char status[] = "{\"cmd\":\"status\"}\n";
	fd = fuzz_connect_ctl(p);
	out = fuzz_converse(p, fd, (const uint8_t *)status, sizeof(status) - 1, &len);
	close(fd);
	FUZZ_CHECK(strstr(out, "\"ok\":true"), "the control socket stopped answering: %s", out);
	free(out);
	return 0;
}
