/* ctl.h — policyd's control socket: a root-only unix stream socket (STATE/policyd.sock) that
 * speaks line-delimited JSON, one reply line per request line. The requests:
 *   {"cmd":"status"}              what policyd holds and how the last sync went
 *   {"cmd":"sync","wait":true}    apply every change already written to the watched
 *                                 directories (policies, endpoint records); with wait, reply
 *                                 only once the kernel acked the commit that includes them
 *   {"cmd":"reload","wait":true}  re-read every file (as SIGHUP does), then as sync
 *   {"cmd":"resync","wait":true}  read our tables back from the kernel and repair drift
 *   {"cmd":"flows","last":N,"since_seq":S,"follow":true,"filter":{...}}
 *                                 flow records (flowrec.h), streamed: a first line
 *                                 {"ok":true,"first_seq","next_seq",...}, then one record per
 *                                 line (the last N matching the filter, those from seq S on,
 *                                 or all held); with follow, new ones as they come, until the
 *                                 client closes
 * Every reply has "ok" (bool) and, when false, "error" (text).
 * Deletions: a policy file deleted moments before a sync, reload or resync request is not left
 * to its deletion grace (which exists for editors and tar): its directory entry is read again
 * and a file still absent is removed in the commit the reply waits for. status's "synced" is
 * true only when no written change is pending ("pending" then says which). */
#ifndef NETPOL_ENFORCER_CTL_H
#define NETPOL_ENFORCER_CTL_H

#define CTL_SOCK_NAME "policyd.sock"

/* Writes STATE/policyd.sock into buf. */
void ctl_sock_path(const char *state_dir, char *buf, size_t size);

/* Sends one request line (without its newline) and waits up to timeout_ms for one reply line.
 * Returns 0 with *reply malloc'ed (no newline), -ENOENT or -ECONNREFUSED when no policyd
 * listens there, -ETIMEDOUT, or another -errno. */
int ctl_request(const char *sock_path, const char *request, int timeout_ms, char **reply);

/* A line of a streamed reply (no newline); returning non-zero stops the stream (a negative
 * value is ctl_stream's result). */
typedef int (*ctl_line_fn)(void *arg, const char *line);
/* Sends one request and hands every reply line to fn until policyd closes the connection (or
 * fn stops it): the first line must come within timeout_ms, the rest may take any time.
 * Returns 0, or -errno as ctl_request. */
int ctl_stream(const char *sock_path, const char *request, int timeout_ms, ctl_line_fn fn,
	       void *arg);

#endif
