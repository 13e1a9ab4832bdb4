/* ctl.c — see ctl.h (the client side). */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "ctl.h"
#include "xalloc.h"

void ctl_sock_path(const char *state_dir, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", state_dir, CTL_SOCK_NAME);
}

/* Waits for fd to be ready for ev until the deadline (clock_now_ms): 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short ev, double deadline)
{
	for (;;) {
		double left = deadline - clock_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = ev };
		int n = poll(&p, 1, (int)(left + 0.999));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* A connected, non-blocking stream socket to sock_path: the fd, or -errno. */
static int connect_to(const char *sock_path, double deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(sock_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, sock_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		if (r == -EINPROGRESS || r == -EAGAIN)
			r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0) {
			close(fd);
			return r;
		}
	}
	return fd;
}

/* Sends request and its closing newline. 0 or -errno. */
static int send_line(int fd, const char *request, double deadline)
{
	size_t len = strlen(request), off = 0;
	char *msg = xmalloc(len + 1);
	memcpy(msg, request, len);
	msg[len++] = '\n';
	int r = 0;
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
	return r;
}

/* Receives one line (without its newline) into *reply. 0 or -errno. */
static int recv_line(int fd, double deadline, char **reply)
{
	size_t cap = 4096, got = 0;
	char *buf = xmalloc(cap);
	int r = 0;
	while (r == 0) {
		if (got + 1 >= cap)
			buf = xrealloc(buf, cap *= 2);
		ssize_t n = recv(fd, buf + got, cap - got - 1, 0);
		if (n > 0) {
			char *nl = memchr(buf + got, '\n', (size_t)n);
			got += (size_t)n;
			if (nl) {
				*nl = 0;
				*reply = buf;
				return 0;
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
	return r;
}

int ctl_request(const char *sock_path, const char *request, int timeout_ms, char **reply)
{
	double deadline = clock_now_ms() + timeout_ms;
	int fd = connect_to(sock_path, deadline);
	if (fd < 0)
		return fd;
	int r = send_line(fd, request, deadline);
	if (r == 0)
		r = recv_line(fd, deadline, reply);
	close(fd);
	return r;
}

/* Reads lines until the peer closes: each to fn (the last one may lack its newline). The first
 * line must come before the deadline; later ones may take any time (a followed stream). */
static int recv_lines(int fd, double deadline, ctl_line_fn fn, void *arg)
{
	size_t cap = 65536, got = 0;
	char *buf = xmalloc(cap);
	bool first = true;
	int r = 0;
	while (r == 0) {
		if (got + 1 >= cap)
			buf = xrealloc(buf, cap *= 2);
		ssize_t n = recv(fd, buf + got, cap - got - 1, 0);
		if (n > 0) {
			got += (size_t)n;
			char *start = buf, *nl;
			while (r == 0 && (nl = memchr(start, '\n', got - (size_t)(start - buf)))) {
				*nl = 0;
				first = false;
				r = fn(arg, start);
				start = nl + 1;
			}
			got -= (size_t)(start - buf);
			memmove(buf, start, got);
		} else if (n == 0) {
			buf[got] = 0;
			if (got && r == 0)
				r = fn(arg, buf);
			else if (first)
				r = -ECONNRESET; /* closed without a reply */
			break;
		} else if (errno == EAGAIN) {
			r = wait_fd(fd, POLLIN, first ? deadline : clock_now_ms() + 3.6e9);
		} else if (errno != EINTR) {
			r = -errno;
		}
	}
	free(buf);
	return r > 0 ? 0 : r;
}

int ctl_stream(const char *sock_path, const char *request, int timeout_ms, ctl_line_fn fn,
	       void *arg)
{
	double deadline = clock_now_ms() + timeout_ms;
	int fd = connect_to(sock_path, deadline);
	if (fd < 0)
		return fd;
	int r = send_line(fd, request, deadline);
	if (r == 0)
		r = recv_lines(fd, deadline, fn, arg);
	close(fd);
	return r;
}
