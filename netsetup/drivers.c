/* drivers.c — the registry of attachment drivers: kind and name to their table (driver.h). */
#include <errno.h>
#include <string.h>

#include "driver.h"

static const struct ns_driver_ops *const drivers[] = {
	[NS_DRIVER_BRIDGE] = &ns_driver_bridge,
	[NS_DRIVER_MACVLAN] = &ns_driver_macvlan,
	[NS_DRIVER_OVERLAY] = &ns_driver_overlay,
	[NS_DRIVER_HOST] = &ns_driver_host,
};

const struct ns_driver_ops *ns_driver_ops_get(enum ns_driver_kind kind)
{
	return drivers[kind];
}

const char *ns_driver_name(enum ns_driver_kind kind)
{
	return drivers[kind]->name;
}

int ns_driver_parse(const char *s, enum ns_driver_kind *out)
{
	for (size_t i = 0; s && i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (!strcmp(s, drivers[i]->name)) {
			*out = drivers[i]->kind;
			return 0;
		}
	return -EINVAL;
}
