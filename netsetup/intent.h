/* intent.h — intent records: an attach or a detach killed at any instant is settled by the next
 * operation on its network, so that an endpoint is whole (interface, addresses, record) or gone,
 * and no address is ever leased twice or leaked.
 *
 * Before it changes anything, an attach or a detach writes its intent,
 * STATE/intents/NETWORK/ID.json: which operation, which process, and the endpoint's record as
 * far as it is known then (id, netns, interface names, MAC, created). It is a held file
 * (util/atomicio.h): created exclusively, so two operations on one endpoint never run at once,
 * and locked for exactly the life of its process. Then come the store's and the kernel's steps
 * and the final record (or, for a detach, its removal); the intent goes last. An intent whose
 * lock is free was left by a process that died, and the next operation on the network takes it
 * over and settles it:
 *   attach — kept when the store holds its record (the MAC it chose) and its container
 *            interface exists with that MAC (the record is then committed again, which is safe
 *            to repeat); otherwise rolled back: the container interface removed when it has the
 *            MAC the intent chose (drivers give it at creation, so a namesake of another attach
 *            is never touched), the node end by the name prepare gives it, then what it claimed
 *            in the store released (ep_release). A record of that id with another MAC is an
 *            endpoint attached before this attach began, and is kept.
 *   detach — rolled forward: the interface removed, then the record and its addresses released.
 * The interface goes before the addresses, so no address is free while an interface holds it.
 * Intents live in the state directory on either store: they describe processes of this host,
 * as their locks do. */
#ifndef NETSETUP_INTENT_H
#define NETSETUP_INTENT_H

#include <jansson.h>

#include "network.h"

enum ns_intent_op { NS_INTENT_ATTACH, NS_INTENT_DETACH };

struct ns_intent;

/* Writes the intent of op on ep (of net), whole and durably, before op changes anything; an
 * intent of that endpoint left by a dead process is settled first. -EBUSY (err says so) while
 * another live process works on the endpoint. */
int ns_intent_begin(struct ns_ctx *ctx, const struct ns_network *net, enum ns_intent_op op,
		    const struct ns_endpoint *ep, struct ns_intent **out, struct ns_error *err);
/* The operation is over, done or undone: its intent goes. NULL-safe. */
void ns_intent_end(struct ns_intent *in);

/* Settles every intent of net whose process died. Each settled intent is said: one object
 * {"network","owner","note"} appended to report when it is given, else ns_ctx_note. Returns how
 * many were settled. Needs a context that may change things (not read-only). */
int ns_intent_recover(struct ns_ctx *ctx, const struct ns_network *net, json_t *report);

/* ns_intent_recover, then what a crash of a netpol without intents left in net: an empty
 * record (the reservation of an attach) that no operation works on, rolled back as a killed
 * attach is (its node end by name: it chose no MAC) and said the same way. Reads every record
 * of net: `netpol net gc` runs it, not every operation. Returns how many were settled. */
int ns_intent_sweep(struct ns_ctx *ctx, const struct ns_network *net, json_t *report);

/* The network is removed: its intent directory goes when empty (a removed network has no
 * endpoint, so no operation works on one). */
void ns_intent_forget(struct ns_ctx *ctx, const char *network);

#endif
