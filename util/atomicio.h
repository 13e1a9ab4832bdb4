/* atomicio.h — files that survive a crash whole: a reader (or the next run after a SIGKILL or
 * a power cut) sees the old content or the new, never a torn or empty file. Every file netpol
 * keeps is written this way: IPAM leases, network definitions, endpoint records, last good
 * copies. */
#ifndef NETPOL_UTIL_ATOMICIO_H
#define NETPOL_UTIL_ATOMICIO_H

#include <stddef.h>
#include <sys/types.h>

/* Replaces path with len bytes of data, created with mode: written to a temporary file beside
 * it (".NAME.XXXXXX": hidden, so directory readers skip it), fsync'ed, renamed over path, and
 * the directory fsync'ed so the rename itself is durable. On failure path is untouched and the
 * temporary file removed. 0 or -errno. */
int atomic_write_file(const char *path, const void *data, size_t len, mode_t mode);

/* The same, whole but without the fsyncs: for a copy that lives no longer than what it
 * describes (a reader still never sees it torn; a power cut may leave the old content). */
int atomic_replace_file(const char *path, const void *data, size_t len, mode_t mode);

/* Makes a rename or unlink in dir durable. 0 or -errno. */
int atomic_sync_dir(const char *dir);

/* Removes path and makes the removal durable. Absent is success. 0 or -errno. */
int atomic_unlink(const char *path);

/* Held files say that a process is at work on something: created whole and exclusively, then
 * locked (flock) by their creator for as long as it keeps the descriptor open. The kernel drops
 * the lock when the process dies, however it dies, so a held file whose lock is free was left
 * by a process that is gone, and whoever finds it may take it over and settle what it
 * describes (netsetup's intent records and network reservations). flock works across NFS
 * clients through the lock manager. */

/* Creates path with len bytes of data and mode, whole (a hidden temporary ".NAME.XXXXXX",
 * written, fsync'ed, locked, then linked to path) and durably; *fd holds the lock. -EEXIST
 * when path exists; -errno. */
int atomic_held_create(const char *path, const void *data, size_t len, mode_t mode, int *fd);

/* Takes over path if no live process holds it: 0 with *fd holding its lock (read it from fd,
 * settle it, then atomic_held_drop). -EBUSY while its holder lives; -ENOENT when there is none,
 * or when it was dropped meanwhile. */
int atomic_held_take(const char *path, int *fd);

/* Removes path, held by fd, and closes fd. Not made durable: a held file that comes back
 * after a power cut is settled like one whose holder died. */
void atomic_held_drop(const char *path, int fd);

#endif
