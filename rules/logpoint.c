/* logpoint.c — the log prefixes of the drop points (ruleset.h): what the builder writes and
 * what the flow collector reads back, in one place. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hash.h"
#include "ruleset.h"

void rs_log_pod_id(const char *ns, const char *name, char id[RS_LOG_ID_LEN + 1])
{
	uint64_t h = np_hash(ns, strlen(ns), NP_HASH_INIT);
	h = np_hash("/", 1, h);
	h = np_hash(name, strlen(name), h);
	/* FNV-1a's low bits barely move when only the last character differs (x/a, x/b):
	 * mixed, neighbours' ids look unrelated, which is what a reader expects of an id */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	snprintf(id, RS_LOG_ID_LEN + 1, "%012llx", (unsigned long long)(h & 0xffffffffffffULL));
}

const char *rs_log_prefix(const struct rs_log_point *p, char *buf)
{
	snprintf(buf, RS_LOG_PREFIX_MAX, "np:%c:%c:%s", p->audit ? 'U' : 'D',
		 p->ingress ? 'I' : 'E', p->admin ? "admin" : p->id);
	return buf;
}

static bool hex_id(const char *s)
{
	if (strlen(s) != RS_LOG_ID_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

int rs_log_prefix_parse(const char *prefix, struct rs_log_point *out)
{
	memset(out, 0, sizeof(*out));
	if (strncmp(prefix, "np:", 3) || !prefix[3] || prefix[4] != ':' || !prefix[5] ||
	    prefix[6] != ':')
		return -EINVAL;
	if (prefix[3] != 'D' && prefix[3] != 'U')
		return -EINVAL;
	if (prefix[5] != 'I' && prefix[5] != 'E')
		return -EINVAL;
	out->audit = prefix[3] == 'U';
	out->ingress = prefix[5] == 'I';
	const char *id = prefix + 7;
	if (!strcmp(id, "admin")) {
		out->admin = true;
		return 0;
	}
	if (!hex_id(id))
		return -EINVAL;
	memcpy(out->id, id, RS_LOG_ID_LEN + 1);
	return 0;
}
