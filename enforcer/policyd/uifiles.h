/* uifiles.h — the page's files (enforcer/policyd/ui/), embedded in policyd when it is built:
 * ui_embed.sh writes the table from the files themselves, so the binary serves exactly what the
 * source tree holds, with no build step of its own. */
#ifndef NETPOL_ENFORCER_UIFILES_H
#define NETPOL_ENFORCER_UIFILES_H

#include <stddef.h>

struct ui_file {
	const char *name;  /* "index.html", "app.js", ... */
	const char *ctype;
	const unsigned char *data;
	size_t len;
};

/* Ends with a NULL name. */
extern const struct ui_file ui_files[];

#endif
