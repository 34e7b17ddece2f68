# Front door. `make` builds build/smoothcache and the library (for this machine's CPU);
# `make test` builds and runs the whole suite (release build, then the AddressSanitizer + UBSan
# build, then every parser under libFuzzer for a bounded time, then an install into a temporary
# prefix used through pkg-config and CMake); `make install PREFIX=...` builds a portable copy in
# build-install and installs it. Each first installs the Debian packages it needs, and only those
# (scripts/deps.sh: `build` for make and make install, `test` adds the test tools).
BUILD ?= build
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local

.PHONY: all deps deps-test test test-fast test-asan test-install fuzz valgrind install uninstall clean reference-check

all: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

deps:
	@./scripts/deps.sh build

deps-test:
	@./scripts/deps.sh test

# Each step adds its count to $(BUILD)/test-summary.txt; the last line is the whole suite's.
test: export SC_TEST_SUMMARY = $(abspath $(BUILD))/test-summary.txt
test: deps-test all
	@rm -f "$$SC_TEST_SUMMARY"
	@./scripts/run_tests.sh $(BUILD)
	@./scripts/test_python.sh $(BUILD)
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory fuzz
	@$(MAKE) --no-print-directory test-install
	@echo "make test: every step passed ($$(paste -sd';' "$$SC_TEST_SUMMARY" | sed 's/;/; /g'))"

test-fast: deps-test all
	@./scripts/run_tests.sh $(BUILD)

# A portable build (no -march=native: the CPU backend picks its vector kernels at run time) in
# $(BUILD)-install, installed under $(PREFIX) (and $(DESTDIR) when set, for packaging): bin/,
# include/, lib/ (static, shared, pkgconfig/, cmake/smoothcache/), share/smoothcache/models/demo.
# What was installed is listed in $(BUILD)-install/install_manifest.txt; `make uninstall` removes it
# (`make clean` leaves that folder for this reason).
install: deps
	@cmake -S . -B $(BUILD)-install -DCMAKE_BUILD_TYPE=Release -DSC_NATIVE=OFF -DCMAKE_INSTALL_PREFIX="$(PREFIX)" >/dev/null
	@cmake --build $(BUILD)-install -j $(JOBS) --target smoothcache_cli smoothcache smoothcache_shared
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD)-install

uninstall:
	@./scripts/uninstall.sh $(BUILD)-install/install_manifest.txt

# make install into a temporary prefix, then the header's example through pkg-config (shared and
# static) and CMake's find_package, and the installed CLI with its demo model (scripts/test_install.sh).
test-install: deps-test
	@./scripts/test_install.sh $(BUILD)

test-asan: deps-test
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DSC_SANITIZE=ON -DCMAKE_C_COMPILER=clang-14 >/dev/null
	@cmake --build $(BUILD)-asan -j $(JOBS) 
	@SC_SANITIZED=1 ./scripts/run_tests.sh $(BUILD)-asan

# Regenerates every reference fixture with PyTorch + diffusers into a temporary folder and runs
# the parity tests against it (needs the Python tools: tools/setup_venv.sh, run here).
reference-check: all
	@./tools/setup_venv.sh
	@tmp=$$(mktemp -d) && cp -r tests/fixtures/smoothcache-schedules $$tmp/ && \
	  .venv/bin/python tools/reference.py fixtures $$tmp >/dev/null && \
	  .venv/bin/python tools/reference_cache.py $$tmp/cache >/dev/null && \
	  .venv/bin/python tools/reference_peers_a.py $$tmp/peers_a >/dev/null && \
	  .venv/bin/python tools/reference_metrics.py $$tmp >/dev/null && \
	  .venv/bin/python tools/reference_demo_classify.py $$tmp >/dev/null && \
	  .venv/bin/python tools/reference_pipeline.py $$tmp >/dev/null && \
	  .venv/bin/python tools/reference_long.py $$tmp/long >/dev/null && \
	  .venv/bin/python tools/reference_demo.py $$tmp/demo >/dev/null && \
	  .venv/bin/python tools/reference_samplers.py $$tmp/samplers >/dev/null && \
	  .venv/bin/python tools/reference_tokenizer.py $$tmp/t5tok >/dev/null && \
	  .venv/bin/python tools/reference_t5.py $$tmp/t5 >/dev/null && \
	  .venv/bin/python tools/reference_pixart.py $$tmp/pixart >/dev/null 2>&1 && \
	  .venv/bin/python tools/reference_pixart_pipeline.py $$tmp/pixart >/dev/null 2>&1 && \
	  cp -r tests/fixtures/pixart/cache $$tmp/pixart/ && \
	  .venv/bin/python tools/reference_pixart_pth.py $$tmp/pixart $$tmp/pixart_pth >/dev/null 2>&1 && \
	  .venv/bin/python tools/reference_stable_audio.py $$tmp/stableaudio >/dev/null 2>&1 && \
	  .venv/bin/python tools/reference_cosine_dpm.py $$tmp/stableaudio >/dev/null 2>&1 && \
	  .venv/bin/python tools/reference_oobleck.py $$tmp/oobleck >/dev/null 2>&1 && \
	  .venv/bin/python tools/reference_stable_audio_pipeline.py $$tmp/stableaudio/pipe >/dev/null 2>&1 && \
	  .venv/bin/python tools/reference_stable_audio_cache.py $$tmp/stableaudio/pipe >/dev/null 2>&1 && \
	  .venv/bin/python tools/reference_audio.py $$tmp/audio >/dev/null 2>&1 && \
	  .venv/bin/python tools/textdemo/check.py --fixture $$tmp/textdemo_check >/dev/null && \
	  .venv/bin/python tools/reference.py selfcheck && \
	  SC_FIXTURES=$$tmp $(BUILD)/run_tests reference schedule cache metrics peers pipeline vae demo_forward samplers tokenizer t5 pixart textdemo_checker stableaudio oobleck cosine audio_; st=$$?; rm -rf $$tmp; exit $$st

# Every parser of outside data under libFuzzer for SC_FUZZ_SECONDS (default 30) each.
fuzz: deps-test
	@./scripts/fuzz.sh $(BUILD)-fuzz

# A small end-to-end generation under valgrind memcheck (docs/RELIABILITY.md).
valgrind: deps
	@./scripts/valgrind.sh

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-fuzz $(BUILD)-vg
