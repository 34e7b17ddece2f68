# Front door. `make` builds build/smoothcache and the library; `make test` builds and runs the
# whole suite (release build, then the AddressSanitizer + UBSan build, then every parser under
# libFuzzer for a bounded time). Both install the Debian packages the build needs first
# (scripts/deps.sh).
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps test test-fast test-asan fuzz valgrind clean reference-check

all: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

deps:
	@./scripts/deps.sh

test: all
	@./scripts/run_tests.sh $(BUILD)
	@./scripts/test_python.sh $(BUILD)
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory fuzz

test-fast: all
	@./scripts/run_tests.sh $(BUILD)

test-asan: deps
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
	  .venv/bin/python tools/reference.py selfcheck && \
	  SC_FIXTURES=$$tmp $(BUILD)/run_tests reference schedule cache metrics peers pipeline vae demo_forward samplers tokenizer t5; st=$$?; rm -rf $$tmp; exit $$st

# Every parser of outside data under libFuzzer for SC_FUZZ_SECONDS (default 30) each.
fuzz: deps
	@./scripts/fuzz.sh $(BUILD)-fuzz

# A small end-to-end generation under valgrind memcheck (docs/RELIABILITY.md).
valgrind: deps
	@./scripts/valgrind.sh

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-fuzz $(BUILD)-vg
