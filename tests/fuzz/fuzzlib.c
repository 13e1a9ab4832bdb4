/* fuzzlib.c — see fuzz.h. Linked into every fuzz target. */
#include <errno.h>
#include <ftw.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "emit_nl.h"
#include "evloop.h"
#include "fuzz.h"
#include "network.h"
#include "pd.h"
#include "ruleset.h"

static int attr_ok(const struct nlattr *a, void *data)
{
	return mnl_attr_type_valid(a, 0xffff) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

static void walk_batch(struct nl_batch *b)
{
	int n = nl_batch_iovec(b, NULL, 0);
	FUZZ_CHECK(n > 0, "empty batch");
	struct iovec *iov = calloc((size_t)n, sizeof(*iov));
	nl_batch_iovec(b, iov, (size_t)n);
	char desc[512];
	for (int i = 0; i < n; i++) {
		const struct nlmsghdr *h = iov[i].iov_base;
		int left = (int)iov[i].iov_len;
		while (mnl_nlmsg_ok(h, left)) {
			FUZZ_CHECK(mnl_attr_parse(h, sizeof(struct nfgenmsg), attr_ok, NULL) >= 0,
				   "message seq %u: attributes overrun it", h->nlmsg_seq);
			nl_batch_describe(b, h->nlmsg_seq, h->nlmsg_len, 0, desc, sizeof(desc));
			h = mnl_nlmsg_next(h, &left);
		}
		FUZZ_CHECK(left == 0, "iovec %d: %d bytes past its last message", i, left);
	}
	free(iov);
}

struct nl_state *fuzz_emit_batch(const struct rs_ruleset *rs, const struct nl_state *prev)
{
	struct nl_state *st = NULL, *none = NULL;
	FUZZ_CHECK(nl_state_from_ruleset(rs, &st) == 0, "nl_state_from_ruleset failed");
	if (!prev)
		prev = none = nl_state_new();
	struct nl_diff *diff = NULL;
	FUZZ_CHECK(nl_diff_compute(prev, st, false, &diff) == 0, "nl_diff_compute failed");
	struct nl_batch *b = nl_batch_new(1);
	nl_batch_add_diff(b, diff);
	nl_batch_finish(b, true);
	walk_batch(b);
	nl_batch_free(b);
	nl_diff_free(diff);
	nl_state_free(none);
	return st;
}

void fuzz_endpoint_round_trip(json_t *j, struct ns_endpoint **out)
{
	struct ns_error err = { "" };
	struct ns_endpoint *a = ns_endpoint_new(), *b = ns_endpoint_new();
	*out = NULL;
	if (ns_endpoint_from_json(j, a, &err) < 0) {
		FUZZ_CHECK(err.msg[0], "a refused record without a message");
		goto out;
	}
	json_t *ja = ns_endpoint_to_json(a);
	FUZZ_CHECK(ns_endpoint_from_json(ja, b, &err) == 0, "a written record is refused: %s",
		   err.msg);
	json_t *jb = ns_endpoint_to_json(b);
	FUZZ_CHECK(json_equal(ja, jb), "endpoint record not stable across a write and a read");
	json_decref(jb);
	json_decref(ja);
	*out = a;
	a = NULL;
out:
	ns_endpoint_free(b);
	ns_endpoint_free(a);
}

void fuzz_network_round_trip(json_t *j)
{
	struct ns_error err = { "" };
	struct ns_network *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	if (ns_network_from_json(j, a, &err) == 0) {
		json_t *ja = ns_network_to_json(a);
		FUZZ_CHECK(ns_network_from_json(ja, b, &err) == 0,
			   "a written network definition is refused: %s", err.msg);
		json_t *jb = ns_network_to_json(b);
		FUZZ_CHECK(json_equal(ja, jb), "network definition not stable");
		json_decref(jb);
		json_decref(ja);
	}
	free(b);
	free(a);
}

void fuzz_check_quotes(const char *text)
{
	int quotes = 0;
	for (const char *p = text; *p; p++) {
		if (*p == '"') {
			quotes++;
		} else if (*p == '\n') {
			FUZZ_CHECK(quotes % 2 == 0, "unpaired quote in the nft text before: %.80s", p + 1);
			quotes = 0;
		}
	}
}

static char scratch[64];

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	return remove(path) < 0 ? -1 : 0;
}

static void scratch_remove(void)
{
	nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_scratch_dir(void)
{
	if (scratch[0])
		return scratch;
	snprintf(scratch, sizeof(scratch), "%s/netpol-fuzz.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	FUZZ_CHECK(mkdtemp(scratch), "mkdtemp %s", scratch);
	atexit(scratch_remove);
	return scratch;
}

/* ---- a policyd to talk to ---- */

static const char cluster[] =
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {ns: x}}\n---\n"
	"apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x, labels: {pod: a}}\n"
	"spec: {containers: [{name: c, ports: [{name: http, containerPort: 80}]}]}\n"
	"status: {podIPs: [{ip: 10.200.0.11}, {ip: 'fd00:200::11'}]}\n---\n"
	"apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: x, labels: {pod: b}}\n"
	"status: {podIPs: [{ip: 10.200.0.12}]}\n---\n"
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: np, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n"
	"  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}], ports: [{port: http}]}]\n";

static void quiet(void *arg, const char *line)
{
	if (getenv("FUZZ_PD_LOG"))
		fprintf(stderr, "policyd: %s\n", line);
}

static void enter_own_netns(void)
{
	FUZZ_CHECK(unshare(CLONE_NEWNET) == 0,
		   "unshare(CLONE_NEWNET): %s: this target runs policyd in a network namespace of "
		   "its own, which needs root", strerror(errno));
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { .ifr_name = "lo" };
	FUZZ_CHECK(fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0, "lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	FUZZ_CHECK(ioctl(fd, SIOCSIFFLAGS, &ifr) == 0, "lo up: %s", strerror(errno));
	close(fd);
}

const struct fuzz_pd *fuzz_policyd(void)
{
	static struct fuzz_pd p;
	static char dir[256], state[256];
	if (p.d)
		return &p;
	enter_own_netns();
	snprintf(dir, sizeof(dir), "%s/policies", fuzz_scratch_dir());
	snprintf(state, sizeof(state), "%s/state", fuzz_scratch_dir());
	snprintf(p.sock, sizeof(p.sock), "%s/policyd.sock", state);
	char path[512];
	snprintf(path, sizeof(path), "%s/cluster.yaml", dir);
	FILE *f = (mkdir(dir, 0700) == 0) ? fopen(path, "w") : NULL;
	FUZZ_CHECK(f && fputs(cluster, f) >= 0 && fclose(f) == 0, "writing %s", path);
	struct pd_opts o = { .policy_dir = dir, .state_dir = state,
			     .metrics_addr = "127.0.0.1:9753", .gap_ms = 20, .grace_ms = 100,
			     .log = quiet };
	char err[1024] = "";
	FUZZ_CHECK(evloop_new(&p.l) == 0 && pd_new(&o, p.l, &p.d, err, sizeof(err)) == 0,
		   "policyd: %s", err);
	/* pd_run does the first sync, then serves until a signal says stop: the signal is
	 * pending already (pd_new blocked it for its signalfd), so it returns after that sync;
	 * then the signals are the fuzzer's again */
	raise(SIGTERM);
	FUZZ_CHECK(pd_run(p.d) == 0, "policyd's first run failed");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	return &p;
}

int fuzz_connect_ctl(const struct fuzz_pd *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p->sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	FUZZ_CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
		   "connect %s: %s", p->sock, strerror(errno));
	return fd;
}

char *fuzz_converse(const struct fuzz_pd *p, int fd, const uint8_t *data, size_t size,
		    size_t *len)
{
	size_t off = 0, cap = 4096;
	char *out = malloc(cap);
	bool shut = false, closed = false;
	*len = 0;
	/* 10 s of a loop that made no progress is a connection policyd keeps open */
	for (int idle = 0; !closed && idle < 10000;) {
		bool progress = false;
		if (off < size) {
			ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0) {
				off += (size_t)n;
				progress = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				off = size; /* policyd closed it: what it said is read below */
			}
		}
		if (off == size && !shut) {
			shutdown(fd, SHUT_WR);
			shut = progress = true;
		}
		evloop_run_once(p->l, progress ? 0 : 1);
		for (;;) {
			if (*len + 1024 > cap)
				out = realloc(out, cap *= 2);
			ssize_t n = recv(fd, out + *len, cap - *len - 1, MSG_DONTWAIT);
			if (n > 0) {
				*len += (size_t)n;
				progress = true;
			} else {
				closed = n == 0 || (errno != EAGAIN && errno != EINTR);
				break;
			}
		}
		idle = progress ? 0 : idle + 1;
	}
	FUZZ_CHECK(closed, "policyd kept the connection open after the client's end");
	out[*len] = 0;
	return out;
}
