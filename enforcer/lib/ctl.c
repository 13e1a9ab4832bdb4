/* ctl.c — see ctl.h (the client side). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

void ctl_sock_path(const char *state_dir, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", state_dir, CTL_SOCK_NAME);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready for ev until the deadline: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short ev, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = ev };
		int n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int ctl_request(const char *sock_path, const char *request, int timeout_ms, char **reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(sock_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, sock_path);
	long long deadline = now_ms() + timeout_ms;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int r = 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		if (r == -EINPROGRESS || r == -EAGAIN)
			r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			goto out;
	}
	size_t len = strlen(request), off = 0;
	char *msg = malloc(len + 1);
	if (!msg)
		abort();
	memcpy(msg, request, len);
	msg[len++] = '\n';
	while (off < len && r == 0) {
		ssize_t n = send(fd, msg + off, len - off, MSG_NOSIGNAL);
		if (n > 0)
			off += (size_t)n;
		else if (errno == EAGAIN)
			r = wait_fd(fd, POLLOUT, deadline);
		else if (errno != EINTR)
			r = -errno;
	}
	free(msg);
	size_t cap = 4096, got = 0;
	char *buf = malloc(cap);
	if (!buf)
		abort();
	while (r == 0) {
		if (got + 1 >= cap && !(buf = realloc(buf, cap *= 2)))
			abort();
		ssize_t n = recv(fd, buf + got, cap - got - 1, 0);
		if (n > 0) {
			char *nl = memchr(buf + got, '\n', (size_t)n);
			got += (size_t)n;
			if (nl) {
				*nl = 0;
				*reply = buf;
				buf = NULL;
				break;
			}
		} else if (n == 0) {
			r = -ECONNRESET; /* closed without a whole reply */
		} else if (errno == EAGAIN) {
			r = wait_fd(fd, POLLIN, deadline);
		} else if (errno != EINTR) {
			r = -errno;
		}
	}
	free(buf);
out:
	close(fd);
	return r;
}
