# netpol — one build. `make` builds build/; `make check` installs what is missing, builds with
# -Werror, then builds and runs every test under AddressSanitizer + UndefinedBehaviorSanitizer.

BUILD    ?= build
SAN      ?=
CC       ?= gcc
PKGS     := libnftnl libmnl jansson yaml-0.1 libnetfilter_conntrack libmicrohttpd libcurl
WARN     := -Wall -Wextra -Werror -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
            -Wshadow -Wno-unused-parameter
CFLAGS   ?= -O2 -g
ifeq ($(SAN),1)
CFLAGS   := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=address,undefined
endif
# The fuzz targets (tests/fuzz): libFuzzer is clang's, and gcc's ASan objects do not mix with
# clang's runtime, so FUZZ=1 builds a whole object set of its own with clang (BUILD=build/fuzz):
# the libraries with coverage instrumentation and no main, the targets linked with libFuzzer's.
ifeq ($(FUZZ),1)
CC       := clang
CFLAGS   := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
            -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=fuzzer,address,undefined
endif
CPPFLAGS += -std=gnu11 -D_GNU_SOURCE -MMD -MP
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lnftnl -lmnl -ljansson -lyaml -lnetfilter_conntrack -lmicrohttpd -lcurl)

# The layers, lowest first: util <- rules, netsetup <- enforcer/lib <- enforcer/cli, policyd,
# cni. A folder's files are compiled with its layer's include path and no other, so a file can
# include only what its layer may use (rules and netsetup know nothing of each other; the
# programs nothing of each other); tests/check/t-layers.sh checks the same on the sources.
INC_util     := -Iutil
INC_rules    := -Iutil -Irules
INC_netsetup := -Iutil -Inetsetup
INC_lib      := -Iutil -Irules -Inetsetup -Ienforcer/lib
INC_cli      := $(INC_lib) -Ienforcer/cli
INC_policyd  := $(INC_lib) -Ienforcer/policyd
INC_cni      := $(INC_lib) -Ienforcer/cni
INC_tests    := $(INC_lib) -Ienforcer/cli -Ienforcer/policyd -Ienforcer/cni

# Each module's fragment appends to these.
UTIL_SRCS     :=
RULES_SRCS    :=
NETSETUP_SRCS :=
ENFORCER_SRCS :=   # enforcer/lib: what the three programs share
CLI_SRCS      :=   # a program's modules (its main file apart)
POLICYD_SRCS  :=
CNI_SRCS      :=
PROGRAMS      :=   # name:main-source:folder triples, e.g. netpol:enforcer/cli/netpol.c:cli
UNIT_TESTS    :=   # one cmocka program per source file under tests/unit
TEST_TOOLS    :=   # helper programs the scripted tests run (name:source)
FUZZ_TARGETS  :=   # libFuzzer targets, one per parser (built with FUZZ=1 only)

include util/util.mk
include rules/rules.mk
include netsetup/netsetup.mk
include enforcer/enforcer.mk
include tests/tests.mk

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

$(BUILD)/obj/util/%.o:              LAYER_INC := $(INC_util)
$(BUILD)/obj/rules/%.o:             LAYER_INC := $(INC_rules)
$(BUILD)/obj/netsetup/%.o:          LAYER_INC := $(INC_netsetup)
$(BUILD)/obj/enforcer/lib/%.o:      LAYER_INC := $(INC_lib)
$(BUILD)/obj/enforcer/cli/%.o:      LAYER_INC := $(INC_cli)
$(BUILD)/obj/enforcer/policyd/%.o:  LAYER_INC := $(INC_policyd)
$(BUILD)/obj/enforcer/cni/%.o:      LAYER_INC := $(INC_cni)
$(BUILD)/obj/tests/%.o:             LAYER_INC := $(INC_tests)
ALL_CFLAGS = $(CPPFLAGS) $(LAYER_INC) $(CFLAGS) $(WARN)

UTIL_LIB     := $(BUILD)/libutil.a
RULES_LIB    := $(BUILD)/librules.a
NETSETUP_LIB := $(BUILD)/libnetsetup.a
ENFORCER_LIB := $(BUILD)/libenforcer.a
CLI_LIB      := $(BUILD)/libcli.a
POLICYD_LIB  := $(BUILD)/libpolicyd.a
CNI_LIB      := $(BUILD)/libcni.a
LIBS         := $(ENFORCER_LIB) $(NETSETUP_LIB) $(RULES_LIB) $(UTIL_LIB)
# tests reach every module of every layer
TEST_LIBS    := $(CLI_LIB) $(POLICYD_LIB) $(CNI_LIB) $(LIBS)

prog_name   = $(word 1,$(subst :, ,$(1)))
prog_src    = $(word 2,$(subst :, ,$(1)))
prog_folder = $(word 3,$(subst :, ,$(1)))
PROG_BINS := $(foreach p,$(PROGRAMS),$(BUILD)/$(call prog_name,$(p)))
TOOL_BINS := $(foreach p,$(TEST_TOOLS),$(BUILD)/tests/$(call prog_name,$(p)))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_TESTS))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/fuzz/%,$(FUZZ_TARGETS))

.PHONY: all deps check check-full test unit demo bench bench-scale fuzz soak install install-unit clean
all: $(PROG_BINS)

deps:
	@sh tests/install-deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# archive_rule LIB,SRCS
define archive_rule
$(1): $(call obj,$(2))
	@mkdir -p $$(dir $$@)
	rm -f $$@; ar rcs $$@ $$^
endef
$(eval $(call archive_rule,$(UTIL_LIB),$(UTIL_SRCS)))
$(eval $(call archive_rule,$(RULES_LIB),$(RULES_SRCS)))
$(eval $(call archive_rule,$(NETSETUP_LIB),$(NETSETUP_SRCS)))
$(eval $(call archive_rule,$(ENFORCER_LIB),$(ENFORCER_SRCS)))
$(eval $(call archive_rule,$(CLI_LIB),$(CLI_SRCS)))
$(eval $(call archive_rule,$(POLICYD_LIB),$(POLICYD_SRCS)))
$(eval $(call archive_rule,$(CNI_LIB),$(CNI_SRCS)))

# The page's files, embedded in policyd: a table generated from enforcer/policyd/ui/ (listed as
# prerequisites, since -MMD cannot see them), compiled into policyd's archive.
UI_FILES := $(sort $(wildcard enforcer/policyd/ui/*.html enforcer/policyd/ui/*.js enforcer/policyd/ui/*.svg \
                              enforcer/policyd/ui/*.css))
UI_OBJ   := $(BUILD)/obj/gen/uifiles.o
$(BUILD)/gen/uifiles.c: $(UI_FILES) enforcer/policyd/ui_embed.sh
	@mkdir -p $(dir $@)
	sh enforcer/policyd/ui_embed.sh $(UI_FILES) >$@.tmp && mv $@.tmp $@
$(UI_OBJ): $(BUILD)/gen/uifiles.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(INC_policyd) $(CFLAGS) $(WARN) -c -o $@ $<
$(POLICYD_LIB): $(UI_OBJ)

# Programs that may open an etcd store link its backend in (netstore.c refers to it weakly);
# the others do not load libcurl and the ~30 libraries it brings (~20 ms per exec here). The
# test programs reach every module, the etcd store's included.
ETCD_PROGS := netpol policyd
comma := ,
ETCD_LDFLAGS = $(if $(filter $(1),$(ETCD_PROGS)),-Wl$(comma)-u$(comma)ns_store_etcd_open)
define prog_rule
$(BUILD)/$(call prog_name,$(1)): $(call obj,$(call prog_src,$(1))) $(BUILD)/lib$(call prog_folder,$(1)).a $(LIBS)
	$$(CC) $$(LDFLAGS) $(call ETCD_LDFLAGS,$(call prog_name,$(1))) -Wl,--as-needed -o $$@ $$^ $$(LDLIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call prog_rule,$(p))))

define tool_rule
$(BUILD)/tests/$(call prog_name,$(1)): $(call obj,$(call prog_src,$(1))) $(TEST_LIBS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -Wl,-u,ns_store_etcd_open -o $$@ $$^ $$(LDLIBS) -lpthread
endef
$(foreach p,$(TEST_TOOLS),$(eval $(call tool_rule,$(p))))

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -Wl,-u,ns_store_etcd_open -o $@ $^ $(LDLIBS) -lcmocka

tests-built: $(PROG_BINS) $(TOOL_BINS) $(UNIT_BINS)
.PHONY: tests-built

.PRECIOUS: $(BUILD)/obj/tests/fuzz/%.o
$(BUILD)/tests/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/fuzzlib.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# with FUZZ=1 BUILD=build/fuzz (make fuzz and tests/fuzz/t-fuzz-regress.sh say so)
fuzz-built: $(FUZZ_BINS)
.PHONY: fuzz-built

# The test suite: the -Werror optimized build must succeed, then every test runs against the
# sanitizer build (and the fuzz regression against the clang fuzz build).
check: deps
	$(MAKE) all
	$(MAKE) BUILD=build/asan SAN=1 tests-built
	$(MAKE) BUILD=build/fuzz FUZZ=1 fuzz-built
	NETPOL_BUILD=build/asan NETPOL_REQUIRE_ALL=1 sh tests/run.sh

# The same with the full case sets (NETPOL_FULL=1): every NetworkPolicy and admin-tier
# conformance case by packets, every admin-tier probe over each family, every case in the
# render/apply equivalence; see tests/README.md.
check-full: export NETPOL_FULL := 1
check-full: check

unit: deps
	$(MAKE) BUILD=build/asan SAN=1 tests-built
	NETPOL_BUILD=build/asan sh tests/run.sh unit

demo: deps
	$(MAKE) all $(TOOL_BINS)
	sh tests/demo.sh

bench: deps
	$(MAKE) all $(TOOL_BINS)
	sh tests/bench/run.sh

# policyd's costs by cluster size (tests/bench/scale.sh; SIZES="1000 10000 100000" for the
# 100,000-pod row, which takes minutes): printed, not asserted.
bench-scale: deps
	$(MAKE) all $(TOOL_BINS)
	sh tests/bench/scale.sh

# Every fuzz target for FUZZ_SECONDS (default 60) each, growing its corpus in a scratch copy;
# prints each one's executions and coverage (tests/fuzz/README.md).
fuzz: deps
	$(MAKE) BUILD=build/fuzz FUZZ=1 fuzz-built
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) sh tests/fuzz/run.sh

# Chaos under traffic (tests/soak/README.md): figures printed. The optimized build, as bench:
# RSS under ASan would measure its quarantine, not policyd.
soak: deps
	$(MAKE) all $(TOOL_BINS)
	sh tests/soak/run.sh

PREFIX ?= /usr/local
UNITDIR ?= $(PREFIX)/lib/systemd/system
CNIDIR ?= /opt/cni/bin
install: all install-unit
	install -D -m 0755 $(BUILD)/netpol $(DESTDIR)$(PREFIX)/sbin/netpol
	install -D -m 0755 $(BUILD)/policyd $(DESTDIR)$(PREFIX)/sbin/policyd
	install -D -m 0755 $(BUILD)/netpol-cni $(DESTDIR)$(CNIDIR)/netpol-cni

# the systemd unit alone (tests/policyd/t-notify.sh verifies what this writes)
install-unit:
	@mkdir -p $(DESTDIR)$(UNITDIR)
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g' enforcer/policyd/policyd.service >$(DESTDIR)$(UNITDIR)/netpol-policyd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/netpol-policyd.service

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
