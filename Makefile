# Front door. `make` builds build/smoothcache and the library; `make test` builds and runs the
# whole suite (release build, then the AddressSanitizer + UBSan build). Both install the Debian
# packages the build needs first (scripts/deps.sh).
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps test test-fast test-asan clean reference-check bench

all: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

deps:
	@./scripts/deps.sh

test: all
	@./scripts/run_tests.sh $(BUILD)
	@$(MAKE) --no-print-directory test-asan

test-fast: all
	@./scripts/run_tests.sh $(BUILD)

test-asan: deps
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DSC_SANITIZE=ON -DCMAKE_C_COMPILER=clang-14 >/dev/null
	@cmake --build $(BUILD)-asan -j $(JOBS) 
	@SC_SANITIZED=1 ./scripts/run_tests.sh $(BUILD)-asan

clean:
	rm -rf $(BUILD) $(BUILD)-asan
