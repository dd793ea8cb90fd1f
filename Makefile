# trit - plain GNU make. `make` builds everything into $(BUILD); `make test` runs the suite.
# Missing Debian -dev packages are installed by tools/ensure-deps.sh before the first compile.

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 30
TRIT_FIXTURES ?= $(abspath ../shared/fixtures)

LIB_PKGS := libzstd libxxhash
APP_PKGS := libzstd libxxhash libcjson libarchive libsodium libcrypto

# Recursive (=) so pkg-config runs after the deps step, not when the Makefile is parsed.
PKG_CFLAGS = $(shell pkg-config --cflags $(APP_PKGS) 2>/dev/null)
LIB_LIBS   = $(shell pkg-config --libs $(LIB_PKGS) 2>/dev/null || echo -lzstd -lxxhash)
APP_LIBS   = $(shell pkg-config --libs $(APP_PKGS) 2>/dev/null || echo -lzstd -lxxhash -lcjson -larchive -lsodium -lcrypto) -lm -lpthread

WARN := -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion -Wstrict-prototypes \
        -Wmissing-prototypes -Wformat=2 -Wcast-qual -Wundef -Wvla -Wwrite-strings \
        -Wpointer-arith -Wold-style-definition
OPT    ?= -O2 -g
CFLAGS ?=
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(OPT) $(WARN) $(EXTRA_CFLAGS) \
             $(CFLAGS) $(PKG_CFLAGS)
ALL_LDFLAGS = $(EXTRA_LDFLAGS) $(LDFLAGS)

include layers.mk

# Each module is compiled with the include folders its layer allows (layers.mk), so a header
# from above it does not even resolve; `make layers` checks the same table header by header.
FORMAT_SRC := $(wildcard format/*.c)
RUNNER_MAIN := runner/main.c
mod_src = $(filter-out $(RUNNER_MAIN),$(wildcard $(1)/*.c))
LIB_MODS   := $(filter-out cli,$(MODULES))
CLI_SRC    := $(wildcard cli/*.c)
GEN_SRC    := $(filter-out tests/gen/main.c,$(wildcard tests/gen/*.c))
TEST_SRC   := $(wildcard tests/*.c) $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
PUB_HDRS   := format/trit.h format/trit_limits.h format/trit_cursor.h format/trit_safemath.h
ALL_INC    := $(addprefix -I,format $(MODULES))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
FORMAT_OBJ := $(call obj,$(FORMAT_SRC))
FORMAT_PIC := $(patsubst %.c,$(BUILD)/pic/%.o,$(FORMAT_SRC))
CLI_OBJ    := $(call obj,$(CLI_SRC))
GEN_OBJ    := $(call obj,$(GEN_SRC))
TEST_OBJ   := $(call obj,$(TEST_SRC))
DEPS_OK    := $(BUILD)/.deps-ok
FAULT_SO   := $(BUILD)/fault/trit-fault.so $(BUILD)/fault/trit-fault-io.so
# One archive per module; linked top-down (the CLI's order in layers.mk), libtrit last.
mod_lib = $(BUILD)/lib/lib$(1).a
APP_LIBS_A := $(foreach m,verify pack inspect export calibrate convert runner source,$(call mod_lib,$(m)))

.PHONY: all lib test asan fuzz install demo clean deps dev check conformance bench bench-moe layers
all: lib $(BUILD)/trit $(BUILD)/trit-gen $(BUILD)/trit-tests $(BUILD)/trit-run $(FAULT_SO)
lib: $(BUILD)/libtrit.a $(BUILD)/libtrit.so $(BUILD)/libtrit.pc

deps: $(DEPS_OK)
$(DEPS_OK):
	@mkdir -p $(@D)
	@sh tools/ensure-deps.sh
	@touch $@

# MOD_INC is set per folder below; tests and tools see every module.
MOD_INC = $(ALL_INC) -Itests
$(BUILD)/obj/format/%.o: MOD_INC = -Iformat
$(BUILD)/pic/format/%.o: MOD_INC = -Iformat
$(foreach m,$(MODULES),$(eval $(BUILD)/obj/$(m)/%.o: MOD_INC = $(addprefix -I,$(LAYER_$(m)))))

$(BUILD)/obj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(MOD_INC) -MMD -MP -c $< -o $@
$(BUILD)/pic/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(MOD_INC) -fPIC -fvisibility=hidden -DTRIT_BUILD_SHARED -MMD -MP -c $< -o $@

$(BUILD)/libtrit.a: $(FORMAT_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/libtrit.so: $(FORMAT_PIC)
	$(CC) -shared -Wl,-soname,libtrit.so.1 $(ALL_LDFLAGS) -o $@ $^ $(LIB_LIBS)
$(BUILD)/libtrit.pc: format/libtrit.pc.in Makefile
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(shell sed -n 's/^#define TRIT_VERSION_STRING "\(.*\)"/\1/p' format/trit.h)|g' $< > $@

define mod_archive
$(call mod_lib,$(1)): $(call obj,$(call mod_src,$(1)))
	@mkdir -p $$(@D)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach m,$(LIB_MODS),$(eval $(call mod_archive,$(m))))

APP_LINK = $(APP_LIBS_A) $(BUILD)/libtrit.a $(APP_LIBS)
$(BUILD)/trit: $(CLI_OBJ) $(APP_LIBS_A) $(BUILD)/libtrit.a
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(CLI_OBJ) $(APP_LINK)

# The standalone device runner: runner/ and libtrit only (no cJSON, no libarchive, no convert/).
$(BUILD)/trit-run: $(BUILD)/obj/runner/main.o $(call mod_lib,runner) $(BUILD)/libtrit.a
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIB_LIBS) -lm -lpthread

# make layers: every include of every module against layers.mk (tools/layers.sh).
layers:
	@sh tools/layers.sh

$(BUILD)/trit-gen: $(BUILD)/obj/tests/gen/main.o $(GEN_OBJ) $(APP_LIBS_A) $(BUILD)/libtrit.a
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(BUILD)/obj/tests/gen/main.o $(GEN_OBJ) $(APP_LINK)

# Test registry: every TEST(name) and FUZZ_TARGET(name) in the sources, as X-macro lists.
$(BUILD)/gen/test_list.h: $(TEST_SRC) | $(DEPS_OK)
	@mkdir -p $(@D)
	@grep -h '^TEST(' $(filter tests/%.c,$(TEST_SRC)) | sed 's/^TEST(\([A-Za-z0-9_]*\)).*/X(\1)/' > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/fuzz_list.h: $(FUZZ_SRC) | $(DEPS_OK)
	@mkdir -p $(@D)
	@grep -h '^FUZZ_TARGET(' $(FUZZ_SRC) /dev/null | sed 's/^FUZZ_TARGET(\([A-Za-z0-9_]*\)).*/X(\1)/' > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/tests/runner.o: $(BUILD)/gen/test_list.h
$(BUILD)/obj/tests/test_fuzz_replay.o: $(BUILD)/gen/fuzz_list.h
# ALL_CFLAGS, not EXTRA_CFLAGS: `make asan` sets EXTRA_CFLAGS on the command line, which would
# override a target-specific EXTRA_CFLAGS.
$(TEST_OBJ): ALL_CFLAGS += -I$(BUILD)/gen

$(BUILD)/trit-tests: $(TEST_OBJ) $(GEN_OBJ) $(APP_LIBS_A) $(BUILD)/libtrit.a
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(TEST_OBJ) $(GEN_OBJ) $(APP_LINK)

# The fault-injection shim (tests/fault/fault.c): LD_PRELOADed into `trit` by tests that fail the
# Nth malloc, read, write or fsync (TRIT_FAULT=OP:N); the tests find it beside $(BUILD)/trit.
# Never linked into anything, and built without EXTRA_CFLAGS (no sanitizer runtime in it).
# trit-fault-io.so leaves malloc alone, so it also works in ASan builds (the sanitizer owns malloc).
$(BUILD)/fault/trit-fault.so: tests/fault/fault.c
	@mkdir -p $(@D)
	$(CC) -std=c11 $(OPT) $(WARN) -fPIC -shared -o $@ $<
$(BUILD)/fault/trit-fault-io.so: tests/fault/fault.c
	@mkdir -p $(@D)
	$(CC) -std=c11 $(OPT) $(WARN) -DTRIT_FAULT_NO_MALLOC -fPIC -shared -o $@ $<

# The suite: one runner, last line "N passed, N failed".
# The NEON kernels are tested under qemu-user with an aarch64 cross compiler: the suite installs
# them once (like the -dev packages); if that is impossible the NEON test says so and skips.
CROSS_OK := $(BUILD)/.deps-cross
$(CROSS_OK):
	@mkdir -p $(@D)
	@sh tools/ensure-deps.sh --cross || echo "trit: warning: aarch64 cross toolchain/qemu-user not installed; the NEON test will skip" >&2
	@touch $@

test check: layers $(BUILD)/trit $(BUILD)/trit-gen $(BUILD)/trit-tests $(BUILD)/trit-run $(BUILD)/conformance/mkfixture $(BUILD)/bench/llama_quant lib $(FAULT_SO) | $(CROSS_OK)
	TRIT_BIN=$(BUILD)/trit TRIT_GEN=$(BUILD)/trit-gen TRIT_RUN=$(BUILD)/trit-run TRIT_FIXTURES=$(TRIT_FIXTURES) \
	TRIT_CORPUS=tests/fuzz/corpus TRIT_TMP=$(BUILD)/tmp $(BUILD)/trit-tests $(T)

asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -g" \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" test

dev:
	$(MAKE) EXTRA_CFLAGS=-Werror all

# libFuzzer builds of every fuzz target, each run for FUZZ_SECONDS on a scratch copy of its corpus.
fuzz:
	@sh tools/ensure-deps.sh --fuzz
	FUZZ_CC=$(FUZZ_CC) FUZZ_SECONDS=$(FUZZ_SECONDS) APP_LIBS="$(APP_LIBS)" sh tools/fuzz.sh $(F)

demo: $(BUILD)/trit $(BUILD)/trit-gen
	@sh tools/demo.sh $(BUILD)

# llama.cpp conformance of `trit export` (tools/conformance/run.sh; npm installs node-llama-cpp
# into $(BUILD)/conformance). Not part of `make test`.
$(BUILD)/conformance/mkfixture: tools/conformance/mkfixture.c $(BUILD)/obj/tests/test_export_build.o $(APP_LIBS_A) $(BUILD)/libtrit.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_INC) -Itests $(ALL_LDFLAGS) -o $@ tools/conformance/mkfixture.c $(BUILD)/obj/tests/test_export_build.o $(APP_LINK)
conformance: $(BUILD)/trit $(BUILD)/trit-gen $(BUILD)/conformance/mkfixture $(BUILD)/bench/llama_quant
	TRIT_FIXTURES=$(TRIT_FIXTURES) sh tools/conformance/run.sh $(BUILD)

# make bench: the runner vs llama.cpp (node-llama-cpp) on a generated ~0.9 B-parameter BitNet
# model at 1 and 2 threads, memory bandwidth, expert unit decode vs zstd -b (tools/bench/bench.sh);
# then the I/O jobs against cp, cat, openssl dgst and llama.cpp's quantizer (tools/bench/io.sh).
$(BUILD)/bench/membw: tools/bench/membw.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< -lpthread
$(BUILD)/bench/unitbench: tools/bench/unitbench.c $(BUILD)/libtrit.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iformat $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libtrit.a $(LIB_LIBS)
# llama.cpp's quantizer, dlopened from node-llama-cpp's libllama (tools/bench/llama_quant.c)
$(BUILD)/bench/llama_quant: tools/bench/llama_quant.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< -ldl
# kernbench: every kernel set this CPU has on the decode shapes (t2 rows, F16 and int8 output heads).
$(BUILD)/bench/kernbench: tools/bench/kernbench.c $(call mod_lib,runner) $(BUILD)/libtrit.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Irunner -Iformat $(ALL_LDFLAGS) -o $@ $< $(call mod_lib,runner) $(BUILD)/libtrit.a $(LIB_LIBS) -lm
# bench-moe: a generated >= 30 B-parameter ternary MoE (tools/bench/moegen.c) run under a 2 GB
# expert budget; cache policies replayed on its trace (moereplay.c); tools/bench/moe.sh.
$(BUILD)/bench/moegen: tools/bench/moegen.c $(BUILD)/libtrit.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iformat $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libtrit.a $(LIB_LIBS) -lm -lpthread
$(BUILD)/bench/moereplay: tools/bench/moereplay.c $(call mod_lib,runner) $(BUILD)/libtrit.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Irunner -Iformat $(ALL_LDFLAGS) -o $@ $< $(call mod_lib,runner) $(BUILD)/libtrit.a $(LIB_LIBS) -lm -lpthread
$(BUILD)/bench/b3bench: tools/bench/b3bench.c $(call mod_lib,runner) $(BUILD)/libtrit.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Irunner -Iformat $(ALL_LDFLAGS) -o $@ $< $(call mod_lib,runner) $(BUILD)/libtrit.a $(LIB_LIBS)
bench-moe: $(BUILD)/trit-run $(BUILD)/bench/moegen $(BUILD)/bench/moereplay $(BUILD)/bench/unitbench $(BUILD)/bench/b3bench
	sh tools/bench/moe.sh $(BUILD)
bench: $(BUILD)/trit $(BUILD)/trit-gen $(BUILD)/bench/membw $(BUILD)/bench/unitbench $(BUILD)/bench/llama_quant $(BUILD)/bench/kernbench
	sh tools/bench/bench.sh $(BUILD)

install: lib $(BUILD)/trit $(BUILD)/trit-run
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/trit $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(BUILD)/libtrit.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libtrit.so $(DESTDIR)$(PREFIX)/lib/libtrit.so.1
	ln -sf libtrit.so.1 $(DESTDIR)$(PREFIX)/lib/libtrit.so
	install -m 644 $(PUB_HDRS) $(DESTDIR)$(PREFIX)/include/trit/
	sed 's|^prefix=.*|prefix=$(PREFIX)|' $(BUILD)/libtrit.pc > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libtrit.pc
	install -m 755 $(BUILD)/trit $(BUILD)/trit-run $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(BUILD)/pic -name '*.d' 2>/dev/null)
