# rules/: the policy compiler library (no daemons, no kernel sockets except in emit_nl.c's
# message building, which only fills buffers).
RULES_SRCS += $(sort $(wildcard rules/*.c))
