/* fuzz.h — what the libFuzzer targets here share (tests/fuzz/README.md). Each fuzz_*.c is one
 * program: libFuzzer's main calls LLVMFuzzerTestOneInput once per input, so a target must free
 * what it allocates per input (LeakSanitizer stops the run otherwise) and keep no state that
 * makes one input's outcome depend on another's. A property a target checks beyond the
 * sanitizers fails with FUZZ_CHECK, which aborts: libFuzzer saves the input as a crash. */
#ifndef NETPOL_TESTS_FUZZ_H
#define NETPOL_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...)                                                                    \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                            \
			fputc('\n', stderr);                                                     \
			abort();                                                                 \
		}                                                                                \
	} while (0)

/* The input as a NUL-terminated copy (the parsers under test take C strings; an embedded NUL
 * then ends the text early, as it would for a real reader). Free it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = 0;
	return s;
}

struct rs_ruleset;
struct nl_state;

/* The netlink side of an emit (fuzzlib.c): the kernel state rs describes, its diff from prev
 * (NULL: from nothing) and that diff's batch, whose messages are walked as the kernel would
 * (each fits its buffer, its attributes fit it) and each described as an error report on it
 * would be. Returns the state (free it; the next diff's prev). */
struct nl_state *fuzz_emit_batch(const struct rs_ruleset *rs, const struct nl_state *prev);

struct ns_endpoint;

/* An endpoint record (netsetup's ns_endpoint_from_json) read, written and read again: the
 * second read is the first (a fixed point), and a refusal has a message. *out gets the record
 * read (free it with ns_endpoint_free), NULL when refused. */
void fuzz_endpoint_round_trip(json_t *j, struct ns_endpoint **out);
/* The same for a network definition (ns_network_from_json). */
void fuzz_network_round_trip(json_t *j);

/* Every line of nft text has its double quotes paired (a name that broke out of its quotes
 * would change what nft reads; nft's quoted strings have no escapes). */
void fuzz_check_quotes(const char *text);

/* A scratch directory of this process (created on first use, removed at exit), on tmpfs when
 * /dev/shm exists. */
const char *fuzz_scratch_dir(void);

struct pd;
struct evloop;

/* A policyd core (pd.h) with its first sync done, for the targets that talk to it as a client
 * would: inside a network namespace of this process's own (entered once; the machine's own
 * ruleset is never touched: no namespace, no run), its loopback up, on a scratch policy
 * directory holding a small cluster and a scratch state directory; HTTP on 127.0.0.1:9753.
 * Nothing runs it between inputs: fuzz_converse dispatches its events. Needs root. */
struct fuzz_pd {
	struct pd *d;
	struct evloop *l;
	char sock[256]; /* the control socket */
};
const struct fuzz_pd *fuzz_policyd(void);

/* A non-blocking connection to its control socket. */
int fuzz_connect_ctl(const struct fuzz_pd *p);

/* One client's whole exchange with the policyd: sends data on fd (a non-blocking socket
 * connected to it), shuts its side down, and runs policyd's loop until policyd closes the
 * connection. Returns what policyd sent (malloc'ed, NUL-terminated, *len bytes); aborts if
 * policyd never closes it. */
char *fuzz_converse(const struct fuzz_pd *p, int fd, const uint8_t *data, size_t size,
		    size_t *len);

#endif
