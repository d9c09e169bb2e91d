# Basalt build. `make` builds every binary into bin/; `make test` runs every suite and ends
# with one "N passed, N failed" line; `make asan` builds the same with ASan+UBSan into
# build/asan/; `make fuzz` builds the libFuzzer targets with clang into build/fuzz/.
#
# Layout rules (so a new file needs no Makefile edit):
#   src/<module>/*.c            -> objects in build/<mode>/obj/, archived in libbasalt.a
#   src/<module>/main_<x>.c     -> a binary basalt-<x> (not archived)
#   proto/*.proto               -> protobuf-c code generated into build/gen/
#   tests/unit/<module>/test_*.c -> one cmocka binary each, linked with the other .c files
#                                  of that folder and tests/unit/lib/*.c
#   utils/bench/*.c             -> build/<mode>/bench/<name>
#   tests/fuzz/fuzz_*.c         -> build/fuzz/fuzz_<name> (clang, -fsanitize=fuzzer)

MODE ?= release
CC ?= cc
# BUILD_ROOT and MODULES let several people build parts of the tree side by side:
#   make BUILD_ROOT=build-x MODULES="common raft" test-unit
BUILD_ROOT ?= build
MODULES ?= $(notdir $(wildcard src/*))
PROTOC_C ?= protoc-c

ifeq ($(MODE),asan)
  B := $(BUILD_ROOT)/asan
  BINDIR := $(BUILD_ROOT)/asan/bin
  OPTFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined -DBASALT_DEBUG
  LDSAN := -fsanitize=address,undefined
else ifeq ($(MODE),fuzz)
  CC := clang
  B := $(BUILD_ROOT)/fuzz
  BINDIR := $(BUILD_ROOT)/fuzz/bin
  OPTFLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
              -DBASALT_DEBUG -DBASALT_FUZZ
  LDSAN := -fsanitize=address,undefined
else ifeq ($(MODE),debug)
  B := $(BUILD_ROOT)/debug
  BINDIR := $(BUILD_ROOT)/debug/bin
  OPTFLAGS := -O0 -g -DBASALT_DEBUG
  LDSAN :=
else
  B := $(BUILD_ROOT)/release
  BINDIR := $(if $(filter build,$(BUILD_ROOT)),bin,$(BUILD_ROOT)/bin)
  OPTFLAGS := -O2 -g
  LDSAN :=
endif

GEN := $(BUILD_ROOT)/gen
WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wpointer-arith -Wvla
CFLAGS_BASE := -std=gnu11 $(OPTFLAGS) -D_GNU_SOURCE -Isrc -I$(GEN) -MMD -MP -pthread
CFLAGS_ALL := $(CFLAGS_BASE) $(WARN) $(CFLAGS)
# Generated protobuf-c code is not ours to lint beyond the defaults.
CFLAGS_GEN := $(CFLAGS_BASE) -Wall -Werror $(CFLAGS)
LIBS := -lrocksdb -levent -levent_pthreads -levent_openssl -lnghttp2 -lprotobuf-c \
        -lssl -lcrypto -lpthread -lm
TEST_LIBS := -lcmocka -lhiredis

# ---- sources -------------------------------------------------------------------------
SRC_ALL := $(sort $(foreach m,$(MODULES),$(wildcard src/$(m)/*.c)))
SRC_MAIN := $(foreach f,$(SRC_ALL),$(if $(findstring /main_,$(f)),$(f)))
SRC_LIB := $(filter-out $(SRC_MAIN),$(SRC_ALL))
PROTOS := $(sort $(wildcard proto/*.proto))
GEN_C := $(patsubst proto/%.proto,$(GEN)/%.pb-c.c,$(PROTOS))
GEN_H := $(GEN_C:.c=.h)

OBJ_LIB := $(patsubst %.c,$(B)/obj/%.o,$(SRC_LIB)) \
           $(patsubst $(GEN)/%.c,$(B)/obj/gen/%.o,$(GEN_C))
LIB := $(B)/libbasalt.a
BINS := $(foreach f,$(SRC_MAIN),$(BINDIR)/basalt-$(patsubst main_%.c,%,$(notdir $(f))))

ifeq ($(origin MODULES),file)
  TEST_SRC := $(sort $(wildcard tests/unit/*/test_*.c))
else
  TEST_SRC := $(sort $(foreach m,$(MODULES),$(wildcard tests/unit/$(m)/test_*.c)))
endif
TEST_LIBSRC := $(sort $(wildcard tests/unit/lib/*.c))
TEST_BINS := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(TEST_SRC))
BENCH_SRC := $(sort $(wildcard utils/bench/*.c))
BENCH_BINS := $(patsubst utils/bench/%.c,$(B)/bench/%,$(BENCH_SRC))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD_ROOT)/fuzz/%,$(FUZZ_SRC))

.PHONY: all deps test test-unit asan test-asan fuzz fuzz-run bench run clean raft-soak \
        unit-bins format
.DEFAULT_GOAL := all
# Keep intermediate objects (test helpers) so repeated builds do not relink everything.
.SECONDARY:

all: $(BINS) $(LIB)

deps:
	bash utils/install-deps.sh

# ---- protobuf-c generation ----------------------------------------------------------
# protoc-c writes every output of one invocation; a stamp keeps make from running it once
# per file.
$(GEN)/.stamp: $(PROTOS)
	@mkdir -p $(GEN)
	$(if $(PROTOS),$(PROTOC_C) --c_out=$(GEN) -Iproto $(PROTOS))
	@touch $@
$(GEN_C) $(GEN_H): $(GEN)/.stamp ;

# ---- objects ------------------------------------------------------------------------
$(B)/obj/%.o: %.c | $(GEN)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(B)/obj/gen/%.o: $(GEN)/%.c $(GEN)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_GEN) -c $< -o $@

# The archive is rebuilt when the module list changes, so a build directory reused with
# another MODULES never links a stale library.
MODSTAMP := $(B)/.modules
$(shell mkdir -p $(B); echo '$(MODULES)' | cmp -s - $(MODSTAMP) || echo '$(MODULES)' > $(MODSTAMP))
$(LIB): $(OBJ_LIB) $(MODSTAMP)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $(OBJ_LIB)

$(BINDIR)/basalt-%: $(B)/obj/src/server/main_%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -pthread -o $@ $< $(LIB) $(LIBS)

$(BINDIR)/basalt-ctl: $(B)/obj/src/ctl/main_ctl.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -pthread -o $@ $< $(LIB) $(LIBS)

# ---- unit tests ---------------------------------------------------------------------
# Each test binary links the non-test .c files of its own folder (helpers such as the raft
# simulator) plus tests/unit/lib/*.c.
.SECONDEXPANSION:
test_helpers = $(patsubst %.c,$(B)/obj/%.o,$(filter-out $(wildcard $(dir tests/unit/$(1))test_*.c),$(wildcard $(dir tests/unit/$(1))*.c)))
$(B)/tests/unit/%: tests/unit/%.c $(LIB) \
    $$(call test_helpers,$$*) $(patsubst %.c,$(B)/obj/%.o,$(TEST_LIBSRC))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< \
	  $(filter %.o,$^) $(LIB) $(LIBS) $(TEST_LIBS) $(LDSAN)

$(B)/obj/tests/%.o: tests/%.c | $(GEN)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -c $< -o $@

unit-bins: $(TEST_BINS)

# ---- benchmarks ---------------------------------------------------------------------
$(B)/bench/%: utils/bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB) $(LIBS) -lhiredis $(LDSAN)

bench: $(BENCH_BINS)

# ---- test entry points --------------------------------------------------------------
test: all unit-bins bench
	@bash tests/run-all.sh $(B)

test-unit: unit-bins
	@bash tests/unit/run.sh $(B)

asan:
	$(MAKE) MODE=asan all unit-bins

test-asan:
	$(MAKE) MODE=asan all unit-bins
	@bash tests/unit/run.sh $(BUILD_ROOT)/asan

raft-soak:
	$(MAKE) unit-bins
	$(B)/tests/unit/raft/test_sim --soak $(or $(SEEDS),100000)

# ---- fuzzing ------------------------------------------------------------------------
ifeq ($(MODE),fuzz)
$(BUILD_ROOT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer -o $@ $< $(LIB) $(LIBS) $(LDSAN)
fuzz-bins: $(FUZZ_BINS)
endif

fuzz:
	$(MAKE) MODE=fuzz fuzz-bins

# Runs every fuzz target for FUZZ_SECONDS (default 20) each, from its seed corpus.
fuzz-run: fuzz
	@bash tests/fuzz/run.sh $(BUILD_ROOT)/fuzz $(or $(FUZZ_SECONDS),20)

# ---- running ------------------------------------------------------------------------
# Standalone mode: RESP on 127.0.0.1:6379, status on 127.0.0.1:20180, data in ./basalt-data
# (conf/basalt.toml's [storage] data-dir). Extra flags: make run ARGS="--redis-addr 127.0.0.1:6380".
run: deps all
	@if [ -x $(BINDIR)/basalt-server ]; then \
	   exec $(BINDIR)/basalt-server --config conf/basalt.toml $(ARGS); \
	 else echo "make run: $(BINDIR)/basalt-server is not part of this build" >&2; exit 1; fi

format:
	clang-format -i $(SRC_ALL) $(wildcard src/*/*.h)

clean:
	rm -rf $(BUILD_ROOT) bin

-include $(shell find $(B) -name '*.d' 2>/dev/null)
