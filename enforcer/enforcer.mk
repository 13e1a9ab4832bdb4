# enforcer/: the three programs and what they share.
#   lib/      the apply pipeline, kernel read-back, conntrack, pod-netns targets, endpoint
#             records, the control-socket client: libenforcer.a
#   cli/      netpol            policyd/  policyd            cni/  netpol-cni
# Each program folder is an archive of its modules plus the file holding main().
ENFORCER_SRCS += $(sort $(wildcard enforcer/lib/*.c))
CLI_SRCS      += $(filter-out enforcer/cli/netpol.c,$(sort $(wildcard enforcer/cli/*.c)))
POLICYD_SRCS  += $(filter-out enforcer/policyd/policyd.c,$(sort $(wildcard enforcer/policyd/*.c)))
CNI_SRCS      += $(filter-out enforcer/cni/netpol-cni.c,$(sort $(wildcard enforcer/cni/*.c)))
PROGRAMS      += netpol:enforcer/cli/netpol.c:cli policyd:enforcer/policyd/policyd.c:policyd \
                 netpol-cni:enforcer/cni/netpol-cni.c:cni
