#!/bin/sh
# Runs the C test suite of a build folder. The environment is cleaned of variables that change
# library behaviour (OPENBLAS_CORETYPE and friends do not affect oneDNN, but OMP settings do).
set -eu
build=${1:-build}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
unset OMP_NUM_THREADS 2>/dev/null || true
exec "$build/run_tests"
