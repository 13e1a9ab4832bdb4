#!/bin/sh
# t-macvlan-policy.sh on a kernel before 6.9, as tests/policyd/t-old-kernel.sh makes one: every
# apply with --test-old-kernel, so the node's tables fall back to no owner/persist flags, and
# the macvlan pods' own tables must get the flags the kernel took (with the requested ones the
# kernel refuses them too); status finds them in sync (reporting them unowned).
exec env NP_APPLY_ARGS=--test-old-kernel sh "$(dirname "$0")/t-macvlan-policy.sh"
