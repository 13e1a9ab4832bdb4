/* nftmon.h — an NFNLGRP_NFTABLES listener that tells when someone else changed our tables: every
 * notification names its table, and carries the netlink port id of the socket whose commit
 * caused it, so our own commits are told apart from another process's. */
#ifndef NETPOL_ENFORCER_NFTMON_H
#define NETPOL_ENFORCER_NFTMON_H

#include <stddef.h>
#include <stdint.h>

struct nftmon;

/* Listens in the current network namespace for changes to the tables named (copied). */
int nftmon_new(const char *const *tables, size_t n, struct nftmon **out);
void nftmon_free(struct nftmon *m);
int nftmon_fd(const struct nftmon *m);

/* Reads every queued notification without blocking. Returns how many changed one of our tables
 * through a socket other than ours (port id own; 0: none of ours), 1 more when notifications
 * were lost (ENOBUFS: anything may have changed), or -errno. */
int nftmon_read(struct nftmon *m, uint32_t own);

#endif
