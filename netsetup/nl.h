/* nl.h — the rtnetlink socket, error text, network namespaces and per-netns sysctls.
 *
 * A socket is bound to the netns it was opened in, so configuring a container means opening a
 * socket there (ns_nl_new with its netns fd); the calling thread is back in its own netns when
 * ns_nl_new returns. Nothing here prints: failures come back as a negative errno plus a message
 * in struct ns_error, which includes the kernel's extended-ack text when it sent one. */
#ifndef NETSETUP_NL_H
#define NETSETUP_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

/* Where a failure is explained; callers keep one on the stack. */
struct ns_error {
	char msg[512];
};

/* Sets e->msg (if e) to the formatted text and returns rc (a negative errno), so error paths
 * read `return ns_error_set(err, -EINVAL, "...")`. */
int ns_error_set(struct ns_error *e, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prepends "what: " to an existing message; returns rc. */
int ns_error_wrap(struct ns_error *e, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct ns_nl; /* an rtnetlink socket with its sequence counter and receive buffer */

/* Opens an rtnetlink socket inside netns_fd (-1: the caller's netns). NULL on failure (err). */
struct ns_nl *ns_nl_new(int netns_fd, struct ns_error *err);
void ns_nl_free(struct ns_nl *nl);

/* Callback for each reply message of a request or dump; return MNL_CB_OK to continue. */
typedef int (*ns_nl_cb)(const struct nlmsghdr *nlh, void *data);

/* Sends one request (seq and NLM_F_ACK are filled in) and reads until its ack or, for dumps,
 * NLMSG_DONE. Returns 0 or the kernel's negative errno, with the extended ack in err. */
int ns_nl_talk(struct ns_nl *nl, struct nlmsghdr *nlh, ns_nl_cb cb, void *data,
	       struct ns_error *err);
/* A zeroed request buffer owned by nl, large enough for any message this module builds. */
void *ns_nl_buf(struct ns_nl *nl);

/* Opens a netns by path ("/proc/123/ns/net", "/run/netns/x") or by name ("x" means
 * /run/netns/x). *fd is O_CLOEXEC. */
int ns_netns_open(const char *path_or_name, int *fd, struct ns_error *err);
/* The path ns_netns_open would use, written into buf. */
const char *ns_netns_path(const char *path_or_name, char *buf, size_t size);
/* Moves the calling thread into netns fd; *saved receives a fd for the netns it left. */
int ns_netns_enter(int fd, int *saved, struct ns_error *err);
/* Returns to the netns saved by ns_netns_enter and closes saved. */
int ns_netns_restore(int saved, struct ns_error *err);

/* Writes value to /proc/sys/<key> (key like "net/ipv4/ip_forward") as seen from netns_fd
 * (-1: the caller's netns). */
int ns_sysctl_write(int netns_fd, const char *key, const char *value, struct ns_error *err);

#endif
