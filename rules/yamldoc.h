/* yamldoc.h — a YAML stream as jansson trees, one per document, so YAML and JSON input go
 * through one validator. */
#ifndef NETPOL_YAMLDOC_H
#define NETPOL_YAMLDOC_H

#include <jansson.h>
#include <stddef.h>

struct np_yaml_sink {
	void *ctx;
	/* One document (index counts every document of the stream, empty ones too, the same
	 * way srcpos counts them). root is borrowed; NULL for an empty document. */
	void (*doc)(void *ctx, int doc, json_t *root);
	/* A syntax error (the stream ends there) or a construct we refuse (aliases, complex or
	 * duplicate keys; that document is dropped, the stream goes on). line/col are 1-based. */
	void (*error)(void *ctx, int doc, int line, int col, const char *msg);
};

/* Scalars resolve like the YAML 1.1 parser kubectl uses: quoted or block scalars are strings;
 * plain null/~/empty is null, true/false/yes/no/on/off booleans (not y/n), decimal (0x hex,
 * 0 octal) integers, decimal floats, anything else a string. */
void np_yaml_load(const char *text, size_t len, const struct np_yaml_sink *sink);

#endif
