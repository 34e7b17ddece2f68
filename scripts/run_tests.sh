#!/bin/sh
# Runs the C test suite of a build folder. The environment is cleaned of variables that change
# library behaviour (OPENBLAS_CORETYPE and friends do not affect oneDNN, but OMP settings do).
set -eu
build=${1:-build}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
unset OMP_NUM_THREADS 2>/dev/null || true
if [ -z "${SC_TEST_SUMMARY:-}" ]; then exec "$build/run_tests"; fi
# Under make test: the suite's last line ("N passed, M failed") also goes to the summary file.
out=$(mktemp)
st=0
"$build/run_tests" | tee "$out" || st=$?
[ "$st" -eq 0 ] && grep -q " passed, 0 failed" "$out" || st=1
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
rm -f "$out"
[ "$st" -eq 0 ] && echo "$([ "${SC_SANITIZED:-0}" = 1 ] && echo "ASan+UBSan" || echo "release"): $line" >>"$SC_TEST_SUMMARY"
exit "$st"
