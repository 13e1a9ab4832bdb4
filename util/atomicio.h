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

/* Makes a rename or unlink in dir durable. 0 or -errno. */
int atomic_sync_dir(const char *dir);

/* Removes path and makes the removal durable. Absent is success. 0 or -errno. */
int atomic_unlink(const char *path);

#endif
