/* nl.c — rtnetlink socket with extended acks, netns switching, sysctls. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "nl.h"
#include "xalloc.h"

/* Large enough for a dump batch of links with all their attributes: the kernel sizes dump
 * messages to the reader's buffer, and 32 KiB avoids truncation with many stats attributes. */
#define NL_BUFSZ (32 * 1024)

struct ns_nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	char req[4096];
	char rx[NL_BUFSZ];
};

int ns_error_set(struct ns_error *e, int rc, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return rc;
}

int ns_error_wrap(struct ns_error *e, int rc, const char *fmt, ...)
{
	char prefix[256], old[sizeof(e->msg)];
	va_list ap;

	if (!e)
		return rc;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	if (snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, old) >= (int)sizeof(e->msg))
		e->msg[sizeof(e->msg) - 1] = '\0'; /* truncated; still terminated */
	return rc;
}

struct ns_nl *ns_nl_new(int netns_fd, struct ns_error *err)
{
	struct ns_nl *nl;
	int saved = -1, one = 1, rc;

	nl = xcalloc(1, sizeof(*nl));
	if (netns_fd >= 0 && ns_netns_enter(netns_fd, &saved, err) < 0)
		goto free_nl;
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	rc = errno;
	if (saved >= 0 && ns_netns_restore(saved, err) < 0) {
		if (nl->sock)
			mnl_socket_close(nl->sock);
		goto free_nl;
	}
	if (!nl->sock) {
		ns_error_set(err, -rc, "netlink socket: %s", strerror(rc));
		goto free_nl;
	}
	/* Extended acks carry the kernel's reason in words; capped acks keep replies small. */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = errno;
		ns_error_set(err, -rc, "netlink bind: %s", strerror(rc));
		mnl_socket_close(nl->sock);
		goto free_nl;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned int)time(NULL);
	return nl;
free_nl:
	free(nl);
	return NULL;
}

void ns_nl_free(struct ns_nl *nl)
{
	if (!nl)
		return;
	mnl_socket_close(nl->sock);
	free(nl);
}

void *ns_nl_buf(struct ns_nl *nl)
{
	memset(nl->req, 0, sizeof(nl->req));
	return nl->req;
}

struct talk_state {
	ns_nl_cb cb;
	void *data;
	int error;
	char ext[256];
};

static int ext_attr_cb(const struct nlattr *attr, void *data)
{
	struct talk_state *st = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
		snprintf(st->ext, sizeof(st->ext), "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

/* Our own NLMSG_ERROR handler: libmnl's default drops the extended-ack attributes. */
static int error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct talk_state *st = data;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	unsigned int off;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		st->error = -EBADMSG;
		return MNL_CB_ERROR;
	}
	if (e->error == 0)
		return MNL_CB_STOP;
	st->error = e->error;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		off = sizeof(*e);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
		mnl_attr_parse(nlh, off, ext_attr_cb, st);
	}
	return MNL_CB_ERROR;
}

/* With a control array, libmnl runs no default for the types left NULL, so DONE needs one. */
static int done_cb(const struct nlmsghdr *nlh, void *data)
{
	struct talk_state *st = data;
	int err = 0;

	/* A dump that failed part-way says so in the DONE payload. */
	if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(int)))
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
	if (err < 0) {
		st->error = err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

static int data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct talk_state *st = data;

	return st->cb ? st->cb(nlh, st->data) : MNL_CB_OK;
}

int ns_nl_talk(struct ns_nl *nl, struct nlmsghdr *nlh, ns_nl_cb cb, void *data,
	       struct ns_error *err)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = error_cb, [NLMSG_DONE] = done_cb };
	struct talk_state st = { cb, data, 0, "" };
	ssize_t n;
	int rc;

	nlh->nlmsg_seq = ++nl->seq;
	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		return ns_error_set(err, rc, "netlink send: %s", strerror(-rc));
	}
	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, nl->rx, sizeof(nl->rx));
		if (n < 0) {
			rc = -errno;
			return ns_error_set(err, rc, "netlink receive: %s", strerror(-rc));
		}
		rc = mnl_cb_run2(nl->rx, (size_t)n, nl->seq, nl->portid, data_cb, &st, ctl,
				 NLMSG_MIN_TYPE);
		if (rc == MNL_CB_STOP)
			return 0;
		if (rc == MNL_CB_ERROR) {
			rc = st.error ? st.error : -errno;
			if (rc >= 0)
				rc = -EPROTO;
			if (st.ext[0])
				return ns_error_set(err, rc, "%s (%s)", st.ext, strerror(-rc));
			return ns_error_set(err, rc, "%s", strerror(-rc));
		}
	}
}

const char *ns_netns_path(const char *path_or_name, char *buf, size_t size)
{
	if (strchr(path_or_name, '/'))
		snprintf(buf, size, "%s", path_or_name);
	else
		snprintf(buf, size, "/run/netns/%s", path_or_name);
	return buf;
}

int ns_netns_open(const char *path_or_name, int *fd, struct ns_error *err)
{
	char path[4096];
	int f, rc;

	if (!path_or_name || !*path_or_name)
		return ns_error_set(err, -EINVAL, "no network namespace given");
	ns_netns_path(path_or_name, path, sizeof(path));
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0) {
		rc = -errno;
		return ns_error_set(err, rc, "network namespace %s: %s", path, strerror(-rc));
	}
	*fd = f;
	return 0;
}

int ns_netns_enter(int fd, int *saved, struct ns_error *err)
{
	int self, rc;

	/* thread-self: setns changes only this thread, so remember this thread's netns. */
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		rc = -errno;
		return ns_error_set(err, rc, "open own netns: %s", strerror(-rc));
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		rc = -errno;
		close(self);
		return ns_error_set(err, rc, "enter netns: %s", strerror(-rc));
	}
	*saved = self;
	return 0;
}

int ns_netns_restore(int saved, struct ns_error *err)
{
	int rc = 0;

	if (setns(saved, CLONE_NEWNET) < 0) {
		rc = -errno;
		ns_error_set(err, rc, "return to own netns: %s", strerror(-rc));
	}
	close(saved);
	return rc;
}

int ns_sysctl_write(int netns_fd, const char *key, const char *value, struct ns_error *err)
{
	char path[512];
	int saved = -1, fd, rc = 0;
	size_t len = strlen(value);

	snprintf(path, sizeof(path), "/proc/sys/%s", key);
	if (netns_fd >= 0 && (rc = ns_netns_enter(netns_fd, &saved, err)) < 0)
		return rc;
	/* /proc/sys/net resolves against the opener's netns at open time, so the fd stays bound to
	 * the target netns after we leave it. */
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		rc = -errno;
	if (saved >= 0) {
		int r = ns_netns_restore(saved, err);
		if (r < 0) {
			if (fd >= 0)
				close(fd);
			return r;
		}
	}
	if (fd < 0)
		return ns_error_set(err, rc, "sysctl %s: %s", key, strerror(-rc));
	if (write(fd, value, len) != (ssize_t)len)
		rc = ns_error_set(err, -errno, "sysctl %s=%s: %s", key, value, strerror(errno));
	close(fd);
	return rc;
}
