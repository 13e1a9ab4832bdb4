# enforcer/: the programs. Every enforcer/*.c except the mains goes into libenforcer.a.
ENFORCER_MAINS := enforcer/netpol.c enforcer/policyd.c enforcer/netpol-cni.c
ENFORCER_SRCS  += $(filter-out $(ENFORCER_MAINS),$(sort $(wildcard enforcer/*.c)))
PROGRAMS       += $(foreach m,$(wildcard $(ENFORCER_MAINS)),$(basename $(notdir $(m))):$(m))
