/* nft.h — the nf_tables netlink socket: send one batch and collect every reply, read our own
 * tables back into a state (table-filtered dumps only: other tables are never listed). */
#ifndef NETPOL_NFT_H
#define NETPOL_NFT_H

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "emit_nl.h"

struct nft_sock;

/* Opens a NETLINK_NETFILTER socket in the current network namespace with extended acks and
 * buffers forced large enough for big batches. 0 or -errno. */
int nft_sock_open(struct nft_sock **out);
void nft_sock_close(struct nft_sock *s);
/* The socket's netlink port id: nf_tables notifications of its own commits carry it. */
uint32_t nft_sock_portid(const struct nft_sock *s);
/* A sequence number for the next batch (and dumps): batches of one socket never reuse seqs. */
uint32_t nft_sock_seq(struct nft_sock *s, uint32_t count);

/* Sends a finished batch in one sendmsg and drains every reply. Each kernel error becomes an
 * error record "ORIGIN (what): kernel said: STRERROR (EXT-ACK MESSAGE)" carrying the kernel's
 * errno (np_diag.err), in the order of the batch. Returns 0 when the
 * transaction committed (or, for a check batch, when the kernel found no error), -EINVAL when the
 * kernel rejected it (nothing changed), -EPERM when it refused it because another process owns
 * the table (nothing changed), or another -errno when the outcome is unknown (lost
 * replies): then the caller must read back before trusting anything. */
int nft_send_batch(struct nft_sock *s, struct nl_batch *b, bool commit, struct np_diags *diags);

/* Reads back the tables named in want (name + family; contents ignored) into a new state:
 * table flags and comment, sets with elements, chains with their rules' comments, counters with
 * values. A table the kernel does not have is returned with present = false. Retries when the
 * ruleset generation changes during the dumps. */
int nft_read_state(struct nft_sock *s, const struct nl_state *want, struct nl_state **out);
/* The ruleset generation the last successful nft_read_state on s saw (its tables as read are
 * that generation's), and the kernel's generation now. Every committed transaction that
 * changes something moves the generation on by one. */
uint32_t nft_sock_read_gen(const struct nft_sock *s);
int nft_genid(struct nft_sock *s, uint32_t *id);
/* The handle of a table (unique in the netns while it lives: a table deleted and made again
 * has another). 0, -ENOENT when there is no such table, or -errno. */
int nft_table_handle(struct nft_sock *s, uint16_t family, const char *name, uint64_t *handle);

/* Counters of one table as the kernel holds them now, without the set elements (cheap enough
 * for every metrics scrape): the named counters (per policy and direction) and the sums of the
 * anonymous counters on drop rules, by the chain they are in. */
struct nft_counter_val {
	char name[128], comment[256];
	uint64_t packets, bytes;
};
/* A drop point (ruleset.h, log prefixes): what its log rule logged (it counts past the rate
 * limit) and what the rules after it in the chain dropped, or let through under audit. */
struct nft_log_point {
	char prefix[64];
	uint64_t logged, ended;
};
struct nft_counters {
	struct nft_counter_val *named;
	size_t n_named;
	uint64_t drop_packets[3], drop_bytes[3]; /* NFT_DROP_INGRESS, _EGRESS, _OTHER */
	struct nft_log_point *points;
	size_t n_points;
	size_t rules, chains;
};
enum { NFT_DROP_INGRESS, NFT_DROP_EGRESS, NFT_DROP_OTHER };
/* Pod chains "ing-NS/POD" and "egr-NS/POD" (and policy chains "pol-...-in|-out", the tiers'
 * "tier-deny-in|-out") give the direction; other chains' drops count as OTHER (cut connections,
 * spoofed sources). A log rule's counter and an accepting rule's (audit) are no drops: they
 * count into points. 0, -ENOENT when the table is absent, or -errno. */
int nft_read_counters(struct nft_sock *s, const char *table, uint32_t family,
		      struct nft_counters *out);
void nft_counters_free(struct nft_counters *c);

#endif
