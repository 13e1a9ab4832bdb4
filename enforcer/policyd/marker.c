/* marker.c — see marker.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicio.h"
#include "hash.h"
#include "marker.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71 /* asm-generic/socket.h, Linux 5.14 */
#endif

static uint64_t hash_str(const char *s, uint64_t h)
{
	return s ? np_hash(s, strlen(s) + 1, h) : np_hash("", 1, np_hash("-", 1, h));
}

static uint64_t hash_stat(const struct stat *st, uint64_t h)
{
	uint64_t v[] = { (uint64_t)st->st_dev, (uint64_t)st->st_ino, (uint64_t)st->st_size,
			 (uint64_t)st->st_mtim.tv_sec, (uint64_t)st->st_mtim.tv_nsec,
			 (uint64_t)st->st_ctim.tv_sec, (uint64_t)st->st_ctim.tv_nsec };
	return np_hash(v, sizeof(v), h);
}

uint64_t marker_self(const struct pd_opts *o)
{
	struct stat st;
	if (stat("/proc/self/exe", &st) < 0)
		return 0;
	uint64_t h = hash_stat(&st, NP_HASH_INIT);
	h = hash_str("netpol commit marker 1", h);
	h = hash_str(o->policy_dir, h);
	h = hash_str(o->node, h);
	uint64_t v[] = { o->reject, o->no_spoof, o->no_owner, o->audit, o->nflog_group,
			 o->test_old_kernel };
	h = np_hash(v, sizeof(v), h);
	return h ? h : 1;
}

uint64_t marker_inputs(uint64_t self, uint64_t files, uint64_t endpoints)
{
	uint64_t v[] = { self, files, endpoints };
	return np_hash(v, sizeof(v), NP_HASH_INIT);
}

int marker_here(struct marker *m)
{
	char buf[64] = "";
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 36)
		return -EIO;
	memcpy(m->boot, buf, 36);
	m->boot[36] = 0;
	struct stat st;
	if (stat("/proc/self/ns/net", &st) < 0)
		return -errno;
	/* an inode number comes back for a later netns of the same boot; the netns cookie
	 * (5.14+) never does */
	uint64_t v[] = { (uint64_t)st.st_dev, (uint64_t)st.st_ino, 0 };
	int sk = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	socklen_t len = sizeof(v[2]);
	if (sk >= 0) {
		if (getsockopt(sk, SOL_SOCKET, SO_NETNS_COOKIE, &v[2], &len) < 0)
			v[2] = 0;
		close(sk);
	}
	m->netns = np_hash(v, sizeof(v), NP_HASH_INIT);
	return 0;
}

bool marker_same_place(const struct marker *a, const struct marker *b)
{
	return !strcmp(a->boot, b->boot) && a->netns == b->netns;
}

static void path_of(const char *state_dir, char *path, size_t size)
{
	snprintf(path, size, "%s/commit.json", state_dir);
}

static bool hex64(const char *s, uint64_t *out)
{
	char *end = NULL;
	if (!s || strlen(s) != 16)
		return false;
	errno = 0;
	*out = strtoull(s, &end, 16);
	return !errno && end && !*end;
}

int marker_read(const char *state_dir, struct marker *m)
{
	char path[PATH_MAX];
	path_of(state_dir, path, sizeof(path));
	json_error_t e;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
	if (!j)
		return access(path, F_OK) < 0 && errno == ENOENT ? -ENOENT : -EINVAL;
	const char *inputs = NULL, *table = NULL, *netns = NULL, *boot = NULL;
	json_int_t gen = -1;
	int r = -EINVAL;
	memset(m, 0, sizeof(*m));
	if (!json_unpack(j, "{s:s,s:I,s:s,s:s,s:s}", "inputs", &inputs, "generation", &gen,
			 "table", &table, "boot", &boot, "netns", &netns) &&
	    hex64(inputs, &m->inputs) && hex64(table, &m->table) && hex64(netns, &m->netns) &&
	    gen >= 0 && gen <= UINT32_MAX && strlen(boot) < sizeof(m->boot)) {
		m->gen = (uint32_t)gen;
		snprintf(m->boot, sizeof(m->boot), "%s", boot);
		r = 0;
	}
	json_decref(j);
	return r;
}

int marker_write(const char *state_dir, const struct marker *m)
{
	char path[PATH_MAX], text[512];
	path_of(state_dir, path, sizeof(path));
	int n = snprintf(text, sizeof(text),
			 "{\"inputs\":\"%016" PRIx64 "\",\"generation\":%" PRIu32
			 ",\"table\":\"%016" PRIx64 "\",\"boot\":\"%s\",\"netns\":\"%016" PRIx64
			 "\"}\n",
			 m->inputs, m->gen, m->table, m->boot, m->netns);
	return atomic_replace_file(path, text, (size_t)n, 0600);
}
