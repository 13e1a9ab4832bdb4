/* statedir.h — whether a state directory can be trusted. netpol runs as root and believes what
 * its state directories hold: endpoint records name the network namespaces policyd enters and
 * the addresses it allows, leases decide addresses, the control socket takes commands. A
 * directory another user can write into is one they could steer root with, so each program
 * checks its state directory when it opens it and refuses to go on with one that is not safe.
 * Everything netpol creates there is 0700 (directories) or 0600 (files). */
#ifndef NETPOL_ENFORCER_STATEDIR_H
#define NETPOL_ENFORCER_STATEDIR_H

#include <stddef.h>

/* 0 when dir is safe or does not exist yet (whoever creates it creates it 0700): a directory
 * owned by root or by this process's user, not writable by group or others, whose parent
 * others cannot rename it out of (not writable by them, or sticky as /tmp is), and in which
 * no directory or regular file down to endpoints/NET/ID.json is writable by group or others
 * (sockets are not looked at: the control socket checks its clients' credentials itself).
 * Else -EPERM (or -ENOTDIR, or the errno of a failed stat) with in err what is wrong and how to
 * fix it. */
int statedir_check(const char *dir, char *err, size_t errlen);
/* The same without STATE/lkg/ (policyd's last good copies, one per policy file): for a
 * program that never reads them, such as netpol-cni, which checks at every ADD and DEL. */
int statedir_check_records(const char *dir, char *err, size_t errlen);

#endif
