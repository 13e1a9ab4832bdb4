# enforcer/: the programs. Every enforcer/*.c except the mains goes into libenforcer.a.
ENFORCER_MAINS := enforcer/netpol.c enforcer/policyd.c enforcer/netpol-cni.c
ENFORCER_SRCS  += $(filter-out $(ENFORCER_MAINS),$(sort $(wildcard enforcer/*.c)))
PROGRAMS       += $(foreach m,$(wildcard $(ENFORCER_MAINS)),$(basename $(notdir $(m))):$(m))
# netpol.c refers to the subcommands weakly (so a missing one is a message, not a link error),
# and a weak reference does not pull an object out of a static library: name each cmd_* that
# enforcer/*.c defines as undefined (-u) so its object is linked in.
ENFORCER_CMDS  := $(shell sed -n 's/^int \(cmd_[a-z_]*\).*/\1/p' $(wildcard enforcer/*.c))
LDFLAGS        += $(foreach s,$(ENFORCER_CMDS),-Wl,-u,$(s))
