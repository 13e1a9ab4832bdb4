# netsetup/: rtnetlink over libmnl, IPAM, networks and attachment drivers.
NETSETUP_SRCS += $(sort $(wildcard netsetup/*.c))
