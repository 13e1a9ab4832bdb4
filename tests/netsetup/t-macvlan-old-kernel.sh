#!/bin/sh
# t-macvlan-policy.sh on a kernel before 6.9, as tests/policyd/t-old-kernel.sh makes one: every
# apply with --test-old-kernel, so the node's tables fall back to no owner/persist flags, and
# the macvlan pods' own tables must get the flags the kernel took (with the requested ones the
# kernel refuses them too); status finds them in sync (reporting them unowned). The body is
# tests/lib/macvlan-policy.sh.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/macvlan-policy.sh"
NP_APPLY_ARGS=--test-old-kernel
macvlan_policy_main
