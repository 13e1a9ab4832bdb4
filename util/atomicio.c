/* atomicio.c — see atomicio.h. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicio.h"

/* The directory part of path into buf ("." when there is none). */
static void dir_of(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(buf, size, ".");
	else if (slash == path)
		snprintf(buf, size, "/");
	else
		snprintf(buf, size, "%.*s", (int)(slash - path), path);
}

int atomic_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* Writes data to a new hidden temporary beside path (its name in tmp), fsync'ed when durable;
 * 0 with the temporary open in *fd, or -errno with nothing left. */
static int write_temp(const char *path, const void *data, size_t len, mode_t mode, bool durable,
		      char *tmp, size_t tmpsize, int *fd)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	dir_of(path, dir, sizeof(dir));
	if (snprintf(tmp, tmpsize, "%s/.%s.XXXXXX", dir, base) >= (int)tmpsize)
		return -ENAMETOOLONG;
	int f = mkostemp(tmp, O_CLOEXEC);
	if (f < 0)
		return -errno;
	int r = 0;
	if (fchmod(f, mode) < 0)
		r = -errno;
	for (size_t off = 0; r == 0 && off < len;) {
		ssize_t w = write(f, (const char *)data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			r = w < 0 ? -errno : -EIO;
		else
			off += (size_t)w;
	}
	if (r == 0 && durable && fsync(f) < 0)
		r = -errno;
	if (r < 0) {
		close(f);
		unlink(tmp);
		return r;
	}
	*fd = f;
	return 0;
}

static int replace_file(const char *path, const void *data, size_t len, mode_t mode,
			bool durable)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	int fd, r = write_temp(path, data, len, mode, durable, tmp, sizeof(tmp), &fd);
	if (r < 0)
		return r;
	if (close(fd) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	if (!durable)
		return 0;
	dir_of(path, dir, sizeof(dir));
	return atomic_sync_dir(dir);
}

int atomic_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	return replace_file(path, data, len, mode, true);
}

int atomic_replace_file(const char *path, const void *data, size_t len, mode_t mode)
{
	return replace_file(path, data, len, mode, false);
}

int atomic_held_create(const char *path, const void *data, size_t len, mode_t mode, int *fd)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	int f, r = write_temp(path, data, len, mode, true, tmp, sizeof(tmp), &f);
	if (r < 0)
		return r;
	/* locked before it has its name: nobody can find it unheld */
	while (flock(f, LOCK_EX) < 0 && r == 0)
		if (errno != EINTR)
			r = -errno;
	/* link, unlike rename, fails when path exists: the creation is exclusive */
	if (r == 0 && link(tmp, path) < 0)
		r = -errno;
	unlink(tmp);
	dir_of(path, dir, sizeof(dir));
	if (r == 0)
		r = atomic_sync_dir(dir);
	if (r < 0) {
		close(f);
		return r;
	}
	*fd = f;
	return 0;
}

int atomic_held_take(const char *path, int *fd)
{
	struct stat held, now;
	/* read-write: NFS emulates flock with a byte-range write lock, which needs it */
	int f = open(path, O_RDWR | O_CLOEXEC);
	if (f < 0)
		return -errno;
	if (flock(f, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(f);
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	/* its holder may have dropped it between the open and the lock, and another process
	 * created a new one since: the lock is then on a file no longer at path */
	if (fstat(f, &held) < 0 || stat(path, &now) < 0 || held.st_ino != now.st_ino ||
	    held.st_dev != now.st_dev) {
		close(f);
		return -ENOENT;
	}
	*fd = f;
	return 0;
}

void atomic_held_drop(const char *path, int fd)
{
	unlink(path);
	close(fd);
}

int atomic_unlink(const char *path)
{
	char dir[PATH_MAX];
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : -errno;
	dir_of(path, dir, sizeof(dir));
	return atomic_sync_dir(dir);
}
